//! The use cases of the procurement service, one module per area: [`catalogue`] (with its
//! cache, [`catalogue_cache`]), [`rounds`]
//! (groups, demand, bids, selection, outcome, price cuts), [`prices`] (reference prices and
//! listings), [`standards`] (payment standards and their cached look-up), [`inventory`] and
//! [`savings`] (volume completion and retained savings).
//!
//! A use case takes parsed input (from `api/`), re-checks record-level tenancy against the
//! stored record (an operator acts only on rounds of regions it covers), opens the
//! transaction, calls the rules in `domain/`, writes through `store/` and enqueues its events
//! (`events/`) in the same transaction.

pub mod catalogue;
pub mod catalogue_cache;
pub mod error;
pub mod inventory;
pub mod prices;
pub mod rounds;
pub mod savings;
pub mod standard_cache;
pub mod standards;

#[cfg(test)]
mod tests;

pub use catalogue_cache::CatalogueCache;
pub use error::AppError;
pub use rounds::{NewRound, Viewer};
pub use savings::{InstitutionSavingsParams, SavingsRequest};
pub use standard_cache::StandardCache;

use crate::store::{Actor, RoundStatus, Store, StoredRound, Txn};
use std::sync::Arc;
use yibao_runtime::Caller;
use yibao_runtime::cache::Cache;
use yibao_runtime::outbox::Relay;

/// The procurement service's use cases over its store, cache and bus.
#[derive(Debug, Clone)]
pub struct Procurement {
    store: Store,
    standards: StandardCache,
    catalogue: CatalogueCache,
    /// Publishes the outbox; `None` leaves events in it (tests, tools).
    relay: Option<Relay>,
}

/// Who made a change, from the verified caller.
pub fn actor(c: &Caller) -> Actor {
    Actor::from(c)
}

impl Procurement {
    /// The use cases over a migrated database (reads the cache namespace from it), the
    /// cache of payment standards and catalogue versions and the relay to wake after enqueueing events.
    /// With a bus, the outbox relay starts on the store's base (connection and write gate);
    /// without one (tests, benches) events stay in the outbox.
    pub async fn new(
        db: sea_orm::DatabaseConnection,
        cache: Arc<dyn Cache>,
        bus: Option<(
            Arc<dyn yibao_runtime::bus::Bus>,
            yibao_runtime::outbox::RelayConfig,
        )>,
    ) -> Result<Self, AppError> {
        let store = Store::new(db);
        let relay =
            bus.map(|(bus, cfg)| Relay::start("procurement", store.base().clone(), bus, cfg));
        let namespace = store.cache_namespace().await?;
        Ok(Procurement {
            store,
            standards: StandardCache::new(Arc::clone(&cache), namespace.clone()),
            catalogue: CatalogueCache::new(cache, namespace),
            relay,
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A round.
    pub async fn round(&self, id: &str) -> Result<StoredRound, AppError> {
        self.store
            .round_in(self.store.db(), id)
            .await?
            .ok_or_else(|| round_not_found(id))
    }

    /// A round that the caller's region covers (region-scoped callers).
    async fn round_for(&self, caller: &Caller, id: &str) -> Result<StoredRound, AppError> {
        let round = self.round(id).await?;
        caller.check_region("round_id", &round.region)?;
        Ok(round)
    }

    /// The round, read inside the transaction, if it still takes groups, demand and bids.
    async fn open_round_in(&self, t: &Txn, id: &str) -> Result<StoredRound, AppError> {
        let round = self
            .store
            .round_in(&**t, id)
            .await?
            .ok_or_else(|| round_not_found(id))?;
        if round.status != RoundStatus::Open {
            return Err(AppError::precondition(
                crate::error::ROUND_NOT_OPEN.code,
                format!("round `{id}` is no longer open: its selection has run"),
            ));
        }
        Ok(round)
    }
}

fn round_not_found(id: &str) -> AppError {
    AppError::not_found(crate::error::ROUND_NOT_FOUND.code, format!("round `{id}`"))
}

/// The round's selection must have run.
fn selected(round: &StoredRound) -> Result<(), AppError> {
    if round.status != RoundStatus::Selected {
        return Err(AppError::precondition(
            crate::error::ROUND_NOT_SELECTED.code,
            format!("round `{}` has not been selected yet", round.id),
        ));
    }
    Ok(())
}
