//! The idempotency records are sealed: a record's cache key and its AES-256-GCM key are both
//! derived (SHA-256, with distinct labels) from the gateway's `idempotency_secret`, the
//! caller's organisation and subject and the client's `Idempotency-Key`. The store (Redis)
//! therefore holds neither the key the client chose nor a readable answer: an answer carrying
//! an ID number, a name or a contact is ciphertext, opened only by a request that presents the
//! same key as the same caller to a gateway holding the same secret. Every replica derives the
//! same keys, so replays work across replicas without any key exchange.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// Where a record lives and the key that seals it.
#[derive(Clone)]
pub struct RecordKeys {
    /// The cache key: `<prefix>:idem:<hex>`.
    pub cache_key: String,
    seal: [u8; 32],
}

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordKeys")
            .field("cache_key", &self.cache_key)
            .finish_non_exhaustive()
    }
}

fn derive(label: &str, secret: &str, org: &str, subject: &str, key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [label, secret, org, subject, key] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

impl RecordKeys {
    /// The keys of the record of `key` sent by (`org`, `subject`).
    pub fn new(secret: &str, prefix: &str, org: &str, subject: &str, key: &str) -> RecordKeys {
        let id = derive("yibao-idempotency-record-v1", secret, org, subject, key);
        RecordKeys {
            cache_key: format!("{prefix}:idem:{}", hex::encode(id)),
            seal: derive("yibao-idempotency-seal-v1", secret, org, subject, key),
        }
    }

    fn aead(&self) -> Option<LessSafeKey> {
        // A 32-byte key is what AES-256-GCM takes: this does not fail.
        UnboundKey::new(&AES_256_GCM, &self.seal)
            .ok()
            .map(LessSafeKey::new)
    }

    /// `plain` sealed: a fresh nonce, then the ciphertext with its tag; the cache key is the
    /// associated data, so a record moved under another key does not open.
    pub fn seal(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let mut out = plain.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.cache_key.as_bytes()),
                &mut out,
            )
            .ok()?;
        let mut sealed = nonce.to_vec();
        sealed.append(&mut out);
        Some(sealed)
    }

    /// The plain record, or `None` when `sealed` was not sealed with these keys (tampered,
    /// another secret, a record of an earlier version).
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = self
            .aead()?
            .open_in_place(nonce, Aad::from(self.cache_key.as_bytes()), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_opens_only_with_the_same_secret_caller_and_key() {
        let k = RecordKeys::new(
            "s3cret",
            "yibao",
            "H34152200001",
            "hospital-1",
            "settle-ZY1",
        );
        let answer = r#"{"id_number":"341522198001010011","name":"张三"}"#.as_bytes();
        let sealed = k.seal(answer).unwrap();
        assert!(
            !sealed.windows(18).any(|w| w == b"341522198001010011"),
            "no clear ID number in the stored bytes"
        );
        assert_eq!(k.open(&sealed).as_deref(), Some(answer));
        assert!(k.cache_key.starts_with("yibao:idem:"));
        assert!(
            !k.cache_key.contains("settle-ZY1"),
            "the client's key is not in the cache key"
        );
        for other in [
            RecordKeys::new("other", "yibao", "H34152200001", "hospital-1", "settle-ZY1"),
            RecordKeys::new(
                "s3cret",
                "yibao",
                "H34152200002",
                "hospital-1",
                "settle-ZY1",
            ),
            RecordKeys::new(
                "s3cret",
                "yibao",
                "H34152200001",
                "hospital-2",
                "settle-ZY1",
            ),
            RecordKeys::new(
                "s3cret",
                "yibao",
                "H34152200001",
                "hospital-1",
                "settle-ZY2",
            ),
        ] {
            assert_ne!(other.cache_key, k.cache_key);
            assert_eq!(other.open(&sealed), None);
        }
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(k.open(&tampered), None);
        assert_eq!(
            k.open(b"{\"digest\":\"x\"}"),
            None,
            "an unsealed record does not open"
        );
        assert_ne!(k.seal(answer), Some(sealed), "a fresh nonce each time");
    }

    #[test]
    fn length_prefixes_keep_the_parts_apart() {
        let a = RecordKeys::new("", "p", "ab", "c", "k");
        let b = RecordKeys::new("", "p", "a", "bc", "k");
        assert_ne!(a.cache_key, b.cache_key);
    }
}
