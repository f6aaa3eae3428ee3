//! The enrollment service: people, households, categories, enrolment and contributions,
//! status events, eligibility (cached), electronic vouchers, duplicate detection, roster
//! reconciliation, coverage and bulk import.
//!
//! Layout (the service template): [`api`] maps proto ⇄ app types and errors → `Status`;
//! [`app`] holds the use cases (tenancy, the transaction, the rules, the cache); [`domain`]
//! the rules, pure; [`store`] the rows, per aggregate, with entities and migrations.
//! [`build`] wires them for `main.rs` and for the all-in-one binary.

pub mod api;
pub mod app;
pub mod domain;
pub mod error;
pub mod store;

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use yibao_proto::enrollment::v1::enrollment_service_server::EnrollmentServiceServer;
use yibao_runtime::config::{DatabaseConfig, ServiceSettings};
use yibao_runtime::server::ServiceDeps;

/// Name of the gRPC service (health and reflection).
pub const SERVICE_NAME: &str = "yibao.enrollment.v1.EnrollmentService";

/// Settings of the enrollment binary: the shared ones plus its own section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    /// Shared settings (flattened: `grpc`, `database`, `redis`, `telemetry`, `auth`, `upstreams`).
    #[serde(flatten)]
    pub service: ServiceSettings,
    /// `[enrollment]` section.
    pub enrollment: EnrollmentSettings,
}

/// `[enrollment]` settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EnrollmentSettings {
    /// Secret (≥ 32 bytes) signing vouchers and keying cache hashes of ID numbers.
    pub voucher_secret: String,
}

/// The built service.
pub type Service = EnrollmentServiceServer<api::EnrollmentApi>;

/// Connects to the database, applies migrations and builds the gRPC service from the shared
/// dependencies and the voucher secret.
pub async fn build_with_secret(deps: ServiceDeps, voucher_secret: &str) -> Result<Service, String> {
    build_from(&deps.database, deps.cache, voucher_secret).await
}

/// The former entry point, kept so that its callers compile until they move to the shared
/// signature (`build(ServiceDeps)`, the secret then read from `ServiceDeps`): connects,
/// migrates and builds the service.
pub async fn build(
    db: &DatabaseConfig,
    cache: Arc<dyn yibao_runtime::cache::Cache>,
    voucher_secret: &str,
) -> Result<Service, String> {
    build_from(db, cache, voucher_secret).await
}

async fn build_from(
    db: &DatabaseConfig,
    cache: Arc<dyn yibao_runtime::cache::Cache>,
    voucher_secret: &str,
) -> Result<Service, String> {
    if voucher_secret.len() < 32 {
        return Err(
            "configuration key `enrollment.voucher_secret`: must be at least 32 characters".into(),
        );
    }
    let conn = yibao_runtime::db::connect_and_migrate::<store::migration::Migrator>(db)
        .await
        .map_err(|e| format!("enrollment database: {e}"))?;
    let api = api::EnrollmentApi::new(store::Store::new(conn), cache, voucher_secret.as_bytes());
    Ok(EnrollmentServiceServer::new(api))
}
