//! A small key-value cache with expiry behind one trait: Redis in production, in-process
//! when embedded. Cache failures are never fatal: callers treat an error as a miss and fall
//! back to the database.
//!
//! ## When Redis cannot be reached
//! - **Start**: [`RedisCache::connect`] connects lazily, so a service starts (and answers from
//!   its database) while Redis is down; only a malformed URL is refused.
//! - **Fast fallthrough**: a call that fails because Redis is unreachable (refused, reset,
//!   timed out: [`CALL_TIMEOUT`] bounds every call, reconnecting included) opens a circuit: for
//!   a back-off of [`BACKOFF_MIN`] doubling to [`BACKOFF_MAX`] every call fails at once with a
//!   [`CacheError`] without touching the network; then one call is let through as a probe
//!   (the others still fail at once), and its success closes the circuit. So during an outage
//!   a caller pays nothing but its database read, and at most one call per back-off waits.
//!   An error Redis itself answers (a wrong type, say) does not open the circuit.
//! - **Writes and invalidations** fail the same way and are never fatal to the request that
//!   made them. A failed `set` costs a later miss. A call that timed out may still be carried
//!   out later (a frozen server runs what its socket holds when it resumes), so a caller must
//!   count a timed-out `delete` as failed and a timed-out `set` as possibly done.
//!
//! ## Staleness: an invalidation that failed
//! A failed `delete` leaves the old entry in Redis. Redis may come back with its data
//! (persistence), or may have been down only for the replica that tried (a partition), and the
//! entry would then be served until its TTL. This cache cannot prevent that by itself — the
//! replica that failed cannot reach Redis, and the others learn nothing through it — so a user
//! whose entries must not outlive a change fences them through its **source of truth**: an
//! epoch kept in its own database is part of every key; a failed invalidation bumps the epoch
//! in that database, every replica re-reads it every second, and an invalidation deletes the
//! keys of the recent epochs, so no replica reads an entry under the old epoch again — the
//! replica that changed the record at once, every other within a second — whether Redis
//! returns empty, with its data, or was never down for the others. Entries of old epochs are
//! never read again and expire by their TTL. Enrollment's eligibility cache does this
//! (`yibao_enrollment::app::eligibility`). Users whose entries are safe to serve until their
//! TTL (procurement's payment standards are re-validated on change; idempotency keys only
//! ever get more conservative) need nothing more.

use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `tracing` target of the Redis client spans.
pub const REDIS_SPAN_TARGET: &str = "yibao_runtime::redis";

/// The longest a Redis call may take, waiting for a (re)connection included; past it the call
/// fails as if Redis were unreachable.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(1_000);
/// The first back-off of an open circuit.
pub const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// The longest back-off of an open circuit (so recovery is noticed within it).
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// A cache failure (the caller falls back to the source of truth).
#[derive(Debug, thiserror::Error)]
#[error("cache: {0}")]
pub struct CacheError(pub String);

/// Get, set with expiry, delete.
pub trait Cache: Send + Sync + std::fmt::Debug {
    /// Reads a value.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>>;
    /// Writes a value that expires after `ttl`.
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>>;
    /// Deletes keys.
    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), CacheError>>;
    /// Sets a value only when the key is absent; true when it was set (idempotency keys).
    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, CacheError>>;
    /// Increments a counter that expires after `ttl` from its creation; returns the new value.
    fn incr<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<i64, CacheError>>;
}

/// Values of the in-process cache with their expiry.
type Entries = HashMap<String, (Vec<u8>, Instant)>;

/// In-process cache, bounded: expired entries are swept when it grows past its capacity.
#[derive(Debug, Clone)]
pub struct MemoryCache {
    inner: Arc<Mutex<Entries>>,
    capacity: usize,
}

impl MemoryCache {
    /// A cache holding at most about `capacity` live entries.
    pub fn new(capacity: usize) -> MemoryCache {
        MemoryCache {
            inner: Arc::new(Mutex::new(HashMap::new())),
            capacity,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (Vec<u8>, Instant)>) -> T) -> T {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut map)
    }

    fn sweep(map: &mut HashMap<String, (Vec<u8>, Instant)>, capacity: usize) {
        if map.len() >= capacity {
            let now = Instant::now();
            map.retain(|_, (_, exp)| *exp > now);
            if map.len() >= capacity {
                map.clear();
            }
        }
    }
}

impl Cache for MemoryCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        let v = self.with(|m| {
            m.get(key)
                .filter(|(_, exp)| *exp > Instant::now())
                .map(|(v, _)| v.clone())
        });
        Box::pin(async move { Ok(v) })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        let cap = self.capacity;
        self.with(|m| {
            Self::sweep(m, cap);
            m.insert(key.to_string(), (value, Instant::now() + ttl));
        });
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), CacheError>> {
        self.with(|m| {
            keys.iter().for_each(|k| {
                m.remove(k);
            })
        });
        Box::pin(async { Ok(()) })
    }

    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, CacheError>> {
        let cap = self.capacity;
        let set = self.with(|m| {
            let now = Instant::now();
            if m.get(key).is_some_and(|(_, exp)| *exp > now) {
                return false;
            }
            Self::sweep(m, cap);
            m.insert(key.to_string(), (value, now + ttl));
            true
        });
        Box::pin(async move { Ok(set) })
    }

    fn incr<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<i64, CacheError>> {
        let cap = self.capacity;
        let n = self.with(|m| {
            let now = Instant::now();
            let live = m
                .get(key)
                .filter(|(_, exp)| *exp > now)
                .map(|(v, exp)| (decode_i64(v), *exp));
            let (n, exp) = match live {
                Some((n, exp)) => (n + 1, exp),
                None => {
                    Self::sweep(m, cap);
                    (1, now + ttl)
                }
            };
            m.insert(key.to_string(), (n.to_le_bytes().to_vec(), exp));
            n
        });
        Box::pin(async move { Ok(n) })
    }
}

fn decode_i64(v: &[u8]) -> i64 {
    <[u8; 8]>::try_from(v).map(i64::from_le_bytes).unwrap_or(0)
}

/// The circuit of a Redis cache: closed while Redis answers; open (failing at once) for a
/// back-off after it could not be reached; half open while one probe is out.
#[derive(Debug, Default)]
struct Breaker {
    /// Calls fail at once until then.
    open_until: Option<Instant>,
    /// A probe is out: the other calls fail at once until it returns.
    probing: bool,
    /// Failures in a row (sets the back-off).
    failures: u32,
}

/// What the circuit lets a call do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admit {
    /// Closed: go ahead.
    Call,
    /// Half open: go ahead as the probe.
    Probe,
}

#[derive(Debug, Default)]
struct Health {
    breaker: Mutex<Breaker>,
    /// Times the circuit opened.
    outages: AtomicU64,
}

impl Health {
    fn with<T>(&self, f: impl FnOnce(&mut Breaker) -> T) -> T {
        let mut b = self.breaker.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut b)
    }

    fn admit(&self) -> Result<Admit, CacheError> {
        self.with(|b| match b.open_until {
            None => Ok(Admit::Call),
            Some(until) if Instant::now() < until || b.probing => Err(CacheError(
                "redis unreachable; not retried until the back-off ends".into(),
            )),
            Some(_) => {
                b.probing = true;
                Ok(Admit::Probe)
            }
        })
    }

    /// Redis answered (a value or an error of its own).
    fn answered(&self) {
        self.with(|b| *b = Breaker::default());
    }

    /// Redis could not be reached.
    fn unreachable(&self, admit: Admit) {
        let opened = self.with(|b| {
            // A call admitted while closed that fails after another already opened the
            // circuit does not extend it; a probe's failure does.
            if admit == Admit::Call && b.open_until.is_some() {
                return false;
            }
            b.failures = b.failures.saturating_add(1);
            let shift = b.failures.saturating_sub(1).min(8);
            let backoff = BACKOFF_MIN.saturating_mul(1 << shift).min(BACKOFF_MAX);
            let was_closed = b.open_until.is_none();
            b.open_until = Some(Instant::now() + backoff);
            b.probing = false;
            was_closed
        });
        if opened {
            self.outages.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Redis-backed cache over a multiplexed, auto-reconnecting connection, connected lazily and
/// behind a circuit breaker (see the module documentation).
#[derive(Clone)]
pub struct RedisCache {
    conn: redis::aio::ConnectionManager,
    health: Arc<Health>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisCache")
    }
}

/// True when a Redis error means it could not be reached (rather than an answer of its own).
fn is_unreachable(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

impl RedisCache {
    /// A cache on the Redis at `url`, connected on first use: it is created whether or not
    /// Redis can be reached now; only a malformed URL is refused.
    pub async fn connect(url: &str) -> Result<RedisCache, CacheError> {
        let client = redis::Client::open(url).map_err(|e| CacheError(e.to_string()))?;
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        let conn = redis::aio::ConnectionManager::new_lazy_with_config(client, cfg)
            .map_err(|e| CacheError(e.to_string()))?;
        Ok(RedisCache {
            conn,
            health: Arc::default(),
        })
    }

    /// True unless the circuit is open (Redis was unreachable and the back-off has not ended).
    pub fn is_available(&self) -> bool {
        self.health.with(|b| b.open_until.is_none())
    }

    /// Times the circuit has opened since the cache was created.
    pub fn outages(&self) -> u64 {
        self.health.outages.load(Ordering::Relaxed)
    }

    /// Runs one call (the command `op`) through the circuit, bounded by [`CALL_TIMEOUT`], as
    /// a client span `op` with `db.system` `redis` below the caller's span (none outside
    /// one: [`crate::telemetry`] drops a Redis span without a parent).
    async fn call<T>(
        &self,
        op: &'static str,
        f: impl Future<Output = Result<T, redis::RedisError>>,
    ) -> Result<T, CacheError> {
        let span = tracing::info_span!(
            target: REDIS_SPAN_TARGET,
            "redis",
            otel.name = op,
            otel.kind = "client",
            db.system = "redis",
            db.operation.name = op,
            otel.status_code = tracing::field::Empty,
        );
        let r = tracing::Instrument::instrument(self.call_unspanned(f), span.clone()).await;
        if r.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        r
    }

    async fn call_unspanned<T>(
        &self,
        f: impl Future<Output = Result<T, redis::RedisError>>,
    ) -> Result<T, CacheError> {
        let admit = self.health.admit()?;
        let mut out = Outstanding {
            health: &self.health,
            admit,
            settled: false,
        };
        let r = tokio::time::timeout(CALL_TIMEOUT, f).await;
        out.settled = true;
        match r {
            Ok(Ok(v)) => {
                self.health.answered();
                Ok(v)
            }
            Ok(Err(e)) if is_unreachable(&e) => {
                self.health.unreachable(admit);
                Err(rerr(e))
            }
            Ok(Err(e)) => {
                self.health.answered();
                Err(rerr(e))
            }
            Err(_) => {
                self.health.unreachable(admit);
                Err(CacheError(format!(
                    "redis did not answer within {} ms",
                    CALL_TIMEOUT.as_millis()
                )))
            }
        }
    }
}

/// A call let through the circuit; a probe dropped before it settled (its caller gave up)
/// hands the probe on to the next call instead of keeping the circuit open for good.
struct Outstanding<'a> {
    health: &'a Health,
    admit: Admit,
    settled: bool,
}

impl Drop for Outstanding<'_> {
    fn drop(&mut self) {
        if !self.settled && self.admit == Admit::Probe {
            self.health.with(|b| b.probing = false);
        }
    }
}

fn rerr(e: redis::RedisError) -> CacheError {
    CacheError(e.to_string())
}

impl Cache for RedisCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        let mut c = self.conn.clone();
        Box::pin(self.call("GET", async move {
            redis::cmd("GET").arg(key).query_async(&mut c).await
        }))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        let mut c = self.conn.clone();
        let ms = ttl.as_millis().max(1) as u64;
        Box::pin(self.call("SET", async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ms)
                .query_async(&mut c)
                .await
        }))
    }

    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), CacheError>> {
        let mut c = self.conn.clone();
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(());
            }
            self.call("DEL", async move {
                redis::cmd("DEL")
                    .arg(keys)
                    .query_async::<i64>(&mut c)
                    .await
                    .map(|_| ())
            })
            .await
        })
    }

    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, CacheError>> {
        let mut c = self.conn.clone();
        let ms = ttl.as_millis().max(1) as u64;
        Box::pin(self.call("SET", async move {
            let r: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query_async(&mut c)
                .await?;
            Ok(r.is_some())
        }))
    }

    fn incr<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<i64, CacheError>> {
        let mut c = self.conn.clone();
        let ms = ttl.as_millis().max(1) as u64;
        Box::pin(self.call("INCR", async move {
            let (n, _): (i64, i64) = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(key)
                .cmd("PEXPIRE")
                .arg(key)
                .arg(ms)
                .arg("NX")
                .query_async(&mut c)
                .await?;
            Ok(n)
        }))
    }
}

/// The cache for a configuration: Redis when a URL is set, otherwise in-process.
pub async fn from_config(cfg: &crate::config::RedisConfig) -> Result<Arc<dyn Cache>, CacheError> {
    if cfg.url.is_empty() {
        Ok(Arc::new(MemoryCache::new(100_000)))
    } else {
        Ok(Arc::new(RedisCache::connect(&cfg.url).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exercise(c: &dyn Cache, prefix: &str) {
        let k = format!("{prefix}:k");
        assert_eq!(c.get(&k).await.ok().flatten(), None);
        c.set(&k, b"v".to_vec(), Duration::from_secs(5)).await.ok();
        assert_eq!(c.get(&k).await.ok().flatten(), Some(b"v".to_vec()));
        c.delete(std::slice::from_ref(&k)).await.ok();
        assert_eq!(c.get(&k).await.ok().flatten(), None);
        let once = format!("{prefix}:once");
        assert!(
            c.set_if_absent(&once, b"1".to_vec(), Duration::from_secs(5))
                .await
                .unwrap_or(false)
        );
        assert!(
            !c.set_if_absent(&once, b"2".to_vec(), Duration::from_secs(5))
                .await
                .unwrap_or(true)
        );
        let n = format!("{prefix}:n");
        assert_eq!(c.incr(&n, Duration::from_secs(5)).await.ok(), Some(1));
        assert_eq!(c.incr(&n, Duration::from_secs(5)).await.ok(), Some(2));
        let short = format!("{prefix}:short");
        c.set(&short, b"x".to_vec(), Duration::from_millis(30))
            .await
            .ok();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(c.get(&short).await.ok().flatten(), None);
    }

    #[tokio::test]
    async fn memory_cache_behaves_like_redis() {
        exercise(&MemoryCache::new(16), "mem").await;
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_fast_and_its_circuit_lets_one_probe_through() {
        // A real client on a port where nothing listens: connecting is refused.
        let c = RedisCache::connect("redis://127.0.0.1:1/")
            .await
            .unwrap_or_else(|e| panic!("a lazy connection is created without Redis: {e}"));
        assert!(c.is_available());
        let t = Instant::now();
        assert!(c.get("k").await.is_err());
        assert!(!c.is_available(), "the failure opened the circuit");
        assert_eq!(c.outages(), 1);
        // While it is open, every call fails at once without touching the network.
        let open = Instant::now();
        for _ in 0..100 {
            assert!(c.get("k").await.is_err());
            assert!(
                c.set("k", b"v".to_vec(), Duration::from_secs(1))
                    .await
                    .is_err()
            );
            assert!(c.delete(&["k".to_string()]).await.is_err());
        }
        assert!(
            open.elapsed() < Duration::from_millis(100),
            "{:?}",
            open.elapsed()
        );
        assert!(t.elapsed() < CALL_TIMEOUT * 2, "{:?}", t.elapsed());
        // After the back-off one call probes; it fails again and the circuit stays open,
        // once: an outage is counted when the circuit opens, not per probe.
        tokio::time::sleep(BACKOFF_MIN + Duration::from_millis(50)).await;
        assert!(c.get("k").await.is_err());
        assert!(!c.is_available());
        assert_eq!(c.outages(), 1);
        assert!(c.delete(&[]).await.is_ok(), "deleting nothing asks nothing");
    }

    #[test]
    fn the_circuit_backs_off_doubling_up_to_its_maximum_and_closes_on_an_answer() {
        let h = Health::default();
        assert_eq!(h.admit().ok(), Some(Admit::Call));
        let backoff = |h: &Health| {
            h.with(|b| b.open_until)
                .map(|u| u.saturating_duration_since(Instant::now()))
                .unwrap_or_default()
        };
        h.unreachable(Admit::Call);
        assert!(backoff(&h) <= BACKOFF_MIN && backoff(&h) > BACKOFF_MIN / 2);
        // A call that was already out when the circuit opened does not extend it.
        h.unreachable(Admit::Call);
        assert!(backoff(&h) <= BACKOFF_MIN);
        assert!(h.admit().is_err());
        for _ in 0..10 {
            h.with(|b| b.open_until = Some(Instant::now()));
            assert_eq!(h.admit().ok(), Some(Admit::Probe));
            assert!(h.admit().is_err(), "one probe at a time");
            h.unreachable(Admit::Probe);
        }
        assert!(backoff(&h) <= BACKOFF_MAX && backoff(&h) > BACKOFF_MAX / 2);
        assert_eq!(h.outages.load(Ordering::Relaxed), 1);
        // A probe whose caller gave up hands the probe on.
        h.with(|b| b.open_until = Some(Instant::now()));
        assert_eq!(h.admit().ok(), Some(Admit::Probe));
        drop(Outstanding {
            health: &h,
            admit: Admit::Probe,
            settled: false,
        });
        assert_eq!(h.admit().ok(), Some(Admit::Probe));
        h.answered();
        assert_eq!(h.admit().ok(), Some(Admit::Call));
    }

    #[tokio::test]
    async fn redis_cache_against_a_real_server() {
        // scripts/test.sh sets YIBAO_TEST_REDIS_URL; without it this backend is not under test.
        let Ok(url) = std::env::var("YIBAO_TEST_REDIS_URL") else {
            return;
        };
        let c = RedisCache::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("redis at {url}: {e}"));
        exercise(&c, &format!("test:{}", uuid::Uuid::new_v4())).await;
    }
}
