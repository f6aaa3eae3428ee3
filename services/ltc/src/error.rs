//! Errors of the LTC service and their one mapping to [`ApiError`].

use crate::domain::DomainError;
use yibao_runtime::{ApiError, ErrorKind};

/// What can go wrong in the LTC service.
#[derive(Debug, thiserror::Error)]
pub enum LtcError {
    /// A rule refused the input or the state change.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// No such record.
    #[error("{0} `{1}` not found")]
    NotFound(&'static str, String),
    /// The key was used for something else, or a concurrent change won.
    #[error("{0}")]
    Conflict(String),
    /// Stored data that does not parse (a bug or manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// A dependency (enrollment) failed.
    #[error("{0}")]
    Unavailable(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<LtcError> for ApiError {
    fn from(e: LtcError) -> ApiError {
        match e {
            LtcError::Domain(DomainError::InvalidFields { code, violations }) => {
                ApiError::invalid_fields(code, violations)
            }
            LtcError::Domain(DomainError::Precondition { code, message }) => {
                ApiError::new(ErrorKind::FailedPrecondition, code, message)
            }
            LtcError::NotFound(what, id) => {
                ApiError::not_found(not_found_code(what), format!("{what} `{id}` not found"))
            }
            LtcError::Conflict(m) => ApiError::new(ErrorKind::Aborted, "LTC_CONFLICT", m),
            LtcError::Unavailable(m) => {
                ApiError::new(ErrorKind::Unavailable, "LTC_DEPENDENCY_UNAVAILABLE", m)
            }
            LtcError::Corrupt(m) => ApiError::internal(m),
            LtcError::Db(e) => ApiError::internal(e),
        }
    }
}

impl From<LtcError> for tonic::Status {
    fn from(e: LtcError) -> tonic::Status {
        ApiError::from(e).into()
    }
}

fn not_found_code(what: &str) -> &'static str {
    match what {
        "application" => "LTC_APPLICATION_NOT_FOUND",
        "assessment" => "LTC_ASSESSMENT_NOT_FOUND",
        "beneficiary" => "LTC_BENEFICIARY_NOT_FOUND",
        "policy" => "LTC_POLICY_NOT_FOUND",
        "record" => "LTC_RECORD_NOT_FOUND",
        "settlement" => "LTC_SETTLEMENT_NOT_FOUND",
        _ => "LTC_NOT_FOUND",
    }
}
