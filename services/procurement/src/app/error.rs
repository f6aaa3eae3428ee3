//! Errors of the use cases. Each variant carries (or is) a stable code; `api/error.rs` maps
//! them to `ApiError`/`Status` once.

use crate::domain::PricingError;
use crate::store::StoreError;
use yibao_runtime::auth::AuthError;

/// Code of a refused input without a more specific code (declared in `crate::error`).
pub const INVALID_ARGUMENT: &str = crate::error::INVALID_ARGUMENT.code;

/// What can go wrong in a procurement use case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
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
    /// The record belongs to another organisation or region than the caller's.
    #[error(transparent)]
    Denied(#[from] AuthError),
    /// Stored data that contradicts the rules (a bug or a manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    /// Bad input in `field` with the generic code.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> AppError {
        AppError::invalid_code(INVALID_ARGUMENT, field, reason)
    }

    /// Bad input in `field` with a specific code.
    pub fn invalid_code(
        code: &'static str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> AppError {
        AppError::Invalid {
            code,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A missing record.
    pub fn not_found(code: &'static str, what: impl Into<String>) -> AppError {
        AppError::NotFound {
            code,
            what: what.into(),
        }
    }

    /// A record stored with other content under the same key.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// A state that does not allow the operation.
    pub fn precondition(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Precondition {
            code,
            message: message.into(),
        }
    }

    /// A domain pricing refusal as an input error naming `field`.
    pub fn pricing(e: PricingError, field: &str) -> AppError {
        let code = e.code();
        match e {
            PricingError::Overflow(_) => AppError::invalid_code(code, field, "amount is too large"),
            other => AppError::invalid_code(code, field, other.to_string()),
        }
    }

    /// Stable code of the error, as callers see it.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid { code, .. }
            | AppError::NotFound { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Precondition { code, .. } => code,
            AppError::Denied(e) => yibao_runtime::ApiError::from(e.clone()).code,
            AppError::Store(e) => e.code(),
            AppError::Corrupt(_) => yibao_runtime::error::codes::INTERNAL.code,
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> AppError {
        AppError::Store(StoreError::Db(e))
    }
}

/// Code of a write that lost a race for the same key: the caller may retry (declared in
/// `crate::error`).
pub const CONCURRENT_CHANGE: &str = crate::error::CONCURRENT_CHANGE.code;
