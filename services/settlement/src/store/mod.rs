//! Rows of the settlement service, per aggregate: [`policies`], [`members`]
//! (supplementary-product membership), [`accumulators`], [`claims`] (encounters, claims,
//! items, explanations), [`reversals`], [`ledger`] (the double-entry fund ledger and
//! reconciliation runs), [`statements`] (the month's totals), [`months`] (a month's claims,
//! reversals and ledger lines in keyset pages), [`insurers`] (the insurers' layers and
//! disputes); the schema in [`migration`]. Events go to the runtime's outbox
//! (`yibao_runtime::outbox`) inside the same transaction.
//!
//! The store only reads and writes rows: the rules run in `domain/`, the use cases in `app/`
//! compose one transaction ([`Store::begin`]) out of the functions here that take a
//! `&DatabaseTransaction`. Concurrent settlements of one person are serialised on the
//! accumulator row (`SELECT … FOR UPDATE` on PostgreSQL; SQLite has one writer, queued at the
//! write gate), and the row carries a version checked on update as a second guard.

pub mod accumulators;
pub mod care;
pub mod claims;
mod error;
pub mod insurers;
pub mod ledger;
pub mod members;
pub mod migration;
pub mod months;
pub mod policies;
pub mod reversals;
pub mod sql;
pub mod statements;

use crate::domain::PolicyDocument;
use chrono::NaiveDate;
use sea_orm::{DatabaseConnection, DbBackend};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use yibao_core::RegionCode;
use yibao_runtime::db::{StoreBase, WriteTxn};

pub use crate::domain::{InsurerTotals, ProductTotal};
pub use crate::domain::{StatementTotals, fund_lines};
pub use claims::{
    ClaimFilter, ClaimRow, ClaimStatus, ClaimSummaryRow, NewClaim, ReversalRow, StoredClaim,
    kind_of, kind_str, rule_name, scheme_of, scheme_str,
};
pub use error::StoreError;
pub use insurers::{InsurerClaimRow, InsurerFilter};
pub use policies::PolicyHeader;
pub use yibao_runtime::Actor;

/// Parsed policy documents by (id, version).
type PolicyCache = HashMap<(String, u32), Arc<PolicyDocument>>;

/// Rows a month's fold (statement, ledger reconciliation, insurer reconciliation) reads per
/// keyset page.
pub const READ_PAGE: u64 = 1000;

/// The settlement store.
#[derive(Debug, Clone)]
pub struct Store {
    base: StoreBase,
    /// Parsed policy documents by (id, version); documents never change once stored.
    policies: Arc<Mutex<PolicyCache>>,
    /// Rows per keyset page of a month's fold ([`READ_PAGE`]).
    read_page: u64,
}

impl Store {
    /// Wraps a connection.
    pub fn new(db: DatabaseConnection) -> Store {
        Store {
            base: StoreBase::new(db),
            policies: Arc::default(),
            read_page: READ_PAGE,
        }
    }

    /// The same store reading months in keyset pages of `rows` (at least 1) instead of
    /// [`READ_PAGE`].
    pub fn with_read_page(mut self, rows: u64) -> Store {
        self.read_page = rows.max(1);
        self
    }

    /// Rows per keyset page of a month's fold.
    pub fn read_page(&self) -> u64 {
        self.read_page
    }

    /// The connection.
    pub fn db(&self) -> &DatabaseConnection {
        self.base.db()
    }

    /// The store base (connection and write gate), shared with the outbox relay.
    pub fn base(&self) -> &StoreBase {
        &self.base
    }

    /// Begins a write transaction (after waiting for the turn to write on SQLite).
    pub async fn begin(&self) -> Result<WriteTxn, StoreError> {
        Ok(self.base.begin().await?)
    }

    fn for_update(&self) -> &'static str {
        if self.db().get_database_backend() == DbBackend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        }
    }
}

/// The time of a write, as stored.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Today (UTC): the month a reversal is posted in.
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// A fresh id (UUIDv7: ordered by time of creation).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The month `YYYY-MM` of a date.
pub fn month_of(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

fn json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn like_prefix(region: &str) -> String {
    match RegionCode::parse(region) {
        Ok(r) => format!("{}%", r.prefix()),
        Err(_) => format!("{region}%"),
    }
}

/// `LIMIT ?` of a page read.
fn limit(n: u64) -> sea_orm::Value {
    sql::i(i64::try_from(n).unwrap_or(i64::MAX))
}
