//! Credit scores of institutions and insurance physicians, the blacklist, and the settlement
//! hold settlement asks about before it pays an institution (credit and red budget warnings).

use super::{AppError, Supervision};
use crate::domain::{CreditRecord, CreditRegistry, Decision, Subject};
use crate::store::Page;
use yibao_core::InstitutionCode;

/// What settlement is told to do with an institution's payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldDecision {
    /// Pay.
    Settle,
    /// Hold the payment.
    Hold,
    /// Refuse (blacklisted).
    Refuse,
}

/// The answer of a settlement-hold check.
#[derive(Debug, Clone)]
pub struct SettlementHold {
    /// The decision.
    pub decision: HoldDecision,
    /// The institution's credit score.
    pub credit_score: u32,
    /// A red budget warning holds this month's payment.
    pub budget_hold: bool,
    /// Why, one line per cause.
    pub reasons: Vec<String>,
}

impl Supervision {
    /// The credit record of a subject, if any deduction was made.
    pub async fn credit(&self, subject: &Subject) -> Result<Option<CreditRecord>, AppError> {
        Ok(self.store.credit(subject).await?)
    }

    /// Blacklisted subjects of a region (prefix), optionally of one kind.
    pub async fn blacklist(
        &self,
        region_prefix: &str,
        kind: Option<&'static str>,
        page: &Page,
    ) -> Result<Vec<CreditRecord>, AppError> {
        Ok(self.store.blacklist(region_prefix, kind, page).await?)
    }

    /// Whether an institution's payment of (year, month) may be made.
    pub async fn settlement_hold(
        &self,
        institution: &InstitutionCode,
        year: i32,
        month: u32,
    ) -> Result<SettlementHold, AppError> {
        let mut registry =
            CreditRegistry::new(self.credit_policy.clone()).map_err(AppError::corrupt)?;
        let subject = Subject::Institution(institution.clone());
        if let Some(rec) = self.store.credit(&subject).await? {
            registry.insert_record(rec);
        }
        let mut reasons = Vec::new();
        let mut decision = HoldDecision::Settle;
        match registry.may_settle(institution) {
            Decision::Settle => {}
            Decision::Hold { reason, .. } => {
                decision = HoldDecision::Hold;
                reasons.push(reason);
            }
            Decision::Refuse { reason, .. } => {
                decision = HoldDecision::Refuse;
                reasons.push(reason);
            }
        }
        let hold = self
            .store
            .hold_of(institution.as_str(), year, month)
            .await?;
        if let Some(w) = &hold {
            if decision == HoldDecision::Settle {
                decision = HoldDecision::Hold;
            }
            reasons.push(format!(
                "red budget warning of {}-{:02}: {} spent of {} budget ({} bp ahead of pace); this month's payment is held",
                w.status.year, w.status.month, w.status.spent_to_date, w.status.annual_budget, w.status.over_pace_bp
            ));
        }
        Ok(SettlementHold {
            decision,
            credit_score: registry.score(&subject),
            budget_hold: hold.is_some(),
            reasons,
        })
    }
}
