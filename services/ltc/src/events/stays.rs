//! The consumer of settlement's claim events: settled inpatient stays are recorded, reversed
//! ones marked; other events are handled by doing nothing. It reads through the runtime's
//! inbox ([`yibao_runtime::inbox`]) in group `ltc-hospital-stays`, so replicas share the
//! partitions by lease under their stable instance names, events the bus lost are fetched
//! again from settlement's outbox, and an event that keeps failing is set aside as a dead
//! letter while the rest go on.

use super::EventsError;
use crate::app::stays::Stay;
use crate::app::{AppError, Ltc};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use yibao_proto::events::v1::{ClaimAction, ClaimEvent, ClaimKind};
use yibao_runtime::bus::{Bus, BusMessage};
use yibao_runtime::db::StoreBase;
use yibao_runtime::inbox::{Inbox, InboxConfig};
use yibao_runtime::streams::{LTC_HOSPITAL_STAYS_GROUP as GROUP, SETTLEMENT_CLAIMS};

/// Starts the consumer of settlement's claim events; its inbox state lives in `base` (ltc's
/// database).
pub fn start_stay_consumer(ltc: Ltc, bus: Arc<dyn Bus>, base: StoreBase) {
    let mut inbox = stay_inbox(bus, base, InboxConfig::new(GROUP));
    tokio::spawn(async move {
        loop {
            if let Err(e) = consume_stays(&ltc, &mut inbox, Duration::from_secs(1)).await {
                tracing::warn!(error = %e, code = e.code(), "ltc hospital-stay consumer");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
}

/// The inbox of the stay consumer.
pub fn stay_inbox(bus: Arc<dyn Bus>, base: StoreBase, cfg: InboxConfig) -> Inbox {
    Inbox::new(bus, base, cfg, &[SETTLEMENT_CLAIMS])
}

/// Reads and applies one delivery of settlement events, waiting up to `block` for one;
/// returns how many messages were handled.
pub async fn consume_stays(
    ltc: &Ltc,
    inbox: &mut Inbox,
    block: Duration,
) -> Result<usize, EventsError> {
    let Some(delivery) = inbox.read(SETTLEMENT_CLAIMS, 100, block).await? else {
        return Ok(0);
    };
    for m in &delivery.messages {
        // The work (its database statements) below the delivery's consumer span.
        let applied = tracing::Instrument::instrument(apply(ltc, m), delivery.span().clone());
        if let Err(e) = applied.await {
            // A database outage is tried again as it is; anything else narrows down to the
            // event at fault and, repeated, sets it aside.
            let transient = matches!(e, EventsError::App(AppError::Store(_)));
            inbox.fail(&delivery, !transient, &e.to_string()).await?;
            return Err(e);
        }
    }
    inbox.ack(&delivery).await?;
    Ok(delivery.messages.len())
}

async fn apply(ltc: &Ltc, m: &BusMessage) -> Result<(), EventsError> {
    match ClaimEvent::decode(m.payload.as_slice()) {
        Ok(ev) if ev.kind == ClaimKind::Inpatient as i32 => {
            // A stay without a discharge date is a one-day stay.
            let discharged = if ev.end_date.is_empty() {
                &ev.start_date
            } else {
                &ev.end_date
            };
            let stay = Stay {
                claim_id: &ev.claim_id,
                person_id: &ev.person_key,
                admitted: &ev.start_date,
                discharged,
                event_id: &ev.event_id,
            };
            if ev.action == ClaimAction::Reversed as i32 {
                ltc.reverse_stay(&stay).await?;
            } else if ev.action == ClaimAction::Settled as i32 {
                ltc.record_stay(&stay).await?;
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(event = %m.event_id, error = %e, "undecodable settlement event skipped")
        }
    }
    Ok(())
}
