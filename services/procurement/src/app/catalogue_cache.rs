//! The catalogue cache behind `ResolveCatalogue`, which settlement calls for every claim: one
//! entry per code holding every version of it in every region, served from `deps.cache`
//! (Redis, or in-process when embedded) — the same pattern as [`super::StandardCache`]. A code
//! in no catalogue is cached too (as no versions), so unknown codes cost no query either. Every
//! committed write deletes the keys of the codes it wrote, at once and once more 0.5 s later (a
//! look-up that read the database just before the commit may write the old versions back after
//! the first delete). Keys live under the namespace stored in the service's database, so a
//! fresh database never reads another's entries.

use super::AppError;
use crate::domain::RegionVersion;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use yibao_runtime::cache::Cache;

/// How long a code's versions stay cached (every change deletes them at once).
const TTL: Duration = Duration::from_secs(3600);

/// Delay of the second invalidation.
const SECOND_DELETE: Duration = Duration::from_millis(500);

/// Keys of one delete.
const DELETE_CHUNK: usize = 500;

/// The cached versions of catalogue codes.
#[derive(Debug, Clone)]
pub struct CatalogueCache {
    cache: Arc<dyn Cache>,
    namespace: String,
}

impl CatalogueCache {
    /// A cache over `cache` with keys under `namespace`.
    pub fn new(cache: Arc<dyn Cache>, namespace: String) -> CatalogueCache {
        CatalogueCache { cache, namespace }
    }

    fn key(&self, code: &str) -> String {
        format!("procurement:{}:cat:{code}", self.namespace)
    }

    /// Deletes the cached versions of `codes` after a committed change, and once more a moment
    /// later.
    pub async fn invalidate(&self, codes: &[String]) {
        if codes.is_empty() {
            return;
        }
        let keys: Vec<String> = codes.iter().map(|c| self.key(c)).collect();
        delete(self.cache.as_ref(), &keys).await;
        let cache = Arc::clone(&self.cache);
        tokio::spawn(async move {
            tokio::time::sleep(SECOND_DELETE).await;
            delete(cache.as_ref(), &keys).await;
        });
    }

    /// Every version of each code (national codes, deduplicated) in every region: one cache
    /// read per code, all in flight at once, and one query for the codes the cache misses.
    pub async fn lookup(
        &self,
        store: &Store,
        codes: &[String],
    ) -> Result<HashMap<String, Vec<RegionVersion>>, AppError> {
        let keys: Vec<String> = codes.iter().map(|c| self.key(c)).collect();
        let reads = futures::future::join_all(keys.iter().map(|k| self.cache.get(k))).await;
        let mut out = HashMap::with_capacity(codes.len());
        let mut missing = Vec::new();
        for (code, read) in codes.iter().zip(reads) {
            let hit = match read {
                Ok(Some(bytes)) => serde_json::from_slice::<Vec<RegionVersion>>(&bytes).ok(),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "catalogue cache read failed; reading the database");
                    None
                }
            };
            match hit {
                Some(versions) => {
                    out.insert(code.clone(), versions);
                }
                None => missing.push(code.clone()),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let mut loaded: HashMap<String, Vec<RegionVersion>> =
            missing.iter().map(|c| (c.clone(), Vec::new())).collect();
        for s in store.versions_of_codes(store.db(), &missing).await? {
            if let Some(v) = loaded.get_mut(s.entry.code.as_str()) {
                v.push(s.region_version());
            }
        }
        for (code, versions) in loaded {
            match serde_json::to_vec(&versions) {
                Ok(bytes) => {
                    if let Err(e) = self.cache.set(&self.key(&code), bytes, TTL).await {
                        tracing::warn!(error = %e, "catalogue cache write failed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "catalogue cache entry not encoded"),
            }
            out.insert(code, versions);
        }
        Ok(out)
    }
}

async fn delete(cache: &dyn Cache, keys: &[String]) {
    for chunk in keys.chunks(DELETE_CHUNK) {
        if let Err(e) = cache.delete(chunk).await {
            // A stale entry would classify claims wrongly until its TTL: say so loudly.
            tracing::error!(error = %e, "catalogue cache invalidation failed");
        }
    }
}
