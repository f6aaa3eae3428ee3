//! Findings and their review workflow: `ListFindings`, `GetFinding`,
//! `SubmitInstitutionFeedback`, `ReviewFinding`, `RequestThirdPartyReview`,
//! `RecordThirdPartyReview`, `DecideFinding`.

use super::input::{date_in, institution_in, non_empty, scope};
use super::{Res, map};
use crate::app::Supervision;
use crate::store::findings::finding_key;
use crate::store::{FindingFilter, Page, StoredFinding};
use tonic::{Request, Response};
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::server::caller;

fn finding_out(stored: &StoredFinding) -> Option<pb::Finding> {
    Some(map::finding(
        &stored.finding,
        &stored.review,
        &stored.step_roles,
    ))
}

pub(super) async fn list_findings(
    app: &Supervision,
    req: Request<pb::ListFindingsRequest>,
) -> Res<pb::ListFindingsResponse> {
    let caller = caller(&req)?;
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
    let page = Page::parse(r.page.as_ref())?;
    let rows = app.findings(&filter, &page).await?;
    let (rows, next) = page.finish(rows, |(f, _)| finding_key(f));
    Ok(Response::new(pb::ListFindingsResponse {
        page: Some(next),
        findings: rows
            .iter()
            .map(|(f, rv)| map::finding(f, rv, &[]))
            .collect(),
    }))
}

pub(super) async fn get_finding(
    app: &Supervision,
    req: Request<pb::GetFindingRequest>,
) -> Res<pb::GetFindingResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let id = non_empty("finding_id", &r.finding_id)?;
    let stored = app
        .visible_finding(&caller, &id, &r.institution_code)
        .await?;
    Ok(Response::new(pb::GetFindingResponse {
        finding: finding_out(&stored),
    }))
}

pub(super) async fn submit_institution_feedback(
    app: &Supervision,
    req: Request<pb::SubmitInstitutionFeedbackRequest>,
) -> Res<pb::SubmitInstitutionFeedbackResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let kind = map::feedback_in(r.kind)?;
    let id = non_empty("finding_id", &r.finding_id)?;
    let mut note = r.note.trim().to_string();
    if !r.attachment_ids.is_empty() {
        note = format!("{note} [attachments: {}]", r.attachment_ids.join(", "));
    }
    let stored = app
        .submit_feedback(&caller, &id, &r.institution_code, kind, note)
        .await?;
    Ok(Response::new(pb::SubmitInstitutionFeedbackResponse {
        finding: finding_out(&stored),
    }))
}

pub(super) async fn review_finding(
    app: &Supervision,
    req: Request<pb::ReviewFindingRequest>,
) -> Res<pb::ReviewFindingResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let outcome = map::conclusion_in(r.conclusion, r.amount_fen)?;
    let id = non_empty("finding_id", &r.finding_id)?;
    let stored = app
        .review(&caller, &id, outcome, r.note.trim().to_string())
        .await?;
    Ok(Response::new(pb::ReviewFindingResponse {
        finding: finding_out(&stored),
    }))
}

pub(super) async fn request_third_party_review(
    app: &Supervision,
    req: Request<pb::RequestThirdPartyReviewRequest>,
) -> Res<pb::RequestThirdPartyReviewResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let id = non_empty("finding_id", &r.finding_id)?;
    let stored = app
        .request_third_party(&caller, &id, &r.institution_code, r.note.trim().to_string())
        .await?;
    Ok(Response::new(pb::RequestThirdPartyReviewResponse {
        finding: finding_out(&stored),
    }))
}

pub(super) async fn record_third_party_review(
    app: &Supervision,
    req: Request<pb::RecordThirdPartyReviewRequest>,
) -> Res<pb::RecordThirdPartyReviewResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let third_party = non_empty("third_party", &r.third_party)?;
    let outcome = map::conclusion_in(r.conclusion, r.amount_fen)?;
    let id = non_empty("finding_id", &r.finding_id)?;
    let stored = app
        .record_third_party(&caller, &id, &third_party, outcome, r.note.trim())
        .await?;
    Ok(Response::new(pb::RecordThirdPartyReviewResponse {
        finding: finding_out(&stored),
    }))
}

pub(super) async fn decide_finding(
    app: &Supervision,
    req: Request<pb::DecideFindingRequest>,
) -> Res<pb::DecideFindingResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let outcome = map::conclusion_in(r.conclusion, r.amount_fen)?;
    let id = non_empty("finding_id", &r.finding_id)?;
    let (stored, score) = app
        .decide(&caller, &id, outcome, r.note.trim().to_string())
        .await?;
    Ok(Response::new(pb::DecideFindingResponse {
        finding: finding_out(&stored),
        credit_score: score,
    }))
}
