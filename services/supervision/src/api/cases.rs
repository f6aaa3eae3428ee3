//! Tips, cases, recoveries and rewards: `OpenCase`, `RecordRecovery`, `PayReward`,
//! `SubmitTip`, `ListCases`.

use super::input::{institution_in, non_empty, own_region, scope};
use super::{Res, map};
use crate::app::Supervision;
use crate::app::cases::{CaseSource, TipInput};
use crate::domain::Case;
use crate::error;
use crate::store::Page;
use crate::store::cases::case_key;
use tonic::{Request, Response};
use yibao_core::Fen;
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::server::caller;

fn case_out(app: &Supervision, c: &Case, tip_id: &str) -> pb::Case {
    map::case(c, tip_id, app.reward_policy())
}

pub(super) async fn open_case(
    app: &Supervision,
    req: Request<pb::OpenCaseRequest>,
) -> Res<pb::OpenCaseResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&caller, "region_code", &r.region_code)?;
    let source = match (r.finding_ids.is_empty(), r.tip_id.trim().is_empty()) {
        (false, true) => CaseSource::Findings(r.finding_ids),
        (true, false) => CaseSource::Tip(r.tip_id.trim().to_string()),
        _ => {
            return Err(error::CASE_SOURCE_INVALID
                .invalid("finding_ids", "give either finding_ids or tip_id")
                .into());
        }
    };
    let (case, tip_id) = app.open_case(&caller, region, source).await?;
    Ok(Response::new(pb::OpenCaseResponse {
        case: Some(case_out(app, &case, &tip_id)),
    }))
}

pub(super) async fn record_recovery(
    app: &Supervision,
    req: Request<pb::RecordRecoveryRequest>,
) -> Res<pb::RecordRecoveryResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let id = non_empty("case_id", &r.case_id)?;
    let response = app
        .record_recovery(
            &caller,
            &id,
            Fen(r.amount_fen),
            &r.note,
            r.close_case,
            &r.request_id,
            |case, tip_id| pb::RecordRecoveryResponse {
                case: Some(case_out(app, case, tip_id)),
            },
        )
        .await?;
    Ok(Response::new(response))
}

pub(super) async fn pay_reward(
    app: &Supervision,
    req: Request<pb::PayRewardRequest>,
) -> Res<pb::PayRewardResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let id = non_empty("case_id", &r.case_id)?;
    let response = app
        .pay_reward(
            &caller,
            &id,
            Fen(r.amount_fen),
            &r.request_id,
            |case, tip_id| pb::PayRewardResponse {
                case: Some(case_out(app, case, tip_id)),
            },
        )
        .await?;
    Ok(Response::new(response))
}

pub(super) async fn submit_tip(
    app: &Supervision,
    req: Request<pb::SubmitTipRequest>,
) -> Res<pb::SubmitTipResponse> {
    let caller = caller(&req)?;
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
    let submitted = app
        .submit_tip(
            &caller,
            TipInput {
                region,
                institution,
                description,
                contact: r.whistleblower_contact.trim().to_string(),
                open_case: r.open_case,
            },
        )
        .await?;
    Ok(Response::new(pb::SubmitTipResponse {
        case: submitted
            .case
            .as_ref()
            .map(|c| case_out(app, c, &submitted.tip_id)),
        tip_id: submitted.tip_id,
    }))
}

pub(super) async fn list_cases(
    app: &Supervision,
    req: Request<pb::ListCasesRequest>,
) -> Res<pb::ListCasesResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let prefix = scope(&caller, "region_code", &r.region_code)?;
    let institution = if r.institution_code.is_empty() {
        None
    } else {
        Some(institution_in("institution_code", &r.institution_code)?.to_string())
    };
    let status = map::case_status_filter(r.status)?;
    let page = Page::parse(r.page.as_ref())?;
    let cases = app
        .cases(&prefix, institution.as_deref(), status, &page)
        .await?;
    let (cases, next) = page.finish(cases, case_key);
    Ok(Response::new(pb::ListCasesResponse {
        page: Some(next),
        cases: cases
            .iter()
            .map(|c| case_out(app, &c.case, &c.tip_id))
            .collect(),
    }))
}
