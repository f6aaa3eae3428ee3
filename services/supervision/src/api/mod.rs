//! gRPC mapping of the supervision service. Every handler takes the verified caller, re-checks
//! its role and the scope it asks for (a region within the caller's), parses the request into
//! domain values — refusing with the field named and writing nothing — hands it to the use case
//! in [`crate::app`] and maps the result back; errors are mapped once, in [`error`].
//!
//! One file per area: [`rules`], [`findings`] (and the review workflow), [`tasks`], [`cases`],
//! [`credit`] (and the settlement hold), [`budgets`], [`inspections`], [`backfill`]; proto
//! mapping in [`map`], input parsing in [`input`].

mod backfill;
mod budgets;
mod cases;
mod credit;
pub mod error;
mod findings;
mod input;
mod inspections;
pub mod map;
mod rules;
mod tasks;

use crate::app::Supervision;
use tonic::{Request, Response, Status};
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::server::ServiceDeps;

/// The SupervisionService implementation.
#[derive(Debug)]
pub struct SupervisionApi {
    app: Supervision,
    deps: ServiceDeps,
    /// Dropping the service stops the consumer.
    _consumer: tokio::sync::watch::Sender<bool>,
}

type Res<T> = Result<Response<T>, Status>;

impl SupervisionApi {
    /// Builds the API over the use cases; `consumer` stops the consumer when dropped.
    pub fn new(
        app: Supervision,
        deps: ServiceDeps,
        consumer: tokio::sync::watch::Sender<bool>,
    ) -> Self {
        Self {
            app,
            deps,
            _consumer: consumer,
        }
    }

    /// The use cases.
    pub fn app(&self) -> &Supervision {
        &self.app
    }

    /// The dependencies the service was built with.
    pub fn deps(&self) -> &ServiceDeps {
        &self.deps
    }
}

#[tonic::async_trait]
impl pb::supervision_service_server::SupervisionService for SupervisionApi {
    async fn list_rules(&self, req: Request<pb::ListRulesRequest>) -> Res<pb::ListRulesResponse> {
        rules::list_rules(&self.app, req).await
    }

    async fn update_rule(
        &self,
        req: Request<pb::UpdateRuleRequest>,
    ) -> Res<pb::UpdateRuleResponse> {
        rules::update_rule(&self.app, req).await
    }

    async fn list_findings(
        &self,
        req: Request<pb::ListFindingsRequest>,
    ) -> Res<pb::ListFindingsResponse> {
        findings::list_findings(&self.app, req).await
    }

    async fn get_finding(
        &self,
        req: Request<pb::GetFindingRequest>,
    ) -> Res<pb::GetFindingResponse> {
        findings::get_finding(&self.app, req).await
    }

    async fn submit_institution_feedback(
        &self,
        req: Request<pb::SubmitInstitutionFeedbackRequest>,
    ) -> Res<pb::SubmitInstitutionFeedbackResponse> {
        findings::submit_institution_feedback(&self.app, req).await
    }

    async fn review_finding(
        &self,
        req: Request<pb::ReviewFindingRequest>,
    ) -> Res<pb::ReviewFindingResponse> {
        findings::review_finding(&self.app, req).await
    }

    async fn request_third_party_review(
        &self,
        req: Request<pb::RequestThirdPartyReviewRequest>,
    ) -> Res<pb::RequestThirdPartyReviewResponse> {
        findings::request_third_party_review(&self.app, req).await
    }

    async fn record_third_party_review(
        &self,
        req: Request<pb::RecordThirdPartyReviewRequest>,
    ) -> Res<pb::RecordThirdPartyReviewResponse> {
        findings::record_third_party_review(&self.app, req).await
    }

    async fn decide_finding(
        &self,
        req: Request<pb::DecideFindingRequest>,
    ) -> Res<pb::DecideFindingResponse> {
        findings::decide_finding(&self.app, req).await
    }

    async fn list_verification_tasks(
        &self,
        req: Request<pb::ListVerificationTasksRequest>,
    ) -> Res<pb::ListVerificationTasksResponse> {
        tasks::list_verification_tasks(&self.app, req).await
    }

    async fn complete_verification_task(
        &self,
        req: Request<pb::CompleteVerificationTaskRequest>,
    ) -> Res<pb::CompleteVerificationTaskResponse> {
        tasks::complete_verification_task(&self.app, req).await
    }

    async fn open_case(&self, req: Request<pb::OpenCaseRequest>) -> Res<pb::OpenCaseResponse> {
        cases::open_case(&self.app, req).await
    }

    async fn record_recovery(
        &self,
        req: Request<pb::RecordRecoveryRequest>,
    ) -> Res<pb::RecordRecoveryResponse> {
        cases::record_recovery(&self.app, req).await
    }

    async fn pay_reward(&self, req: Request<pb::PayRewardRequest>) -> Res<pb::PayRewardResponse> {
        cases::pay_reward(&self.app, req).await
    }

    async fn submit_tip(&self, req: Request<pb::SubmitTipRequest>) -> Res<pb::SubmitTipResponse> {
        cases::submit_tip(&self.app, req).await
    }

    async fn list_cases(&self, req: Request<pb::ListCasesRequest>) -> Res<pb::ListCasesResponse> {
        cases::list_cases(&self.app, req).await
    }

    async fn get_credit_score(
        &self,
        req: Request<pb::GetCreditScoreRequest>,
    ) -> Res<pb::GetCreditScoreResponse> {
        credit::get_credit_score(&self.app, req).await
    }

    async fn restore_credit(
        &self,
        req: Request<pb::RestoreCreditRequest>,
    ) -> Res<pb::RestoreCreditResponse> {
        credit::restore_credit(&self.app, req).await
    }

    async fn list_blacklist(
        &self,
        req: Request<pb::ListBlacklistRequest>,
    ) -> Res<pb::ListBlacklistResponse> {
        credit::list_blacklist(&self.app, req).await
    }

    async fn check_settlement_hold(
        &self,
        req: Request<pb::CheckSettlementHoldRequest>,
    ) -> Res<pb::CheckSettlementHoldResponse> {
        credit::check_settlement_hold(&self.app, req).await
    }

    async fn set_budget(&self, req: Request<pb::SetBudgetRequest>) -> Res<pb::SetBudgetResponse> {
        budgets::set_budget(&self.app, req).await
    }

    async fn set_budget_policy(
        &self,
        req: Request<pb::SetBudgetPolicyRequest>,
    ) -> Res<pb::SetBudgetPolicyResponse> {
        budgets::set_budget_policy(&self.app, req).await
    }

    async fn get_budget_status(
        &self,
        req: Request<pb::GetBudgetStatusRequest>,
    ) -> Res<pb::GetBudgetStatusResponse> {
        budgets::get_budget_status(&self.app, req).await
    }

    async fn list_warnings(
        &self,
        req: Request<pb::ListWarningsRequest>,
    ) -> Res<pb::ListWarningsResponse> {
        budgets::list_warnings(&self.app, req).await
    }

    async fn get_fund_summary(
        &self,
        req: Request<pb::GetFundSummaryRequest>,
    ) -> Res<pb::GetFundSummaryResponse> {
        budgets::get_fund_summary(&self.app, req).await
    }

    async fn draw_inspection(
        &self,
        req: Request<pb::DrawInspectionRequest>,
    ) -> Res<pb::DrawInspectionResponse> {
        inspections::draw_inspection(&self.app, req).await
    }

    async fn get_inspection_draw(
        &self,
        req: Request<pb::GetInspectionDrawRequest>,
    ) -> Res<pb::GetInspectionDrawResponse> {
        inspections::get_inspection_draw(&self.app, req).await
    }

    async fn run_backfill(
        &self,
        req: Request<pb::RunBackfillRequest>,
    ) -> Res<pb::RunBackfillResponse> {
        backfill::run_backfill(&self.app, req).await
    }

    async fn list_dead_letters(
        &self,
        req: Request<pb::ListDeadLettersRequest>,
    ) -> Res<pb::ListDeadLettersResponse> {
        let (dead_letters, page) = self.app.dead_letters(req.get_ref().page.as_ref()).await?;
        Ok(Response::new(pb::ListDeadLettersResponse {
            dead_letters,
            page: Some(page),
        }))
    }

    async fn replay_dead_letter(
        &self,
        req: Request<pb::ReplayDeadLetterRequest>,
    ) -> Res<pb::ReplayDeadLetterResponse> {
        let dead_letter = self
            .app
            .replay_dead_letter(&req.get_ref().dead_letter_id)
            .await?;
        Ok(Response::new(pb::ReplayDeadLetterResponse {
            dead_letter: Some(dead_letter),
        }))
    }
}
