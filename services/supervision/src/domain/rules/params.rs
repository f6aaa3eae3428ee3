//! Parameters of the rules (thresholds, windows, code lists) and their range checks.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use yibao_core::{Bp, Fen, Sex};

use super::{RuleCode, RuleError, VerificationKind};

/// A verification tier: receipts whose total is strictly above `above` need `verification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptTier {
    /// Threshold (exclusive).
    pub above: Fen,
    /// Required verification.
    pub verification: VerificationKind,
}

/// A days-of-supply limit: at most `max_days_supply` (+ `tolerance_days`) of one drug dispensed
/// within any `window_days` days ending on a dispensing date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplyLimit {
    /// Window length in days.
    pub window_days: u32,
    /// Days of supply allowed in the window.
    pub max_days_supply: u32,
    /// Early-refill tolerance in days.
    pub tolerance_days: u32,
}

/// A per-day frequency limit of an item (限定频次, NHSA batch 8-1: e.g. 住院诊查费 1/日).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrequencyLimit {
    /// Item code.
    pub item_code: String,
    /// Units allowed per day (per night of an inpatient stay).
    pub max_per_day: u32,
}

/// An item restricted to one sex (限定性别, NHSA batch 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SexRestriction {
    /// Item code.
    pub item_code: String,
    /// The only sex the item may be billed for.
    pub sex: Sex,
}

/// An item restricted to an age band (限定年龄, NHSA batch 1 and 8-2), ages in whole years.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeRestriction {
    /// Item code.
    pub item_code: String,
    /// Minimum age (inclusive), if any.
    pub min_age: Option<u32>,
    /// Maximum age (inclusive), if any.
    pub max_age: Option<u32>,
}

/// Parameters of a rule; the variant must match the rule code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RuleParams {
    /// Split hospitalisation.
    SplitHospitalisation {
        /// Readmission window after discharge, days (DOMAIN §6.3: 15 [S]).
        window_days: u32,
        /// Diagnosis code prefixes of planned readmissions (放化疗, 分期手术) that are exempt.
        planned_diagnosis_prefixes: Vec<String>,
    },
    /// Overlapping stays and care elsewhere during a stay.
    OverlappingStay {
        /// Also compare long-term-care days with inpatient stays.
        include_ltc: bool,
    },
    /// Care after death: no parameters.
    ServiceAfterDeath,
    /// Care after enrolment ended.
    ServiceOutsideEnrolment {
        /// Days after the end of enrolment still tolerated (e.g. a stay begun while enrolled).
        grace_days: u32,
    },
    /// Over-prescription.
    OverPrescription {
        /// Limit of chronic-disease prescriptions (DOMAIN §2.3: up to 90 days).
        chronic: SupplyLimit,
        /// Limit of ordinary (acute) prescriptions (DOMAIN §6.3: 7 days).
        acute: SupplyLimit,
    },
    /// Over-frequency and repeated charges.
    OverFrequency {
        /// Items with a per-day limit.
        limits: Vec<FrequencyLimit>,
    },
    /// Sex-restricted items.
    SexLimit {
        /// The restricted items.
        restrictions: Vec<SexRestriction>,
    },
    /// Age-restricted items.
    AgeLimit {
        /// The restricted items.
        restrictions: Vec<AgeRestriction>,
    },
    /// Large receipts.
    LargeReceipt {
        /// Verification tiers (seed 000: > 10,000 yuan check record, > 50,000 phone or on site).
        tiers: Vec<ReceiptTier>,
    },
    /// Chronic-disease diagnosis change: no parameters.
    ChronicDiagnosisChange,
    /// Clustered use of identities far from home.
    IdentityCluster {
        /// Distinct persons from one home region at one institution that make a cluster.
        min_persons: u32,
        /// Window in hours.
        window_hours: u32,
    },
    /// Mark-up.
    MarkUp {
        /// Sale price tolerated above purchase price (0 under the zero mark-up policy).
        tolerance: Bp,
    },
    /// Concurrent admissions: no parameters.
    ConcurrentAdmission,
    /// A stay's daily fees.
    DailyFeesAboveLimit {
        /// Fees of one fee date of one stay strictly above this raise a finding (default
        /// 50,000.00 yuan).
        above: Fen,
    },
    /// Fee lines dated outside the stay: no parameters.
    FeeOutsideStay,
}

impl RuleParams {
    /// The rule these parameters belong to.
    pub fn code(&self) -> RuleCode {
        match self {
            RuleParams::SplitHospitalisation { .. } => RuleCode::SplitHospitalisation,
            RuleParams::OverlappingStay { .. } => RuleCode::OverlappingStay,
            RuleParams::ServiceAfterDeath => RuleCode::ServiceAfterDeath,
            RuleParams::ServiceOutsideEnrolment { .. } => RuleCode::ServiceOutsideEnrolment,
            RuleParams::OverPrescription { .. } => RuleCode::OverPrescription,
            RuleParams::OverFrequency { .. } => RuleCode::OverFrequency,
            RuleParams::SexLimit { .. } => RuleCode::SexLimit,
            RuleParams::AgeLimit { .. } => RuleCode::AgeLimit,
            RuleParams::LargeReceipt { .. } => RuleCode::LargeReceipt,
            RuleParams::ChronicDiagnosisChange => RuleCode::ChronicDiagnosisChange,
            RuleParams::IdentityCluster { .. } => RuleCode::IdentityCluster,
            RuleParams::MarkUp { .. } => RuleCode::MarkUp,
            RuleParams::ConcurrentAdmission => RuleCode::ConcurrentAdmission,
            RuleParams::DailyFeesAboveLimit { .. } => RuleCode::DailyFeesAboveLimit,
            RuleParams::FeeOutsideStay => RuleCode::FeeOutsideStay,
        }
    }

    pub(super) fn validate(&self) -> Result<(), RuleError> {
        let code = self.code();
        let bad = |reason: &'static str| Err(RuleError::InvalidParams { code, reason });
        match self {
            RuleParams::SplitHospitalisation {
                window_days,
                planned_diagnosis_prefixes,
            } => {
                if *window_days == 0 {
                    return bad("window_days must be at least 1");
                }
                if planned_diagnosis_prefixes
                    .iter()
                    .any(|p| p.trim().is_empty())
                {
                    return bad("planned_diagnosis_prefixes must not contain empty prefixes");
                }
            }
            RuleParams::OverPrescription { chronic, acute } => {
                for l in [chronic, acute] {
                    if l.window_days == 0 || l.max_days_supply == 0 {
                        return bad("window_days and max_days_supply must be at least 1");
                    }
                }
            }
            RuleParams::OverFrequency { limits } => {
                if limits
                    .iter()
                    .any(|l| l.max_per_day == 0 || l.item_code.is_empty())
                {
                    return bad("each limit needs an item code and max_per_day of at least 1");
                }
                if !unique(limits.iter().map(|l| l.item_code.as_str())) {
                    return bad("an item code appears twice");
                }
            }
            RuleParams::SexLimit { restrictions } => {
                if !unique(restrictions.iter().map(|r| r.item_code.as_str())) {
                    return bad("an item code appears twice");
                }
            }
            RuleParams::AgeLimit { restrictions } => {
                if restrictions.iter().any(|r| {
                    (r.min_age.is_none() && r.max_age.is_none())
                        || matches!((r.min_age, r.max_age), (Some(lo), Some(hi)) if lo > hi)
                }) {
                    return bad("each restriction needs min_age ≤ max_age, at least one of them");
                }
                if !unique(restrictions.iter().map(|r| r.item_code.as_str())) {
                    return bad("an item code appears twice");
                }
            }
            RuleParams::LargeReceipt { tiers } => {
                if tiers.is_empty() || tiers.iter().any(|t| t.above.is_negative()) {
                    return bad("at least one tier with a non-negative threshold");
                }
                if tiers.windows(2).any(|w| w[0].above >= w[1].above) {
                    return bad("tiers must be in strictly ascending order of threshold");
                }
            }
            RuleParams::IdentityCluster {
                min_persons,
                window_hours,
            } => {
                if *min_persons < 2 || *window_hours == 0 {
                    return bad("min_persons must be at least 2 and window_hours at least 1");
                }
            }
            RuleParams::DailyFeesAboveLimit { above } => {
                if above.0 <= 0 {
                    return bad("above must be a positive amount");
                }
            }
            RuleParams::OverlappingStay { .. }
            | RuleParams::ConcurrentAdmission
            | RuleParams::FeeOutsideStay
            | RuleParams::ServiceAfterDeath
            | RuleParams::ServiceOutsideEnrolment { .. }
            | RuleParams::ChronicDiagnosisChange
            | RuleParams::MarkUp { .. } => {}
        }
        Ok(())
    }
}

fn unique<'a>(codes: impl Iterator<Item = &'a str>) -> bool {
    let mut seen = BTreeSet::new();
    codes.into_iter().all(|c| seen.insert(c))
}
