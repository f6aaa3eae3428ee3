//! Proto ⇄ domain mapping of the supervision contract. Input mappings name the offending field.
//!
//! This file: audits and the rule library; [`findings`]: findings, reviews, tasks and cases;
//! [`budgets`]: credit, budgets, warnings and draws.

mod budgets;
mod findings;

pub use budgets::*;
pub use findings::*;

use crate::domain::{
    AgeRestriction, FrequencyLimit, ReceiptTier, Rule, RuleCode, RuleParams, RuleSet, Severity,
    SexRestriction, SupplyLimit, VerificationKind,
};
use crate::error;
use crate::store::{Audit, rfc3339};
use yibao_core::{Bp, Fen, Sex};
use yibao_proto::common::v1 as common;
use yibao_proto::supervision::v1 as pb;
use yibao_proto::supervision::v1::rule_params::Params;
use yibao_runtime::ApiError;

/// A proto audit.
pub fn audit(a: &Audit) -> common::Audit {
    common::Audit {
        actor: a.actor.clone(),
        role: a.role.clone(),
        at: rfc3339(a.at),
    }
}

/// Proto number of a rule code.
pub fn rule_code(c: RuleCode) -> i32 {
    RuleCode::ALL
        .iter()
        .position(|x| *x == c)
        .map_or(0, |p| i32::try_from(p + 1).unwrap_or(0))
}

/// A rule code from its proto number; `None` for unspecified.
pub fn rule_code_in(field: &str, n: i32) -> Result<Option<RuleCode>, ApiError> {
    if n == 0 {
        return Ok(None);
    }
    usize::try_from(n - 1)
        .ok()
        .and_then(|k| RuleCode::ALL.get(k).copied())
        .map(Some)
        .ok_or_else(|| error::RULE_CODE_INVALID.invalid(field, format!("unknown rule code {n}")))
}

/// Proto number of a severity.
pub fn severity(s: Severity) -> i32 {
    match s {
        Severity::Low => pb::Severity::Low as i32,
        Severity::Medium => pb::Severity::Medium as i32,
        Severity::High => pb::Severity::High as i32,
    }
}

fn severity_in(field: &str, n: i32) -> Result<Option<Severity>, ApiError> {
    match pb::Severity::try_from(n) {
        Ok(pb::Severity::Unspecified) => Ok(None),
        Ok(pb::Severity::Low) => Ok(Some(Severity::Low)),
        Ok(pb::Severity::Medium) => Ok(Some(Severity::Medium)),
        Ok(pb::Severity::High) => Ok(Some(Severity::High)),
        Err(_) => Err(error::SEVERITY_INVALID.invalid(field, format!("unknown severity {n}"))),
    }
}

/// Proto number of a verification kind.
pub fn verification_kind(k: VerificationKind) -> i32 {
    match k {
        VerificationKind::CheckRecord => pb::VerificationKind::CheckRecord as i32,
        VerificationKind::PhoneOrOnSite => pb::VerificationKind::PhoneOrOnSite as i32,
    }
}

fn verification_kind_in(field: &str, n: i32) -> Result<VerificationKind, ApiError> {
    match pb::VerificationKind::try_from(n) {
        Ok(pb::VerificationKind::CheckRecord) => Ok(VerificationKind::CheckRecord),
        Ok(pb::VerificationKind::PhoneOrOnSite) => Ok(VerificationKind::PhoneOrOnSite),
        _ => Err(error::VERIFICATION_KIND_INVALID
            .invalid(field, "must be CHECK_RECORD or PHONE_OR_ON_SITE")),
    }
}

/// A verification kind filter (`None` for unspecified).
pub fn verification_kind_filter(field: &str, n: i32) -> Result<Option<VerificationKind>, ApiError> {
    if n == 0 {
        Ok(None)
    } else {
        verification_kind_in(field, n).map(Some)
    }
}

fn sex(s: Sex) -> i32 {
    match s {
        Sex::Male => pb::Sex::Male as i32,
        Sex::Female => pb::Sex::Female as i32,
    }
}

fn sex_in(field: &str, n: i32) -> Result<Sex, ApiError> {
    match pb::Sex::try_from(n) {
        Ok(pb::Sex::Male) => Ok(Sex::Male),
        Ok(pb::Sex::Female) => Ok(Sex::Female),
        _ => Err(error::SEX_INVALID.invalid(field, "must be SEX_MALE or SEX_FEMALE")),
    }
}

fn supply(l: &SupplyLimit) -> pb::SupplyLimit {
    pb::SupplyLimit {
        window_days: l.window_days,
        max_days_supply: l.max_days_supply,
        tolerance_days: l.tolerance_days,
    }
}

fn supply_in(field: &str, l: Option<&pb::SupplyLimit>) -> Result<SupplyLimit, ApiError> {
    let l = l.ok_or_else(|| error::RULE_PARAMS_INVALID.invalid(field, "is required"))?;
    Ok(SupplyLimit {
        window_days: l.window_days,
        max_days_supply: l.max_days_supply,
        tolerance_days: l.tolerance_days,
    })
}

/// Proto parameters of a rule.
pub fn params(p: &RuleParams) -> pb::RuleParams {
    let params = match p {
        RuleParams::SplitHospitalisation {
            window_days,
            planned_diagnosis_prefixes,
        } => Params::SplitHospitalisation(pb::SplitHospitalisationParams {
            window_days: *window_days,
            planned_diagnosis_prefixes: planned_diagnosis_prefixes.clone(),
        }),
        RuleParams::OverlappingStay { include_ltc } => {
            Params::OverlappingStay(pb::OverlappingStayParams {
                include_ltc: *include_ltc,
            })
        }
        RuleParams::ServiceAfterDeath => Params::ServiceAfterDeath(pb::ServiceAfterDeathParams {}),
        RuleParams::ServiceOutsideEnrolment { grace_days } => {
            Params::ServiceOutsideEnrolment(pb::ServiceOutsideEnrolmentParams {
                grace_days: *grace_days,
            })
        }
        RuleParams::OverPrescription { chronic, acute } => {
            Params::OverPrescription(pb::OverPrescriptionParams {
                chronic: Some(supply(chronic)),
                acute: Some(supply(acute)),
            })
        }
        RuleParams::OverFrequency { limits } => Params::OverFrequency(pb::OverFrequencyParams {
            limits: limits
                .iter()
                .map(|l| pb::FrequencyLimit {
                    item_code: l.item_code.clone(),
                    max_per_day: l.max_per_day,
                })
                .collect(),
        }),
        RuleParams::SexLimit { restrictions } => Params::SexLimit(pb::SexLimitParams {
            restrictions: restrictions
                .iter()
                .map(|r| pb::SexRestriction {
                    item_code: r.item_code.clone(),
                    sex: sex(r.sex),
                })
                .collect(),
        }),
        RuleParams::AgeLimit { restrictions } => Params::AgeLimit(pb::AgeLimitParams {
            restrictions: restrictions
                .iter()
                .map(|r| pb::AgeRestriction {
                    item_code: r.item_code.clone(),
                    min_age: r.min_age,
                    max_age: r.max_age,
                })
                .collect(),
        }),
        RuleParams::LargeReceipt { tiers } => Params::LargeReceipt(pb::LargeReceiptParams {
            tiers: tiers
                .iter()
                .map(|t| pb::ReceiptTier {
                    above_fen: t.above.0,
                    verification: verification_kind(t.verification),
                })
                .collect(),
        }),
        RuleParams::ChronicDiagnosisChange => {
            Params::ChronicDiagnosisChange(pb::ChronicDiagnosisChangeParams {})
        }
        RuleParams::IdentityCluster {
            min_persons,
            window_hours,
        } => Params::IdentityCluster(pb::IdentityClusterParams {
            min_persons: *min_persons,
            window_hours: *window_hours,
        }),
        RuleParams::MarkUp { tolerance } => Params::MarkUp(pb::MarkUpParams {
            tolerance_bp: tolerance.0,
        }),
        RuleParams::ConcurrentAdmission => {
            Params::ConcurrentAdmission(pb::ConcurrentAdmissionParams {})
        }
        RuleParams::DailyFeesAboveLimit { above } => {
            Params::DailyFeesAboveLimit(pb::DailyFeesAboveLimitParams { above_fen: above.0 })
        }
        RuleParams::FeeOutsideStay => Params::FeeOutsideStay(pb::FeeOutsideStayParams {}),
    };
    pb::RuleParams {
        params: Some(params),
    }
}

/// Domain parameters from the proto; `None` when no case is set.
pub fn params_in(p: Option<&pb::RuleParams>) -> Result<Option<RuleParams>, ApiError> {
    let Some(p) = p.and_then(|p| p.params.as_ref()) else {
        return Ok(None);
    };
    let out = match p {
        Params::SplitHospitalisation(x) => RuleParams::SplitHospitalisation {
            window_days: x.window_days,
            planned_diagnosis_prefixes: x
                .planned_diagnosis_prefixes
                .iter()
                .map(|s| s.trim().to_string())
                .collect(),
        },
        Params::OverlappingStay(x) => RuleParams::OverlappingStay {
            include_ltc: x.include_ltc,
        },
        Params::ServiceAfterDeath(_) => RuleParams::ServiceAfterDeath,
        Params::ServiceOutsideEnrolment(x) => RuleParams::ServiceOutsideEnrolment {
            grace_days: x.grace_days,
        },
        Params::OverPrescription(x) => RuleParams::OverPrescription {
            chronic: supply_in("params.over_prescription.chronic", x.chronic.as_ref())?,
            acute: supply_in("params.over_prescription.acute", x.acute.as_ref())?,
        },
        Params::OverFrequency(x) => RuleParams::OverFrequency {
            limits: x
                .limits
                .iter()
                .map(|l| FrequencyLimit {
                    item_code: l.item_code.trim().to_string(),
                    max_per_day: l.max_per_day,
                })
                .collect(),
        },
        Params::SexLimit(x) => RuleParams::SexLimit {
            restrictions: x
                .restrictions
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    Ok(SexRestriction {
                        item_code: r.item_code.trim().to_string(),
                        sex: sex_in(&format!("params.sex_limit.restrictions[{k}].sex"), r.sex)?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
        },
        Params::AgeLimit(x) => RuleParams::AgeLimit {
            restrictions: x
                .restrictions
                .iter()
                .map(|r| AgeRestriction {
                    item_code: r.item_code.trim().to_string(),
                    min_age: r.min_age,
                    max_age: r.max_age,
                })
                .collect(),
        },
        Params::LargeReceipt(x) => RuleParams::LargeReceipt {
            tiers: x
                .tiers
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    Ok(ReceiptTier {
                        above: Fen(t.above_fen),
                        verification: verification_kind_in(
                            &format!("params.large_receipt.tiers[{k}].verification"),
                            t.verification,
                        )?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
        },
        Params::ChronicDiagnosisChange(_) => RuleParams::ChronicDiagnosisChange,
        Params::IdentityCluster(x) => RuleParams::IdentityCluster {
            min_persons: x.min_persons,
            window_hours: x.window_hours,
        },
        Params::MarkUp(x) => RuleParams::MarkUp {
            tolerance: Bp(x.tolerance_bp),
        },
        Params::ConcurrentAdmission(_) => RuleParams::ConcurrentAdmission,
        Params::DailyFeesAboveLimit(x) => RuleParams::DailyFeesAboveLimit {
            above: Fen(x.above_fen),
        },
        Params::FeeOutsideStay(_) => RuleParams::FeeOutsideStay,
    };
    Ok(Some(out))
}

/// The severity of an update (`None` keeps it).
pub fn severity_update(n: i32) -> Result<Option<Severity>, ApiError> {
    severity_in("severity", n)
}

fn rule(r: &Rule) -> pb::Rule {
    pb::Rule {
        code: rule_code(r.code()),
        enabled: r.enabled,
        severity: severity(r.severity),
        params: Some(params(&r.params)),
    }
}

/// A proto rule set.
pub fn rule_set(set: &RuleSet, made: Option<&Audit>) -> pb::RuleSet {
    pb::RuleSet {
        region_code: set.region.to_string(),
        version: set.version,
        effective_from_date: set.effective_from.to_string(),
        retention_days: set.retention_days,
        rules: set.rules.iter().map(rule).collect(),
        updated: made.map(audit),
    }
}
