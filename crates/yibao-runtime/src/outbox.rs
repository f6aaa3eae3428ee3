//! The transactional outbox every producing service shares: an event is written in the same
//! database transaction as the change it reports ([`enqueue`]), and one [`Relay`] per process
//! publishes unpublished rows to the bus, marking them only after the bus accepted them. A bus
//! outage leaves rows pending and the relay retries with a growing pause, so nothing committed
//! is lost; delivery is at least once (consumers are idempotent by event id).
//!
//! The outbox is also the producer's log, kept for [`RelayConfig::retention`] after
//! publication, because the bus may lose what it accepted (Redis acknowledges `XADD` before
//! its `appendfsync everysec` reaches the disk, and may restart empty):
//! - each row has a partition (from its partition key, [`crate::streams::partition_of`]) and,
//!   once the relay takes it up, a sequence number per stream and partition, assigned in one
//!   transaction under a lock row so several relays (replicas) never hand out one number twice;
//! - the relay publishes rows to the partition's stream with their number, and a heartbeat per
//!   partition every [`RelayConfig::heartbeat`] carrying the highest number assigned;
//! - a consumer that sees a gap asks on `<stream>.replay` ([`crate::streams::replay_stream`],
//!   `yibao.events.v1.ReplayRequest`), and the relay publishes that range again from here.
//!
//! Streams are kept short: each entry is appended with `MAXLEN ~`
//! [`RelayConfig::max_stream_len`], and every minute the relay trims what every group has
//! acknowledged ([`crate::bus::Bus::trim_acknowledged`]).
//!
//! Each row carries the W3C trace context of the use case that wrote it (a producer span
//! `create <stream>` below the current span, [`enqueue`]); the relay publishes it with the
//! event (field `tp`, [`crate::bus::BusMessage::trace_parent`]) so a consumer's processing
//! links back to the request that caused it. The relay also keeps the gauges
//! `yibao_outbox_backlog` and `yibao_outbox_oldest_age_seconds` and the counter
//! `yibao_outbox_published_total` ([`crate::metrics`]).
//!
//! The tables are `event_outbox` and `event_outbox_seq`, created by [`MIGRATION`],
//! [`SEQUENCE_MIGRATION`] and [`TRACE_MIGRATION`], which each producing service lists in its
//! migrator in that order. Event ids are
//! unique: enqueueing an id that is already there does nothing, so a producer that derives ids
//! from what happened (procurement's findings) never publishes a retried change twice.

use crate::bus::{Bus, Envelope};
use crate::db::{SqlMigration, StoreBase};
use crate::sql;
use crate::streams;
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

/// Adds the partition and sequence number of each row, and the sequence counters
/// (`event_outbox_seq`, with the lock row `('*', -1)` that serialises assignment).
pub const SEQUENCE_MIGRATION: SqlMigration = SqlMigration {
    name: "m20261202_000001_runtime_event_outbox_sequence",
    up: &[
        "ALTER TABLE event_outbox ADD COLUMN part BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE event_outbox ADD COLUMN seq BIGINT",
        "CREATE INDEX IF NOT EXISTS event_outbox_unsequenced ON event_outbox (id) WHERE seq IS NULL",
        "CREATE INDEX IF NOT EXISTS event_outbox_sequence ON event_outbox (stream, part, seq)",
        "CREATE TABLE IF NOT EXISTS event_outbox_seq (
            stream TEXT NOT NULL,
            part BIGINT NOT NULL,
            last_seq BIGINT NOT NULL,
            PRIMARY KEY (stream, part)
        )",
        "INSERT INTO event_outbox_seq (stream, part, last_seq) VALUES ('*', -1, 0)",
    ],
    drop_tables: &["event_outbox_seq"],
};

/// Adds the trace context of each row (`trace_parent`, a W3C `traceparent`; NULL when written
/// outside a trace).
pub const TRACE_MIGRATION: SqlMigration = SqlMigration {
    name: "m20261203_000001_runtime_event_outbox_trace",
    up: &["ALTER TABLE event_outbox ADD COLUMN trace_parent TEXT"],
    drop_tables: &[],
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
    /// What the event is partitioned by: the region of the institution it concerns, so one
    /// consumer replica sees all of a region's events in order. Empty: partition of "".
    pub partition_key: String,
}

impl OutboxEvent {
    /// An event of an encoded protobuf message.
    pub fn new(stream: &'static str, event_id: impl Into<String>, payload: Vec<u8>) -> OutboxEvent {
        OutboxEvent {
            stream,
            event_id: event_id.into(),
            payload,
            partition_key: String::new(),
        }
    }

    /// The same event partitioned by `key`.
    pub fn keyed(self, key: impl Into<String>) -> OutboxEvent {
        OutboxEvent {
            partition_key: key.into(),
            ..self
        }
    }

    /// The same event partitioned by the region of the institution `code` concerns (how every
    /// producer keys its events; a code that does not parse keys by itself).
    pub fn for_institution(self, code: &str) -> OutboxEvent {
        let key = yibao_core::InstitutionCode::parse(code)
            .map(|c| c.region().to_string())
            .unwrap_or_else(|_| code.to_string());
        self.keyed(key)
    }
}

/// Writes `events` inside the caller's transaction (or connection). Rows are ordered by a
/// fresh UUIDv7, so the relay publishes in the order of writing. An event id already present
/// is skipped. Inside a span, each stream's events get a producer span `create <stream>` whose
/// trace context they carry.
pub async fn enqueue<C: ConnectionTrait>(c: &C, events: &[OutboxEvent]) -> Result<(), DbErr> {
    // PostgreSQL takes at most 65,535 bind values a statement: 1,000 rows of 6 stay far below.
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
    let row = "(?, ?, ?, ?, ?, 0, NULL, ?, ?)";
    let sql = format!(
        "INSERT INTO event_outbox (id, stream, event_id, payload_hex, created_at, attempts, published_at, part, trace_parent) \
         VALUES {} ON CONFLICT (event_id) DO NOTHING",
        vec![row; events.len()].join(", ")
    );
    let traced = !crate::telemetry::current_traceparent().is_empty();
    let mut producers: std::collections::BTreeMap<&str, (tracing::Span, String)> =
        Default::default();
    let mut values = Vec::with_capacity(events.len() * 7);
    for e in events {
        let trace_parent = if traced {
            let (_, tp) = producers.entry(e.stream).or_insert_with(|| {
                let n = events.iter().filter(|x| x.stream == e.stream).count();
                let span = tracing::info_span!(
                    "outbox.create",
                    otel.name = %format_args!("create {}", e.stream),
                    otel.kind = "producer",
                    messaging.system = "yibao",
                    messaging.operation.type = "create",
                    messaging.destination.name = e.stream,
                    messaging.batch.message_count = n,
                );
                let tp = crate::telemetry::traceparent(&span);
                (span, tp)
            });
            sql::t(tp.clone())
        } else {
            sql::ot(None)
        };
        values.extend([
            sql::t(uuid::Uuid::now_v7().to_string()),
            sql::t(e.stream),
            sql::t(e.event_id.clone()),
            sql::t(sql::hex(&e.payload)),
            sql::t(now.clone()),
            sql::i(i64::from(streams::partition_of(&e.partition_key))),
            trace_parent,
        ]);
    }
    let written = sql::exec(c, &sql, values).await.map(|_| ());
    drop(producers);
    written
}

/// A row of the outbox.
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
    /// Partition.
    pub part: u32,
    /// Sequence number in the stream's partition (0: not yet assigned).
    pub seq: u64,
    /// The W3C `traceparent` of the writer's span (empty: none).
    pub trace_parent: String,
}

fn pending_event(r: &sea_orm::QueryResult) -> Result<PendingEvent, DbErr> {
    let hexed = sql::text(r, "payload_hex")?;
    Ok(PendingEvent {
        id: sql::text(r, "id")?,
        stream: sql::text(r, "stream")?,
        event_id: sql::text(r, "event_id")?,
        payload: sql::unhex(&hexed)
            .ok_or_else(|| DbErr::Custom("event_outbox: payload is not hex".into()))?,
        part: u32::try_from(sql::int(r, "part")?).unwrap_or(0),
        seq: u64::try_from(sql::opt_int(r, "seq")?.unwrap_or(0)).unwrap_or(0),
        trace_parent: sql::opt_text(r, "trace_parent")?.unwrap_or_default(),
    })
}

const ROW: &str = "id, stream, event_id, payload_hex, part, seq, trace_parent";

/// The oldest unpublished rows, at most `limit`, in the order they are to be published (by
/// stream, partition and sequence number; rows not yet numbered last, in order of writing).
pub async fn pending<C: ConnectionTrait>(c: &C, limit: u64) -> Result<Vec<PendingEvent>, DbErr> {
    let rows = sql::all(
        c,
        &format!(
            "SELECT {ROW} FROM event_outbox WHERE published_at IS NULL \
             ORDER BY seq IS NULL, stream, part, seq, id LIMIT ?"
        ),
        vec![sql::i(i64::try_from(limit).unwrap_or(i64::MAX))],
    )
    .await?;
    rows.iter().map(pending_event).collect()
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

/// When the oldest row not yet published was written (RFC 3339); `None` when none waits.
pub async fn oldest_pending<C: ConnectionTrait>(c: &C) -> Result<Option<String>, DbErr> {
    let row = sql::one(
        c,
        "SELECT created_at FROM event_outbox WHERE published_at IS NULL ORDER BY id LIMIT 1",
        vec![],
    )
    .await?;
    row.map(|r| sql::text(&r, "created_at")).transpose()
}

/// Samples the outbox gauges of `component` once.
async fn sample_gauges(component: &str, base: &StoreBase) -> Result<(), DbErr> {
    let backlog = backlog(base.db()).await?;
    let age = oldest_pending(base.db())
        .await?
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map_or(0.0, |t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .to_std()
                .map_or(0.0, |d| d.as_secs_f64())
        });
    crate::metrics::outbox_backlog().set(&[component], backlog as f64);
    crate::metrics::outbox_oldest_age().set(&[component], age);
    Ok(())
}

/// Numbers up to `limit` rows that have no sequence number yet, in order of writing, each in
/// its stream's partition after the highest number given there; returns how many. One
/// transaction, holding the lock row, so concurrent relays never give one number twice.
pub async fn assign_sequences(base: &StoreBase, limit: u64) -> Result<usize, DbErr> {
    let txn = base.begin().await?;
    // Taking the lock row first serialises assignment (PostgreSQL: a row lock until commit;
    // SQLite: the write transaction itself).
    sql::exec(
        &*txn,
        "UPDATE event_outbox_seq SET last_seq = last_seq + 1 WHERE stream = '*' AND part = -1",
        vec![],
    )
    .await?;
    let rows = sql::all(
        &*txn,
        "SELECT id, stream, part FROM event_outbox WHERE seq IS NULL ORDER BY id LIMIT ?",
        vec![sql::i(i64::try_from(limit).unwrap_or(i64::MAX))],
    )
    .await?;
    if rows.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    let mut last: std::collections::BTreeMap<(String, i64), i64> = Default::default();
    for r in sql::all(
        &*txn,
        "SELECT stream, part, last_seq FROM event_outbox_seq WHERE part >= 0",
        vec![],
    )
    .await?
    {
        last.insert(
            (sql::text(&r, "stream")?, sql::int(&r, "part")?),
            sql::int(&r, "last_seq")?,
        );
    }
    let mut numbered = Vec::with_capacity(rows.len());
    let mut touched = std::collections::BTreeSet::new();
    for r in &rows {
        let key = (sql::text(r, "stream")?, sql::int(r, "part")?);
        let n = last.entry(key.clone()).or_insert(0);
        *n += 1;
        numbered.push((sql::text(r, "id")?, *n));
        touched.insert(key);
    }
    for chunk in numbered.chunks(500) {
        let values_sql = vec!["(?, ?)"; chunk.len()].join(", ");
        let sql_text = format!(
            "WITH v(id, seq) AS (VALUES {values_sql}) \
             UPDATE event_outbox SET seq = (SELECT v.seq FROM v WHERE v.id = event_outbox.id) \
             WHERE id IN (SELECT v.id FROM v)"
        );
        let mut values = Vec::with_capacity(chunk.len() * 2);
        for (id, n) in chunk {
            values.push(sql::t(id.clone()));
            values.push(sql::i(*n));
        }
        sql::exec(&*txn, &sql_text, values).await?;
    }
    for key in touched {
        let n = last.get(&key).copied().unwrap_or(0);
        sql::exec(
            &*txn,
            "INSERT INTO event_outbox_seq (stream, part, last_seq) VALUES (?, ?, ?) \
             ON CONFLICT (stream, part) DO UPDATE SET last_seq = excluded.last_seq",
            vec![sql::t(key.0), sql::i(key.1), sql::i(n)],
        )
        .await?;
    }
    txn.commit().await?;
    Ok(rows.len())
}

/// The highest sequence number assigned in each stream and partition.
pub async fn high_water<C: ConnectionTrait>(c: &C) -> Result<Vec<(String, u32, u64)>, DbErr> {
    sql::all(
        c,
        "SELECT stream, part, last_seq FROM event_outbox_seq WHERE part >= 0 ORDER BY stream, part",
        vec![],
    )
    .await?
    .iter()
    .map(|r| {
        Ok((
            sql::text(r, "stream")?,
            u32::try_from(sql::int(r, "part")?).unwrap_or(0),
            u64::try_from(sql::int(r, "last_seq")?).unwrap_or(0),
        ))
    })
    .collect()
}

/// Rows of a stream's partition numbered `from..=to`, in order, at most `limit`, published or
/// not (what a consumer that lost them asks for again).
pub async fn range<C: ConnectionTrait>(
    c: &C,
    stream: &str,
    part: u32,
    from: u64,
    to: u64,
    limit: u64,
) -> Result<Vec<PendingEvent>, DbErr> {
    let rows = sql::all(
        c,
        &format!(
            "SELECT {ROW} FROM event_outbox WHERE stream = ? AND part = ? AND seq >= ? AND seq <= ? \
             ORDER BY seq LIMIT ?"
        ),
        vec![
            sql::t(stream),
            sql::i(i64::from(part)),
            sql::i(i64::try_from(from).unwrap_or(i64::MAX)),
            sql::i(i64::try_from(to).unwrap_or(i64::MAX)),
            sql::i(i64::try_from(limit).unwrap_or(i64::MAX)),
        ],
    )
    .await?;
    rows.iter().map(pending_event).collect()
}

/// Deletes rows published before `before` (RFC 3339); returns how many.
pub async fn purge_published(base: &StoreBase, before: &str) -> Result<u64, DbErr> {
    let _turn = base.write_turn().await;
    sql::exec(
        base.db(),
        "DELETE FROM event_outbox WHERE published_at IS NOT NULL AND published_at < ?",
        vec![sql::t(before)],
    )
    .await
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
    /// How often each partition's highest sequence number is published.
    pub heartbeat: Duration,
    /// How long published rows are kept for consumers that lost them.
    pub retention: Duration,
    /// Entries a partition stream keeps at most (approximately; `MAXLEN ~`).
    pub max_stream_len: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch: 200,
            idle: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            heartbeat: Duration::from_secs(2),
            retention: Duration::from_secs(7 * 24 * 3600),
            max_stream_len: 1_000_000,
        }
    }
}

fn envelope(row: &PendingEvent) -> Envelope<'_> {
    Envelope {
        event_id: &row.event_id,
        payload: &row.payload,
        seq: row.seq,
        heartbeat: false,
        trace_parent: &row.trace_parent,
    }
}

/// Numbers and publishes up to `batch` pending rows once; returns how many were published.
/// Stops at the first bus failure (that row stays pending; the ones before it are marked).
///
/// Rows are marked in a turn at the store's write gate, so on SQLite the relay never holds the
/// write lock while a use case's transaction wants it.
pub async fn publish_pending(
    base: &StoreBase,
    bus: &dyn Bus,
    batch: u64,
) -> Result<usize, RelayError> {
    publish_pending_with(base, bus, batch, RelayConfig::default().max_stream_len).await
}

async fn publish_pending_with(
    base: &StoreBase,
    bus: &dyn Bus,
    batch: u64,
    max_len: u64,
) -> Result<usize, RelayError> {
    assign_sequences(base, batch).await?;
    let db = base.db();
    let rows = pending(db, batch).await?;
    let mut published = Vec::with_capacity(rows.len());
    let mut failure = None;
    for row in rows.iter().filter(|r| r.seq > 0) {
        let target = streams::partition_stream(&row.stream, row.part);
        match bus.append(&target, envelope(row), Some(max_len)).await {
            Ok(_) => published.push(row.id.clone()),
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

/// Publishes each partition's highest sequence number as a heartbeat.
pub async fn publish_heartbeats(
    base: &StoreBase,
    bus: &dyn Bus,
    max_len: u64,
) -> Result<(), RelayError> {
    for (stream, part, last) in high_water(base.db()).await? {
        let hb = Envelope {
            event_id: "",
            payload: &[],
            seq: last,
            heartbeat: true,
            trace_parent: "",
        };
        bus.append(&streams::partition_stream(&stream, part), hb, Some(max_len))
            .await?;
    }
    Ok(())
}

/// Rows a relay republishes for one replay request at most (a consumer asks again for more).
const REPLAY_LIMIT: u64 = 5_000;

/// Answers the consumers' replay requests on the streams this outbox has numbered: publishes
/// each requested range again from the outbox. Returns the events republished.
pub async fn answer_replays(
    base: &StoreBase,
    bus: &dyn Bus,
    consumer: &str,
    max_len: u64,
) -> Result<usize, RelayError> {
    use prost::Message as _;
    let produced: std::collections::BTreeSet<String> = high_water(base.db())
        .await?
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    let mut republished = 0;
    for stream in produced {
        let requests = streams::replay_stream(&stream);
        let msgs = bus
            .read(&requests, "relay", consumer, 100, Duration::ZERO)
            .await?;
        for m in &msgs {
            let Ok(req) = yibao_proto::events::v1::ReplayRequest::decode(m.payload.as_slice())
            else {
                tracing::warn!(stream = %stream, id = %m.id, "undecodable replay request dropped");
                continue;
            };
            let rows = range(
                base.db(),
                &stream,
                req.partition,
                req.from_seq,
                req.to_seq,
                REPLAY_LIMIT,
            )
            .await?;
            if rows.first().is_none_or(|r| r.seq != req.from_seq) {
                tracing::warn!(stream = %stream, partition = req.partition, from = req.from_seq, to = req.to_seq,
                    group = %req.consumer_group, "replay asks for rows no longer kept (outbox retention)");
            }
            let target = streams::partition_stream(&stream, req.partition);
            for row in &rows {
                bus.append(&target, envelope(row), Some(max_len)).await?;
            }
            republished += rows.len();
            tracing::info!(stream = %stream, partition = req.partition, from = req.from_seq, to = req.to_seq,
                group = %req.consumer_group, republished = rows.len(), "outbox range published again");
        }
        let ids: Vec<String> = msgs.into_iter().map(|m| m.id).collect();
        bus.ack(&requests, "relay", &ids).await?;
    }
    Ok(republished)
}

/// Trims every partition stream of the streams this outbox has numbered down to what every
/// group acknowledged, and purges rows published longer than `retention` ago.
pub async fn housekeep(
    base: &StoreBase,
    bus: &dyn Bus,
    retention: Duration,
) -> Result<(), RelayError> {
    let produced: std::collections::BTreeSet<String> = high_water(base.db())
        .await?
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    for stream in &produced {
        for p in 0..streams::PARTITIONS {
            bus.trim_acknowledged(&streams::partition_stream(stream, p))
                .await?;
        }
    }
    let before = chrono::Utc::now()
        - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(7));
    let purged = purge_published(base, &before.to_rfc3339()).await?;
    if purged > 0 {
        tracing::info!(purged, "outbox rows past retention deleted");
    }
    Ok(())
}

/// How often the relay samples its gauges (backlog, oldest age, pool).
const GAUGE_EVERY: Duration = Duration::from_secs(5);

/// The handle of a running relay: [`Relay::kick`] after a commit that enqueued events
/// publishes them at once instead of at the next idle tick.
#[derive(Debug, Clone)]
pub struct Relay {
    notify: Arc<tokio::sync::Notify>,
}

impl Relay {
    /// Starts the relay task of `service` for the life of the process, on the same store base
    /// (connection and write gate) as the service's store: publishes, heartbeats, answers
    /// replay requests, trims and purges.
    pub fn start(
        service: &'static str,
        base: StoreBase,
        bus: Arc<dyn Bus>,
        cfg: RelayConfig,
    ) -> Relay {
        let notify = Arc::new(tokio::sync::Notify::new());
        let wake = Arc::clone(&notify);
        let consumer = format!("{service}-{}", crate::inbox::instance_name());
        crate::metrics::watch_pool(service, base.db().clone(), GAUGE_EVERY);
        tokio::spawn(async move {
            let min_backoff = Duration::from_millis(100);
            let mut backoff = min_backoff;
            let mut last_beat = tokio::time::Instant::now();
            let mut last_housekeeping = tokio::time::Instant::now();
            let mut last_gauges: Option<tokio::time::Instant> = None;
            loop {
                let round = async {
                    if last_gauges.is_none_or(|t| t.elapsed() >= GAUGE_EVERY) {
                        last_gauges = Some(tokio::time::Instant::now());
                        sample_gauges(service, &base).await?;
                    }
                    let n =
                        publish_pending_with(&base, bus.as_ref(), cfg.batch, cfg.max_stream_len)
                            .await?;
                    crate::metrics::outbox_published().add(&[service], n as u64);
                    if last_beat.elapsed() >= cfg.heartbeat {
                        last_beat = tokio::time::Instant::now();
                        publish_heartbeats(&base, bus.as_ref(), cfg.max_stream_len).await?;
                        answer_replays(&base, bus.as_ref(), &consumer, cfg.max_stream_len).await?;
                    }
                    if last_housekeeping.elapsed() >= Duration::from_secs(60) {
                        last_housekeeping = tokio::time::Instant::now();
                        housekeep(&base, bus.as_ref(), cfg.retention).await?;
                    }
                    Ok::<usize, RelayError>(n)
                };
                match round.await {
                    Ok(n) if n as u64 == cfg.batch => continue,
                    Ok(_) => {
                        backoff = min_backoff;
                        let wait = cfg.idle.min(cfg.heartbeat);
                        let _ = tokio::time::timeout(wait, wake.notified()).await;
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
pub(crate) mod tests {
    use super::*;
    use crate::bus::MemoryBus;
    use sea_orm_migration::MigrationTrait as _;

    /// A fresh outbox database: PostgreSQL when `YIBAO_TEST_DATABASE_URL` is set, else SQLite.
    pub(crate) async fn db() -> StoreBase {
        let url = match std::env::var("YIBAO_TEST_DATABASE_URL") {
            Ok(base) => crate::db::create_fresh_postgres(&base, "yibao_runtime_outbox")
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            Err(_) => "sqlite::memory:".to_string(),
        };
        let db = sea_orm::Database::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let manager = sea_orm_migration::SchemaManager::new(&db);
        for m in [&MIGRATION, &SEQUENCE_MIGRATION, &TRACE_MIGRATION] {
            m.up(&manager).await.unwrap_or_else(|e| panic!("{e}"));
        }
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
        let stream =
            streams::partition_stream(streams::SETTLEMENT_CLAIMS, streams::partition_of(""));
        let read = bus
            .read(&stream, "g", "c", 10, Duration::from_millis(10))
            .await
            .unwrap_or_default();
        let ids: Vec<_> = read.iter().map(|m| m.event_id.as_str()).collect();
        assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4"]);
        assert_eq!(read[3].payload, vec![3]);
        let seqs: Vec<_> = read.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
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
