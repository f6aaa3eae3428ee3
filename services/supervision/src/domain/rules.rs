//! The rule library (规则库) as data: which rules run in a region, their parameters
//! (thresholds, windows, code lists), severity and an on/off switch, under a version that
//! every finding carries. DOMAIN §6.2–6.3 give the categories; the numbers are local and live
//! here, never in the detector. [`RuleSet::default_for`] is the default policy bundle: values
//! tagged [S]/[K] in DOMAIN are configurable defaults, item codes marked [I] are illustrative.
//!
//! A change ([`RuleSet::update`]) never edits a rule set in place: it returns the next version.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use yibao_core::{Bp, Fen, RegionCode, Sex};

/// Stable code of a rule, the key of findings, switches and backfills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RuleCode {
    /// 分解住院: readmission to the same institution within N days for a related diagnosis.
    SplitHospitalisation,
    /// 挂床住院 / cross-institution overlap: overlapping stays, or care billed elsewhere (outpatient,
    /// pharmacy, long-term care) during an inpatient stay.
    OverlappingStay,
    /// Care billed after the person's death.
    ServiceAfterDeath,
    /// Care billed after the enrolment ended.
    ServiceOutsideEnrolment,
    /// 超量开药: days of supply of one drug in a window above the limit.
    OverPrescription,
    /// 超频次 / 重复收费: an item billed more often than its per-day limit.
    OverFrequency,
    /// 超性别对象: an item restricted to the other sex.
    SexLimit,
    /// 超年龄对象 / 限儿童: an item restricted to another age band.
    AgeLimit,
    /// 大额票据: a receipt above a verification tier (check record; phone or on-site check).
    LargeReceipt,
    /// A person's chronic-disease (门诊慢特病) diagnosis changed: the change must be explained.
    ChronicDiagnosisChange,
    /// 冒用身份: many people's identities used at one institution far from their homes in a short window.
    IdentityCluster,
    /// 加价销售: sale above purchase price (zero mark-up policy).
    MarkUp,
}

impl RuleCode {
    /// Every rule, in catalogue order.
    pub const ALL: [RuleCode; 12] = [
        RuleCode::SplitHospitalisation,
        RuleCode::OverlappingStay,
        RuleCode::ServiceAfterDeath,
        RuleCode::ServiceOutsideEnrolment,
        RuleCode::OverPrescription,
        RuleCode::OverFrequency,
        RuleCode::SexLimit,
        RuleCode::AgeLimit,
        RuleCode::LargeReceipt,
        RuleCode::ChronicDiagnosisChange,
        RuleCode::IdentityCluster,
        RuleCode::MarkUp,
    ];

    /// The stable text code, e.g. `SPLIT_HOSPITALISATION`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleCode::SplitHospitalisation => "SPLIT_HOSPITALISATION",
            RuleCode::OverlappingStay => "OVERLAPPING_STAY",
            RuleCode::ServiceAfterDeath => "SERVICE_AFTER_DEATH",
            RuleCode::ServiceOutsideEnrolment => "SERVICE_OUTSIDE_ENROLMENT",
            RuleCode::OverPrescription => "OVER_PRESCRIPTION",
            RuleCode::OverFrequency => "OVER_FREQUENCY",
            RuleCode::SexLimit => "SEX_LIMIT",
            RuleCode::AgeLimit => "AGE_LIMIT",
            RuleCode::LargeReceipt => "LARGE_RECEIPT",
            RuleCode::ChronicDiagnosisChange => "CHRONIC_DIAGNOSIS_CHANGE",
            RuleCode::IdentityCluster => "IDENTITY_CLUSTER",
            RuleCode::MarkUp => "MARK_UP",
        }
    }

    /// Parses a text code.
    pub fn parse(s: &str) -> Result<RuleCode, RuleError> {
        RuleCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| RuleError::UnknownRule(s.to_string()))
    }
}

impl fmt::Display for RuleCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a finding is (判断等级). Drives credit deductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Needs an explanation or a check; not presumed a violation.
    Low,
    /// Probable non-compliant charge.
    Medium,
    /// Probable fraud (欺诈骗保).
    High,
}

/// What a large receipt requires of the local insurance officer (医保专管员), seed 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationKind {
    /// 核实记录: a check record must be filed.
    CheckRecord,
    /// 电话或实地查验: verification by phone or on site.
    PhoneOrOnSite,
}

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
        }
    }

    fn validate(&self) -> Result<(), RuleError> {
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
            RuleParams::OverlappingStay { .. }
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

/// One rule of a rule set: switch, severity and parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// On or off.
    pub enabled: bool,
    /// Severity of its findings.
    pub severity: Severity,
    /// Parameters; their variant names the rule.
    pub params: RuleParams,
}

impl Rule {
    /// The rule's code.
    pub fn code(&self) -> RuleCode {
        self.params.code()
    }
}

/// A change to one rule: any of switch, severity and parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleUpdate {
    /// The rule to change.
    pub code: RuleCode,
    /// New switch, if changed.
    pub enabled: Option<bool>,
    /// New severity, if changed.
    pub severity: Option<Severity>,
    /// New parameters, if changed; must be of the rule's variant.
    pub params: Option<RuleParams>,
}

/// Why a rule set or a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Unknown rule code.
    #[error("RULE_UNKNOWN: no rule {0}")]
    UnknownRule(String),
    /// Parameters of another rule were given.
    #[error("RULE_PARAMS_MISMATCH: parameters of {given} given for {code}")]
    ParamsMismatch {
        /// Rule being changed.
        code: RuleCode,
        /// Rule the parameters belong to.
        given: RuleCode,
    },
    /// A parameter is out of range.
    #[error("RULE_PARAMS_INVALID: {code}: {reason}")]
    InvalidParams {
        /// Rule concerned.
        code: RuleCode,
        /// What is wrong.
        reason: &'static str,
    },
    /// The same rule appears twice or a rule is missing.
    #[error("RULE_SET_INCOMPLETE: {0}")]
    Incomplete(RuleCode),
    /// The retention horizon is shorter than a window it must keep.
    #[error("RULE_RETENTION_TOO_SHORT: retention_days must cover every window ({needed} days)")]
    RetentionTooShort {
        /// Days needed.
        needed: u32,
    },
}

/// The rules of one region (统筹区) in one version. Every rule code appears exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    /// Region the set applies to.
    pub region: RegionCode,
    /// Version, incremented on each change; carried by every finding.
    pub version: u32,
    /// First day the version applies.
    pub effective_from: NaiveDate,
    /// How long per-person history is kept in memory, in days before the latest service date.
    pub retention_days: u32,
    /// The rules in catalogue order.
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// The default policy bundle, version 1: every rule on.
    pub fn default_for(region: RegionCode, effective_from: NaiveDate) -> RuleSet {
        let rule = |severity, params| Rule {
            enabled: true,
            severity,
            params,
        };
        RuleSet {
            region,
            version: 1,
            effective_from,
            retention_days: 180,
            rules: vec![
                rule(
                    Severity::Medium,
                    RuleParams::SplitHospitalisation {
                        window_days: 15,
                        // Z51.0 radiotherapy, Z51.1 chemotherapy, Z51.2 other chemotherapy sessions.
                        planned_diagnosis_prefixes: vec![
                            "Z51.0".into(),
                            "Z51.1".into(),
                            "Z51.2".into(),
                        ],
                    },
                ),
                rule(
                    Severity::High,
                    RuleParams::OverlappingStay { include_ltc: true },
                ),
                rule(Severity::High, RuleParams::ServiceAfterDeath),
                rule(
                    Severity::Medium,
                    RuleParams::ServiceOutsideEnrolment { grace_days: 0 },
                ),
                rule(
                    Severity::Medium,
                    RuleParams::OverPrescription {
                        chronic: SupplyLimit {
                            window_days: 90,
                            max_days_supply: 90,
                            tolerance_days: 0,
                        },
                        acute: SupplyLimit {
                            window_days: 7,
                            max_days_supply: 7,
                            tolerance_days: 0,
                        },
                    },
                ),
                rule(
                    Severity::Medium,
                    RuleParams::OverFrequency {
                        // [I] illustrative 15-digit service-item codes: inpatient consultation
                        // (住院诊查费), grade-I nursing (Ⅰ级护理), ward bed (普通病房床位费): 1/day.
                        limits: vec![
                            FrequencyLimit {
                                item_code: "001102000010000".into(),
                                max_per_day: 1,
                            },
                            FrequencyLimit {
                                item_code: "001202000010000".into(),
                                max_per_day: 1,
                            },
                            FrequencyLimit {
                                item_code: "001101000010000".into(),
                                max_per_day: 1,
                            },
                        ],
                    },
                ),
                rule(
                    Severity::Medium,
                    RuleParams::SexLimit {
                        // DOMAIN §6.2 batch 1: 输精管造影 → male, 阿帕他胺片 → male; [I] 子宫造影 → female.
                        restrictions: vec![
                            SexRestriction {
                                item_code: "002101030290000".into(),
                                sex: Sex::Male,
                            },
                            SexRestriction {
                                item_code: "XL02BBA326A001010102180".into(),
                                sex: Sex::Male,
                            },
                            SexRestriction {
                                item_code: "002101040100000".into(),
                                sex: Sex::Female,
                            },
                        ],
                    },
                ),
                rule(
                    Severity::Medium,
                    RuleParams::AgeLimit {
                        // DOMAIN §6.2 batch 1: 儿童龋齿预防保健 for children; cut-off is local [?], 17 here.
                        restrictions: vec![AgeRestriction {
                            item_code: "001302000010000".into(),
                            min_age: None,
                            max_age: Some(17),
                        }],
                    },
                ),
                rule(
                    Severity::Low,
                    RuleParams::LargeReceipt {
                        tiers: vec![
                            ReceiptTier {
                                above: Fen::yuan(10_000),
                                verification: VerificationKind::CheckRecord,
                            },
                            ReceiptTier {
                                above: Fen::yuan(50_000),
                                verification: VerificationKind::PhoneOrOnSite,
                            },
                        ],
                    },
                ),
                rule(Severity::Low, RuleParams::ChronicDiagnosisChange),
                rule(
                    Severity::High,
                    RuleParams::IdentityCluster {
                        min_persons: 5,
                        window_hours: 48,
                    },
                ),
                rule(
                    Severity::Medium,
                    RuleParams::MarkUp {
                        tolerance: Bp::ZERO,
                    },
                ),
            ],
        }
    }

    /// Checks that every rule appears once with valid parameters and that the retention horizon
    /// covers every day window.
    pub fn validate(&self) -> Result<(), RuleError> {
        for code in RuleCode::ALL {
            if self.rules.iter().filter(|r| r.code() == code).count() != 1 {
                return Err(RuleError::Incomplete(code));
            }
        }
        let mut needed = 0u32;
        for r in &self.rules {
            r.params.validate()?;
            match &r.params {
                RuleParams::SplitHospitalisation { window_days, .. } => {
                    needed = needed.max(*window_days)
                }
                RuleParams::OverPrescription { chronic, acute } => {
                    needed = needed.max(chronic.window_days).max(acute.window_days)
                }
                _ => {}
            }
        }
        if self.retention_days < needed {
            return Err(RuleError::RetentionTooShort { needed });
        }
        Ok(())
    }

    /// The rule of a code.
    pub fn rule(&self, code: RuleCode) -> Option<&Rule> {
        self.rules.iter().find(|r| r.code() == code)
    }

    /// The next version with one rule tuned or switched. The receiver is unchanged.
    pub fn update(&self, change: &RuleUpdate) -> Result<RuleSet, RuleError> {
        let mut next = self.clone();
        let rule = next
            .rules
            .iter_mut()
            .find(|r| r.code() == change.code)
            .ok_or_else(|| RuleError::UnknownRule(change.code.as_str().to_string()))?;
        if let Some(enabled) = change.enabled {
            rule.enabled = enabled;
        }
        if let Some(severity) = change.severity {
            rule.severity = severity;
        }
        if let Some(params) = &change.params {
            if params.code() != change.code {
                return Err(RuleError::ParamsMismatch {
                    code: change.code,
                    given: params.code(),
                });
            }
            rule.params = params.clone();
        }
        next.version = self.version.saturating_add(1);
        next.validate()?;
        Ok(next)
    }

    /// A copy with only `code` enabled (used by backfills).
    pub fn only(&self, code: RuleCode) -> RuleSet {
        let mut next = self.clone();
        for r in &mut next.rules {
            r.enabled = r.code() == code;
        }
        next
    }
}
