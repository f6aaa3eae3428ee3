//! Verification tasks of large receipts (seed 000): opened with their finding, completed once.

use super::{BIGINT, Col, Page, Store, StoreError, TEXT, fetch, json, rfc3339, s, to_json};
use crate::domain::{Finding, VerificationTask};
use sea_orm::{DatabaseTransaction, Value};

const TASK_COLS: &[Col] = &[
    ("task_id", TEXT),
    ("region_code", TEXT),
    ("institution_code", TEXT),
    ("kind", TEXT),
    ("claim_id", TEXT),
    ("amount_fen", BIGINT),
    ("opened_at", TEXT),
    ("completed", BIGINT),
    ("doc", TEXT),
];

/// The page key of a task: (opened at, id), oldest first.
pub fn task_key(t: &VerificationTask) -> Vec<String> {
    vec![rfc3339(t.opened_at), t.task_id.clone()]
}

impl Store {
    /// Inserts the tasks of findings (in the finding's region) in one multi-row statement; an
    /// existing id is kept as it is.
    pub async fn insert_tasks(
        &self,
        txn: &DatabaseTransaction,
        tasks: &[(&Finding, &VerificationTask)],
    ) -> Result<(), StoreError> {
        let mut rows = Vec::with_capacity(tasks.len());
        for (finding, task) in tasks {
            rows.push(vec![
                Value::from(task.task_id.as_str()),
                finding.region.to_string().into(),
                task.institution.to_string().into(),
                to_json(&task.kind)?.trim_matches('"').to_string().into(),
                task.claim_id.as_str().into(),
                task.amount.0.into(),
                rfc3339(task.opened_at).into(),
                0i64.into(),
                to_json(task)?.into(),
            ]);
        }
        self.insert_many(
            txn,
            "verification_tasks",
            TASK_COLS,
            rows,
            "ON CONFLICT DO NOTHING",
            None,
        )
        .await?;
        Ok(())
    }

    /// Verification tasks of a region (prefix), oldest first (keyset [`task_key`]), one more
    /// than the page.
    pub async fn tasks(
        &self,
        region_prefix: &str,
        institution: Option<&str>,
        kind: Option<&str>,
        include_completed: bool,
        page: &Page,
    ) -> Result<Vec<VerificationTask>, StoreError> {
        let mut sql = String::from("SELECT doc FROM verification_tasks WHERE region_code LIKE ?");
        let mut values: Vec<Value> = vec![format!("{region_prefix}%").into()];
        if let Some(inst) = institution {
            sql.push_str(" AND institution_code = ?");
            values.push(inst.to_string().into());
        }
        if let Some(k) = kind {
            sql.push_str(" AND kind = ?");
            values.push(k.to_string().into());
        }
        if !include_completed {
            sql.push_str(" AND completed = 0");
        }
        if !page.is_first() {
            sql.push_str(" AND (opened_at, task_id) > (?, ?)");
            values.push(page.after_key(0).into());
            values.push(page.after_key(1).into());
        }
        sql.push_str(" ORDER BY opened_at, task_id LIMIT ?");
        values.push(fetch(page));
        self.all(self.db(), &sql, values)
            .await?
            .iter()
            .map(|r| json(r, "doc"))
            .collect()
    }

    /// A task with its region.
    pub async fn task(&self, id: &str) -> Result<Option<(VerificationTask, String)>, StoreError> {
        let row = self
            .one(
                self.db(),
                "SELECT doc, region_code FROM verification_tasks WHERE task_id = ?",
                vec![id.to_string().into()],
            )
            .await?;
        row.map(|r| Ok((json(&r, "doc")?, s(&r, "region_code")?)))
            .transpose()
    }

    /// Withdraws, in the consumer's transaction, the open tasks of claims that were reversed.
    pub async fn withdraw_tasks(
        &self,
        txn: &DatabaseTransaction,
        reversed: &[(String, String)],
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        for (claim_id, event_id) in reversed {
            let rows = self
                .all(
                    txn,
                    "SELECT doc FROM verification_tasks WHERE claim_id = ? AND completed = 0",
                    vec![claim_id.clone().into()],
                )
                .await?;
            for r in rows {
                let mut task: VerificationTask = json(&r, "doc")?;
                if task.withdraw(at, &format!("claim reversed (event {event_id})")) {
                    self.exec(
                        txn,
                        "UPDATE verification_tasks SET completed = 1, doc = ? WHERE task_id = ? AND completed = 0",
                        vec![to_json(&task)?.into(), task.task_id.clone().into()],
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Stores a completed task; refused when it was completed meanwhile.
    pub async fn complete_task(&self, task: &VerificationTask) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        let n = self
            .exec(&*txn, "UPDATE verification_tasks SET completed = 1, doc = ? WHERE task_id = ? AND completed = 0", vec![to_json(task)?.into(), task.task_id.clone().into()])
            .await?;
        if n != 1 {
            return Err(StoreError::Conflict(format!(
                "task {} was completed meanwhile",
                task.task_id
            )));
        }
        txn.commit().await?;
        Ok(())
    }
}
