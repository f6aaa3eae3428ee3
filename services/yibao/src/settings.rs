//! What `yibao up` reads, in the same layers as every standalone binary: defaults → the TOML
//! file named by `YIBAO_CONFIG` → `YIBAO__SECTION__KEY` environment variables; the command's
//! flags win over all three. The keys are the gateway's (`gateway.*`), the services' internal
//! listener (`grpc.listen`), `redis.url` and `telemetry.*`; storage is one SQLite file per
//! service under `--data-dir`, and tokens are signed with the data directory's development key.

use serde::{Deserialize, Serialize};
use yibao_runtime::config::{ConfigError, GrpcConfig, RedisConfig, TelemetryConfig};

/// The settings of the one-process platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpSettings {
    /// `[gateway]`: listen address, rate limit, body limit, upstream deadline, key prefix.
    pub gateway: yibao_gateway::GatewaySettings,
    /// `[grpc]`: where the five services listen inside the process.
    pub grpc: GrpcConfig,
    /// `[redis]`: empty = in-process cache and bus.
    pub redis: RedisConfig,
    /// `[telemetry]`: log level and format, OTLP endpoint.
    pub telemetry: TelemetryConfig,
    /// `[events]`: outbox retention and stream length.
    #[serde(default)]
    pub events: yibao_runtime::config::EventsConfig,
    /// `[settlement]`: the claim limits.
    #[serde(default)]
    pub settlement: yibao_settlement::SettlementSettings,
}

impl Default for UpSettings {
    fn default() -> Self {
        UpSettings {
            gateway: yibao_gateway::GatewaySettings {
                listen: "127.0.0.1:8080".into(),
                ..Default::default()
            },
            grpc: GrpcConfig {
                listen: "127.0.0.1:7050".into(),
            },
            redis: RedisConfig::default(),
            telemetry: TelemetryConfig::default(),
            events: Default::default(),
            settlement: Default::default(),
        }
    }
}

impl UpSettings {
    /// Loads the layers and checks every value that can be checked without starting.
    pub fn load() -> Result<UpSettings, ConfigError> {
        let settings: UpSettings = yibao_runtime::config::load(&UpSettings::default())?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks the values, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        listen_addr("gateway.listen", &self.gateway.listen)?;
        listen_addr("grpc.listen", &self.grpc.listen)?;
        self.events.validate()?;
        self.settlement.limits()?;
        if self.gateway.rate_limit_per_minute == 0 {
            return Err(ConfigError::invalid(
                "gateway.rate_limit_per_minute",
                "must be at least 1",
            ));
        }
        if self.gateway.max_body_bytes == 0 {
            return Err(ConfigError::invalid(
                "gateway.max_body_bytes",
                "must be at least 1",
            ));
        }
        if self.gateway.request_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "gateway.request_timeout_ms",
                "must be at least 1",
            ));
        }
        if !matches!(self.telemetry.log_format.as_str(), "text" | "json") {
            return Err(ConfigError::invalid(
                "telemetry.log_format",
                "must be `text` or `json`",
            ));
        }
        Ok(())
    }
}

/// The flags of `yibao up`, which win over the settings.
#[derive(Debug, Clone, Default)]
pub struct UpFlags {
    /// `--listen`.
    pub listen: Option<std::net::SocketAddr>,
    /// `--grpc-listen`.
    pub grpc_listen: Option<std::net::SocketAddr>,
    /// `--redis-url`.
    pub redis_url: Option<String>,
}

impl UpSettings {
    /// The suite's start options for `data_dir`: these settings with `flags` on top.
    pub fn options(
        self,
        data_dir: std::path::PathBuf,
        flags: UpFlags,
    ) -> Result<crate::Options, ConfigError> {
        let mut opts = crate::Options::new(data_dir);
        opts.http_listen = match flags.listen {
            Some(addr) => addr,
            None => listen_addr("gateway.listen", &self.gateway.listen)?,
        };
        opts.grpc_listen = match flags.grpc_listen {
            Some(addr) => addr,
            None => listen_addr("grpc.listen", &self.grpc.listen)?,
        };
        opts.redis_url = flags.redis_url.unwrap_or(self.redis.url);
        opts.gateway = self.gateway;
        opts.relay = self.events.relay();
        opts.claim_limits = self.settlement.limits()?;
        Ok(opts)
    }
}

/// Parses a listen address, naming the key when it is not one.
pub fn listen_addr(key: &str, value: &str) -> Result<std::net::SocketAddr, ConfigError> {
    value
        .parse()
        .map_err(|e| ConfigError::invalid(key, format!("`{value}` is not a socket address: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        assert!(UpSettings::default().validate().is_ok());
        let mut s = UpSettings::default();
        s.telemetry.log_format = "xml".into();
        let e = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("telemetry.log_format"), "{e}");
        let mut s = UpSettings::default();
        s.gateway.listen = "localhost".into();
        let e = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("gateway.listen"), "{e}");
        let mut s = UpSettings::default();
        s.gateway.max_body_bytes = 0;
        assert!(s.validate().is_err());
    }
}
