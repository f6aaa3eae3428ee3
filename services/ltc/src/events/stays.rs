//! The consumer of settlement's claim events: settled inpatient stays are recorded, reversed
//! ones marked; other events are acknowledged and ignored.

use super::EventsError;
use crate::app::Ltc;
use crate::app::stays::Stay;
use prost::Message;
use std::time::Duration;
use yibao_proto::events::v1::{ClaimAction, ClaimEvent, ClaimKind};
use yibao_runtime::bus::Bus;
use yibao_runtime::streams::{LTC_HOSPITAL_STAYS_GROUP as GROUP, SETTLEMENT_CLAIMS};

/// Starts the consumer of settlement's claim events.
pub fn start_stay_consumer(ltc: Ltc, bus: std::sync::Arc<dyn Bus>) {
    let consumer = format!("ltc-{}", uuid::Uuid::new_v4().simple());
    tokio::spawn(async move {
        loop {
            match consume_stays(&ltc, bus.as_ref(), &consumer).await {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, code = e.code(), "ltc hospital-stay consumer");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// Reads and applies one batch of settlement events; returns how many were handled.
pub async fn consume_stays(ltc: &Ltc, bus: &dyn Bus, consumer: &str) -> Result<usize, EventsError> {
    let batch = bus
        .read(
            SETTLEMENT_CLAIMS,
            GROUP,
            consumer,
            100,
            Duration::from_secs(1),
        )
        .await?;
    let mut ids = Vec::with_capacity(batch.len());
    for m in &batch {
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
        ids.push(m.id.clone());
    }
    bus.ack(SETTLEMENT_CLAIMS, GROUP, &ids).await?;
    Ok(ids.len())
}
