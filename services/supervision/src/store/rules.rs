//! The rule library: every version of every region's rule set, never overwritten.

use super::{Audit, Store, StoreError, json, rfc3339, s, to_json};
use crate::domain::RuleSet;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use std::collections::{BTreeMap, BTreeSet};
use yibao_core::RegionCode;

impl Store {
    /// A version of a region's rule set (`None`: the latest).
    pub async fn rules_version(
        &self,
        region: &RegionCode,
        version: Option<u32>,
    ) -> Result<Option<RuleSet>, StoreError> {
        Ok(self
            .rules_version_audited(region, version)
            .await?
            .map(|(set, _)| set))
    }

    /// A version of a region's rule set with who made it and why.
    pub async fn rules_version_audited(
        &self,
        region: &RegionCode,
        version: Option<u32>,
    ) -> Result<Option<(RuleSet, (Audit, String))>, StoreError> {
        let row = match version {
            Some(v) => {
                self.one(self.db(), "SELECT doc, actor, role, at, reason FROM rule_sets WHERE region_code = ? AND version = ?", vec![region.to_string().into(), i64::from(v).into()])
                    .await?
            }
            None => {
                self.one(self.db(), "SELECT doc, actor, role, at, reason FROM rule_sets WHERE region_code = ? ORDER BY version DESC LIMIT 1", vec![region.to_string().into()])
                    .await?
            }
        };
        let Some(row) = row else { return Ok(None) };
        // A version stored before a rule joined the catalogue gets it as the default has it.
        let set = json::<RuleSet>(&row, "doc")?.completed();
        let at = DateTime::parse_from_rfc3339(&s(&row, "at")?)
            .map_err(StoreError::corrupt)?
            .with_timezone(&Utc);
        Ok(Some((
            set,
            (
                Audit {
                    actor: s(&row, "actor")?,
                    role: s(&row, "role")?,
                    at,
                },
                s(&row, "reason")?,
            ),
        )))
    }

    /// Inserts a version of a rule set unless that version is stored; returns the rows written
    /// (0 or 1).
    pub async fn insert_rule_set(
        &self,
        txn: &DatabaseTransaction,
        set: &RuleSet,
        reason: &str,
        audit: &Audit,
    ) -> Result<u64, StoreError> {
        self.exec(
            txn,
            "INSERT INTO rule_sets (region_code, version, effective_from, doc, reason, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            vec![
                set.region.to_string().into(),
                i64::from(set.version).into(),
                set.effective_from.to_string().into(),
                to_json(set)?.into(),
                reason.to_string().into(),
                audit.actor.clone().into(),
                audit.role.clone().into(),
                rfc3339(audit.at).into(),
            ],
        )
        .await
    }

    /// The latest version number of a region's rules, if any is stored.
    pub async fn latest_rule_version<C: ConnectionTrait>(
        &self,
        c: &C,
        region: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self
            .one(
                c,
                "SELECT MAX(version) AS v FROM rule_sets WHERE region_code = ?",
                vec![region.to_string().into()],
            )
            .await?
            .and_then(|r| r.try_get::<Option<i64>>("", "v").ok().flatten()))
    }

    /// Stores the next version of a region's rule set. Refused when another version was stored
    /// since `next.version - 1` was read.
    pub async fn save_rules(
        &self,
        next: &RuleSet,
        reason: &str,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        let latest = self
            .latest_rule_version(&*txn, next.region.as_str())
            .await?
            .unwrap_or(0);
        if latest + 1 != i64::from(next.version) {
            return Err(StoreError::Conflict(format!(
                "rule set of {} is at version {latest}; re-read and retry",
                next.region
            )));
        }
        let n = self.insert_rule_set(&txn, next, reason, audit).await?;
        if n != 1 {
            return Err(StoreError::Conflict(format!(
                "version {} of {} was stored concurrently",
                next.version, next.region
            )));
        }
        txn.commit().await?;
        Ok(())
    }

    /// The latest version number of each region's rules among `regions`.
    pub async fn latest_rule_versions(
        &self,
        regions: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, u32>, StoreError> {
        let mut out = BTreeMap::new();
        for r in regions {
            if let Some(v) = self.latest_rule_version(self.db(), r).await? {
                out.insert(r.clone(), u32::try_from(v).unwrap_or(0));
            }
        }
        Ok(out)
    }
}
