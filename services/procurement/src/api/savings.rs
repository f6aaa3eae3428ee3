//! Volume-completion and retained-savings RPCs; the proto ⇄ completion and savings mapping.

use super::parse::{institution, opt_date, positive, share};
use super::{Reply, check_org};
use crate::app::{AppError, InstitutionSavingsParams, Procurement, SavingsRequest};
use crate::domain::{CompletionRules, CompletionStatus, SavingsRules};
use tonic::{Request, Response};
use yibao_core::Bp;
use yibao_proto::procurement::v1 as pb;
use yibao_runtime::server::caller;

pub(super) async fn get_volume_completion(
    app: &Procurement,
    req: Request<pb::GetVolumeCompletionRequest>,
) -> Reply<pb::GetVolumeCompletionResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let institution = if r.institution_code.is_empty() {
        if c.role.is_org_scoped() {
            return Err(AppError::invalid(
                "institution_code",
                "is required: name your own institution",
            )
            .into());
        }
        None
    } else {
        let inst = institution("institution_code", &r.institution_code)?;
        check_org(&c, "institution_code", inst.as_str())?;
        Some(inst)
    };
    let as_of = match opt_date("as_of_date", &r.as_of_date)? {
        Some(d) => d,
        None => chrono::Utc::now().date_naive(),
    };
    let rules = CompletionRules {
        alert_share_of_time_progress: Bp(r.alert_share_of_time_progress_bp.unwrap_or(8_000)),
    };
    let completions = app
        .volume_completion(&c, &r.round_id, institution.as_ref(), as_of, &rules)
        .await?;
    Ok(Response::new(pb::GetVolumeCompletionResponse {
        completions: completions
            .iter()
            .map(|v| pb::VolumeCompletion {
                institution_code: v.institution.to_string(),
                group_id: v.group_id.clone(),
                agreed_volume: v.agreed_volume,
                purchased_volume: v.purchased_volume,
                completion_bp: v.completion.0,
                time_progress_bp: v.time_progress.0,
                status: completion_status_pb(v.status) as i32,
                explanation: v.explanation.clone(),
            })
            .collect(),
    }))
}

pub(super) async fn compute_retained_savings(
    app: &Procurement,
    req: Request<pb::ComputeRetainedSavingsRequest>,
) -> Reply<pb::ComputeRetainedSavingsResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let rules = SavingsRules {
        retention_rate: share("retention_rate_bp", r.retention_rate_bp)?,
        require_completion: r.require_completion,
    };
    if r.institutions.is_empty() {
        return Err(
            AppError::invalid("institutions", "at least one institution is required").into(),
        );
    }
    let mut pre_procurement_prices = Vec::with_capacity(r.pre_procurement_prices.len());
    for (i, p) in r.pre_procurement_prices.iter().enumerate() {
        pre_procurement_prices.push((
            p.group_id.clone(),
            positive(
                &format!("pre_procurement_prices[{i}].unit_price_fen"),
                p.unit_price_fen,
            )?,
        ));
    }
    let mut institutions = Vec::with_capacity(r.institutions.len());
    for (i, p) in r.institutions.iter().enumerate() {
        let f = |name: &str| format!("institutions[{i}].{name}");
        institutions.push(InstitutionSavingsParams {
            institution: institution(&f("institution_code"), &p.institution_code)?,
            fund_payment_rate: share(&f("fund_payment_rate_bp"), p.fund_payment_rate_bp)?,
            assessment_coefficient: share(
                &f("assessment_coefficient_bp"),
                p.assessment_coefficient_bp,
            )?,
        });
    }
    let request = SavingsRequest {
        rules,
        pre_procurement_prices,
        institutions,
        dry_run: r.dry_run,
    };
    let (results, total) = app.retained_savings(&c, &r.round_id, &request).await?;
    Ok(Response::new(pb::ComputeRetainedSavingsResponse {
        institutions: results
            .iter()
            .map(|s| pb::RetainedSavings {
                institution_code: s.institution.to_string(),
                budget_spending_fen: s.budget_spending.0,
                budget_fen: s.budget.0,
                actual_spending_fen: s.actual_spending.0,
                actual_fen: s.actual.0,
                saving_fen: s.saving.0,
                completed: s.completed,
                retained_fen: s.retained.0,
                explanation: s.explanation.clone(),
            })
            .collect(),
        total_retained_fen: total.0,
    }))
}

/// Completion status as proto.
pub fn completion_status_pb(s: CompletionStatus) -> pb::CompletionStatus {
    match s {
        CompletionStatus::Completed => pb::CompletionStatus::Completed,
        CompletionStatus::OnPace => pb::CompletionStatus::OnPace,
        CompletionStatus::Behind => pb::CompletionStatus::Behind,
    }
}
