//! Errors of the procurement service and their one mapping to [`ApiError`].

use yibao_runtime::{ApiError, ErrorKind};

/// Code of a refused input without a more specific code.
pub const INVALID_ARGUMENT: &str = "PROCUREMENT_INVALID_ARGUMENT";

/// What can go wrong in the procurement service.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// Bad input in one field; nothing was written.
    #[error("{field}: {reason}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// Field path, e.g. `listing.price_fen`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// No such record.
    #[error("{what} not found")]
    NotFound {
        /// Stable code.
        code: &'static str,
        /// What was looked for.
        what: String,
    },
    /// The record exists with other content (a reused key).
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// What clashes.
        message: String,
    },
    /// The state does not allow the operation (e.g. a bid in a selected round).
    #[error("{message}")]
    Precondition {
        /// Stable code.
        code: &'static str,
        /// Why.
        message: String,
    },
    /// Stored data that does not parse (a bug or a manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl ProcError {
    /// Bad input in `field` with the generic code.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ProcError {
        ProcError::Invalid {
            code: INVALID_ARGUMENT,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Bad input in `field` with a specific code.
    pub fn invalid_code(
        code: &'static str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> ProcError {
        ProcError::Invalid {
            code,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A missing record.
    pub fn not_found(code: &'static str, what: impl Into<String>) -> ProcError {
        ProcError::NotFound {
            code,
            what: what.into(),
        }
    }

    /// A state that does not allow the operation.
    pub fn precondition(code: &'static str, message: impl Into<String>) -> ProcError {
        ProcError::Precondition {
            code,
            message: message.into(),
        }
    }
}

impl From<ProcError> for ApiError {
    fn from(e: ProcError) -> ApiError {
        match e {
            ProcError::Invalid {
                code,
                field,
                reason,
            } => ApiError::invalid(code, field, reason),
            ProcError::NotFound { code, what } => {
                ApiError::not_found(code, format!("{what} not found"))
            }
            ProcError::Conflict { code, message } => {
                ApiError::new(ErrorKind::AlreadyExists, code, message)
            }
            ProcError::Precondition { code, message } => {
                ApiError::new(ErrorKind::FailedPrecondition, code, message)
            }
            ProcError::Corrupt(m) => ApiError::internal(m),
            // A concurrent writer took the same key first: the caller may retry.
            ProcError::Db(e) if yibao_runtime::db::is_unique_violation(&e) => ApiError::new(
                ErrorKind::Aborted,
                "PROCUREMENT_CONCURRENT_CHANGE",
                "a concurrent request changed the same record; retry",
            ),
            ProcError::Db(e) => ApiError::internal(e),
        }
    }
}

impl From<ProcError> for tonic::Status {
    fn from(e: ProcError) -> tonic::Status {
        ApiError::from(e).into()
    }
}
