//! The supervision service: fund supervision.
//!
//! Layout: [`domain`] holds the rules (pure), [`store`] the tables and transactions,
//! [`convert`] maps bus events to domain events, [`consumer`] runs the detector on the streams,
//! [`api`] the gRPC mapping; [`build`] wires them for `main.rs` and for the all-in-one binary.

pub mod api;
pub mod consumer;
pub mod convert;
pub mod domain;
pub mod error;
pub mod mapping;
pub mod store;

use std::sync::Arc;
use yibao_proto::supervision::v1::supervision_service_server::SupervisionServiceServer;
use yibao_runtime::server::ServiceDeps;

/// Name of the gRPC service (health and reflection).
pub const SERVICE_NAME: &str = "yibao.supervision.v1.SupervisionService";

/// Connects to the database, applies migrations, starts the stream consumer and builds the
/// gRPC service. The consumer runs as long as the service is alive.
pub async fn build(
    deps: ServiceDeps,
) -> Result<SupervisionServiceServer<api::SupervisionApi>, String> {
    build_with(deps, consumer::ConsumerConfig::default()).await
}

/// [`build`] with the consumer's streams, group and name chosen by the caller.
pub async fn build_with(
    deps: ServiceDeps,
    cfg: consumer::ConsumerConfig,
) -> Result<SupervisionServiceServer<api::SupervisionApi>, String> {
    let conn = yibao_runtime::db::connect_and_migrate::<store::migration::Migrator>(&deps.database)
        .await
        .map_err(|e| format!("supervision database: {e}"))?;
    let store = store::Store::new(conn);
    let lag = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let consumer =
        consumer::Consumer::new(store.clone(), Arc::clone(&deps.bus), cfg, Arc::clone(&lag));
    tokio::spawn(consumer.run(stop_rx));
    Ok(SupervisionServiceServer::new(api::SupervisionApi::new(
        store, deps, lag, stop_tx,
    )))
}
