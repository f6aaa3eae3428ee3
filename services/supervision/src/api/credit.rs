//! Credit and the settlement hold: `GetCreditScore`, `RestoreCredit`, `ListBlacklist`,
//! `CheckSettlementHold`.

use super::input::{institution_in, month_in, non_empty, scope, year_in};
use super::{Res, map};
use crate::app::credit::{HoldDecision, Restoration};
use crate::app::{Supervision, covers};
use crate::domain::{CreditError, PhysicianCode, Subject};
use crate::error;
use crate::store::Page;
use crate::store::credit::blacklist_key;
use tonic::{Request, Response};
use yibao_core::RegionCode;
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::ApiError;
use yibao_runtime::server::caller;

/// The subject a credit request names, and the region it belongs to.
fn subject_in(kind: i32, code: &str) -> Result<(Subject, RegionCode), ApiError> {
    match pb::CreditSubjectKind::try_from(kind) {
        Ok(pb::CreditSubjectKind::Institution) => {
            let code = institution_in("subject_code", code)?;
            let region = code.region();
            Ok((Subject::Institution(code), region))
        }
        Ok(pb::CreditSubjectKind::Physician) => {
            let code = PhysicianCode::parse(code).map_err(|e: CreditError| {
                error::CREDIT_PHYSICIAN_CODE_INVALID.invalid("subject_code", e.to_string())
            })?;
            let region =
                RegionCode::parse(code.as_str().get(1..7).unwrap_or_default()).map_err(|e| {
                    error::CREDIT_PHYSICIAN_CODE_INVALID.invalid("subject_code", e.to_string())
                })?;
            Ok((Subject::Physician(code), region))
        }
        _ => Err(error::CREDIT_SUBJECT_KIND_INVALID
            .invalid("subject_kind", "must be INSTITUTION or PHYSICIAN")),
    }
}

pub(super) async fn get_credit_score(
    app: &Supervision,
    req: Request<pb::GetCreditScoreRequest>,
) -> Res<pb::GetCreditScoreResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let (subject, region) = subject_in(r.subject_kind, &r.subject_code)?;
    covers(&caller, "subject_code", &region)?;
    let record = app.credit(&subject).await?;
    Ok(Response::new(pb::GetCreditScoreResponse {
        credit: Some(map::credit(
            &subject,
            record.as_ref(),
            app.credit_policy().initial,
        )),
    }))
}

pub(super) async fn restore_credit(
    app: &Supervision,
    req: Request<pb::RestoreCreditRequest>,
) -> Res<pb::RestoreCreditResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let (subject, region) = subject_in(r.subject_kind, &r.subject_code)?;
    covers(&caller, "subject_code", &region)?;
    let initial = app.credit_policy().initial;
    if r.points == 0 || r.points > initial {
        return Err(error::CREDIT_POINTS_INVALID
            .invalid(
                "points",
                format!("must be 1 to {initial}, got {}", r.points),
            )
            .into());
    }
    let reference = non_empty("reference", &r.reference)?;
    if reference.chars().count() > 64 {
        return Err(error::FIELD_REQUIRED
            .invalid("reference", "must be 1 to 64 characters")
            .into());
    }
    let reason = non_empty("reason", &r.reason)?;
    if reason.chars().count() > 500 {
        return Err(error::FIELD_REQUIRED
            .invalid("reason", "must be 1 to 500 characters")
            .into());
    }
    let restoration = Restoration {
        subject: subject.clone(),
        points: r.points,
        reference,
        reason,
    };
    let record = app.restore_credit(&caller, restoration).await?;
    Ok(Response::new(pb::RestoreCreditResponse {
        credit: Some(map::credit(&subject, record.as_ref(), initial)),
    }))
}

pub(super) async fn list_blacklist(
    app: &Supervision,
    req: Request<pb::ListBlacklistRequest>,
) -> Res<pb::ListBlacklistResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let prefix = scope(&caller, "region_code", &r.region_code)?;
    let kind = match pb::CreditSubjectKind::try_from(r.subject_kind) {
        Ok(pb::CreditSubjectKind::Unspecified) => None,
        Ok(pb::CreditSubjectKind::Institution) => Some("institution"),
        Ok(pb::CreditSubjectKind::Physician) => Some("physician"),
        Err(_) => {
            return Err(error::CREDIT_SUBJECT_KIND_INVALID
                .invalid("subject_kind", "unknown kind")
                .into());
        }
    };
    let page = Page::parse(r.page.as_ref())?;
    let list = app.blacklist(&prefix, kind, &page).await?;
    let (list, next) = page.finish(list, blacklist_key);
    let initial = app.credit_policy().initial;
    Ok(Response::new(pb::ListBlacklistResponse {
        page: Some(next),
        entries: list
            .iter()
            .map(|rec| map::credit(&rec.subject, Some(rec), initial))
            .collect(),
    }))
}

pub(super) async fn check_settlement_hold(
    app: &Supervision,
    req: Request<pb::CheckSettlementHoldRequest>,
) -> Res<pb::CheckSettlementHoldResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let institution = institution_in("institution_code", &r.institution_code)?;
    caller.check_org("institution_code", institution.as_str())?;
    covers(&caller, "institution_code", &institution.region())?;
    let year = year_in(r.year)?;
    let month = month_in(r.month)?;
    let hold = app.settlement_hold(&institution, year, month).await?;
    let decision = match hold.decision {
        HoldDecision::Settle => pb::SettlementDecision::Settle,
        HoldDecision::Hold => pb::SettlementDecision::Hold,
        HoldDecision::Refuse => pb::SettlementDecision::Refuse,
    };
    Ok(Response::new(pb::CheckSettlementHoldResponse {
        decision: decision as i32,
        credit_score: hold.credit_score,
        budget_hold: hold.budget_hold,
        reasons: hold.reasons,
    }))
}
