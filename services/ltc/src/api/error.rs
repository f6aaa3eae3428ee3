//! The one mapping of the service's errors to [`ApiError`] and so to a gRPC status (with the
//! stable code and the field violations as `google.rpc` details).

use crate::app::AppError;
use crate::domain::DomainError;
use crate::store::StoreError;
use yibao_runtime::{ApiError, ErrorKind};

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        match e {
            AppError::Domain(d) => domain(d),
            AppError::Store(s) => store(s),
            AppError::Auth(a) => ApiError::from(a),
            // A registry refusal names the request's `institution_code`.
            AppError::Registry(r) => {
                crate::error::INSTITUTION_NOT_DESIGNATED.invalid(r.field(), r.to_string())
            }
            other => match other.fixed_code() {
                Some(code) => code.error(other.to_string()),
                None => ApiError::internal(other),
            },
        }
    }
}

fn domain(e: DomainError) -> ApiError {
    match e {
        DomainError::InvalidFields { code, violations } => {
            ApiError::invalid_fields(code, violations)
        }
        DomainError::Precondition { code, message } => {
            ApiError::new(ErrorKind::FailedPrecondition, code, message)
        }
    }
}

fn store(e: StoreError) -> ApiError {
    match e {
        StoreError::Corrupt(m) => ApiError::internal(m),
        StoreError::Db(e) => ApiError::internal(e),
        // Not found and conflicts: the variant's code and kind, its message.
        e => e.code().error(e.to_string()),
    }
}

impl From<AppError> for tonic::Status {
    fn from(e: AppError) -> tonic::Status {
        ApiError::from(e).into()
    }
}

/// A rule's refusal of the input, as a status.
pub(super) fn refused(e: DomainError) -> tonic::Status {
    domain(e).into()
}
