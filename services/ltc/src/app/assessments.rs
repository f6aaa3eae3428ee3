//! Assessments: an assessor submits their score sheet (when every assigned assessor's sheet is
//! in and they agree, the level is computed and the application becomes assessed), read one,
//! list an assessor's assignments or a region's assessments.

use super::tenancy::check_assessment;
use super::{AppError, Ltc, actor};
use crate::domain::DomainError;
use crate::domain::application::{Step, transition};
use crate::domain::assessment::{AssessmentResult, ScoreSheet, combine_sheets};
use crate::error;
use crate::store::assessments::{self, AssessmentRow};
use crate::store::{Tx, applications};
use std::collections::BTreeMap;
use yibao_runtime::page::Page;
use yibao_runtime::{Caller, Role};

impl Ltc {
    /// Stores the calling assessor's sheet (the contract lets only assessors call). When
    /// every assigned assessor's sheet is in they must agree: the level is computed and the
    /// application becomes assessed; when they disagree nothing is written and the items are
    /// named. Returns the assessment and whether this was a replay.
    pub async fn submit_score_sheet(
        &self,
        c: &Caller,
        assessment_id: &str,
        items: &BTreeMap<String, u32>,
        dementia: bool,
    ) -> Result<(AssessmentRow, bool), AppError> {
        let a = assessments::get(self.store.db(), assessment_id).await?;
        if !a.assessors.contains(&c.org) {
            return Err(AppError::NotAssigned(a.id));
        }
        let assessor = c.org.clone();
        let tx = self.store.begin().await?;
        let a = assessments::get(&*tx, &a.id).await?;
        if let Some(s) = a.sheets.iter().find(|s| s.assessor_code == assessor)
            && &s.items == items
            && s.dementia == dementia
        {
            return Ok((a, true));
        }
        if a.completed {
            return Err(DomainError::precondition(
                error::ASSESSMENT_COMPLETED.code,
                "the assessment is completed; sheets can no longer change",
            )
            .into());
        }
        assessments::put_sheet(&tx, &a.id, &assessor, items, dementia, &actor(c)).await?;
        let a = assessments::get(&*tx, &a.id).await?;
        if a.assessors
            .iter()
            .all(|code| a.sheets.iter().any(|s| &s.assessor_code == code))
        {
            complete(&tx, &a, c).await?;
        }
        let a = assessments::get(&*tx, &a.id).await?;
        tx.commit().await?;
        Ok((a, false))
    }

    /// Reads an assessment the caller may see.
    pub async fn assessment(&self, c: &Caller, id: &str) -> Result<AssessmentRow, AppError> {
        let a = assessments::get(self.store.db(), id).await?;
        check_assessment(c, &a)?;
        Ok(a)
    }

    /// An assessor's assignments; for others, the assessments of their region (the page's rows
    /// and one more).
    pub async fn list_assignments(
        &self,
        c: &Caller,
        open_only: bool,
        page: &Page,
    ) -> Result<Vec<AssessmentRow>, AppError> {
        let db = self.store.db();
        Ok(if c.role == Role::Assessor {
            assessments::list(db, Some(&c.org), None, open_only, page).await
        } else {
            assessments::list(db, None, c.region.as_ref(), open_only, page).await
        }?)
    }
}

/// Combines the sheets (in assignment order, so the result reported is the first assessor's),
/// completes the assessment and moves its application to assessed with the level.
async fn complete(tx: &Tx, a: &AssessmentRow, c: &Caller) -> Result<(), AppError> {
    let mut sheets = Vec::new();
    for code in &a.assessors {
        if let Some(s) = a.sheets.iter().find(|s| &s.assessor_code == code) {
            sheets.push(ScoreSheet::parse("items", &s.items, s.dementia)?);
        }
    }
    let result = combine_sheets("items", &sheets)?;
    let app = applications::get(&**tx, &a.application_id).await?;
    let next = transition(app.status, &Step::Assess, app.appeals)?;
    assessments::complete(tx, &a.id, &result).await?;
    applications::move_status(tx, &app.id, app.status, next).await?;
    applications::set_level(tx, &app.id, result.level, result.dementia).await?;
    applications::add_step(tx, &app.id, next, &assessed_note(&result), &actor(c)).await?;
    Ok(())
}

fn assessed_note(r: &AssessmentResult) -> String {
    format!(
        "level {} (ADL {}, cognition {}, perception {}){}",
        r.level.number(),
        r.adl_score,
        r.cognition_score,
        r.perception_score,
        if r.dementia { ", 重度失智" } else { "" }
    )
}
