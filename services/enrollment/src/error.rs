//! Errors of the enrollment service and their one mapping to [`ApiError`].

use crate::domain::EnrolmentError;
use yibao_runtime::{ApiError, ErrorKind};

/// What can go wrong in the enrollment service.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// A rule refused the input.
    #[error(transparent)]
    Domain(#[from] EnrolmentError),
    /// No such record.
    #[error("{0} `{1}` not found")]
    NotFound(&'static str, String),
    /// It exists already.
    #[error("{0}")]
    Exists(String),
    /// A concurrent change or a reused reference.
    #[error("{0}")]
    Conflict(String),
    /// Stored data that does not parse (a bug or manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<EnrollError> for ApiError {
    fn from(e: EnrollError) -> ApiError {
        match e {
            EnrollError::Domain(EnrolmentError::Invalid { field, reason }) => {
                ApiError::invalid("ENROLLMENT_INVALID_ARGUMENT", field, reason)
            }
            EnrollError::Domain(EnrolmentError::Precondition(m)) => ApiError::new(
                ErrorKind::FailedPrecondition,
                "ENROLLMENT_PRECONDITION_FAILED",
                m,
            ),
            EnrollError::Domain(EnrolmentError::Exists(m)) | EnrollError::Exists(m) => {
                ApiError::new(ErrorKind::AlreadyExists, "ENROLLMENT_ALREADY_EXISTS", m)
            }
            EnrollError::NotFound(what, id) => {
                ApiError::not_found(not_found_code(what), format!("{what} `{id}` not found"))
            }
            EnrollError::Conflict(m) => ApiError::new(ErrorKind::Aborted, "ENROLLMENT_CONFLICT", m),
            EnrollError::Corrupt(m) => ApiError::internal(m),
            EnrollError::Db(e) => ApiError::internal(e),
        }
    }
}

impl From<EnrollError> for tonic::Status {
    fn from(e: EnrollError) -> tonic::Status {
        ApiError::from(e).into()
    }
}

fn not_found_code(what: &str) -> &'static str {
    match what {
        "person" => "ENROLLMENT_PERSON_NOT_FOUND",
        "enrolment" => "ENROLLMENT_ENROLMENT_NOT_FOUND",
        "household" => "ENROLLMENT_HOUSEHOLD_NOT_FOUND",
        "voucher" => "ENROLLMENT_VOUCHER_NOT_FOUND",
        "duplicate task" => "ENROLLMENT_DUPLICATE_TASK_NOT_FOUND",
        _ => "ENROLLMENT_NOT_FOUND",
    }
}
