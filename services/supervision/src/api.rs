//! gRPC mapping of the supervision service.

use yibao_runtime::server::ServiceDeps;

/// The SupervisionService implementation.
#[derive(Debug)]
pub struct SupervisionApi {
    #[allow(dead_code)]
    db: sea_orm::DatabaseConnection,
    #[allow(dead_code)]
    deps: ServiceDeps,
}

impl SupervisionApi {
    /// Builds the API over a migrated database.
    pub fn new(db: sea_orm::DatabaseConnection, deps: ServiceDeps) -> Self {
        Self { db, deps }
    }
}

#[tonic::async_trait]
impl yibao_proto::supervision::v1::supervision_service_server::SupervisionService for SupervisionApi {}
