//! Versioned policy documents (data, not code): headers, documents (parsed once and cached),
//! the policy in force for an insured region, and the seeding of the default bundle.

use super::{Actor, Store, StoreError, like_prefix, limit, now, parse, scheme_of, scheme_str};
use crate::domain::{PolicyBundle, PolicyDocument, Scheme};
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult};
use std::sync::Arc;
use yibao_core::RegionCode;
use yibao_runtime::sql::{self, i, i4, int, int32, opt_int, t, text};

/// A policy document's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyHeader {
    /// Id.
    pub policy_id: String,
    /// Version.
    pub version: u32,
    /// Title.
    pub name: String,
    /// Region.
    pub region_code: String,
    /// Year.
    pub year: i32,
    /// Scheme.
    pub scheme: Scheme,
    /// First day in force.
    pub effective_from: String,
    /// Uploader.
    pub uploaded_by: String,
    /// Uploader's role.
    pub uploaded_role: String,
    /// When.
    pub uploaded_at: String,
}

impl Store {
    /// Stores the default bundle when no policy is stored yet; returns how many were stored.
    pub async fn seed_default_policies(&self, bundle: &PolicyBundle) -> Result<usize, StoreError> {
        let txn = self.begin().await?;
        let n = sql::one(&*txn, "SELECT COUNT(*) AS n FROM policies", vec![])
            .await?
            .map(|r| int(&r, "n"))
            .transpose()?
            .unwrap_or(0);
        if n > 0 {
            return Ok(0);
        }
        let actor = Actor {
            subject: "default-bundle".into(),
            role: "system".into(),
        };
        for doc in &bundle.policies {
            // Instances starting together may both seed: the second one's rows are ignored.
            Self::insert_policy_row(
                &txn,
                doc,
                &doc.to_json()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                &actor,
                " ON CONFLICT (policy_id, version) DO NOTHING",
            )
            .await?;
        }
        txn.commit().await?;
        Ok(bundle.policies.len())
    }

    /// Inserts a document row (`on_conflict` is appended to the statement).
    pub async fn insert_policy_row(
        txn: &DatabaseTransaction,
        doc: &PolicyDocument,
        json_text: &str,
        actor: &Actor,
        on_conflict: &str,
    ) -> Result<(), StoreError> {
        sql::exec(
            txn,
            &format!("INSERT INTO policies (policy_id, version, name, region_code, year, scheme, effective_from, document_json, uploaded_by, uploaded_role, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?){on_conflict}"),
            vec![
                t(&doc.id),
                i(i64::from(doc.version)),
                t(&doc.name),
                t(doc.region.to_string()),
                i4(doc.year),
                t(scheme_str(doc.scheme)),
                t(doc.effective_from.to_string()),
                t(json_text),
                t(&actor.subject),
                t(&actor.role),
                t(now()),
            ],
        )
        .await?;
        Ok(())
    }

    /// The highest stored version of a policy id.
    pub async fn latest_policy_version(
        &self,
        txn: &DatabaseTransaction,
        policy_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sql::one(
            txn,
            "SELECT MAX(version) AS v FROM policies WHERE policy_id = ?",
            vec![t(policy_id)],
        )
        .await?
        .map(|r| opt_int(&r, "v"))
        .transpose()?
        .flatten())
    }

    fn header_of(r: &QueryResult) -> Result<PolicyHeader, StoreError> {
        let scheme = text(r, "scheme")?;
        Ok(PolicyHeader {
            policy_id: text(r, "policy_id")?,
            version: u32::try_from(int(r, "version")?)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            name: text(r, "name")?,
            region_code: text(r, "region_code")?,
            year: int32(r, "year")?,
            scheme: scheme_of(&scheme)
                .ok_or_else(|| StoreError::Corrupt(format!("scheme `{scheme}`")))?,
            effective_from: text(r, "effective_from")?,
            uploaded_by: text(r, "uploaded_by")?,
            uploaded_role: text(r, "uploaded_role")?,
            uploaded_at: text(r, "uploaded_at")?,
        })
    }

    const HEADER_COLS: &'static str = "policy_id, version, name, region_code, year, scheme, effective_from, uploaded_by, uploaded_role, uploaded_at";

    /// The header of one version.
    pub async fn policy_header(
        &self,
        id: &str,
        version: u32,
    ) -> Result<Option<PolicyHeader>, StoreError> {
        let q = format!(
            "SELECT {} FROM policies WHERE policy_id = ? AND version = ?",
            Self::HEADER_COLS
        );
        sql::one(self.db(), &q, vec![t(id), i(i64::from(version))])
            .await?
            .map(|r| Self::header_of(&r))
            .transpose()
    }

    /// Headers of a region prefix, by id then newest version first: at most `fetch` rows after
    /// the key `after` (id, version) of the previous page.
    pub async fn list_policies(
        &self,
        region_prefix: &str,
        year: Option<i32>,
        scheme: Option<Scheme>,
        after: Option<(&str, i64)>,
        fetch: u64,
    ) -> Result<Vec<PolicyHeader>, StoreError> {
        // A province code lists its cities and counties: documents whose region lies inside.
        let mut q = format!(
            "SELECT {} FROM policies WHERE region_code LIKE ?",
            Self::HEADER_COLS
        );
        let mut v = vec![t(like_prefix(region_prefix))];
        if let Some(y) = year {
            q.push_str(" AND year = ?");
            v.push(i4(y));
        }
        if let Some(s) = scheme {
            q.push_str(" AND scheme = ?");
            v.push(t(scheme_str(s)));
        }
        if let Some((id, version)) = after {
            q.push_str(" AND (policy_id > ? OR (policy_id = ? AND version < ?))");
            v.extend([t(id), t(id), i(version)]);
        }
        q.push_str(" ORDER BY policy_id, version DESC LIMIT ?");
        v.push(limit(fetch));
        sql::all(self.db(), &q, v)
            .await?
            .iter()
            .map(Self::header_of)
            .collect()
    }

    /// One document: a version, or the latest when `version` is 0.
    pub async fn get_policy(
        &self,
        id: &str,
        version: u32,
    ) -> Result<Option<(PolicyHeader, String)>, StoreError> {
        let q = format!(
            "SELECT {}, document_json FROM policies WHERE policy_id = ? {} ORDER BY version DESC LIMIT 1",
            Self::HEADER_COLS,
            if version == 0 { "" } else { "AND version = ?" }
        );
        let mut v = vec![t(id)];
        if version != 0 {
            v.push(i(i64::from(version)));
        }
        match sql::one(self.db(), &q, v).await? {
            Some(r) => Ok(Some((Self::header_of(&r)?, text(&r, "document_json")?))),
            None => Ok(None),
        }
    }

    /// The parsed document (id, version), cached.
    pub async fn policy_document<C: ConnectionTrait>(
        &self,
        c: &C,
        id: &str,
        version: u32,
    ) -> Result<Arc<PolicyDocument>, StoreError> {
        if let Some(d) = self
            .policies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(id.to_string(), version))
        {
            return Ok(Arc::clone(d));
        }
        let r = sql::one(
            c,
            "SELECT document_json FROM policies WHERE policy_id = ? AND version = ?",
            vec![t(id), i(i64::from(version))],
        )
        .await?
        .ok_or_else(|| StoreError::PolicyNotFound(format!("{id} v{version}")))?;
        let doc: PolicyDocument = parse(&text(&r, "document_json")?, "policy document")?;
        let doc = Arc::new(doc);
        self.policies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((id.to_string(), version), Arc::clone(&doc));
        Ok(doc)
    }

    /// The policy for an insured person of `region` and `scheme` on `date`: the most specific
    /// region covering the insured region, then the highest version in force (as
    /// [`PolicyBundle::find`]).
    pub async fn find_policy(
        &self,
        region: &RegionCode,
        scheme: Scheme,
        date: NaiveDate,
    ) -> Result<Option<Arc<PolicyDocument>>, StoreError> {
        use chrono::Datelike;
        let rows = sql::all(
            self.db(),
            "SELECT policy_id, version, region_code FROM policies WHERE scheme = ? AND year = ? AND effective_from <= ?",
            vec![t(scheme_str(scheme)), i4(date.year()), t(date.to_string())],
        )
        .await?;
        let mut best: Option<(usize, i64, String)> = None;
        for r in &rows {
            let Ok(pr) = RegionCode::parse(&text(r, "region_code")?) else {
                continue;
            };
            if !pr.covers(region) {
                continue;
            }
            let key = (pr.prefix().len(), int(r, "version")?);
            if best.as_ref().is_none_or(|b| (b.0, b.1) < key) {
                best = Some((key.0, key.1, text(r, "policy_id")?));
            }
        }
        match best {
            Some((_, v, id)) => {
                let v = u32::try_from(v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(Some(self.policy_document(self.db(), &id, v).await?))
            }
            None => Ok(None),
        }
    }

    /// The insurer of a product offered by a policy of `year` covering `region`.
    pub async fn product_insurer(
        &self,
        region: &RegionCode,
        year: i32,
        product_code: &str,
    ) -> Result<Option<String>, StoreError> {
        let rows = sql::all(
            self.db(),
            "SELECT policy_id, version, region_code FROM policies WHERE year = ?",
            vec![i4(year)],
        )
        .await?;
        for r in &rows {
            let Ok(pr) = RegionCode::parse(&text(r, "region_code")?) else {
                continue;
            };
            if !pr.covers(region) && !region.covers(&pr) {
                continue;
            }
            let v = u32::try_from(int(r, "version")?)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let doc = self
                .policy_document(self.db(), &text(r, "policy_id")?, v)
                .await?;
            if let Some(p) = doc.supplements.iter().find(|p| p.code == product_code) {
                return Ok(Some(p.insurer_code.clone()));
            }
        }
        Ok(None)
    }
}
