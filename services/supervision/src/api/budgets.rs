//! Budgets and the fund: `SetBudget`, `SetBudgetPolicy`, `GetBudgetStatus`, `ListWarnings`,
//! `GetFundSummary`.

use super::input::{institution_in, month_in, own_region, scope, year_in};
use super::{Res, map};
use crate::app::{Supervision, audit, covers};
use crate::domain::BudgetPolicy;
use crate::error;
use crate::store::Page;
use crate::store::budgets::warning_key;
use tonic::{Request, Response};
use yibao_core::{Bp, Fen};
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::server::caller;

pub(super) async fn set_budget(
    app: &Supervision,
    req: Request<pb::SetBudgetRequest>,
) -> Res<pb::SetBudgetResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let institution = institution_in("institution_code", &r.institution_code)?;
    covers(&caller, "institution_code", &institution.region())?;
    let year = year_in(r.year)?;
    if r.annual_budget_fen <= 0 {
        return Err(error::BUDGET_AMOUNT_NOT_POSITIVE
            .invalid("annual_budget_fen", "a budget must be above 0")
            .into());
    }
    let status = app
        .set_budget(
            &audit(&caller),
            &institution,
            year,
            Fen(r.annual_budget_fen),
        )
        .await?;
    Ok(Response::new(pb::SetBudgetResponse {
        status: Some(map::budget_status(&status)),
    }))
}

pub(super) async fn set_budget_policy(
    app: &Supervision,
    req: Request<pb::SetBudgetPolicyRequest>,
) -> Res<pb::SetBudgetPolicyResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&caller, "region_code", &r.region_code)?;
    let p = r
        .policy
        .ok_or_else(|| error::BUDGET_POLICY_INVALID.invalid("policy", "is required"))?;
    if !p.region_code.is_empty() && p.region_code != region.as_str() {
        return Err(error::BUDGET_POLICY_INVALID
            .invalid("policy.region_code", format!("must be empty or {region}"))
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
    app.set_budget_policy(&audit(&caller), &policy).await?;
    Ok(Response::new(pb::SetBudgetPolicyResponse {
        policy: Some(map::budget_policy(&policy)),
    }))
}

pub(super) async fn get_budget_status(
    app: &Supervision,
    req: Request<pb::GetBudgetStatusRequest>,
) -> Res<pb::GetBudgetStatusResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let institution = institution_in("institution_code", &r.institution_code)?;
    caller.check_org("institution_code", institution.as_str())?;
    covers(&caller, "institution_code", &institution.region())?;
    let year = year_in(r.year)?;
    let month = month_in(r.month)?;
    let status = app.budget_status(&institution, year, month).await?;
    Ok(Response::new(pb::GetBudgetStatusResponse {
        status: Some(map::budget_status(&status)),
    }))
}

pub(super) async fn list_warnings(
    app: &Supervision,
    req: Request<pb::ListWarningsRequest>,
) -> Res<pb::ListWarningsResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let prefix = scope(&caller, "region_code", &r.region_code)?;
    let year = year_in(r.year)?;
    let month = month_in(r.month)?;
    let min = map::level_in(r.min_level)?;
    let page = Page::parse(r.page.as_ref())?;
    let warnings = app.warnings(&prefix, year, month, &page).await?;
    let (warnings, next) = page.finish(warnings, warning_key);
    Ok(Response::new(pb::ListWarningsResponse {
        warnings: warnings
            .iter()
            .filter(|w| min.is_none_or(|m| w.level >= m))
            .map(map::warning)
            .collect(),
        page: Some(next),
    }))
}

pub(super) async fn get_fund_summary(
    app: &Supervision,
    req: Request<pb::GetFundSummaryRequest>,
) -> Res<pb::GetFundSummaryResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&caller, "region_code", &r.region_code)?;
    let year = year_in(r.year)?;
    let month = month_in(r.month)?;
    let (summary, warnings) = app.fund_summary(&region, year, month).await?;
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
        stream_lag_events: app.stream_lag(),
    }))
}
