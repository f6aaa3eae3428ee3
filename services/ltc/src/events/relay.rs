//! The outbox relay: publishes pending outbox entries to the bus, retried until the bus
//! acknowledges them (consumers are idempotent by event id).

use super::EventsError;
use crate::store::{Store, outbox};
use std::sync::Arc;
use std::time::Duration;
use yibao_runtime::bus::Bus;

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
                    Err(e) => tracing::warn!(error = %e, code = e.code(), "ltc outbox relay"),
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
pub async fn publish_pending(store: &Store, bus: &dyn Bus) -> Result<usize, EventsError> {
    let pending = outbox::unpublished(store.db(), 500).await?;
    let mut done = Vec::with_capacity(pending.len());
    for e in &pending {
        match bus.publish(&e.stream, &e.event_id, &e.payload).await {
            Ok(_) => done.push(e.id.clone()),
            Err(err) => {
                outbox::mark_published(store, &done).await?;
                return Err(err.into());
            }
        }
    }
    outbox::mark_published(store, &done).await?;
    Ok(done.len())
}
