//! The event bus: append-only streams read by consumer groups, at least once. Redis Streams
//! in production, an in-process implementation when embedded; both behind [`Bus`].
//!
//! Semantics both implementations keep: `publish` appends; a consumer group starts at the
//! beginning of the stream; `read` first re-delivers this consumer's unacknowledged messages
//! (after a crash) and then new ones; `ack` removes from the pending list. Consumers must be
//! idempotent by `event_id` because delivery is at least once.

use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A bus failure.
#[derive(Debug, thiserror::Error)]
#[error("bus: {0}")]
pub struct BusError(pub String);

/// One delivered message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BusMessage {
    /// Position in the stream (Redis entry id), used to acknowledge.
    pub id: String,
    /// Stable id of the event, for idempotent consumers.
    pub event_id: String,
    /// The encoded event.
    pub payload: Vec<u8>,
    /// The producer's sequence number of the event in its partition (0: unsequenced). For a
    /// heartbeat, the highest sequence number the producer has assigned in the partition.
    pub seq: u64,
    /// A producer's heartbeat (no event): tells consumers how far the partition goes, so a
    /// lost tail is noticed without a later event.
    pub heartbeat: bool,
    /// The W3C `traceparent` of the span that wrote the event (field `tp`; empty when it was
    /// written outside a trace): a consumer links its processing to it.
    pub trace_parent: String,
}

/// A message to append: an event (with its sequence number, 0 when unsequenced) or a
/// heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Event id (empty for a heartbeat).
    pub event_id: &'a str,
    /// The encoded event (empty for a heartbeat).
    pub payload: &'a [u8],
    /// Sequence number (see [`BusMessage::seq`]).
    pub seq: u64,
    /// A heartbeat.
    pub heartbeat: bool,
    /// See [`BusMessage::trace_parent`] (empty: none).
    pub trace_parent: &'a str,
}

/// Streams with consumer groups.
pub trait Bus: Send + Sync + std::fmt::Debug {
    /// Appends an event without a sequence number; returns its stream position.
    fn publish<'a>(
        &'a self,
        stream: &'a str,
        event_id: &'a str,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<String, BusError>> {
        let env = Envelope {
            event_id,
            payload,
            seq: 0,
            heartbeat: false,
            trace_parent: "",
        };
        self.append(stream, env, None)
    }
    /// Reads up to `count` messages for `consumer` in `group`, waiting up to `block` for new ones.
    fn read<'a>(
        &'a self,
        stream: &'a str,
        group: &'a str,
        consumer: &'a str,
        count: usize,
        block: Duration,
    ) -> BoxFuture<'a, Result<Vec<BusMessage>, BusError>>;
    /// Acknowledges processed messages.
    fn ack<'a>(
        &'a self,
        stream: &'a str,
        group: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), BusError>>;
    /// Messages not yet delivered to the group plus delivered but unacknowledged ones.
    fn lag<'a>(&'a self, stream: &'a str, group: &'a str) -> BoxFuture<'a, Result<u64, BusError>>;

    /// Appends an event or heartbeat with its sequence number, keeping the stream at about
    /// `max_len` entries when given; returns its stream position.
    fn append<'a>(
        &'a self,
        stream: &'a str,
        env: Envelope<'a>,
        max_len: Option<u64>,
    ) -> BoxFuture<'a, Result<String, BusError>>;

    /// Reads up to `count` messages of several streams at once for `consumer` in `group`
    /// (each stream's own unacknowledged messages first), waiting up to `block` when none has
    /// any. Each message comes with its stream.
    fn read_many<'a>(
        &'a self,
        streams: &'a [String],
        group: &'a str,
        consumer: &'a str,
        count: usize,
        block: Duration,
    ) -> BoxFuture<'a, Result<Vec<(String, BusMessage)>, BusError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for (i, s) in streams.iter().enumerate() {
                let wait = if out.is_empty() && i + 1 == streams.len() {
                    block
                } else {
                    Duration::ZERO
                };
                for m in self.read(s, group, consumer, count, wait).await? {
                    out.push((s.clone(), m));
                }
            }
            Ok(out)
        })
    }

    /// Removes the entries every group of the stream has acknowledged; returns how many.
    fn trim_acknowledged<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<u64, BusError>> {
        let _ = stream;
        Box::pin(async { Ok(0) })
    }
}

#[derive(Debug, Default)]
struct MemGroup {
    next: usize,
    pending: BTreeMap<usize, String>,
}

#[derive(Debug, Default)]
struct MemStream {
    /// Entries from position `base` on (those before were trimmed).
    entries: std::collections::VecDeque<BusMessage>,
    base: usize,
    groups: HashMap<String, MemGroup>,
}

impl MemStream {
    fn get(&self, i: usize) -> Option<BusMessage> {
        let mut m = self.entries.get(i.checked_sub(self.base)?)?.clone();
        m.id = i.to_string();
        Some(m)
    }

    fn end(&self) -> usize {
        self.base + self.entries.len()
    }
}

/// In-process bus for the embedded mode and tests. Kept in memory: the embedded mode's
/// producers (outboxes) are durable in SQLite and re-publish what was not acknowledged.
#[derive(Debug, Clone, Default)]
pub struct MemoryBus {
    streams: Arc<Mutex<HashMap<String, MemStream>>>,
    notify: Arc<tokio::sync::Notify>,
}

impl MemoryBus {
    /// An empty bus.
    pub fn new() -> MemoryBus {
        MemoryBus::default()
    }

    /// Forgets every stream and group, as a Redis restarted without its data does.
    pub fn lose_everything(&self) {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn take(&self, stream: &str, group: &str, consumer: &str, count: usize) -> Vec<BusMessage> {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let s = streams.entry(stream.to_string()).or_default();
        let start = s.base;
        let mut g = s.groups.remove(group).unwrap_or_default();
        g.next = g.next.max(start);
        let mut out: Vec<BusMessage> = g
            .pending
            .iter()
            .filter(|(_, c)| c.as_str() == consumer)
            .take(count)
            .filter_map(|(i, _)| s.get(*i))
            .collect();
        // Re-deliveries come first; new messages only when nothing of ours is pending.
        if out.is_empty() {
            while out.len() < count && g.next < s.end() {
                let i = g.next;
                g.next += 1;
                g.pending.insert(i, consumer.to_string());
                if let Some(m) = s.get(i) {
                    out.push(m);
                }
            }
        }
        s.groups.insert(group.to_string(), g);
        out
    }
}

impl Bus for MemoryBus {
    fn append<'a>(
        &'a self,
        stream: &'a str,
        env: Envelope<'a>,
        max_len: Option<u64>,
    ) -> BoxFuture<'a, Result<String, BusError>> {
        let id = {
            let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            let s = streams.entry(stream.to_string()).or_default();
            s.entries.push_back(BusMessage {
                id: String::new(),
                event_id: env.event_id.to_string(),
                payload: env.payload.to_vec(),
                seq: env.seq,
                heartbeat: env.heartbeat,
                trace_parent: env.trace_parent.to_string(),
            });
            if let Some(max) = max_len.and_then(|m| usize::try_from(m).ok()) {
                while s.entries.len() > max {
                    s.entries.pop_front();
                    s.base += 1;
                }
            }
            (s.end() - 1).to_string()
        };
        self.notify.notify_waiters();
        Box::pin(async move { Ok(id) })
    }

    fn read<'a>(
        &'a self,
        stream: &'a str,
        group: &'a str,
        consumer: &'a str,
        count: usize,
        block: Duration,
    ) -> BoxFuture<'a, Result<Vec<BusMessage>, BusError>> {
        Box::pin(async move {
            let notified = self.notify.notified();
            let got = self.take(stream, group, consumer, count);
            if !got.is_empty() || block.is_zero() {
                return Ok(got);
            }
            let _ = tokio::time::timeout(block, notified).await;
            Ok(self.take(stream, group, consumer, count))
        })
    }

    fn read_many<'a>(
        &'a self,
        streams: &'a [String],
        group: &'a str,
        consumer: &'a str,
        count: usize,
        block: Duration,
    ) -> BoxFuture<'a, Result<Vec<(String, BusMessage)>, BusError>> {
        Box::pin(async move {
            let take_all = || {
                let mut out = Vec::new();
                for s in streams {
                    let left = count.saturating_sub(out.len());
                    if left == 0 {
                        break;
                    }
                    for m in self.take(s, group, consumer, left) {
                        out.push((s.clone(), m));
                    }
                }
                out
            };
            let notified = self.notify.notified();
            let got = take_all();
            if !got.is_empty() || block.is_zero() {
                return Ok(got);
            }
            let _ = tokio::time::timeout(block, notified).await;
            Ok(take_all())
        })
    }

    fn ack<'a>(
        &'a self,
        stream: &'a str,
        group: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), BusError>> {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = streams
            .get_mut(stream)
            .and_then(|s| s.groups.get_mut(group))
        {
            for id in ids {
                if let Ok(i) = id.parse::<usize>() {
                    g.pending.remove(&i);
                }
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn lag<'a>(&'a self, stream: &'a str, group: &'a str) -> BoxFuture<'a, Result<u64, BusError>> {
        let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let lag = streams
            .get(stream)
            .map(|s| {
                let g = s.groups.get(group);
                let next = g.map_or(s.base, |g| g.next.max(s.base));
                let pending = g.map_or(0, |g| g.pending.len());
                (s.end() - next + pending) as u64
            })
            .unwrap_or(0);
        Box::pin(async move { Ok(lag) })
    }

    fn trim_acknowledged<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<u64, BusError>> {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let mut trimmed = 0;
        if let Some(s) = streams.get_mut(stream)
            && !s.groups.is_empty()
        {
            let floor = s
                .groups
                .values()
                .map(|g| {
                    g.pending
                        .keys()
                        .next()
                        .copied()
                        .unwrap_or(g.next)
                        .min(g.next)
                })
                .min()
                .unwrap_or(s.base);
            while s.base < floor && !s.entries.is_empty() {
                s.entries.pop_front();
                s.base += 1;
                trimmed += 1;
            }
        }
        Box::pin(async move { Ok(trimmed) })
    }
}

/// Redis Streams: `XADD`, `XGROUP CREATE … 0 MKSTREAM`, `XREADGROUP` (pending first, then `>`),
/// `XACK`, lag from `XINFO GROUPS`.
///
/// It survives what a Redis restart does to a consumer: a group that vanished (`NOGROUP`, a
/// Redis started empty) is created again and the read retried, and messages another consumer
/// of the group took but never acknowledged (a pod that died) are claimed by the next reader
/// once they have been idle for [`RedisBus::RECLAIM_AFTER`] (`XAUTOCLAIM`).
#[derive(Clone)]
pub struct RedisBus {
    conn: redis::aio::ConnectionManager,
    /// Blocking reads need their own connection so they do not stall other commands; one per
    /// consumer and stream, kept between reads.
    client: redis::Client,
    blocking: Arc<tokio::sync::Mutex<HashMap<String, redis::aio::MultiplexedConnection>>>,
    groups: Arc<Mutex<std::collections::HashSet<(String, String)>>>,
    reclaimed: Arc<Mutex<HashMap<(String, String), std::time::Instant>>>,
    reclaim_after: Duration,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisBus")
    }
}

fn berr(e: redis::RedisError) -> BusError {
    BusError(e.to_string())
}

/// How much longer than its `BLOCK` a blocking read may take before its connection counts as
/// broken (a Redis that stopped answering).
const BLOCKING_MARGIN: Duration = Duration::from_secs(2);

type StreamReply = Vec<(String, Vec<(String, Vec<(String, Vec<u8>)>)>)>;

impl RedisBus {
    /// Connects to `url`.
    pub async fn connect(url: &str) -> Result<RedisBus, BusError> {
        Self::connect_with(url, Self::RECLAIM_AFTER).await
    }

    /// How long a message may sit unacknowledged with another consumer before a reader of the
    /// same group takes it over.
    pub const RECLAIM_AFTER: Duration = Duration::from_secs(60);

    /// Connects to `url`, taking over other consumers' messages idle for `reclaim_after`.
    pub async fn connect_with(url: &str, reclaim_after: Duration) -> Result<RedisBus, BusError> {
        let client = redis::Client::open(url).map_err(berr)?;
        let conn = client.get_connection_manager().await.map_err(berr)?;
        Ok(RedisBus {
            conn,
            client,
            blocking: Arc::default(),
            groups: Arc::default(),
            reclaimed: Arc::default(),
            reclaim_after,
        })
    }

    fn forget_group(&self, stream: &str, group: &str) {
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(stream.to_string(), group.to_string()));
    }

    /// Claims for `consumer` the messages of other consumers of `group` idle longer than
    /// `reclaim_after`, at most once per `reclaim_after / 4` per stream and group.
    async fn reclaim(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
    ) -> Result<(), redis::RedisError> {
        let key = (stream.to_string(), group.to_string());
        let every = self.reclaim_after / 4;
        {
            let mut last = self.reclaimed.lock().unwrap_or_else(|p| p.into_inner());
            let now = std::time::Instant::now();
            if last
                .get(&key)
                .is_some_and(|t| now.duration_since(*t) < every)
            {
                return Ok(());
            }
            last.insert(key, now);
        }
        let mut c = self.conn.clone();
        let _: redis::Value = redis::cmd("XAUTOCLAIM")
            .arg(stream)
            .arg(group)
            .arg(consumer)
            .arg(self.reclaim_after.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .arg("JUSTID")
            .query_async(&mut c)
            .await?;
        Ok(())
    }

    async fn read_once(
        &self,
        streams: &[String],
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<(String, BusMessage)>, redis::RedisError> {
        for stream in streams {
            self.reclaim(stream, group, consumer, count).await?;
        }
        let mut c = self.conn.clone();
        let pending: Option<StreamReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(streams)
            .arg(vec!["0"; streams.len()])
            .query_async(&mut c)
            .await?;
        let pending = pending.map(Self::flatten).unwrap_or_default();
        if !pending.is_empty() {
            return Ok(pending);
        }
        let slot = format!("{}\u{1f}{group}\u{1f}{consumer}", streams.join(","));
        let mut blocking = {
            let cached = self.blocking.lock().await.get(&slot).cloned();
            match cached {
                Some(conn) => conn,
                None => {
                    // No response timeout of the client's own (500 ms by default, shorter
                    // than a blocking read): the read below is bounded by its block instead.
                    let cfg = redis::AsyncConnectionConfig::new().set_response_timeout(None);
                    let conn = self
                        .client
                        .get_multiplexed_async_connection_with_config(&cfg)
                        .await?;
                    self.blocking
                        .lock()
                        .await
                        .insert(slot.clone(), conn.clone());
                    conn
                }
            }
        };
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count);
        // BLOCK 0 would wait for ever: a zero wait is a plain read.
        if !block.is_zero() {
            cmd.arg("BLOCK").arg(block.as_millis().max(1) as u64);
        }
        cmd.arg("STREAMS")
            .arg(streams)
            .arg(vec![">"; streams.len()]);
        let read = cmd.query_async::<Option<StreamReply>>(&mut blocking);
        let fresh = match tokio::time::timeout(block + BLOCKING_MARGIN, read).await {
            Ok(answer) => answer,
            Err(_) => Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "blocking read: no answer within its block",
            ))),
        };
        if fresh.is_err() {
            // A broken connection is not reused.
            self.blocking.lock().await.remove(&slot);
        }
        Ok(fresh?.map(Self::flatten).unwrap_or_default())
    }

    async fn ensure_group(&self, stream: &str, group: &str) -> Result<(), BusError> {
        let key = (stream.to_string(), group.to_string());
        if self
            .groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&key)
        {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let r: Result<String, _> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg(group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut c)
            .await;
        match r {
            Ok(_) => {}
            Err(e) if e.to_string().contains("BUSYGROUP") => {}
            Err(e) => return Err(berr(e)),
        }
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key);
        Ok(())
    }

    fn flatten(reply: StreamReply) -> Vec<(String, BusMessage)> {
        let mut out = Vec::new();
        for (stream, entries) in reply {
            for (id, fields) in entries {
                let mut m = BusMessage {
                    id,
                    ..BusMessage::default()
                };
                for (k, v) in fields {
                    match k.as_str() {
                        "event_id" => m.event_id = String::from_utf8_lossy(&v).into_owned(),
                        "payload" => m.payload = v,
                        "seq" => {
                            m.seq = std::str::from_utf8(&v)
                                .ok()
                                .and_then(|t| t.parse().ok())
                                .unwrap_or(0)
                        }
                        "hb" => m.heartbeat = v == b"1",
                        "tp" => m.trace_parent = String::from_utf8_lossy(&v).into_owned(),
                        _ => {}
                    }
                }
                out.push((stream.clone(), m));
            }
        }
        out
    }
}

impl Bus for RedisBus {
    fn append<'a>(
        &'a self,
        stream: &'a str,
        env: Envelope<'a>,
        max_len: Option<u64>,
    ) -> BoxFuture<'a, Result<String, BusError>> {
        let mut c = self.conn.clone();
        Box::pin(async move {
            let mut cmd = redis::cmd("XADD");
            cmd.arg(stream);
            if let Some(max) = max_len {
                cmd.arg("MAXLEN").arg("~").arg(max);
            }
            cmd.arg("*")
                .arg("event_id")
                .arg(env.event_id)
                .arg("payload")
                .arg(env.payload);
            if env.seq != 0 {
                cmd.arg("seq").arg(env.seq);
            }
            if env.heartbeat {
                cmd.arg("hb").arg("1");
            }
            if !env.trace_parent.is_empty() {
                cmd.arg("tp").arg(env.trace_parent);
            }
            cmd.query_async(&mut c).await.map_err(berr)
        })
    }

    fn read<'a>(
        &'a self,
        stream: &'a str,
        group: &'a str,
        consumer: &'a str,
        count: usize,
        block: Duration,
    ) -> BoxFuture<'a, Result<Vec<BusMessage>, BusError>> {
        Box::pin(async move {
            let streams = [stream.to_string()];
            let got = self
                .read_many(&streams, group, consumer, count, block)
                .await?;
            Ok(got.into_iter().map(|(_, m)| m).collect())
        })
    }

    fn read_many<'a>(
        &'a self,
        streams: &'a [String],
        group: &'a str,
        consumer: &'a str,
        count: usize,
        block: Duration,
    ) -> BoxFuture<'a, Result<Vec<(String, BusMessage)>, BusError>> {
        Box::pin(async move {
            if streams.is_empty() {
                if !block.is_zero() {
                    tokio::time::sleep(block).await;
                }
                return Ok(Vec::new());
            }
            for s in streams {
                self.ensure_group(s, group).await?;
            }
            match self.read_once(streams, group, consumer, count, block).await {
                Err(e) if e.to_string().contains("NOGROUP") => {
                    // Redis lost a group (restarted empty, or the stream was deleted):
                    // create it again from the start of what the stream now holds.
                    tracing::warn!(?streams, group, "consumer group missing; creating it again");
                    for s in streams {
                        self.forget_group(s, group);
                        self.ensure_group(s, group).await?;
                    }
                    self.read_once(streams, group, consumer, count, block)
                        .await
                        .map_err(berr)
                }
                other => other.map_err(berr),
            }
        })
    }

    fn ack<'a>(
        &'a self,
        stream: &'a str,
        group: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), BusError>> {
        let mut c = self.conn.clone();
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(());
            }
            redis::cmd("XACK")
                .arg(stream)
                .arg(group)
                .arg(ids)
                .query_async::<i64>(&mut c)
                .await
                .map(|_| ())
                .map_err(berr)
        })
    }

    fn lag<'a>(&'a self, stream: &'a str, group: &'a str) -> BoxFuture<'a, Result<u64, BusError>> {
        Box::pin(async move {
            self.ensure_group(stream, group).await?;
            let mut c = self.conn.clone();
            let groups: Vec<HashMap<String, redis::Value>> = redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(stream)
                .query_async(&mut c)
                .await
                .map_err(berr)?;
            let num = |v: Option<&redis::Value>| match v {
                Some(redis::Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
                _ => 0,
            };
            Ok(groups
                .iter()
                .find(|g| matches!(g.get("name"), Some(redis::Value::BulkString(n)) if n == group.as_bytes()))
                .map(|g| num(g.get("lag")) + num(g.get("pending")))
                .unwrap_or(0))
        })
    }

    fn trim_acknowledged<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<u64, BusError>> {
        Box::pin(async move {
            let mut c = self.conn.clone();
            let groups: Vec<HashMap<String, redis::Value>> = match redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(stream)
                .query_async(&mut c)
                .await
            {
                Ok(g) => g,
                // No such stream: nothing to trim.
                Err(e) if e.to_string().contains("no such key") => return Ok(0),
                Err(e) => return Err(berr(e)),
            };
            if groups.is_empty() {
                return Ok(0);
            }
            // The floor: for each group, its oldest unacknowledged entry, or else the last one
            // it was given; the stream keeps everything from the lowest floor on.
            let mut floor: Option<(u64, u64)> = None;
            for g in &groups {
                let text = |k: &str| match g.get(k) {
                    Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                    Some(redis::Value::SimpleString(s)) => s.clone(),
                    _ => String::new(),
                };
                let name = text("name");
                let pending: Vec<redis::Value> = redis::cmd("XPENDING")
                    .arg(stream)
                    .arg(&name)
                    .query_async(&mut c)
                    .await
                    .map_err(berr)?;
                let oldest = match pending.get(1) {
                    Some(redis::Value::BulkString(b)) => {
                        Some(String::from_utf8_lossy(b).into_owned())
                    }
                    _ => None,
                };
                let g_floor = match oldest {
                    Some(id) => parse_id(&id),
                    // Everything delivered was acknowledged: keep from just after the last.
                    None => parse_id(&text("last-delivered-id")).map(|(ms, n)| (ms, n + 1)),
                };
                let Some(g_floor) = g_floor else {
                    return Ok(0);
                };
                floor = Some(floor.map_or(g_floor, |f| f.min(g_floor)));
            }
            let Some((ms, n)) = floor else {
                return Ok(0);
            };
            redis::cmd("XTRIM")
                .arg(stream)
                .arg("MINID")
                .arg(format!("{ms}-{n}"))
                .query_async::<u64>(&mut c)
                .await
                .map_err(berr)
        })
    }
}

/// A Redis stream entry id `ms-n` as numbers.
fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, n) = id.split_once('-')?;
    Some((ms.parse().ok()?, n.parse().ok()?))
}

/// The bus for a configuration: Redis Streams when a URL is set, otherwise in-process.
pub async fn from_config(cfg: &crate::config::RedisConfig) -> Result<Arc<dyn Bus>, BusError> {
    if cfg.url.is_empty() {
        Ok(Arc::new(MemoryBus::new()))
    } else {
        Ok(Arc::new(RedisBus::connect(&cfg.url).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract both implementations keep, including redelivery after a crash.
    async fn at_least_once(bus: &dyn Bus, stream: &str) {
        for i in 0..5 {
            bus.publish(stream, &format!("ev-{i}"), format!("p{i}").as_bytes())
                .await
                .unwrap_or_default();
        }
        let first = bus
            .read(stream, "g", "c1", 3, Duration::from_millis(10))
            .await
            .unwrap_or_default();
        assert_eq!(
            first
                .iter()
                .map(|m| m.event_id.as_str())
                .collect::<Vec<_>>(),
            ["ev-0", "ev-1", "ev-2"]
        );
        assert_eq!(bus.lag(stream, "g").await.unwrap_or(0), 5);
        // "Crash" before acking: the same consumer gets the same messages again.
        let again = bus
            .read(stream, "g", "c1", 3, Duration::from_millis(10))
            .await
            .unwrap_or_default();
        assert_eq!(again, first);
        let ids: Vec<String> = first.iter().map(|m| m.id.clone()).collect();
        bus.ack(stream, "g", &ids).await.ok();
        let rest = bus
            .read(stream, "g", "c1", 10, Duration::from_millis(10))
            .await
            .unwrap_or_default();
        assert_eq!(
            rest.iter().map(|m| m.event_id.as_str()).collect::<Vec<_>>(),
            ["ev-3", "ev-4"]
        );
        assert_eq!(rest[1].payload, b"p4");
        let ids: Vec<String> = rest.iter().map(|m| m.id.clone()).collect();
        bus.ack(stream, "g", &ids).await.ok();
        assert_eq!(bus.lag(stream, "g").await.unwrap_or(99), 0);
        // A second group sees everything from the beginning.
        let other = bus
            .read(stream, "g2", "x", 10, Duration::from_millis(10))
            .await
            .unwrap_or_default();
        assert_eq!(other.len(), 5);
    }

    #[tokio::test]
    async fn memory_bus_delivers_at_least_once() {
        at_least_once(&MemoryBus::new(), "s").await;
    }

    /// An event's sequence number and trace context come out as they went in; a heartbeat
    /// carries none.
    async fn carries_seq_and_trace_parent(bus: &dyn Bus, stream: &str) {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let event = Envelope {
            event_id: "e1",
            payload: b"p",
            seq: 7,
            heartbeat: false,
            trace_parent: tp,
        };
        let beat = Envelope {
            event_id: "",
            payload: &[],
            seq: 7,
            heartbeat: true,
            trace_parent: "",
        };
        bus.append(stream, event, Some(1000))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        bus.append(stream, beat, Some(1000))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got = bus
            .read(stream, "g", "c", 10, Duration::from_millis(10))
            .await
            .unwrap_or_default();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].seq, got[0].trace_parent.as_str()), (7, tp));
        assert!(got[1].heartbeat && got[1].trace_parent.is_empty());
    }

    #[tokio::test]
    async fn the_trace_context_travels_with_the_event() {
        carries_seq_and_trace_parent(&MemoryBus::new(), "s").await;
        if let Ok(url) = std::env::var("YIBAO_TEST_REDIS_URL") {
            let bus = RedisBus::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("redis at {url}: {e}"));
            let stream = format!("test-stream-{}", uuid::Uuid::new_v4());
            carries_seq_and_trace_parent(&bus, &stream).await;
            let client = redis::Client::open(url.as_str()).unwrap_or_else(|e| panic!("{e}"));
            let mut c = client
                .get_multiplexed_async_connection()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let _: i64 = redis::cmd("DEL")
                .arg(&stream)
                .query_async(&mut c)
                .await
                .unwrap_or_default();
        }
    }

    #[tokio::test]
    async fn memory_bus_wakes_a_blocked_reader() {
        let bus = MemoryBus::new();
        let b2 = bus.clone();
        let reader =
            tokio::spawn(async move { b2.read("s", "g", "c", 1, Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        bus.publish("s", "e", b"x").await.ok();
        let got = reader.await.ok().and_then(Result::ok).unwrap_or_default();
        assert_eq!(got.len(), 1);
    }

    #[tokio::test]
    async fn redis_bus_recreates_a_lost_group_and_takes_over_a_dead_consumers_messages() {
        let Ok(url) = std::env::var("YIBAO_TEST_REDIS_URL") else {
            return;
        };
        let bus = RedisBus::connect_with(&url, Duration::from_millis(200))
            .await
            .unwrap_or_else(|e| panic!("redis at {url}: {e}"));
        let stream = format!("test-stream-{}", uuid::Uuid::new_v4());
        for i in 0..3 {
            bus.publish(&stream, &format!("ev-{i}"), b"p")
                .await
                .unwrap_or_default();
        }
        // c1 takes all three and dies without acknowledging.
        let taken = bus
            .read(&stream, "g", "c1", 10, Duration::from_millis(10))
            .await
            .unwrap_or_default();
        assert_eq!(taken.len(), 3);
        assert!(
            bus.read(&stream, "g", "c2", 10, Duration::from_millis(10))
                .await
                .unwrap_or_default()
                .is_empty()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let reclaimed = bus
            .read(&stream, "g", "c2", 10, Duration::from_millis(10))
            .await
            .unwrap_or_default();
        assert_eq!(
            reclaimed
                .iter()
                .map(|m| m.event_id.as_str())
                .collect::<Vec<_>>(),
            ["ev-0", "ev-1", "ev-2"]
        );
        let ids: Vec<String> = reclaimed.iter().map(|m| m.id.clone()).collect();
        bus.ack(&stream, "g", &ids)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // Redis loses the stream and its groups (a restart without persistence).
        let client = redis::Client::open(url.as_str()).unwrap_or_else(|e| panic!("{e}"));
        let mut c = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let _: i64 = redis::cmd("DEL")
            .arg(&stream)
            .query_async(&mut c)
            .await
            .unwrap_or_default();
        bus.publish(&stream, "ev-after", b"q")
            .await
            .unwrap_or_default();
        let after = bus
            .read(&stream, "g", "c2", 10, Duration::from_millis(10))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            after
                .iter()
                .map(|m| m.event_id.as_str())
                .collect::<Vec<_>>(),
            ["ev-after"]
        );
        let _: i64 = redis::cmd("DEL")
            .arg(&stream)
            .query_async(&mut c)
            .await
            .unwrap_or_default();
    }

    #[tokio::test]
    async fn redis_bus_delivers_at_least_once() {
        let Ok(url) = std::env::var("YIBAO_TEST_REDIS_URL") else {
            return;
        };
        let bus = RedisBus::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("redis at {url}: {e}"));
        at_least_once(&bus, &format!("test-stream-{}", uuid::Uuid::new_v4())).await;
    }

    #[tokio::test]
    async fn a_blocking_read_longer_than_the_clients_response_timeout_waits_its_block() {
        let Ok(url) = std::env::var("YIBAO_TEST_REDIS_URL") else {
            return;
        };
        let bus = RedisBus::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("redis at {url}: {e}"));
        let stream = format!("test-stream-{}", uuid::Uuid::new_v4());
        // 1.2 s: longer than redis-rs's default response timeout (500 ms), which failed such a
        // read as "timed out" before; an empty stream answers nothing after the block.
        let started = std::time::Instant::now();
        for _ in 0..2 {
            let got = bus
                .read(&stream, "g", "c", 10, Duration::from_millis(1200))
                .await
                .unwrap_or_else(|e| panic!("an idle blocking read failed: {e}"));
            assert!(got.is_empty());
        }
        assert!(started.elapsed() >= Duration::from_millis(2400));
        bus.publish(&stream, "ev-1", b"x")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got = bus
            .read(&stream, "g", "c", 10, Duration::from_millis(1200))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), 1);
        let mut c = bus.conn.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(&stream)
            .query_async(&mut c)
            .await
            .unwrap_or_default();
    }
}
