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

use yibao_proto::settlement::v1::settlement_service_server::SettlementServiceServer;
use yibao_runtime::server::ServiceDeps;

/// Name of the gRPC service (health and reflection).
pub const SERVICE_NAME: &str = "yibao.settlement.v1.SettlementService";

/// Connects to the database, applies migrations, seeds the default policy bundle when no
/// policy is stored, starts the outbox relay and builds the gRPC service.
pub async fn build(
    deps: ServiceDeps,
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
        deps.upstreams.channel("enrollment")?,
        deps.upstreams.channel("procurement")?,
        deps.upstreams.channel("supervision")?,
    );
    let relay = events::start_relay(store.base().clone(), deps.bus.clone());
    let app = app::SettlementApp::new(store, upstreams, Some(relay));
    Ok(SettlementServiceServer::new(api::SettlementApi::new(app)))
}
