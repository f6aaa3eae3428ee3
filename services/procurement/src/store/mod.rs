//! Tables of the procurement service, one module per aggregate: [`catalogue`], [`rounds`]
//! (rounds, groups, demand, bids, outcomes and allocations), [`prices`] (reference prices,
//! listings and payment standards), [`inventory`], [`savings`] and [`outbox`]; [`migration`]
//! holds the schema. Plain SQL with `$n` parameters, the same text on PostgreSQL and SQLite.
//!
//! The store only reads and writes rows: which row to write, and whether a write is allowed,
//! is decided in `app/`. Reads take any connection (`c: &impl ConnectionTrait`), so `app/` can
//! compose several of them with writes in one transaction ([`Store::begin`], [`Txn`]).

pub mod catalogue;
pub mod error;
pub mod inventory;
pub mod migration;
pub mod outbox;
pub mod prices;
pub mod rounds;
pub mod savings;

pub use catalogue::{ChangeKind, NewChange, StoredChange, StoredItem, kind_str};
pub use error::StoreError;
pub use inventory::Purchase;
pub use prices::{StoredListing, StoredReference, StoredStandard};
pub use rounds::{RoundStatus, StoredAllocation, StoredBid, StoredGroup, StoredRound};
pub use yibao_runtime::outbox::OutboxEvent;

use crate::domain::ItemCode;
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement, Value};
use yibao_runtime::db::{StoreBase, WriteTxn};

pub use yibao_runtime::Actor;

/// Who changed a record and when.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audit {
    /// Token subject.
    pub actor: String,
    /// Role name.
    pub role: String,
    /// RFC 3339 time.
    pub at: String,
}

impl Audit {
    /// A change by `actor` at `at`.
    pub fn by(actor: &Actor, at: &str) -> Audit {
        Audit {
            actor: actor.subject.clone(),
            role: actor.role.clone(),
            at: at.to_string(),
        }
    }
}

/// What a retried request found instead of writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    /// Newly written.
    New(T),
    /// An identical record existed: nothing was written.
    Existing(T),
}

impl<T> Written<T> {
    /// The record either way.
    pub fn into_inner(self) -> T {
        match self {
            Written::New(t) | Written::Existing(t) => t,
        }
    }
}

/// The procurement store: the runtime's store base (connection, write gate) and the rows.
#[derive(Debug, Clone)]
pub struct Store {
    base: StoreBase,
}

/// A write transaction (holding its turn at the write gate); dropped without `commit`, it
/// rolls back. Store functions take `&Txn` so `app/` composes one transaction.
pub type Txn = WriteTxn;

/// The current time as stored (RFC 3339, milliseconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A new record id (time-ordered).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Regions whose data applies in `region`, most specific first: county, city, province.
pub fn region_chain(region: &str) -> Vec<String> {
    let mut out = vec![region.to_string()];
    if region.len() == 6 && region.is_ascii() {
        for r in [
            format!("{}00", &region[..4]),
            format!("{}0000", &region[..2]),
        ] {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

impl Store {
    /// Wraps a connection.
    pub fn new(db: DatabaseConnection) -> Store {
        Store {
            base: StoreBase::new(db),
        }
    }

    /// The connection, for reads outside a transaction.
    pub fn db(&self) -> &DatabaseConnection {
        self.base.db()
    }

    /// The store base (connection and write gate), shared with the outbox relay.
    pub fn base(&self) -> &StoreBase {
        &self.base
    }

    /// Opens a write transaction (on SQLite after waiting for the writer slot).
    pub async fn begin(&self) -> Result<Txn, StoreError> {
        Ok(self.base.begin().await?)
    }

    /// Serialises writers of one history (an item's standards, a round, an institution's
    /// inventory) until the transaction ends. SQLite has one writer anyway; on PostgreSQL a
    /// transaction-scoped advisory lock keeps two concurrent read-check-write sequences from
    /// both closing the same open-ended period.
    pub async fn lock(&self, t: &Txn, key: &str) -> Result<(), StoreError> {
        if self.db().get_database_backend() == DbBackend::Postgres {
            self.one(
                &**t,
                "SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS l",
                vec![s(format!("procurement:{key}"))],
            )
            .await?;
        }
        Ok(())
    }

    /// Locks several keys, always in the same order, so two batches never wait on each other
    /// crosswise.
    pub async fn lock_all(&self, t: &Txn, keys: &[String]) -> Result<(), StoreError> {
        let mut keys = keys.to_vec();
        keys.sort();
        keys.dedup();
        for key in &keys {
            self.lock(t, key).await?;
        }
        Ok(())
    }

    /// The namespace of this database's cache keys: a random id stored on first use, so every
    /// replica over the same database shares it and a fresh database never reads stale keys.
    pub async fn cache_namespace(&self) -> Result<String, StoreError> {
        let t = self.begin().await?;
        self.exec(&*t, "INSERT INTO service_meta (meta_key, meta_value) VALUES ('cache_namespace', $1) ON CONFLICT (meta_key) DO NOTHING", vec![s(new_id())]).await?;
        let row = self
            .one(
                &*t,
                "SELECT meta_value FROM service_meta WHERE meta_key = 'cache_namespace'",
                vec![],
            )
            .await?;
        t.commit().await?;
        row.as_ref()
            .map(|r| get_s(r, "meta_value"))
            .transpose()?
            .ok_or_else(|| StoreError::Corrupt("cache namespace missing".into()))
    }

    fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.db().get_database_backend(), sql, values)
    }

    async fn all(
        &self,
        c: &impl ConnectionTrait,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<QueryResult>, StoreError> {
        Ok(c.query_all_raw(self.stmt(sql, values)).await?)
    }

    async fn one(
        &self,
        c: &impl ConnectionTrait,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Option<QueryResult>, StoreError> {
        Ok(c.query_one_raw(self.stmt(sql, values)).await?)
    }

    async fn exec(
        &self,
        c: &impl ConnectionTrait,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<u64, StoreError> {
        Ok(c.execute_raw(self.stmt(sql, values)).await?.rows_affected())
    }
}

// ---------------------------------------------------------------- column helpers

fn date(s: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| StoreError::Corrupt(format!("stored date `{s}`: {e}")))
}

fn opt_date(s: Option<String>) -> Result<Option<NaiveDate>, StoreError> {
    s.as_deref().map(date).transpose()
}

fn opt_date_text(d: Option<NaiveDate>) -> Value {
    opt_s(d.map(|d| d.to_string()))
}

fn code(s: &str) -> Result<ItemCode, StoreError> {
    ItemCode::parse_any(s)
        .map(|(_, c)| c)
        .map_err(|e| StoreError::Corrupt(format!("stored item code `{s}`: {e}")))
}

fn institution(s: &str) -> Result<yibao_core::InstitutionCode, StoreError> {
    yibao_core::InstitutionCode::parse(s)
        .map_err(|e| StoreError::Corrupt(format!("institution `{s}`: {e}")))
}

fn qty(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::TooLarge { what: "quantity" })
}

fn uqty(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative quantity {v}")))
}

fn s(v: impl Into<String>) -> Value {
    Value::String(Some(v.into()))
}

fn opt_s(v: Option<String>) -> Value {
    Value::String(v)
}

fn n(v: i64) -> Value {
    Value::BigInt(Some(v))
}

fn get_s(r: &QueryResult, col: &str) -> Result<String, StoreError> {
    Ok(r.try_get::<String>("", col)?)
}

fn get_os(r: &QueryResult, col: &str) -> Result<Option<String>, StoreError> {
    Ok(r.try_get::<Option<String>>("", col)?)
}

fn get_n(r: &QueryResult, col: &str) -> Result<i64, StoreError> {
    Ok(r.try_get::<i64>("", col)?)
}

fn audit(r: &QueryResult, by: &str, role: &str, at: &str) -> Result<Audit, StoreError> {
    Ok(Audit {
        actor: get_s(r, by)?,
        role: get_s(r, role)?,
        at: get_s(r, at)?,
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// `($k, $k+1, …)` placeholders for `count` values starting at `$start`.
fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod tests;
