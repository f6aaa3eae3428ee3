//! The long-term-care service (长期护理保险): applications and their workflow, assessments by
//! the national standard, benefit policies per region and year as data, care plans, care-service
//! records checked against plan, enrolment, death and hospital stays, the monthly settlement per
//! institution with reversal, and statistics.
//!
//! Layout: [`api`] maps proto ⇄ the use cases and errors → status; [`app`] holds the use cases
//! (enrollment look-ups, transactions, the rules, the outbox); [`domain`] the rules (pure);
//! [`store`] the rows; [`events`] the bus in and out (the LTC events written to the runtime's
//! outbox, the consumer of settlement's inpatient stays); [`error`] every stable code; [`build`]
//! wires them for `main.rs` and for the all-in-one binary.

pub mod api;
pub mod app;
pub mod domain;
pub mod error;
pub mod events;
pub mod store;

use std::sync::Arc;
use yibao_proto::ltc::v1::ltc_service_server::LtcServiceServer;
use yibao_runtime::server::ServiceDeps;

/// Name of the gRPC service (health and reflection).
pub const SERVICE_NAME: &str = "yibao.ltc.v1.LtcService";

/// Connects to the database, applies migrations, starts the runtime's outbox relay and the consumer of
/// settlement's claim events, and builds the gRPC service.
pub async fn build(deps: ServiceDeps) -> Result<LtcServiceServer<api::LtcApi>, String> {
    let store = store::Store::connect(&deps.database)
        .await
        .map_err(|e| format!("ltc database: {e}"))?;
    let enrollment = deps
        .upstreams
        .client("enrollment")
        .map_err(|e| e.to_string())?;
    let relay = yibao_runtime::outbox::Relay::start(
        "ltc",
        store.base().clone(),
        deps.bus.clone(),
        deps.relay,
    );
    let base = store.base().clone();
    let ltc = app::Ltc::new(
        store,
        Arc::new(app::GrpcEnrollment::new(enrollment)),
        Some(relay),
    );
    events::stays::start_stay_consumer(ltc.clone(), deps.bus.clone(), base);
    Ok(LtcServiceServer::new(api::LtcApi::new(ltc)))
}
