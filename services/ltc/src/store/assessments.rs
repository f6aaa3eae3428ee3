//! Assessments, the assessors assigned to them and their score sheets.

use super::sql::{all, exec, i4, int32, one, opt_text, t, text};
use super::{StoreError, json, new_id, now, region_like, to_json};
use crate::domain::assessment::AssessmentResult;
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use std::collections::BTreeMap;
use yibao_core::RegionCode;
use yibao_runtime::Actor;
use yibao_runtime::page::Page;

/// One assessor's sheet as stored.
#[derive(Debug, Clone)]
pub struct SheetRow {
    /// Assessor code.
    pub assessor_code: String,
    /// Item scores.
    pub items: BTreeMap<String, u32>,
    /// 重度失智.
    pub dementia: bool,
    /// Subject.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
}

/// An assessment as stored.
#[derive(Debug, Clone)]
pub struct AssessmentRow {
    /// Id.
    pub id: String,
    /// Application.
    pub application_id: String,
    /// Insured region.
    pub region_code: String,
    /// Assessor codes.
    pub assessors: Vec<String>,
    /// Visit date.
    pub scheduled_on: String,
    /// True when the sheets are in and agree.
    pub completed: bool,
    /// Result when completed.
    pub result: Option<AssessmentResult>,
    /// Sheets.
    pub sheets: Vec<SheetRow>,
}

/// Reads an assessment with its sheets.
pub async fn get<C: ConnectionTrait>(c: &C, id: &str) -> Result<AssessmentRow, StoreError> {
    let r = one(c, "SELECT * FROM ltc_assessments WHERE id = ?", vec![t(id)])
        .await?
        .ok_or_else(|| StoreError::AssessmentNotFound(id.into()))?;
    let sheets = all(
        c,
        "SELECT * FROM ltc_score_sheets WHERE assessment_id = ? ORDER BY at, assessor_code",
        vec![t(id)],
    )
    .await?
    .iter()
    .map(|s| -> Result<SheetRow, StoreError> {
        Ok(SheetRow {
            assessor_code: text(s, "assessor_code")?,
            items: json(&text(s, "items_json")?)?,
            dementia: int32(s, "dementia")? != 0,
            actor: text(s, "actor")?,
            role: text(s, "role")?,
            at: text(s, "at")?,
        })
    })
    .collect::<Result<_, _>>()?;
    Ok(AssessmentRow {
        id: text(&r, "id")?,
        application_id: text(&r, "application_id")?,
        region_code: text(&r, "region_code")?,
        assessors: json(&text(&r, "assessors_json")?)?,
        scheduled_on: text(&r, "scheduled_on")?,
        completed: text(&r, "status")? == "completed",
        result: opt_text(&r, "result_json")?
            .as_deref()
            .map(json)
            .transpose()?,
        sheets,
    })
}

/// Inserts a scheduled assessment of an application with its assessors; returns its id.
pub async fn insert(
    txn: &DatabaseTransaction,
    application_id: &str,
    region_code: &str,
    assessors: &[String],
    scheduled_on: NaiveDate,
) -> Result<String, StoreError> {
    let id = new_id();
    exec(
        txn,
        "INSERT INTO ltc_assessments (id, application_id, region_code, assessors_json, scheduled_on, status, result_json, created_at) VALUES (?, ?, ?, ?, ?, 'scheduled', NULL, ?)",
        vec![t(id.clone()), t(application_id), t(region_code), t(to_json(&assessors)?), t(scheduled_on.to_string()), t(now())],
    )
    .await?;
    for a in assessors {
        exec(
            txn,
            "INSERT INTO ltc_assessment_assignees (assessment_id, assessor_code) VALUES (?, ?)",
            vec![t(id.clone()), t(a.clone())],
        )
        .await?;
    }
    Ok(id)
}

/// Assessments assigned to an assessor, or within a region (newest first): the page's rows
/// after its key (the id) and one more.
pub async fn list<C: ConnectionTrait>(
    c: &C,
    assessor: Option<&str>,
    region: Option<&RegionCode>,
    open_only: bool,
    page: &Page,
) -> Result<Vec<AssessmentRow>, StoreError> {
    let mut sql = String::from("SELECT a.id FROM ltc_assessments a WHERE 1 = 1");
    let mut v = Vec::new();
    if let Some(code) = assessor {
        sql.push_str(" AND a.id IN (SELECT assessment_id FROM ltc_assessment_assignees WHERE assessor_code = ?)");
        v.push(t(code));
    }
    if let Some(r) = region {
        sql.push_str(" AND a.region_code LIKE ?");
        v.push(t(region_like(r)));
    }
    if open_only {
        sql.push_str(" AND a.status = 'scheduled'");
    }
    if !page.is_first() {
        sql.push_str(" AND a.id < ?");
        v.push(t(page.after_key(0)));
    }
    sql.push_str(&format!(" ORDER BY a.id DESC LIMIT {}", page.fetch()));
    let mut out = Vec::new();
    for r in all(c, &sql, v).await? {
        out.push(get(c, &text(&r, "id")?).await?);
    }
    Ok(out)
}

/// Stores an assessor's sheet, replacing an earlier one of the same assessor.
pub async fn put_sheet(
    txn: &DatabaseTransaction,
    assessment_id: &str,
    assessor: &str,
    items: &BTreeMap<String, u32>,
    dementia: bool,
    actor: &Actor,
) -> Result<(), StoreError> {
    exec(
        txn,
        "DELETE FROM ltc_score_sheets WHERE assessment_id = ? AND assessor_code = ?",
        vec![t(assessment_id), t(assessor)],
    )
    .await?;
    exec(
        txn,
        "INSERT INTO ltc_score_sheets (assessment_id, assessor_code, items_json, dementia, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![t(assessment_id), t(assessor), t(to_json(items)?), i4(i32::from(dementia)), t(actor.subject.clone()), t(actor.role.clone()), t(now())],
    )
    .await?;
    Ok(())
}

/// Completes an assessment with its result.
pub async fn complete(
    txn: &DatabaseTransaction,
    id: &str,
    result: &AssessmentResult,
) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_assessments SET status = 'completed', result_json = ? WHERE id = ?",
        vec![t(to_json(result)?), t(id)],
    )
    .await?;
    Ok(())
}
