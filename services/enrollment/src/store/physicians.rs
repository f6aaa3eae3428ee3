//! Rows of insurance physicians (医保医师), in portable SQL; every write is journalled in the
//! registry's journal under the physician's institution.

use super::codec::now;
use super::registry::journal;
use super::{Store, StoreError};
use crate::domain::registry::physicians::{Physician, PhysicianStatus};
use sea_orm::QueryResult;
use std::collections::HashMap;
use yibao_core::InstitutionCode;
use yibao_runtime::Actor;
use yibao_runtime::sql::{self, i, t, text};

fn physician_of(r: &QueryResult) -> Result<Physician, StoreError> {
    let institution = text(r, "institution_code")?;
    let status = text(r, "status")?;
    Ok(Physician {
        code: text(r, "code")?,
        name: text(r, "name")?,
        institution: InstitutionCode::parse(&institution)
            .map_err(|_| StoreError::Corrupt(format!("stored institution `{institution}`")))?,
        status: PhysicianStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("stored physician status `{status}`")))?,
        status_reason: text(r, "status_reason")?,
    })
}

impl Store {
    /// The physicians among `codes` that are registered.
    pub async fn physicians_by_code(
        &self,
        codes: &[String],
    ) -> Result<HashMap<String, Physician>, StoreError> {
        let mut out = HashMap::new();
        for chunk in codes.chunks(500) {
            let list = vec!["?"; chunk.len()].join(", ");
            for r in sql::all(
                self.db(),
                &format!("SELECT * FROM physicians WHERE code IN ({list})"),
                chunk.iter().map(|c| t(c.as_str())).collect(),
            )
            .await?
            {
                let p = physician_of(&r)?;
                out.insert(p.code.clone(), p);
            }
        }
        Ok(out)
    }

    /// A physician.
    pub async fn physician(&self, code: &str) -> Result<Option<Physician>, StoreError> {
        sql::one(
            self.db(),
            "SELECT * FROM physicians WHERE code = ?",
            vec![t(code)],
        )
        .await?
        .as_ref()
        .map(physician_of)
        .transpose()
    }

    /// Physicians of an institution in code order after `after`, at most `limit`.
    pub async fn physicians_of(
        &self,
        institution: &InstitutionCode,
        after: &str,
        limit: u64,
    ) -> Result<Vec<Physician>, StoreError> {
        sql::all(
            self.db(),
            "SELECT * FROM physicians WHERE institution_code = ? AND code > ? ORDER BY code LIMIT ?",
            vec![
                t(institution.as_str()),
                t(after),
                i(i64::try_from(limit).unwrap_or(i64::MAX)),
            ],
        )
        .await?
        .iter()
        .map(physician_of)
        .collect()
    }

    /// Writes physicians (new or changed) in one transaction, journalling each.
    pub async fn write_physicians(
        &self,
        physicians: &[&Physician],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        let at = now();
        for p in physicians {
            sql::exec(
                &*txn,
                "INSERT INTO physicians (code, name, institution_code, status, status_reason, updated_at) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, institution_code = excluded.institution_code, \
                 status = excluded.status, status_reason = excluded.status_reason, updated_at = excluded.updated_at",
                vec![
                    t(p.code.clone()),
                    t(p.name.clone()),
                    t(p.institution.as_str()),
                    t(p.status.as_str()),
                    t(p.status_reason.clone()),
                    t(at.clone()),
                ],
            )
            .await?;
            journal(
                &*txn,
                p.institution.as_str(),
                "physician.written",
                serde_json::to_value(p).unwrap_or_default(),
                actor,
                &at,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
