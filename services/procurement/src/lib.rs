//! The procurement service: centralised procurement, prices and payment standards.
//!
//! Layout (the service template): [`api`] maps proto ⇄ app types and errors → `Status`;
//! [`app`] holds the use cases (tenancy re-checks against stored records, the transaction,
//! the rules, the outbox write) and the payment-standard cache; [`domain`] the rules (pure);
//! [`store`] the rows per aggregate and the migrations; [`events`] the bus output (inventory
//! events, published by the runtime's relay); [`error`] the stable error codes, declared once. [`build`] wires them for `main.rs` and for the all-in-one binary.

pub mod api;
pub mod app;
pub mod demo;
pub mod domain;
pub mod error;
pub mod events;
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
    let app = app::Procurement::new(
        conn,
        deps.cache.clone(),
        Some((deps.bus.clone(), deps.relay)),
    )
    .await
    .map_err(|e| format!("procurement start: {e}"))?;
    Ok(ProcurementServiceServer::new(api::ProcurementApi::new(app)))
}
