//! Institution credentials as the provincial platform's API gateway checks them: the headers
//! `x-tif-paasid`, `x-tif-timestamp` (Unix seconds), `x-tif-nonce` and `x-tif-signature`,
//! the signature being the lowercase hex SHA-256 of `timestamp + paas_token + nonce +
//! timestamp`, as HIS clients compute it.
//!
//! This module checks one request's headers against the institution's token and the clock;
//! that a nonce is used once within the window is the caller's store's to remember
//! ([`Credentials::nonce_key`] names it).

use sha2::{Digest, Sha256};

/// The access id's header.
pub const PAASID: &str = "x-tif-paasid";
/// The timestamp's header.
pub const TIMESTAMP: &str = "x-tif-timestamp";
/// The nonce's header.
pub const NONCE: &str = "x-tif-nonce";
/// The signature's header.
pub const SIGNATURE: &str = "x-tif-signature";

/// Longest nonce accepted, in bytes.
pub const MAX_NONCE_LEN: usize = 64;

/// Why a request's credentials were refused. Each names its header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// A header is absent or empty.
    #[error("{0}: is required")]
    Missing(&'static str),
    /// A header is malformed.
    #[error("{header}: {why}")]
    Malformed {
        /// Which header.
        header: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The timestamp is outside the replay window.
    #[error(
        "x-tif-timestamp: {skew_secs} s from this server's clock, outside the {window_secs} s window"
    )]
    Stale {
        /// Request time minus server time.
        skew_secs: i64,
        /// The window either side.
        window_secs: i64,
    },
    /// The signature does not match the institution's token.
    #[error("x-tif-signature: does not match the credentials of x-tif-paasid")]
    BadSignature,
}

/// The credential headers of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The institution's access id.
    pub paasid: String,
    /// Unix seconds as sent.
    pub timestamp: i64,
    /// The nonce as sent.
    pub nonce: String,
    /// The signature as sent (hex, either case).
    pub signature: String,
}

/// The signature a client computes: lowercase hex SHA-256 of
/// `timestamp + paas_token + nonce + timestamp`.
pub fn signature(timestamp: &str, paas_token: &str, nonce: &str) -> String {
    let mut h = Sha256::new();
    h.update(timestamp.as_bytes());
    h.update(paas_token.as_bytes());
    h.update(nonce.as_bytes());
    h.update(timestamp.as_bytes());
    hex::encode(h.finalize())
}

/// Equal in time that does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Credentials {
    /// Reads the four headers through `header` (a lookup by lowercase name).
    pub fn from_headers<'a>(
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Credentials, CredentialError> {
        let get = |name: &'static str| {
            header(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or(CredentialError::Missing(name))
        };
        let paasid = get(PAASID)?.to_string();
        let ts = get(TIMESTAMP)?;
        let timestamp = ts
            .parse::<i64>()
            .ok()
            .filter(|_| ts.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| CredentialError::Malformed {
                header: TIMESTAMP,
                why: format!("must be Unix seconds, got `{ts}`"),
            })?;
        let nonce = get(NONCE)?;
        if nonce.len() > MAX_NONCE_LEN || !nonce.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CredentialError::Malformed {
                header: NONCE,
                why: format!("must be 1 to {MAX_NONCE_LEN} printable ASCII characters"),
            });
        }
        let signature = get(SIGNATURE)?.to_string();
        Ok(Credentials {
            paasid,
            timestamp,
            nonce: nonce.to_string(),
            signature,
        })
    }

    /// Checks the timestamp against `now` (Unix seconds) within `window_secs` either side,
    /// and the signature against the institution's `paas_token`.
    pub fn verify(
        &self,
        paas_token: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<(), CredentialError> {
        let skew_secs = self.timestamp.saturating_sub(now);
        if skew_secs.abs() > window_secs {
            return Err(CredentialError::Stale {
                skew_secs,
                window_secs,
            });
        }
        let want = signature(&self.timestamp.to_string(), paas_token, &self.nonce);
        if constant_time_eq(
            want.as_bytes(),
            self.signature.to_ascii_lowercase().as_bytes(),
        ) {
            Ok(())
        } else {
            Err(CredentialError::BadSignature)
        }
    }

    /// The key under which a store remembers this nonce for the window: a nonce seen twice
    /// for one access id is a replay.
    pub fn nonce_key(&self) -> String {
        format!("{}:{}", self.paasid, self.nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TOKEN: &str = "kJ8n2Qw7mZp4Rt6Y";

    fn headers(ts: &str, nonce: &str, sig: &str) -> HashMap<&'static str, String> {
        HashMap::from([
            (PAASID, "H34152200001".to_string()),
            (TIMESTAMP, ts.to_string()),
            (NONCE, nonce.to_string()),
            (SIGNATURE, sig.to_string()),
        ])
    }

    fn read(h: &HashMap<&'static str, String>) -> Result<Credentials, CredentialError> {
        Credentials::from_headers(|n| h.get(n).map(String::as_str))
    }

    #[test]
    fn the_signature_is_sha256_of_timestamp_token_nonce_timestamp() {
        // Computed independently: printf '%s' 1764618682kJ8n2Qw7mZp4Rt6Yab12cd341764618682 | sha256sum
        assert_eq!(
            signature("1764618682", TOKEN, "ab12cd34"),
            "1a5e2e2081e828f6d37b1698d12973d938e27aca7450874d54513372920e4736"
        );
    }

    #[test]
    fn a_signed_request_within_the_window_passes() {
        let sig = signature("1764618682", TOKEN, "ab12cd34");
        let c = read(&headers("1764618682", "ab12cd34", &sig)).unwrap();
        assert_eq!(c.verify(TOKEN, 1_764_618_682 + 299, 300), Ok(()));
        // Upper-case hex is the same signature.
        let c = read(&headers("1764618682", "ab12cd34", &sig.to_uppercase())).unwrap();
        assert_eq!(c.verify(TOKEN, 1_764_618_682, 300), Ok(()));
        assert_eq!(c.nonce_key(), "H34152200001:ab12cd34");
    }

    #[test]
    fn wrong_token_stale_time_and_bad_headers_are_refused() {
        let sig = signature("1764618682", TOKEN, "ab12cd34");
        let c = read(&headers("1764618682", "ab12cd34", &sig)).unwrap();
        assert_eq!(
            c.verify("another", 1_764_618_682, 300),
            Err(CredentialError::BadSignature)
        );
        let e = c.verify(TOKEN, 1_764_618_682 + 301, 300).unwrap_err();
        assert_eq!(
            e,
            CredentialError::Stale {
                skew_secs: -301,
                window_secs: 300
            }
        );
        assert!(e.to_string().starts_with("x-tif-timestamp:"));
        // The nonce is part of what is signed.
        let c = read(&headers("1764618682", "ab12cd35", &sig)).unwrap();
        assert_eq!(
            c.verify(TOKEN, 1_764_618_682, 300),
            Err(CredentialError::BadSignature)
        );
        assert_eq!(
            read(&headers("1764618682", "", &sig)),
            Err(CredentialError::Missing(NONCE))
        );
        assert!(matches!(
            read(&headers("-5", "n", &sig)),
            Err(CredentialError::Malformed {
                header: TIMESTAMP,
                ..
            })
        ));
        assert!(matches!(
            read(&headers("1", &"n".repeat(65), &sig)),
            Err(CredentialError::Malformed { header: NONCE, .. })
        ));
    }
}
