//! The use cases of the supervision service, one file per area. Each takes the verified caller
//! where the record decides who may act (an institution only its own findings; operators and
//! auditors within their region), loads what it needs, runs the domain rule, and writes the
//! result through the store in one transaction.
//!
//! - [`rules`]: the rule library per region (read, tune);
//! - [`findings`]: findings and their review workflow, with the credit deductions of a
//!   confirmed violation;
//! - [`tasks`]: verification tasks of large receipts;
//! - [`cases`]: tips, cases, recoveries and rewards (idempotent by request id);
//! - [`credit`]: credit scores, restorations, the blacklist (its sanctions written to the
//!   runtime's outbox for enrollment's registry) and the settlement hold;
//! - [`budgets`]: budgets, policies, warnings and the fund summary;
//! - [`inspections`]: random inspection draws;
//! - [`backfill`]: one rule replayed over stored history;
//! - [`ingest`]: the consumer's write of a batch of events.

pub mod backfill;
pub mod budgets;
pub mod cases;
pub mod credit;
pub mod error;
pub mod findings;
pub mod ingest;
pub mod inspections;
pub mod rules;
pub mod tasks;

pub use error::AppError;

use crate::domain::{CreditPolicy, RewardPolicy};
use crate::store::{Audit, Store};
use chrono::Utc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use yibao_core::RegionCode;
use yibao_runtime::Caller;
use yibao_runtime::auth::AuthError;
use yibao_runtime::outbox::Relay;

/// The supervision use cases over one store.
#[derive(Debug, Clone)]
pub struct Supervision {
    store: Store,
    lag: Arc<AtomicU64>,
    credit_policy: CreditPolicy,
    reward_policy: RewardPolicy,
    relay: Option<Relay>,
}

impl Supervision {
    /// The use cases over a store; `lag` is the consumer's. Without a relay
    /// ([`Supervision::with_relay`]) the sanctions written to the outbox wait for a relay
    /// elsewhere.
    pub fn new(store: Store, lag: Arc<AtomicU64>) -> Supervision {
        Supervision {
            store,
            lag,
            credit_policy: CreditPolicy::default(),
            reward_policy: RewardPolicy::default(),
            relay: None,
        }
    }

    /// The same use cases waking `relay` after a commit that wrote a sanction to the outbox.
    pub fn with_relay(self, relay: Relay) -> Supervision {
        Supervision {
            relay: Some(relay),
            ..self
        }
    }

    /// Publishes what was just committed to the outbox at once.
    fn kick_relay(&self) {
        if let Some(r) = &self.relay {
            r.kick();
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The credit policy in force.
    pub fn credit_policy(&self) -> &CreditPolicy {
        &self.credit_policy
    }

    /// The reward policy in force.
    pub fn reward_policy(&self) -> &RewardPolicy {
        &self.reward_policy
    }

    /// Events not yet consumed (undelivered plus unacknowledged), as last measured.
    pub fn stream_lag(&self) -> u64 {
        self.lag.load(Ordering::Relaxed)
    }

    /// A page of the events the consumer set aside.
    pub async fn dead_letters(
        &self,
        page: Option<&yibao_proto::common::v1::PageRequest>,
    ) -> Result<DeadLetterPage, yibao_runtime::ApiError> {
        yibao_runtime::inbox::api::list(self.store.base(), &[SUPERVISION_GROUP], page).await
    }

    /// Has a dead letter delivered to the consumer again.
    pub async fn replay_dead_letter(
        &self,
        id: &str,
    ) -> Result<yibao_proto::common::v1::DeadLetter, yibao_runtime::ApiError> {
        yibao_runtime::inbox::api::replay(self.store.base(), &[SUPERVISION_GROUP], id).await
    }
}

/// Dead letters and the page that follows.
pub type DeadLetterPage = (
    Vec<yibao_proto::common::v1::DeadLetter>,
    yibao_proto::common::v1::PageResponse,
);

const SUPERVISION_GROUP: &str = yibao_runtime::streams::SUPERVISION_GROUP;

/// Who acts, as recorded with a write.
pub fn audit(caller: &Caller) -> Audit {
    Audit {
        actor: caller.subject.clone(),
        role: caller.role.as_str().to_string(),
        at: Utc::now(),
    }
}

/// Refuses a region-scoped caller a record of a region it does not cover.
pub fn covers(caller: &Caller, field: &str, region: &RegionCode) -> Result<(), AuthError> {
    if caller.covers_region(region) {
        Ok(())
    } else {
        Err(AuthError::OutsideRegion {
            field: field.into(),
            value: region.to_string(),
            region: caller
                .region
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_default(),
        })
    }
}
