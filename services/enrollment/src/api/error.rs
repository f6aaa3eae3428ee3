//! The one mapping of the use cases' errors to what callers see ([`ApiError`], then
//! `tonic::Status` with `google.rpc` details): the code (and with it the gRPC kind) comes from
//! the error's variant, the message from its text; field errors name the field, and
//! unexpected failures are logged and shown as `INTERNAL`.

use crate::app::AppError;
use crate::domain::EnrolmentError;
use crate::domain::voucher::VoucherError;
use crate::store::StoreError;
use yibao_runtime::ApiError;

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        let code = e.code();
        match e {
            AppError::Domain(EnrolmentError::Invalid { field, reason }) => {
                code.invalid(field, reason)
            }
            AppError::Voucher(e @ VoucherError::Malformed) => {
                code.invalid("qr_payload", e.to_string())
            }
            AppError::Unknown { field, entity, id } => {
                code.invalid(field, format!("{} `{id}` not found", entity.name()))
            }
            AppError::Store(StoreError::Corrupt(m)) | AppError::Internal(m) => {
                ApiError::internal(m)
            }
            AppError::Store(StoreError::Db(e)) => ApiError::internal(e),
            AppError::Auth(e) => ApiError::from(e),
            e => code.error(e.to_string()),
        }
    }
}

impl From<AppError> for tonic::Status {
    fn from(e: AppError) -> tonic::Status {
        ApiError::from(e).into()
    }
}

impl From<StoreError> for tonic::Status {
    fn from(e: StoreError) -> tonic::Status {
        AppError::from(e).into()
    }
}

impl From<EnrolmentError> for tonic::Status {
    fn from(e: EnrolmentError) -> tonic::Status {
        AppError::from(e).into()
    }
}
