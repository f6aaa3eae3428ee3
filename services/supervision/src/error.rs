//! Errors of the supervision service and their one mapping to [`ApiError`].

use yibao_runtime::{ApiError, ErrorKind};

/// What can go wrong in the supervision service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A refusal already shaped for the caller (bad input, state, tenancy).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A concurrent change came first; the caller may retry.
    #[error("{0}")]
    Conflict(String),
    /// Stored data that does not parse (a bug or a manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl Error {
    /// A corrupt stored value.
    pub fn corrupt(what: impl std::fmt::Display) -> Error {
        Error::Corrupt(what.to_string())
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::Api(e) => e,
            Error::Conflict(m) => {
                ApiError::new(ErrorKind::Aborted, "SUPERVISION_CONCURRENT_CHANGE", m)
            }
            Error::Corrupt(m) => ApiError::internal(m),
            Error::Db(e) => ApiError::internal(e),
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> tonic::Status {
        ApiError::from(e).into()
    }
}
