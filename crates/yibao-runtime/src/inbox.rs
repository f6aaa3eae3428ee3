//! The consuming side of the bus every consumer shares: partitions by lease, sequence numbers
//! checked, gaps filled from the producer's outbox, poison events set aside.
//!
//! - **Leases** (`event_lease`, `event_member` in the consumer's own database): each replica
//!   of a group heartbeats as a member and holds leases on a fair share of the
//!   [`streams::PARTITIONS`] partitions (⌈partitions / live members⌉), renewed every third of
//!   [`InboxConfig::lease_ttl`]; a replica that stops renewing loses its partitions to the
//!   others when the lease expires, and gives up a partition itself when it has more than its
//!   share or could not renew for two thirds of the lease. [`Inbox::generation`] changes
//!   whenever the set of owned partitions does, so a consumer with in-memory windows rebuilds
//!   them.
//! - **Sequences** (`event_inbox`): per stream and partition the last sequence number handled
//!   is kept. Messages at or below it are duplicates (acknowledged, never delivered); messages
//!   above the next one wait in memory until the gap is filled; a gap (or a heartbeat higher
//!   than what arrived) makes the inbox ask the producer, on `<stream>.replay`, to publish the
//!   missing range again from its outbox, and ask again every [`InboxConfig::replay_retry`]
//!   until it arrives. So a Redis that loses its last second, or restarts empty, loses nothing:
//!   the outbox is the log, the bus only carries it. Messages are acknowledged on the bus as
//!   soon as they are in memory; the checkpoint in the database is what counts.
//! - **Poison events** (`event_dead_letter`): a delivery the consumer reports as failed for a
//!   reason that is not transient is delivered again one message at a time, and a message
//!   that fails [`InboxConfig::max_attempts`] times is stored as a dead letter and passed over,
//!   so the rest of the partition goes on. An operator lists dead letters ([`dead_letters`])
//!   and asks for one to be delivered again ([`request_replay`]) once the cause is fixed.
//!
//! The unpartitioned stream itself is read by the owner of partition 0 and its messages are
//! delivered as they come, unsequenced (acknowledged on the bus after the consumer handled
//! them).
//!
//! Delivery stays at least once: a consumer must be idempotent by event id (a crash between
//! its commit and the checkpoint delivers the last run again).
//!
//! Observability: every delivery has a consumer span `process <stream>` ([`Delivery::span`]),
//! open until the delivery is dropped, linked to the producer span of each of its events (the
//! trace context the outbox carried, [`BusMessage::trace_parent`]) and marked as an error when
//! it fails; a consumer that instruments its processing with it puts its work below it. Every
//! few seconds a reading inbox sets `yibao_stream_lag` and `yibao_dead_letters` of its group,
//! and it counts what it delivered by outcome in `yibao_events_handled_total`
//! ([`crate::metrics`]).

use crate::bus::{Bus, BusError, BusMessage, Envelope};
use crate::db::{SqlMigration, StoreBase};
use crate::{sql, streams};
use sea_orm::DbErr;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Creates the inbox's tables in the consumer's database.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261202_000002_runtime_event_inbox",
    up: &[
        "CREATE TABLE IF NOT EXISTS event_inbox (
            grp TEXT NOT NULL,
            stream TEXT NOT NULL,
            part BIGINT NOT NULL,
            last_seq BIGINT NOT NULL,
            PRIMARY KEY (grp, stream, part)
        )",
        "CREATE TABLE IF NOT EXISTS event_lease (
            grp TEXT NOT NULL,
            part BIGINT NOT NULL,
            owner TEXT NOT NULL,
            expires_ms BIGINT NOT NULL,
            PRIMARY KEY (grp, part)
        )",
        "CREATE TABLE IF NOT EXISTS event_member (
            grp TEXT NOT NULL,
            owner TEXT NOT NULL,
            seen_ms BIGINT NOT NULL,
            PRIMARY KEY (grp, owner)
        )",
        "CREATE TABLE IF NOT EXISTS event_dead_letter (
            id TEXT PRIMARY KEY,
            grp TEXT NOT NULL,
            stream TEXT NOT NULL,
            part BIGINT NOT NULL,
            seq BIGINT NOT NULL,
            event_id TEXT NOT NULL,
            payload_hex TEXT NOT NULL,
            error TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            created_at TEXT NOT NULL,
            replay_requested_at TEXT,
            replayed_at TEXT
        )",
        "CREATE INDEX IF NOT EXISTS event_dead_letter_group ON event_dead_letter (grp, id)",
    ],
    drop_tables: &[
        "event_dead_letter",
        "event_member",
        "event_lease",
        "event_inbox",
    ],
};

/// This process's name among the replicas of its service: `YIBAO_INSTANCE`, else the host
/// name (a Kubernetes pod's name), so a restarted process takes its own leases back at once.
/// Two replicas on one machine must set `YIBAO_INSTANCE`.
pub fn instance_name() -> String {
    std::env::var("YIBAO_INSTANCE")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "local".into())
}

/// How an inbox reads.
#[derive(Debug, Clone)]
pub struct InboxConfig {
    /// Consumer group (one per consuming service and purpose).
    pub group: String,
    /// This replica's name in the group (stable: [`instance_name`]).
    pub consumer: String,
    /// Failures of one message (for a reason that is not transient) before it is set aside.
    pub max_attempts: u32,
    /// How long a partition lease lasts without renewal.
    pub lease_ttl: Duration,
    /// How long to wait for a requested range before asking again.
    pub replay_retry: Duration,
    /// Messages waiting for a gap to fill, per partition, at most (the newest are dropped
    /// beyond it and come again with the replay).
    pub buffer_max: usize,
}

impl InboxConfig {
    /// Defaults for `group` under this process's instance name.
    pub fn new(group: impl Into<String>) -> InboxConfig {
        InboxConfig {
            group: group.into(),
            consumer: instance_name(),
            max_attempts: 5,
            lease_ttl: Duration::from_secs(15),
            replay_retry: Duration::from_secs(3),
            buffer_max: 100_000,
        }
    }
}

/// Why an inbox call failed.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The consumer's database failed.
    #[error("inbox database: {0}")]
    Db(#[from] DbErr),
}

/// Where a delivery came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A run of one partition, numbered consecutively.
    Sequenced { part: u32 },
    /// The unpartitioned stream: acknowledged on the bus when handled.
    Loose { physical: String },
    /// A dead letter an operator asked to deliver again.
    DeadLetter { id: String },
}

/// Messages to handle, then to [`Inbox::ack`] or [`Inbox::fail`].
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The logical stream (as in [`crate::streams`]).
    pub stream: String,
    /// The messages, in order.
    pub messages: Vec<BusMessage>,
    source: Source,
    span: tracing::Span,
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Delivery) -> bool {
        self.stream == other.stream
            && self.messages == other.messages
            && self.source == other.source
    }
}

impl Eq for Delivery {}

impl Delivery {
    fn new(group: &str, stream: &str, messages: Vec<BusMessage>, source: Source) -> Delivery {
        let span = tracing::info_span!(
            parent: None,
            "inbox.process",
            otel.name = %format_args!("process {stream}"),
            otel.kind = "consumer",
            messaging.system = "yibao",
            messaging.operation.type = "process",
            messaging.destination.name = %stream,
            messaging.consumer.group.name = %group,
            messaging.batch.message_count = messages.len(),
        );
        for m in &messages {
            if let Some(sc) = crate::telemetry::parse_traceparent(&m.trace_parent) {
                span.add_link(sc);
            }
        }
        Delivery {
            stream: stream.to_string(),
            messages,
            source,
            span,
        }
    }

    /// The partition, for a sequenced run.
    pub fn partition(&self) -> Option<u32> {
        match self.source {
            Source::Sequenced { part } => Some(part),
            _ => None,
        }
    }

    /// True for a dead letter delivered again on an operator's request.
    pub fn is_replay(&self) -> bool {
        matches!(self.source, Source::DeadLetter { .. })
    }

    /// The consumer span of this delivery (`process <stream>`, linked to the events'
    /// producers); instrument the processing with it to put the work below it.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }
}

#[derive(Debug, Default)]
struct Part {
    checkpoint: u64,
    buffer: BTreeMap<u64, BusMessage>,
    high_water: u64,
    asked: Option<(u64, Instant)>,
    /// Deliver one message at a time up to this sequence number (after a failed run).
    single_until: u64,
}

/// The consuming side of one group; see the module documentation.
#[derive(Debug)]
pub struct Inbox {
    bus: Arc<dyn Bus>,
    base: StoreBase,
    cfg: InboxConfig,
    streams: Vec<String>,
    owned: BTreeSet<u32>,
    renewed: Option<Instant>,
    generation: u64,
    parts: HashMap<(String, u32), Part>,
    attempts: HashMap<String, u32>,
    last_dead_check: Option<Instant>,
    loose_single: BTreeSet<String>,
    last_gauges: Option<Instant>,
}

/// How often a reading inbox sets its gauges.
const GAUGE_EVERY: Duration = Duration::from_secs(5);

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Inbox {
    /// An inbox of `cfg.group` over the logical `streams`, its state in `base` (which must
    /// have [`MIGRATION`] applied). It owns no partition until its first read.
    pub fn new(bus: Arc<dyn Bus>, base: StoreBase, cfg: InboxConfig, streams: &[&str]) -> Inbox {
        Inbox {
            bus,
            base,
            cfg,
            streams: streams.iter().map(|s| s.to_string()).collect(),
            owned: BTreeSet::new(),
            renewed: None,
            generation: 0,
            parts: HashMap::new(),
            attempts: HashMap::new(),
            last_dead_check: None,
            loose_single: BTreeSet::new(),
            last_gauges: None,
        }
    }

    /// Sets `yibao_stream_lag` of each stream and `yibao_dead_letters` of the group, and
    /// watches the database pool (under the group's first word: `ltc-hospital-stays` → `ltc`).
    async fn sample_gauges(&mut self) -> Result<(), InboxError> {
        if self.last_gauges.is_some_and(|t| t.elapsed() < GAUGE_EVERY) {
            return Ok(());
        }
        if self.last_gauges.is_none() {
            let component = self.cfg.group.split('-').next().unwrap_or_default();
            crate::metrics::watch_pool(component, self.base.db().clone(), GAUGE_EVERY);
        }
        self.last_gauges = Some(Instant::now());
        for stream in self.streams.clone() {
            let lag = self.lag(&stream).await?;
            crate::metrics::stream_lag().set(&[&self.cfg.group, &stream], lag as f64);
        }
        let dead = open_dead_letters(&self.base, &self.cfg.group).await?;
        crate::metrics::dead_letters().set(&[&self.cfg.group], dead as f64);
        Ok(())
    }

    /// Changes whenever the set of partitions this replica owns changes.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The partitions this replica owns now.
    pub fn owned(&self) -> &BTreeSet<u32> {
        &self.owned
    }

    /// The group's name.
    pub fn group(&self) -> &str {
        &self.cfg.group
    }

    /// Renews, releases and takes leases when a third of the lease has passed since the last
    /// time; returns whether the owned set changed.
    pub async fn maintain_leases(&mut self) -> Result<bool, InboxError> {
        let due = self
            .renewed
            .is_none_or(|t| t.elapsed() >= self.cfg.lease_ttl / 3);
        if !due {
            return Ok(false);
        }
        match self.renew().await {
            Ok(owned) => {
                self.renewed = Some(Instant::now());
                Ok(self.set_owned(owned).await?)
            }
            Err(e) => {
                // Without a renewal for two thirds of the lease, stop before another replica
                // may take the partitions over.
                if self
                    .renewed
                    .is_none_or(|t| t.elapsed() >= self.cfg.lease_ttl * 2 / 3)
                {
                    self.set_owned(BTreeSet::new()).await?;
                }
                Err(e)
            }
        }
    }

    async fn renew(&self) -> Result<BTreeSet<u32>, InboxError> {
        let g = &self.cfg.group;
        let me = &self.cfg.consumer;
        let now = now_ms();
        let ttl = ms(self.cfg.lease_ttl);
        let db = self.base.db();
        {
            let _turn = self.base.write_turn().await;
            sql::exec(
                db,
                "INSERT INTO event_member (grp, owner, seen_ms) VALUES (?, ?, ?) \
                 ON CONFLICT (grp, owner) DO UPDATE SET seen_ms = excluded.seen_ms",
                vec![sql::t(g), sql::t(me), sql::i(now)],
            )
            .await?;
            sql::exec(
                db,
                "DELETE FROM event_member WHERE grp = ? AND seen_ms < ?",
                vec![sql::t(g), sql::i(now - 10 * ttl)],
            )
            .await?;
            sql::exec(
                db,
                "UPDATE event_lease SET expires_ms = ? WHERE grp = ? AND owner = ? AND expires_ms > ?",
                vec![sql::i(now + ttl), sql::t(g), sql::t(me), sql::i(now)],
            )
            .await?;
        }
        let live = sql::all(
            db,
            "SELECT owner FROM event_member WHERE grp = ? AND seen_ms >= ?",
            vec![sql::t(g), sql::i(now - ttl)],
        )
        .await?
        .len()
        .max(1) as u32;
        let fair = streams::PARTITIONS.div_ceil(live);
        let leases = sql::all(
            db,
            "SELECT part, owner, expires_ms FROM event_lease WHERE grp = ?",
            vec![sql::t(g)],
        )
        .await?;
        let mut mine = BTreeSet::new();
        let mut taken = BTreeSet::new();
        for r in &leases {
            let part = u32::try_from(sql::int(r, "part")?).unwrap_or(0);
            if sql::int(r, "expires_ms")? > now {
                taken.insert(part);
                if sql::text(r, "owner")? == *me {
                    mine.insert(part);
                }
            }
        }
        // More than my share: give the highest back.
        while mine.len() as u32 > fair {
            let Some(part) = mine.pop_last() else { break };
            let _turn = self.base.write_turn().await;
            sql::exec(
                db,
                "UPDATE event_lease SET expires_ms = 0 WHERE grp = ? AND part = ? AND owner = ?",
                vec![sql::t(g), sql::i(i64::from(part)), sql::t(me)],
            )
            .await?;
        }
        // Fewer: take free or expired ones.
        for part in 0..streams::PARTITIONS {
            if mine.len() as u32 >= fair {
                break;
            }
            if taken.contains(&part) {
                continue;
            }
            {
                let _turn = self.base.write_turn().await;
                sql::exec(
                    db,
                    "INSERT INTO event_lease (grp, part, owner, expires_ms) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (grp, part) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms \
                     WHERE event_lease.expires_ms <= ?",
                    vec![sql::t(g), sql::i(i64::from(part)), sql::t(me), sql::i(now + ttl), sql::i(now)],
                )
                .await?;
            }
            let won = sql::one(
                db,
                "SELECT owner FROM event_lease WHERE grp = ? AND part = ?",
                vec![sql::t(g), sql::i(i64::from(part))],
            )
            .await?
            .map(|r| sql::text(&r, "owner"))
            .transpose()?
            .is_some_and(|o| o == *me);
            if won {
                mine.insert(part);
            }
        }
        Ok(mine)
    }

    async fn set_owned(&mut self, owned: BTreeSet<u32>) -> Result<bool, InboxError> {
        if owned == self.owned {
            return Ok(false);
        }
        let gained: Vec<u32> = owned.difference(&self.owned).copied().collect();
        self.parts.retain(|(_, p), _| owned.contains(p));
        for part in &gained {
            for stream in self.streams.clone() {
                let checkpoint = self.load_checkpoint(&stream, *part).await?;
                self.parts.insert(
                    (stream, *part),
                    Part {
                        checkpoint,
                        ..Part::default()
                    },
                );
            }
        }
        tracing::info!(group = %self.cfg.group, consumer = %self.cfg.consumer, partitions = ?owned, "partition leases changed");
        self.owned = owned;
        self.generation += 1;
        Ok(true)
    }

    async fn load_checkpoint(&self, stream: &str, part: u32) -> Result<u64, InboxError> {
        let row = sql::one(
            self.base.db(),
            "SELECT last_seq FROM event_inbox WHERE grp = ? AND stream = ? AND part = ?",
            vec![
                sql::t(&self.cfg.group),
                sql::t(stream),
                sql::i(i64::from(part)),
            ],
        )
        .await?;
        Ok(row
            .map(|r| sql::int(&r, "last_seq"))
            .transpose()?
            .map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    async fn save_checkpoint(&self, stream: &str, part: u32, seq: u64) -> Result<(), InboxError> {
        let _turn = self.base.write_turn().await;
        sql::exec(
            self.base.db(),
            "INSERT INTO event_inbox (grp, stream, part, last_seq) VALUES (?, ?, ?, ?) \
             ON CONFLICT (grp, stream, part) DO UPDATE SET last_seq = excluded.last_seq \
             WHERE event_inbox.last_seq < excluded.last_seq",
            vec![
                sql::t(&self.cfg.group),
                sql::t(stream),
                sql::i(i64::from(part)),
                sql::i(i64::try_from(seq).unwrap_or(i64::MAX)),
            ],
        )
        .await?;
        Ok(())
    }

    /// The next delivery of `stream`, waiting up to `block` for one; `None` when there is
    /// nothing to handle now.
    pub async fn read(
        &mut self,
        stream: &str,
        count: usize,
        block: Duration,
    ) -> Result<Option<Delivery>, InboxError> {
        let count = count.max(1);
        if let Err(e) = self.maintain_leases().await {
            tracing::warn!(group = %self.cfg.group, error = %e, "partition leases not renewed");
        }
        if let Err(e) = self.sample_gauges().await {
            tracing::warn!(group = %self.cfg.group, error = %e, "inbox gauges not sampled");
        }
        if let Some(d) = self.requested_dead_letter(stream).await? {
            return Ok(Some(d));
        }
        if let Some(d) = self.next_buffered(stream, count) {
            return Ok(Some(d));
        }
        if self.owned.is_empty() {
            if !block.is_zero() {
                tokio::time::sleep(block).await;
            }
            return Ok(None);
        }
        let mut physical: Vec<String> = self
            .owned
            .iter()
            .map(|p| streams::partition_stream(stream, *p))
            .collect();
        if self.owned.contains(&0) {
            physical.push(stream.to_string());
        }
        // Reads go on while they bring only duplicates, heartbeats or messages beyond a gap.
        let mut wait = block;
        for _ in 0..16 {
            let got = self
                .bus
                .read_many(&physical, &self.cfg.group, &self.cfg.consumer, count, wait)
                .await?;
            wait = Duration::ZERO;
            if got.is_empty() {
                break;
            }
            if let Some(d) = self.take_in(stream, got).await? {
                return Ok(Some(d));
            }
            if let Some(d) = self.next_buffered(stream, count) {
                return Ok(Some(d));
            }
        }
        self.ask_for_gaps(stream).await?;
        Ok(None)
    }

    /// Takes read messages in: heartbeats and sequenced messages into the partitions' state
    /// (acknowledged on the bus at once), unpartitioned ones returned as a delivery.
    async fn take_in(
        &mut self,
        stream: &str,
        got: Vec<(String, BusMessage)>,
    ) -> Result<Option<Delivery>, InboxError> {
        let mut loose = Vec::new();
        let mut acks: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (phys, m) in got {
            if phys == stream {
                loose.push(m);
                continue;
            }
            let Some(part) = self
                .owned
                .iter()
                .copied()
                .find(|p| streams::partition_stream(stream, *p) == phys)
            else {
                continue;
            };
            acks.entry(phys.clone()).or_default().push(m.id.clone());
            let buffer_max = self.cfg.buffer_max;
            let st = self.parts.entry((stream.to_string(), part)).or_default();
            if m.heartbeat {
                st.high_water = st.high_water.max(m.seq);
            } else if m.seq == 0 {
                tracing::warn!(stream = %phys, id = %m.id, "unsequenced message on a partition stream dropped");
            } else if m.seq > st.checkpoint && st.buffer.len() < buffer_max {
                st.high_water = st.high_water.max(m.seq);
                st.buffer.entry(m.seq).or_insert(m);
            } else if m.seq > st.checkpoint {
                // Full: it comes again with the replay of the gap.
                st.high_water = st.high_water.max(m.seq);
            }
        }
        for (phys, ids) in acks {
            self.bus.ack(&phys, &self.cfg.group, &ids).await?;
        }
        if !loose.is_empty() {
            if let Some(id) = loose
                .iter()
                .map(|m| m.id.clone())
                .find(|id| self.loose_single.contains(id))
            {
                loose.retain(|m| m.id == id);
            }
            return Ok(Some(Delivery::new(
                &self.cfg.group,
                stream,
                loose,
                Source::Loose {
                    physical: stream.to_string(),
                },
            )));
        }
        Ok(None)
    }

    fn next_buffered(&mut self, stream: &str, count: usize) -> Option<Delivery> {
        let group = self.cfg.group.clone();
        for part in self.owned.clone() {
            let Some(st) = self.parts.get_mut(&(stream.to_string(), part)) else {
                continue;
            };
            // Drop what is at or below the checkpoint (delivered twice).
            while st
                .buffer
                .first_key_value()
                .is_some_and(|(s, _)| *s <= st.checkpoint)
            {
                st.buffer.pop_first();
            }
            let limit = if st.checkpoint < st.single_until {
                1
            } else {
                count
            };
            let mut next = st.checkpoint + 1;
            let mut run = Vec::new();
            while run.len() < limit {
                match st.buffer.get(&next) {
                    Some(m) => {
                        run.push(m.clone());
                        next += 1;
                    }
                    None => break,
                }
            }
            if !run.is_empty() {
                return Some(Delivery::new(
                    &group,
                    stream,
                    run,
                    Source::Sequenced { part },
                ));
            }
        }
        None
    }

    async fn ask_for_gaps(&mut self, stream: &str) -> Result<(), InboxError> {
        use prost::Message as _;
        let retry = self.cfg.replay_retry;
        let mut asks = Vec::new();
        for part in self.owned.clone() {
            let Some(st) = self.parts.get_mut(&(stream.to_string(), part)) else {
                continue;
            };
            let to = match st.buffer.first_key_value() {
                Some((first, _)) => first.saturating_sub(1),
                None => st.high_water,
            };
            if to <= st.checkpoint {
                continue;
            }
            let recently = st
                .asked
                .is_some_and(|(upto, at)| upto >= to && at.elapsed() < retry);
            if recently {
                continue;
            }
            st.asked = Some((to, Instant::now()));
            asks.push(yibao_proto::events::v1::ReplayRequest {
                partition: part,
                from_seq: st.checkpoint + 1,
                to_seq: to,
                consumer_group: self.cfg.group.clone(),
            });
        }
        for req in asks {
            tracing::info!(stream, group = %self.cfg.group, partition = req.partition, from = req.from_seq, to = req.to_seq,
                "gap in the sequence: asking the producer to publish the range again");
            let payload = req.encode_to_vec();
            let env = Envelope {
                event_id: "",
                payload: &payload,
                seq: 0,
                heartbeat: false,
                trace_parent: "",
            };
            self.bus
                .append(&streams::replay_stream(stream), env, Some(10_000))
                .await?;
        }
        Ok(())
    }

    /// The delivery was handled: moves the checkpoint past it (or acknowledges it on the
    /// bus, or marks the dead letter replayed).
    pub async fn ack(&mut self, d: &Delivery) -> Result<(), InboxError> {
        let events = d.messages.iter().filter(|m| !m.heartbeat).count() as u64;
        crate::metrics::events_handled().add(&[&self.cfg.group, &d.stream, "acked"], events);
        self.ack_quietly(d).await
    }

    /// [`Self::ack`] without counting the delivery as handled (a dead letter set aside).
    async fn ack_quietly(&mut self, d: &Delivery) -> Result<(), InboxError> {
        match &d.source {
            Source::Sequenced { part } => {
                let Some(last) = d.messages.last().map(|m| m.seq) else {
                    return Ok(());
                };
                self.save_checkpoint(&d.stream, *part, last).await?;
                if let Some(st) = self.parts.get_mut(&(d.stream.clone(), *part)) {
                    st.checkpoint = st.checkpoint.max(last);
                    st.buffer.retain(|s, _| *s > last);
                }
                for m in &d.messages {
                    self.attempts.remove(&m.event_id);
                }
            }
            Source::Loose { physical } => {
                let ids: Vec<String> = d.messages.iter().map(|m| m.id.clone()).collect();
                self.bus.ack(physical, &self.cfg.group, &ids).await?;
                for id in &ids {
                    self.loose_single.remove(id);
                    self.attempts.remove(id);
                }
            }
            Source::DeadLetter { id } => {
                let _turn = self.base.write_turn().await;
                sql::exec(
                    self.base.db(),
                    "UPDATE event_dead_letter SET replayed_at = ?, replay_requested_at = NULL WHERE id = ?",
                    vec![sql::t(chrono::Utc::now().to_rfc3339()), sql::t(id)],
                )
                .await?;
                tracing::info!(group = %self.cfg.group, dead_letter = %id, "dead letter handled on replay");
            }
        }
        Ok(())
    }

    /// The delivery could not be handled. A transient failure (`permanent` false: a database
    /// or bus outage) changes nothing and the same delivery comes again. A permanent one
    /// makes the inbox deliver the run one message at a time, and sets a message aside as a
    /// dead letter after [`InboxConfig::max_attempts`] failures.
    pub async fn fail(
        &mut self,
        d: &Delivery,
        permanent: bool,
        error: &str,
    ) -> Result<(), InboxError> {
        d.span
            .set_status(opentelemetry::trace::Status::error(if permanent {
                "failed"
            } else {
                "failed (transient)"
            }));
        crate::metrics::events_handled().add(
            &[&self.cfg.group, &d.stream, "failed"],
            d.messages.len() as u64,
        );
        if !permanent {
            return Ok(());
        }
        if let Source::DeadLetter { id } = &d.source {
            let _turn = self.base.write_turn().await;
            sql::exec(
                self.base.db(),
                "UPDATE event_dead_letter SET error = ?, attempts = attempts + 1, replay_requested_at = NULL WHERE id = ?",
                vec![sql::t(error), sql::t(id)],
            )
            .await?;
            return Ok(());
        }
        if d.messages.len() > 1 {
            match &d.source {
                Source::Sequenced { part } => {
                    if let Some(st) = self.parts.get_mut(&(d.stream.clone(), *part)) {
                        st.single_until = d.messages.last().map_or(0, |m| m.seq);
                    }
                }
                _ => {
                    if let Some(m) = d.messages.first() {
                        self.loose_single.insert(m.id.clone());
                    }
                }
            }
            return Ok(());
        }
        let Some(m) = d.messages.first() else {
            return Ok(());
        };
        let key = if m.event_id.is_empty() {
            m.id.clone()
        } else {
            m.event_id.clone()
        };
        let n = {
            let n = self.attempts.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        if n < self.cfg.max_attempts {
            return Ok(());
        }
        let part = d.partition().map_or(-1, i64::from);
        {
            let _turn = self.base.write_turn().await;
            sql::exec(
                self.base.db(),
                "INSERT INTO event_dead_letter (id, grp, stream, part, seq, event_id, payload_hex, error, attempts, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    sql::t(uuid::Uuid::now_v7().to_string()),
                    sql::t(&self.cfg.group),
                    sql::t(&d.stream),
                    sql::i(part),
                    sql::i(i64::try_from(m.seq).unwrap_or(i64::MAX)),
                    sql::t(&m.event_id),
                    sql::t(sql::hex(&m.payload)),
                    sql::t(error),
                    sql::i(i64::from(n)),
                    sql::t(chrono::Utc::now().to_rfc3339()),
                ],
            )
            .await?;
        }
        tracing::error!(group = %self.cfg.group, stream = %d.stream, partition = part, seq = m.seq, event = %m.event_id, attempts = n, error,
            "event set aside as a dead letter");
        crate::metrics::events_handled().inc(&[&self.cfg.group, &d.stream, "dead_lettered"]);
        self.attempts.remove(&key);
        self.ack_quietly(d).await
    }

    async fn requested_dead_letter(
        &mut self,
        stream: &str,
    ) -> Result<Option<Delivery>, InboxError> {
        if self
            .last_dead_check
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return Ok(None);
        }
        self.last_dead_check = Some(Instant::now());
        let row = sql::one(
            self.base.db(),
            "SELECT id, seq, event_id, payload_hex FROM event_dead_letter \
             WHERE grp = ? AND stream = ? AND replay_requested_at IS NOT NULL ORDER BY id LIMIT 1",
            vec![sql::t(&self.cfg.group), sql::t(stream)],
        )
        .await?;
        let Some(r) = row else { return Ok(None) };
        let payload = sql::unhex(&sql::text(&r, "payload_hex")?)
            .ok_or_else(|| DbErr::Custom("event_dead_letter: payload is not hex".into()))?;
        let message = BusMessage {
            id: String::new(),
            event_id: sql::text(&r, "event_id")?,
            payload,
            seq: u64::try_from(sql::int(&r, "seq")?).unwrap_or(0),
            heartbeat: false,
            trace_parent: String::new(),
        };
        Ok(Some(Delivery::new(
            &self.cfg.group,
            stream,
            vec![message],
            Source::DeadLetter {
                id: sql::text(&r, "id")?,
            },
        )))
    }

    /// Messages of `stream` this replica has still to handle: undelivered and unacknowledged
    /// on the bus, waiting in memory, and known from heartbeats but not yet arrived.
    pub async fn lag(&self, stream: &str) -> Result<u64, InboxError> {
        let mut lag = 0;
        for part in &self.owned {
            lag += self
                .bus
                .lag(&streams::partition_stream(stream, *part), &self.cfg.group)
                .await?;
            if let Some(st) = self.parts.get(&(stream.to_string(), *part)) {
                lag += st.high_water.saturating_sub(st.checkpoint);
            }
        }
        if self.owned.contains(&0) {
            lag += self.bus.lag(stream, &self.cfg.group).await?;
        }
        Ok(lag)
    }
}

/// A message set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Id (UUIDv7, in order of setting aside).
    pub id: String,
    /// Logical stream.
    pub stream: String,
    /// Partition (-1: the unpartitioned stream).
    pub partition: i64,
    /// Sequence number (0: unsequenced).
    pub seq: u64,
    /// Event id.
    pub event_id: String,
    /// Payload size in bytes.
    pub payload_bytes: u64,
    /// The consumer's last error.
    pub error: String,
    /// Failed attempts.
    pub attempts: u32,
    /// When it was set aside (RFC 3339).
    pub created_at: String,
    /// When an operator asked to deliver it again, while that is pending.
    pub replay_requested_at: Option<String>,
    /// When a replay succeeded.
    pub replayed_at: Option<String>,
}

const DEAD_LETTER_COLUMNS: &str = "id, stream, part, seq, event_id, CAST(LENGTH(payload_hex) AS BIGINT) AS hex_len, error, \
     attempts, created_at, replay_requested_at, replayed_at";

fn dead_letter_row(r: &sea_orm::QueryResult) -> Result<DeadLetter, DbErr> {
    Ok(DeadLetter {
        id: sql::text(r, "id")?,
        stream: sql::text(r, "stream")?,
        partition: sql::int(r, "part")?,
        seq: u64::try_from(sql::int(r, "seq")?).unwrap_or(0),
        event_id: sql::text(r, "event_id")?,
        payload_bytes: u64::try_from(sql::int(r, "hex_len")? / 2).unwrap_or(0),
        error: sql::text(r, "error")?,
        attempts: u32::try_from(sql::int(r, "attempts")?).unwrap_or(0),
        created_at: sql::text(r, "created_at")?,
        replay_requested_at: sql::opt_text(r, "replay_requested_at")?,
        replayed_at: sql::opt_text(r, "replayed_at")?,
    })
}

/// The group's dead letters after `after` (an id), oldest first, at most `limit`.
pub async fn dead_letters(
    base: &StoreBase,
    group: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<DeadLetter>, DbErr> {
    let rows = sql::all(
        base.db(),
        &format!(
            "SELECT {DEAD_LETTER_COLUMNS} FROM event_dead_letter WHERE grp = ? AND id > ? ORDER BY id LIMIT ?"
        ),
        vec![
            sql::t(group),
            sql::t(after.unwrap_or("")),
            sql::i(i64::try_from(limit).unwrap_or(i64::MAX)),
        ],
    )
    .await?;
    rows.iter().map(dead_letter_row).collect()
}

/// The group's dead letter `id`.
pub async fn dead_letter(
    base: &StoreBase,
    group: &str,
    id: &str,
) -> Result<Option<DeadLetter>, DbErr> {
    sql::one(
        base.db(),
        &format!("SELECT {DEAD_LETTER_COLUMNS} FROM event_dead_letter WHERE grp = ? AND id = ?"),
        vec![sql::t(group), sql::t(id)],
    )
    .await?
    .as_ref()
    .map(dead_letter_row)
    .transpose()
}

/// Counts the group's dead letters not yet replayed.
pub async fn open_dead_letters(base: &StoreBase, group: &str) -> Result<u64, DbErr> {
    let row = sql::one(
        base.db(),
        "SELECT COUNT(*) AS n FROM event_dead_letter WHERE grp = ? AND replayed_at IS NULL",
        vec![sql::t(group)],
    )
    .await?;
    Ok(row
        .map(|r| sql::int(&r, "n"))
        .transpose()?
        .map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

/// Asks for dead letter `id` of `group` to be delivered again (the consumer picks it up within
/// a second); false when there is no such dead letter or it was replayed already.
pub async fn request_replay(base: &StoreBase, group: &str, id: &str) -> Result<bool, DbErr> {
    let _turn = base.write_turn().await;
    let n = sql::exec(
        base.db(),
        "UPDATE event_dead_letter SET replay_requested_at = ? WHERE grp = ? AND id = ? AND replayed_at IS NULL",
        vec![
            sql::t(chrono::Utc::now().to_rfc3339()),
            sql::t(group),
            sql::t(id),
        ],
    )
    .await?;
    Ok(n > 0)
}

/// The operators' view of dead letters (`yibao.common.v1.DeadLetter`), for a service's
/// `ListDeadLetters` and `ReplayDeadLetter`: `groups` are the consumer groups of the service.
pub mod api {
    use super::DeadLetter;
    use crate::db::StoreBase;
    use crate::error::{ApiError, codes};
    use crate::page::Page;
    use yibao_proto::common::v1 as common;

    fn to_proto(d: DeadLetter) -> common::DeadLetter {
        common::DeadLetter {
            id: d.id,
            stream: d.stream,
            partition: d.partition,
            seq: d.seq,
            event_id: d.event_id,
            payload_bytes: d.payload_bytes,
            error: d.error,
            attempts: d.attempts,
            created_at: d.created_at,
            replay_requested_at: d.replay_requested_at.unwrap_or_default(),
            replayed_at: d.replayed_at.unwrap_or_default(),
        }
    }

    /// A page of the dead letters of `groups`, oldest first.
    pub async fn list(
        base: &StoreBase,
        groups: &[&str],
        page: Option<&common::PageRequest>,
    ) -> Result<(Vec<common::DeadLetter>, common::PageResponse), ApiError> {
        let page = Page::parse(page)?;
        let mut rows = Vec::new();
        for g in groups {
            rows.extend(super::dead_letters(base, g, Some(page.after_key(0)), page.fetch()).await?);
        }
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        let size = usize::try_from(page.fetch()).unwrap_or(usize::MAX);
        rows.truncate(size);
        let (rows, next) = page.finish(rows, |d| vec![d.id.clone()]);
        Ok((rows.into_iter().map(to_proto).collect(), next))
    }

    /// Asks for dead letter `id` of one of `groups` to be delivered again; returns it.
    pub async fn replay(
        base: &StoreBase,
        groups: &[&str],
        id: &str,
    ) -> Result<common::DeadLetter, ApiError> {
        if id.is_empty() {
            return Err(codes::DEAD_LETTER_NOT_FOUND.invalid("dead_letter_id", "is required"));
        }
        for g in groups {
            let Some(d) = super::dead_letter(base, g, id).await? else {
                continue;
            };
            if d.replayed_at.is_some() {
                return Err(codes::DEAD_LETTER_REPLAYED.error(format!(
                    "dead letter {id} was replayed at {}",
                    d.replayed_at.unwrap_or_default()
                )));
            }
            super::request_replay(base, g, id).await?;
            let now = super::dead_letter(base, g, id).await?.unwrap_or(d);
            return Ok(to_proto(now));
        }
        Err(codes::DEAD_LETTER_NOT_FOUND.error(format!("no dead letter {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::MemoryBus;
    use crate::outbox::{self, OutboxEvent};
    use sea_orm_migration::MigrationTrait as _;

    const STREAM: &str = streams::SETTLEMENT_CLAIMS;

    async fn consumer_db() -> StoreBase {
        let url = match std::env::var("YIBAO_TEST_DATABASE_URL") {
            Ok(base) => crate::db::create_fresh_postgres(&base, "yibao_runtime_inbox")
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            Err(_) => "sqlite::memory:".to_string(),
        };
        let db = sea_orm::Database::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let manager = sea_orm_migration::SchemaManager::new(&db);
        MIGRATION
            .up(&manager)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        StoreBase::new(db)
    }

    fn cfg(consumer: &str) -> InboxConfig {
        InboxConfig {
            consumer: consumer.into(),
            lease_ttl: Duration::from_millis(300),
            replay_retry: Duration::from_millis(1),
            ..InboxConfig::new("g")
        }
    }

    async fn produce(producer: &StoreBase, bus: &MemoryBus, ids: std::ops::Range<u32>) {
        let events: Vec<_> = ids
            .map(|n| OutboxEvent::new(STREAM, format!("e{n}"), vec![1]).keyed("341522"))
            .collect();
        outbox::enqueue(producer.db(), &events)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        outbox::publish_pending(producer, bus, 1_000)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Reads and acknowledges until nothing comes, answering replay requests between reads
    /// (as the producer's relay does); returns the event ids handled, in order.
    async fn drain(inbox: &mut Inbox, producer: &StoreBase, bus: &MemoryBus) -> Vec<String> {
        let mut seen = Vec::new();
        let mut idle = 0;
        while idle < 3 {
            match inbox.read(STREAM, 4, Duration::ZERO).await {
                Ok(Some(d)) => {
                    idle = 0;
                    seen.extend(d.messages.iter().map(|m| m.event_id.clone()));
                    inbox.ack(&d).await.unwrap_or_else(|e| panic!("{e}"));
                }
                Ok(None) => {
                    idle += 1;
                    outbox::answer_replays(producer, bus, "relay-1", 1_000)
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                }
                Err(e) => panic!("{e}"),
            }
        }
        seen
    }

    fn names(r: std::ops::Range<u32>) -> Vec<String> {
        r.map(|n| format!("e{n}")).collect()
    }

    #[tokio::test]
    async fn events_the_bus_lost_are_published_again_from_the_outbox_once() {
        let producer = outbox::tests::db().await;
        let bus = MemoryBus::new();
        let mut inbox = Inbox::new(
            Arc::new(bus.clone()),
            consumer_db().await,
            cfg("c1"),
            &[STREAM],
        );
        produce(&producer, &bus, 0..10).await;
        assert_eq!(drain(&mut inbox, &producer, &bus).await, names(0..10));

        // Redis restarts empty after accepting ten more: the next event shows the gap.
        produce(&producer, &bus, 10..20).await;
        bus.lose_everything();
        produce(&producer, &bus, 20..21).await;
        assert_eq!(drain(&mut inbox, &producer, &bus).await, names(10..21));

        // The tail is lost and nothing follows: the heartbeat shows it.
        produce(&producer, &bus, 21..25).await;
        bus.lose_everything();
        outbox::publish_heartbeats(&producer, &bus, 1_000)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(drain(&mut inbox, &producer, &bus).await, names(21..25));

        // Delivered twice (a relay crash between publication and marking): handled once.
        let part = streams::partition_of("341522");
        for row in outbox::range(producer.db(), STREAM, part, 1, 25, 100)
            .await
            .unwrap_or_default()
        {
            let env = Envelope {
                event_id: &row.event_id,
                payload: &row.payload,
                seq: row.seq,
                heartbeat: false,
                trace_parent: &row.trace_parent,
            };
            bus.append(&streams::partition_stream(STREAM, part), env, None)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(drain(&mut inbox, &producer, &bus).await.is_empty());

        // A restarted consumer starts from its checkpoint.
        let mut again = Inbox::new(
            Arc::new(bus.clone()),
            inbox.base.clone(),
            cfg("c1"),
            &[STREAM],
        );
        produce(&producer, &bus, 25..26).await;
        let got = drain(&mut again, &producer, &bus).await;
        assert_eq!(got, names(25..26));
    }

    #[tokio::test]
    async fn a_poison_event_is_set_aside_and_the_rest_goes_on_and_an_operator_replays_it() {
        let producer = outbox::tests::db().await;
        let bus = MemoryBus::new();
        let base = consumer_db().await;
        let mut inbox = Inbox::new(Arc::new(bus.clone()), base.clone(), cfg("c1"), &[STREAM]);
        produce(&producer, &bus, 0..6).await;
        let mut handled = Vec::new();
        for _ in 0..40 {
            let Some(d) = inbox
                .read(STREAM, 10, Duration::ZERO)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
            else {
                break;
            };
            if d.messages.iter().any(|m| m.event_id == "e3") {
                inbox
                    .fail(&d, true, "amount_fen: out of range")
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            } else {
                handled.extend(d.messages.iter().map(|m| m.event_id.clone()));
                inbox.ack(&d).await.unwrap_or_else(|e| panic!("{e}"));
            }
        }
        assert_eq!(handled, ["e0", "e1", "e2", "e4", "e5"]);
        let dead = dead_letters(&base, "g", None, 10).await.unwrap_or_default();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].event_id, "e3");
        assert_eq!(dead[0].attempts, 5);
        assert_eq!(dead[0].error, "amount_fen: out of range");
        assert_eq!(open_dead_letters(&base, "g").await.ok(), Some(1));

        // A transient failure never sets an event aside.
        produce(&producer, &bus, 6..7).await;
        for _ in 0..10 {
            let d = inbox.read(STREAM, 10, Duration::ZERO).await.ok().flatten();
            let d = d.unwrap_or_else(|| panic!("e6 is delivered until handled"));
            inbox.fail(&d, false, "database unavailable").await.ok();
        }
        let d = inbox.read(STREAM, 10, Duration::ZERO).await.ok().flatten();
        let d = d.unwrap_or_else(|| panic!("e6 again"));
        inbox.ack(&d).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(open_dead_letters(&base, "g").await.ok(), Some(1));

        assert!(
            request_replay(&base, "g", &dead[0].id)
                .await
                .unwrap_or(false)
        );
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let d = inbox.read(STREAM, 10, Duration::ZERO).await.ok().flatten();
        let d = d.unwrap_or_else(|| panic!("the replay is delivered"));
        assert!(d.is_replay());
        assert_eq!(d.messages[0].event_id, "e3");
        inbox.ack(&d).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(open_dead_letters(&base, "g").await.ok(), Some(0));
        assert!(
            !request_replay(&base, "g", &dead[0].id)
                .await
                .unwrap_or(true)
        );
    }

    #[tokio::test]
    async fn replicas_share_the_partitions_and_take_over_a_stopped_ones() {
        let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
        let base = consumer_db().await;
        let mut a = Inbox::new(Arc::clone(&bus), base.clone(), cfg("a"), &[STREAM]);
        let mut b = Inbox::new(Arc::clone(&bus), base.clone(), cfg("b"), &[STREAM]);
        a.maintain_leases().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.owned().len() as u32, streams::PARTITIONS);
        b.maintain_leases().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            b.owned().is_empty(),
            "all taken until a gives its extra back"
        );
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(110)).await;
            a.maintain_leases().await.unwrap_or_else(|e| panic!("{e}"));
            b.maintain_leases().await.unwrap_or_else(|e| panic!("{e}"));
        }
        let half = streams::PARTITIONS / 2;
        assert_eq!(a.owned().len() as u32, half);
        assert_eq!(b.owned().len() as u32, half);
        assert!(a.owned().is_disjoint(b.owned()));
        let generation = b.generation();
        // a stops: once its leases expire, b holds every partition.
        tokio::time::sleep(Duration::from_millis(350)).await;
        b.maintain_leases().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.owned().len() as u32, streams::PARTITIONS);
        assert!(b.generation() > generation);
    }
}
