//! Rows of the designated-institution registry, in portable SQL (decision 0007): an
//! institution's row (its latest region and kind, for listing), its versions, agreements and
//! status changes, and the registry's journal (`institution_history`: who changed what, when).
//! Insurance physicians are in [`super::physicians`].

use super::codec::{date, new_id, now, scheme_str};
use super::{Store, StoreError};
use crate::domain::Scheme;
use crate::domain::registry::roster::RosterPlan;
use crate::domain::registry::{
    Agreement, Grade, InstitutionFile, InstitutionKind, InstitutionStatus, InstitutionVersion,
    ServiceKind, StatusChange, Tier,
};
use sea_orm::{ConnectionTrait, QueryResult};
use std::collections::HashMap;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::Actor;
use yibao_runtime::sql::{self, i, int, t, text};

/// Codes per `IN (…)` list.
const CHUNK: usize = 500;

/// An entry of the registry's journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    /// What changed: `institution.registered`, `institution.version_written`,
    /// `agreement.written`, `status.changed`, `physician.written`.
    pub kind: String,
    /// The new state, as JSON.
    pub detail_json: String,
    /// Who.
    pub actor: String,
    /// In which role.
    pub role: String,
    /// When (RFC 3339).
    pub at: String,
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("stored {what} `{value}`"))
}

fn version_of(r: &QueryResult) -> Result<(String, InstitutionVersion), StoreError> {
    let kind = text(r, "kind")?;
    let grade = text(r, "grade")?;
    let tier = text(r, "tier")?;
    let region = text(r, "region_code")?;
    Ok((
        text(r, "code")?,
        InstitutionVersion {
            effective_from: date(&text(r, "effective_from")?)?,
            name: text(r, "name")?,
            kind: InstitutionKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
            grade: Grade::parse(&grade).ok_or_else(|| corrupt("grade", &grade))?,
            tier: Tier::parse(&tier).ok_or_else(|| corrupt("tier", &tier))?,
            region: RegionCode::parse(&region).map_err(|_| corrupt("region", &region))?,
            beds: int(r, "beds")?,
        },
    ))
}

fn agreement_of(r: &QueryResult) -> Result<(String, Agreement), StoreError> {
    let schemes = text(r, "schemes")?;
    let services = text(r, "service_kinds")?;
    Ok((
        text(r, "code")?,
        Agreement {
            agreement_no: text(r, "agreement_no")?,
            valid_from: date(&text(r, "valid_from")?)?,
            valid_to: date(&text(r, "valid_to")?)?,
            schemes: schemes
                .split(';')
                .map(|s| Scheme::parse(s).ok_or_else(|| corrupt("scheme", s)))
                .collect::<Result<_, _>>()?,
            services: services
                .split(';')
                .map(|s| ServiceKind::parse(s).ok_or_else(|| corrupt("service kind", s)))
                .collect::<Result<_, _>>()?,
        },
    ))
}

fn status_of(r: &QueryResult) -> Result<(String, StatusChange), StoreError> {
    let status = text(r, "status")?;
    Ok((
        text(r, "code")?,
        StatusChange {
            status: InstitutionStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            effective_on: date(&text(r, "effective_on")?)?,
            reason: text(r, "reason")?,
            actor: text(r, "actor")?,
            role: text(r, "role")?,
            at: text(r, "at")?,
        },
    ))
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Appends an entry to the registry's journal.
pub(super) async fn journal<C: ConnectionTrait>(
    c: &C,
    code: &str,
    kind: &str,
    detail: serde_json::Value,
    actor: &Actor,
    at: &str,
) -> Result<(), StoreError> {
    sql::exec(
        c,
        "INSERT INTO institution_history (id, code, kind, detail_json, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![
            t(new_id()),
            t(code),
            t(kind),
            t(detail.to_string()),
            t(actor.subject.clone()),
            t(actor.role.clone()),
            t(at),
        ],
    )
    .await?;
    Ok(())
}

fn join<T: Copy>(items: &[T], f: impl Fn(T) -> &'static str) -> String {
    items.iter().map(|x| f(*x)).collect::<Vec<_>>().join(";")
}

impl Store {
    /// The registry's files of `codes` (codes not registered are absent).
    pub async fn institution_files(
        &self,
        codes: &[InstitutionCode],
    ) -> Result<HashMap<InstitutionCode, InstitutionFile>, StoreError> {
        let mut out: HashMap<InstitutionCode, InstitutionFile> = HashMap::new();
        for chunk in codes.chunks(CHUNK) {
            let values: Vec<_> = chunk.iter().map(|c| t(c.as_str())).collect();
            let list = placeholders(chunk.len());
            let db = self.db();
            let known = sql::all(
                db,
                &format!("SELECT code FROM institutions WHERE code IN ({list})"),
                values.clone(),
            )
            .await?;
            for r in &known {
                let code = text(r, "code")?;
                let parsed = InstitutionCode::parse(&code)
                    .map_err(|_| corrupt("institution code", &code))?;
                out.insert(
                    parsed.clone(),
                    InstitutionFile {
                        code: parsed,
                        versions: Vec::new(),
                        agreements: Vec::new(),
                        status_changes: Vec::new(),
                    },
                );
            }
            for r in sql::all(
                db,
                &format!("SELECT * FROM institution_versions WHERE code IN ({list}) ORDER BY code, effective_from"),
                values.clone(),
            )
            .await?
            {
                let (code, v) = version_of(&r)?;
                if let Some(f) = file_mut(&mut out, &code) {
                    f.versions.push(v);
                }
            }
            for r in sql::all(
                db,
                &format!("SELECT * FROM institution_agreements WHERE code IN ({list}) ORDER BY code, valid_from, agreement_no"),
                values.clone(),
            )
            .await?
            {
                let (code, a) = agreement_of(&r)?;
                if let Some(f) = file_mut(&mut out, &code) {
                    f.agreements.push(a);
                }
            }
            for r in sql::all(
                db,
                &format!("SELECT * FROM institution_status_changes WHERE code IN ({list}) ORDER BY code, seq"),
                values,
            )
            .await?
            {
                let (code, s) = status_of(&r)?;
                if let Some(f) = file_mut(&mut out, &code) {
                    f.status_changes.push(s);
                }
            }
        }
        Ok(out)
    }

    /// The registry's file of one institution.
    pub async fn institution_file(
        &self,
        code: &InstitutionCode,
    ) -> Result<Option<InstitutionFile>, StoreError> {
        Ok(self
            .institution_files(std::slice::from_ref(code))
            .await?
            .remove(code))
    }

    /// Writes a roster's plan in one transaction, journalling every change.
    pub async fn write_roster(&self, plan: &RosterPlan, actor: &Actor) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        let at = now();
        for code in &plan.created {
            sql::exec(
                &*txn,
                "INSERT INTO institutions (code, region_code, kind, created_at) VALUES (?, ?, '', ?)",
                vec![t(code.as_str()), t(code.region().as_str()), t(at.clone())],
            )
            .await?;
            journal(
                &*txn,
                code.as_str(),
                "institution.registered",
                serde_json::json!({"institution_code": code.as_str()}),
                actor,
                &at,
            )
            .await?;
        }
        for (code, v, _) in &plan.versions {
            sql::exec(
                &*txn,
                "INSERT INTO institution_versions (code, effective_from, name, kind, grade, tier, region_code, beds, recorded_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (code, effective_from) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
                 grade = excluded.grade, tier = excluded.tier, region_code = excluded.region_code, beds = excluded.beds, \
                 recorded_at = excluded.recorded_at",
                vec![
                    t(code.as_str()),
                    t(v.effective_from.to_string()),
                    t(v.name.clone()),
                    t(v.kind.as_str()),
                    t(v.grade.as_str()),
                    t(v.tier.as_str()),
                    t(v.region.as_str()),
                    i(v.beds),
                    t(at.clone()),
                ],
            )
            .await?;
            journal(
                &*txn,
                code.as_str(),
                "institution.version_written",
                serde_json::to_value(v).unwrap_or_default(),
                actor,
                &at,
            )
            .await?;
        }
        // The listing columns follow the latest version.
        for code in plan.touched() {
            sql::exec(
                &*txn,
                "UPDATE institutions SET region_code = (SELECT v.region_code FROM institution_versions v WHERE v.code = ? ORDER BY v.effective_from DESC LIMIT 1), \
                 kind = (SELECT v.kind FROM institution_versions v WHERE v.code = ? ORDER BY v.effective_from DESC LIMIT 1) WHERE code = ?",
                vec![t(code.as_str()), t(code.as_str()), t(code.as_str())],
            )
            .await?;
        }
        for (code, a, _) in &plan.agreements {
            sql::exec(
                &*txn,
                "INSERT INTO institution_agreements (code, agreement_no, valid_from, valid_to, schemes, service_kinds, recorded_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (code, agreement_no) DO UPDATE SET valid_from = excluded.valid_from, valid_to = excluded.valid_to, \
                 schemes = excluded.schemes, service_kinds = excluded.service_kinds, recorded_at = excluded.recorded_at",
                vec![
                    t(code.as_str()),
                    t(a.agreement_no.clone()),
                    t(a.valid_from.to_string()),
                    t(a.valid_to.to_string()),
                    t(join(&a.schemes, scheme_str)),
                    t(join(&a.services, ServiceKind::as_str)),
                    t(at.clone()),
                ],
            )
            .await?;
            journal(
                &*txn,
                code.as_str(),
                "agreement.written",
                serde_json::to_value(a).unwrap_or_default(),
                actor,
                &at,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Appends a status change. `known` is the number of changes the caller's decision was
    /// made on: a change recorded meanwhile makes this one a conflict (retry).
    pub async fn record_status_change(
        &self,
        code: &InstitutionCode,
        change: &StatusChange,
        known: usize,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        let row = sql::one(
            &*txn,
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM institution_status_changes WHERE code = ?",
            vec![t(code.as_str())],
        )
        .await?;
        let n = row.map(|r| int(&r, "n")).transpose()?.unwrap_or(0);
        if usize::try_from(n).ok() != Some(known) {
            return Err(StoreError::Conflict(format!(
                "the status of {code} changed meanwhile; read it again"
            )));
        }
        sql::exec(
            &*txn,
            "INSERT INTO institution_status_changes (code, seq, status, effective_on, reason, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                t(code.as_str()),
                i(n + 1),
                t(change.status.as_str()),
                t(change.effective_on.to_string()),
                t(change.reason.clone()),
                t(change.actor.clone()),
                t(change.role.clone()),
                t(change.at.clone()),
            ],
        )
        .await?;
        journal(
            &*txn,
            code.as_str(),
            "status.changed",
            serde_json::json!({"status": change.status.as_str(), "effective_on": change.effective_on, "reason": change.reason}),
            actor,
            &change.at,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Codes of the institutions within a region prefix (by their latest version), optionally
    /// of one kind, in code order after `after`, at most `limit`.
    pub async fn institution_codes(
        &self,
        region_prefix: &str,
        kind: Option<InstitutionKind>,
        after: &str,
        limit: u64,
    ) -> Result<Vec<InstitutionCode>, StoreError> {
        let like = format!(
            "{}%",
            region_prefix
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
        );
        let mut q =
            "SELECT code FROM institutions WHERE region_code LIKE ? AND code > ?".to_string();
        let mut values = vec![t(like), t(after)];
        if let Some(k) = kind {
            q.push_str(" AND kind = ?");
            values.push(t(k.as_str()));
        }
        q.push_str(" ORDER BY code LIMIT ?");
        values.push(i(i64::try_from(limit).unwrap_or(i64::MAX)));
        sql::all(self.db(), &q, values)
            .await?
            .iter()
            .map(|r| {
                let code = text(r, "code")?;
                InstitutionCode::parse(&code).map_err(|_| corrupt("institution code", &code))
            })
            .collect()
    }

    /// The registry's journal of an institution, oldest first.
    pub async fn institution_history(
        &self,
        code: &InstitutionCode,
    ) -> Result<Vec<RegistryEntry>, StoreError> {
        sql::all(
            self.db(),
            "SELECT kind, detail_json, actor, role, at FROM institution_history WHERE code = ? ORDER BY id",
            vec![t(code.as_str())],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(RegistryEntry {
                kind: text(r, "kind")?,
                detail_json: text(r, "detail_json")?,
                actor: text(r, "actor")?,
                role: text(r, "role")?,
                at: text(r, "at")?,
            })
        })
        .collect()
    }
}

fn file_mut<'a>(
    out: &'a mut HashMap<InstitutionCode, InstitutionFile>,
    code: &str,
) -> Option<&'a mut InstitutionFile> {
    InstitutionCode::parse(code)
        .ok()
        .and_then(|c| out.get_mut(&c))
}
