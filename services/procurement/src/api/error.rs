//! The one mapping of the use cases' errors to what callers see ([`ApiError`], then
//! `tonic::Status` with `google.rpc` details).

use crate::app::AppError;
use crate::app::error::{CONCURRENT_CHANGE, INVALID_ARGUMENT};
use crate::store::StoreError;
use yibao_runtime::{ApiError, ErrorKind};

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        match e {
            AppError::Invalid {
                code,
                field,
                reason,
            } => ApiError::invalid(code, field, reason),
            AppError::NotFound { code, what } => {
                ApiError::not_found(code, format!("{what} not found"))
            }
            AppError::Conflict { code, message } => {
                ApiError::new(ErrorKind::AlreadyExists, code, message)
            }
            AppError::Precondition { code, message } => {
                ApiError::new(ErrorKind::FailedPrecondition, code, message)
            }
            AppError::Denied(e) => ApiError::from(e),
            AppError::Corrupt(m) | AppError::Store(StoreError::Corrupt(m)) => ApiError::internal(m),
            AppError::Store(StoreError::TooLarge { what }) => {
                ApiError::invalid(INVALID_ARGUMENT, what, "is too large")
            }
            // A concurrent writer took the same key first: the caller may retry.
            AppError::Store(StoreError::Db(e)) if yibao_runtime::db::is_unique_violation(&e) => {
                ApiError::new(
                    ErrorKind::Aborted,
                    CONCURRENT_CHANGE,
                    "a concurrent request changed the same record; retry",
                )
            }
            AppError::Store(StoreError::Db(e)) => ApiError::internal(e),
        }
    }
}

impl From<AppError> for tonic::Status {
    fn from(e: AppError) -> tonic::Status {
        ApiError::from(e).into()
    }
}
