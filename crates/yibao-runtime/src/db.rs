//! Database connection and migration by URL: PostgreSQL in production, SQLite embedded.

use crate::config::DatabaseConfig;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;

/// Connects to the configured database. For SQLite the file's directory is created and the
/// database is put in WAL mode so readers never wait for the writer.
pub async fn connect(cfg: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
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
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
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
