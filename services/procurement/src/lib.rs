//! The procurement service: centralised procurement, prices and payment standards.
//!
//! Layout: [`domain`] holds the rules (pure), [`store`] the tables and transactions, [`api`]
//! the gRPC mapping ([`convert`] the proto ⇄ domain conversions), [`standards`] the cached
//! payment-standard look-up, [`outbox`] the inventory events for supervision; [`build`] wires
//! them for `main.rs` and for the all-in-one binary.

pub mod api;
pub mod convert;
pub mod domain;
pub mod error;
pub mod outbox;
pub mod standards;
pub mod store;

use yibao_proto::procurement::v1::procurement_service_server::ProcurementServiceServer;
use yibao_runtime::server::ServiceDeps;

/// Name of the gRPC service (health and reflection).
pub const SERVICE_NAME: &str = "yibao.procurement.v1.ProcurementService";

/// Connects to the database, applies migrations and builds the gRPC service.
pub async fn build(
    deps: ServiceDeps,
) -> Result<ProcurementServiceServer<api::ProcurementApi>, String> {
    let conn = yibao_runtime::db::connect_and_migrate::<store::migration::Migrator>(&deps.database)
        .await
        .map_err(|e| format!("procurement database: {e}"))?;
    let bus = deps.bus.clone();
    let api = api::ProcurementApi::new(conn, deps)
        .await
        .map_err(|e| format!("procurement start: {e}"))?;
    outbox::spawn_relay(api.store().clone(), bus);
    Ok(ProcurementServiceServer::new(api))
}
