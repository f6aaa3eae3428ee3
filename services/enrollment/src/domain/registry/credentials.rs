//! National-interface credentials (接口凭证) of a designated institution: the access id
//! `paasid` its HIS sends as `x-tif-paasid` and the shared secret `paas_token` the
//! `x-tif-signature` is computed with (lowercase hex SHA-256 of `timestamp + paas_token +
//! nonce + timestamp`, DOMAIN §1.9). An institution has at most one credential in force;
//! rotating replaces it, and the replaced one answers no more.
//!
//! Pure: the random bytes and the time come from the caller.

use super::super::EnrolmentError;
use yibao_core::InstitutionCode;

/// Random bytes of a `paasid`'s suffix (8 hex characters after the institution code).
pub const SUFFIX_BYTES: usize = 4;

/// Random bytes of a `paas_token` (64 hex characters).
pub const TOKEN_BYTES: usize = 32;

/// Longest `paasid` a request may name (ours are 21 characters; the bound keeps a caller's
/// junk out of look-ups and messages).
pub const MAX_PAASID_LEN: usize = 64;

/// An institution's credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceCredential {
    /// The access id: the institution code, `-`, 8 random hex characters (`H34152200001-9f3a0c7e`).
    pub paasid: String,
    /// The shared secret: 32 random bytes, lowercase hex.
    pub paas_token: String,
    /// The institution.
    pub institution: InstitutionCode,
    /// When issued (RFC 3339).
    pub issued_at: String,
}

impl InterfaceCredential {
    /// A new credential of `institution` from random bytes, issued at `issued_at`.
    pub fn new(
        institution: &InstitutionCode,
        suffix: [u8; SUFFIX_BYTES],
        token: [u8; TOKEN_BYTES],
        issued_at: &str,
    ) -> InterfaceCredential {
        InterfaceCredential {
            paasid: format!("{}-{}", institution.as_str(), hex::encode(suffix)),
            paas_token: hex::encode(token),
            institution: institution.clone(),
            issued_at: issued_at.to_string(),
        }
    }
}

/// What an issue request does, given the credential in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// Answer with the credential in force; nothing is written.
    Keep(InterfaceCredential),
    /// Issue the institution's first credential (or its first since none is in force).
    New,
    /// Revoke the credential in force (this `paasid`) and issue a new one.
    Replace(String),
}

/// Decides an issue request: the credential in force is kept unless `rotate` is set.
pub fn decide(in_force: Option<InterfaceCredential>, rotate: bool) -> Issue {
    match (in_force, rotate) {
        (Some(c), false) => Issue::Keep(c),
        (Some(c), true) => Issue::Replace(c.paasid),
        (None, _) => Issue::New,
    }
}

/// A `paasid` as a request names it in `field`: required, at most [`MAX_PAASID_LEN`]
/// printable ASCII characters without spaces (any such id is looked up; only issued ones are
/// found).
pub fn parse_paasid(field: &'static str, s: &str) -> Result<String, EnrolmentError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(EnrolmentError::invalid(
            field,
            "required: the access id (x-tif-paasid)",
        ));
    }
    if s.len() > MAX_PAASID_LEN || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(EnrolmentError::invalid(
            field,
            format!("must be 1 to {MAX_PAASID_LEN} printable ASCII characters without spaces"),
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code() -> InstitutionCode {
        InstitutionCode::parse("H34152200001").unwrap_or_else(|e| panic!("{e}"))
    }

    fn credential() -> InterfaceCredential {
        InterfaceCredential::new(
            &code(),
            [0x9f, 0x3a, 0x0c, 0x7e],
            [0xab; TOKEN_BYTES],
            "2026-12-02T10:00:00.000Z",
        )
    }

    #[test]
    fn a_paasid_is_the_institution_code_and_eight_hex_characters_and_the_token_64_lowercase_hex() {
        let c = credential();
        assert_eq!(c.paasid, "H34152200001-9f3a0c7e");
        assert_eq!(c.paas_token, "ab".repeat(32));
        assert_eq!(c.institution, code());
        assert_eq!(c.issued_at, "2026-12-02T10:00:00.000Z");
        assert_eq!(parse_paasid("paasid", &c.paasid), Ok(c.paasid.clone()));
    }

    #[test]
    fn the_credential_in_force_is_kept_unless_rotated_and_the_first_is_issued_either_way() {
        let c = credential();
        assert_eq!(decide(Some(c.clone()), false), Issue::Keep(c.clone()));
        assert_eq!(
            decide(Some(c.clone()), true),
            Issue::Replace("H34152200001-9f3a0c7e".into())
        );
        assert_eq!(decide(None, false), Issue::New);
        assert_eq!(decide(None, true), Issue::New);
    }

    #[test]
    fn a_paasid_that_is_empty_too_long_or_has_spaces_is_refused_naming_the_field() {
        for bad in [
            "",
            "   ",
            "H34152200001 9f3a",
            "H3415\u{4e00}",
            &"x".repeat(65),
        ] {
            match parse_paasid("paasid", bad) {
                Err(EnrolmentError::Invalid { field, .. }) => assert_eq!(field, "paasid"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(parse_paasid("paasid", " abc "), Ok("abc".into()));
    }
}
