//! The rule library: the rule set in force per region, its versions, and tuning.

use super::{AppError, Supervision};
use crate::domain::{RuleSet, RuleUpdate};
use crate::store::{Audit, Store};
use chrono::{NaiveDate, Utc};
use yibao_core::RegionCode;

/// The first day of the default rule set (version 1) of a region that never changed its rules.
pub fn default_effective_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

/// The rule set in force in a region: the latest version, or the default bundle (stored as
/// version 1 the first time it is needed, so findings can point at it).
pub async fn current_rules(store: &Store, region: &RegionCode) -> Result<RuleSet, AppError> {
    if let Some(set) = store.rules_version(region, None).await? {
        return Ok(set);
    }
    let set = RuleSet::default_for(region.clone(), default_effective_from());
    let system = Audit {
        actor: "system".into(),
        role: "system".into(),
        at: Utc::now(),
    };
    let txn = store.begin().await?;
    store
        .insert_rule_set(&txn, &set, "default policy bundle", &system)
        .await?;
    txn.commit().await?;
    Ok(store.rules_version(region, None).await?.unwrap_or(set))
}

impl Supervision {
    /// A version of a region's rule set (0: the one in force) with who made it.
    pub async fn rule_set(
        &self,
        region: &RegionCode,
        version: u32,
    ) -> Result<(RuleSet, Audit), AppError> {
        let current = current_rules(&self.store, region).await?;
        let version = if version == 0 {
            current.version
        } else {
            version
        };
        let (set, (made, _)) = self
            .store
            .rules_version_audited(region, Some(version))
            .await?
            .ok_or_else(|| AppError::RuleVersionUnknown {
                region: region.clone(),
                version,
            })?;
        Ok((set, made))
    }

    /// Stores the next version of a region's rule set with one rule changed, in force from
    /// today; refused when `expected_version` is no longer the latest.
    pub async fn update_rule(
        &self,
        made: &Audit,
        region: &RegionCode,
        change: &RuleUpdate,
        reason: &str,
        expected_version: u32,
    ) -> Result<RuleSet, AppError> {
        let current = current_rules(&self.store, region).await?;
        if expected_version != current.version {
            return Err(AppError::RuleVersionConflict {
                expected: expected_version,
                region: region.clone(),
                current: current.version,
            });
        }
        let mut next = current.update(change)?;
        next.effective_from = Utc::now().date_naive();
        self.store.save_rules(&next, reason, made).await?;
        tracing::info!(region = %region, rule = %change.code, version = next.version, actor = %made.actor, "rule set changed");
        Ok(next)
    }
}
