//! Credit scores of institutions and insurance physicians, restorations (信用修复), the
//! blacklist, and the settlement hold settlement asks about before it pays an institution
//! (credit and red budget warnings).
//!
//! An institution that goes onto the blacklist or leaves it gets a sanction
//! (`yibao.supervision.sanctions`) written to the runtime's outbox in the transaction of its
//! credit record ([`write_credit`]): enrollment's registry suspends or reinstates it from the
//! sanction's day, so settlement refuses its claims by the registry (decision 0014).

use super::{AppError, Supervision};
use crate::domain::{CreditRecord, CreditRegistry, Decision, Subject, sanction_of};
use crate::events::sanctions::sanction_event;
use crate::store::{Page, Store, StoreError};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use yibao_core::InstitutionCode;
use yibao_runtime::Caller;

/// A restoration of points after remediation.
#[derive(Debug, Clone)]
pub struct Restoration {
    /// Whose credit.
    pub subject: Subject,
    /// Points restored (1 to the policy's initial score).
    pub points: u32,
    /// The remediation's reference: a second restoration under it restores nothing more.
    pub reference: String,
    /// Why.
    pub reason: String,
}

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

/// Writes a credit record inside the caller's transaction and, when the change puts an
/// institution on the blacklist or takes it off (`was_blacklisted` is its standing before),
/// its sanction to the outbox in the same transaction, dated by `at`. Returns whether a
/// sanction was written (the caller wakes the relay after its commit).
pub(super) async fn write_credit(
    store: &Store,
    txn: &DatabaseTransaction,
    was_blacklisted: bool,
    record: &CreditRecord,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<bool, AppError> {
    store.put_credit(txn, record).await?;
    let (Some(sanction), Subject::Institution(code)) =
        (sanction_of(was_blacklisted, record), &record.subject)
    else {
        return Ok(false);
    };
    let event = sanction_event(code, sanction, at, record.score, reason);
    yibao_runtime::outbox::enqueue(txn, &[event])
        .await
        .map_err(StoreError::from)?;
    Ok(true)
}

impl Supervision {
    /// Restores points of a subject's credit (up to the initial score), idempotent by the
    /// restoration's reference; back at the blacklist threshold, an institution's lifting is
    /// written to the outbox in the same transaction. Returns the record after it, `None` when
    /// the subject never lost a point (nothing to restore, nothing written).
    pub async fn restore_credit(
        &self,
        caller: &Caller,
        r: Restoration,
    ) -> Result<Option<CreditRecord>, AppError> {
        let mut registry =
            CreditRegistry::new(self.credit_policy.clone()).map_err(AppError::corrupt)?;
        let txn = self.store.begin().await?;
        let Some(before) = self.store.credit_for_update(&txn, &r.subject).await? else {
            return Ok(None);
        };
        let was_blacklisted = before.blacklisted_since.is_some();
        registry.insert_record(before.clone());
        let at = Utc::now();
        let reason = format!(
            "{} (restoration {}, by {})",
            r.reason, r.reference, caller.subject
        );
        registry
            .restore_once(&r.subject, &r.reference, r.points, at, &reason)
            .map_err(AppError::corrupt)?;
        let Some(record) = registry.record(&r.subject).cloned() else {
            return Ok(None);
        };
        if record == before {
            // The reference was recorded before: a retry restores and writes nothing.
            return Ok(Some(record));
        }
        let why = format!(
            "credit score {} back at {} or above after restoration {}: {}",
            record.score, self.credit_policy.blacklist_below, r.reference, r.reason
        );
        let sanctioned =
            write_credit(&self.store, &txn, was_blacklisted, &record, at, &why).await?;
        txn.commit().await?;
        if sanctioned {
            self.kick_relay();
        }
        Ok(Some(record))
    }

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
