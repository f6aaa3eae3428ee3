//! gRPC mapping of the settlement service.

use yibao_runtime::server::ServiceDeps;

/// The SettlementService implementation.
#[derive(Debug)]
pub struct SettlementApi {
    #[allow(dead_code)]
    db: sea_orm::DatabaseConnection,
    #[allow(dead_code)]
    deps: ServiceDeps,
}

impl SettlementApi {
    /// Builds the API over a migrated database.
    pub fn new(db: sea_orm::DatabaseConnection, deps: ServiceDeps) -> Self {
        Self { db, deps }
    }
}

#[tonic::async_trait]
impl yibao_proto::settlement::v1::settlement_service_server::SettlementService for SettlementApi {}
