//! Verification tasks of large receipts (seed 000): listed per region, completed once.

use super::{AppError, Supervision, covers};
use crate::domain::{VerificationMethod, VerificationOutcome, VerificationTask};
use crate::store::Page;
use chrono::Utc;
use yibao_core::RegionCode;
use yibao_runtime::Caller;

impl Supervision {
    /// Tasks of a region (prefix), oldest first.
    pub async fn tasks(
        &self,
        region_prefix: &str,
        institution: Option<&str>,
        kind: Option<&str>,
        include_completed: bool,
        page: &Page,
    ) -> Result<Vec<VerificationTask>, AppError> {
        Ok(self
            .store
            .tasks(region_prefix, institution, kind, include_completed, page)
            .await?)
    }

    /// Completes a task of the caller's region.
    pub async fn complete_task(
        &self,
        caller: &Caller,
        id: &str,
        method: VerificationMethod,
        outcome: VerificationOutcome,
        note: &str,
    ) -> Result<VerificationTask, AppError> {
        let (mut task, region) = self
            .store
            .task(id)
            .await?
            .ok_or_else(|| AppError::TaskNotFound(id.to_string()))?;
        covers(
            caller,
            "region_code",
            &RegionCode::parse(&region).map_err(AppError::corrupt)?,
        )?;
        task.complete(method, outcome, &caller.subject, Utc::now(), note)?;
        self.store.complete_task(&task).await?;
        Ok(task)
    }
}
