//! gRPC mapping of the supervision service. Every handler takes the verified caller, re-checks
//! its role and tenancy (an institution sees and answers only its own findings; operators and
//! auditors act within their region), validates the input into domain types — refusing with
//! the field named and writing nothing — runs the domain rule and stores the result in one
//! transaction.

use crate::domain::{
    Actor, BudgetPolicy, Case, CaseError, CreditError, CreditPolicy, CreditRegistry, Decision,
    Detector, DrawRequest, InspectionError, PhysicianCode, Review, ReviewError, ReviewOutcome,
    ReviewRole, ReviewState, RewardPolicy, RuleError, RuleUpdate, Subject, Tip,
};
use crate::error::Error;
use crate::mapping as map;
use crate::store::{Audit, FindingFilter, Page, RequestKey, Store, StoredFinding};
use chrono::{Datelike, NaiveDate, Utc};
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tonic::{Request, Response, Status};
use yibao_core::{Bp, Fen, InstitutionCode, RegionCode};
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::server::ServiceDeps;
use yibao_runtime::sql::{hex, unhex};
use yibao_runtime::{ApiError, Caller, ErrorKind, Role};

/// The SupervisionService implementation.
#[derive(Debug)]
pub struct SupervisionApi {
    store: Store,
    deps: ServiceDeps,
    lag: Arc<AtomicU64>,
    /// Dropping the service stops the consumer.
    _consumer: tokio::sync::watch::Sender<bool>,
    credit_policy: CreditPolicy,
    reward_policy: RewardPolicy,
}

type Res<T> = Result<Response<T>, Status>;

impl SupervisionApi {
    /// Builds the API over a store; `lag` is the consumer's, `consumer` stops it when dropped.
    pub fn new(
        store: Store,
        deps: ServiceDeps,
        lag: Arc<AtomicU64>,
        consumer: tokio::sync::watch::Sender<bool>,
    ) -> Self {
        Self {
            store,
            deps,
            lag,
            _consumer: consumer,
            credit_policy: CreditPolicy::default(),
            reward_policy: RewardPolicy::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The dependencies the service was built with.
    pub fn deps(&self) -> &ServiceDeps {
        &self.deps
    }
}

fn allow(caller: &Caller, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&caller.role) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::PermissionDenied,
            "ROLE_NOT_ALLOWED",
            format!("role `{}` may not call this method", caller.role.as_str()),
        ))
    }
}

fn audit(caller: &Caller) -> Audit {
    Audit {
        actor: caller.subject.clone(),
        role: caller.role.as_str().to_string(),
        at: Utc::now(),
    }
}

fn region_in(field: &str, s: &str) -> Result<RegionCode, ApiError> {
    RegionCode::parse(s)
        .map_err(|e| ApiError::invalid("SUPERVISION_REGION_INVALID", field, e.to_string()))
}

fn institution_in(field: &str, s: &str) -> Result<InstitutionCode, ApiError> {
    InstitutionCode::parse(s)
        .map_err(|e| ApiError::invalid("SUPERVISION_INSTITUTION_INVALID", field, e.to_string()))
}

fn date_in(field: &str, s: &str) -> Result<Option<NaiveDate>, ApiError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            ApiError::invalid(
                "SUPERVISION_DATE_INVALID",
                field,
                format!("`{s}` is not a YYYY-MM-DD date"),
            )
        })
}

fn year_in(year: i32) -> Result<i32, ApiError> {
    if (2000..=2100).contains(&year) {
        Ok(year)
    } else {
        Err(ApiError::invalid(
            "SUPERVISION_YEAR_INVALID",
            "year",
            "must be 2000 to 2100",
        ))
    }
}

fn month_in(month: u32) -> Result<u32, ApiError> {
    if (1..=12).contains(&month) {
        Ok(month)
    } else {
        Err(ApiError::invalid(
            "BUDGET_MONTH_INVALID",
            "month",
            format!("must be 1 to 12, got {month}"),
        ))
    }
}

/// The region prefix a region-scoped caller lists within: the requested region (which must be
/// within theirs), else their own. Others list everything (their own records are filtered by
/// organisation).
fn scope(caller: &Caller, field: &str, requested: &str) -> Result<String, ApiError> {
    if requested.trim().is_empty() {
        return Ok(caller
            .region
            .as_ref()
            .filter(|_| caller.role.is_region_scoped())
            .map(|r| r.prefix().to_string())
            .unwrap_or_default());
    }
    let region = region_in(field, requested)?;
    caller.check_region(field, region.as_str())?;
    Ok(region.prefix().to_string())
}

/// A required region that the caller covers.
fn own_region(caller: &Caller, field: &str, requested: &str) -> Result<RegionCode, ApiError> {
    let value = if requested.trim().is_empty() {
        caller
            .region
            .as_ref()
            .map(|r| r.to_string())
            .ok_or_else(|| ApiError::invalid("SUPERVISION_REGION_INVALID", field, "is required"))?
    } else {
        requested.trim().to_string()
    };
    let region = region_in(field, &value)?;
    caller.check_region(field, region.as_str())?;
    Ok(region)
}

fn covers(caller: &Caller, field: &str, region: &RegionCode) -> Result<(), ApiError> {
    if caller.covers_region(region) {
        Ok(())
    } else {
        Err(yibao_runtime::auth::AuthError::OutsideRegion {
            field: field.into(),
            value: region.to_string(),
            region: caller
                .region
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_default(),
        }
        .into())
    }
}

fn page_in(p: Option<&yibao_proto::common::v1::PageRequest>) -> Result<Page, ApiError> {
    let (size, token) = p.map_or((0, ""), |p| (p.page_size, p.page_token.as_str()));
    if !(0..=1000).contains(&size) {
        return Err(ApiError::invalid(
            "SUPERVISION_PAGE_INVALID",
            "page.page_size",
            "must be 1 to 1000",
        ));
    }
    let offset = if token.is_empty() {
        0
    } else {
        token.parse::<u64>().map_err(|_| {
            ApiError::invalid(
                "SUPERVISION_PAGE_INVALID",
                "page.page_token",
                "not a token of this list",
            )
        })?
    };
    Ok(Page {
        offset,
        limit: if size == 0 {
            100
        } else {
            u64::try_from(size).unwrap_or(100)
        },
    })
}

fn page_out(page: Page, returned: usize) -> Option<yibao_proto::common::v1::PageResponse> {
    let next = if returned as u64 == page.limit {
        (page.offset + page.limit).to_string()
    } else {
        String::new()
    };
    Some(yibao_proto::common::v1::PageResponse {
        next_page_token: next,
    })
}

fn review_error(e: ReviewError) -> ApiError {
    let text = e.to_string();
    let message = text
        .split_once(": ")
        .map_or(text.clone(), |(_, m)| m.to_string());
    match e {
        ReviewError::IllegalTransition { .. } => ApiError::new(
            ErrorKind::FailedPrecondition,
            "REVIEW_ILLEGAL_TRANSITION",
            message,
        ),
        ReviewError::WrongRole { .. } => {
            ApiError::new(ErrorKind::PermissionDenied, "REVIEW_WRONG_ROLE", message)
        }
        ReviewError::FeedbackWindowOpen { .. } => ApiError::new(
            ErrorKind::FailedPrecondition,
            "REVIEW_FEEDBACK_WINDOW_OPEN",
            message,
        ),
        ReviewError::AmountOutOfRange { .. } => {
            ApiError::invalid("REVIEW_AMOUNT_OUT_OF_RANGE", "amount_fen", message)
        }
        ReviewError::BoundByThirdParty => {
            ApiError::invalid("REVIEW_BOUND_BY_THIRD_PARTY", "conclusion", message)
        }
        ReviewError::TimeBackwards { .. } => ApiError::new(
            ErrorKind::FailedPrecondition,
            "REVIEW_TIME_BEFORE_PREVIOUS_STEP",
            message,
        ),
        ReviewError::AlreadyCompleted(_) => ApiError::new(
            ErrorKind::FailedPrecondition,
            "VERIFICATION_ALREADY_COMPLETED",
            message,
        ),
        ReviewError::MethodInsufficient { .. } => {
            ApiError::invalid("VERIFICATION_METHOD_INSUFFICIENT", "method", message)
        }
    }
}

fn case_error(e: CaseError) -> ApiError {
    let text = e.to_string();
    let message = text
        .split_once(": ")
        .map_or(text.clone(), |(_, m)| m.to_string());
    match e {
        CaseError::NoFindings => ApiError::invalid("CASE_NO_FINDINGS", "finding_ids", message),
        CaseError::MixedInstitutions(..) => {
            ApiError::invalid("CASE_MIXED_INSTITUTIONS", "finding_ids", message)
        }
        CaseError::Closed(_) => {
            ApiError::new(ErrorKind::FailedPrecondition, "CASE_CLOSED", message)
        }
        CaseError::AmountNotPositive => {
            ApiError::invalid("CASE_AMOUNT_NOT_POSITIVE", "amount_fen", message)
        }
        CaseError::RewardAboveDue { .. } => {
            ApiError::invalid("CASE_REWARD_ABOVE_DUE", "amount_fen", message)
        }
        CaseError::NoReward(_) => {
            ApiError::new(ErrorKind::FailedPrecondition, "CASE_NO_REWARD", message)
        }
    }
}

fn rule_error(e: RuleError) -> ApiError {
    let text = e.to_string();
    let message = text
        .split_once(": ")
        .map_or(text.clone(), |(_, m)| m.to_string());
    match e {
        RuleError::UnknownRule(_) => ApiError::invalid("RULE_UNKNOWN", "rule_code", message),
        RuleError::ParamsMismatch { .. } => {
            ApiError::invalid("RULE_PARAMS_MISMATCH", "params", message)
        }
        RuleError::InvalidParams { .. } => {
            ApiError::invalid("RULE_PARAMS_INVALID", "params", message)
        }
        RuleError::Incomplete(_) => ApiError::invalid("RULE_SET_INCOMPLETE", "rule_code", message),
        RuleError::RetentionTooShort { .. } => {
            ApiError::invalid("RULE_RETENTION_TOO_SHORT", "params", message)
        }
    }
}

fn not_found(code: &'static str, what: &str, id: &str) -> ApiError {
    ApiError::not_found(code, format!("{what} `{id}` not found"))
}

fn non_empty(field: &str, s: &str) -> Result<String, ApiError> {
    let s = s.trim();
    if s.is_empty() {
        Err(ApiError::invalid(
            "SUPERVISION_FIELD_REQUIRED",
            field,
            "must not be empty",
        ))
    } else {
        Ok(s.to_string())
    }
}

impl SupervisionApi {
    /// A finding the caller may see: an organisation-scoped caller only its own (as named in
    /// `institution_field`), a region-scoped caller only within its region.
    async fn visible_finding(
        &self,
        caller: &Caller,
        id: &str,
        requested_institution: &str,
    ) -> Result<StoredFinding, Status> {
        let id = non_empty("finding_id", id)?;
        let stored = self
            .store
            .finding(&id)
            .await?
            .ok_or_else(|| not_found("SUPERVISION_FINDING_NOT_FOUND", "finding", &id))?;
        if caller.role.is_org_scoped() {
            caller.check_org("institution_code", requested_institution)?;
            caller.check_org("institution_code", stored.finding.institution.as_str())?;
        }
        covers(caller, "region_code", &stored.finding.region)?;
        Ok(stored)
    }

    async fn step(
        &self,
        caller: &Caller,
        stored: StoredFinding,
        deduct: bool,
        apply: impl FnOnce(&mut Review, Actor) -> Result<(), ReviewError>,
        role: ReviewRole,
        note: String,
    ) -> Result<(pb::Finding, u32), Status> {
        let mut review = stored.review.clone();
        let actor = Actor {
            actor: caller.subject.clone(),
            role,
            at: Utc::now(),
            note,
        };
        apply(&mut review, actor).map_err(review_error)?;
        let mut subjects = Vec::new();
        if deduct && matches!(review.state, ReviewState::Confirmed { .. }) {
            subjects.push(Subject::Institution(stored.finding.institution.clone()));
            if let Some(p) = stored
                .finding
                .physician
                .as_deref()
                .and_then(|p| PhysicianCode::parse(p).ok())
            {
                subjects.push(Subject::Physician(p));
            }
        }
        let records = self
            .store
            .save_review(
                &stored,
                &review,
                caller.role.as_str(),
                &subjects,
                &self.credit_policy,
            )
            .await?;
        let mut roles = stored.step_roles.clone();
        roles.push(caller.role.as_str().to_string());
        let score = records.first().map_or(0, |r| r.score);
        Ok((map::finding(&stored.finding, &review, &roles), score))
    }

    /// A remembered result of a money-moving request, if this request was made before.
    async fn replay<T: Message + Default>(
        &self,
        rpc: &'static str,
        request_id: &str,
        fingerprint: &str,
    ) -> Result<Option<T>, Status> {
        if request_id.is_empty() {
            return Ok(None);
        }
        let Some((stored_rpc, stored_fp, response)) = self.store.request_key(request_id).await?
        else {
            return Ok(None);
        };
        if stored_rpc != rpc || stored_fp != fingerprint {
            return Err(ApiError::new(
                ErrorKind::AlreadyExists,
                "SUPERVISION_REQUEST_ID_REUSED",
                format!("request_id `{request_id}` was used for a different request"),
            )
            .into());
        }
        let bytes =
            unhex(&response).ok_or_else(|| Status::from(Error::corrupt("stored response")))?;
        Ok(Some(
            T::decode(bytes.as_slice()).map_err(|e| Status::from(Error::corrupt(e)))?,
        ))
    }

    fn case_out(&self, c: &Case, tip_id: &str) -> pb::Case {
        map::case(c, tip_id, &self.reward_policy)
    }
}

/// The retry record of a write made under a caller's request id (none without one).
fn request_key(
    rpc: &'static str,
    request_id: &str,
    fingerprint: String,
    response: &impl Message,
) -> Option<RequestKey> {
    let request_id = request_id.trim();
    (!request_id.is_empty()).then(|| RequestKey {
        request_id: request_id.to_string(),
        rpc,
        fingerprint,
        response: hex(&response.encode_to_vec()),
    })
}

#[tonic::async_trait]
impl pb::supervision_service_server::SupervisionService for SupervisionApi {
    async fn list_rules(&self, req: Request<pb::ListRulesRequest>) -> Res<pb::ListRulesResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let region = own_region(&caller, "region_code", &r.region_code)?;
        let current = self.store.current_rules(&region).await?;
        let version = if r.version == 0 {
            current.version
        } else {
            r.version
        };
        let (set, (made, _)) = self
            .store
            .rules_version_audited(&region, Some(version))
            .await?
            .ok_or_else(|| {
                ApiError::invalid(
                    "RULE_VERSION_UNKNOWN",
                    "version",
                    format!("{region} has no version {version}"),
                )
            })?;
        Ok(Response::new(pb::ListRulesResponse {
            rule_set: Some(map::rule_set(&set, Some(&made))),
        }))
    }

    async fn update_rule(
        &self,
        req: Request<pb::UpdateRuleRequest>,
    ) -> Res<pb::UpdateRuleResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator])?;
        let r = req.into_inner();
        let region = own_region(&caller, "region_code", &r.region_code)?;
        let code = map::rule_code_in("rule_code", r.rule_code)?
            .ok_or_else(|| ApiError::invalid("RULE_UNKNOWN", "rule_code", "is required"))?;
        let change = RuleUpdate {
            code,
            enabled: r.enabled,
            severity: map::severity_update(r.severity)?,
            params: map::params_in(r.params.as_ref())?,
        };
        if change.enabled.is_none() && change.severity.is_none() && change.params.is_none() {
            return Err(ApiError::invalid(
                "RULE_NO_CHANGE",
                "enabled",
                "give a new switch, severity or parameters",
            )
            .into());
        }
        let reason = non_empty("reason", &r.reason)?;
        let current = self.store.current_rules(&region).await?;
        if r.expected_version != current.version {
            return Err(ApiError::new(
                ErrorKind::Aborted,
                "RULE_VERSION_CONFLICT",
                format!(
                    "expected version {} but {region} is at version {}; re-read and retry",
                    r.expected_version, current.version
                ),
            )
            .into());
        }
        let mut next = current.update(&change).map_err(rule_error)?;
        next.effective_from = Utc::now().date_naive();
        let made = audit(&caller);
        self.store.save_rules(&next, &reason, &made).await?;
        tracing::info!(region = %region, rule = %code, version = next.version, actor = %made.actor, "rule set changed");
        Ok(Response::new(pb::UpdateRuleResponse {
            rule_set: Some(map::rule_set(&next, Some(&made))),
        }))
    }

    async fn list_findings(
        &self,
        req: Request<pb::ListFindingsRequest>,
    ) -> Res<pb::ListFindingsResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor, Role::Hospital])?;
        let r = req.into_inner();
        let mut filter = FindingFilter::default();
        if caller.role.is_org_scoped() {
            caller.check_org("institution_code", &r.institution_code)?;
            filter.institution = Some(r.institution_code.clone());
        } else {
            filter.region_prefix = scope(&caller, "region_code", &r.region_code)?;
            if !r.institution_code.is_empty() {
                filter.institution =
                    Some(institution_in("institution_code", &r.institution_code)?.to_string());
            }
        }
        filter.rule = map::rule_code_in("rule_code", r.rule_code)?;
        filter.state = map::review_state_filter(r.state)?;
        filter.from = date_in("from_date", &r.from_date)?;
        filter.to = date_in("to_date", &r.to_date)?;
        let page = page_in(r.page.as_ref())?;
        let rows = self.store.findings(&filter, page).await?;
        Ok(Response::new(pb::ListFindingsResponse {
            page: page_out(page, rows.len()),
            findings: rows
                .iter()
                .map(|(f, rv)| map::finding(f, rv, &[]))
                .collect(),
        }))
    }

    async fn get_finding(
        &self,
        req: Request<pb::GetFindingRequest>,
    ) -> Res<pb::GetFindingResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor, Role::Hospital])?;
        let r = req.into_inner();
        let stored = self
            .visible_finding(&caller, &r.finding_id, &r.institution_code)
            .await?;
        Ok(Response::new(pb::GetFindingResponse {
            finding: Some(map::finding(
                &stored.finding,
                &stored.review,
                &stored.step_roles,
            )),
        }))
    }

    async fn submit_institution_feedback(
        &self,
        req: Request<pb::SubmitInstitutionFeedbackRequest>,
    ) -> Res<pb::SubmitInstitutionFeedbackResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Hospital])?;
        let r = req.into_inner();
        let kind = map::feedback_in(r.kind)?;
        let stored = self
            .visible_finding(&caller, &r.finding_id, &r.institution_code)
            .await?;
        let mut note = r.note.trim().to_string();
        if !r.attachment_ids.is_empty() {
            note = format!("{note} [attachments: {}]", r.attachment_ids.join(", "));
        }
        let (finding, _) = self
            .step(
                &caller,
                stored,
                false,
                |rv, a| rv.submit_feedback(a, kind).map(|_| ()),
                ReviewRole::Institution,
                note,
            )
            .await?;
        Ok(Response::new(pb::SubmitInstitutionFeedbackResponse {
            finding: Some(finding),
        }))
    }

    async fn review_finding(
        &self,
        req: Request<pb::ReviewFindingRequest>,
    ) -> Res<pb::ReviewFindingResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator])?;
        let r = req.into_inner();
        let outcome = map::conclusion_in(r.conclusion, r.amount_fen)?;
        let stored = self.visible_finding(&caller, &r.finding_id, "").await?;
        let (finding, _) = self
            .step(
                &caller,
                stored,
                false,
                |rv, a| rv.review(a, outcome).map(|_| ()),
                ReviewRole::Reviewer,
                r.note.trim().to_string(),
            )
            .await?;
        Ok(Response::new(pb::ReviewFindingResponse {
            finding: Some(finding),
        }))
    }

    async fn request_third_party_review(
        &self,
        req: Request<pb::RequestThirdPartyReviewRequest>,
    ) -> Res<pb::RequestThirdPartyReviewResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Hospital])?;
        let r = req.into_inner();
        let stored = self
            .visible_finding(&caller, &r.finding_id, &r.institution_code)
            .await?;
        let role = if caller.role == Role::Hospital {
            ReviewRole::Institution
        } else {
            ReviewRole::Reviewer
        };
        let (finding, _) = self
            .step(
                &caller,
                stored,
                false,
                |rv, a| rv.request_third_party(a).map(|_| ()),
                role,
                r.note.trim().to_string(),
            )
            .await?;
        Ok(Response::new(pb::RequestThirdPartyReviewResponse {
            finding: Some(finding),
        }))
    }

    async fn record_third_party_review(
        &self,
        req: Request<pb::RecordThirdPartyReviewRequest>,
    ) -> Res<pb::RecordThirdPartyReviewResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let third_party = non_empty("third_party", &r.third_party)?;
        let outcome = map::conclusion_in(r.conclusion, r.amount_fen)?;
        let stored = self.visible_finding(&caller, &r.finding_id, "").await?;
        let note = format!(
            "{third_party}: {} (recorded by {})",
            r.note.trim(),
            caller.subject
        );
        let (finding, _) = self
            .step(
                &caller,
                stored,
                false,
                |rv, a| rv.third_party_review(a, outcome).map(|_| ()),
                ReviewRole::ThirdParty,
                note,
            )
            .await?;
        Ok(Response::new(pb::RecordThirdPartyReviewResponse {
            finding: Some(finding),
        }))
    }

    async fn decide_finding(
        &self,
        req: Request<pb::DecideFindingRequest>,
    ) -> Res<pb::DecideFindingResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let outcome = map::conclusion_in(r.conclusion, r.amount_fen)?;
        let stored = self.visible_finding(&caller, &r.finding_id, "").await?;
        // Four eyes: the final decision is not taken by the reviewer of the finding.
        if stored
            .review
            .steps
            .iter()
            .any(|s| s.role == ReviewRole::Reviewer && s.actor == caller.subject)
        {
            return Err(ApiError::new(
                ErrorKind::FailedPrecondition,
                "REVIEW_SAME_PERSON",
                "the reviewer of a finding may not also take its final decision",
            )
            .into());
        }
        let (finding, score) = self
            .step(
                &caller,
                stored,
                true,
                |rv, a| rv.decide(a, outcome).map(|_| ()),
                ReviewRole::FinalReviewer,
                r.note.trim().to_string(),
            )
            .await?;
        let score = if matches!(outcome, ReviewOutcome::Uphold { .. }) {
            score
        } else {
            0
        };
        Ok(Response::new(pb::DecideFindingResponse {
            finding: Some(finding),
            credit_score: score,
        }))
    }

    async fn list_verification_tasks(
        &self,
        req: Request<pb::ListVerificationTasksRequest>,
    ) -> Res<pb::ListVerificationTasksResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let prefix = scope(&caller, "region_code", &r.region_code)?;
        let institution = if r.institution_code.is_empty() {
            None
        } else {
            Some(institution_in("institution_code", &r.institution_code)?.to_string())
        };
        let kind = map::verification_kind_filter("kind", r.kind)?.map(|k| match k {
            crate::domain::VerificationKind::CheckRecord => "check_record",
            crate::domain::VerificationKind::PhoneOrOnSite => "phone_or_on_site",
        });
        let page = page_in(r.page.as_ref())?;
        let tasks = self
            .store
            .tasks(
                &prefix,
                institution.as_deref(),
                kind,
                r.include_completed,
                page,
            )
            .await?;
        Ok(Response::new(pb::ListVerificationTasksResponse {
            page: page_out(page, tasks.len()),
            tasks: tasks.iter().map(map::task).collect(),
        }))
    }

    async fn complete_verification_task(
        &self,
        req: Request<pb::CompleteVerificationTaskRequest>,
    ) -> Res<pb::CompleteVerificationTaskResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator])?;
        let r = req.into_inner();
        let method = map::method_in(r.method)?;
        let outcome = map::outcome_in(r.outcome)?;
        let id = non_empty("task_id", &r.task_id)?;
        let (mut task, region) = self
            .store
            .task(&id)
            .await?
            .ok_or_else(|| not_found("SUPERVISION_TASK_NOT_FOUND", "verification task", &id))?;
        covers(
            &caller,
            "region_code",
            &RegionCode::parse(&region).map_err(Error::corrupt)?,
        )?;
        task.complete(method, outcome, &caller.subject, Utc::now(), r.note.trim())
            .map_err(review_error)?;
        self.store.complete_task(&task).await?;
        Ok(Response::new(pb::CompleteVerificationTaskResponse {
            task: Some(map::task(&task)),
        }))
    }

    async fn open_case(&self, req: Request<pb::OpenCaseRequest>) -> Res<pb::OpenCaseResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let region = own_region(&caller, "region_code", &r.region_code)?;
        let case_id = uuid::Uuid::now_v7().to_string();
        let now = Utc::now();
        match (r.finding_ids.is_empty(), r.tip_id.trim().is_empty()) {
            (false, true) => {
                let mut findings = Vec::new();
                for (k, id) in r.finding_ids.iter().enumerate() {
                    let stored = self.store.finding(id).await?.ok_or_else(|| {
                        ApiError::invalid(
                            "SUPERVISION_FINDING_NOT_FOUND",
                            format!("finding_ids[{k}]"),
                            format!("no finding `{id}`"),
                        )
                    })?;
                    if !region.covers(&stored.finding.region) {
                        return Err(ApiError::invalid(
                            "CASE_FINDING_OUTSIDE_REGION",
                            format!("finding_ids[{k}]"),
                            format!("finding `{id}` is outside {region}"),
                        )
                        .into());
                    }
                    findings.push(stored.finding);
                }
                let case =
                    Case::open_from_findings(&case_id, region, &findings, &caller.subject, now)
                        .map_err(case_error)?;
                self.store
                    .open_case_from_findings(&case, &r.finding_ids)
                    .await?;
                Ok(Response::new(pb::OpenCaseResponse {
                    case: Some(self.case_out(&case, "")),
                }))
            }
            (true, false) => {
                let tip_id = r.tip_id.trim().to_string();
                let (tip_region, institution, description, has_contact, received_at, _) =
                    self.store.tip(&tip_id).await?.ok_or_else(|| {
                        ApiError::invalid(
                            "SUPERVISION_TIP_NOT_FOUND",
                            "tip_id",
                            format!("no tip `{tip_id}`"),
                        )
                    })?;
                let tip_region = RegionCode::parse(&tip_region).map_err(Error::corrupt)?;
                if !region.covers(&tip_region) {
                    return Err(ApiError::invalid(
                        "CASE_TIP_OUTSIDE_REGION",
                        "tip_id",
                        format!("tip `{tip_id}` was received in {tip_region}"),
                    )
                    .into());
                }
                let tip = Tip {
                    tip_id: tip_id.clone(),
                    received_at: chrono::DateTime::parse_from_rfc3339(&received_at)
                        .map_err(Error::corrupt)?
                        .with_timezone(&Utc),
                    whistleblower_ref: if has_contact {
                        format!("tip:{tip_id}")
                    } else {
                        String::new()
                    },
                    institution: if institution.is_empty() {
                        None
                    } else {
                        Some(InstitutionCode::parse(&institution).map_err(Error::corrupt)?)
                    },
                    description,
                };
                let case = Case::open_from_tip(&case_id, region, tip, &caller.subject, now);
                self.store.open_case_from_tip(&case, &tip_id).await?;
                Ok(Response::new(pb::OpenCaseResponse {
                    case: Some(self.case_out(&case, &tip_id)),
                }))
            }
            _ => Err(ApiError::invalid(
                "CASE_SOURCE_INVALID",
                "finding_ids",
                "give either finding_ids or tip_id",
            )
            .into()),
        }
    }

    async fn record_recovery(
        &self,
        req: Request<pb::RecordRecoveryRequest>,
    ) -> Res<pb::RecordRecoveryResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let id = non_empty("case_id", &r.case_id)?;
        let fingerprint = format!("{id}|{}|{}|{}", r.amount_fen, r.note.trim(), r.close_case);
        if let Some(first) = self
            .replay::<pb::RecordRecoveryResponse>(
                "RecordRecovery",
                r.request_id.trim(),
                &fingerprint,
            )
            .await?
        {
            return Ok(Response::new(first));
        }
        let stored = self
            .store
            .case(&id)
            .await?
            .ok_or_else(|| not_found("SUPERVISION_CASE_NOT_FOUND", "case", &id))?;
        covers(&caller, "region_code", &stored.case.region)?;
        let mut case = stored.case.clone();
        let now = Utc::now();
        case.record_recovery(Fen(r.amount_fen), &caller.subject, now, r.note.trim())
            .map_err(case_error)?;
        if r.close_case {
            case.close(now).map_err(case_error)?;
        }
        let response = pb::RecordRecoveryResponse {
            case: Some(self.case_out(&case, &stored.tip_id)),
        };
        let key = request_key("RecordRecovery", &r.request_id, fingerprint, &response);
        self.store.save_case(&stored, &case, key.as_ref()).await?;
        Ok(Response::new(response))
    }

    async fn pay_reward(&self, req: Request<pb::PayRewardRequest>) -> Res<pb::PayRewardResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator])?;
        let r = req.into_inner();
        let id = non_empty("case_id", &r.case_id)?;
        let fingerprint = format!("{id}|{}", r.amount_fen);
        if let Some(first) = self
            .replay::<pb::PayRewardResponse>("PayReward", r.request_id.trim(), &fingerprint)
            .await?
        {
            return Ok(Response::new(first));
        }
        let stored = self
            .store
            .case(&id)
            .await?
            .ok_or_else(|| not_found("SUPERVISION_CASE_NOT_FOUND", "case", &id))?;
        covers(&caller, "region_code", &stored.case.region)?;
        let mut case = stored.case.clone();
        case.pay_reward(
            Fen(r.amount_fen),
            &self.reward_policy,
            &caller.subject,
            Utc::now(),
        )
        .map_err(case_error)?;
        let response = pb::PayRewardResponse {
            case: Some(self.case_out(&case, &stored.tip_id)),
        };
        let key = request_key("PayReward", &r.request_id, fingerprint, &response);
        self.store.save_case(&stored, &case, key.as_ref()).await?;
        Ok(Response::new(response))
    }

    async fn submit_tip(&self, req: Request<pb::SubmitTipRequest>) -> Res<pb::SubmitTipResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let region = own_region(&caller, "region_code", &r.region_code)?;
        let institution = if r.institution_code.trim().is_empty() {
            None
        } else {
            Some(institution_in(
                "institution_code",
                r.institution_code.trim(),
            )?)
        };
        let description = non_empty("description", &r.description)?;
        let made = audit(&caller);
        let tip_id = uuid::Uuid::now_v7().to_string();
        let contact = r.whistleblower_contact.trim().to_string();
        let case = r.open_case.then(|| {
            let tip = Tip {
                tip_id: tip_id.clone(),
                received_at: made.at,
                whistleblower_ref: if contact.is_empty() {
                    String::new()
                } else {
                    format!("tip:{tip_id}")
                },
                institution: institution.clone(),
                description: description.clone(),
            };
            Case::open_from_tip(
                &uuid::Uuid::now_v7().to_string(),
                region.clone(),
                tip,
                &caller.subject,
                made.at,
            )
        });
        let inst = institution
            .as_ref()
            .map(|i| i.to_string())
            .unwrap_or_default();
        self.store
            .insert_tip(
                &tip_id,
                &region,
                &inst,
                &description,
                &contact,
                &made,
                case.as_ref(),
            )
            .await?;
        Ok(Response::new(pb::SubmitTipResponse {
            case: case.as_ref().map(|c| self.case_out(c, &tip_id)),
            tip_id,
        }))
    }

    async fn list_cases(&self, req: Request<pb::ListCasesRequest>) -> Res<pb::ListCasesResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let prefix = scope(&caller, "region_code", &r.region_code)?;
        let institution = if r.institution_code.is_empty() {
            None
        } else {
            Some(institution_in("institution_code", &r.institution_code)?.to_string())
        };
        let status = map::case_status_filter(r.status)?;
        let page = page_in(r.page.as_ref())?;
        let cases = self
            .store
            .cases(&prefix, institution.as_deref(), status, page)
            .await?;
        Ok(Response::new(pb::ListCasesResponse {
            page: page_out(page, cases.len()),
            cases: cases
                .iter()
                .map(|c| self.case_out(&c.case, &c.tip_id))
                .collect(),
        }))
    }

    async fn get_credit_score(
        &self,
        req: Request<pb::GetCreditScoreRequest>,
    ) -> Res<pb::GetCreditScoreResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let (subject, region) = match pb::CreditSubjectKind::try_from(r.subject_kind) {
            Ok(pb::CreditSubjectKind::Institution) => {
                let code = institution_in("subject_code", &r.subject_code)?;
                let region = code.region();
                (Subject::Institution(code), region)
            }
            Ok(pb::CreditSubjectKind::Physician) => {
                let code = PhysicianCode::parse(&r.subject_code).map_err(|e: CreditError| {
                    ApiError::invalid(
                        "CREDIT_PHYSICIAN_CODE_INVALID",
                        "subject_code",
                        e.to_string(),
                    )
                })?;
                let region = RegionCode::parse(code.as_str().get(1..7).unwrap_or_default())
                    .map_err(|e| {
                        ApiError::invalid(
                            "CREDIT_PHYSICIAN_CODE_INVALID",
                            "subject_code",
                            e.to_string(),
                        )
                    })?;
                (Subject::Physician(code), region)
            }
            _ => {
                return Err(ApiError::invalid(
                    "CREDIT_SUBJECT_KIND_INVALID",
                    "subject_kind",
                    "must be INSTITUTION or PHYSICIAN",
                )
                .into());
            }
        };
        covers(&caller, "subject_code", &region)?;
        let record = self.store.credit(&subject).await?;
        Ok(Response::new(pb::GetCreditScoreResponse {
            credit: Some(map::credit(
                &subject,
                record.as_ref(),
                self.credit_policy.initial,
            )),
        }))
    }

    async fn list_blacklist(
        &self,
        req: Request<pb::ListBlacklistRequest>,
    ) -> Res<pb::ListBlacklistResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let prefix = scope(&caller, "region_code", &r.region_code)?;
        let kind = match pb::CreditSubjectKind::try_from(r.subject_kind) {
            Ok(pb::CreditSubjectKind::Unspecified) => None,
            Ok(pb::CreditSubjectKind::Institution) => Some("institution"),
            Ok(pb::CreditSubjectKind::Physician) => Some("physician"),
            Err(_) => {
                return Err(ApiError::invalid(
                    "CREDIT_SUBJECT_KIND_INVALID",
                    "subject_kind",
                    "unknown kind",
                )
                .into());
            }
        };
        let page = page_in(r.page.as_ref())?;
        let list = self.store.blacklist(&prefix, kind, page).await?;
        Ok(Response::new(pb::ListBlacklistResponse {
            page: page_out(page, list.len()),
            entries: list
                .iter()
                .map(|rec| map::credit(&rec.subject, Some(rec), self.credit_policy.initial))
                .collect(),
        }))
    }

    async fn check_settlement_hold(
        &self,
        req: Request<pb::CheckSettlementHoldRequest>,
    ) -> Res<pb::CheckSettlementHoldResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor, Role::Hospital])?;
        let r = req.into_inner();
        let institution = institution_in("institution_code", &r.institution_code)?;
        caller.check_org("institution_code", institution.as_str())?;
        covers(&caller, "institution_code", &institution.region())?;
        let year = year_in(r.year)?;
        let month = month_in(r.month)?;
        let mut registry =
            CreditRegistry::new(self.credit_policy.clone()).map_err(Error::corrupt)?;
        let subject = Subject::Institution(institution.clone());
        if let Some(rec) = self.store.credit(&subject).await? {
            registry.insert_record(rec);
        }
        let mut reasons = Vec::new();
        let mut decision = pb::SettlementDecision::Settle;
        match registry.may_settle(&institution) {
            Decision::Settle => {}
            Decision::Hold { reason, .. } => {
                decision = pb::SettlementDecision::Hold;
                reasons.push(reason);
            }
            Decision::Refuse { reason, .. } => {
                decision = pb::SettlementDecision::Refuse;
                reasons.push(reason);
            }
        }
        let hold = self
            .store
            .hold_of(institution.as_str(), year, month)
            .await?;
        if let Some(w) = &hold {
            if decision == pb::SettlementDecision::Settle {
                decision = pb::SettlementDecision::Hold;
            }
            reasons.push(format!(
                "red budget warning of {}-{:02}: {} spent of {} budget ({} bp ahead of pace); this month's payment is held",
                w.status.year, w.status.month, w.status.spent_to_date, w.status.annual_budget, w.status.over_pace_bp
            ));
        }
        Ok(Response::new(pb::CheckSettlementHoldResponse {
            decision: decision as i32,
            credit_score: registry.score(&subject),
            budget_hold: hold.is_some(),
            reasons,
        }))
    }

    async fn set_budget(&self, req: Request<pb::SetBudgetRequest>) -> Res<pb::SetBudgetResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator])?;
        let r = req.into_inner();
        let institution = institution_in("institution_code", &r.institution_code)?;
        covers(&caller, "institution_code", &institution.region())?;
        let year = year_in(r.year)?;
        if r.annual_budget_fen <= 0 {
            return Err(ApiError::invalid(
                "BUDGET_AMOUNT_NOT_POSITIVE",
                "annual_budget_fen",
                "a budget must be above 0",
            )
            .into());
        }
        self.store
            .put_budget(
                &institution,
                year,
                Fen(r.annual_budget_fen),
                &audit(&caller),
            )
            .await?;
        let today = Utc::now().date_naive();
        let month = if year == today.year() {
            today.month()
        } else if year < today.year() {
            12
        } else {
            1
        };
        let ledger = self.store.institution_ledger(&institution, year).await?;
        let status = ledger
            .status(&institution, year, month)
            .map_err(Error::corrupt)?;
        Ok(Response::new(pb::SetBudgetResponse {
            status: Some(map::budget_status(&status)),
        }))
    }

    async fn set_budget_policy(
        &self,
        req: Request<pb::SetBudgetPolicyRequest>,
    ) -> Res<pb::SetBudgetPolicyResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator])?;
        let r = req.into_inner();
        let region = own_region(&caller, "region_code", &r.region_code)?;
        let p = r
            .policy
            .ok_or_else(|| ApiError::invalid("BUDGET_POLICY_INVALID", "policy", "is required"))?;
        if !p.region_code.is_empty() && p.region_code != region.as_str() {
            return Err(ApiError::invalid(
                "BUDGET_POLICY_INVALID",
                "policy.region_code",
                format!("must be empty or {region}"),
            )
            .into());
        }
        let policy = BudgetPolicy {
            region: region.clone(),
            yellow_over_pace: Bp(p.yellow_over_pace_bp),
            orange_over_pace: Bp(p.orange_over_pace_bp),
            red_over_pace: Bp(p.red_over_pace_bp),
            hold_on_red: p.hold_on_red,
            insufficient_below_months: p.insufficient_below_months,
            reasonable_from_months: p.reasonable_from_months,
            reasonable_to_months: p.reasonable_to_months,
            excessive_above_months: p.excessive_above_months,
        };
        policy.validate().map_err(|e| {
            ApiError::invalid(
                "BUDGET_POLICY_INVALID",
                "policy",
                e.to_string()
                    .split_once(": ")
                    .map_or(String::new(), |(_, m)| m.to_string()),
            )
        })?;
        self.store
            .put_budget_policy(&policy, &audit(&caller))
            .await?;
        Ok(Response::new(pb::SetBudgetPolicyResponse {
            policy: Some(map::budget_policy(&policy)),
        }))
    }

    async fn get_budget_status(
        &self,
        req: Request<pb::GetBudgetStatusRequest>,
    ) -> Res<pb::GetBudgetStatusResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor, Role::Hospital])?;
        let r = req.into_inner();
        let institution = institution_in("institution_code", &r.institution_code)?;
        caller.check_org("institution_code", institution.as_str())?;
        covers(&caller, "institution_code", &institution.region())?;
        let year = year_in(r.year)?;
        let month = month_in(r.month)?;
        let ledger = self.store.institution_ledger(&institution, year).await?;
        let mut status = ledger.status(&institution, year, month).map_err(|_| {
            ApiError::not_found(
                "BUDGET_NOT_SET",
                format!("no budget for {institution} in {year}"),
            )
        })?;
        status.payment_held = self
            .store
            .hold_of(institution.as_str(), year, month)
            .await?
            .is_some();
        Ok(Response::new(pb::GetBudgetStatusResponse {
            status: Some(map::budget_status(&status)),
        }))
    }

    async fn list_warnings(
        &self,
        req: Request<pb::ListWarningsRequest>,
    ) -> Res<pb::ListWarningsResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let prefix = scope(&caller, "region_code", &r.region_code)?;
        let year = year_in(r.year)?;
        let month = month_in(r.month)?;
        let min = map::level_in(r.min_level)?;
        let page = page_in(r.page.as_ref())?;
        let warnings = self.store.warnings(&prefix, year, month, page).await?;
        let returned = warnings.len();
        Ok(Response::new(pb::ListWarningsResponse {
            warnings: warnings
                .iter()
                .filter(|w| min.is_none_or(|m| w.level >= m))
                .map(map::warning)
                .collect(),
            page: page_out(page, returned),
        }))
    }

    async fn get_fund_summary(
        &self,
        req: Request<pb::GetFundSummaryRequest>,
    ) -> Res<pb::GetFundSummaryResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let region = own_region(&caller, "region_code", &r.region_code)?;
        let year = year_in(r.year)?;
        let month = month_in(r.month)?;
        let ledger = self.store.region_ledger(region.prefix(), year).await?;
        let summary = ledger
            .fund_summary(&region, year, month)
            .map_err(Error::corrupt)?;
        let warnings = self
            .store
            .warnings(
                region.prefix(),
                year,
                month,
                Page {
                    offset: 0,
                    limit: 1000,
                },
            )
            .await?;
        Ok(Response::new(pb::GetFundSummaryResponse {
            region_code: region.to_string(),
            year,
            month,
            income_fen: summary.income.0,
            spending_fen: summary.spending.0,
            opening_balance_fen: summary.opening_balance.0,
            balance_fen: summary.balance.0,
            months_payable_hundredths: summary.months_payable_hundredths,
            balance_status: map::balance_status(summary.balance_status),
            warnings: warnings.iter().map(map::warning).collect(),
            stream_lag_events: self.lag.load(Ordering::Relaxed),
        }))
    }

    async fn draw_inspection(
        &self,
        req: Request<pb::DrawInspectionRequest>,
    ) -> Res<pb::DrawInspectionResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator])?;
        let r = req.into_inner();
        let region = own_region(&caller, "region_code", &r.region_code)?;
        if r.institution_codes.is_empty() {
            return Err(ApiError::invalid(
                "INSPECTION_EMPTY_POOL",
                "institution_codes",
                "list the institutions that may be drawn",
            )
            .into());
        }
        let institutions = r
            .institution_codes
            .iter()
            .enumerate()
            .map(|(k, c)| institution_in(&format!("institution_codes[{k}]"), c))
            .collect::<Result<Vec<_>, _>>()?;
        let conflicts = r
            .conflicts
            .iter()
            .enumerate()
            .map(|(k, c)| {
                Ok((
                    c.inspector_id.trim().to_string(),
                    institution_in(
                        &format!("conflicts[{k}].institution_code"),
                        &c.institution_code,
                    )?,
                ))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let made = audit(&caller);
        let request = DrawRequest {
            draw_id: uuid::Uuid::now_v7().to_string(),
            region,
            seed: r.seed,
            drawn_at: made.at,
            institutions,
            inspectors: r.inspector_ids.clone(),
            institutions_to_draw: usize::try_from(r.institutions_to_draw).unwrap_or(usize::MAX),
            inspectors_to_draw: usize::try_from(r.inspectors_to_draw).unwrap_or(usize::MAX),
            conflicts,
        };
        let draw = crate::domain::draw_inspection(&request).map_err(|e| {
            let text = e.to_string();
            let message = text
                .split_once(": ")
                .map_or(text.clone(), |(_, m)| m.to_string());
            match e {
                InspectionError::EmptyDraw => {
                    ApiError::invalid("INSPECTION_EMPTY_DRAW", "institutions_to_draw", message)
                }
                InspectionError::OutsideRegion(_) => {
                    ApiError::invalid("INSPECTION_OUTSIDE_REGION", "institution_codes", message)
                }
                InspectionError::TooFewInstitutions { .. } => ApiError::invalid(
                    "INSPECTION_TOO_FEW_INSTITUTIONS",
                    "institutions_to_draw",
                    message,
                ),
                InspectionError::TooFewInspectors { .. } => ApiError::invalid(
                    "INSPECTION_TOO_FEW_INSPECTORS",
                    "inspectors_to_draw",
                    message,
                ),
            }
        })?;
        self.store.insert_draw(&draw, &made).await?;
        Ok(Response::new(pb::DrawInspectionResponse {
            draw: Some(map::draw(&draw)),
        }))
    }

    async fn get_inspection_draw(
        &self,
        req: Request<pb::GetInspectionDrawRequest>,
    ) -> Res<pb::GetInspectionDrawResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let id = non_empty("draw_id", &r.draw_id)?;
        let draw = self
            .store
            .draw(&id)
            .await?
            .ok_or_else(|| not_found("INSPECTION_DRAW_NOT_FOUND", "draw", &id))?;
        covers(&caller, "region_code", &draw.region)?;
        Ok(Response::new(pb::GetInspectionDrawResponse {
            verified: draw.verify(),
            draw: Some(map::draw(&draw)),
        }))
    }

    async fn run_backfill(
        &self,
        req: Request<pb::RunBackfillRequest>,
    ) -> Res<pb::RunBackfillResponse> {
        let caller = yibao_runtime::server::caller(&req)?;
        allow(&caller, &[Role::Operator])?;
        let r = req.into_inner();
        let region = own_region(&caller, "region_code", &r.region_code)?;
        let rule = map::rule_code_in("rule_code", r.rule_code)?
            .ok_or_else(|| ApiError::invalid("RULE_UNKNOWN", "rule_code", "is required"))?;
        let from = date_in("from_date", &r.from_date)?.ok_or_else(|| {
            ApiError::invalid("SUPERVISION_DATE_INVALID", "from_date", "is required")
        })?;
        let to = date_in("to_date", &r.to_date)?.ok_or_else(|| {
            ApiError::invalid("SUPERVISION_DATE_INVALID", "to_date", "is required")
        })?;
        if to < from {
            return Err(ApiError::invalid(
                "SUPERVISION_DATE_INVALID",
                "to_date",
                "is before from_date",
            )
            .into());
        }
        let report = backfill(&self.store, &region, rule, (from, to)).await?;
        let run_id = uuid::Uuid::now_v7().to_string();
        let made = audit(&caller);
        let now = made.at;
        let findings: Vec<(crate::domain::Finding, Review)> = report
            .findings
            .into_iter()
            .map(|f| {
                let review = Review::open(&f, now, now + chrono::Duration::days(15));
                (f, review)
            })
            .collect();
        self.store
            .record_backfill(
                &run_id,
                &region,
                rule,
                report.rule_version,
                (from, to),
                r.dry_run,
                (report.events_seen, report.events_refused),
                &findings,
                &made,
            )
            .await?;
        Ok(Response::new(pb::RunBackfillResponse {
            run_id,
            rule_code: map::rule_code(rule),
            rule_version: report.rule_version,
            events_seen: report.events_seen,
            events_refused: report.events_refused,
            findings_raised: findings.len() as u64,
            amount_at_risk_fen: findings
                .iter()
                .fold(0i64, |acc, (f, _)| acc.saturating_add(f.amount_at_risk.0)),
        }))
    }
}

/// What a backfill found.
#[derive(Debug)]
pub struct Backfill {
    /// Version of the rules used.
    pub rule_version: u32,
    /// Events replayed.
    pub events_seen: u64,
    /// Events refused.
    pub events_refused: u64,
    /// Findings, in event order.
    pub findings: Vec<crate::domain::Finding>,
}

/// Replays one rule of a region's current rule set over the region's stored events settled in
/// `range` (inclusive), in event order, through a fresh detector, in one pass: a reader task
/// fetches pages of 20,000 rows (keyset on (at, seq), so each row is read once) while this task
/// decodes and judges the previous page.
pub async fn backfill(
    store: &Store,
    region: &RegionCode,
    rule: crate::domain::RuleCode,
    range: (NaiveDate, NaiveDate),
) -> Result<Backfill, Error> {
    const PAGE: u64 = 20_000;
    let rules = store.current_rules(region).await?;
    let version = rules.version;
    let mut detector = Detector::for_replay(rules.only(rule)).map_err(Error::corrupt)?;
    let from = format!("{}T00:00:00", range.0);
    let to = format!("{}T23:59:59", range.1);
    let mut out = Backfill {
        rule_version: version,
        events_seen: 0,
        events_refused: 0,
        findings: Vec::new(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<crate::store::StoredRow>, Error>>(2);
    let reader = tokio::spawn({
        let store = store.clone();
        let region = region.as_str().to_string();
        async move {
            let mut after = None;
            loop {
                let page = store
                    .history_rows(&region, &from, &to, after.clone(), PAGE)
                    .await;
                let last = match &page {
                    Ok(rows) => rows.last().map(|(at, seq, _, _)| (at.clone(), *seq)),
                    Err(_) => None,
                };
                let full = page.as_ref().is_ok_and(|rows| rows.len() as u64 == PAGE);
                if tx.send(page).await.is_err() || !full {
                    break;
                }
                after = last;
            }
        }
    });
    while let Some(page) = rx.recv().await {
        for (_, _, kind, payload) in &page? {
            out.events_seen += 1;
            match detector.observe(&crate::store::decode_stored(kind, payload)?) {
                Ok(f) => out.findings.extend(f),
                Err(_) => out.events_refused += 1,
            }
        }
    }
    reader.await.map_err(Error::corrupt)?;
    Ok(out)
}
