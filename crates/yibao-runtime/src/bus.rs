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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    /// Position in the stream (Redis entry id), used to acknowledge.
    pub id: String,
    /// Stable id of the event, for idempotent consumers.
    pub event_id: String,
    /// The encoded event.
    pub payload: Vec<u8>,
}

/// Streams with consumer groups.
pub trait Bus: Send + Sync + std::fmt::Debug {
    /// Appends an event; returns its stream position.
    fn publish<'a>(
        &'a self,
        stream: &'a str,
        event_id: &'a str,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<String, BusError>>;
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
}

#[derive(Debug, Default)]
struct MemGroup {
    next: usize,
    pending: BTreeMap<usize, String>,
}

#[derive(Debug, Default)]
struct MemStream {
    entries: Vec<(String, Vec<u8>)>,
    groups: HashMap<String, MemGroup>,
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

    fn take(&self, stream: &str, group: &str, consumer: &str, count: usize) -> Vec<BusMessage> {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let s = streams.entry(stream.to_string()).or_default();
        let MemStream { entries, groups } = s;
        let g = groups.entry(group.to_string()).or_default();
        let mut out: Vec<BusMessage> = g
            .pending
            .iter()
            .filter(|(_, c)| c.as_str() == consumer)
            .take(count)
            .filter_map(|(i, _)| {
                entries.get(*i).map(|(e, p)| BusMessage {
                    id: i.to_string(),
                    event_id: e.clone(),
                    payload: p.clone(),
                })
            })
            .collect();
        // Re-deliveries come first; new messages only when nothing of ours is pending.
        if out.is_empty() {
            while out.len() < count && g.next < entries.len() {
                let i = g.next;
                g.next += 1;
                g.pending.insert(i, consumer.to_string());
                let (e, p) = &entries[i];
                out.push(BusMessage {
                    id: i.to_string(),
                    event_id: e.clone(),
                    payload: p.clone(),
                });
            }
        }
        out
    }
}

impl Bus for MemoryBus {
    fn publish<'a>(
        &'a self,
        stream: &'a str,
        event_id: &'a str,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<String, BusError>> {
        let id = {
            let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            let s = streams.entry(stream.to_string()).or_default();
            s.entries.push((event_id.to_string(), payload.to_vec()));
            (s.entries.len() - 1).to_string()
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
                let next = g.map_or(0, |g| g.next);
                let pending = g.map_or(0, |g| g.pending.len());
                (s.entries.len() - next + pending) as u64
            })
            .unwrap_or(0);
        Box::pin(async move { Ok(lag) })
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
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<BusMessage>, redis::RedisError> {
        self.reclaim(stream, group, consumer, count).await?;
        let mut c = self.conn.clone();
        let pending: Option<StreamReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(stream)
            .arg("0")
            .query_async(&mut c)
            .await?;
        let pending = pending.map(Self::flatten).unwrap_or_default();
        if !pending.is_empty() {
            return Ok(pending);
        }
        let slot = format!("{stream}\u{1f}{group}\u{1f}{consumer}");
        let mut blocking = {
            let cached = self.blocking.lock().await.get(&slot).cloned();
            match cached {
                Some(conn) => conn,
                None => {
                    let conn = self.client.get_multiplexed_async_connection().await?;
                    self.blocking
                        .lock()
                        .await
                        .insert(slot.clone(), conn.clone());
                    conn
                }
            }
        };
        let fresh: Result<Option<StreamReply>, _> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(stream)
            .arg(">")
            .query_async(&mut blocking)
            .await;
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

    fn flatten(reply: StreamReply) -> Vec<BusMessage> {
        reply
            .into_iter()
            .flat_map(|(_, entries)| entries)
            .map(|(id, fields)| {
                let mut event_id = String::new();
                let mut payload = Vec::new();
                for (k, v) in fields {
                    match k.as_str() {
                        "event_id" => event_id = String::from_utf8_lossy(&v).into_owned(),
                        "payload" => payload = v,
                        _ => {}
                    }
                }
                BusMessage {
                    id,
                    event_id,
                    payload,
                }
            })
            .collect()
    }
}

impl Bus for RedisBus {
    fn publish<'a>(
        &'a self,
        stream: &'a str,
        event_id: &'a str,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<String, BusError>> {
        let mut c = self.conn.clone();
        Box::pin(async move {
            redis::cmd("XADD")
                .arg(stream)
                .arg("*")
                .arg("event_id")
                .arg(event_id)
                .arg("payload")
                .arg(payload)
                .query_async(&mut c)
                .await
                .map_err(berr)
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
            self.ensure_group(stream, group).await?;
            match self.read_once(stream, group, consumer, count, block).await {
                Err(e) if e.to_string().contains("NOGROUP") => {
                    // Redis lost the group (restarted empty, or the stream was deleted):
                    // create it again from the start of what the stream now holds.
                    tracing::warn!(stream, group, "consumer group missing; creating it again");
                    self.forget_group(stream, group);
                    self.ensure_group(stream, group).await?;
                    self.read_once(stream, group, consumer, count, block)
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
}
