//! The gRPC API: each handler parses its request at the edge (errors name the field; nothing is
//! written), hands it to the use case in `app/`, and maps the result back to proto; errors become
//! statuses in `error.rs`. One module per area. Which roles may call a method is the contract's
//! `access` option, enforced by the runtime's auth layer before a handler runs.

mod applications;
mod assessments;
mod beneficiaries;
mod error;
mod fields;
mod policies;
mod records;
mod settlements;

use crate::app::Ltc;
use tonic::{Request, Response, Status};
use yibao_proto::ltc::v1 as pb;

type Reply<T> = Result<Response<T>, Status>;

/// The LTC gRPC service.
#[derive(Debug, Clone)]
pub struct LtcApi {
    ltc: Ltc,
}

impl LtcApi {
    /// Serves the use cases.
    pub fn new(ltc: Ltc) -> LtcApi {
        LtcApi { ltc }
    }
}

#[tonic::async_trait]
impl pb::ltc_service_server::LtcService for LtcApi {
    async fn submit_application(
        &self,
        req: Request<pb::SubmitApplicationRequest>,
    ) -> Reply<pb::SubmitApplicationResponse> {
        applications::submit(&self.ltc, req).await
    }

    async fn get_application(
        &self,
        req: Request<pb::GetApplicationRequest>,
    ) -> Reply<pb::GetApplicationResponse> {
        applications::get(&self.ltc, req).await
    }

    async fn list_applications(
        &self,
        req: Request<pb::ListApplicationsRequest>,
    ) -> Reply<pb::ListApplicationsResponse> {
        applications::list(&self.ltc, req).await
    }

    async fn schedule_assessment(
        &self,
        req: Request<pb::ScheduleAssessmentRequest>,
    ) -> Reply<pb::ScheduleAssessmentResponse> {
        applications::schedule(&self.ltc, req).await
    }

    async fn submit_score_sheet(
        &self,
        req: Request<pb::SubmitScoreSheetRequest>,
    ) -> Reply<pb::SubmitScoreSheetResponse> {
        assessments::submit_sheet(&self.ltc, req).await
    }

    async fn get_assessment(
        &self,
        req: Request<pb::GetAssessmentRequest>,
    ) -> Reply<pb::GetAssessmentResponse> {
        assessments::get(&self.ltc, req).await
    }

    async fn list_assignments(
        &self,
        req: Request<pb::ListAssignmentsRequest>,
    ) -> Reply<pb::ListAssignmentsResponse> {
        assessments::list(&self.ltc, req).await
    }

    async fn decide_application(
        &self,
        req: Request<pb::DecideApplicationRequest>,
    ) -> Reply<pb::DecideApplicationResponse> {
        applications::decide(&self.ltc, req).await
    }

    async fn appeal_decision(
        &self,
        req: Request<pb::AppealDecisionRequest>,
    ) -> Reply<pb::AppealDecisionResponse> {
        applications::appeal(&self.ltc, req).await
    }

    async fn upload_benefit_policy(
        &self,
        req: Request<pb::UploadBenefitPolicyRequest>,
    ) -> Reply<pb::UploadBenefitPolicyResponse> {
        policies::upload(&self.ltc, req).await
    }

    async fn get_benefit_policy(
        &self,
        req: Request<pb::GetBenefitPolicyRequest>,
    ) -> Reply<pb::GetBenefitPolicyResponse> {
        policies::get(&self.ltc, req).await
    }

    async fn get_beneficiary(
        &self,
        req: Request<pb::GetBeneficiaryRequest>,
    ) -> Reply<pb::GetBeneficiaryResponse> {
        beneficiaries::get(&self.ltc, req).await
    }

    async fn list_reassessments_due(
        &self,
        req: Request<pb::ListReassessmentsDueRequest>,
    ) -> Reply<pb::ListReassessmentsDueResponse> {
        beneficiaries::reassessments_due(&self.ltc, req).await
    }

    async fn place_care(&self, req: Request<pb::PlaceCareRequest>) -> Reply<pb::PlaceCareResponse> {
        beneficiaries::place_care(&self.ltc, req).await
    }

    async fn upload_service_records(
        &self,
        req: Request<pb::UploadServiceRecordsRequest>,
    ) -> Reply<pb::UploadServiceRecordsResponse> {
        records::upload(&self.ltc, req).await
    }

    async fn correct_service_record(
        &self,
        req: Request<pb::CorrectServiceRecordRequest>,
    ) -> Reply<pb::CorrectServiceRecordResponse> {
        records::correct(&self.ltc, req).await
    }

    async fn settle_month(
        &self,
        req: Request<pb::SettleMonthRequest>,
    ) -> Reply<pb::SettleMonthResponse> {
        settlements::settle(&self.ltc, req).await
    }

    async fn reverse_settlement(
        &self,
        req: Request<pb::ReverseSettlementRequest>,
    ) -> Reply<pb::ReverseSettlementResponse> {
        settlements::reverse(&self.ltc, req).await
    }

    async fn get_settlement(
        &self,
        req: Request<pb::GetSettlementRequest>,
    ) -> Reply<pb::GetSettlementResponse> {
        settlements::get(&self.ltc, req).await
    }

    async fn get_statistics(
        &self,
        req: Request<pb::GetStatisticsRequest>,
    ) -> Reply<pb::GetStatisticsResponse> {
        settlements::statistics(&self.ltc, req).await
    }

    async fn list_dead_letters(
        &self,
        req: Request<pb::ListDeadLettersRequest>,
    ) -> Reply<pb::ListDeadLettersResponse> {
        let (dead_letters, page) = self.ltc.dead_letters(req.get_ref().page.as_ref()).await?;
        Ok(Response::new(pb::ListDeadLettersResponse {
            dead_letters,
            page: Some(page),
        }))
    }

    async fn replay_dead_letter(
        &self,
        req: Request<pb::ReplayDeadLetterRequest>,
    ) -> Reply<pb::ReplayDeadLetterResponse> {
        let dead_letter = self
            .ltc
            .replay_dead_letter(&req.get_ref().dead_letter_id)
            .await?;
        Ok(Response::new(pb::ReplayDeadLetterResponse {
            dead_letter: Some(dead_letter),
        }))
    }
}
