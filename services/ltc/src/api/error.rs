//! The one mapping of the service's errors to [`ApiError`] and so to a gRPC status (with the
//! stable code and the field violations as `google.rpc` details).

use crate::app::AppError;
use crate::domain::DomainError;
use crate::store::StoreError;
use yibao_runtime::{ApiError, ErrorKind};

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        let code = e.code();
        match e {
            AppError::Domain(d) => domain(d),
            AppError::Store(s) => store(s),
            AppError::Auth(a) => ApiError::from(a),
            AppError::AssessorReachesApplication
            | AppError::NotAssigned(_)
            | AppError::NotYourBeneficiary => {
                ApiError::new(ErrorKind::PermissionDenied, code, e.to_string())
            }
            AppError::ApplicationNoReused(_) => {
                ApiError::new(ErrorKind::Aborted, code, e.to_string())
            }
            AppError::EnrollmentUnavailable(_) => {
                ApiError::new(ErrorKind::Unavailable, code, e.to_string())
            }
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
    let code = e.code();
    match e {
        StoreError::ApplicationNotFound(_)
        | StoreError::AssessmentNotFound(_)
        | StoreError::BeneficiaryNotFound(_)
        | StoreError::CarePlanNotFound(_)
        | StoreError::PolicyNotFound(_)
        | StoreError::RecordNotFound(_)
        | StoreError::SettlementNotFound(_) => ApiError::not_found(code, e.to_string()),
        StoreError::Conflict(m) => ApiError::new(ErrorKind::Aborted, code, m),
        StoreError::Corrupt(m) => ApiError::internal(m),
        StoreError::Db(e) => ApiError::internal(e),
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
