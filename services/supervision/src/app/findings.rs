//! Findings and their review workflow (seed 002): institution feedback → review → (third-party
//! review) → final decision by a second person; a confirmed violation deducts the credit of the
//! institution and of the insurance physician in the same transaction.

use super::{AppError, Supervision, covers};
use crate::domain::{
    Actor, CreditPolicy, CreditRecord, CreditRegistry, FeedbackKind, Finding, PhysicianCode,
    Review, ReviewError, ReviewOutcome, ReviewRole, ReviewState, Subject,
};
use crate::store::{FindingFilter, Page, Store, StoredFinding};
use chrono::Utc;
use sea_orm::DatabaseTransaction;
use yibao_runtime::{Caller, Role};

impl Supervision {
    /// Findings by filter, newest first.
    pub async fn findings(
        &self,
        filter: &FindingFilter,
        page: &Page,
    ) -> Result<Vec<(Finding, Review)>, AppError> {
        Ok(self.store.findings(filter, page).await?)
    }

    /// A finding the caller may see: an organisation-scoped caller only its own (also as named
    /// in `requested_institution`), a region-scoped caller only within its region.
    pub async fn visible_finding(
        &self,
        caller: &Caller,
        id: &str,
        requested_institution: &str,
    ) -> Result<StoredFinding, AppError> {
        let stored = self
            .store
            .finding(id)
            .await?
            .ok_or_else(|| AppError::FindingNotFound(id.to_string()))?;
        if caller.role.is_org_scoped() {
            caller.check_org("institution_code", requested_institution)?;
            caller.check_org("institution_code", stored.finding.institution.as_str())?;
        }
        covers(caller, "region_code", &stored.finding.region)?;
        Ok(stored)
    }

    /// The institution's answer to a finding.
    pub async fn submit_feedback(
        &self,
        caller: &Caller,
        id: &str,
        institution: &str,
        kind: FeedbackKind,
        note: String,
    ) -> Result<StoredFinding, AppError> {
        let stored = self.visible_finding(caller, id, institution).await?;
        let (finding, _) = self
            .step(
                caller,
                stored,
                false,
                |rv, a| rv.submit_feedback(a, kind).map(|_| ()),
                ReviewRole::Institution,
                note,
            )
            .await?;
        Ok(finding)
    }

    /// The reviewer's conclusion.
    pub async fn review(
        &self,
        caller: &Caller,
        id: &str,
        outcome: ReviewOutcome,
        note: String,
    ) -> Result<StoredFinding, AppError> {
        let stored = self.visible_finding(caller, id, "").await?;
        let (finding, _) = self
            .step(
                caller,
                stored,
                false,
                |rv, a| rv.review(a, outcome).map(|_| ()),
                ReviewRole::Reviewer,
                note,
            )
            .await?;
        Ok(finding)
    }

    /// An appeal to a third party, by the institution or the reviewer.
    pub async fn request_third_party(
        &self,
        caller: &Caller,
        id: &str,
        institution: &str,
        note: String,
    ) -> Result<StoredFinding, AppError> {
        let stored = self.visible_finding(caller, id, institution).await?;
        let role = if caller.role == Role::Hospital {
            ReviewRole::Institution
        } else {
            ReviewRole::Reviewer
        };
        let (finding, _) = self
            .step(
                caller,
                stored,
                false,
                |rv, a| rv.request_third_party(a).map(|_| ()),
                role,
                note,
            )
            .await?;
        Ok(finding)
    }

    /// The third party's conclusion, recorded by the caller.
    pub async fn record_third_party(
        &self,
        caller: &Caller,
        id: &str,
        third_party: &str,
        outcome: ReviewOutcome,
        note: &str,
    ) -> Result<StoredFinding, AppError> {
        let stored = self.visible_finding(caller, id, "").await?;
        let note = format!("{third_party}: {note} (recorded by {})", caller.subject);
        let (finding, _) = self
            .step(
                caller,
                stored,
                false,
                |rv, a| rv.third_party_review(a, outcome).map(|_| ()),
                ReviewRole::ThirdParty,
                note,
            )
            .await?;
        Ok(finding)
    }

    /// The final decision, by someone other than the reviewer (four eyes). Returns the
    /// finding and, when a violation is upheld, the institution's credit score after it.
    pub async fn decide(
        &self,
        caller: &Caller,
        id: &str,
        outcome: ReviewOutcome,
        note: String,
    ) -> Result<(StoredFinding, u32), AppError> {
        let stored = self.visible_finding(caller, id, "").await?;
        if stored
            .review
            .steps
            .iter()
            .any(|s| s.role == ReviewRole::Reviewer && s.actor == caller.subject)
        {
            return Err(AppError::SamePerson);
        }
        let (finding, score) = self
            .step(
                caller,
                stored,
                true,
                |rv, a| rv.decide(a, outcome).map(|_| ()),
                ReviewRole::FinalReviewer,
                note,
            )
            .await?;
        let score = if matches!(outcome, ReviewOutcome::Uphold { .. }) {
            score
        } else {
            0
        };
        Ok((finding, score))
    }

    /// Applies one step to a stored review and stores it; with `deduct` and a confirmation,
    /// deducts the credit of the institution and the physician in the same transaction.
    /// Returns the finding after the step and the first subject's score (0 without deduction).
    async fn step(
        &self,
        caller: &Caller,
        stored: StoredFinding,
        deduct: bool,
        apply: impl FnOnce(&mut Review, Actor) -> Result<(), ReviewError>,
        role: ReviewRole,
        note: String,
    ) -> Result<(StoredFinding, u32), AppError> {
        let mut review = stored.review.clone();
        let actor = Actor {
            actor: caller.subject.clone(),
            role,
            at: Utc::now(),
            note,
        };
        apply(&mut review, actor)?;
        let mut subjects = Vec::new();
        if deduct && matches!(review.state, ReviewState::Confirmed { .. }) {
            subjects.push(Subject::Institution(stored.finding.institution.clone()));
            if let Some(p) = stored
                .finding
                .physician
                .as_deref()
                .and_then(|p| PhysicianCode::parse(p).ok())
            {
                subjects.push(Subject::Physician(p));
            }
        }
        let txn = self.store.begin().await?;
        self.store
            .update_review(&txn, &stored, &review, caller.role.as_str())
            .await?;
        let mut records = Vec::new();
        let mut sanctioned = false;
        if let Some(last) = review.steps.last() {
            let reason = format!(
                "{} confirmed: {}",
                stored.finding.rule, stored.finding.finding_id
            );
            for subject in &subjects {
                let (record, sanction) = deduct_credit(
                    &self.store,
                    &txn,
                    subject,
                    &stored.finding,
                    last.at,
                    &reason,
                    &self.credit_policy,
                )
                .await?;
                records.push(record);
                sanctioned |= sanction;
            }
        }
        txn.commit().await?;
        if sanctioned {
            self.kick_relay();
        }
        let mut step_roles = stored.step_roles.clone();
        step_roles.push(caller.role.as_str().to_string());
        let score = records.first().map_or(0, |r| r.score);
        Ok((
            StoredFinding {
                finding: stored.finding,
                review,
                version: stored.version + 1,
                step_roles,
            },
            score,
        ))
    }
}

/// Deducts a subject's credit for a confirmed finding, inside the caller's transaction; an
/// institution the deduction puts on the blacklist gets its sanction in the outbox, in the
/// same transaction (`credit::write_credit`).
async fn deduct_credit(
    store: &Store,
    txn: &DatabaseTransaction,
    subject: &Subject,
    finding: &Finding,
    at: chrono::DateTime<Utc>,
    reason: &str,
    policy: &CreditPolicy,
) -> Result<(CreditRecord, bool), AppError> {
    let mut registry = CreditRegistry::new(policy.clone()).map_err(AppError::corrupt)?;
    let mut was_blacklisted = false;
    if let Some(existing) = store.credit_for_update(txn, subject).await? {
        was_blacklisted = existing.blacklisted_since.is_some();
        registry.insert_record(existing);
    }
    let record = registry
        .deduct(subject, &finding.finding_id, finding.severity, at, reason)
        .clone();
    let why = format!(
        "credit score {} below {} after {reason}",
        record.score, policy.blacklist_below
    );
    let sanctioned =
        super::credit::write_credit(store, txn, was_blacklisted, &record, at, &why).await?;
    Ok((record, sanctioned))
}
