//! Errors of the store, each with a stable code.

use sea_orm::DbErr;

/// What can go wrong reading or writing rows.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// Stored data that does not parse (a bug or a manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// A policy version the rows refer to is not stored.
    #[error("policy `{0}` not found")]
    PolicyNotFound(String),
    /// The accumulator row changed since it was locked (a concurrent settlement); retry.
    #[error("the person's accumulators changed concurrently; retry")]
    Conflict,
    /// A sum of stored amounts overflows `i64` fen (what was being added up).
    #[error("{0}: the sum overflows i64 fen")]
    Overflow(String),
}

impl StoreError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Db(_) | StoreError::Corrupt(_) => {
                yibao_runtime::error::codes::INTERNAL.code
            }
            StoreError::PolicyNotFound(_) => crate::error::POLICY_NOT_FOUND.code,
            StoreError::Conflict => crate::error::CONFLICT.code,
            StoreError::Overflow(_) => crate::error::TOTAL_OVERFLOW.code,
        }
    }

    /// True when the database refused a duplicate key.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(e) if yibao_runtime::db::is_unique_violation(e))
    }
}
