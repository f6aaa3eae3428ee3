//! Layered configuration: defaults → optional TOML file at `$YIBAO_CONFIG` → environment
//! variables `YIBAO__SECTION__KEY` (e.g. `YIBAO__DATABASE__URL`). The same keys are used by
//! the Kubernetes manifests, the Helm chart and `scripts/dev-cluster.sh`.
//!
//! A binary that cannot load a valid configuration exits with code 64 (`EX_USAGE`).

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Exit code for a bad configuration (sysexits `EX_USAGE`).
pub const EXIT_BAD_CONFIG: i32 = 64;

/// A configuration error, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The layered sources could not be read or did not fit the expected shape.
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A value was present but invalid.
    #[error("configuration key `{key}`: {reason}")]
    Invalid {
        /// The key, e.g. `database.url`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    /// A value of `key` that is present but invalid.
    pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Startup code that reports to the operator as text (`build()` of a service) can use `?`.
impl From<ConfigError> for String {
    fn from(e: ConfigError) -> String {
        e.to_string()
    }
}

/// Loads `T` from defaults, `$YIBAO_CONFIG` and the `YIBAO__…` environment.
pub fn load<T: Serialize + DeserializeOwned>(defaults: &T) -> Result<T, ConfigError> {
    let mut builder = config::Config::builder().add_source(config::Config::try_from(defaults)?);
    if let Ok(path) = std::env::var("YIBAO_CONFIG") {
        builder = builder.add_source(config::File::with_name(&path).required(true));
    }
    builder = builder.add_source(
        config::Environment::with_prefix("YIBAO")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true),
    );
    Ok(builder.build()?.try_deserialize()?)
}

/// Where a gRPC service listens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrpcConfig {
    /// Socket address, default `0.0.0.0:7050`.
    pub listen: String,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            listen: "0.0.0.0:7050".into(),
        }
    }
}

/// A service's own database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseConfig {
    /// `postgres://…` or `sqlite://path?mode=rwc`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
}

impl DatabaseConfig {
    /// An embedded SQLite file database.
    pub fn sqlite(path: &std::path::Path) -> Self {
        DatabaseConfig {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            max_connections: 8,
        }
    }

    /// Validates the URL scheme.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.url.starts_with("postgres://")
            || self.url.starts_with("postgresql://")
            || self.url.starts_with("sqlite:")
        {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                key: "database.url".into(),
                reason: "must start with postgres:// or sqlite:".into(),
            })
        }
    }
}

/// Redis for cache, rate limits, idempotency keys and streams. Empty URL = in-process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RedisConfig {
    /// `redis://host:6379/0`, or empty for the in-process implementations.
    pub url: String,
}

/// The event log: how long producers keep published events for consumers that lost them,
/// and how long a partition stream may grow on the bus.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventsConfig {
    /// Hours a published outbox row is kept (a consumer down longer than this cannot have
    /// what the bus lost replayed).
    pub retention_hours: u64,
    /// Entries a partition stream keeps at most (`XADD MAXLEN ~`); older ones are in the
    /// outbox.
    pub max_stream_len: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            retention_hours: 168,
            max_stream_len: 1_000_000,
        }
    }
}

impl EventsConfig {
    /// The relay's settings.
    pub fn relay(&self) -> crate::outbox::RelayConfig {
        crate::outbox::RelayConfig {
            retention: std::time::Duration::from_secs(self.retention_hours.saturating_mul(3600)),
            max_stream_len: self.max_stream_len,
            ..crate::outbox::RelayConfig::default()
        }
    }

    /// Refuses values that would lose events or thrash the bus, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.retention_hours == 0 {
            return Err(ConfigError::invalid(
                "events.retention_hours",
                "must be at least 1",
            ));
        }
        if self.max_stream_len < 1_000 {
            return Err(ConfigError::invalid(
                "events.max_stream_len",
                "must be at least 1000",
            ));
        }
        Ok(())
    }
}

/// Logging and tracing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TelemetryConfig {
    /// OTLP gRPC endpoint, e.g. `http://otel-collector:4317`; empty = no export.
    pub otlp_endpoint: String,
    /// `json` or `text`.
    pub log_format: String,
    /// An `EnvFilter` directive, e.g. `info` or `yibao=debug,info`.
    pub log_level: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: String::new(),
            log_format: "text".into(),
            log_level: "info".into(),
        }
    }
}

/// A service binary's Prometheus endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricsConfig {
    /// Socket address of `GET /metrics`, default `0.0.0.0:9464`; empty = no endpoint.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: "0.0.0.0:9464".into(),
        }
    }
}

/// Token verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthConfig {
    /// URL of a JWKS document (production).
    pub jwks_url: String,
    /// Path of a JWKS file (development, embedded). With `jwks_url` set too, the keys of
    /// both are trusted (in Kubernetes: the identity provider's, and the gateway's
    /// national-interface key mounted as a file).
    pub jwks_file: String,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Longest lifetime (`exp − iat`, seconds) of a token that is accepted.
    #[serde(default = "default_max_token_lifetime")]
    pub max_token_lifetime_secs: u64,
    /// How often the JWKS is fetched again (seconds); a token with an unknown `kid` also
    /// triggers a fetch, at most every 30 s.
    #[serde(default = "default_jwks_refresh")]
    pub jwks_refresh_secs: u64,
}

fn default_max_token_lifetime() -> u64 {
    86_400
}

fn default_jwks_refresh() -> u64 {
    300
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwks_url: String::new(),
            jwks_file: String::new(),
            issuer: "yibao".into(),
            audience: "yibao-api".into(),
            max_token_lifetime_secs: default_max_token_lifetime(),
            jwks_refresh_secs: default_jwks_refresh(),
        }
    }
}

/// Addresses of the other services (`http://host:port`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upstreams {
    /// Enrollment.
    pub enrollment: String,
    /// Settlement.
    pub settlement: String,
    /// Long-term care.
    pub ltc: String,
    /// Procurement.
    pub procurement: String,
    /// Supervision.
    pub supervision: String,
}

impl Default for Upstreams {
    fn default() -> Self {
        Upstreams {
            enrollment: "http://127.0.0.1:7061".into(),
            settlement: "http://127.0.0.1:7062".into(),
            ltc: "http://127.0.0.1:7063".into(),
            procurement: "http://127.0.0.1:7064".into(),
            supervision: "http://127.0.0.1:7065".into(),
        }
    }
}

/// The settings every service binary shares. Service-specific sections sit beside these in
/// the service's own settings struct.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServiceSettings {
    /// gRPC listener.
    pub grpc: GrpcConfig,
    /// The service's database.
    pub database: DatabaseConfig,
    /// Redis.
    pub redis: RedisConfig,
    /// The event log.
    #[serde(default)]
    pub events: EventsConfig,
    /// Telemetry.
    pub telemetry: TelemetryConfig,
    /// The Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Auth.
    pub auth: AuthConfig,
    /// Other services.
    pub upstreams: Upstreams,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/yibao.db?mode=rwc".into(),
            max_connections: 16,
        }
    }
}

impl ServiceSettings {
    /// Validates what can be checked without connecting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate()?;
        self.events.validate()?;
        self.grpc
            .listen
            .parse::<std::net::SocketAddr>()
            .map_err(|e| ConfigError::Invalid {
                key: "grpc.listen".into(),
                reason: e.to_string(),
            })?;
        if !self.metrics.listen.is_empty() {
            self.metrics
                .listen
                .parse::<std::net::SocketAddr>()
                .map_err(|e| ConfigError::invalid("metrics.listen", e.to_string()))?;
        }
        if self.auth.jwks_url.is_empty() && self.auth.jwks_file.is_empty() {
            return Err(ConfigError::Invalid {
                key: "auth.jwks_url".into(),
                reason: "set auth.jwks_url or auth.jwks_file: every call is authenticated".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults() {
        // Each test process has its own environment; the key is unique to this test.
        // SAFETY-free: std::env::set_var is safe in edition 2024 only inside unsafe; use a
        // file instead to stay within `forbid(unsafe_code)`.
        let dir = std::env::temp_dir().join(format!("yibao-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let file = dir.join("c.toml");
        std::fs::write(&file, "[database]\nurl = \"postgres://x/y\"\n").unwrap_or_default();
        let cfg = config::Config::builder()
            .add_source(config::Config::try_from(&ServiceSettings::default()).unwrap_or_default())
            .add_source(config::File::from(file.as_path()))
            .build()
            .and_then(|c| c.try_deserialize::<ServiceSettings>());
        let cfg = cfg.unwrap_or_default();
        assert_eq!(cfg.database.url, "postgres://x/y");
        assert_eq!(cfg.grpc.listen, "0.0.0.0:7050");
    }

    #[test]
    fn default_ports_lie_below_the_ephemeral_range() {
        // Linux hands out 32768–60999 to outgoing connections: a service listening there can,
        // while it restarts, find its port taken by a client's reconnect to itself.
        let port = |addr: &str| {
            addr.rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
                .unwrap_or(u16::MAX)
        };
        let u = Upstreams::default();
        let grpc = GrpcConfig::default();
        for addr in [
            &grpc.listen,
            &u.enrollment,
            &u.settlement,
            &u.ltc,
            &u.procurement,
            &u.supervision,
        ] {
            assert!(port(addr) < 32768, "{addr}");
        }
    }

    #[test]
    fn missing_keys_and_bad_urls_are_named() {
        let mut s = ServiceSettings::default();
        let err = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("auth.jwks_url"), "{err}");
        s.auth.jwks_file = "x".into();
        s.database.url = "mysql://nope".into();
        let err = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("database.url"), "{err}");
    }
}
