//! Backends of the benchmarks: SQLite in a temporary directory, or a fresh PostgreSQL database
//! when `YIBAO_TEST_DATABASE_URL` is set (dropped at the end); the in-process bus, or Redis
//! Streams under a unique prefix when `YIBAO_TEST_REDIS_URL` is set (the streams are deleted at
//! the end).
#![allow(dead_code)]

use sea_orm::ConnectionTrait;
use std::error::Error;
use std::sync::Arc;
use yibao_runtime::bus::{Bus, MemoryBus, RedisBus};
use yibao_runtime::config::DatabaseConfig;
use yibao_supervision::events::ConsumerConfig;
use yibao_supervision::store::{Store, migration::Migrator};

/// A store on the chosen backend and how to remove it.
pub struct Db {
    pub store: Store,
    pub label: &'static str,
    pg: Option<(String, String)>,
    dir: Option<std::path::PathBuf>,
}

pub async fn store(tag: &str) -> Result<Db, Box<dyn Error>> {
    match std::env::var("YIBAO_TEST_DATABASE_URL") {
        Ok(base) => {
            let url =
                yibao_runtime::db::create_fresh_postgres(&base, "yibao_supervision_bench").await?;
            let name = url.rsplit('/').next().unwrap_or_default().to_string();
            let db = yibao_runtime::db::connect_and_migrate::<Migrator>(&DatabaseConfig {
                url,
                max_connections: 4,
            })
            .await?;
            Ok(Db {
                store: Store::new(db),
                label: "PostgreSQL",
                pg: Some((base, name)),
                dir: None,
            })
        }
        Err(_) => {
            let dir =
                std::env::temp_dir().join(format!("yibao-sup-bench-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            let db = yibao_runtime::db::connect_and_migrate::<Migrator>(&DatabaseConfig::sqlite(
                &dir.join("supervision.db"),
            ))
            .await?;
            Ok(Db {
                store: Store::new(db),
                label: "SQLite",
                pg: None,
                dir: Some(dir),
            })
        }
    }
}

impl Db {
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// Drops the PostgreSQL database or removes the SQLite directory.
    pub async fn remove(self) -> Result<(), Box<dyn Error>> {
        let Db { store, pg, dir, .. } = self;
        let _ = store.db().clone().close().await;
        if let Some((base, name)) = pg {
            let admin = sea_orm::Database::connect(&base).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await?;
            admin.close().await?;
        }
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        Ok(())
    }
}

/// A bus on the chosen backend, the consumer configuration naming its streams, and a label.
pub struct BenchBus {
    pub bus: Arc<dyn Bus>,
    pub cfg: ConsumerConfig,
    pub label: &'static str,
    redis: Option<String>,
}

pub async fn bus() -> Result<BenchBus, Box<dyn Error>> {
    match std::env::var("YIBAO_TEST_REDIS_URL") {
        Ok(url) => {
            let bus = RedisBus::connect(&url).await?;
            let cfg =
                ConsumerConfig::with_prefix(&format!("bench-{}:", uuid::Uuid::new_v4().simple()));
            Ok(BenchBus {
                bus: Arc::new(bus),
                cfg,
                label: "Redis Streams",
                redis: Some(url),
            })
        }
        Err(_) => Ok(BenchBus {
            bus: Arc::new(MemoryBus::new()),
            cfg: ConsumerConfig::default(),
            label: "in-process bus",
            redis: None,
        }),
    }
}

impl BenchBus {
    /// Deletes the streams of a Redis run (plain RESP `DEL` on the URL's host and port).
    pub async fn remove(self) -> Result<(), Box<dyn Error>> {
        let Some(url) = self.redis else { return Ok(()) };
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rest = url.trim_start_matches("redis://");
        let hostport = rest
            .rsplit('@')
            .next()
            .unwrap_or(rest)
            .split('/')
            .next()
            .unwrap_or("127.0.0.1:6379");
        let mut conn = tokio::net::TcpStream::connect(hostport).await?;
        let keys = [
            &self.cfg.claims_stream,
            &self.cfg.encounters_stream,
            &self.cfg.ltc_stream,
            &self.cfg.inventory_stream,
        ];
        let mut cmd = format!("*{}\r\n$3\r\nDEL\r\n", keys.len() + 1);
        for k in keys {
            cmd.push_str(&format!("${}\r\n{k}\r\n", k.len()));
        }
        conn.write_all(cmd.as_bytes()).await?;
        let mut reply = [0u8; 64];
        let _ = conn.read(&mut reply).await?;
        Ok(())
    }
}
