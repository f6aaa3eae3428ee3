//! Duplicate enrolments: the queries the scan pages through, and the tasks it opens (with the
//! steps of their work, flagged → verified → resolved or dismissed).

use super::codec::{
    duplicate_kind_of, duplicate_kind_str, end_reason_str, enrolment_of, new_id, now, task_state_of,
};
use super::entities::{duplicate_task, enrolment};
use super::persons::journal;
use super::{Entity, Store, StoreError};
use crate::domain::duplicates::{DuplicateKind, DuplicatePair, TaskState};
use crate::domain::{EndReason, Enrolment};
use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use yibao_runtime::Actor;

/// A task to open for a pair found by a scan.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// The person with two enrolments.
    pub person_id: String,
    /// The year scanned.
    pub year: i32,
    /// The pair and why one stays.
    pub pair: DuplicatePair,
    /// Region of the enrolment that stays (tasks are worked there).
    pub region_code: String,
}

/// One step of a task's work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskStep {
    /// Who.
    pub actor: String,
    /// In which role.
    pub role: String,
    /// When (RFC 3339).
    pub at: String,
}

/// A duplicate task as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateTask {
    /// Id.
    pub id: String,
    /// The person.
    pub person_id: String,
    /// The year.
    pub year: i32,
    /// Kind of duplicate.
    pub kind: DuplicateKind,
    /// Enrolment that stays.
    pub keep_enrolment_id: String,
    /// Enrolment to end.
    pub drop_enrolment_id: String,
    /// Why.
    pub rationale: String,
    /// Current state.
    pub state: TaskState,
    /// Region it is worked in.
    pub region_code: String,
    /// Steps so far, oldest first.
    pub steps: Vec<TaskStep>,
}

fn task_of(t: duplicate_task::Model) -> DuplicateTask {
    let steps: Vec<serde_json::Value> = serde_json::from_str(&t.steps_json).unwrap_or_default();
    DuplicateTask {
        kind: duplicate_kind_of(&t.kind),
        state: task_state_of(&t.state),
        steps: steps
            .iter()
            .map(|s| TaskStep {
                actor: s["actor"].as_str().unwrap_or_default().into(),
                role: s["role"].as_str().unwrap_or_default().into(),
                at: s["at"].as_str().unwrap_or_default().into(),
            })
            .collect(),
        id: t.id,
        person_id: t.person_id,
        year: t.year,
        keep_enrolment_id: t.keep_enrolment_id,
        drop_enrolment_id: t.drop_enrolment_id,
        rationale: t.rationale,
        region_code: t.region_code,
    }
}

/// An enrolment row by id inside `txn`.
pub async fn enrolment_in(txn: &DatabaseTransaction, id: &str) -> Result<Enrolment, StoreError> {
    let m = enrolment::Entity::find_by_id(id.to_string())
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Enrolment, id))?;
    enrolment_of(&m)
}

/// Moves a task from `from` to `to` inside `txn`, appending the step; refused as a conflict
/// when the task is no longer in `from`.
pub async fn transition_in(
    txn: &DatabaseTransaction,
    task_id: &str,
    from: TaskState,
    to: TaskState,
    note: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let stored = duplicate_task::Entity::find_by_id(task_id.to_string())
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::DuplicateTask, task_id))?;
    let mut steps: Vec<serde_json::Value> =
        serde_json::from_str(&stored.steps_json).unwrap_or_default();
    steps.push(serde_json::json!({"actor": actor.subject, "role": actor.role, "at": now(), "state": to.name(), "note": note}));
    let res = duplicate_task::Entity::update_many()
        .col_expr(duplicate_task::Column::State, Expr::value(to.name()))
        .col_expr(
            duplicate_task::Column::StepsJson,
            Expr::value(serde_json::Value::Array(steps).to_string()),
        )
        .filter(duplicate_task::Column::Id.eq(task_id))
        .filter(duplicate_task::Column::State.eq(from.name()))
        .exec(txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(StoreError::Conflict(
            "the task changed concurrently; retry".into(),
        ));
    }
    Ok(())
}

/// Ends the losing enrolment of a resolved task on `end` inside `txn`, journalled on the
/// person.
pub async fn end_as_duplicate(
    txn: &DatabaseTransaction,
    task: &DuplicateTask,
    drop: &Enrolment,
    keep: &Enrolment,
    end: NaiveDate,
    actor: &Actor,
) -> Result<(), StoreError> {
    let end = end.to_string();
    enrolment::Entity::update_many()
        .col_expr(enrolment::Column::EffectiveTo, Expr::value(end.clone()))
        .col_expr(
            enrolment::Column::EndReason,
            Expr::value(end_reason_str(EndReason::Duplicate)),
        )
        .filter(enrolment::Column::Id.eq(drop.id.clone()))
        .exec(txn)
        .await?;
    let detail = serde_json::json!({"enrolment_id": drop.id, "kept": keep.id, "effective_to": end, "task_id": task.id});
    journal(
        txn,
        &task.person_id,
        "enrolment.ended_as_duplicate",
        detail,
        actor,
    )
    .await
}

impl Store {
    /// People with more than one paid enrolment in `year`, at least one of them within the
    /// region prefix: the only candidates for duplicates. The database aggregates, so the
    /// service never holds the year's enrolments; the list is keyset-paged by person id.
    pub async fn duplicate_candidates(
        &self,
        year: i32,
        region_prefix: &str,
        after: &str,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.db().get_database_backend();
        let (p1, p2, p3, p4) = match backend {
            DbBackend::Postgres => ("$1", "$2", "$3", "$4"),
            _ => ("?", "?", "?", "?"),
        };
        let sql = format!(
            "SELECT person_id FROM enrolments WHERE year = {p1} AND paid_on IS NOT NULL AND person_id > {p2} \
             GROUP BY person_id HAVING COUNT(*) > 1 AND SUM(CASE WHEN region_code LIKE {p3} THEN 1 ELSE 0 END) > 0 \
             ORDER BY person_id LIMIT {p4}"
        );
        let like = format!("{}%", region_prefix.replace(['%', '_'], ""));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .db()
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [year.into(), after.into(), like.into(), limit.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| r.try_get_by_index::<String>(0).map_err(StoreError::from))
            .collect()
    }

    /// Paid enrolments of these people in the year, wherever they are (a duplicate may
    /// straddle two regions), each with its person's id.
    pub async fn enrolments_of_people(
        &self,
        year: i32,
        people: Vec<String>,
    ) -> Result<Vec<(String, Enrolment)>, StoreError> {
        if people.is_empty() {
            return Ok(vec![]);
        }
        enrolment::Entity::find()
            .filter(enrolment::Column::Year.eq(year))
            .filter(enrolment::Column::PaidOn.is_not_null())
            .filter(enrolment::Column::PersonId.is_in(people))
            .all(self.db())
            .await?
            .iter()
            .map(|m| Ok((m.person_id.clone(), enrolment_of(m)?)))
            .collect()
    }

    /// Opens the tasks that are new (a pair already known is counted, not reopened); returns
    /// (opened, already known).
    pub async fn insert_duplicate_tasks(
        &self,
        tasks: Vec<NewTask>,
        actor: &Actor,
    ) -> Result<(u64, u64), StoreError> {
        let txn = self.begin().await?;
        let (mut opened, mut known) = (0, 0);
        for t in tasks {
            let exists = duplicate_task::Entity::find()
                .filter(duplicate_task::Column::KeepEnrolmentId.eq(t.pair.keep.as_str()))
                .filter(duplicate_task::Column::DropEnrolmentId.eq(t.pair.drop.as_str()))
                .one(&*txn)
                .await?;
            if exists.is_some() {
                known += 1;
                continue;
            }
            let step = serde_json::json!([{"actor": actor.subject, "role": actor.role, "at": chrono::Utc::now().to_rfc3339(), "state": TaskState::Flagged.name(), "note": "found by scan"}]);
            duplicate_task::ActiveModel {
                id: Set(new_id()),
                person_id: Set(t.person_id),
                year: Set(t.year),
                kind: Set(duplicate_kind_str(t.pair.kind).into()),
                keep_enrolment_id: Set(t.pair.keep),
                drop_enrolment_id: Set(t.pair.drop),
                rationale: Set(t.pair.rationale),
                state: Set(TaskState::Flagged.name().into()),
                region_code: Set(t.region_code),
                steps_json: Set(step.to_string()),
            }
            .insert(&*txn)
            .await?;
            opened += 1;
        }
        txn.commit().await?;
        Ok((opened, known))
    }

    /// Duplicate tasks within a region prefix, optionally by state, in id order after
    /// `after` (keyset paging), at most `limit`.
    pub async fn duplicate_tasks(
        &self,
        region_prefix: &str,
        state: Option<TaskState>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<DuplicateTask>, StoreError> {
        let mut q = duplicate_task::Entity::find()
            .order_by_asc(duplicate_task::Column::Id)
            .limit(limit);
        if let Some(after) = after {
            q = q.filter(duplicate_task::Column::Id.gt(after));
        }
        if !region_prefix.is_empty() {
            q = q.filter(duplicate_task::Column::RegionCode.starts_with(region_prefix));
        }
        if let Some(s) = state {
            q = q.filter(duplicate_task::Column::State.eq(s.name()));
        }
        Ok(q.all(self.db()).await?.into_iter().map(task_of).collect())
    }

    /// A duplicate task.
    pub async fn duplicate_task(&self, id: &str) -> Result<DuplicateTask, StoreError> {
        duplicate_task::Entity::find_by_id(id.to_string())
            .one(self.db())
            .await?
            .map(task_of)
            .ok_or_else(|| StoreError::not_found(Entity::DuplicateTask, id))
    }
}
