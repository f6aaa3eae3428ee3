//! The outbox: encoded events written in the transaction of the change they report, published
//! by the relay (`events::relay`) and marked.

use super::sql::{all, exec, hex, insert_bulk, ot, t, text, unhex};
use super::{Store, StoreError, new_id, now};
use sea_orm::{ConnectionTrait, DatabaseTransaction};

/// An outbox entry waiting for the bus.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    /// Row id.
    pub id: String,
    /// Stream.
    pub stream: String,
    /// Event id.
    pub event_id: String,
    /// Encoded event.
    pub payload: Vec<u8>,
}

/// An encoded event to enqueue.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Stream.
    pub stream: &'static str,
    /// Event id (consumers are idempotent by it).
    pub event_id: String,
    /// Encoded event.
    pub payload: Vec<u8>,
}

/// Columns of an outbox entry with their PostgreSQL array types.
const OUTBOX_TYPES: [(&str, &str); 6] = [
    ("id", "text[]"),
    ("stream", "text[]"),
    ("event_id", "text[]"),
    ("payload_hex", "text[]"),
    ("created_at", "text[]"),
    ("published_at", "text[]"),
];

/// Enqueues events in the caller's transaction, in one statement.
pub async fn enqueue(
    txn: &DatabaseTransaction,
    events: Vec<NewEvent>,
    at: &str,
) -> Result<(), StoreError> {
    let rows = events
        .into_iter()
        .map(|e| {
            vec![
                t(new_id()),
                t(e.stream),
                t(e.event_id),
                t(hex(&e.payload)),
                t(at),
                ot(None),
            ]
        })
        .collect();
    insert_bulk(txn, "ltc_outbox", &OUTBOX_TYPES, rows).await?;
    Ok(())
}

/// Unpublished outbox entries, oldest first.
pub async fn unpublished<C: ConnectionTrait>(
    c: &C,
    limit: u64,
) -> Result<Vec<OutboxEntry>, StoreError> {
    all(c, &format!("SELECT id, stream, event_id, payload_hex FROM ltc_outbox WHERE published_at IS NULL ORDER BY id LIMIT {limit}"), vec![])
        .await?
        .iter()
        .map(|r| {
            Ok(OutboxEntry {
                id: text(r, "id")?,
                stream: text(r, "stream")?,
                event_id: text(r, "event_id")?,
                payload: unhex(&text(r, "payload_hex")?).ok_or_else(|| StoreError::Corrupt("outbox payload".into()))?,
            })
        })
        .collect()
}

/// Marks entries published, in a transaction of its own.
pub async fn mark_published(store: &Store, ids: &[String]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let tx = store.begin().await?;
    let at = now();
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut v = vec![t(at.clone())];
        v.extend(chunk.iter().map(|id| t(id.clone())));
        exec(
            &*tx,
            &format!("UPDATE ltc_outbox SET published_at = ? WHERE id IN ({marks})"),
            v,
        )
        .await?;
    }
    tx.commit().await
}
