//! The payment-standard look-up as settlement uses it: a batch of item codes on a date in a
//! region, served from the cache (`deps.cache`: Redis, or in-process when embedded).
//!
//! One cache entry per item holds that item's whole history in every region, so a look-up
//! costs one cache read per item whatever the date, and a change of any standard of the item
//! deletes exactly one key. The region of treatment takes the standard of the most specific
//! region that has one in force on the date (county, then city, then province). Keys live in
//! a namespace stored in the database, so a fresh database never reads another's entries.

use crate::error::ProcError;
use crate::convert::standard_pb;
use crate::store::{Store, region_chain};
use chrono::NaiveDate;
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use yibao_proto::procurement::v1 as pb;
use yibao_runtime::cache::Cache;

/// How long an item's history stays cached (every change deletes it at once).
const TTL: Duration = Duration::from_secs(3600);

/// Delay of the second invalidation.
const SECOND_DELETE: Duration = Duration::from_millis(500);

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
    pub async fn lookup(&self, store: &Store, region: &str, items: &[String], on: NaiveDate) -> Result<Vec<Option<pb::PaymentStandard>>, ProcError> {
        let chain = region_chain(region);
        let on = on.to_string();
        let mut histories: HashMap<&str, Vec<pb::PaymentStandard>> = HashMap::with_capacity(items.len());
        let mut missing: Vec<String> = Vec::new();
        // All keys at once: on Redis the reads share one multiplexed connection in flight.
        let keys: Vec<String> = items.iter().map(|i| self.key(i)).collect();
        let reads = futures::future::join_all(keys.iter().map(|k| self.cache.get(k))).await;
        for (item, read) in items.iter().zip(reads) {
            if histories.contains_key(item.as_str()) {
                continue;
            }
            match read {
                Ok(Some(bytes)) => match decode(&bytes) {
                    Some(h) => {
                        histories.insert(item, h);
                    }
                    None => missing.push(item.clone()),
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
            let mut loaded: HashMap<String, Vec<pb::PaymentStandard>> = missing.iter().map(|m| (m.clone(), Vec::new())).collect();
            for r in &rows {
                loaded.entry(r.standard.item_code.as_str().to_string()).or_default().push(standard_pb(r));
            }
            for (item, history) in loaded {
                if let Err(e) = self.cache.set(&self.key(&item), encode(&history), TTL).await {
                    tracing::warn!(error = %e, "payment-standard cache write failed");
                }
                if let Some(k) = items.iter().find(|i| **i == item) {
                    histories.insert(k.as_str(), history);
                }
            }
        }
        // ISO dates compare as text.
        let in_force = |s: &pb::PaymentStandard| s.valid_from_date.as_str() <= on.as_str() && (s.valid_to_date.is_empty() || on.as_str() <= s.valid_to_date.as_str());
        Ok(items
            .iter()
            .map(|item| {
                let history = histories.get(item.as_str())?;
                chain.iter().find_map(|r| history.iter().find(|s| &s.region_code == r && in_force(s)).cloned())
            })
            .collect())
    }
}

/// A history as cached: the protobuf messages the response carries, length-delimited.
fn encode(history: &[pb::PaymentStandard]) -> Vec<u8> {
    let mut out = Vec::with_capacity(history.iter().map(|s| s.encoded_len() + 2).sum());
    for s in history {
        // Writing into a Vec cannot run out of space.
        let _ = s.encode_length_delimited(&mut out);
    }
    out
}

fn decode(mut bytes: &[u8]) -> Option<Vec<pb::PaymentStandard>> {
    let mut out = Vec::with_capacity(4);
    while !bytes.is_empty() {
        out.push(pb::PaymentStandard::decode_length_delimited(&mut bytes).ok()?);
    }
    Some(out)
}

async fn delete(cache: &dyn Cache, keys: &[String]) {
    if let Err(e) = cache.delete(keys).await {
        // A stale entry would price claims wrongly until its TTL: say so loudly.
        tracing::error!(error = %e, "payment-standard cache invalidation failed");
    }
}
