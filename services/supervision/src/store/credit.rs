//! Credit records of institutions and insurance physicians (a JSON document beside the score,
//! the blacklist flag and the region), read and written whole.

use super::{Page, Store, StoreError, fetch, json, to_json};
use crate::domain::{CreditRecord, Subject};
use sea_orm::{DatabaseTransaction, Value};

/// Text of a credit subject's kind and code.
pub fn subject_key(subject: &Subject) -> (&'static str, String) {
    match subject {
        Subject::Institution(c) => ("institution", c.as_str().to_string()),
        Subject::Physician(c) => ("physician", c.as_str().to_string()),
    }
}

/// The page key of a blacklisted subject: (kind, code).
pub fn blacklist_key(r: &CreditRecord) -> Vec<String> {
    let (kind, code) = subject_key(&r.subject);
    vec![kind.to_string(), code]
}

fn subject_region(subject: &Subject) -> String {
    match subject {
        Subject::Institution(c) => c.region().to_string(),
        Subject::Physician(c) => c.as_str().get(1..7).unwrap_or_default().to_string(),
    }
}

impl Store {
    /// The credit record of a subject inside a write transaction, locked until it ends
    /// (PostgreSQL; SQLite writers are serialised anyway).
    pub async fn credit_for_update(
        &self,
        txn: &DatabaseTransaction,
        subject: &Subject,
    ) -> Result<Option<CreditRecord>, StoreError> {
        let (kind, code) = subject_key(subject);
        let row = self
            .one(
                txn,
                &format!(
                    "SELECT doc FROM credit WHERE subject_kind = ? AND subject_code = ?{}",
                    self.for_update()
                ),
                vec![kind.into(), code.into()],
            )
            .await?;
        row.map(|r| json(&r, "doc")).transpose()
    }

    /// Writes a subject's credit record.
    pub async fn put_credit(
        &self,
        txn: &DatabaseTransaction,
        record: &CreditRecord,
    ) -> Result<(), StoreError> {
        let (kind, code) = subject_key(&record.subject);
        self.exec(
            txn,
            "INSERT INTO credit (subject_kind, subject_code, region_code, score, blacklisted, doc) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subject_kind, subject_code) DO UPDATE SET score = excluded.score, blacklisted = excluded.blacklisted, doc = excluded.doc",
            vec![
                kind.into(),
                code.into(),
                subject_region(&record.subject).into(),
                i64::from(record.score).into(),
                i64::from(record.blacklisted_since.is_some()).into(),
                to_json(record)?.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// The credit record of a subject, if any deduction was made.
    pub async fn credit(&self, subject: &Subject) -> Result<Option<CreditRecord>, StoreError> {
        let (kind, code) = subject_key(subject);
        let row = self
            .one(
                self.db(),
                "SELECT doc FROM credit WHERE subject_kind = ? AND subject_code = ?",
                vec![kind.into(), code.into()],
            )
            .await?;
        row.map(|r| json(&r, "doc")).transpose()
    }

    /// Blacklisted subjects of a region (prefix), optionally of one kind (keyset
    /// [`blacklist_key`]), one more than the page.
    pub async fn blacklist(
        &self,
        region_prefix: &str,
        kind: Option<&'static str>,
        page: &Page,
    ) -> Result<Vec<CreditRecord>, StoreError> {
        let mut sql =
            String::from("SELECT doc FROM credit WHERE blacklisted = 1 AND region_code LIKE ?");
        let mut values: Vec<Value> = vec![format!("{region_prefix}%").into()];
        if let Some(k) = kind {
            sql.push_str(" AND subject_kind = ?");
            values.push(k.into());
        }
        if !page.is_first() {
            sql.push_str(" AND (subject_kind, subject_code) > (?, ?)");
            values.push(page.after_key(0).into());
            values.push(page.after_key(1).into());
        }
        sql.push_str(" ORDER BY subject_kind, subject_code LIMIT ?");
        values.push(fetch(page));
        self.all(self.db(), &sql, values)
            .await?
            .iter()
            .map(|r| json(r, "doc"))
            .collect()
    }
}
