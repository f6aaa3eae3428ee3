//! Tips (举报), cases with their recoveries and rewards (a JSON document beside the filtered
//! columns), the findings each case was opened from, and the request keys that make the
//! money-moving calls idempotent.

use super::{Audit, Page, Store, StoreError, fetch, i, json, rfc3339, s};
use crate::domain::{Case, CaseStatus};
use chrono::Utc;
use sea_orm::{DatabaseTransaction, QueryResult, Value};
use yibao_core::RegionCode;

/// A stored case.
#[derive(Debug, Clone)]
pub struct StoredCase {
    /// The case.
    pub case: Case,
    /// The tip id, when opened from a tip.
    pub tip_id: String,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// A stored tip.
#[derive(Debug, Clone)]
pub struct StoredTip {
    /// Region where it was received.
    pub region: String,
    /// Institution it names, empty when none.
    pub institution: String,
    /// What it says.
    pub description: String,
    /// Whether a whistle-blower left a contact.
    pub has_contact: bool,
    /// When it was received (RFC 3339).
    pub received_at: String,
    /// Case opened from it, if any.
    pub case_id: Option<String>,
}

/// A request key to remember with a write.
#[derive(Debug, Clone)]
pub struct RequestKey {
    /// The caller's key.
    pub request_id: String,
    /// RPC name.
    pub rpc: &'static str,
    /// Fingerprint of the request content.
    pub fingerprint: String,
    /// The response to return on a retry (hex of its encoding).
    pub response: String,
}

/// The page key of a case: (opened at, id), newest first.
pub fn case_key(c: &StoredCase) -> Vec<String> {
    vec![rfc3339(c.case.opened_at), c.case.case_id.clone()]
}

fn stored_case(r: &QueryResult) -> Result<StoredCase, StoreError> {
    let doc: serde_json::Value = json(r, "doc")?;
    let tip_id = doc
        .get("tip_id")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let case: Case = serde_json::from_value(doc).map_err(StoreError::corrupt)?;
    Ok(StoredCase {
        case,
        tip_id,
        version: i(r, "version")?,
    })
}

impl Store {
    /// Records a tip, and its case when opened at once.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_tip(
        &self,
        tip_id: &str,
        region: &RegionCode,
        institution: &str,
        description: &str,
        contact: &str,
        audit: &Audit,
        case: Option<&Case>,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        self.exec(
            &*txn,
            "INSERT INTO tips (tip_id, region_code, institution_code, description, whistleblower_contact, received_at, actor, case_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                tip_id.to_string().into(),
                region.to_string().into(),
                institution.to_string().into(),
                description.to_string().into(),
                contact.to_string().into(),
                rfc3339(audit.at).into(),
                audit.actor.clone().into(),
                case.map(|c| c.case_id.clone()).into(),
            ],
        )
        .await?;
        if let Some(case) = case {
            self.insert_case(&txn, case, tip_id).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// A tip.
    pub async fn tip(&self, tip_id: &str) -> Result<Option<StoredTip>, StoreError> {
        let row = self
            .one(self.db(), "SELECT region_code, institution_code, description, whistleblower_contact, received_at, case_id FROM tips WHERE tip_id = ?", vec![tip_id.to_string().into()])
            .await?;
        row.map(|r| {
            Ok(StoredTip {
                region: s(&r, "region_code")?,
                institution: s(&r, "institution_code")?,
                description: s(&r, "description")?,
                has_contact: !s(&r, "whistleblower_contact")?.trim().is_empty(),
                received_at: s(&r, "received_at")?,
                case_id: r
                    .try_get::<Option<String>>("", "case_id")
                    .map_err(StoreError::corrupt)?,
            })
        })
        .transpose()
    }

    async fn insert_case(
        &self,
        txn: &DatabaseTransaction,
        case: &Case,
        tip_id: &str,
    ) -> Result<(), StoreError> {
        let mut doc = serde_json::to_value(case).map_err(StoreError::corrupt)?;
        doc["tip_id"] = serde_json::Value::String(tip_id.to_string());
        self.exec(
            txn,
            "INSERT INTO cases (case_id, region_code, institution_code, status, opened_at, doc, version) VALUES (?, ?, ?, ?, ?, ?, 1)",
            vec![
                case.case_id.clone().into(),
                case.region.to_string().into(),
                case.institution.as_ref().map(|i| i.to_string()).unwrap_or_default().into(),
                "open".into(),
                rfc3339(case.opened_at).into(),
                doc.to_string().into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Opens a case from a tip not yet in a case.
    pub async fn open_case_from_tip(&self, case: &Case, tip_id: &str) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        let n = self
            .exec(
                &*txn,
                "UPDATE tips SET case_id = ? WHERE tip_id = ? AND case_id IS NULL",
                vec![case.case_id.clone().into(), tip_id.to_string().into()],
            )
            .await?;
        if n != 1 {
            return Err(StoreError::TipAlreadyInCase(tip_id.to_string()));
        }
        self.insert_case(&txn, case, tip_id).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Opens a case from findings none of which is in a case yet.
    pub async fn open_case_from_findings(
        &self,
        case: &Case,
        finding_ids: &[String],
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        for id in finding_ids {
            let n = self.exec(&*txn, "INSERT INTO case_findings (finding_id, case_id) VALUES (?, ?) ON CONFLICT DO NOTHING", vec![id.clone().into(), case.case_id.clone().into()]).await?;
            if n != 1 {
                return Err(StoreError::FindingAlreadyInCase(id.clone()));
            }
        }
        self.insert_case(&txn, case, "").await?;
        txn.commit().await?;
        Ok(())
    }

    /// One case.
    pub async fn case(&self, id: &str) -> Result<Option<StoredCase>, StoreError> {
        let row = self
            .one(
                self.db(),
                "SELECT doc, version FROM cases WHERE case_id = ?",
                vec![id.to_string().into()],
            )
            .await?;
        row.map(|r| stored_case(&r)).transpose()
    }

    /// Cases of a region (prefix), newest first (keyset [`case_key`]), one more than the page.
    pub async fn cases(
        &self,
        region_prefix: &str,
        institution: Option<&str>,
        status: Option<&str>,
        page: &Page,
    ) -> Result<Vec<StoredCase>, StoreError> {
        let mut sql = String::from("SELECT doc, version FROM cases WHERE region_code LIKE ?");
        let mut values: Vec<Value> = vec![format!("{region_prefix}%").into()];
        if let Some(inst) = institution {
            sql.push_str(" AND institution_code = ?");
            values.push(inst.to_string().into());
        }
        if let Some(st) = status {
            sql.push_str(" AND status = ?");
            values.push(st.to_string().into());
        }
        if !page.is_first() {
            sql.push_str(" AND (opened_at < ? OR (opened_at = ? AND case_id > ?))");
            values.push(page.after_key(0).into());
            values.push(page.after_key(0).into());
            values.push(page.after_key(1).into());
        }
        sql.push_str(" ORDER BY opened_at DESC, case_id LIMIT ?");
        values.push(fetch(page));
        self.all(self.db(), &sql, values)
            .await?
            .iter()
            .map(stored_case)
            .collect()
    }

    /// Stores a changed case guarded by its version, with the request key of the change.
    pub async fn save_case(
        &self,
        stored: &StoredCase,
        case: &Case,
        key: Option<&RequestKey>,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        let mut doc = serde_json::to_value(case).map_err(StoreError::corrupt)?;
        doc["tip_id"] = serde_json::Value::String(stored.tip_id.clone());
        let status = if case.status == CaseStatus::Closed {
            "closed"
        } else {
            "open"
        };
        let n = self
            .exec(
                &*txn,
                "UPDATE cases SET doc = ?, status = ?, version = version + 1 WHERE case_id = ? AND version = ?",
                vec![doc.to_string().into(), status.into(), case.case_id.clone().into(), stored.version.into()],
            )
            .await?;
        if n != 1 {
            return Err(StoreError::Conflict(format!(
                "case {} changed meanwhile; re-read and retry",
                case.case_id
            )));
        }
        if let Some(k) = key {
            let n = self
                .exec(
                    &*txn,
                    "INSERT INTO request_keys (request_id, rpc, fingerprint, response, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    vec![k.request_id.clone().into(), k.rpc.into(), k.fingerprint.clone().into(), k.response.clone().into(), rfc3339(Utc::now()).into()],
                )
                .await?;
            if n != 1 {
                return Err(StoreError::Conflict(format!(
                    "request {} was recorded concurrently; retry to read its result",
                    k.request_id
                )));
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// A remembered request: (rpc, fingerprint, response).
    pub async fn request_key(
        &self,
        request_id: &str,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        let row = self
            .one(
                self.db(),
                "SELECT rpc, fingerprint, response FROM request_keys WHERE request_id = ?",
                vec![request_id.to_string().into()],
            )
            .await?;
        row.map(|r| Ok((s(&r, "rpc")?, s(&r, "fingerprint")?, s(&r, "response")?)))
            .transpose()
    }
}
