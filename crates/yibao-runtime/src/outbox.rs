//! The transactional outbox every producing service shares: an event is written in the same
//! database transaction as the change it reports ([`enqueue`]), and one [`Relay`] per process
//! publishes unpublished rows to the bus in the order written, marking them only after the
//! bus accepted them. A bus outage leaves rows pending and the relay retries with a growing
//! pause, so nothing committed is lost; delivery is at least once (a crash between publish and
//! mark publishes the same event id again, and consumers are idempotent by it).
//!
//! The table is `event_outbox`, created by [`MIGRATION`], which each service lists in its
//! migrator. Event ids are unique: enqueueing an id that is already there does nothing, so a
//! producer that derives ids from what happened (procurement's findings) never publishes a
//! retried change twice.

use crate::bus::Bus;
use crate::db::{SqlMigration, StoreBase};
use crate::sql;
use sea_orm::{ConnectionTrait, DbErr};
use std::sync::Arc;
use std::time::Duration;

/// Creates `event_outbox`.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261201_000001_runtime_event_outbox",
    up: &[
        "CREATE TABLE IF NOT EXISTS event_outbox (
            id TEXT PRIMARY KEY,
            stream TEXT NOT NULL,
            event_id TEXT NOT NULL UNIQUE,
            payload_hex TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            published_at TEXT
        )",
        "CREATE INDEX IF NOT EXISTS event_outbox_unpublished ON event_outbox (published_at, id)",
    ],
    drop_tables: &["event_outbox"],
};

/// An event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Stream (one of [`crate::streams`]).
    pub stream: &'static str,
    /// Event id, unique; consumers deduplicate by it.
    pub event_id: String,
    /// The encoded event.
    pub payload: Vec<u8>,
}

impl OutboxEvent {
    /// An event of an encoded protobuf message.
    pub fn new(stream: &'static str, event_id: impl Into<String>, payload: Vec<u8>) -> OutboxEvent {
        OutboxEvent {
            stream,
            event_id: event_id.into(),
            payload,
        }
    }
}

/// Writes `events` inside the caller's transaction (or connection). Rows are ordered by a
/// fresh UUIDv7, so the relay publishes in the order of writing. An event id already present
/// is skipped.
pub async fn enqueue<C: ConnectionTrait>(c: &C, events: &[OutboxEvent]) -> Result<(), DbErr> {
    // PostgreSQL takes at most 65,535 bind values a statement: 1,000 rows of 5 stay far below.
    for chunk in events.chunks(1000) {
        enqueue_chunk(c, chunk).await?;
    }
    Ok(())
}

async fn enqueue_chunk<C: ConnectionTrait>(c: &C, events: &[OutboxEvent]) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now().to_rfc3339();
    let row = "(?, ?, ?, ?, ?, 0, NULL)";
    let sql = format!(
        "INSERT INTO event_outbox (id, stream, event_id, payload_hex, created_at, attempts, published_at) \
         VALUES {} ON CONFLICT (event_id) DO NOTHING",
        vec![row; events.len()].join(", ")
    );
    let mut values = Vec::with_capacity(events.len() * 5);
    for e in events {
        values.extend([
            sql::t(uuid::Uuid::now_v7().to_string()),
            sql::t(e.stream),
            sql::t(e.event_id.clone()),
            sql::t(sql::hex(&e.payload)),
            sql::t(now.clone()),
        ]);
    }
    sql::exec(c, &sql, values).await.map(|_| ())
}

/// A pending row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    /// Row id (order of writing).
    pub id: String,
    /// Stream.
    pub stream: String,
    /// Event id.
    pub event_id: String,
    /// Payload.
    pub payload: Vec<u8>,
}

/// The oldest unpublished rows, at most `limit`.
pub async fn pending<C: ConnectionTrait>(c: &C, limit: u64) -> Result<Vec<PendingEvent>, DbErr> {
    let rows = sql::all(
        c,
        "SELECT id, stream, event_id, payload_hex FROM event_outbox WHERE published_at IS NULL ORDER BY id LIMIT ?",
        vec![sql::i(i64::try_from(limit).unwrap_or(i64::MAX))],
    )
    .await?;
    rows.iter()
        .map(|r| {
            let hexed = sql::text(r, "payload_hex")?;
            Ok(PendingEvent {
                id: sql::text(r, "id")?,
                stream: sql::text(r, "stream")?,
                event_id: sql::text(r, "event_id")?,
                payload: sql::unhex(&hexed)
                    .ok_or_else(|| DbErr::Custom("event_outbox: payload is not hex".into()))?,
            })
        })
        .collect()
}

/// Rows not yet published (the backlog an operator watches).
pub async fn backlog<C: ConnectionTrait>(c: &C) -> Result<u64, DbErr> {
    let row = sql::one(
        c,
        "SELECT COUNT(*) AS n FROM event_outbox WHERE published_at IS NULL",
        vec![],
    )
    .await?;
    Ok(row
        .map(|r| sql::int(&r, "n"))
        .transpose()?
        .map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

async fn mark_published<C: ConnectionTrait>(c: &C, ids: &[String]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE event_outbox SET published_at = ?, attempts = attempts + 1 WHERE id IN ({})",
        vec!["?"; ids.len()].join(", ")
    );
    let mut values = vec![sql::t(chrono::Utc::now().to_rfc3339())];
    values.extend(ids.iter().cloned().map(sql::t));
    sql::exec(c, &sql, values).await.map(|_| ())
}

async fn mark_attempt<C: ConnectionTrait>(c: &C, id: &str) -> Result<(), DbErr> {
    sql::exec(
        c,
        "UPDATE event_outbox SET attempts = attempts + 1 WHERE id = ?",
        vec![sql::t(id)],
    )
    .await
    .map(|_| ())
}

/// Why a relay pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The database failed.
    #[error("outbox database: {0}")]
    Db(#[from] DbErr),
    /// The bus refused or was unreachable.
    #[error("bus: {0}")]
    Bus(#[from] crate::bus::BusError),
}

/// How the relay runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Rows read and published per pass.
    pub batch: u64,
    /// Longest sleep between passes when nothing wakes the relay (rows left by another
    /// instance or a failure are picked up by then).
    pub idle: Duration,
    /// Longest pause after repeated bus failures.
    pub max_backoff: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch: 200,
            idle: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Publishes up to `batch` pending rows once; returns how many were published. Stops at the
/// first bus failure (that row stays pending; the ones before it are marked).
///
/// Rows are marked in a turn at the store's write gate, so on SQLite the relay never holds the
/// write lock while a use case's transaction wants it.
pub async fn publish_pending(
    base: &StoreBase,
    bus: &dyn Bus,
    batch: u64,
) -> Result<usize, RelayError> {
    let db = base.db();
    let rows = pending(db, batch).await?;
    let mut published = Vec::with_capacity(rows.len());
    let mut failure = None;
    for row in rows {
        match bus.publish(&row.stream, &row.event_id, &row.payload).await {
            Ok(_) => published.push(row.id),
            Err(e) => {
                let _turn = base.write_turn().await;
                let _ = mark_attempt(db, &row.id).await;
                failure = Some(e);
                break;
            }
        }
    }
    {
        let _turn = base.write_turn().await;
        mark_published(db, &published).await?;
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(published.len()),
    }
}

/// The handle of a running relay: [`Relay::kick`] after a commit that enqueued events
/// publishes them at once instead of at the next idle tick.
#[derive(Debug, Clone)]
pub struct Relay {
    notify: Arc<tokio::sync::Notify>,
}

impl Relay {
    /// Starts the relay task of `service` for the life of the process, on the same store base
    /// (connection and write gate) as the service's store.
    pub fn start(
        service: &'static str,
        base: StoreBase,
        bus: Arc<dyn Bus>,
        cfg: RelayConfig,
    ) -> Relay {
        let notify = Arc::new(tokio::sync::Notify::new());
        let wake = Arc::clone(&notify);
        tokio::spawn(async move {
            let min_backoff = Duration::from_millis(100);
            let mut backoff = min_backoff;
            loop {
                match publish_pending(&base, bus.as_ref(), cfg.batch).await {
                    Ok(n) if n as u64 == cfg.batch => continue,
                    Ok(_) => {
                        backoff = min_backoff;
                        let _ = tokio::time::timeout(cfg.idle, wake.notified()).await;
                    }
                    Err(e) => {
                        tracing::warn!(service, error = %e, retry_in_ms = backoff.as_millis() as u64, "outbox relay: publication failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(cfg.max_backoff);
                    }
                }
            }
        });
        Relay { notify }
    }

    /// Wakes the relay.
    pub fn kick(&self) {
        self.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::MemoryBus;
    use sea_orm_migration::MigrationTrait as _;

    async fn db() -> StoreBase {
        let db = sea_orm::Database::connect("sqlite::memory:")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let manager = sea_orm_migration::SchemaManager::new(&db);
        MIGRATION
            .up(&manager)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        StoreBase::new(db)
    }

    #[tokio::test]
    async fn events_are_published_in_the_order_written_once_and_ids_are_unique() {
        let db = db().await;
        let events: Vec<_> = (0..5)
            .map(|n| OutboxEvent::new(crate::streams::SETTLEMENT_CLAIMS, format!("e{n}"), vec![n]))
            .collect();
        enqueue(db.db(), &events)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // The same ids again (a retried change): nothing new.
        enqueue(db.db(), &events[..2])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(backlog(db.db()).await.ok(), Some(5));
        let bus = MemoryBus::new();
        assert_eq!(publish_pending(&db, &bus, 3).await.ok(), Some(3));
        assert_eq!(publish_pending(&db, &bus, 3).await.ok(), Some(2));
        assert_eq!(publish_pending(&db, &bus, 3).await.ok(), Some(0));
        assert_eq!(backlog(db.db()).await.ok(), Some(0));
        let read = bus
            .read(
                crate::streams::SETTLEMENT_CLAIMS,
                "g",
                "c",
                10,
                Duration::from_millis(10),
            )
            .await
            .unwrap_or_default();
        let ids: Vec<_> = read.iter().map(|m| m.event_id.as_str()).collect();
        assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4"]);
        assert_eq!(read[3].payload, vec![3]);
    }

    #[tokio::test]
    async fn a_run_of_more_events_than_one_statement_binds_is_enqueued_whole() {
        let db = db().await;
        let events: Vec<_> = (0..2500)
            .map(|n| OutboxEvent::new(crate::streams::LTC_CLAIMS, format!("e{n}"), vec![1]))
            .collect();
        enqueue(db.db(), &events)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(backlog(db.db()).await.ok(), Some(2500));
    }
}
