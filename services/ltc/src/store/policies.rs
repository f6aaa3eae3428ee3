//! Benefit policy documents per region × year, versioned.

use super::sql::{exec, i4, int32, one, opt_int32, t, text};
use super::{StoreError, json, now, to_json};
use crate::domain::policy::BenefitPolicy;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use yibao_runtime::Actor;

/// A policy version as stored.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    /// Version (1, 2, …) within region × year.
    pub version: i32,
    /// The policy.
    pub policy: BenefitPolicy,
    /// The document as uploaded (normalised JSON).
    pub document_json: String,
    /// Subject.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
}

/// Stores a new version of a region's policy for a year; returns the version and the document
/// as stored.
pub async fn insert(
    txn: &DatabaseTransaction,
    region: &str,
    year: i32,
    policy: &BenefitPolicy,
    actor: &Actor,
) -> Result<(i32, String), StoreError> {
    let doc = to_json(policy)?;
    let latest = one(
        txn,
        "SELECT MAX(version) AS v FROM ltc_policies WHERE region_code = ? AND year = ?",
        vec![t(region), i4(year)],
    )
    .await?;
    let version = latest
        .as_ref()
        .map(|r| opt_int32(r, "v"))
        .transpose()?
        .flatten()
        .unwrap_or(0)
        + 1;
    exec(
        txn,
        "INSERT INTO ltc_policies (region_code, year, version, document_json, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![t(region), i4(year), i4(version), t(doc.clone()), t(actor.subject.clone()), t(actor.role.clone()), t(now())],
    )
    .await?;
    Ok((version, doc))
}

/// The latest policy uploaded exactly for `region` and `year`.
pub async fn latest<C: ConnectionTrait>(
    c: &C,
    region: &str,
    year: i32,
) -> Result<Option<PolicyRow>, StoreError> {
    let row = one(
        c,
        "SELECT version, document_json, actor, role, at FROM ltc_policies WHERE region_code = ? AND year = ? ORDER BY version DESC LIMIT 1",
        vec![t(region), i4(year)],
    )
    .await?;
    row.map(|r| -> Result<_, StoreError> {
        let doc = text(&r, "document_json")?;
        Ok(PolicyRow {
            version: int32(&r, "version")?,
            policy: json(&doc)?,
            document_json: doc,
            actor: text(&r, "actor")?,
            role: text(&r, "role")?,
            at: text(&r, "at")?,
        })
    })
    .transpose()
}
