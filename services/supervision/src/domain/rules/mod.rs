//! The rule library (规则库) as data: which rules run in a region, their parameters
//! (thresholds, windows, code lists), severity and an on/off switch, under a version that
//! every finding carries. DOMAIN §6.2–6.3 give the categories; the numbers are local and live
//! here, never in the detector. [`RuleSet::default_for`] is the default policy bundle: values
//! tagged [S]/[K] in DOMAIN are configurable defaults, item codes marked [I] are illustrative.
//!
//! A change ([`RuleSet::update`]) never edits a rule set in place: it returns the next version.

mod defaults;
mod params;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use yibao_core::RegionCode;

pub use params::{
    AgeRestriction, FrequencyLimit, ReceiptTier, RuleParams, SexRestriction, SupplyLimit,
};

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
    /// 同一时间段多家住院: admitted while an inpatient stay of the same person at another
    /// institution is open and overlaps it (judged during the stay, on encounter events).
    ConcurrentAdmission,
    /// A stay's fees of one fee date above the daily limit (judged during the stay).
    DailyFeesAboveLimit,
    /// A stay's fee line dated before the admission or after the discharge (judged during the
    /// stay).
    FeeOutsideStay,
}

impl RuleCode {
    /// Every rule, in catalogue order.
    pub const ALL: [RuleCode; 15] = [
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
        RuleCode::ConcurrentAdmission,
        RuleCode::DailyFeesAboveLimit,
        RuleCode::FeeOutsideStay,
    ];

    /// The rules judged during a stay, on settlement's encounter events.
    pub const IN_STAY: [RuleCode; 3] = [
        RuleCode::ConcurrentAdmission,
        RuleCode::DailyFeesAboveLimit,
        RuleCode::FeeOutsideStay,
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
            RuleCode::ConcurrentAdmission => "CONCURRENT_ADMISSION",
            RuleCode::DailyFeesAboveLimit => "DAILY_FEES_ABOVE_LIMIT",
            RuleCode::FeeOutsideStay => "FEE_OUTSIDE_STAY",
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

    /// The set with every rule of the catalogue: a version stored before a rule joined the
    /// catalogue (the in-stay rules) gets that rule as the default bundle has it, in the same
    /// version, so the set validates and the new rule runs until an operator tunes it.
    pub fn completed(mut self) -> RuleSet {
        let defaults = RuleSet::default_for(self.region.clone(), self.effective_from);
        for d in defaults.rules {
            if self.rule(d.code()).is_none() {
                self.rules.push(d);
            }
        }
        self
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
