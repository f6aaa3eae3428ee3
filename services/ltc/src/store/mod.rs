//! Persistence of the LTC service: raw portable SQL over `sea_orm` (SQLite and PostgreSQL),
//! rows in and out, one module per aggregate. Every workflow step records who and when;
//! corrections keep the previous values. The store runs no rules and builds no messages: `app/`
//! opens a transaction with [`Store::begin`] and composes the functions here, which take any
//! connection (the pool for reads, the transaction for a use case's writes).

pub mod applications;
pub mod assessments;
pub mod beneficiaries;
mod error;
pub mod migration;
pub mod policies;
pub mod records;
pub mod settlements;
pub mod sql;
pub mod statistics;
pub mod stays;

pub use error::StoreError;

use crate::domain::assessment::DisabilityLevel;
use crate::domain::policy::CareType;
use chrono::NaiveDate;
use sea_orm::DatabaseConnection;
use yibao_core::RegionCode;
use yibao_runtime::config::DatabaseConfig;
use yibao_runtime::db::{StoreBase, WriteTxn};

/// The LTC store: the runtime's store base (connection and write gate).
#[derive(Debug, Clone)]
pub struct Store {
    base: StoreBase,
}

/// A write transaction holding its turn at the write gate (see [`StoreBase::begin`]).
pub type Tx = WriteTxn;

impl Store {
    /// Wraps a connection.
    pub fn new(db: DatabaseConnection) -> Store {
        Store {
            base: StoreBase::new(db),
        }
    }

    /// Connects to the configured database and applies the migrations.
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Store, StoreError> {
        Ok(Store {
            base: StoreBase::connect::<migration::Migrator>(cfg).await?,
        })
    }

    /// The connection pool (reads outside a transaction).
    pub fn db(&self) -> &DatabaseConnection {
        self.base.db()
    }

    /// The store base (connection and write gate), shared with the outbox relay.
    pub fn base(&self) -> &StoreBase {
        &self.base
    }

    /// Opens a write transaction, waiting for the write gate on SQLite.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.base.begin().await?)
    }
}

/// Current time, RFC 3339.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A new row id (UUID v7: ordered by creation).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn date(s: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| StoreError::Corrupt(format!("stored date `{s}`: {e}")))
}

fn level_of(n: i32) -> Result<DisabilityLevel, StoreError> {
    u8::try_from(n)
        .ok()
        .and_then(DisabilityLevel::from_number)
        .ok_or_else(|| StoreError::Corrupt(format!("level {n}")))
}

fn care_type_of(s: &str) -> Result<CareType, StoreError> {
    CareType::parse(s).ok_or_else(|| StoreError::Corrupt(format!("care type `{s}`")))
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// `LIKE` pattern of the records a region covers.
fn region_like(region: &RegionCode) -> String {
    format!("{}%", region.prefix())
}

/// Maps a unique-key violation to a [`StoreError::Conflict`] with `message`.
fn conflict_on_unique(e: sea_orm::DbErr, message: impl FnOnce() -> String) -> StoreError {
    if yibao_runtime::db::is_unique_violation(&e) {
        StoreError::Conflict(message())
    } else {
        e.into()
    }
}
