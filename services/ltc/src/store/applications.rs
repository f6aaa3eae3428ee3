//! Applications and their workflow steps (who and when of every state entered).

use super::sql::{all, exec, i, i4, int, int32, one, opt_int32, opt_text, t, text};
use super::{StoreError, json, level_of, new_id, now, region_like, to_json};
use crate::domain::application::{ApplicationKind, ApplicationStatus};
use crate::domain::assessment::DisabilityLevel;
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult};
use yibao_core::RegionCode;
use yibao_runtime::Actor;
use yibao_runtime::page::Page;

/// A workflow step with who and when.
#[derive(Debug, Clone)]
pub struct StepRow {
    /// State entered.
    pub status: ApplicationStatus,
    /// Note.
    pub note: String,
    /// Subject.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
}

/// An application as stored.
#[derive(Debug, Clone)]
pub struct ApplicationRow {
    /// Id.
    pub id: String,
    /// Receiving institution.
    pub institution_code: String,
    /// Institution's number.
    pub application_no: String,
    /// Clear ID number (never logged; masked in responses).
    pub id_number: String,
    /// Enrollment person id.
    pub person_id: String,
    /// Name.
    pub name: String,
    /// Insured region.
    pub region_code: String,
    /// Kind.
    pub kind: ApplicationKind,
    /// Medical records presented.
    pub medical_records: Vec<String>,
    /// Application date.
    pub applied_on: String,
    /// State.
    pub status: ApplicationStatus,
    /// Level when assessed.
    pub level: Option<DisabilityLevel>,
    /// 重度失智.
    pub dementia: bool,
    /// Rejection reason.
    pub rejection_reason: String,
    /// Beneficiary once approved.
    pub beneficiary_id: Option<String>,
    /// Current assessment.
    pub assessment_id: Option<String>,
    /// Appeals made.
    pub appeals: u32,
    /// Steps, oldest first.
    pub steps: Vec<StepRow>,
}

/// A new application.
#[derive(Debug, Clone)]
pub struct NewApplication {
    /// Receiving institution.
    pub institution_code: String,
    /// Institution's number.
    pub application_no: String,
    /// Clear ID number.
    pub id_number: String,
    /// Enrollment person id.
    pub person_id: String,
    /// Name.
    pub name: String,
    /// Insured region.
    pub region_code: String,
    /// Kind.
    pub kind: ApplicationKind,
    /// Medical records.
    pub medical_records: Vec<String>,
    /// Application date.
    pub applied_on: NaiveDate,
}

fn status_of(s: &str) -> Result<ApplicationStatus, StoreError> {
    ApplicationStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("status `{s}`")))
}

fn step_row(r: &QueryResult) -> Result<StepRow, StoreError> {
    Ok(StepRow {
        status: status_of(&text(r, "status")?)?,
        note: text(r, "note")?,
        actor: text(r, "actor")?,
        role: text(r, "role")?,
        at: text(r, "at")?,
    })
}

fn application_row(r: &QueryResult) -> Result<ApplicationRow, StoreError> {
    let kind = text(r, "kind")?;
    Ok(ApplicationRow {
        id: text(r, "id")?,
        institution_code: text(r, "institution_code")?,
        application_no: text(r, "application_no")?,
        id_number: text(r, "id_number")?,
        person_id: text(r, "person_id")?,
        name: text(r, "name")?,
        region_code: text(r, "region_code")?,
        kind: ApplicationKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("kind `{kind}`")))?,
        medical_records: json(&text(r, "medical_records_json")?)?,
        applied_on: text(r, "applied_on")?,
        status: status_of(&text(r, "status")?)?,
        level: opt_int32(r, "level")?.map(level_of).transpose()?,
        dementia: int32(r, "dementia")? != 0,
        rejection_reason: text(r, "rejection_reason")?,
        beneficiary_id: opt_text(r, "beneficiary_id")?,
        assessment_id: opt_text(r, "assessment_id")?,
        appeals: u32::try_from(int32(r, "appeals")?).unwrap_or(0),
        steps: Vec::new(),
    })
}

/// Reads an application with its steps.
pub async fn get<C: ConnectionTrait>(c: &C, id: &str) -> Result<ApplicationRow, StoreError> {
    let r = one(
        c,
        "SELECT * FROM ltc_applications WHERE id = ?",
        vec![t(id)],
    )
    .await?
    .ok_or_else(|| StoreError::ApplicationNotFound(id.into()))?;
    let mut a = application_row(&r)?;
    a.steps = all(
        c,
        "SELECT * FROM ltc_application_steps WHERE application_id = ? ORDER BY seq",
        vec![t(id)],
    )
    .await?
    .iter()
    .map(step_row)
    .collect::<Result<_, _>>()?;
    Ok(a)
}

/// The application an institution filed under a number: (id, clear ID number).
pub async fn find_by_number<C: ConnectionTrait>(
    c: &C,
    institution: &str,
    application_no: &str,
) -> Result<Option<(String, String)>, StoreError> {
    one(
        c,
        "SELECT id, id_number FROM ltc_applications WHERE institution_code = ? AND application_no = ?",
        vec![t(institution), t(application_no)],
    )
    .await?
    .map(|r| Ok((text(&r, "id")?, text(&r, "id_number")?)))
    .transpose()
}

/// An application of the person that is still open (received, scheduled, assessed, appealed).
pub async fn open_of_person<C: ConnectionTrait>(
    c: &C,
    person_id: &str,
) -> Result<Option<String>, StoreError> {
    one(
        c,
        "SELECT id FROM ltc_applications WHERE person_id = ? AND status IN ('received', 'assessment_scheduled', 'assessed', 'appealed')",
        vec![t(person_id)],
    )
    .await?
    .map(|r| Ok(text(&r, "id")?))
    .transpose()
}

/// True when the institution received an application of the person.
pub async fn institution_received<C: ConnectionTrait>(
    c: &C,
    person_id: &str,
    institution: &str,
) -> Result<bool, StoreError> {
    let r = one(
        c,
        "SELECT id FROM ltc_applications WHERE person_id = ? AND institution_code = ? LIMIT 1",
        vec![t(person_id), t(institution)],
    )
    .await?;
    Ok(r.is_some())
}

/// Inserts a received application under a new id; `None` when a concurrent submission took
/// its (institution, number) first.
pub async fn insert(
    txn: &DatabaseTransaction,
    a: &NewApplication,
) -> Result<Option<String>, StoreError> {
    let id = new_id();
    let inserted = exec(
        txn,
        "INSERT INTO ltc_applications (id, institution_code, application_no, id_number, person_id, name, region_code, kind, medical_records_json, applied_on, status, level, dementia, rejection_reason, beneficiary_id, assessment_id, appeals, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, '', NULL, NULL, 0, ?)",
        vec![
            t(id.clone()),
            t(a.institution_code.clone()),
            t(a.application_no.clone()),
            t(a.id_number.clone()),
            t(a.person_id.clone()),
            t(a.name.clone()),
            t(a.region_code.clone()),
            t(a.kind.as_str()),
            t(to_json(&a.medical_records)?),
            t(a.applied_on.to_string()),
            t(ApplicationStatus::Received.as_str()),
            t(now()),
        ],
    )
    .await;
    match inserted {
        Ok(_) => Ok(Some(id)),
        Err(e) if yibao_runtime::db::is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Appends a workflow step.
pub async fn add_step(
    txn: &DatabaseTransaction,
    application_id: &str,
    status: ApplicationStatus,
    note: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let seq = one(
        txn,
        "SELECT COUNT(*) AS n FROM ltc_application_steps WHERE application_id = ?",
        vec![t(application_id)],
    )
    .await?;
    let seq = seq.as_ref().map(|r| int(r, "n")).transpose()?.unwrap_or(0);
    exec(
        txn,
        "INSERT INTO ltc_application_steps (application_id, seq, status, note, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![t(application_id), i(seq), t(status.as_str()), t(note), t(actor.subject.clone()), t(actor.role.clone()), t(now())],
    )
    .await?;
    Ok(())
}

/// Moves an application from `from` to `to` if nobody else moved it first.
pub async fn move_status(
    txn: &DatabaseTransaction,
    id: &str,
    from: ApplicationStatus,
    to: ApplicationStatus,
) -> Result<(), StoreError> {
    let n = exec(
        txn,
        "UPDATE ltc_applications SET status = ? WHERE id = ? AND status = ?",
        vec![t(to.as_str()), t(id), t(from.as_str())],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "application {id} changed concurrently; retry"
        )));
    }
    Ok(())
}

/// Points an application at its new assessment and clears the level of an earlier one.
pub async fn set_assessment(
    txn: &DatabaseTransaction,
    id: &str,
    assessment_id: &str,
) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_applications SET assessment_id = ?, level = NULL, dementia = 0 WHERE id = ?",
        vec![t(assessment_id), t(id)],
    )
    .await?;
    Ok(())
}

/// Records the level the assessment found.
pub async fn set_level(
    txn: &DatabaseTransaction,
    id: &str,
    level: DisabilityLevel,
    dementia: bool,
) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_applications SET level = ?, dementia = ? WHERE id = ?",
        vec![
            i4(i32::from(level.number())),
            i4(i32::from(dementia)),
            t(id),
        ],
    )
    .await?;
    Ok(())
}

/// Records the beneficiary an approval made (and clears an earlier rejection reason).
pub async fn set_approved(
    txn: &DatabaseTransaction,
    id: &str,
    beneficiary_id: &str,
) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_applications SET beneficiary_id = ?, rejection_reason = '' WHERE id = ?",
        vec![t(beneficiary_id), t(id)],
    )
    .await?;
    Ok(())
}

/// Records the reason of a rejection.
pub async fn set_rejected(
    txn: &DatabaseTransaction,
    id: &str,
    reason: &str,
) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_applications SET rejection_reason = ? WHERE id = ?",
        vec![t(reason), t(id)],
    )
    .await?;
    Ok(())
}

/// Counts an appeal.
pub async fn add_appeal(txn: &DatabaseTransaction, id: &str) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_applications SET appeals = appeals + 1 WHERE id = ?",
        vec![t(id)],
    )
    .await?;
    Ok(())
}

/// Lists applications (newest first) of an institution and/or within a region: the page's
/// rows after its key (the id) and one more (see [`Page::fetch`]).
pub async fn list<C: ConnectionTrait>(
    c: &C,
    institution: Option<&str>,
    region: Option<&RegionCode>,
    status: Option<ApplicationStatus>,
    page: &Page,
) -> Result<Vec<ApplicationRow>, StoreError> {
    let mut sql = String::from("SELECT id FROM ltc_applications WHERE 1 = 1");
    let mut v = Vec::new();
    if let Some(inst) = institution {
        sql.push_str(" AND institution_code = ?");
        v.push(t(inst));
    }
    if let Some(r) = region {
        sql.push_str(" AND region_code LIKE ?");
        v.push(t(region_like(r)));
    }
    if let Some(s) = status {
        sql.push_str(" AND status = ?");
        v.push(t(s.as_str()));
    }
    if !page.is_first() {
        sql.push_str(" AND id < ?");
        v.push(t(page.after_key(0)));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", page.fetch()));
    let mut out = Vec::new();
    for r in all(c, &sql, v).await? {
        out.push(get(c, &text(&r, "id")?).await?);
    }
    Ok(out)
}
