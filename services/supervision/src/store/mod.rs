//! Tables of the supervision service, one file per aggregate. Raw, portable SQL (PostgreSQL and
//! SQLite; `?` placeholders are numbered for PostgreSQL here). The store only reads and writes
//! rows: the use cases in [`crate::app`] open a transaction with [`Store::begin`], call the
//! transaction-scoped functions of the aggregates they change, run the domain rules between
//! them and commit. On SQLite writers queue on an in-process lock instead of failing as
//! "locked".
//!
//! - [`rules`]: versions of each region's rule set;
//! - [`events`]: the event rows (idempotency keys and the history the detector is rebuilt from);
//! - [`findings`]: findings and their review steps, backfill runs;
//! - [`tasks`]: verification tasks of large receipts;
//! - [`cases`]: tips, cases, recoveries and rewards, and the request keys of money-moving calls;
//! - [`budgets`]: budget policies, budgets, spending and warnings;
//! - [`credit`]: credit records and the blacklist;
//! - [`inspections`]: random inspection draws;
//! - [`stays`]: the stays and day totals of the in-stay rules;
//! - [`migration`]: the schema.

pub mod budgets;
pub mod cases;
pub mod credit;
pub mod events;
pub mod findings;
pub mod inspections;
pub mod migration;
pub mod rules;
pub mod stays;
pub mod tasks;

#[cfg(test)]
mod stay_tests;
#[cfg(test)]
mod tests;

pub use budgets::{LedgerRows, level_str};
pub use cases::{RequestKey, StoredCase, StoredTip};
pub use credit::subject_key;
pub use events::{Batch, EventRow, EventStatus, StoredRow};
pub use findings::{BackfillRun, FindingFilter, StoredFinding};
pub use stays::StayWrites;

use crate::error;
use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult, Statement,
    Value,
};
use yibao_runtime::db::StoreBase;
pub use yibao_runtime::db::WriteTxn;
use yibao_runtime::error::ErrorCode;
use yibao_runtime::sql::bulk_insert_statements;

/// What can go wrong reading or writing rows.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A concurrent change came first (a version guard or a unique key); the caller may retry.
    #[error("{0}")]
    Conflict(String),
    /// The tip is already in a case.
    #[error("tip {0} already has a case")]
    TipAlreadyInCase(String),
    /// One of the findings is already in a case.
    #[error("finding {0} is already in a case")]
    FindingAlreadyInCase(String),
    /// Stored data that does not parse (a bug or a manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl StoreError {
    /// A corrupt stored value.
    pub fn corrupt(what: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt(what.to_string())
    }

    /// Stable code of the error.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::Conflict(_) => error::CONCURRENT_CHANGE,
            StoreError::TipAlreadyInCase(_) => error::CASE_TIP_ALREADY_IN_CASE,
            StoreError::FindingAlreadyInCase(_) => error::CASE_FINDING_ALREADY_IN_CASE,
            StoreError::Corrupt(_) => error::STORED_DATA_CORRUPT,
            StoreError::Db(_) => error::DATABASE,
        }
    }
}

/// Who did something, in which caller role, when.
#[derive(Debug, Clone)]
pub struct Audit {
    /// Token subject.
    pub actor: String,
    /// Caller role, e.g. `operator`.
    pub role: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// RFC 3339 text of an instant, to the millisecond.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A page of a list: keyset pages behind opaque tokens (the runtime's one rule).
pub use yibao_runtime::page::Page;

/// The rows a page reads: one more than the page, to know whether another follows.
fn fetch(page: &Page) -> Value {
    i64::try_from(page.fetch()).unwrap_or(i64::MAX).into()
}

/// The supervision store.
#[derive(Debug, Clone)]
pub struct Store {
    base: StoreBase,
}

fn s(row: &QueryResult, col: &str) -> Result<String, StoreError> {
    row.try_get::<String>("", col)
        .map_err(|e| StoreError::corrupt(format!("{col}: {e}")))
}

fn i(row: &QueryResult, col: &str) -> Result<i64, StoreError> {
    row.try_get::<i64>("", col)
        .map_err(|e| StoreError::corrupt(format!("{col}: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(row: &QueryResult, col: &str) -> Result<T, StoreError> {
    let text = s(row, col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::corrupt(format!("{col}: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::corrupt(format!("encode: {e}")))
}

/// `institution_code` without its letter starts with the region digits.
const INSTITUTION_REGION: &str = "SUBSTR(institution_code, 2, 6)";

/// A column of a batched insert: name and PostgreSQL array type.
type Col = (&'static str, &'static str);
const TEXT: &str = "text[]";
const BIGINT: &str = "bigint[]";

impl Store {
    /// Wraps a migrated connection.
    pub fn new(db: DatabaseConnection) -> Store {
        Store {
            base: StoreBase::new(db),
        }
    }

    /// The connection.
    pub fn db(&self) -> &DatabaseConnection {
        self.base.db()
    }

    /// The connection and write gate (the consumer's inbox keeps its state beside the rows).
    pub fn base(&self) -> &StoreBase {
        &self.base
    }

    /// Opens a write transaction (queued behind the write gate on SQLite); it derefs to the
    /// [`DatabaseTransaction`] the transaction-scoped functions take.
    pub async fn begin(&self) -> Result<WriteTxn, StoreError> {
        Ok(self.base.begin().await?)
    }

    fn is_postgres(&self) -> bool {
        self.db().get_database_backend() == DbBackend::Postgres
    }

    /// A statement with `?` placeholders numbered for PostgreSQL.
    fn st(&self, sql: &str, values: Vec<Value>) -> Statement {
        yibao_runtime::sql::stmt(self.db().get_database_backend(), sql, values)
    }

    async fn all<C: ConnectionTrait>(
        &self,
        c: &C,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<QueryResult>, StoreError> {
        Ok(c.query_all_raw(self.st(sql, values)).await?)
    }

    async fn one<C: ConnectionTrait>(
        &self,
        c: &C,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Option<QueryResult>, StoreError> {
        Ok(c.query_one_raw(self.st(sql, values)).await?)
    }

    async fn exec<C: ConnectionTrait>(
        &self,
        c: &C,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<u64, StoreError> {
        Ok(c.execute_raw(self.st(sql, values)).await?.rows_affected())
    }

    fn for_update(&self) -> &'static str {
        if self.is_postgres() {
            " FOR UPDATE"
        } else {
            ""
        }
    }

    /// Inserts rows into `table` with the runtime's bulk statements; `tail` follows each
    /// (an `ON CONFLICT` clause, a `RETURNING` clause). Returns the rows affected and, with
    /// `returning`, the values of that text column.
    async fn insert_many(
        &self,
        txn: &DatabaseTransaction,
        table: &str,
        cols: &[Col],
        rows: Vec<Vec<Value>>,
        tail: &str,
        returning: Option<&str>,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let mut affected = 0u64;
        let mut returned = Vec::new();
        for (sql, values) in
            bulk_insert_statements(self.db().get_database_backend(), table, cols, rows, tail)?
        {
            match returning {
                Some(col) => {
                    let rows = self.all(txn, &sql, values).await?;
                    affected += rows.len() as u64;
                    for r in &rows {
                        returned.push(s(r, col)?);
                    }
                }
                None => affected += self.exec(txn, &sql, values).await?,
            }
        }
        Ok((affected, returned))
    }
}
