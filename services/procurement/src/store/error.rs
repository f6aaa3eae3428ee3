//! Errors of the store: the database failed, or a stored row does not parse.

/// What can go wrong reading or writing rows.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (or refused a write, e.g. a unique key taken concurrently).
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    /// Stored data that does not parse (a bug or a manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// A value does not fit its column (e.g. a quantity beyond `i64`).
    #[error("{what} is too large")]
    TooLarge {
        /// What does not fit.
        what: &'static str,
    },
}

impl StoreError {
    /// Stable code of the error as callers see it: a unique key taken by a concurrent
    /// writer may be retried; a value too large is bad input; anything else is a bug or an
    /// outage, logged and answered as `INTERNAL`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Db(e) if yibao_runtime::db::is_unique_violation(e) => {
                crate::error::CONCURRENT_CHANGE.code
            }
            StoreError::TooLarge { .. } => crate::error::INVALID_ARGUMENT.code,
            StoreError::Db(_) | StoreError::Corrupt(_) => {
                yibao_runtime::error::codes::INTERNAL.code
            }
        }
    }
}
