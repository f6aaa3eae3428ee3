//! The outbox relay: publishes unpublished outbox rows to the bus in the order written,
//! marking each published only after the bus accepted it. A bus failure leaves the row
//! unpublished and the relay retries with a growing pause, so nothing committed is lost;
//! delivery is at least once (a crash between publish and mark re-publishes the same event
//! id, and consumers are idempotent by it).

use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use yibao_runtime::bus::Bus;

/// Rows published per round.
const BATCH: u64 = 100;

/// Publishes what is pending once; returns how many rows were published. Stops at the first
/// bus failure (the row stays pending).
pub async fn publish_pending(store: &Store, bus: &dyn Bus) -> Result<usize, String> {
    let rows = store.unpublished(BATCH).await.map_err(|e| e.to_string())?;
    let mut published = Vec::with_capacity(rows.len());
    let mut failure = None;
    for row in rows {
        if let Err(e) = bus.publish(&row.stream, &row.id, &row.payload).await {
            let _ = store.mark_attempt(&row.id).await;
            failure = Some(e.to_string());
            break;
        }
        published.push(row.id);
    }
    // What the bus accepted is marked even when a later row failed; a crash before this
    // line re-publishes the same event ids (at least once).
    store
        .mark_published(&published)
        .await
        .map_err(|e| e.to_string())?;
    match failure {
        Some(e) => Err(e),
        None => Ok(published.len()),
    }
}

/// Runs the relay until the process ends: wakes on every commit that wrote an event, and
/// every second in any case (for rows left by another instance or an earlier failure).
pub fn spawn(store: Store, bus: Arc<dyn Bus>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let notify = store.outbox_notify();
        let mut backoff = Duration::from_millis(100);
        loop {
            match publish_pending(&store, bus.as_ref()).await {
                Ok(n) if n as u64 == BATCH => continue,
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    let _ = tokio::time::timeout(Duration::from_secs(1), notify.notified()).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "outbox relay: publication failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    })
}
