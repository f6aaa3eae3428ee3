//! Versioned policy documents: upload (a version must exceed the stored ones), listing,
//! reading.

use super::{AppError, SettlementApp};
use crate::domain::{PolicyDocument, Scheme};
use crate::store::{Actor, PolicyHeader, Store, StoreError};
use yibao_core::RegionCode;
use yibao_runtime::Caller;

impl SettlementApp {
    /// Stores a new version of a document of `region` (every problem names its path inside
    /// `document_json`). The version must be above every stored version of the same id.
    pub async fn upload_policy(
        &self,
        c: &Caller,
        region: &RegionCode,
        document_json: &str,
    ) -> Result<PolicyHeader, AppError> {
        let doc = PolicyDocument::from_json(document_json)?;
        if doc.region != *region {
            return Err(AppError::invalid(
                "document_json.region",
                format!("must equal region_code {region}"),
            ));
        }
        let actor = Actor::from(c);
        let txn = self.store.begin().await?;
        if let Some(v) = self.store.latest_policy_version(&txn, &doc.id).await?
            && i64::from(doc.version) <= v
        {
            return Err(AppError::invalid(
                "document_json.version",
                format!(
                    "must be above the latest stored version {v} of `{}`",
                    doc.id
                ),
            ));
        }
        let text = doc
            .to_json()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match Store::insert_policy_row(&txn, &doc, &text, &actor, "").await {
            Err(e) if e.is_unique_violation() => {
                return Err(AppError::invalid(
                    "document_json.version",
                    format!(
                        "version {} of `{}` was stored concurrently",
                        doc.version, doc.id
                    ),
                ));
            }
            other => other?,
        }
        txn.commit().await?;
        Ok(self
            .store
            .policy_header(&doc.id, doc.version)
            .await?
            .ok_or_else(|| StoreError::Corrupt("policy vanished after insert".into()))?)
    }

    /// Headers of a region prefix: at most `fetch` after the key (id, version).
    pub async fn list_policies(
        &self,
        region_prefix: &str,
        year: Option<i32>,
        scheme: Option<Scheme>,
        after: Option<(&str, i64)>,
        fetch: u64,
    ) -> Result<Vec<PolicyHeader>, AppError> {
        Ok(self
            .store
            .list_policies(region_prefix, year, scheme, after, fetch)
            .await?)
    }

    /// One document (a version, or the latest when `version` is 0) the caller may read: an
    /// operator reads the policies of their region and those that apply to it.
    pub async fn get_policy(
        &self,
        c: &Caller,
        policy_id: &str,
        version: u32,
    ) -> Result<(PolicyHeader, String), AppError> {
        let (h, doc) = self
            .store
            .get_policy(policy_id, version)
            .await?
            .ok_or_else(|| AppError::NotFound("policy", policy_id.to_string()))?;
        let pr = RegionCode::parse(&h.region_code)
            .map_err(|e| AppError::invalid("region_code", e.to_string()))?;
        let applies = c.region.as_ref().is_some_and(|own| pr.covers(own));
        if !applies {
            c.check_region("region_code", &h.region_code)?;
        }
        Ok((h, doc))
    }
}
