//! The embedded suite: every service and the gateway in one process, each service on its own
//! database (SQLite files by default, or fresh PostgreSQL databases), the in-process or Redis
//! cache and bus, and a development signing key. `yibao up` and the integration tests both
//! start it through [`start`], so they exercise one code path.

pub mod demo;
pub mod errors;
pub mod settings;

pub use settings::UpSettings;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use yibao_runtime::auth::DevKeys;
use yibao_runtime::config::{DatabaseConfig, Upstreams};
use yibao_runtime::server::ServiceDeps;

/// Token issuer and audience of the embedded suite (the defaults of `auth.issuer` / `auth.audience`).
pub const ISSUER: &str = "yibao";
/// See [`ISSUER`].
pub const AUDIENCE: &str = "yibao-api";

/// The gRPC services the suite hosts (health and reflection report each).
pub const SERVICE_NAMES: [&str; 5] = yibao_runtime::upstream::GRPC_NAMES;

/// Applies every service's migrations to the SQLite files under `data_dir`.
pub async fn migrate(data_dir: &std::path::Path) -> Result<(), String> {
    use yibao_runtime::db::connect_and_migrate as m;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("data dir {}: {e}", data_dir.display()))?;
    let db = |s: &str| DatabaseConfig::sqlite(&data_dir.join(format!("{s}.db")));
    let err = |s: &'static str| move |e: sea_orm::DbErr| format!("{s}: {e}");
    m::<yibao_enrollment::store::migration::Migrator>(&db("enrollment"))
        .await
        .map_err(err("enrollment"))?;
    m::<yibao_settlement::store::migration::Migrator>(&db("settlement"))
        .await
        .map_err(err("settlement"))?;
    m::<yibao_ltc::store::migration::Migrator>(&db("ltc"))
        .await
        .map_err(err("ltc"))?;
    m::<yibao_procurement::store::migration::Migrator>(&db("procurement"))
        .await
        .map_err(err("procurement"))?;
    m::<yibao_supervision::store::migration::Migrator>(&db("supervision"))
        .await
        .map_err(err("supervision"))?;
    Ok(())
}

/// Where each service keeps its data.
#[derive(Debug, Clone)]
pub enum Storage {
    /// SQLite files `<service>.db` under the data directory.
    Sqlite,
    /// A fresh PostgreSQL database per service, created next to this URL's database.
    FreshPostgres(String),
    /// Fixed database URLs per service (for `yibao up` against PostgreSQL).
    Urls(std::collections::HashMap<String, String>),
}

/// How to start the suite.
#[derive(Debug, Clone)]
pub struct Options {
    /// Keys, secrets and SQLite files live here.
    pub data_dir: PathBuf,
    /// Gateway address (port 0 = any free port).
    pub http_listen: SocketAddr,
    /// Internal gRPC address of the services (port 0 = any free port).
    pub grpc_listen: SocketAddr,
    /// Storage.
    pub storage: Storage,
    /// Redis URL for cache, idempotency and rate limits; empty = in-process.
    pub redis_url: String,
    /// The gateway's settings (`listen` is taken from `http_listen`).
    pub gateway: yibao_gateway::GatewaySettings,
    /// How the producing services' outbox relays run (`events.*`).
    pub relay: yibao_runtime::outbox::RelayConfig,
    /// Load the demo data ([`demo::load`]) before the gateway opens, so nothing (not even
    /// `/readyz`) answers before it is in.
    pub demo: bool,
    /// Settlement's claim limits (`settlement.*`).
    pub claim_limits: yibao_settlement::domain::ClaimLimits,
}

impl Options {
    /// Defaults for a data directory: SQLite, in-process cache, gateway on 127.0.0.1:8080.
    pub fn new(data_dir: PathBuf) -> Options {
        Options {
            data_dir,
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            storage: Storage::Sqlite,
            redis_url: String::new(),
            gateway: yibao_gateway::GatewaySettings::default(),
            relay: Default::default(),
            demo: false,
            claim_limits: yibao_settlement::domain::ClaimLimits::DEFAULT,
        }
    }
}

/// A running suite.
#[derive(Debug)]
pub struct Running {
    /// The gateway's address.
    pub http_addr: SocketAddr,
    /// The services' internal gRPC address.
    pub grpc_addr: SocketAddr,
    /// The signing key for minting tokens.
    pub keys: DevKeys,
    /// Each service's database URL, by service name.
    pub databases: std::collections::BTreeMap<String, String>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Mints a token for the suite.
    pub fn token(&self, role: yibao_runtime::Role, org: &str, region: &str) -> String {
        self.keys
            .mint(
                role,
                org,
                region,
                &format!(
                    "{}-{}",
                    role.as_str(),
                    if org.is_empty() { region } else { org }
                ),
                3600,
                ISSUER,
                AUDIENCE,
            )
            .unwrap_or_default()
    }

    /// What `yibao up` prints once the suite is ready: where it listens and how to call it.
    pub fn banner(
        &self,
        took: std::time::Duration,
        data_dir: &std::path::Path,
        demo: bool,
    ) -> String {
        let url = format!("http://{}", self.http_addr);
        let mut out = format!(
            "Yibao is up in {} ms: gateway {url} (REST and gRPC), services {}\n",
            took.as_millis(),
            self.grpc_addr
        );
        out += &format!("  health:   curl {url}/readyz\n  API:      curl {url}/openapi.json\n");
        out += &format!(
            "  token:    TOKEN=$(yibao token --role operator --region 341522 --data-dir {})\n",
            data_dir.display()
        );
        out += "            (hospitals: --role hospital --org H34152200001)\n";
        if demo {
            out += "  demo:     region 341522; poverty-registered household 341522195803120020, 341522195508070016, 341522201205190035;\n";
            out += "            self-paid 341522198001010018; unpaid 341522199006150022;\n";
            out += &format!(
                "            certified {} for chronic disease {}; enrolled twice (duplicate scan) {}\n",
                demo::CHRONIC_PATIENT,
                demo::CHRONIC_DISEASE,
                demo::DUPLICATE_PERSON.0
            );
        }
        out + "Press Ctrl-C to stop.\n"
    }

    /// Stops everything, draining in-flight calls.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

/// Mints a development token with the signing key under `data_dir` (`yibao token`). Scoped
/// roles need their scope: an organisation for hospitals, insurers…, a region for operators….
pub fn dev_token(
    data_dir: &std::path::Path,
    role: &str,
    org: &str,
    region: &str,
    subject: &str,
    ttl_secs: u64,
) -> Result<String, String> {
    use yibao_runtime::Role;
    let role = Role::parse(role).ok_or_else(|| {
        format!(
            "unknown role `{role}`; one of {}",
            Role::ALL.map(|r| r.as_str()).join(", ")
        )
    })?;
    if role.is_org_scoped() && org.is_empty() {
        return Err(format!("--org is required for role {}", role.as_str()));
    }
    if role.is_region_scoped() && region.is_empty() {
        return Err(format!("--region is required for role {}", role.as_str()));
    }
    let keys = DevKeys::load_or_create(data_dir).map_err(|e| e.to_string())?;
    let subject = if subject.is_empty() {
        format!(
            "{}-{}",
            role.as_str(),
            if org.is_empty() { region } else { org }
        )
    } else {
        subject.to_string()
    };
    keys.mint(role, org, region, &subject, ttl_secs, ISSUER, AUDIENCE)
        .map_err(|e| e.to_string())
}

/// Reads or creates a random secret file (hex, 64 characters).
pub fn secret_file(path: &std::path::Path) -> std::io::Result<String> {
    if let Ok(s) = std::fs::read_to_string(path) {
        let s = s.trim().to_string();
        if s.len() >= 32 {
            return Ok(s);
        }
    }
    let bytes: [u8; 32] = rand::random();
    let s = hex::encode(bytes);
    std::fs::write(path, &s)?;
    Ok(s)
}

async fn database_for(opts: &Options, service: &str) -> Result<DatabaseConfig, String> {
    Ok(match &opts.storage {
        Storage::Sqlite => DatabaseConfig::sqlite(&opts.data_dir.join(format!("{service}.db"))),
        Storage::FreshPostgres(base) => DatabaseConfig {
            url: yibao_runtime::db::create_fresh_postgres(base, &format!("yibao_{service}"))
                .await
                .map_err(|e| format!("create {service} database: {e}"))?,
            max_connections: 16,
        },
        Storage::Urls(map) => DatabaseConfig {
            url: map
                .get(service)
                .cloned()
                .ok_or_else(|| format!("no database URL for {service}"))?,
            max_connections: 16,
        },
    })
}

/// Starts every service and the gateway.
pub async fn start(opts: Options) -> Result<Running, String> {
    std::fs::create_dir_all(&opts.data_dir)
        .map_err(|e| format!("data dir {}: {e}", opts.data_dir.display()))?;
    let keys =
        DevKeys::load_or_create(&opts.data_dir).map_err(|e| format!("dev signing key: {e}"))?;
    let verifier = keys.verifier(ISSUER, AUDIENCE).map_err(|e| e.to_string())?;
    let redis = yibao_runtime::config::RedisConfig {
        url: opts.redis_url.clone(),
    };
    let cache = yibao_runtime::cache::from_config(&redis)
        .await
        .map_err(|e| e.to_string())?;
    let voucher_secret = secret_file(&opts.data_dir.join("voucher-secret"))
        .map_err(|e| format!("voucher secret: {e}"))?;

    let grpc_listener = tokio::net::TcpListener::bind(opts.grpc_listen)
        .await
        .map_err(|e| format!("bind {}: {e}", opts.grpc_listen))?;
    let grpc_addr = grpc_listener.local_addr().map_err(|e| e.to_string())?;
    let internal = format!("http://{grpc_addr}");
    let upstreams = Upstreams {
        enrollment: internal.clone(),
        settlement: internal.clone(),
        ltc: internal.clone(),
        procurement: internal.clone(),
        supervision: internal,
    };
    let bus = yibao_runtime::bus::from_config(&redis)
        .await
        .map_err(|e| e.to_string())?;
    let mut databases = std::collections::BTreeMap::new();
    for service in [
        "enrollment",
        "settlement",
        "ltc",
        "procurement",
        "supervision",
    ] {
        databases.insert(service.to_string(), database_for(&opts, service).await?);
    }
    // Each service's cache reads are counted under its name (yibao_cache_requests_total).
    let deps = |service: &'static str| ServiceDeps {
        database: databases.get(service).cloned().unwrap_or_default(),
        cache: yibao_runtime::metrics::counted_cache(service, Arc::clone(&cache)),
        bus: Arc::clone(&bus),
        upstreams: upstreams.clone(),
        secrets: Default::default(),
        relay: opts.relay,
    };
    let mut routes = tonic::service::RoutesBuilder::default();
    let mut enrollment = deps("enrollment");
    let key = yibao_enrollment::VOUCHER_SECRET_KEY;
    enrollment.secrets.insert(key.into(), voucher_secret);
    routes.add_service(yibao_enrollment::build(enrollment).await?);
    routes.add_service(yibao_settlement::build_with(deps("settlement"), opts.claim_limits).await?);
    routes.add_service(yibao_ltc::build(deps("ltc")).await?);
    routes.add_service(yibao_procurement::build(deps("procurement")).await?);
    routes.add_service(yibao_supervision::build(deps("supervision")).await?);
    let routes = yibao_runtime::server::with_health_and_reflection(routes, &SERVICE_NAMES)
        .await
        .map_err(|e| e.to_string())?;

    let (tx, rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let grpc_task = tokio::spawn({
        let verifier = verifier.clone();
        let stop = stopped(rx.clone());
        async move {
            if let Err(e) =
                yibao_runtime::server::serve(grpc_listener, routes, verifier, stop).await
            {
                tracing::error!(error = %e, "services stopped");
            }
        }
    });
    if opts.demo {
        let token = keys
            .mint(
                yibao_runtime::Role::Operator,
                "",
                demo::REGION,
                "demo-loader",
                600,
                ISSUER,
                AUDIENCE,
            )
            .map_err(|e| e.to_string())?;
        demo::load(grpc_addr, &token)
            .await
            .map_err(|e| format!("demo data: {e}"))?;
        let province = keys
            .mint(
                yibao_runtime::Role::Operator,
                "",
                yibao_procurement::demo::REGION,
                "demo-loader",
                600,
                ISSUER,
                AUDIENCE,
            )
            .map_err(|e| e.to_string())?;
        demo::load_catalogue(grpc_addr, &province).await?;
    }
    let mut settings = yibao_gateway::GatewaySettings {
        listen: opts.http_listen.to_string(),
        ..opts.gateway.clone()
    };
    // The national interface's tokens are signed with the data directory's key, which the
    // services trust already (decision 0012).
    if settings.interface.signing_key_dir.is_empty() {
        settings.interface.signing_key_dir = opts.data_dir.display().to_string();
    }
    settings.interface.issuer = ISSUER.into();
    settings.interface.audience = AUDIENCE.into();
    // Idempotency records are sealed under a secret of the data directory (`sealed`).
    if settings.idempotency_secret.is_empty() {
        settings.idempotency_secret = secret_file(&opts.data_dir.join("idempotency-secret"))
            .map_err(|e| format!("idempotency secret: {e}"))?;
    }
    let gateway =
        yibao_gateway::Gateway::new(&upstreams, verifier, Arc::clone(&cache), settings).await?;
    let http_listener = tokio::net::TcpListener::bind(opts.http_listen)
        .await
        .map_err(|e| format!("bind {}: {e}", opts.http_listen))?;
    let http_addr = http_listener.local_addr().map_err(|e| e.to_string())?;
    let http_task = tokio::spawn({
        let stop = stopped(rx);
        async move {
            if let Err(e) = gateway.serve(http_listener, stop).await {
                tracing::error!(error = %e, "gateway stopped");
            }
        }
    });
    Ok(Running {
        http_addr,
        grpc_addr,
        keys,
        databases: databases.into_iter().map(|(s, d)| (s, d.url)).collect(),
        shutdown: Some(tx),
        tasks: vec![grpc_task, http_task],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_registry_names_the_services_the_suite_builds() {
        assert_eq!(
            super::SERVICE_NAMES,
            [
                yibao_enrollment::SERVICE_NAME,
                yibao_settlement::SERVICE_NAME,
                yibao_ltc::SERVICE_NAME,
                yibao_procurement::SERVICE_NAME,
                yibao_supervision::SERVICE_NAME,
            ]
        );
    }
}
