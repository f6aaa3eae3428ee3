//! The settlement service: one-stop multi-layer settlement.
//!
//! Layout: [`domain`] holds the rules (pure), [`app`] the use cases (upstream look-ups, the
//! transaction, the outbox event), [`store`] the rows, [`api`] the gRPC mapping, [`events`]
//! the outgoing events and the relay, [`error`] the codes; [`build`] wires them for `main.rs`
//! and for the all-in-one binary.

pub mod api;
pub mod app;
pub mod domain;
pub mod error;
pub mod events;
pub mod store;

use domain::ClaimLimits;
use serde::{Deserialize, Serialize};
use yibao_core::Fen;
use yibao_proto::settlement::v1::settlement_service_server::SettlementServiceServer;
use yibao_runtime::config::{ConfigError, ServiceSettings};
use yibao_runtime::server::ServiceDeps;

/// Name of the gRPC service (health and reflection).
pub const SERVICE_NAME: &str = "yibao.settlement.v1.SettlementService";

/// Settings of the settlement binary: the shared ones plus its own section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    /// Shared settings (flattened: `grpc`, `database`, `redis`, `telemetry`, `auth`, `upstreams`).
    #[serde(flatten)]
    pub service: ServiceSettings,
    /// `[settlement]` section.
    #[serde(default)]
    pub settlement: SettlementSettings,
}

/// `[settlement]` settings (`YIBAO__SETTLEMENT__MAX_CLAIM_FEN`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SettlementSettings {
    /// The largest amount of one claim in fen: its total and each of its amounts (default
    /// 10,000,000,000 fen = 100,000,000.00 yuan). A claim above it is refused naming the field.
    pub max_claim_fen: i64,
    /// The largest quantity of one claim line (default 1,000,000).
    pub max_item_quantity: i64,
}

impl Default for SettlementSettings {
    fn default() -> SettlementSettings {
        SettlementSettings {
            max_claim_fen: ClaimLimits::DEFAULT.max_claim.0,
            max_item_quantity: ClaimLimits::DEFAULT.max_quantity,
        }
    }
}

impl SettlementSettings {
    /// The claim limits these settings give; refused naming the key when unusable (not
    /// positive, or `max_claim_fen × max_item_quantity` beyond `i64`).
    pub fn limits(&self) -> Result<ClaimLimits, ConfigError> {
        ClaimLimits::new(
            Fen(self.max_claim_fen),
            self.max_item_quantity,
            ("settlement.max_claim_fen", "settlement.max_item_quantity"),
        )
        .map_err(|e| ConfigError::invalid(e.path, e.message))
    }
}

/// [`build_with`] with the default claim limits ([`ClaimLimits::DEFAULT`]).
pub async fn build(
    deps: ServiceDeps,
) -> Result<SettlementServiceServer<api::SettlementApi>, String> {
    build_with(deps, ClaimLimits::DEFAULT).await
}

/// Connects to the database, applies migrations, seeds the default policy bundle when no
/// policy is stored, starts the outbox relay and builds the gRPC service, refusing claims
/// beyond `limits`.
pub async fn build_with(
    deps: ServiceDeps,
    limits: ClaimLimits,
) -> Result<SettlementServiceServer<api::SettlementApi>, String> {
    let conn = yibao_runtime::db::connect_and_migrate::<store::migration::Migrator>(&deps.database)
        .await
        .map_err(|e| format!("settlement database: {e}"))?;
    let store = store::Store::new(conn);
    let bundle = domain::default_bundle().map_err(|e| format!("default policy bundle: {e}"))?;
    let seeded = store
        .seed_default_policies(&bundle)
        .await
        .map_err(|e| format!("seeding policies: {e}"))?;
    if seeded > 0 {
        tracing::info!(
            policies = seeded,
            "settlement: default policy bundle stored"
        );
    }
    let upstreams = app::Upstreams::grpc(
        deps.upstreams.client("enrollment")?,
        deps.upstreams.client("procurement")?,
        deps.upstreams.client("supervision")?,
    );
    let relay = events::start_relay(store.base().clone(), deps.bus.clone(), deps.relay);
    let app = app::SettlementApp::new(store, upstreams, Some(relay)).with_limits(limits);
    Ok(SettlementServiceServer::new(api::SettlementApi::new(app)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settlement_section_gives_the_claim_limits_and_bad_values_name_their_key() {
        let parse = |json: &str| {
            serde_json::from_str::<SettlementSettings>(json)
                .unwrap_or_else(|e| panic!("{json}: {e}"))
        };
        // The section sits beside the shared ones, and is optional.
        let mut all = serde_json::to_value(Settings::default()).unwrap_or_default();
        assert!(all["settlement"].is_object(), "{all}");
        if let Some(o) = all.as_object_mut() {
            o.remove("settlement");
        }
        let without: Settings = serde_json::from_value(all).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(without.settlement, SettlementSettings::default());
        assert_eq!(parse("{}").limits().ok(), Some(ClaimLimits::DEFAULT));
        let s = parse(r#"{"max_claim_fen": 500000}"#);
        assert_eq!(
            s.limits().ok(),
            Some(ClaimLimits {
                max_claim: Fen(500_000),
                max_quantity: ClaimLimits::DEFAULT.max_quantity
            })
        );
        for (json, key) in [
            (r#"{"max_claim_fen": 0}"#, "settlement.max_claim_fen"),
            (
                r#"{"max_item_quantity": -3}"#,
                "settlement.max_item_quantity",
            ),
            (
                r#"{"max_claim_fen": 9000000000000000000, "max_item_quantity": 2}"#,
                "settlement.max_item_quantity",
            ),
        ] {
            let e = parse(json).limits().err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(key)),
                "{json}: {e:?}"
            );
        }
    }
}
