//! `yibao interface-credentials`: an institution's national-interface credentials (the
//! `paasid` and `paas_token` its HIS signs `x-tif-*` headers with), taken from enrollment's
//! registry through enrollment's own use case, so the same rules hold as for
//! `IssueInterfaceCredential`: the institution must be registered, the credential in force is
//! answered again unchanged, `--rotate` replaces it.
//!
//! Embedded (`--data-dir`): the data directory's `enrollment.db`, whether or not `yibao up` is
//! serving it (SQLite in WAL mode; asking again for the credential in force only reads), with
//! its pending migrations applied as `yibao up` would. Production (`--database-url`): the
//! enrollment service's PostgreSQL database, whose schema the service keeps (nothing is
//! migrated from here).

use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use yibao_core::InstitutionCode;
use yibao_enrollment::app::{AppError, Enrollment};
use yibao_enrollment::store::{Entity, Store};
use yibao_runtime::config::DatabaseConfig;
use yibao_runtime::db::StoreBase;
use yibao_runtime::{Caller, Role};

/// What the command prints: one JSON object, nothing else on stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Printed {
    /// The access id (`x-tif-paasid`).
    pub paasid: String,
    /// The signature's shared secret.
    pub paas_token: String,
}

/// Where the enrollment database is.
#[derive(Debug, Clone)]
pub enum Database<'a> {
    /// `enrollment.db` under a data directory.
    DataDir(&'a Path),
    /// A database URL (PostgreSQL in production).
    Url(&'a str),
}

/// The URL without its password, for messages.
fn shown(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://…@{host}"),
        _ => url.to_string(),
    }
}

async fn connect(db: &Database<'_>) -> Result<(StoreBase, String), String> {
    match db {
        Database::DataDir(dir) => {
            let path = dir.join("enrollment.db");
            if !path.is_file() {
                return Err(format!(
                    "no enrollment database at {}: start `yibao up --data-dir {}` (or run `yibao migrate`) first, or give --database-url",
                    path.display(),
                    dir.display()
                ));
            }
            let cfg = DatabaseConfig {
                max_connections: 2,
                ..DatabaseConfig::sqlite(&path)
            };
            let base = StoreBase::connect::<yibao_enrollment::store::migration::Migrator>(&cfg)
                .await
                .map_err(|e| format!("enrollment database {}: {e}", path.display()))?;
            Ok((base, path.display().to_string()))
        }
        Database::Url(url) => {
            let cfg = DatabaseConfig {
                url: url.to_string(),
                max_connections: 2,
            };
            cfg.validate().map_err(|e| format!("--database-url: {e}"))?;
            let db = yibao_runtime::db::connect(&cfg)
                .await
                .map_err(|e| format!("enrollment database {}: {e}", shown(url)))?;
            Ok((StoreBase::new(db), shown(url)))
        }
    }
}

/// The credentials of `org` (issued when it has none, replaced with `rotate`), and whether
/// this call issued them.
pub async fn interface_credentials(
    db: Database<'_>,
    org: &str,
    rotate: bool,
) -> Result<(Printed, bool), String> {
    let code = InstitutionCode::parse(org).map_err(|e| format!("--org `{org}`: {e}"))?;
    let (base, where_) = connect(&db).await?;
    // The cache is this process's own and thrown away with it; its key only has to be secret
    // for its lifetime.
    let cache_key: [u8; 32] = rand::random();
    let app = Enrollment::new(
        Store::with_base(base),
        Arc::new(yibao_runtime::cache::MemoryCache::new(16)),
        &cache_key,
    );
    let caller = Caller {
        subject: format!(
            "yibao-cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        ),
        role: Role::Admin,
        org: String::new(),
        region: None,
    };
    let out = app
        .issue_interface_credential(&caller, &code, rotate)
        .await
        .map_err(|e| match e {
            AppError::Unknown {
                entity: Entity::Institution,
                ..
            } => format!(
                "institution {code} is not in the registry of {where_}: register it first (ImportInstitutionRoster; `yibao up --demo` registers {})",
                yibao::demo::HOSPITAL
            ),
            e => format!("interface credentials of {code} in {where_}: {e}"),
        })?;
    Ok((
        Printed {
            paasid: out.credential.paasid,
            paas_token: out.credential.paas_token,
        },
        out.issued,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_database_url_is_shown_without_its_password() {
        assert_eq!(
            super::shown("postgres://yibao:s3cret@db.internal:5432/enrollment"),
            "postgres://…@db.internal:5432/enrollment"
        );
        assert_eq!(
            super::shown("sqlite://data/enrollment.db"),
            "sqlite://data/enrollment.db"
        );
    }
}
