//! Cases (案件): opened from confirmed findings or from whistle-blower tips (举报线索), with the
//! funds recovered (追回基金) and, for tips, the reward owed to the whistle-blower (举报奖励, seed
//! 003): a rate of the recovered funds, at least a floor and at most a cap, as data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use yibao_core::{Bp, Fen, InstitutionCode, RegionCode};

use super::add;
use super::detector::Finding;

/// The reward rule of a region. Defaults follow the national 2022 reward rules as remembered
/// ([K]: a share of the verified amount, at least 200 and at most 200,000 yuan); the rate
/// itself is local.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardPolicy {
    /// Share of the recovered funds.
    pub rate: Bp,
    /// Minimum reward once anything is recovered.
    pub floor: Fen,
    /// Maximum reward per case.
    pub cap: Fen,
}

impl Default for RewardPolicy {
    fn default() -> Self {
        RewardPolicy {
            rate: Bp(500),
            floor: Fen::yuan(200),
            cap: Fen::yuan(200_000),
        }
    }
}

impl RewardPolicy {
    /// The reward for `recovered`: `recovered × rate` (half-up), raised to the floor and cut to
    /// the cap; zero when nothing was recovered.
    pub fn reward_for(&self, recovered: Fen) -> Fen {
        if recovered.0 <= 0 {
            return Fen::ZERO;
        }
        recovered.at_rate(self.rate).max(self.floor).min(self.cap)
    }
}

/// A whistle-blower's tip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tip {
    /// Tip id.
    pub tip_id: String,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// Opaque reference to the whistle-blower's contact, kept by the bureau; empty if anonymous
    /// (an anonymous tip earns no reward: nobody can claim it).
    pub whistleblower_ref: String,
    /// Institution reported, if any.
    pub institution: Option<InstitutionCode>,
    /// What was reported.
    pub description: String,
}

/// Where a case came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum CaseSource {
    /// Findings of the detector.
    Findings {
        /// Their ids.
        finding_ids: Vec<String>,
    },
    /// A tip.
    Tip(Tip),
}

/// Open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Under investigation.
    Open,
    /// Closed (结案).
    Closed,
}

/// Funds recovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// Amount.
    pub amount: Fen,
    /// Who recorded it.
    pub actor: String,
    /// The role they acted in (empty for recoveries stored before roles were recorded).
    #[serde(default)]
    pub role: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Note (e.g. bank receipt number).
    pub note: String,
}

/// A reward paid to the whistle-blower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardPayment {
    /// Amount.
    pub amount: Fen,
    /// Who paid.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Why a case operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// No findings were given.
    #[error("CASE_NO_FINDINGS: a case needs at least one finding")]
    NoFindings,
    /// Findings of several institutions were given.
    #[error("CASE_MIXED_INSTITUTIONS: findings concern {0} and {1}")]
    MixedInstitutions(InstitutionCode, InstitutionCode),
    /// The case is closed.
    #[error("CASE_CLOSED: case {0} is closed")]
    Closed(String),
    /// The amount is not positive.
    #[error("CASE_AMOUNT_NOT_POSITIVE: amount must be above 0")]
    AmountNotPositive,
    /// The reward paid would exceed the reward due.
    #[error("CASE_REWARD_ABOVE_DUE: {amount} exceeds the outstanding reward {outstanding}")]
    RewardAboveDue {
        /// Amount given.
        amount: Fen,
        /// Outstanding reward.
        outstanding: Fen,
    },
    /// The case earns no reward (not a tip, or an anonymous one).
    #[error("CASE_NO_REWARD: case {0} does not earn a reward")]
    NoReward(String),
}

/// A case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Case id.
    pub case_id: String,
    /// Region of the bureau handling it.
    pub region: RegionCode,
    /// Institution investigated, if known.
    pub institution: Option<InstitutionCode>,
    /// Origin.
    pub source: CaseSource,
    /// Amount suspected at opening (sum of the findings' amounts at risk).
    pub amount_suspected: Fen,
    /// Status.
    pub status: CaseStatus,
    /// Who opened it.
    pub opened_by: String,
    /// The role they acted in (empty for cases stored before roles were recorded).
    #[serde(default)]
    pub opened_by_role: String,
    /// When.
    pub opened_at: DateTime<Utc>,
    /// Funds recovered.
    pub recoveries: Vec<Recovery>,
    /// Rewards paid.
    pub reward_payments: Vec<RewardPayment>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
}

impl Case {
    /// Opens a case from findings of one institution.
    pub fn open_from_findings(
        case_id: &str,
        region: RegionCode,
        findings: &[Finding],
        (opened_by, role): (&str, &str),
        at: DateTime<Utc>,
    ) -> Result<Case, CaseError> {
        let first = findings.first().ok_or(CaseError::NoFindings)?;
        if let Some(other) = findings.iter().find(|f| f.institution != first.institution) {
            return Err(CaseError::MixedInstitutions(
                first.institution.clone(),
                other.institution.clone(),
            ));
        }
        Ok(Case {
            case_id: case_id.to_string(),
            region,
            institution: Some(first.institution.clone()),
            source: CaseSource::Findings {
                finding_ids: findings.iter().map(|f| f.finding_id.clone()).collect(),
            },
            amount_suspected: findings
                .iter()
                .fold(Fen::ZERO, |acc, f| add(acc, f.amount_at_risk)),
            status: CaseStatus::Open,
            opened_by: opened_by.to_string(),
            opened_by_role: role.to_string(),
            opened_at: at,
            recoveries: Vec::new(),
            reward_payments: Vec::new(),
            closed_at: None,
        })
    }

    /// Opens a case from a tip.
    pub fn open_from_tip(
        case_id: &str,
        region: RegionCode,
        tip: Tip,
        (opened_by, role): (&str, &str),
        at: DateTime<Utc>,
    ) -> Case {
        Case {
            case_id: case_id.to_string(),
            region,
            institution: tip.institution.clone(),
            source: CaseSource::Tip(tip),
            amount_suspected: Fen::ZERO,
            status: CaseStatus::Open,
            opened_by: opened_by.to_string(),
            opened_by_role: role.to_string(),
            opened_at: at,
            recoveries: Vec::new(),
            reward_payments: Vec::new(),
            closed_at: None,
        }
    }

    /// Records funds recovered; returns the total recovered.
    pub fn record_recovery(
        &mut self,
        amount: Fen,
        (actor, role): (&str, &str),
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<Fen, CaseError> {
        self.ensure_open()?;
        if amount.0 <= 0 {
            return Err(CaseError::AmountNotPositive);
        }
        self.recoveries.push(Recovery {
            amount,
            actor: actor.to_string(),
            role: role.to_string(),
            at,
            note: note.to_string(),
        });
        Ok(self.recovered())
    }

    /// Total recovered.
    pub fn recovered(&self) -> Fen {
        self.recoveries
            .iter()
            .fold(Fen::ZERO, |acc, r| add(acc, r.amount))
    }

    /// True for a case from a tip with a whistle-blower to reward.
    pub fn earns_reward(&self) -> bool {
        matches!(&self.source, CaseSource::Tip(t) if !t.whistleblower_ref.trim().is_empty())
    }

    /// Reward due under `policy` for what has been recovered so far.
    pub fn reward_due(&self, policy: &RewardPolicy) -> Fen {
        if self.earns_reward() {
            policy.reward_for(self.recovered())
        } else {
            Fen::ZERO
        }
    }

    /// Total reward paid.
    pub fn reward_paid(&self) -> Fen {
        self.reward_payments
            .iter()
            .fold(Fen::ZERO, |acc, r| add(acc, r.amount))
    }

    /// Reward due and not yet paid.
    pub fn reward_outstanding(&self, policy: &RewardPolicy) -> Fen {
        self.reward_due(policy)
            .saturating_sub_floor0(self.reward_paid())
    }

    /// Records a reward payment, at most the outstanding reward. Allowed on a closed case: the
    /// reward is usually paid after closing.
    pub fn pay_reward(
        &mut self,
        amount: Fen,
        policy: &RewardPolicy,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Fen, CaseError> {
        if !self.earns_reward() {
            return Err(CaseError::NoReward(self.case_id.clone()));
        }
        if amount.0 <= 0 {
            return Err(CaseError::AmountNotPositive);
        }
        let outstanding = self.reward_outstanding(policy);
        if amount > outstanding {
            return Err(CaseError::RewardAboveDue {
                amount,
                outstanding,
            });
        }
        self.reward_payments.push(RewardPayment {
            amount,
            actor: actor.to_string(),
            at,
        });
        Ok(self.reward_outstanding(policy))
    }

    /// Closes the case (结案).
    pub fn close(&mut self, at: DateTime<Utc>) -> Result<(), CaseError> {
        self.ensure_open()?;
        self.status = CaseStatus::Closed;
        self.closed_at = Some(at);
        Ok(())
    }

    fn ensure_open(&self) -> Result<(), CaseError> {
        if self.status == CaseStatus::Closed {
            Err(CaseError::Closed(self.case_id.clone()))
        } else {
            Ok(())
        }
    }
}
