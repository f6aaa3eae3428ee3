//! The payment-standard look-up as settlement uses it: a batch of item codes on a date in a
//! region, served from the cache (`deps.cache`: Redis, or in-process when embedded).
//!
//! One cache entry per item holds that item's whole history in every region, so a look-up
//! costs one cache read per item whatever the date, and a change of any standard of the item
//! deletes exactly one key. The region of treatment takes the standard of the most specific
//! region that has one in force on the date (county, then city, then province). Keys live in
//! a namespace stored in the database, so a fresh database never reads another's entries.

use crate::error::ProcError;
use crate::store::{Audit, Store, StoredStandard, region_chain};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use yibao_runtime::cache::Cache;

/// How long an item's history stays cached (every change deletes it at once).
const TTL: Duration = Duration::from_secs(3600);

/// Delay of the second invalidation.
const SECOND_DELETE: Duration = Duration::from_millis(500);

/// One stored standard as cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cached {
    region: String,
    from: NaiveDate,
    to: Option<NaiveDate>,
    amount: i64,
    basis: String,
    actor: String,
    role: String,
    at: String,
}

/// A standard found for an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Region whose standard applies.
    pub region: String,
    /// First day.
    pub from: NaiveDate,
    /// Last day, if closed.
    pub to: Option<NaiveDate>,
    /// Amount in fen.
    pub amount: i64,
    /// Why this amount.
    pub basis: String,
    /// Last change.
    pub updated: Audit,
}

/// The cached look-up of payment standards.
#[derive(Debug, Clone)]
pub struct StandardCache {
    cache: Arc<dyn Cache>,
    namespace: String,
}

impl StandardCache {
    /// A look-up over `cache` with keys under `namespace`.
    pub fn new(cache: Arc<dyn Cache>, namespace: String) -> StandardCache {
        StandardCache { cache, namespace }
    }

    fn key(&self, item: &str) -> String {
        format!("procurement:{}:ps:{item}", self.namespace)
    }

    /// Deletes the cached histories of items after a committed change of their standards,
    /// and once more a moment later: a look-up that read the database just before the commit
    /// may write the old history back after the first delete.
    pub async fn invalidate(&self, items: &[String]) {
        let keys: Vec<String> = items.iter().map(|i| self.key(i)).collect();
        delete(self.cache.as_ref(), &keys).await;
        let cache = Arc::clone(&self.cache);
        tokio::spawn(async move {
            tokio::time::sleep(SECOND_DELETE).await;
            delete(cache.as_ref(), &keys).await;
        });
    }

    /// Standards in force on `on` in `region` for each item, in the order asked. Items not in
    /// the cache are read from the store in one query and cached.
    pub async fn lookup(&self, store: &Store, region: &str, items: &[String], on: NaiveDate) -> Result<Vec<Option<Found>>, ProcError> {
        let chain = region_chain(region);
        let mut histories: HashMap<&str, Vec<Cached>> = HashMap::with_capacity(items.len());
        let mut missing: Vec<String> = Vec::new();
        for item in items {
            if histories.contains_key(item.as_str()) {
                continue;
            }
            match self.cache.get(&self.key(item)).await {
                Ok(Some(bytes)) => match serde_json::from_slice::<Vec<Cached>>(&bytes) {
                    Ok(h) => {
                        histories.insert(item, h);
                    }
                    Err(_) => missing.push(item.clone()),
                },
                Ok(None) => missing.push(item.clone()),
                Err(e) => {
                    tracing::warn!(error = %e, "payment-standard cache read failed; reading the database");
                    missing.push(item.clone());
                }
            }
        }
        if !missing.is_empty() {
            missing.sort();
            missing.dedup();
            let rows = store.standards_of_items(&missing).await?;
            let mut loaded: HashMap<String, Vec<Cached>> = missing.iter().map(|m| (m.clone(), Vec::new())).collect();
            for r in rows {
                loaded.entry(r.standard.item_code.as_str().to_string()).or_default().push(cached(&r));
            }
            for (item, history) in loaded {
                if let Ok(bytes) = serde_json::to_vec(&history)
                    && let Err(e) = self.cache.set(&self.key(&item), bytes, TTL).await
                {
                    tracing::warn!(error = %e, "payment-standard cache write failed");
                }
                if let Some(k) = items.iter().find(|i| **i == item) {
                    histories.insert(k.as_str(), history);
                }
            }
        }
        Ok(items
            .iter()
            .map(|item| {
                let history = histories.get(item.as_str())?;
                chain.iter().find_map(|r| {
                    history
                        .iter()
                        .find(|c| &c.region == r && c.from <= on && c.to.is_none_or(|to| on <= to))
                        .map(|c| Found {
                            region: c.region.clone(),
                            from: c.from,
                            to: c.to,
                            amount: c.amount,
                            basis: c.basis.clone(),
                            updated: Audit { actor: c.actor.clone(), role: c.role.clone(), at: c.at.clone() },
                        })
                })
            })
            .collect())
    }
}

async fn delete(cache: &dyn Cache, keys: &[String]) {
    if let Err(e) = cache.delete(keys).await {
        // A stale entry would price claims wrongly until its TTL: say so loudly.
        tracing::error!(error = %e, "payment-standard cache invalidation failed");
    }
}

fn cached(r: &StoredStandard) -> Cached {
    Cached {
        region: r.region.clone(),
        from: r.standard.period.from,
        to: r.standard.period.to,
        amount: r.standard.amount.0,
        basis: r.standard.basis.clone(),
        actor: r.updated.actor.clone(),
        role: r.updated.role.clone(),
        at: r.updated.at.clone(),
    }
}
