//! Rows of a person's certifications (chronic/special-disease certifications and cross-region
//! filings), in portable SQL. Every change is journalled in the person's history.

use super::codec::{date, new_id, now};
use super::persons::journal;
use super::{Entity, Store, StoreError};
use crate::domain::certifications::{
    ChronicCertification, CrossRegionFiling, FilingKind, Period, RecordStatus,
};
use sea_orm::QueryResult;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::Actor;
use yibao_runtime::sql::{self, opt_text, ot, t, text};

fn period_of(r: &QueryResult) -> Result<Period, StoreError> {
    Ok(Period {
        from: date(&text(r, "valid_from")?)?,
        to: opt_text(r, "valid_to")?.as_deref().map(date).transpose()?,
    })
}

fn status_of(r: &QueryResult) -> Result<RecordStatus, StoreError> {
    let s = text(r, "status")?;
    RecordStatus::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("stored status `{s}`")))
}

fn certification_of(r: &QueryResult) -> Result<ChronicCertification, StoreError> {
    let inst = text(r, "certifying_institution_code")?;
    Ok(ChronicCertification {
        id: text(r, "id")?,
        person_id: text(r, "person_id")?,
        disease_code: text(r, "disease_code")?,
        certifying_institution: InstitutionCode::parse(&inst)
            .map_err(|_| StoreError::Corrupt(format!("stored institution `{inst}`")))?,
        period: period_of(r)?,
        status: status_of(r)?,
        revoke_reason: text(r, "revoke_reason")?,
    })
}

fn filing_of(r: &QueryResult) -> Result<CrossRegionFiling, StoreError> {
    let kind = text(r, "kind")?;
    let dest = text(r, "destination_region_code")?;
    Ok(CrossRegionFiling {
        id: text(r, "id")?,
        person_id: text(r, "person_id")?,
        kind: FilingKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("stored filing kind `{kind}`")))?,
        destination: RegionCode::parse(&dest)
            .map_err(|_| StoreError::Corrupt(format!("stored region `{dest}`")))?,
        period: period_of(r)?,
        status: status_of(r)?,
        revoke_reason: text(r, "revoke_reason")?,
    })
}

fn to_text(p: &Period) -> (String, Option<String>) {
    (p.from.to_string(), p.to.map(|d| d.to_string()))
}

impl Store {
    /// A person's certifications, oldest first.
    pub async fn certifications(
        &self,
        person_id: &str,
    ) -> Result<Vec<ChronicCertification>, StoreError> {
        sql::all(
            self.db(),
            "SELECT * FROM chronic_certifications WHERE person_id = ? ORDER BY id",
            vec![t(person_id)],
        )
        .await?
        .iter()
        .map(certification_of)
        .collect()
    }

    /// A person's certifications of one disease (the settlement look-up).
    pub async fn certifications_of_disease(
        &self,
        person_id: &str,
        disease_code: &str,
    ) -> Result<Vec<ChronicCertification>, StoreError> {
        sql::all(
            self.db(),
            "SELECT * FROM chronic_certifications WHERE person_id = ? AND disease_code = ? ORDER BY id",
            vec![t(person_id), t(disease_code)],
        )
        .await?
        .iter()
        .map(certification_of)
        .collect()
    }

    /// A certification by id.
    pub async fn certification(&self, id: &str) -> Result<ChronicCertification, StoreError> {
        sql::one(
            self.db(),
            "SELECT * FROM chronic_certifications WHERE id = ?",
            vec![t(id)],
        )
        .await?
        .as_ref()
        .map(certification_of)
        .transpose()?
        .ok_or_else(|| StoreError::not_found(Entity::Certification, id))
    }

    /// Records a certification (its id is made here) and journals it.
    pub async fn add_certification(
        &self,
        c: &ChronicCertification,
        actor: &Actor,
    ) -> Result<ChronicCertification, StoreError> {
        let mut c = c.clone();
        c.id = new_id();
        let (from, to) = to_text(&c.period);
        let values = vec![
            t(c.id.clone()),
            t(c.person_id.clone()),
            t(c.disease_code.clone()),
            t(c.certifying_institution.as_str()),
            t(from),
            ot(to),
            t(c.status.as_str()),
            t(now()),
            t(actor.subject.clone()),
        ];
        let entry = serde_json::to_value(&c).unwrap_or_default();
        self.insert_journaled(
            "INSERT INTO chronic_certifications (id, person_id, disease_code, certifying_institution_code, valid_from, valid_to, status, revoke_reason, created_at, actor) \
             VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
            values,
            (&c.person_id, "certification.added", entry),
            actor,
        )
        .await?;
        Ok(c)
    }

    /// Revokes an active certification; a concurrent revocation is a conflict.
    pub async fn revoke_certification(
        &self,
        c: &ChronicCertification,
        reason: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        self.revoke_row(Revoked::Certification, &c.id, &c.person_id, reason, actor)
            .await
    }

    /// A person's filings, oldest first.
    pub async fn filings(&self, person_id: &str) -> Result<Vec<CrossRegionFiling>, StoreError> {
        sql::all(
            self.db(),
            "SELECT * FROM cross_region_filings WHERE person_id = ? ORDER BY id",
            vec![t(person_id)],
        )
        .await?
        .iter()
        .map(filing_of)
        .collect()
    }

    /// A filing by id.
    pub async fn filing(&self, id: &str) -> Result<CrossRegionFiling, StoreError> {
        sql::one(
            self.db(),
            "SELECT * FROM cross_region_filings WHERE id = ?",
            vec![t(id)],
        )
        .await?
        .as_ref()
        .map(filing_of)
        .transpose()?
        .ok_or_else(|| StoreError::not_found(Entity::Filing, id))
    }

    /// Records a filing (its id is made here) and journals it.
    pub async fn add_filing(
        &self,
        f: &CrossRegionFiling,
        actor: &Actor,
    ) -> Result<CrossRegionFiling, StoreError> {
        let mut f = f.clone();
        f.id = new_id();
        let (from, to) = to_text(&f.period);
        let values = vec![
            t(f.id.clone()),
            t(f.person_id.clone()),
            t(f.kind.as_str()),
            t(f.destination.as_str()),
            t(from),
            ot(to),
            t(f.status.as_str()),
            t(now()),
            t(actor.subject.clone()),
        ];
        let entry = serde_json::to_value(&f).unwrap_or_default();
        self.insert_journaled(
            "INSERT INTO cross_region_filings (id, person_id, kind, destination_region_code, valid_from, valid_to, status, revoke_reason, created_at, actor) \
             VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
            values,
            (&f.person_id, "filing.added", entry),
            actor,
        )
        .await?;
        Ok(f)
    }

    /// Revokes an active filing; a concurrent revocation is a conflict.
    pub async fn revoke_filing(
        &self,
        f: &CrossRegionFiling,
        reason: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        self.revoke_row(Revoked::Filing, &f.id, &f.person_id, reason, actor)
            .await
    }

    /// One insert and its journal entry (person, kind, entry) in one transaction.
    async fn insert_journaled(
        &self,
        statement: &str,
        values: Vec<sea_orm::Value>,
        (person_id, kind, entry): (&str, &str, serde_json::Value),
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        sql::exec(&*txn, statement, values).await?;
        journal(&txn, person_id, kind, entry, actor).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Revokes an active record and journals it; a concurrent revocation is a conflict.
    async fn revoke_row(
        &self,
        what: Revoked,
        id: &str,
        person_id: &str,
        reason: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let (table, name) = match what {
            Revoked::Certification => ("chronic_certifications", "certification"),
            Revoked::Filing => ("cross_region_filings", "filing"),
        };
        let txn = self.begin().await?;
        let n = sql::exec(
            &*txn,
            &format!(
                "UPDATE {table} SET status = 'revoked', revoke_reason = ?, revoked_at = ? WHERE id = ? AND status = 'active'"
            ),
            vec![t(reason), t(now()), t(id)],
        )
        .await?;
        if n != 1 {
            return Err(StoreError::Conflict(format!(
                "{name} {id} changed meanwhile"
            )));
        }
        let mut entry = serde_json::Map::new();
        entry.insert(format!("{name}_id"), id.into());
        entry.insert("reason".into(), reason.into());
        journal(
            &txn,
            person_id,
            &format!("{name}.revoked"),
            entry.into(),
            actor,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// The records [`Store::revoke_row`] revokes.
#[derive(Debug, Clone, Copy)]
enum Revoked {
    Certification,
    Filing,
}
