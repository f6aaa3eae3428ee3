//! Beneficiaries, the levels decided for them over time, and their care plans.

use super::sql::{all, exec, i4, int32, one, opt_text, t, text};
use super::{StoreError, care_type_of, date, level_of, new_id, now, region_like};
use crate::domain::assessment::DisabilityLevel;
use crate::domain::care::{CarePlan, LevelPeriod};
use crate::domain::policy::CareType;
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult};
use yibao_core::RegionCode;
use yibao_runtime::Actor;
use yibao_runtime::page::Page;

/// A level decided for a beneficiary.
#[derive(Debug, Clone)]
pub struct LevelRow {
    /// Level.
    pub level: DisabilityLevel,
    /// 重度失智.
    pub dementia: bool,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// Deciding application.
    pub application_id: String,
    /// Decision date.
    pub decided_on: NaiveDate,
}

impl LevelRow {
    /// The level period for the domain.
    pub fn period(&self) -> LevelPeriod {
        LevelPeriod {
            level: self.level,
            dementia: self.dementia,
            effective_from: self.effective_from,
        }
    }
}

/// A care plan as stored.
#[derive(Debug, Clone)]
pub struct PlanRow {
    /// The plan.
    pub plan: CarePlan,
    /// Beneficiary.
    pub beneficiary_id: String,
    /// Subject.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
}

/// A beneficiary as stored.
#[derive(Debug, Clone)]
pub struct BeneficiaryRow {
    /// Id.
    pub id: String,
    /// Enrollment person id.
    pub person_id: String,
    /// Clear ID number.
    pub id_number: String,
    /// Name.
    pub name: String,
    /// Insured region.
    pub region_code: String,
    /// Next reassessment.
    pub reassessment_due: String,
    /// Levels, oldest first.
    pub levels: Vec<LevelRow>,
    /// Plans, oldest first.
    pub plans: Vec<PlanRow>,
}

impl BeneficiaryRow {
    /// Level periods for the domain.
    pub fn level_periods(&self) -> Vec<LevelPeriod> {
        self.levels.iter().map(LevelRow::period).collect()
    }

    /// Care plans for the domain.
    pub fn care_plans(&self) -> Vec<CarePlan> {
        self.plans.iter().map(|p| p.plan.clone()).collect()
    }
}

/// A new beneficiary (from an approved application).
#[derive(Debug, Clone)]
pub struct NewBeneficiary<'a> {
    /// Enrollment person id.
    pub person_id: &'a str,
    /// Clear ID number.
    pub id_number: &'a str,
    /// Name.
    pub name: &'a str,
    /// Insured region.
    pub region_code: &'a str,
}

fn plan_row(r: &QueryResult) -> Result<PlanRow, StoreError> {
    Ok(PlanRow {
        plan: CarePlan {
            id: text(r, "id")?,
            institution: text(r, "institution_code")?,
            care_type: care_type_of(&text(r, "care_type")?)?,
            start: date(&text(r, "start_date")?)?,
            end: opt_text(r, "end_date")?.as_deref().map(date).transpose()?,
        },
        beneficiary_id: text(r, "beneficiary_id")?,
        actor: text(r, "actor")?,
        role: text(r, "role")?,
        at: text(r, "at")?,
    })
}

/// The levels of a beneficiary, oldest first.
pub async fn levels<C: ConnectionTrait>(
    c: &C,
    beneficiary_id: &str,
) -> Result<Vec<LevelRow>, StoreError> {
    all(
        c,
        "SELECT * FROM ltc_levels WHERE beneficiary_id = ? ORDER BY effective_from, decided_on",
        vec![t(beneficiary_id)],
    )
    .await?
    .iter()
    .map(|r| -> Result<LevelRow, StoreError> {
        Ok(LevelRow {
            level: level_of(int32(r, "level")?)?,
            dementia: int32(r, "dementia")? != 0,
            effective_from: date(&text(r, "effective_from")?)?,
            application_id: text(r, "application_id")?,
            decided_on: date(&text(r, "decided_on")?)?,
        })
    })
    .collect()
}

/// Reads a beneficiary with levels and plans.
pub async fn get<C: ConnectionTrait>(c: &C, id: &str) -> Result<BeneficiaryRow, StoreError> {
    let r = one(
        c,
        "SELECT * FROM ltc_beneficiaries WHERE id = ?",
        vec![t(id)],
    )
    .await?
    .ok_or_else(|| StoreError::BeneficiaryNotFound(id.into()))?;
    let plans = all(
        c,
        "SELECT * FROM ltc_care_plans WHERE beneficiary_id = ? ORDER BY start_date",
        vec![t(id)],
    )
    .await?
    .iter()
    .map(plan_row)
    .collect::<Result<_, _>>()?;
    Ok(BeneficiaryRow {
        id: text(&r, "id")?,
        person_id: text(&r, "person_id")?,
        id_number: text(&r, "id_number")?,
        name: text(&r, "name")?,
        region_code: text(&r, "region_code")?,
        reassessment_due: text(&r, "reassessment_due")?,
        levels: levels(c, id).await?,
        plans,
    })
}

/// The beneficiary id of an enrollment person, if they are one.
pub async fn id_of_person<C: ConnectionTrait>(
    c: &C,
    person_id: &str,
) -> Result<Option<String>, StoreError> {
    one(
        c,
        "SELECT id FROM ltc_beneficiaries WHERE person_id = ?",
        vec![t(person_id)],
    )
    .await?
    .map(|r| Ok(text(&r, "id")?))
    .transpose()
}

/// Inserts a beneficiary (no reassessment due yet); returns the id.
pub async fn insert(
    txn: &DatabaseTransaction,
    b: &NewBeneficiary<'_>,
) -> Result<String, StoreError> {
    let bid = new_id();
    exec(
        txn,
        "INSERT INTO ltc_beneficiaries (id, person_id, id_number, name, region_code, reassessment_due, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![t(bid.clone()), t(b.person_id), t(b.id_number), t(b.name), t(b.region_code), t(String::new()), t(now())],
    )
    .await?;
    Ok(bid)
}

/// Removes the level an application's decision gave.
pub async fn delete_level_of(
    txn: &DatabaseTransaction,
    beneficiary_id: &str,
    application_id: &str,
) -> Result<(), StoreError> {
    exec(
        txn,
        "DELETE FROM ltc_levels WHERE beneficiary_id = ? AND application_id = ?",
        vec![t(beneficiary_id), t(application_id)],
    )
    .await?;
    Ok(())
}

/// Records a level decided by an application.
pub async fn insert_level(
    txn: &DatabaseTransaction,
    beneficiary_id: &str,
    application_id: &str,
    period: &LevelPeriod,
    decided_on: NaiveDate,
) -> Result<(), StoreError> {
    exec(
        txn,
        "INSERT INTO ltc_levels (beneficiary_id, application_id, level, dementia, effective_from, decided_on) VALUES (?, ?, ?, ?, ?, ?)",
        vec![t(beneficiary_id), t(application_id), i4(i32::from(period.level.number())), i4(i32::from(period.dementia)), t(period.effective_from.to_string()), t(decided_on.to_string())],
    )
    .await?;
    Ok(())
}

/// Sets the next reassessment date.
pub async fn set_reassessment_due(
    txn: &DatabaseTransaction,
    beneficiary_id: &str,
    due: NaiveDate,
) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_beneficiaries SET reassessment_due = ? WHERE id = ?",
        vec![t(due.to_string()), t(beneficiary_id)],
    )
    .await?;
    Ok(())
}

/// Beneficiaries of a region whose reassessment is due on or before `on`, soonest first: the
/// page's rows after its key (due date, id) and one more.
pub async fn reassessments_due<C: ConnectionTrait>(
    c: &C,
    region: &RegionCode,
    on: NaiveDate,
    page: &Page,
) -> Result<Vec<BeneficiaryRow>, StoreError> {
    let mut sql = String::from(
        "SELECT id FROM ltc_beneficiaries WHERE region_code LIKE ? AND reassessment_due <> '' AND reassessment_due <= ?",
    );
    let mut v = vec![t(region_like(region)), t(on.to_string())];
    if !page.is_first() {
        sql.push_str(" AND (reassessment_due, id) > (?, ?)");
        v.extend([t(page.after_key(0)), t(page.after_key(1))]);
    }
    sql.push_str(&format!(
        " ORDER BY reassessment_due, id LIMIT {}",
        page.fetch()
    ));
    let rows = all(c, &sql, v).await?;
    let mut out = Vec::new();
    for r in rows {
        out.push(get(c, &text(&r, "id")?).await?);
    }
    Ok(out)
}

/// Reads a care plan.
pub async fn plan<C: ConnectionTrait>(c: &C, id: &str) -> Result<PlanRow, StoreError> {
    let r = one(c, "SELECT * FROM ltc_care_plans WHERE id = ?", vec![t(id)])
        .await?
        .ok_or_else(|| StoreError::CarePlanNotFound(id.into()))?;
    plan_row(&r)
}

/// Ends an open plan on `end`; a conflict when it is no longer open.
pub async fn end_plan(
    txn: &DatabaseTransaction,
    id: &str,
    end: NaiveDate,
) -> Result<(), StoreError> {
    let n = exec(
        txn,
        "UPDATE ltc_care_plans SET end_date = ? WHERE id = ? AND end_date IS NULL",
        vec![t(end.to_string()), t(id)],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::Conflict(
            "the care plan changed concurrently; retry".into(),
        ));
    }
    Ok(())
}

/// Inserts an open plan; returns its id.
pub async fn insert_plan(
    txn: &DatabaseTransaction,
    beneficiary_id: &str,
    institution: &str,
    care_type: CareType,
    start: NaiveDate,
    actor: &Actor,
) -> Result<String, StoreError> {
    let id = new_id();
    exec(
        txn,
        "INSERT INTO ltc_care_plans (id, beneficiary_id, institution_code, care_type, start_date, end_date, actor, role, at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)",
        vec![t(id.clone()), t(beneficiary_id), t(institution), t(care_type.as_str()), t(start.to_string()), t(actor.subject.clone()), t(actor.role.clone()), t(now())],
    )
    .await?;
    Ok(id)
}
