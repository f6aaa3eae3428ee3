//! The enrollment service: people, households, categories, enrolment and contributions,
//! status events, eligibility (cached), electronic vouchers, duplicate detection, roster
//! reconciliation, coverage and bulk import.
//!
//! Layout: [`domain`] holds the rules (pure), [`store`] the tables and transactions, [`api`]
//! the gRPC mapping; [`serve`] wires them for `main.rs` and for the all-in-one binary.

pub mod api;
pub mod domain;
pub mod error;
pub mod import;
pub mod scan;
pub mod store;
pub mod voucher;

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use yibao_runtime::config::ServiceSettings;

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

/// Connects to the database, applies migrations and builds the gRPC service.
pub async fn build(
    db: &yibao_runtime::config::DatabaseConfig,
    cache: Arc<dyn yibao_runtime::cache::Cache>,
    voucher_secret: &str,
) -> Result<
    yibao_proto::enrollment::v1::enrollment_service_server::EnrollmentServiceServer<
        api::EnrollmentApi,
    >,
    String,
> {
    if voucher_secret.len() < 32 {
        return Err(
            "configuration key `enrollment.voucher_secret`: must be at least 32 characters".into(),
        );
    }
    let conn = yibao_runtime::db::connect_and_migrate::<store::migration::Migrator>(db)
        .await
        .map_err(|e| format!("enrollment database: {e}"))?;
    let api = api::EnrollmentApi::new(store::Store::new(conn), cache, voucher_secret.as_bytes());
    Ok(yibao_proto::enrollment::v1::enrollment_service_server::EnrollmentServiceServer::new(api))
}
