//! A small key-value cache with expiry behind one trait: Redis in production, in-process
//! when embedded. Cache failures are never fatal: callers treat an error as a miss and fall
//! back to the database.

use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Redis-backed cache over a multiplexed, auto-reconnecting connection.
#[derive(Clone)]
pub struct RedisCache {
    conn: redis::aio::ConnectionManager,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisCache")
    }
}

impl RedisCache {
    /// Connects to `url`.
    pub async fn connect(url: &str) -> Result<RedisCache, CacheError> {
        let client = redis::Client::open(url).map_err(|e| CacheError(e.to_string()))?;
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        let conn = client
            .get_connection_manager_with_config(cfg)
            .await
            .map_err(|e| CacheError(e.to_string()))?;
        Ok(RedisCache { conn })
    }
}

fn rerr(e: redis::RedisError) -> CacheError {
    CacheError(e.to_string())
}

impl Cache for RedisCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        let mut c = self.conn.clone();
        Box::pin(async move {
            redis::cmd("GET")
                .arg(key)
                .query_async(&mut c)
                .await
                .map_err(rerr)
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        let mut c = self.conn.clone();
        let ms = ttl.as_millis().max(1) as u64;
        Box::pin(async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ms)
                .query_async(&mut c)
                .await
                .map_err(rerr)
        })
    }

    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), CacheError>> {
        let mut c = self.conn.clone();
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(());
            }
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<i64>(&mut c)
                .await
                .map(|_| ())
                .map_err(rerr)
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
        Box::pin(async move {
            let r: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(r.is_some())
        })
    }

    fn incr<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<i64, CacheError>> {
        let mut c = self.conn.clone();
        let ms = ttl.as_millis().max(1) as u64;
        Box::pin(async move {
            let (n, _): (i64, i64) = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(key)
                .cmd("PEXPIRE")
                .arg(key)
                .arg(ms)
                .arg("NX")
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(n)
        })
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
