//! The enrollment service: people, households, categories, enrolment and contributions,
//! status events, eligibility (cached), electronic vouchers, duplicate detection, roster
//! reconciliation, coverage and bulk import, and the designated-institution registry (which
//! acts on supervision's blacklist).
//!
//! Layout (the service template): [`api`] maps proto ⇄ app types and errors → `Status`;
//! [`app`] holds the use cases (tenancy, the transaction, the rules, the cache); [`domain`]
//! the rules, pure; [`store`] the rows, per aggregate, with entities and migrations;
//! [`events`] the bus in (supervision's sanctions). [`build`] wires them for `main.rs` and
//! for the all-in-one binary.

pub mod api;
pub mod app;
pub mod domain;
pub mod error;
pub mod events;
pub mod store;

use serde::{Deserialize, Serialize};
use yibao_proto::enrollment::v1::enrollment_service_server::EnrollmentServiceServer;
use yibao_runtime::config::ServiceSettings;
use yibao_runtime::db::StoreBase;
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

/// Key of the voucher secret in [`ServiceDeps::secrets`] (the `[enrollment]` setting).
pub const VOUCHER_SECRET_KEY: &str = "enrollment.voucher_secret";

/// The built service.
pub type Service = EnrollmentServiceServer<api::EnrollmentApi>;

/// Connects to the database, applies migrations, starts the consumer of supervision's
/// sanctions (on `deps.bus`) and builds the gRPC service. The voucher secret (≥ 32
/// characters; it signs vouchers and keys the cache's hashes of ID numbers) is
/// `deps.secrets[VOUCHER_SECRET_KEY]`.
pub async fn build(deps: ServiceDeps) -> Result<Service, String> {
    let secret = deps.secret(VOUCHER_SECRET_KEY, 32)?;
    let base = StoreBase::connect::<store::migration::Migrator>(&deps.database)
        .await
        .map_err(|e| format!("enrollment database: {e}"))?;
    let inbox_base = base.clone();
    let api = api::EnrollmentApi::new(
        store::Store::with_base(base),
        deps.cache.clone(),
        secret.as_bytes(),
    );
    // The eligibility and institution caches are keyed by an epoch in the database: read it
    // before serving, then every second (app::eligibility).
    for (name, cache) in [
        ("eligibility", api.app().eligibility_cache()),
        ("institution", api.app().institution_cache()),
    ] {
        cache
            .refresh_epoch()
            .await
            .map_err(|e| format!("enrollment: reading the {name} cache epoch: {e}"))?;
        drop(cache.watch());
    }
    events::sanctions::start_sanction_consumer(api.app().clone(), deps.bus.clone(), inbox_base);
    Ok(EnrollmentServiceServer::new(api))
}
