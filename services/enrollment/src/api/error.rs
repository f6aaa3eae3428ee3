//! The one mapping of the use cases' errors to what callers see ([`ApiError`], then
//! `tonic::Status` with `google.rpc` details).

use crate::app::AppError;
use crate::domain::EnrolmentError;
use crate::domain::voucher::VoucherError;
use crate::store::StoreError;
use yibao_runtime::{ApiError, ErrorKind};

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        let code = e.code();
        match e {
            AppError::Domain(EnrolmentError::Invalid { field, reason }) => {
                ApiError::invalid(code, field, reason)
            }
            AppError::Domain(e @ EnrolmentError::Exists(_)) => {
                ApiError::new(ErrorKind::AlreadyExists, code, e.to_string())
            }
            AppError::Domain(e) => {
                ApiError::new(ErrorKind::FailedPrecondition, code, e.to_string())
            }
            AppError::Voucher(e @ VoucherError::Malformed) => {
                ApiError::invalid(code, "qr_payload", e.to_string())
            }
            AppError::Voucher(e) => {
                ApiError::new(ErrorKind::FailedPrecondition, code, e.to_string())
            }
            AppError::Store(e @ StoreError::NotFound { .. }) => {
                ApiError::not_found(code, e.to_string())
            }
            AppError::Store(StoreError::Exists(m)) => {
                ApiError::new(ErrorKind::AlreadyExists, code, m)
            }
            AppError::Store(StoreError::Conflict(m)) => ApiError::new(ErrorKind::Aborted, code, m),
            AppError::Store(StoreError::Corrupt(m)) => ApiError::internal(m),
            AppError::Store(StoreError::Db(e)) => ApiError::internal(e),
            AppError::Auth(e) => ApiError::from(e),
            e @ AppError::OutsideRegion(_) => {
                ApiError::new(ErrorKind::PermissionDenied, code, e.to_string())
            }
            e @ (AppError::PersonDeceased | AppError::VoucherRevoked { .. }) => {
                ApiError::new(ErrorKind::FailedPrecondition, code, e.to_string())
            }
            AppError::Internal(m) => ApiError::internal(m),
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
