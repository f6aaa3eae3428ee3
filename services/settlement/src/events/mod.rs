//! Bus input and output of the settlement service. Output only: [`claims`] encodes the
//! `ClaimEvent` of every settlement and reversal, which `app/` writes to the runtime's outbox
//! in the same transaction; the runtime's relay ([`start_relay`]) publishes it to the stream
//! `yibao.settlement.claims` in the order written, at least once (consumers deduplicate by
//! event id). [`encounters`] does the same for the steps of an encounter in care, on
//! `yibao.settlement.encounters`.

pub mod claims;
pub mod encounters;

pub use claims::{Action, EventError, claim_event, outbox_event};

use std::sync::Arc;
use yibao_runtime::bus::Bus;
use yibao_runtime::db::StoreBase;
use yibao_runtime::outbox::{Relay, RelayConfig};

/// Starts the outbox relay of the service for the life of the process; kick the handle after
/// a commit that enqueued events.
pub fn start_relay(base: StoreBase, bus: Arc<dyn Bus>, cfg: RelayConfig) -> Relay {
    Relay::start("settlement", base, bus, cfg)
}
