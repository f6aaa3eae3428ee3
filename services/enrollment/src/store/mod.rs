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
//!   [`physicians`]: insurance physicians;
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

    /// On a connected (and migrated) store base.
    pub fn with_base(base: StoreBase) -> Store {
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
