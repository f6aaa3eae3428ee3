//! The supervision service: fund supervision.
//!
//! Layout: [`domain`] holds the rules (pure), [`store`] the tables and transactions, [`api`]
//! the gRPC mapping; [`build`] wires them for `main.rs` and for the all-in-one binary.

pub mod api;
pub mod domain;
pub mod store;

use yibao_proto::supervision::v1::supervision_service_server::SupervisionServiceServer;
use yibao_runtime::server::ServiceDeps;

/// Name of the gRPC service (health and reflection).
pub const SERVICE_NAME: &str = "yibao.supervision.v1.SupervisionService";

/// Connects to the database, applies migrations and builds the gRPC service.
pub async fn build(deps: ServiceDeps) -> Result<SupervisionServiceServer<api::SupervisionApi>, String> {
    let conn = yibao_runtime::db::connect_and_migrate::<store::migration::Migrator>(&deps.database).await.map_err(|e| format!("supervision database: {e}"))?;
    Ok(SupervisionServiceServer::new(api::SupervisionApi::new(conn, deps)))
}
