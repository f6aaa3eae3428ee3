//! The supervision service: fund supervision.
//!
//! Layout (the service template): [`domain`] holds the rules (pure); [`store`] the tables, one
//! file per aggregate; [`app`] the use cases (transactions and domain calls); [`api`] the gRPC
//! mapping (proto ⇄ app, errors → `Status`); [`events`] the bus in and out (decoding, the
//! stream consumer, the sanctions published through the runtime's outbox). [`build`] wires
//! them for `main.rs` and for the all-in-one binary.

pub mod api;
pub mod app;
pub mod domain;
pub mod error;
pub mod events;
pub mod store;

use std::sync::Arc;
use yibao_proto::supervision::v1::supervision_service_server::SupervisionServiceServer;
use yibao_runtime::server::ServiceDeps;

/// Name of the gRPC service (health and reflection).
pub const SERVICE_NAME: &str = "yibao.supervision.v1.SupervisionService";

/// Connects to the database, applies migrations, starts the stream consumer and the runtime's
/// outbox relay (the sanctions of `yibao.supervision.sanctions`), and builds the gRPC service.
/// Both run as long as the service is alive.
pub async fn build(
    deps: ServiceDeps,
) -> Result<SupervisionServiceServer<api::SupervisionApi>, String> {
    build_with(deps, events::ConsumerConfig::default()).await
}

/// [`build`] with the consumer's streams, group and name chosen by the caller.
pub async fn build_with(
    deps: ServiceDeps,
    cfg: events::ConsumerConfig,
) -> Result<SupervisionServiceServer<api::SupervisionApi>, String> {
    let conn = yibao_runtime::db::connect_and_migrate::<store::migration::Migrator>(&deps.database)
        .await
        .map_err(|e| format!("supervision database: {e}"))?;
    let store = store::Store::new(conn);
    let lag = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let consumer =
        events::Consumer::new(store.clone(), Arc::clone(&deps.bus), cfg, Arc::clone(&lag));
    tokio::spawn(consumer.run(stop_rx));
    let relay = yibao_runtime::outbox::Relay::start(
        "supervision",
        store.base().clone(),
        Arc::clone(&deps.bus),
        deps.relay,
    );
    let app = app::Supervision::new(store, lag).with_relay(relay);
    Ok(SupervisionServiceServer::new(api::SupervisionApi::new(
        app, deps, stop_tx,
    )))
}
