//! The outbox relay: publishes what the outbox holds, oldest first, and marks it published.

use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use yibao_runtime::bus::Bus;

/// How often the relay looks for unpublished events.
const RELAY_INTERVAL: Duration = Duration::from_secs(2);

/// Publishes what the outbox holds; returns how many events were published. Stops at the
/// first bus failure (the rest waits for the next pass).
pub async fn relay_once(store: &Store, bus: &dyn Bus) -> usize {
    let _slot = store.relay_slot().await;
    let mut published = 0;
    loop {
        let batch = match store.unpublished(100).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "outbox read failed");
                return published;
            }
        };
        if batch.is_empty() {
            return published;
        }
        for e in batch {
            if let Err(err) = bus.publish(&e.stream, &e.event_id, &e.payload).await {
                tracing::warn!(error = %err, event_id = %e.event_id, "outbox publish failed; will retry");
                return published;
            }
            if let Err(err) = store.mark_published(&e.event_id).await {
                // Published but not marked: it is published again later; consumers dedupe by id.
                tracing::warn!(error = %err, event_id = %e.event_id, "outbox mark failed");
                return published;
            }
            published += 1;
        }
    }
}

/// Runs [`relay_once`] every few seconds for the life of the process.
pub fn spawn_relay(store: Store, bus: Arc<dyn Bus>) {
    tokio::spawn(async move {
        loop {
            relay_once(&store, bus.as_ref()).await;
            tokio::time::sleep(RELAY_INTERVAL).await;
        }
    });
}
