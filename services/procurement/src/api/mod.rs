//! gRPC mapping of the procurement service, one module per area: [`catalogue`], [`rounds`],
//! [`prices`] (reference prices, listings and payment standards), [`inventory`] and
//! [`savings`]. A handler takes the verified caller, checks the fields that name an
//! organisation or region against it, parses its request ([`parse`]: errors name the field;
//! nothing is written), calls one use case in `app/` and maps the result back; [`error`]
//! maps the use cases' errors to `Status` once.

pub mod catalogue;
#[cfg(test)]
mod catalogue_tests;
pub mod error;
pub mod inventory;
pub mod parse;
pub mod prices;
pub mod rounds;
pub mod savings;

use crate::app::{AppError, Procurement};
use crate::store::Audit;
use tonic::{Request, Response, Status};
use yibao_proto::common::v1 as common;
use yibao_proto::procurement::v1 as pb;
use yibao_runtime::Caller;

/// The ProcurementService implementation.
#[derive(Debug, Clone)]
pub struct ProcurementApi {
    app: Procurement,
}

type Reply<T> = Result<Response<T>, Status>;

fn denied(e: yibao_runtime::auth::AuthError) -> Status {
    yibao_runtime::ApiError::from(e).into()
}

/// Region-scoped callers must cover `region` (field `field`).
fn check_region(c: &Caller, field: &str, region: &str) -> Result<(), Status> {
    c.check_region(field, region).map_err(denied)
}

/// Organisation-scoped callers must own `org` (field `field`).
fn check_org(c: &Caller, field: &str, org: &str) -> Result<(), Status> {
    c.check_org(field, org).map_err(denied)
}

/// A required message field.
fn required<T>(field: &str, v: Option<T>) -> Result<T, AppError> {
    v.ok_or_else(|| AppError::invalid(field, "is required"))
}

/// A count as a proto `uint32`.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Audit of a stored record.
fn audit_pb(a: &Audit) -> common::Audit {
    common::Audit {
        actor: a.actor.clone(),
        role: a.role.clone(),
        at: a.at.clone(),
    }
}

impl ProcurementApi {
    /// The API over the use cases.
    pub fn new(app: Procurement) -> Self {
        Self { app }
    }

    /// The use cases.
    pub fn app(&self) -> &Procurement {
        &self.app
    }
}

#[tonic::async_trait]
impl pb::procurement_service_server::ProcurementService for ProcurementApi {
    async fn upsert_catalogue_item(
        &self,
        req: Request<pb::UpsertCatalogueItemRequest>,
    ) -> Reply<pb::UpsertCatalogueItemResponse> {
        catalogue::upsert_item(&self.app, req).await
    }

    async fn import_catalogue(
        &self,
        req: Request<pb::ImportCatalogueRequest>,
    ) -> Reply<pb::ImportCatalogueResponse> {
        catalogue::import(&self.app, req).await
    }

    async fn get_catalogue_item(
        &self,
        req: Request<pb::GetCatalogueItemRequest>,
    ) -> Reply<pb::GetCatalogueItemResponse> {
        catalogue::get_item(&self.app, req).await
    }

    async fn list_catalogue(
        &self,
        req: Request<pb::ListCatalogueRequest>,
    ) -> Reply<pb::ListCatalogueResponse> {
        catalogue::list(&self.app, req).await
    }

    async fn resolve_catalogue(
        &self,
        req: Request<pb::ResolveCatalogueRequest>,
    ) -> Reply<pb::ResolveCatalogueResponse> {
        catalogue::resolve(&self.app, req).await
    }

    async fn list_catalogue_changes(
        &self,
        req: Request<pb::ListCatalogueChangesRequest>,
    ) -> Reply<pb::ListCatalogueChangesResponse> {
        catalogue::list_changes(&self.app, req).await
    }

    async fn create_round(
        &self,
        req: Request<pb::CreateRoundRequest>,
    ) -> Reply<pb::CreateRoundResponse> {
        rounds::create_round(&self.app, req).await
    }

    async fn add_group(&self, req: Request<pb::AddGroupRequest>) -> Reply<pb::AddGroupResponse> {
        rounds::add_group(&self.app, req).await
    }

    async fn report_demand(
        &self,
        req: Request<pb::ReportDemandRequest>,
    ) -> Reply<pb::ReportDemandResponse> {
        rounds::report_demand(&self.app, req).await
    }

    async fn submit_bid(&self, req: Request<pb::SubmitBidRequest>) -> Reply<pb::SubmitBidResponse> {
        rounds::submit_bid(&self.app, req).await
    }

    async fn run_selection(
        &self,
        req: Request<pb::RunSelectionRequest>,
    ) -> Reply<pb::RunSelectionResponse> {
        rounds::run_selection(&self.app, req).await
    }

    async fn get_round_outcome(
        &self,
        req: Request<pb::GetRoundOutcomeRequest>,
    ) -> Reply<pb::GetRoundOutcomeResponse> {
        rounds::get_round_outcome(&self.app, req).await
    }

    async fn set_listed_price(
        &self,
        req: Request<pb::SetListedPriceRequest>,
    ) -> Reply<pb::SetListedPriceResponse> {
        prices::set_listed_price(&self.app, req).await
    }

    async fn set_reference_price(
        &self,
        req: Request<pb::SetReferencePriceRequest>,
    ) -> Reply<pb::SetReferencePriceResponse> {
        prices::set_reference_price(&self.app, req).await
    }

    async fn get_price_cut_statistics(
        &self,
        req: Request<pb::GetPriceCutStatisticsRequest>,
    ) -> Reply<pb::GetPriceCutStatisticsResponse> {
        rounds::get_price_cut_statistics(&self.app, req).await
    }

    async fn set_payment_standard(
        &self,
        req: Request<pb::SetPaymentStandardRequest>,
    ) -> Reply<pb::SetPaymentStandardResponse> {
        prices::set_payment_standard(&self.app, req).await
    }

    async fn derive_payment_standards(
        &self,
        req: Request<pb::DerivePaymentStandardsRequest>,
    ) -> Reply<pb::DerivePaymentStandardsResponse> {
        prices::derive_payment_standards(&self.app, req).await
    }

    async fn get_payment_standards(
        &self,
        req: Request<pb::GetPaymentStandardsRequest>,
    ) -> Reply<pb::GetPaymentStandardsResponse> {
        prices::get_payment_standards(&self.app, req).await
    }

    async fn upload_inventory_records(
        &self,
        req: Request<pb::UploadInventoryRecordsRequest>,
    ) -> Reply<pb::UploadInventoryRecordsResponse> {
        inventory::upload_records(&self.app, req).await
    }

    async fn get_volume_completion(
        &self,
        req: Request<pb::GetVolumeCompletionRequest>,
    ) -> Reply<pb::GetVolumeCompletionResponse> {
        savings::get_volume_completion(&self.app, req).await
    }

    async fn compute_retained_savings(
        &self,
        req: Request<pb::ComputeRetainedSavingsRequest>,
    ) -> Reply<pb::ComputeRetainedSavingsResponse> {
        savings::compute_retained_savings(&self.app, req).await
    }
}

/// The field and code of an input error (tests of the parsers).
#[cfg(test)]
fn field_of(e: AppError) -> (&'static str, String) {
    match e {
        AppError::Invalid { code, field, .. } => (code, field),
        other => panic!("expected an input error, got {other:?}"),
    }
}
