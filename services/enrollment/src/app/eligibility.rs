//! Eligibility of a person on a date, the hottest read of the platform: the person's file
//! (everything the rule needs, no clear ID number) is cached under a keyed hash of the ID
//! number for [`ELIGIBILITY_TTL`]; every change to a person invalidates their entry at once.
//! A cache hit is one cache read and the pure rule; a miss reads the database (three
//! queries) and fills the cache. Cache failures fall back to the database.

use super::{AppError, Enrollment};
use crate::domain::PersonFile;
use crate::domain::eligibility::{Eligibility, eligibility};
use std::sync::Arc;
use std::time::Duration;
use yibao_core::IdNumber;
use yibao_runtime::cache::Cache;

/// How long a person's eligibility file stays in the cache (changes invalidate it at once).
pub const ELIGIBILITY_TTL: Duration = Duration::from_secs(600);

/// The cache of person files, keyed without PII.
#[derive(Debug, Clone)]
pub struct EligibilityCache {
    cache: Arc<dyn Cache>,
    /// Key of the HMAC that turns ID numbers into cache keys (no PII in Redis).
    pii_key: Arc<Vec<u8>>,
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

impl EligibilityCache {
    /// A cache of person files keyed by `pii_key`.
    pub fn new(cache: Arc<dyn Cache>, pii_key: &[u8]) -> EligibilityCache {
        EligibilityCache {
            cache,
            pii_key: Arc::new(pii_key.to_vec()),
        }
    }

    fn key(&self, id_number: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.pii_key.as_slice());
        h.update(b"|eligibility|");
        h.update(id_number.as_bytes());
        format!("yibao:elig:v1:{}", hex::encode(&h.finalize()[..16]))
    }

    /// Invalidates a person's cached file by clear ID number.
    pub async fn invalidate(&self, id_number: &str) {
        self.invalidate_ids(&[id_number]).await;
    }

    /// Invalidates people's cached files by clear ID numbers, in one cache call.
    pub async fn invalidate_ids(&self, id_numbers: &[&str]) {
        let keys: Vec<String> = id_numbers.iter().map(|id| self.key(id)).collect();
        if let Err(e) = self.cache.delete(&keys).await {
            // The TTL bounds staleness if the cache is unreachable right now.
            tracing::warn!(error = %e, "eligibility cache invalidation failed");
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
        let key = self.eligibility.key(id.expose());
        match self.eligibility.cache.get(&key).await {
            Ok(Some(bytes)) => match serde_json::from_slice::<PersonFile>(&bytes) {
                Ok(file) => return Ok(Some(Answer::decide(file, date))),
                Err(e) => tracing::warn!(error = %e, "undecodable eligibility cache entry"),
            },
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "eligibility cache unavailable; reading the database")
            }
        }
        let Some(p) = self.store.person_by_id_number(id).await? else {
            return Ok(None);
        };
        let file = self.store.person_file(&p).await?;
        if let Ok(bytes) = serde_json::to_vec(&file) {
            let _ = self
                .eligibility
                .cache
                .set(&key, bytes, ELIGIBILITY_TTL)
                .await;
        }
        Ok(Some(Answer::decide(file, date)))
    }

    /// Invalidates a person's cached file by clear ID number.
    pub async fn invalidate_id(&self, id_number: &str) {
        self.eligibility.invalidate(id_number).await;
    }

    /// Invalidates people's cached files by clear ID numbers, in one cache call.
    pub async fn invalidate_ids(&self, id_numbers: &[&str]) {
        self.eligibility.invalidate_ids(id_numbers).await;
    }
}
