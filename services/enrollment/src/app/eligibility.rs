//! Eligibility of a person on a date, the hottest read of the platform: the person's file
//! (everything the rule needs, no clear ID number) is cached under a keyed hash of the ID
//! number for [`ELIGIBILITY_TTL`]; every change to a person invalidates their entry at once.
//! A cache hit is one cache read and the pure rule; a miss reads the database (three
//! queries) and fills the cache. Cache failures fall back to the database.
//!
//! **An invalidation that fails** (Redis unreachable) must not leave a stale file to be
//! served once Redis answers again — it may come back with its data, or may have been
//! unreachable from this replica only. Every key carries the cache's *epoch*, kept in the
//! database (`store::cache_epochs`): a failed invalidation bumps it there, in the database the
//! change was just written to, and switches this replica to the new epoch at once; every
//! replica re-reads the epoch every [`EPOCH_REFRESH`] ([`EligibilityCache::watch`]). So the
//! stale entry, under the old epoch, is never read again: by this replica at once, by the
//! others within a second. An invalidation reads the epoch from the database first and
//! deletes the keys of that epoch and of the [`EPOCHS_BEHIND`] before it, so a replica that
//! has not yet seen a bump finds nothing stale either. If the bump itself cannot be written
//! (the database went down just after the change), this replica stops using the cache until
//! the bump is written by the watch. Until a replica has read the epoch it does not use the
//! cache at all.

use super::tenancy::scope_file;
use super::{AppError, Enrollment};
use crate::domain::PersonFile;
use crate::domain::eligibility::{Eligibility, eligibility};
use crate::store::Store;
use crate::store::cache_epochs::ELIGIBILITY;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use yibao_core::IdNumber;
use yibao_runtime::Caller;
use yibao_runtime::cache::Cache;

/// How long a person's eligibility file stays in the cache (changes invalidate it at once).
pub const ELIGIBILITY_TTL: Duration = Duration::from_secs(600);

/// How often every replica re-reads the cache's epoch from the database.
pub const EPOCH_REFRESH: Duration = Duration::from_secs(1);

/// Epochs before the current one whose keys an invalidation deletes too (a replica may read
/// entries of an epoch it has not yet seen replaced).
pub const EPOCHS_BEHIND: i64 = 2;

/// The epoch before it has been read.
const UNKNOWN: i64 = -1;

/// Which cache an [`EpochCache`] is: the name of its epoch in the database, the prefix of its
/// keys and the label its key hashes are made under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheKind {
    /// Name of the epoch in `cache_epochs`.
    pub epoch_name: &'static str,
    /// Prefix of every key, before the epoch.
    pub key_prefix: &'static str,
    /// Label hashed with each key (keeps the caches' keys apart).
    pub label: &'static [u8],
}

/// The eligibility cache: person files under keyed hashes of ID numbers.
pub const ELIGIBILITY_CACHE: CacheKind = CacheKind {
    epoch_name: ELIGIBILITY,
    key_prefix: "yibao:elig:v3",
    label: b"|eligibility|",
};

/// A cache of files keyed without PII and by the cache's epoch (see the module's doc): the
/// eligibility cache of person files, and the same mechanism for institution files
/// (`app::registry`).
#[derive(Debug, Clone)]
pub struct EpochCache {
    inner: Arc<Inner>,
}

/// The cache of person files.
pub type EligibilityCache = EpochCache;

#[derive(Debug)]
struct Inner {
    kind: CacheKind,
    cache: Arc<dyn Cache>,
    /// Key of the HMAC that turns ID numbers into cache keys (no PII in Redis).
    pii_key: Vec<u8>,
    store: Store,
    /// The epoch in use, [`UNKNOWN`] until read (or while a bump is owed).
    epoch: AtomicI64,
    /// An invalidation failed and the bump of the epoch could not be written yet.
    bump_owed: AtomicBool,
    /// Held while `epoch` and `bump_owed` change together (reads take neither).
    update: Mutex<()>,
}

/// The answer for a registered person: their file and what the rule decided on the date.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The person's file.
    pub file: PersonFile,
    /// The rule's decision.
    pub eligibility: Eligibility,
    /// The date it was decided for.
    pub date: chrono::NaiveDate,
}

impl Answer {
    /// The rule applied to a file on a date.
    pub fn decide(file: PersonFile, date: chrono::NaiveDate) -> Answer {
        Answer {
            eligibility: eligibility(&file, date),
            file,
            date,
        }
    }
}

impl EpochCache {
    /// A cache of person files keyed by `pii_key`, its epoch kept in `store`. It is not used
    /// until [`EpochCache::refresh_epoch`] has read the epoch.
    pub fn new(cache: Arc<dyn Cache>, pii_key: &[u8], store: Store) -> EpochCache {
        EpochCache::of_kind(ELIGIBILITY_CACHE, cache, pii_key, store)
    }

    /// A cache of `kind`, keyed by `pii_key`, its epoch kept in `store`.
    pub fn of_kind(
        kind: CacheKind,
        cache: Arc<dyn Cache>,
        pii_key: &[u8],
        store: Store,
    ) -> EpochCache {
        EpochCache {
            inner: Arc::new(Inner {
                kind,
                cache,
                pii_key: pii_key.to_vec(),
                store,
                epoch: AtomicI64::new(UNKNOWN),
                bump_owed: AtomicBool::new(false),
                update: Mutex::new(()),
            }),
        }
    }

    /// The epoch in use; `None` while the cache is not to be used.
    pub fn epoch(&self) -> Option<i64> {
        let e = self.inner.epoch.load(Ordering::Acquire);
        (e >= 0).then_some(e)
    }

    fn hash(&self, id_number: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.inner.pii_key.as_slice());
        h.update(self.inner.kind.label);
        h.update(id_number.as_bytes());
        hex::encode(&h.finalize()[..16])
    }

    fn key_of(&self, epoch: i64, hash: &str) -> String {
        format!("{}:{epoch}:{hash}", self.inner.kind.key_prefix)
    }

    /// The cache key of an ID number (or another file's key) under `epoch`.
    pub fn key(&self, epoch: i64, id_number: &str) -> String {
        self.key_of(epoch, &self.hash(id_number))
    }

    fn updating(&self) -> MutexGuard<'_, ()> {
        self.inner.update.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves to `epoch` if it is newer than the one in use (epochs only grow), unless a bump
    /// is owed.
    fn note(&self, epoch: i64) {
        let _g = self.updating();
        if !self.inner.bump_owed.load(Ordering::Acquire) {
            self.inner.epoch.fetch_max(epoch, Ordering::AcqRel);
        }
    }

    /// A bump to `epoch` was written: it is the one in use, and no bump is owed.
    fn bumped(&self, epoch: i64) {
        let _g = self.updating();
        self.inner.bump_owed.store(false, Ordering::Release);
        self.inner.epoch.fetch_max(epoch, Ordering::AcqRel);
    }

    /// Reads the epoch from the database (writing first a bump that is owed); the cache is
    /// used from then on.
    pub async fn refresh_epoch(&self) -> Result<i64, AppError> {
        if self.inner.bump_owed.load(Ordering::Acquire) {
            let e = self
                .inner
                .store
                .bump_cache_epoch(self.inner.kind.epoch_name)
                .await?;
            self.bumped(e);
            tracing::info!(
                cache = self.inner.kind.epoch_name,
                epoch = e,
                "epoch cache: the owed epoch bump is written"
            );
            return Ok(e);
        }
        let e = self
            .inner
            .store
            .cache_epoch(self.inner.kind.epoch_name)
            .await?;
        self.note(e);
        Ok(e)
    }

    /// Re-reads the epoch every [`EPOCH_REFRESH`] until the cache is dropped.
    pub fn watch(&self) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(EPOCH_REFRESH).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let cache = EpochCache { inner };
                if let Err(e) = cache.refresh_epoch().await {
                    tracing::debug!(cache = cache.inner.kind.epoch_name, error = %e, "epoch cache: the epoch could not be read");
                }
            }
        })
    }

    /// Makes every entry cached so far unreachable: a new epoch in the database. When it
    /// cannot be written, this replica stops using the cache until the watch writes it.
    async fn fence(&self) {
        match self
            .inner
            .store
            .bump_cache_epoch(self.inner.kind.epoch_name)
            .await
        {
            Ok(e) => {
                self.bumped(e);
                tracing::warn!(
                    cache = self.inner.kind.epoch_name,
                    epoch = e,
                    "epoch cache: an invalidation failed; moved every replica to a new epoch"
                );
            }
            Err(e) => {
                {
                    let _g = self.updating();
                    self.inner.bump_owed.store(true, Ordering::Release);
                    self.inner.epoch.store(UNKNOWN, Ordering::Release);
                }
                tracing::error!(cache = self.inner.kind.epoch_name, error = %e, "epoch cache: an invalidation failed and the epoch could not be bumped; the cache is not used until it is");
            }
        }
    }

    /// Invalidates a person's cached file by clear ID number.
    pub async fn invalidate(&self, id_number: &str) {
        self.invalidate_ids(&[id_number]).await;
    }

    /// Invalidates people's cached files by clear ID numbers, in one cache call: their keys
    /// under the database's epoch and the [`EPOCHS_BEHIND`] before it. Never fails: when the
    /// cache cannot be reached, the epoch moves on instead.
    pub async fn invalidate_ids(&self, id_numbers: &[&str]) {
        if id_numbers.is_empty() {
            return;
        }
        let current = match self
            .inner
            .store
            .cache_epoch(self.inner.kind.epoch_name)
            .await
        {
            Ok(e) => {
                self.note(e);
                e.max(self.epoch().unwrap_or(e))
            }
            Err(e) => {
                tracing::warn!(cache = self.inner.kind.epoch_name, error = %e, "epoch cache: the epoch could not be read to invalidate");
                self.fence().await;
                return;
            }
        };
        let hashes: Vec<String> = id_numbers.iter().map(|id| self.hash(id)).collect();
        let keys: Vec<String> = ((current - EPOCHS_BEHIND).max(0)..=current)
            .flat_map(|epoch| hashes.iter().map(move |h| self.key_of(epoch, h)))
            .collect();
        if let Err(e) = self.inner.cache.delete(&keys).await {
            tracing::warn!(cache = self.inner.kind.epoch_name, error = %e, "epoch cache: invalidation failed");
            self.fence().await;
        }
    }

    /// The file cached under `id` (an ID number or another file's key), and the key to fill
    /// on a miss (`None` while the cache is not to be used). Cache failures and undecodable
    /// entries read as misses.
    pub async fn read<T: serde::de::DeserializeOwned>(
        &self,
        id: &str,
    ) -> (Option<T>, Option<String>) {
        let Some(key) = self.epoch().map(|e| self.key(e, id)) else {
            return (None, None);
        };
        match self.inner.cache.get(&key).await {
            Ok(Some(bytes)) => match serde_json::from_slice::<T>(&bytes) {
                Ok(file) => return (Some(file), Some(key)),
                Err(e) => {
                    tracing::warn!(cache = self.inner.kind.epoch_name, error = %e, "undecodable cache entry")
                }
            },
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(cache = self.inner.kind.epoch_name, error = %e, "cache unavailable; reading the database")
            }
        }
        (None, Some(key))
    }

    /// Caches `file` under `key` (from [`EpochCache::read`]) for `ttl`; a failure is ignored.
    pub async fn fill<T: serde::Serialize>(&self, key: &str, file: &T, ttl: Duration) {
        if let Ok(bytes) = serde_json::to_vec(file) {
            let _ = self.inner.cache.set(key, bytes, ttl).await;
        }
    }
}

impl Enrollment {
    /// Whether the person with this ID number is covered on `date`; `None` when no person is
    /// registered with it. No tenancy check: any authenticated caller may ask. The person
    /// file comes from the cache, or from the database (then cached); cache failures fall
    /// back to the database.
    pub async fn check_eligibility(
        &self,
        id: &IdNumber,
        date: chrono::NaiveDate,
    ) -> Result<Option<Answer>, AppError> {
        let cache = &self.eligibility.inner.cache;
        let key = self
            .eligibility
            .epoch()
            .map(|e| self.eligibility.key(e, id.expose()));
        if let Some(key) = &key {
            match cache.get(key).await {
                Ok(Some(bytes)) => match serde_json::from_slice::<PersonFile>(&bytes) {
                    Ok(file) => return Ok(Some(Answer::decide(file, date))),
                    Err(e) => tracing::warn!(error = %e, "undecodable eligibility cache entry"),
                },
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "eligibility cache unavailable; reading the database")
                }
            }
        }
        let Some(p) = self.store.person_by_id_number(id).await? else {
            return Ok(None);
        };
        let file = self.store.person_file(&p).await?;
        if let (Some(key), Ok(bytes)) = (&key, serde_json::to_vec(&file)) {
            let _ = cache.set(key, bytes, ELIGIBILITY_TTL).await;
        }
        Ok(Some(Answer::decide(file, date)))
    }

    /// [`Enrollment::check_eligibility`] for a caller: a region-scoped caller (operator,
    /// auditor) is answered only for a person living or insured in their region, and refused
    /// naming `id_number` otherwise; hospitals and care institutions treat patients of every
    /// region (cross-region care), so their answers are not confined.
    pub async fn eligibility_for(
        &self,
        caller: &Caller,
        id: &IdNumber,
        date: chrono::NaiveDate,
    ) -> Result<Option<Answer>, AppError> {
        let answer = self.check_eligibility(id, date).await?;
        if let Some(a) = &answer {
            scope_file(caller, "id_number", &a.file)?;
        }
        Ok(answer)
    }

    /// Invalidates a person's cached file by clear ID number.
    pub async fn invalidate_id(&self, id_number: &str) {
        self.eligibility.invalidate(id_number).await;
    }

    /// Invalidates people's cached files by clear ID numbers, in one cache call.
    pub async fn invalidate_ids(&self, id_numbers: &[&str]) {
        self.eligibility.invalidate_ids(id_numbers).await;
    }

    /// The eligibility cache (its epoch, its watch).
    pub fn eligibility_cache(&self) -> &EligibilityCache {
        &self.eligibility
    }
}
