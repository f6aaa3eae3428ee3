//! Database connection and migration by URL: PostgreSQL in production, SQLite embedded.

use crate::config::DatabaseConfig;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;

/// How long a caller waits for a pooled connection before its request fails with
/// `DATABASE_UNAVAILABLE` (503): short, so that with the database down callers get a prompt
/// answer instead of hanging until their deadline. Also the bound on opening one connection.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The pool's waits (see [`ACQUIRE_TIMEOUT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolTimeouts {
    /// Waiting for a pooled connection (including opening a new one).
    pub acquire: Duration,
}

impl Default for PoolTimeouts {
    fn default() -> Self {
        PoolTimeouts {
            acquire: ACQUIRE_TIMEOUT,
        }
    }
}

/// Connects to the configured database with the default [`PoolTimeouts`]. For SQLite the
/// file's directory is created and the database is put in WAL mode so readers never wait for
/// the writer.
pub async fn connect(cfg: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    connect_with(cfg, PoolTimeouts::default()).await
}

/// Connects to the configured database with the given pool timeouts.
pub async fn connect_with(
    cfg: &DatabaseConfig,
    timeouts: PoolTimeouts,
) -> Result<DatabaseConnection, DbErr> {
    if let Some(dir) = sqlite_path(&cfg.url)
        .and_then(|path| std::path::Path::new(path).parent())
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut opts = ConnectOptions::new(cfg.url.clone());
    opts.max_connections(cfg.max_connections.max(1))
        .min_connections(1)
        // sea-orm hands both to sqlx's one acquire deadline (which bounds opening a
        // connection too); set both so neither overrides the other.
        .connect_timeout(timeouts.acquire)
        .acquire_timeout(timeouts.acquire)
        .sqlx_logging(false);
    let db = Database::connect(opts).await?;
    if sqlite_path(&cfg.url).is_some() {
        db.execute_unprepared(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .await?;
    }
    Ok(db)
}

/// Connects and applies the migrator's pending migrations.
pub async fn connect_and_migrate<M: MigratorTrait>(
    cfg: &DatabaseConfig,
) -> Result<DatabaseConnection, DbErr> {
    let db = connect(cfg).await?;
    M::up(&db, None).await?;
    Ok(db)
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (path != ":memory:" && !path.is_empty()).then_some(path)
}

/// Creates a fresh, uniquely named PostgreSQL database next to `base_url` (which must name an
/// existing database to connect to, e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and
/// returns its URL. Used by tests: every run gets its own database, no leftovers.
pub async fn create_fresh_postgres(base_url: &str, prefix: &str) -> Result<String, DbErr> {
    let admin = Database::connect(base_url).await?;
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    admin.close().await?;
    let (head, _) = base_url
        .rsplit_once('/')
        .ok_or_else(|| DbErr::Custom("postgres URL without database".into()))?;
    Ok(format!("{head}/{name}"))
}

/// True when a store error says the database cannot be reached now rather than that the
/// statement is wrong: no pooled connection within the acquire timeout, a connection refused,
/// reset or closed (I/O, TLS), or PostgreSQL refusing or ending the session because it is
/// shutting down, restarting or starting up (SQLSTATE class 08 connection exception, 57P01
/// admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 53300 too many
/// connections). Such a request may be retried once the database is back; callers get
/// `UNAVAILABLE` (REST 503), see [`crate::error::ApiError::database`].
pub fn is_unavailable(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_unavailable(e)
        }
        _ => false,
    }
}

fn sqlx_unavailable(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as E;
    match e {
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
        E::Database(db) => db.code().is_some_and(|c| unavailable_sqlstate(&c)),
        _ => false,
    }
}

/// SQLSTATEs of a server that is going away or not there yet.
fn unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// True when a store error is a unique-constraint violation (a concurrent insert won).
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_unavailable_and_bad_statements_are_not() {
        use sea_orm::{ConnAcquireErr, RuntimeErr};
        use std::sync::Arc;
        let sqlx = |e: sea_orm::sqlx::Error| DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)));
        assert!(is_unavailable(&DbErr::ConnectionAcquire(
            ConnAcquireErr::Timeout
        )));
        assert!(is_unavailable(&sqlx(sea_orm::sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused)
        ))));
        assert!(is_unavailable(&sqlx(sea_orm::sqlx::Error::PoolTimedOut)));
        assert!(!is_unavailable(&sqlx(sea_orm::sqlx::Error::RowNotFound)));
        assert!(!is_unavailable(&DbErr::Custom("bad row".into())));
        assert!(unavailable_sqlstate("57P01"));
        assert!(unavailable_sqlstate("08006"));
        assert!(!unavailable_sqlstate("23505"));
        assert!(!unavailable_sqlstate("42P01"));
    }

    /// A database that is not listening: the connection fails promptly and is classified as
    /// unavailable, so a service starting or answering without its database says 503.
    #[tokio::test]
    async fn a_refused_connection_is_unavailable_within_the_acquire_timeout() {
        // A port nothing listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let cfg = DatabaseConfig {
            url: format!("postgres://postgres@127.0.0.1:{port}/none"),
            max_connections: 1,
        };
        let started = std::time::Instant::now();
        let e = connect_with(
            &cfg,
            PoolTimeouts {
                acquire: Duration::from_millis(500),
            },
        )
        .await
        .err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let e = e.unwrap_or_else(|| panic!("connected to a closed port"));
        assert!(is_unavailable(&e), "{e:?}");
    }

    #[test]
    fn sqlite_paths_are_found() {
        assert_eq!(
            sqlite_path("sqlite://data/e.db?mode=rwc"),
            Some("data/e.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }
}

/// A migration written as portable SQL statements (PostgreSQL and SQLite alike), the way every
/// service writes its schema; `down` drops its tables in the given order.
#[derive(Debug)]
pub struct SqlMigration {
    /// Name recorded in the migrations table (`mYYYYMMDD_NNNNNN_what`).
    pub name: &'static str,
    /// Statements applied in order.
    pub up: &'static [&'static str],
    /// Tables dropped, in order, by `down`.
    pub drop_tables: &'static [&'static str],
}

impl sea_orm_migration::MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[sea_orm_migration::prelude::async_trait::async_trait]
impl sea_orm_migration::MigrationTrait for SqlMigration {
    async fn up(&self, manager: &sea_orm_migration::SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in self.up {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &sea_orm_migration::SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in self.drop_tables {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}

/// Serialises write transactions where the database allows one writer (SQLite: they queue here
/// instead of failing as "database is locked"); on PostgreSQL it lets everything through.
#[derive(Debug, Clone, Default)]
pub struct WriteGate(Option<std::sync::Arc<tokio::sync::Mutex<()>>>);

impl WriteGate {
    /// The gate a connection needs.
    pub fn for_connection(db: &DatabaseConnection) -> WriteGate {
        WriteGate(
            (db.get_database_backend() == sea_orm::DbBackend::Sqlite)
                .then(|| std::sync::Arc::new(tokio::sync::Mutex::new(()))),
        )
    }

    /// Waits for the turn to write; hold the guard until the transaction ends.
    pub async fn enter(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.0 {
            Some(l) => Some(l.clone().lock_owned().await),
            None => None,
        }
    }
}

/// What every service's store is built on: the connection and the write gate, with one way to
/// begin a write transaction. A store holds a `StoreBase` and adds its rows.
#[derive(Debug, Clone)]
pub struct StoreBase {
    db: DatabaseConnection,
    gate: WriteGate,
}

/// A write transaction that holds its turn at the [`WriteGate`] until it ends.
#[derive(Debug)]
pub struct WriteTxn {
    txn: sea_orm::DatabaseTransaction,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteTxn {
    type Target = sea_orm::DatabaseTransaction;
    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

impl WriteTxn {
    /// Commits, then lets the next writer in.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    /// Rolls back, then lets the next writer in.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl StoreBase {
    /// Wraps a connection.
    pub fn new(db: DatabaseConnection) -> StoreBase {
        let gate = WriteGate::for_connection(&db);
        StoreBase { db, gate }
    }

    /// Connects to the configured database and applies the migrator's pending migrations.
    pub async fn connect<M: MigratorTrait>(cfg: &DatabaseConfig) -> Result<StoreBase, DbErr> {
        Ok(StoreBase::new(connect_and_migrate::<M>(cfg).await?))
    }

    /// The connection (reads, and writes that need no transaction).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Waits for the turn to write without opening a transaction (for single statements that
    /// must not race a transaction on SQLite); hold the guard until the statement is done.
    pub async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.gate.enter().await
    }

    /// Begins a write transaction after waiting for the turn to write.
    pub async fn begin(&self) -> Result<WriteTxn, DbErr> {
        use sea_orm::TransactionTrait as _;
        let turn = self.gate.enter().await;
        Ok(WriteTxn {
            txn: self.db.begin().await?,
            _turn: turn,
        })
    }
}

/// Implements `MigratorTrait` for a unit struct from its migrations table and a list of
/// migration values (each service keeps its own table, so services can share a database):
///
/// ```ignore
/// yibao_runtime::migrator!(Migrator, "ltc_migrations", [INITIAL, yibao_runtime::outbox::MIGRATION]);
/// ```
#[macro_export]
macro_rules! migrator {
    ($name:ident, $table:literal, [$($migration:expr),+ $(,)?]) => {
        /// The service's migrations, in order.
        #[derive(Debug)]
        pub struct $name;

        #[sea_orm_migration::prelude::async_trait::async_trait]
        impl sea_orm_migration::MigratorTrait for $name {
            fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
                vec![$(Box::new($migration)),+]
            }
            fn migration_table_name() -> sea_orm_migration::sea_orm::DynIden {
                use sea_orm_migration::sea_orm::sea_query::IntoIden as _;
                sea_orm_migration::sea_orm::sea_query::Alias::new($table).into_iden()
            }
        }
    };
}
