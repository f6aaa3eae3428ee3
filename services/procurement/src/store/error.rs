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
    /// Stable code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Db(e) if yibao_runtime::db::is_unique_violation(e) => {
                "PROCUREMENT_CONCURRENT_CHANGE"
            }
            StoreError::Db(_) => "PROCUREMENT_DATABASE",
            StoreError::Corrupt(_) => "PROCUREMENT_STORED_DATA_INCONSISTENT",
            StoreError::TooLarge { .. } => "PROCUREMENT_INVALID_ARGUMENT",
        }
    }
}
