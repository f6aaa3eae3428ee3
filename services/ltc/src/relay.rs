//! Background tasks: the outbox relay that publishes settlement events to the bus (retried until
//! acknowledged by the bus; consumers are idempotent by event id), and the consumer of
//! settlement's claim events that keeps the inpatient stays service records are checked against.

use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use yibao_runtime::bus::Bus;

/// Stream of settlement's claim events.
pub const SETTLEMENT_STREAM: &str = "yibao.settlement.claims";
/// Consumer group of this service on settlement's stream.
pub const STAY_GROUP: &str = "ltc-hospital-stays";

/// Handle of the outbox relay: `kick` after a commit to publish at once.
#[derive(Debug, Clone)]
pub struct Relay {
    notify: Arc<tokio::sync::Notify>,
}

impl Relay {
    /// Starts the relay task.
    pub fn start(store: Store, bus: Arc<dyn Bus>) -> Relay {
        let notify = Arc::new(tokio::sync::Notify::new());
        let n = notify.clone();
        tokio::spawn(async move {
            loop {
                match publish_pending(&store, bus.as_ref()).await {
                    Ok(n_published) if n_published > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "ltc outbox relay"),
                }
                let _ = tokio::time::timeout(Duration::from_secs(1), n.notified()).await;
            }
        });
        Relay { notify }
    }

    /// Wakes the relay.
    pub fn kick(&self) {
        self.notify.notify_one();
    }
}

/// Publishes up to 500 pending outbox entries; returns how many.
pub async fn publish_pending(store: &Store, bus: &dyn Bus) -> Result<usize, String> {
    let pending = store.unpublished(500).await.map_err(|e| e.to_string())?;
    let mut done = Vec::with_capacity(pending.len());
    for e in &pending {
        match bus.publish(&e.stream, &e.event_id, &e.payload).await {
            Ok(_) => done.push(e.id.clone()),
            Err(err) => {
                store
                    .mark_published(&done)
                    .await
                    .map_err(|e| e.to_string())?;
                return Err(err.to_string());
            }
        }
    }
    store
        .mark_published(&done)
        .await
        .map_err(|e| e.to_string())?;
    Ok(done.len())
}

/// Starts the consumer of settlement's claim events: settled inpatient stays are recorded,
/// reversed ones marked.
pub fn start_stay_consumer(store: Store, bus: Arc<dyn Bus>) {
    let consumer = format!("ltc-{}", uuid::Uuid::new_v4().simple());
    tokio::spawn(async move {
        loop {
            match consume_stays(&store, bus.as_ref(), &consumer).await {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "ltc hospital-stay consumer");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// Reads and applies one batch of settlement events; returns how many were handled.
pub async fn consume_stays(store: &Store, bus: &dyn Bus, consumer: &str) -> Result<usize, String> {
    use prost::Message;
    use yibao_proto::events::v1::{ClaimAction, ClaimEvent, ClaimKind};
    let batch = bus
        .read(
            SETTLEMENT_STREAM,
            STAY_GROUP,
            consumer,
            100,
            Duration::from_secs(1),
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::with_capacity(batch.len());
    for m in &batch {
        match ClaimEvent::decode(m.payload.as_slice()) {
            Ok(ev) if ev.kind == ClaimKind::Inpatient as i32 => {
                if ev.action == ClaimAction::Reversed as i32 {
                    store
                        .reverse_stay(&ev.claim_id)
                        .await
                        .map_err(|e| e.to_string())?;
                } else if ev.action == ClaimAction::Settled as i32 {
                    let discharged = if ev.end_date.is_empty() {
                        ev.start_date.clone()
                    } else {
                        ev.end_date.clone()
                    };
                    store
                        .record_stay(
                            &ev.claim_id,
                            &ev.person_key,
                            &ev.start_date,
                            &discharged,
                            &ev.event_id,
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(event = %m.event_id, error = %e, "undecodable settlement event skipped")
            }
        }
        ids.push(m.id.clone());
    }
    bus.ack(SETTLEMENT_STREAM, STAY_GROUP, &ids)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ids.len())
}
