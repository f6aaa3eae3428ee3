//! Persistence of the enrollment service: rows in and out, one file per aggregate, plus the
//! entities and migrations. No rules and no proto types here: the use cases in `app` decide,
//! the store reads and writes. Every change to a person is journalled in `history` (who,
//! what, when) and person corrections keep each version in `person_versions`: nothing is
//! overwritten without its previous value being kept.
//!
//! - [`persons`]: people, their versions, the history journal and status events;
//! - [`households`], [`categories`], [`vouchers`], [`coverage`] (targets and counts);
//! - [`enrolments`]: enrolments, contributions and contribution standards;
//! - [`duplicates`]: the scan's candidate queries and the duplicate tasks;
//! - [`import`]: bulk inserts of imported people (COPY on PostgreSQL);
//! - [`certifications`]: chronic-disease certifications and cross-region filings;
//! - [`registry`]: designated institutions (versions, agreements, status changes, journal);
//!   [`physicians`]: insurance physicians; [`credentials`]: institutions' national-interface
//!   credentials;
//! - [`cache_epochs`]: the epoch that is part of every eligibility and institution cache key;
//! - [`codec`]: stored text forms; [`error`]: [`StoreError`].
//!
//! Most writes are one transaction inside a store function; where a use case decides between
//! reads and writes of one transaction, it opens it with [`Store::begin`] and calls the
//! transaction-scoped functions (taking `&DatabaseTransaction`).

pub mod cache_epochs;
pub mod categories;
pub mod certifications;
pub mod codec;
pub mod coverage;
pub mod credentials;
pub mod duplicates;
pub mod enrolments;
pub mod entities;
pub mod error;
pub mod households;
pub mod import;
pub mod migration;
pub mod persons;
pub mod physicians;
pub mod registry;
pub mod vouchers;

pub use codec::{category_str, enrolment_of, scheme_str};
pub use error::{Entity, StoreError};
pub use persons::{NewPerson, PersonChanges};

use sea_orm::{DatabaseConnection, DbBackend};
use yibao_runtime::db::{StoreBase, WriteTxn};

/// How often the pool's use is sampled.
const POOL_SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The enrollment store: the shared store base (connection, write gate, transactions) and
/// the rows of the service.
#[derive(Debug, Clone)]
pub struct Store {
    base: StoreBase,
}

impl Store {
    /// Wraps a connection.
    pub fn new(db: DatabaseConnection) -> Store {
        Store::with_base(StoreBase::new(db))
    }

    /// On a connected (and migrated) store base. Inside a Tokio runtime its pool's use is
    /// sampled into `yibao_db_pool_connections{component="enrollment"}` every 5 s, as the
    /// other services' outboxes and inboxes do (enrollment has neither).
    pub fn with_base(base: StoreBase) -> Store {
        if tokio::runtime::Handle::try_current().is_ok() {
            yibao_runtime::metrics::watch_pool("enrollment", base.db().clone(), POOL_SAMPLE_EVERY);
        }
        Store { base }
    }

    /// The connection.
    pub fn db(&self) -> &DatabaseConnection {
        self.base.db()
    }

    /// Opens a write transaction (after its turn at the write gate, which it holds until it
    /// is committed or rolled back).
    pub async fn begin(&self) -> Result<WriteTxn, StoreError> {
        Ok(self.base.begin().await?)
    }

    /// True on PostgreSQL (row locks, COPY).
    pub fn is_postgres(&self) -> bool {
        self.db().get_database_backend() == DbBackend::Postgres
    }
}

#[cfg(test)]
mod pool_metrics {
    use std::time::Duration;

    /// A store made inside a runtime reports its pool under `component="enrollment"`.
    #[tokio::test]
    async fn the_pool_is_sampled_under_enrollment() {
        let db = sea_orm::Database::connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite");
        let _store = super::Store::new(db);
        let pool = yibao_runtime::metrics::db_pool();
        let mut max = None;
        for _ in 0..100 {
            max = pool.value(&["enrollment", "max"]);
            if max.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(max.is_some_and(|m| m >= 1.0), "max connections: {max:?}");
        assert!(pool.value(&["enrollment", "idle"]).is_some());
        assert!(pool.value(&["enrollment", "in_use"]).is_some());
    }
}
