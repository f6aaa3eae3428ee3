//! gRPC mapping of the procurement service.

use yibao_runtime::server::ServiceDeps;

/// The ProcurementService implementation.
#[derive(Debug)]
pub struct ProcurementApi {
    #[allow(dead_code)]
    db: sea_orm::DatabaseConnection,
    #[allow(dead_code)]
    deps: ServiceDeps,
}

impl ProcurementApi {
    /// Builds the API over a migrated database.
    pub fn new(db: sea_orm::DatabaseConnection, deps: ServiceDeps) -> Self {
        Self { db, deps }
    }
}

#[tonic::async_trait]
impl yibao_proto::procurement::v1::procurement_service_server::ProcurementService for ProcurementApi {}
