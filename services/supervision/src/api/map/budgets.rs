//! Credit, budgets, warnings and inspection draws.

use super::severity;
use crate::domain::{
    BudgetStatus, BudgetWarning, CreditRecord, FundBalanceStatus, InspectionDraw, Subject,
    WarningLevel,
};
use crate::error;
use crate::store::rfc3339;
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::ApiError;

/// A proto credit score of a subject (`record` absent: never deducted, `initial` score).
pub fn credit(subject: &Subject, record: Option<&CreditRecord>, initial: u32) -> pb::CreditScore {
    let (kind, code) = match subject {
        Subject::Institution(c) => (pb::CreditSubjectKind::Institution, c.to_string()),
        Subject::Physician(c) => (pb::CreditSubjectKind::Physician, c.to_string()),
    };
    pb::CreditScore {
        subject_kind: kind as i32,
        subject_code: code,
        score: record.map_or(initial, |r| r.score),
        blacklisted: record.is_some_and(|r| r.blacklisted_since.is_some()),
        blacklisted_since: record
            .and_then(|r| r.blacklisted_since)
            .map(rfc3339)
            .unwrap_or_default(),
        deductions: record
            .map(|r| {
                r.deductions
                    .iter()
                    .map(|d| pb::CreditDeduction {
                        violation_id: d.violation_id.clone(),
                        severity: d.severity.map_or(0, severity),
                        points: i32::try_from(d.points).unwrap_or(0),
                        reason: d.reason.clone(),
                        at: rfc3339(d.at),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Proto number of a warning level.
pub fn level(l: Option<WarningLevel>) -> i32 {
    (match l {
        None => pb::WarningLevel::Unspecified,
        Some(WarningLevel::Yellow) => pb::WarningLevel::Yellow,
        Some(WarningLevel::Orange) => pb::WarningLevel::Orange,
        Some(WarningLevel::Red) => pb::WarningLevel::Red,
    }) as i32
}

/// A warning level filter (`None` for unspecified).
pub fn level_in(n: i32) -> Result<Option<WarningLevel>, ApiError> {
    match pb::WarningLevel::try_from(n) {
        Ok(pb::WarningLevel::Unspecified) => Ok(None),
        Ok(pb::WarningLevel::Yellow) => Ok(Some(WarningLevel::Yellow)),
        Ok(pb::WarningLevel::Orange) => Ok(Some(WarningLevel::Orange)),
        Ok(pb::WarningLevel::Red) => Ok(Some(WarningLevel::Red)),
        Err(_) => {
            Err(error::WARNING_LEVEL_INVALID.invalid("min_level", format!("unknown level {n}")))
        }
    }
}

/// A proto budget status.
pub fn budget_status(s: &BudgetStatus) -> pb::BudgetStatus {
    pb::BudgetStatus {
        institution_code: s.institution.to_string(),
        year: s.year,
        month: s.month,
        annual_budget_fen: s.annual_budget.0,
        spent_in_month_fen: s.spent_in_month.0,
        spent_to_date_fen: s.spent_to_date.0,
        spend_progress_bp: s.spend_progress_bp,
        time_progress_bp: s.time_progress_bp,
        over_pace_bp: s.over_pace_bp,
        level: level(s.level),
        payment_held: s.payment_held,
    }
}

/// A proto warning.
pub fn warning(w: &BudgetWarning) -> pb::BudgetWarning {
    let (hy, hm) = w.hold_payment_of.unwrap_or((0, 0));
    pb::BudgetWarning {
        level: level(Some(w.level)),
        status: Some(budget_status(&w.status)),
        hold_year: hy,
        hold_month: hm,
    }
}

/// Proto number of a balance band.
pub fn balance_status(b: FundBalanceStatus) -> i32 {
    (match b {
        FundBalanceStatus::Insufficient => pb::FundBalanceStatus::Insufficient,
        FundBalanceStatus::Low => pb::FundBalanceStatus::Low,
        FundBalanceStatus::Reasonable => pb::FundBalanceStatus::Reasonable,
        FundBalanceStatus::High => pb::FundBalanceStatus::High,
        FundBalanceStatus::Excessive => pb::FundBalanceStatus::Excessive,
        FundBalanceStatus::Unknown => pb::FundBalanceStatus::Unknown,
    }) as i32
}

/// A proto budget policy.
pub fn budget_policy(p: &crate::domain::BudgetPolicy) -> pb::BudgetPolicy {
    pb::BudgetPolicy {
        region_code: p.region.to_string(),
        yellow_over_pace_bp: p.yellow_over_pace.0,
        orange_over_pace_bp: p.orange_over_pace.0,
        red_over_pace_bp: p.red_over_pace.0,
        hold_on_red: p.hold_on_red,
        insufficient_below_months: p.insufficient_below_months,
        reasonable_from_months: p.reasonable_from_months,
        reasonable_to_months: p.reasonable_to_months,
        excessive_above_months: p.excessive_above_months,
    }
}

/// A proto draw.
pub fn draw(d: &InspectionDraw) -> pb::InspectionDraw {
    pb::InspectionDraw {
        draw_id: d.draw_id.clone(),
        region_code: d.region.to_string(),
        seed: d.seed,
        algorithm: d.algorithm.clone(),
        drawn_at: rfc3339(d.drawn_at),
        institution_pool: d.institution_pool.iter().map(|i| i.to_string()).collect(),
        inspector_pool: d.inspector_pool.clone(),
        conflicts: d
            .conflicts
            .iter()
            .map(|(who, inst)| pb::Conflict {
                inspector_id: who.clone(),
                institution_code: inst.to_string(),
            })
            .collect(),
        excluded_inspectors: d.excluded_inspectors.clone(),
        institution_codes: d.institutions.iter().map(|i| i.to_string()).collect(),
        inspector_ids: d.inspectors.clone(),
    }
}
