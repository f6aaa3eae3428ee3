//! The use cases of the enrollment service: each loads what it needs through the store,
//! checks the record's tenancy, asks the rules in `domain`, writes through the store and
//! invalidates the eligibility cache of the people it changed. No proto types here; `api`
//! maps requests to these calls and their results and errors back.
//!
//! - [`persons`]: registration, corrections, look-ups, history, categories;
//! - [`households`]; [`enrolments`]: standards, enrolling, contributions, status events;
//! - [`eligibility`]: the cached check (the hottest path of the platform);
//! - [`vouchers`]: electronic vouchers; [`duplicates`]: the scan and its tasks;
//! - [`roster`]: reconciling a list; [`coverage`]: targets and coverage; [`import`]: bulk import;
//! - [`certifications`]: chronic-disease certifications and cross-region filings;
//! - [`registry`]: designated institutions and their cache; [`physicians`]: insurance
//!   physicians; [`credentials`]: institutions' national-interface credentials;
//! - [`sanctions`]: supervision's blacklisting and its lifting, acted on by the registry;
//! - [`settlement_facts`]: everything settlement pays a claim by, in one call;
//! - [`tenancy`]: record-level region checks; [`error`]: [`AppError`].

pub mod certifications;
pub mod coverage;
pub mod credentials;
pub mod duplicates;
pub mod eligibility;
pub mod enrolments;
pub mod error;
pub mod households;
pub mod import;
pub mod persons;
pub mod physicians;
pub mod registry;
pub mod roster;
pub mod sanctions;
pub mod settlement_facts;
pub mod tenancy;
pub mod vouchers;

pub use error::AppError;

use crate::domain::voucher::VoucherSigner;
use crate::store::Store;
use eligibility::{EligibilityCache, EpochCache};
use std::sync::Arc;
use yibao_runtime::cache::Cache;

/// The enrollment use cases over a store, the eligibility cache and the voucher signer.
#[derive(Debug, Clone)]
pub struct Enrollment {
    store: Store,
    eligibility: EligibilityCache,
    institutions: EpochCache,
    vouchers: VoucherSigner,
}

impl Enrollment {
    /// The use cases over a store and a cache; `voucher_secret` (≥ 32 bytes) signs vouchers
    /// and keys the cache's hashes of ID numbers. The eligibility and institution caches are
    /// used once their epoch has been read (`eligibility_cache().refresh_epoch()` and
    /// `institution_cache().refresh_epoch()`, which `build` does before serving, then `watch`).
    pub fn new(store: Store, cache: Arc<dyn Cache>, voucher_secret: &[u8]) -> Enrollment {
        Enrollment {
            eligibility: EligibilityCache::new(cache.clone(), voucher_secret, store.clone()),
            institutions: EpochCache::of_kind(
                registry::INSTITUTION_CACHE,
                cache,
                voucher_secret,
                store.clone(),
            ),
            store,
            vouchers: VoucherSigner::new(voucher_secret),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
