//! The use cases of the settlement service, one file per use case or aggregate: [`settle`]
//! (pre-settle, settle), [`reverse`] (reversal, refund, re-settlement), [`claims`] (reading
//! claims and accumulators), `registry` (asking enrollment's registries, admitting the claim),
//! [`policies`], [`catalogue`], [`statements`] (with supervision's
//! payment check), [`insurers`] (layers, disputes, membership), [`ledger`] (reconciliation).
//!
//! A use case does the look-ups upstream (behind the traits of [`upstream`]), opens the one
//! transaction, calls the rules in `domain/`, writes the rows through `store/` and the outbox
//! event, commits and wakes the relay. Record-level tenancy (this claim is the caller's
//! institution's, inside the caller's region) is checked here; roles are enforced from the
//! contract by the runtime before a request gets this far.

pub mod catalogue;
pub mod claims;
pub mod encounters;
mod error;
pub mod insurers;
pub mod ledger;
pub mod policies;
mod registry;
pub mod reverse;
pub mod settle;
pub mod statements;
pub mod upstream;

#[cfg(test)]
mod tests;

pub use error::{AppError, not_found_code};
pub use ledger::{Discrepancy, FundTotal, LedgerReconciliation};
pub use reverse::{Resettled, Reversed};
pub use settle::{ClaimRequest, SettleInput, Settled};
pub use statements::Statement;
pub use upstream::{Authorization, Upstreams};

use crate::domain::ClaimLimits;
use crate::store::Store;
use yibao_runtime::outbox::Relay;

/// The settlement service's use cases over its store and upstreams.
#[derive(Debug, Clone)]
pub struct SettlementApp {
    store: Store,
    upstreams: Upstreams,
    /// Woken after a commit that enqueued events; none where nothing relays (tests).
    relay: Option<Relay>,
    /// Bounds on a claim's amounts and quantities (checked before anything is asked or written).
    limits: ClaimLimits,
}

impl SettlementApp {
    /// The use cases over `store`, asking `upstreams`, waking `relay` after commits that
    /// enqueued events; claims are bounded by [`ClaimLimits::DEFAULT`].
    pub fn new(store: Store, upstreams: Upstreams, relay: Option<Relay>) -> SettlementApp {
        SettlementApp {
            store,
            upstreams,
            relay,
            limits: ClaimLimits::DEFAULT,
        }
    }

    /// The same use cases with claims bounded by `limits` (the `[settlement]` settings).
    pub fn with_limits(mut self, limits: ClaimLimits) -> SettlementApp {
        self.limits = limits;
        self
    }

    /// The bounds on a claim's amounts and quantities.
    pub fn limits(&self) -> &ClaimLimits {
        &self.limits
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn wake_relay(&self) {
        if let Some(r) = &self.relay {
            r.kick();
        }
    }
}
