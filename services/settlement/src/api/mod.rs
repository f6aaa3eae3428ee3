//! gRPC mapping of the settlement service: proto ⇄ app types, field-named refusals of bad
//! input (before anything is written), request-level tenancy (the caller names its own
//! organisation and region), errors → `Status`. One file per area: [`claims`] (settle,
//! reverse, read), [`encounters`] (the lifecycle the national interface drives), [`policies`], [`statements`] (statements and
//! the ledger), [`insurers`]; the messages in [`messages`], the enums in [`enums`], the error
//! mapping in [`error`]. The use cases are in `app/`.

pub mod claims;
pub mod encounters;
pub mod enums;
pub mod error;
pub mod insurers;
pub mod messages;
pub mod policies;
pub mod statements;

use crate::app::{Authorization, SettlementApp};
use chrono::NaiveDate;
use tonic::{Request, Response, Status};
use yibao_core::{IdNumber, RegionCode};
use yibao_proto::common::v1 as common;
use yibao_proto::settlement::v1 as pb;
use yibao_runtime::auth::Caller;
use yibao_runtime::page::{PAGE_INVALID, Page};
use yibao_runtime::{Actor, ApiError};

type Reply<T> = Result<Response<T>, Status>;

/// The SettlementService implementation.
#[derive(Debug, Clone)]
pub struct SettlementApi {
    app: SettlementApp,
}

impl SettlementApi {
    /// The API over the use cases.
    pub fn new(app: SettlementApp) -> SettlementApi {
        SettlementApi { app }
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Status {
    crate::error::INVALID_ARGUMENT.invalid(field, reason).into()
}

fn auth(e: yibao_runtime::auth::AuthError) -> Status {
    ApiError::from(e).into()
}

fn actor(c: &Caller) -> Actor {
    Actor::from(c)
}

/// The caller's `authorization` header, to forward upstream.
fn authorization<T>(req: &Request<T>) -> Authorization {
    req.metadata()
        .get("authorization")
        .and_then(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok())
}

fn parse_month(field: &str, s: &str) -> Result<String, Status> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .map_err(|_| invalid(field, "must be a month YYYY-MM"))?;
    if s.len() != 7 {
        return Err(invalid(field, "must be a month YYYY-MM"));
    }
    Ok(s.to_string())
}

fn parse_region(field: &str, s: &str) -> Result<RegionCode, Status> {
    RegionCode::parse(s).map_err(|e| invalid(field, e.to_string()))
}

fn parse_id(field: &str, s: &str) -> Result<IdNumber, Status> {
    IdNumber::parse(s).map_err(|e| invalid(field, e.to_string()))
}

fn page(p: Option<&common::PageRequest>) -> Result<Page, Status> {
    Page::parse(p).map_err(Status::from)
}

/// A token whose key does not have `n` columns was not made by a previous page.
fn page_key(page: &Page, n: usize) -> Result<Option<&[String]>, Status> {
    if page.is_first() {
        return Ok(None);
    }
    if page.after.len() != n {
        return Err(PAGE_INVALID
            .invalid("page.page_token", "is not a token a previous page returned")
            .into());
    }
    Ok(Some(&page.after))
}

/// The region a region-scoped caller lists by default.
fn list_region(c: &Caller, field: &str, requested: &str) -> Result<Option<String>, Status> {
    if requested.is_empty() {
        return Ok(c
            .region
            .as_ref()
            .filter(|_| c.role.is_region_scoped())
            .map(ToString::to_string));
    }
    parse_region(field, requested)?;
    c.check_region(field, requested).map_err(auth)?;
    Ok(Some(requested.to_string()))
}

#[tonic::async_trait]
impl pb::settlement_service_server::SettlementService for SettlementApi {
    async fn pre_settle(&self, req: Request<pb::PreSettleRequest>) -> Reply<pb::PreSettleResponse> {
        self.pre_settle_claim(req).await
    }

    async fn settle(&self, req: Request<pb::SettleRequest>) -> Reply<pb::SettleResponse> {
        self.settle_claim(req).await
    }

    async fn reverse(&self, req: Request<pb::ReverseRequest>) -> Reply<pb::ReverseResponse> {
        self.reverse_claim(req).await
    }

    async fn resettle(&self, req: Request<pb::ResettleRequest>) -> Reply<pb::ResettleResponse> {
        self.resettle_claim(req).await
    }

    async fn open_encounter(
        &self,
        req: Request<pb::OpenEncounterRequest>,
    ) -> Reply<pb::OpenEncounterResponse> {
        self.encounter_open(req).await
    }

    async fn get_encounter(
        &self,
        req: Request<pb::GetEncounterRequest>,
    ) -> Reply<pb::GetEncounterResponse> {
        self.encounter_read(req).await
    }

    async fn update_encounter(
        &self,
        req: Request<pb::UpdateEncounterRequest>,
    ) -> Reply<pb::UpdateEncounterResponse> {
        self.encounter_update(req).await
    }

    async fn upload_fees(
        &self,
        req: Request<pb::UploadFeesRequest>,
    ) -> Reply<pb::UploadFeesResponse> {
        self.fees_upload(req).await
    }

    async fn cancel_fees(
        &self,
        req: Request<pb::CancelFeesRequest>,
    ) -> Reply<pb::CancelFeesResponse> {
        self.fees_cancel(req).await
    }

    async fn discharge_encounter(
        &self,
        req: Request<pb::DischargeEncounterRequest>,
    ) -> Reply<pb::DischargeEncounterResponse> {
        self.encounter_discharge(req).await
    }

    async fn cancel_encounter(
        &self,
        req: Request<pb::CancelEncounterRequest>,
    ) -> Reply<pb::CancelEncounterResponse> {
        self.encounter_cancel(req).await
    }

    async fn pre_settle_encounter(
        &self,
        req: Request<pb::PreSettleEncounterRequest>,
    ) -> Reply<pb::PreSettleEncounterResponse> {
        self.encounter_pre_settle(req).await
    }

    async fn settle_encounter(
        &self,
        req: Request<pb::SettleEncounterRequest>,
    ) -> Reply<pb::SettleEncounterResponse> {
        self.encounter_settle(req).await
    }

    async fn reverse_by_request(
        &self,
        req: Request<pb::ReverseByRequestRequest>,
    ) -> Reply<pb::ReverseByRequestResponse> {
        self.request_reverse(req).await
    }

    async fn get_claim(&self, req: Request<pb::GetClaimRequest>) -> Reply<pb::GetClaimResponse> {
        self.read_claim(req).await
    }

    async fn list_claims(
        &self,
        req: Request<pb::ListClaimsRequest>,
    ) -> Reply<pb::ListClaimsResponse> {
        self.claim_list(req).await
    }

    async fn upload_policy(
        &self,
        req: Request<pb::UploadPolicyRequest>,
    ) -> Reply<pb::UploadPolicyResponse> {
        self.policy_upload(req).await
    }

    async fn list_policies(
        &self,
        req: Request<pb::ListPoliciesRequest>,
    ) -> Reply<pb::ListPoliciesResponse> {
        self.policy_list(req).await
    }

    async fn get_policy(&self, req: Request<pb::GetPolicyRequest>) -> Reply<pb::GetPolicyResponse> {
        self.policy_read(req).await
    }

    async fn get_accumulators(
        &self,
        req: Request<pb::GetAccumulatorsRequest>,
    ) -> Reply<pb::GetAccumulatorsResponse> {
        self.accumulators_read(req).await
    }

    async fn get_institution_statement(
        &self,
        req: Request<pb::GetInstitutionStatementRequest>,
    ) -> Reply<pb::GetInstitutionStatementResponse> {
        self.statement_read(req).await
    }

    async fn reconcile_ledger(
        &self,
        req: Request<pb::ReconcileLedgerRequest>,
    ) -> Reply<pb::ReconcileLedgerResponse> {
        self.ledger_reconcile(req).await
    }

    async fn list_insurer_claims(
        &self,
        req: Request<pb::ListInsurerClaimsRequest>,
    ) -> Reply<pb::ListInsurerClaimsResponse> {
        self.insurer_claim_list(req).await
    }

    async fn reconcile_insurer(
        &self,
        req: Request<pb::ReconcileInsurerRequest>,
    ) -> Reply<pb::ReconcileInsurerResponse> {
        self.insurer_reconcile(req).await
    }

    async fn dispute_insurer_claim(
        &self,
        req: Request<pb::DisputeInsurerClaimRequest>,
    ) -> Reply<pb::DisputeInsurerClaimResponse> {
        self.insurer_dispute(req).await
    }

    async fn resolve_insurer_dispute(
        &self,
        req: Request<pb::ResolveInsurerDisputeRequest>,
    ) -> Reply<pb::ResolveInsurerDisputeResponse> {
        self.insurer_resolve(req).await
    }

    async fn register_supplement_member(
        &self,
        req: Request<pb::RegisterSupplementMemberRequest>,
    ) -> Reply<pb::RegisterSupplementMemberResponse> {
        self.member_register(req).await
    }
}
