//! The gRPC API: proto ⇄ app mapping and errors → `Status`, nothing else. Each handler
//! parses its request at the edge (errors name the field; nothing is written), checks a
//! region the request names against the caller, calls one use case in `app`, and maps the
//! result back. One file per area; [`error`] holds the one mapping of errors.

mod certifications;
mod coverage;
mod credentials;
mod duplicates;
mod eligibility;
mod enrolments;
pub mod error;
mod households;
mod import;
mod parse;
mod persons;
mod physicians;
mod registry;
mod roster;
mod settlement_facts;
mod vouchers;

use crate::app::Enrollment;
use crate::store::Store;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::cache::Cache;
use yibao_runtime::server::caller;

/// The enrollment gRPC service.
#[derive(Debug, Clone)]
pub struct EnrollmentApi {
    app: Enrollment,
}

type Reply<T> = Result<Response<T>, Status>;

impl EnrollmentApi {
    /// Builds the API over a store and a cache.
    pub fn new(store: Store, cache: Arc<dyn Cache>, voucher_secret: &[u8]) -> EnrollmentApi {
        EnrollmentApi {
            app: Enrollment::new(store, cache, voucher_secret),
        }
    }

    /// The use cases behind the API.
    pub fn app(&self) -> &Enrollment {
        &self.app
    }
}

#[tonic::async_trait]
impl pb::enrollment_service_server::EnrollmentService for EnrollmentApi {
    async fn register_person(
        &self,
        req: Request<pb::RegisterPersonRequest>,
    ) -> Reply<pb::RegisterPersonResponse> {
        persons::register_person(&self.app, req).await
    }

    async fn correct_person(
        &self,
        req: Request<pb::CorrectPersonRequest>,
    ) -> Reply<pb::CorrectPersonResponse> {
        persons::correct_person(&self.app, req).await
    }

    async fn get_person(&self, req: Request<pb::GetPersonRequest>) -> Reply<pb::GetPersonResponse> {
        persons::get_person(&self.app, req).await
    }

    async fn lookup_person(
        &self,
        req: Request<pb::LookupPersonRequest>,
    ) -> Reply<pb::LookupPersonResponse> {
        persons::lookup_person(&self.app, req).await
    }

    async fn get_person_history(
        &self,
        req: Request<pb::GetPersonHistoryRequest>,
    ) -> Reply<pb::GetPersonHistoryResponse> {
        persons::get_person_history(&self.app, req).await
    }

    async fn create_household(
        &self,
        req: Request<pb::CreateHouseholdRequest>,
    ) -> Reply<pb::CreateHouseholdResponse> {
        households::create_household(&self.app, req).await
    }

    async fn get_household(
        &self,
        req: Request<pb::GetHouseholdRequest>,
    ) -> Reply<pb::GetHouseholdResponse> {
        households::get_household(&self.app, req).await
    }

    async fn grant_category(
        &self,
        req: Request<pb::GrantCategoryRequest>,
    ) -> Reply<pb::GrantCategoryResponse> {
        persons::grant_category(&self.app, req).await
    }

    async fn set_contribution_standard(
        &self,
        req: Request<pb::SetContributionStandardRequest>,
    ) -> Reply<pb::SetContributionStandardResponse> {
        enrolments::set_contribution_standard(&self.app, req).await
    }

    async fn enroll(&self, req: Request<pb::EnrollRequest>) -> Reply<pb::EnrollResponse> {
        enrolments::enroll(&self.app, req).await
    }

    async fn record_contribution(
        &self,
        req: Request<pb::RecordContributionRequest>,
    ) -> Reply<pb::RecordContributionResponse> {
        enrolments::record_contribution(&self.app, req).await
    }

    async fn list_enrolments(
        &self,
        req: Request<pb::ListEnrolmentsRequest>,
    ) -> Reply<pb::ListEnrolmentsResponse> {
        enrolments::list_enrolments(&self.app, req).await
    }

    async fn record_status_event(
        &self,
        req: Request<pb::RecordStatusEventRequest>,
    ) -> Reply<pb::RecordStatusEventResponse> {
        enrolments::record_status_event(&self.app, req).await
    }

    /// The hottest path of the platform, kept inline: parse, one use-case call (a cache read
    /// on a hit), map. Nothing else may be added here.
    async fn check_eligibility(
        &self,
        req: Request<pb::CheckEligibilityRequest>,
    ) -> Reply<pb::CheckEligibilityResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let id = parse::parse_id("id_number", &r.id_number)?;
        let date = parse::date_or_today("date", &r.date)?;
        Ok(Response::new(
            match self.app.eligibility_for(&c, &id, date).await? {
                Some(answer) => eligibility::eligibility_pb(answer),
                None => eligibility::unknown_person_pb(&id, date),
            },
        ))
    }

    async fn issue_voucher(
        &self,
        req: Request<pb::IssueVoucherRequest>,
    ) -> Reply<pb::IssueVoucherResponse> {
        vouchers::issue_voucher(&self.app, req).await
    }

    async fn resolve_voucher(
        &self,
        req: Request<pb::ResolveVoucherRequest>,
    ) -> Reply<pb::ResolveVoucherResponse> {
        vouchers::resolve_voucher(&self.app, req).await
    }

    async fn revoke_voucher(
        &self,
        req: Request<pb::RevokeVoucherRequest>,
    ) -> Reply<pb::RevokeVoucherResponse> {
        vouchers::revoke_voucher(&self.app, req).await
    }

    async fn scan_duplicates(
        &self,
        req: Request<pb::ScanDuplicatesRequest>,
    ) -> Reply<pb::ScanDuplicatesResponse> {
        duplicates::scan_duplicates(&self.app, req).await
    }

    async fn list_duplicate_tasks(
        &self,
        req: Request<pb::ListDuplicateTasksRequest>,
    ) -> Reply<pb::ListDuplicateTasksResponse> {
        duplicates::list_duplicate_tasks(&self.app, req).await
    }

    async fn transition_duplicate_task(
        &self,
        req: Request<pb::TransitionDuplicateTaskRequest>,
    ) -> Reply<pb::TransitionDuplicateTaskResponse> {
        duplicates::transition_duplicate_task(&self.app, req).await
    }

    async fn reconcile_roster(
        &self,
        req: Request<pb::ReconcileRosterRequest>,
    ) -> Reply<pb::ReconcileRosterResponse> {
        roster::reconcile_roster(&self.app, req).await
    }

    async fn set_coverage_target(
        &self,
        req: Request<pb::SetCoverageTargetRequest>,
    ) -> Reply<pb::SetCoverageTargetResponse> {
        coverage::set_coverage_target(&self.app, req).await
    }

    async fn get_coverage(
        &self,
        req: Request<pb::GetCoverageRequest>,
    ) -> Reply<pb::GetCoverageResponse> {
        coverage::get_coverage(&self.app, req).await
    }

    async fn import_records(
        &self,
        req: Request<pb::ImportRecordsRequest>,
    ) -> Reply<pb::ImportRecordsResponse> {
        import::import_records(&self.app, req).await
    }

    async fn import_institution_roster(
        &self,
        req: Request<pb::ImportInstitutionRosterRequest>,
    ) -> Reply<pb::ImportInstitutionRosterResponse> {
        registry::import_roster(&self.app, req).await
    }

    async fn list_institutions(
        &self,
        req: Request<pb::ListInstitutionsRequest>,
    ) -> Reply<pb::ListInstitutionsResponse> {
        registry::list_institutions(&self.app, req).await
    }

    async fn get_institution(
        &self,
        req: Request<pb::GetInstitutionRequest>,
    ) -> Reply<pb::GetInstitutionResponse> {
        registry::get_institution(&self.app, req).await
    }

    async fn get_institution_history(
        &self,
        req: Request<pb::GetInstitutionHistoryRequest>,
    ) -> Reply<pb::GetInstitutionHistoryResponse> {
        registry::institution_history(&self.app, req).await
    }

    async fn change_institution_status(
        &self,
        req: Request<pb::ChangeInstitutionStatusRequest>,
    ) -> Reply<pb::ChangeInstitutionStatusResponse> {
        registry::change_status(&self.app, req).await
    }

    async fn issue_interface_credential(
        &self,
        req: Request<pb::IssueInterfaceCredentialRequest>,
    ) -> Reply<pb::IssueInterfaceCredentialResponse> {
        credentials::issue(&self.app, req).await
    }

    async fn resolve_interface_credential(
        &self,
        req: Request<pb::ResolveInterfaceCredentialRequest>,
    ) -> Reply<pb::ResolveInterfaceCredentialResponse> {
        credentials::resolve(&self.app, req).await
    }

    async fn import_physicians(
        &self,
        req: Request<pb::ImportPhysiciansRequest>,
    ) -> Reply<pb::ImportPhysiciansResponse> {
        physicians::import_physicians(&self.app, req).await
    }

    async fn list_physicians(
        &self,
        req: Request<pb::ListPhysiciansRequest>,
    ) -> Reply<pb::ListPhysiciansResponse> {
        physicians::list_physicians(&self.app, req).await
    }

    async fn get_physician(
        &self,
        req: Request<pb::GetPhysicianRequest>,
    ) -> Reply<pb::GetPhysicianResponse> {
        physicians::get_physician(&self.app, req).await
    }

    async fn add_chronic_certification(
        &self,
        req: Request<pb::AddChronicCertificationRequest>,
    ) -> Reply<pb::AddChronicCertificationResponse> {
        certifications::add_certification(&self.app, req).await
    }

    async fn list_chronic_certifications(
        &self,
        req: Request<pb::ListChronicCertificationsRequest>,
    ) -> Reply<pb::ListChronicCertificationsResponse> {
        certifications::list_certifications(&self.app, req).await
    }

    async fn revoke_chronic_certification(
        &self,
        req: Request<pb::RevokeChronicCertificationRequest>,
    ) -> Reply<pb::RevokeChronicCertificationResponse> {
        certifications::revoke_certification(&self.app, req).await
    }

    async fn add_cross_region_filing(
        &self,
        req: Request<pb::AddCrossRegionFilingRequest>,
    ) -> Reply<pb::AddCrossRegionFilingResponse> {
        certifications::add_filing(&self.app, req).await
    }

    async fn list_cross_region_filings(
        &self,
        req: Request<pb::ListCrossRegionFilingsRequest>,
    ) -> Reply<pb::ListCrossRegionFilingsResponse> {
        certifications::list_filings(&self.app, req).await
    }

    async fn revoke_cross_region_filing(
        &self,
        req: Request<pb::RevokeCrossRegionFilingRequest>,
    ) -> Reply<pb::RevokeCrossRegionFilingResponse> {
        certifications::revoke_filing(&self.app, req).await
    }

    async fn get_settlement_facts(
        &self,
        req: Request<pb::GetSettlementFactsRequest>,
    ) -> Reply<pb::GetSettlementFactsResponse> {
        settlement_facts::settlement_facts(&self.app, req).await
    }
}
