//! The payment-standard cache behind the look-up settlement makes on every claim: a batch of
//! item codes on a date in a region, served from `deps.cache` (Redis, or in-process when
//! embedded).
//!
//! One cache entry per item holds that item's whole history in every region, so a look-up
//! costs one cache read per item whatever the date, and a change of any standard of the item
//! deletes exactly one key. Each standard is cached as a fixed header (region, dates) and the
//! protobuf message of the response: the look-up compares headers and decodes one message,
//! and nothing is mapped on the hot path. This is the one place `app/` holds a proto type, so
//! the mapping of a stored standard to its wire form ([`wire`]) is written here once and
//! `api/` uses it too. The region of treatment takes the standard of the most specific region
//! that has one in force on the date (county, then city, then province). Keys live in a
//! namespace stored in the database, so a fresh database never reads another's entries.

use super::AppError;
use crate::store::{Store, StoredStandard, region_chain};
use chrono::NaiveDate;
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use yibao_proto::common::v1 as common;
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
    pub async fn lookup(
        &self,
        store: &Store,
        region: &str,
        items: &[String],
        on: NaiveDate,
    ) -> Result<Vec<Option<pb::PaymentStandard>>, AppError> {
        let chain = region_chain(region);
        let on = on.to_string();
        let mut out: Vec<Option<pb::PaymentStandard>> = Vec::with_capacity(items.len());
        let mut missing: Vec<usize> = Vec::new();
        // All keys at once: on Redis the reads share one multiplexed connection in flight.
        let keys: Vec<String> = items.iter().map(|i| self.key(i)).collect();
        let reads = futures::future::join_all(keys.iter().map(|k| self.cache.get(k))).await;
        for (i, read) in reads.into_iter().enumerate() {
            match read {
                Ok(Some(bytes)) => match select(&bytes, &chain, &on) {
                    Some(found) => out.push(found),
                    None => {
                        out.push(None);
                        missing.push(i);
                    }
                },
                Ok(None) => {
                    out.push(None);
                    missing.push(i);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "payment-standard cache read failed; reading the database");
                    out.push(None);
                    missing.push(i);
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let mut codes: Vec<String> = missing
            .iter()
            .filter_map(|i| items.get(*i).cloned())
            .collect();
        codes.sort();
        codes.dedup();
        let rows = store.standards_of_items(&codes).await?;
        let mut loaded: HashMap<String, Vec<u8>> =
            codes.iter().map(|c| (c.clone(), Vec::new())).collect();
        for r in &rows {
            if let Some(buf) = loaded.get_mut(r.standard.item_code.as_str()) {
                encode_entry(buf, &wire(r));
            }
        }
        for (item, bytes) in &loaded {
            if let Err(e) = self.cache.set(&self.key(item), bytes.clone(), TTL).await {
                tracing::warn!(error = %e, "payment-standard cache write failed");
            }
        }
        for i in missing {
            if let (Some(item), Some(slot)) = (items.get(i), out.get_mut(i)) {
                *slot = loaded
                    .get(item)
                    .and_then(|bytes| select(bytes, &chain, &on))
                    .flatten();
            }
        }
        Ok(out)
    }
}

/// A stored standard in the wire form the look-up and the write RPCs answer with.
pub fn wire(s: &StoredStandard) -> pb::PaymentStandard {
    pb::PaymentStandard {
        item_code: s.standard.item_code.to_string(),
        region_code: s.region.clone(),
        amount_fen: s.standard.amount.0,
        valid_from_date: s.standard.period.from.to_string(),
        valid_to_date: s
            .standard
            .period
            .to
            .map(|d| d.to_string())
            .unwrap_or_default(),
        basis: s.standard.basis.clone(),
        updated: Some(common::Audit {
            actor: s.updated.actor.clone(),
            role: s.updated.role.clone(),
            at: s.updated.at.clone(),
        }),
    }
}

/// Width of a cached entry's header: region (6) + first day (10) + last day (10, spaces while
/// open-ended) + length of the message (4, little-endian).
const HEADER: usize = 30;

/// Appends one standard to a cached history: a fixed header that the look-up compares without
/// decoding, then the protobuf message the response carries.
fn encode_entry(buf: &mut Vec<u8>, s: &pb::PaymentStandard) {
    let msg = s.encode_to_vec();
    let pad = |t: &str, n: usize| -> Vec<u8> {
        let mut v = t.as_bytes().to_vec();
        v.resize(n, b' ');
        v.truncate(n);
        v
    };
    buf.extend(pad(&s.region_code, 6));
    buf.extend(pad(&s.valid_from_date, 10));
    buf.extend(pad(&s.valid_to_date, 10));
    buf.extend(u32::try_from(msg.len()).unwrap_or(u32::MAX).to_le_bytes());
    buf.extend(msg);
}

/// The standard of a cached history in force on `on` in the most specific region of `chain`:
/// `Some(found or not)`, or `None` when the bytes are not a history (read the database).
fn select(mut bytes: &[u8], chain: &[String], on: &str) -> Option<Option<pb::PaymentStandard>> {
    let on = on.as_bytes();
    // (rank in the chain, message) of the best entry so far.
    let mut best: Option<(usize, &[u8])> = None;
    while !bytes.is_empty() {
        let header = bytes.get(..HEADER)?;
        let len = usize::try_from(u32::from_le_bytes(header.get(26..30)?.try_into().ok()?)).ok()?;
        let msg = bytes.get(HEADER..HEADER + len)?;
        bytes = bytes.get(HEADER + len..)?;
        let (region, from, to) = (&header[..6], &header[6..16], &header[16..26]);
        // ISO dates compare as bytes; an open end is blank.
        let in_force = from <= on && (to[0] == b' ' || on <= to);
        if !in_force {
            continue;
        }
        if let Some(rank) = chain.iter().position(|r| r.as_bytes() == region)
            && best.is_none_or(|(b, _)| rank < b)
        {
            best = Some((rank, msg));
        }
    }
    match best {
        Some((_, msg)) => pb::PaymentStandard::decode(msg).ok().map(Some),
        None => Some(None),
    }
}

async fn delete(cache: &dyn Cache, keys: &[String]) {
    if let Err(e) = cache.delete(keys).await {
        // A stale entry would price claims wrongly until its TTL: say so loudly.
        tracing::error!(error = %e, "payment-standard cache invalidation failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standard(region: &str, from: &str, to: &str, amount: i64) -> pb::PaymentStandard {
        pb::PaymentStandard {
            item_code: "X".into(),
            region_code: region.into(),
            amount_fen: amount,
            valid_from_date: from.into(),
            valid_to_date: to.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_cached_history_answers_by_date_and_the_most_specific_region() {
        let mut buf = Vec::new();
        for s in [
            standard("340000", "2025-01-01", "2025-12-31", 100),
            standard("340000", "2026-01-01", "", 70),
            standard("341522", "2026-07-01", "", 65),
        ] {
            encode_entry(&mut buf, &s);
        }
        let chain = region_chain("341522");
        let amount = |on: &str| {
            select(&buf, &chain, on)
                .expect("a history")
                .map(|s| s.amount_fen)
        };
        assert_eq!(amount("2024-12-31"), None);
        assert_eq!(amount("2025-12-31"), Some(100));
        assert_eq!(amount("2026-01-01"), Some(70));
        assert_eq!(amount("2026-07-01"), Some(65));
        assert_eq!(
            select(&buf, &region_chain("341500"), "2026-07-01")
                .unwrap()
                .map(|s| s.amount_fen),
            Some(70)
        );
        assert_eq!(
            select(&buf, &region_chain("320000"), "2026-07-01").unwrap(),
            None
        );
        assert_eq!(
            select(&buf[..buf.len() - 1], &chain, "2026-07-01"),
            None,
            "truncated bytes are not a history"
        );
        assert_eq!(
            select(&[], &chain, "2026-07-01"),
            Some(None),
            "an empty history is cached too"
        );
    }
}
