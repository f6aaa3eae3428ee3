//! Supervision's sanctions acted on by the registry (decision 0014): a blacklisting suspends
//! the institution, a lifting reinstates a suspension supervision made
//! (`domain::registry::sanctions` decides). The change is recorded like an operator's — the
//! status history, the journal's `status.changed` — under the audit of
//! [`SUPERVISION_ACTOR`] in role [`SUPERVISION_ROLE`], and the institution's cache entry is
//! deleted, so settlement's next look-up sees it.

use super::{AppError, Enrollment};
use crate::domain::registry::sanctions::{
    SUPERVISION_ACTOR, SUPERVISION_ROLE, Sanction, SanctionOutcome, sanction_outcome,
};
use crate::domain::registry::{StatusChange, check_status_change};
use yibao_core::InstitutionCode;
use yibao_runtime::Actor;

/// What applying a sanction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SanctionApplied {
    /// The status change was recorded.
    Recorded,
    /// Nothing to record (already applied, not supervision's suspension, terminated …).
    Unchanged(String),
    /// The code is not in the registry (or does not parse): nothing to act on.
    UnknownInstitution,
}

impl Enrollment {
    /// Applies one of supervision's sanctions to the institution `code` names.
    pub async fn apply_sanction(
        &self,
        code: &str,
        s: &Sanction<'_>,
    ) -> Result<SanctionApplied, AppError> {
        let Ok(code) = InstitutionCode::parse(code) else {
            return Ok(SanctionApplied::UnknownInstitution);
        };
        let Some(file) = self.store.institution_file(&code).await? else {
            return Ok(SanctionApplied::UnknownInstitution);
        };
        let (status, effective_on, reason) = match sanction_outcome(&file, s) {
            SanctionOutcome::Unchanged(why) => return Ok(SanctionApplied::Unchanged(why)),
            SanctionOutcome::Change {
                status,
                effective_on,
                reason,
            } => (status, effective_on, reason),
        };
        check_status_change(&file, status, effective_on, &reason)?;
        let actor = Actor {
            subject: SUPERVISION_ACTOR.into(),
            role: SUPERVISION_ROLE.into(),
        };
        let change = StatusChange {
            status,
            effective_on,
            reason,
            actor: actor.subject.clone(),
            role: actor.role.clone(),
            at: crate::store::codec::now(),
        };
        self.store
            .record_status_change(&code, &change, file.status_changes.len(), &actor)
            .await?;
        self.institutions.invalidate(code.as_str()).await;
        Ok(SanctionApplied::Recorded)
    }
}
