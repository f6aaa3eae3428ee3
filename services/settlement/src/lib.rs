//! The settlement service: one-stop multi-layer settlement.
//!
//! Layout: [`domain`] holds the rules (pure), [`store`] the tables and transactions, [`api`]
//! the gRPC mapping; [`build`] wires them for `main.rs` and for the all-in-one binary.

pub mod api;
pub mod domain;
pub mod store;

use yibao_proto::settlement::v1::settlement_service_server::SettlementServiceServer;
use yibao_runtime::server::ServiceDeps;

/// Name of the gRPC service (health and reflection).
pub const SERVICE_NAME: &str = "yibao.settlement.v1.SettlementService";

/// Connects to the database, applies migrations and builds the gRPC service.
pub async fn build(deps: ServiceDeps) -> Result<SettlementServiceServer<api::SettlementApi>, String> {
    let conn = yibao_runtime::db::connect_and_migrate::<store::migration::Migrator>(&deps.database).await.map_err(|e| format!("settlement database: {e}"))?;
    Ok(SettlementServiceServer::new(api::SettlementApi::new(conn, deps)))
}
