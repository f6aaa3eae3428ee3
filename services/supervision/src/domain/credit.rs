//! Credit (信用) of institutions and insurance physicians (医保医师库, seed 003): a score that
//! starts full, loses points per confirmed violation by severity, and puts the subject on the
//! blacklist (黑名单, "一处违法，处处受限") below a threshold. Settlement asks
//! [`CreditRegistry::may_settle`] before paying an institution.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use yibao_core::InstitutionCode;

use super::rules::Severity;

/// An insurance physician code (医保医师代码, DOMAIN §7.5): `D` + 6-digit region + 6-digit
/// sequence, 13 characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhysicianCode(String);

impl PhysicianCode {
    /// Parses a 13-character code.
    pub fn parse(s: &str) -> Result<PhysicianCode, CreditError> {
        let s = s.trim();
        let ok =
            s.len() == 13 && s.starts_with('D') && s.bytes().skip(1).all(|b| b.is_ascii_digit());
        if ok {
            Ok(PhysicianCode(s.to_string()))
        } else {
            Err(CreditError::PhysicianCode)
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhysicianCode {
    type Error = CreditError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PhysicianCode::parse(&s)
    }
}

impl From<PhysicianCode> for String {
    fn from(c: PhysicianCode) -> String {
        c.0
    }
}

impl fmt::Debug for PhysicianCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysicianCode({})", self.0)
    }
}

impl fmt::Display for PhysicianCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whose credit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum Subject {
    /// A designated institution or pharmacy.
    Institution(InstitutionCode),
    /// An insurance physician.
    Physician(PhysicianCode),
}

/// Why a credit operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditError {
    /// Bad physician code.
    #[error("CREDIT_PHYSICIAN_CODE_INVALID: must be D followed by 12 digits")]
    PhysicianCode,
    /// Inconsistent policy.
    #[error("CREDIT_POLICY_INVALID: {0}")]
    Policy(&'static str),
    /// Restoring points needs a positive number.
    #[error("CREDIT_POINTS_NOT_POSITIVE: points must be above 0")]
    PointsNotPositive,
}

/// The credit rule of a region, as data. Defaults are illustrative [I]: 100 points, 2/5/10
/// points per low/medium/high violation, payments held below 80, blacklist below 60.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditPolicy {
    /// Starting score.
    pub initial: u32,
    /// Points per confirmed violation of low severity.
    pub low: u32,
    /// Points per confirmed violation of medium severity.
    pub medium: u32,
    /// Points per confirmed violation of high severity.
    pub high: u32,
    /// Below this score, payments are held for review (暂缓结算).
    pub hold_below: u32,
    /// Below this score, the subject is blacklisted and settlement refused.
    pub blacklist_below: u32,
}

impl Default for CreditPolicy {
    fn default() -> Self {
        CreditPolicy {
            initial: 100,
            low: 2,
            medium: 5,
            high: 10,
            hold_below: 80,
            blacklist_below: 60,
        }
    }
}

impl CreditPolicy {
    /// Checks `blacklist_below ≤ hold_below ≤ initial`.
    pub fn validate(&self) -> Result<(), CreditError> {
        if self.blacklist_below > self.hold_below || self.hold_below > self.initial {
            return Err(CreditError::Policy(
                "blacklist_below ≤ hold_below ≤ initial is required",
            ));
        }
        Ok(())
    }

    /// Points for a violation of `severity`.
    pub fn points(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
        }
    }
}

/// One deduction (or restoration, with negative points).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deduction {
    /// Confirmed finding or case id; a second deduction for the same id is ignored.
    pub violation_id: String,
    /// Severity of the violation (`None` for a restoration).
    pub severity: Option<Severity>,
    /// Points deducted (negative: restored).
    pub points: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// The credit of one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditRecord {
    /// Whose.
    pub subject: Subject,
    /// Current score (never below 0).
    pub score: u32,
    /// History.
    pub deductions: Vec<Deduction>,
    /// Since when blacklisted, if blacklisted.
    pub blacklisted_since: Option<DateTime<Utc>>,
}

/// What a credit change does to an institution's standing on the blacklist, as enrollment's
/// registry acts on it (published on `yibao.supervision.sanctions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sanction {
    /// The institution went onto the blacklist.
    Blacklisted,
    /// The institution left the blacklist.
    Lifted,
}

/// The sanction a change of a credit record makes, given whether the subject was blacklisted
/// before it: `Blacklisted` when it went onto the blacklist, `Lifted` when it left, nothing
/// when its standing did not change or the subject is a physician (physicians are not in the
/// institution registry; their blacklisting stays supervision's).
pub fn sanction_of(was_blacklisted: bool, after: &CreditRecord) -> Option<Sanction> {
    if !matches!(after.subject, Subject::Institution(_)) {
        return None;
    }
    match (was_blacklisted, after.blacklisted_since.is_some()) {
        (false, true) => Some(Sanction::Blacklisted),
        (true, false) => Some(Sanction::Lifted),
        _ => None,
    }
}

/// May this institution be paid?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Pay.
    Settle,
    /// Hold the payment for review.
    Hold {
        /// Current score.
        score: u32,
        /// Why.
        reason: String,
    },
    /// Refuse: blacklisted.
    Refuse {
        /// Current score.
        score: u32,
        /// Why.
        reason: String,
    },
}

/// Credit records of a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditRegistry {
    policy: CreditPolicy,
    records: HashMap<Subject, CreditRecord>,
}

impl CreditRegistry {
    /// An empty registry under `policy`.
    pub fn new(policy: CreditPolicy) -> Result<CreditRegistry, CreditError> {
        policy.validate()?;
        Ok(CreditRegistry {
            policy,
            records: HashMap::new(),
        })
    }

    /// Puts back a stored record (the store keeps one record per subject).
    pub fn insert_record(&mut self, record: CreditRecord) {
        self.records.insert(record.subject.clone(), record);
    }

    /// The policy.
    pub fn policy(&self) -> &CreditPolicy {
        &self.policy
    }

    /// Score of a subject (the initial score if never deducted).
    pub fn score(&self, subject: &Subject) -> u32 {
        self.records
            .get(subject)
            .map_or(self.policy.initial, |r| r.score)
    }

    /// The record of a subject, if any deduction was ever made.
    pub fn record(&self, subject: &Subject) -> Option<&CreditRecord> {
        self.records.get(subject)
    }

    /// Deducts the points of a confirmed violation. Idempotent by `violation_id` per subject.
    /// Blacklists when the score falls below the threshold.
    pub fn deduct(
        &mut self,
        subject: &Subject,
        violation_id: &str,
        severity: Severity,
        at: DateTime<Utc>,
        reason: &str,
    ) -> &CreditRecord {
        let initial = self.policy.initial;
        let points = self.policy.points(severity);
        let blacklist_below = self.policy.blacklist_below;
        let record = self
            .records
            .entry(subject.clone())
            .or_insert_with(|| CreditRecord {
                subject: subject.clone(),
                score: initial,
                deductions: Vec::new(),
                blacklisted_since: None,
            });
        if !record
            .deductions
            .iter()
            .any(|d| d.violation_id == violation_id)
        {
            record.score = record.score.saturating_sub(points);
            record.deductions.push(Deduction {
                violation_id: violation_id.to_string(),
                severity: Some(severity),
                points: i64::from(points),
                at,
                reason: reason.to_string(),
            });
            if record.score < blacklist_below && record.blacklisted_since.is_none() {
                record.blacklisted_since = Some(at);
            }
        }
        record
    }

    /// Restores points after remediation (信用修复), up to the initial score; lifts the blacklist
    /// once the score is back at or above the threshold.
    pub fn restore(
        &mut self,
        subject: &Subject,
        points: u32,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<u32, CreditError> {
        self.restore_with(subject, None, points, at, reason)
    }

    /// [`CreditRegistry::restore`] under the remediation's `reference`: the history records it
    /// as `restore:<reference>`, and a reference already recorded restores nothing more (a
    /// retried request).
    pub fn restore_once(
        &mut self,
        subject: &Subject,
        reference: &str,
        points: u32,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<u32, CreditError> {
        self.restore_with(subject, Some(reference), points, at, reason)
    }

    fn restore_with(
        &mut self,
        subject: &Subject,
        reference: Option<&str>,
        points: u32,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<u32, CreditError> {
        if points == 0 {
            return Err(CreditError::PointsNotPositive);
        }
        let initial = self.policy.initial;
        let blacklist_below = self.policy.blacklist_below;
        let Some(record) = self.records.get_mut(subject) else {
            return Ok(initial);
        };
        let violation_id = match reference {
            Some(r) => format!("restore:{r}"),
            None => format!("restore:{}", record.deductions.len() + 1),
        };
        if record
            .deductions
            .iter()
            .any(|d| d.violation_id == violation_id)
        {
            return Ok(record.score);
        }
        let before = record.score;
        record.score = record.score.saturating_add(points).min(initial);
        record.deductions.push(Deduction {
            violation_id,
            severity: None,
            points: -i64::from(record.score - before),
            at,
            reason: reason.to_string(),
        });
        if record.score >= blacklist_below {
            record.blacklisted_since = None;
        }
        Ok(record.score)
    }

    /// True when the subject is blacklisted.
    pub fn is_blacklisted(&self, subject: &Subject) -> bool {
        self.records
            .get(subject)
            .is_some_and(|r| r.blacklisted_since.is_some())
    }

    /// Blacklisted subjects, sorted.
    pub fn blacklist(&self) -> Vec<&CreditRecord> {
        let mut list: Vec<&CreditRecord> = self
            .records
            .values()
            .filter(|r| r.blacklisted_since.is_some())
            .collect();
        list.sort_by(|a, b| a.subject.cmp(&b.subject));
        list
    }

    /// The settlement gate of a subject.
    pub fn decision(&self, subject: &Subject) -> Decision {
        let score = self.score(subject);
        if self.is_blacklisted(subject) {
            Decision::Refuse {
                score,
                reason: format!(
                    "blacklisted (黑名单): score {score} below {}",
                    self.policy.blacklist_below
                ),
            }
        } else if score < self.policy.hold_below {
            Decision::Hold {
                score,
                reason: format!(
                    "credit score {score} below {}: payment held for review",
                    self.policy.hold_below
                ),
            }
        } else {
            Decision::Settle
        }
    }

    /// May settlement pay this institution?
    pub fn may_settle(&self, institution: &InstitutionCode) -> Decision {
        self.decision(&Subject::Institution(institution.clone()))
    }
}
