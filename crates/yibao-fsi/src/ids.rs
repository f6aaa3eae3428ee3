//! The interface's ids (`psn_no`, `mdtrt_id`, `setl_id`): 26 characters, the Crockford base32
//! of a UUID's 16 bytes (the same alphabet and length as a ULID). `psn_no` is enrollment's
//! `person_id`, `mdtrt_id` settlement's `encounter_id`, `setl_id` settlement's `claim_id`; no
//! separate number is kept anywhere, so an id read back always names the record it came from.
//!
//! Decoding is lenient the way Crockford's alphabet is meant to be read aloud: lowercase is
//! accepted, `I`/`L` read as `1` and `O` as `0`; anything else is refused with the reason.

/// Characters of an interface id.
pub const LEN: usize = 26;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Why an id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not 26 characters.
    #[error("must be {LEN} characters, got {0}")]
    Length(usize),
    /// A character outside Crockford's base32.
    #[error("`{0}` is not a Crockford base32 character")]
    Character(char),
    /// The first character encodes more than the 128 bits of a UUID.
    #[error("is out of range: the first character must be 0 to 7")]
    Overflow,
    /// A UUID to encode that is not one.
    #[error("`{0}` is not a UUID")]
    NotUuid(String),
}

fn value(c: u8) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    let c = match c {
        b'I' | b'L' => b'1',
        b'O' => b'0',
        c => c,
    };
    ALPHABET.iter().position(|a| *a == c).map(|p| p as u8)
}

/// Encodes 16 bytes as 26 characters.
pub fn encode(bytes: [u8; 16]) -> String {
    let mut n = u128::from_be_bytes(bytes);
    let mut out = [b'0'; LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n & 31) as usize];
        n >>= 5;
    }
    out.iter().map(|b| *b as char).collect()
}

/// Decodes 26 characters into 16 bytes.
pub fn decode(text: &str) -> Result<[u8; 16], IdError> {
    let n_chars = text.chars().count();
    if n_chars != LEN {
        return Err(IdError::Length(n_chars));
    }
    let mut n: u128 = 0;
    for (i, c) in text.chars().enumerate() {
        let v = u8::try_from(c)
            .ok()
            .and_then(value)
            .ok_or(IdError::Character(c))?;
        if i == 0 && v > 7 {
            return Err(IdError::Overflow);
        }
        n = (n << 5) | u128::from(v);
    }
    Ok(n.to_be_bytes())
}

/// Parses a UUID in its hyphenated (or plain hex) text form.
fn uuid_bytes(uuid: &str) -> Result<[u8; 16], IdError> {
    let hex: String = uuid.chars().filter(|c| *c != '-').collect();
    let mut out = [0u8; 16];
    if hex.len() != 32 || hex::decode_to_slice(&hex, &mut out).is_err() {
        return Err(IdError::NotUuid(uuid.to_string()));
    }
    Ok(out)
}

/// The interface id of a UUID text (`0190f3c2-…` → 26 characters).
pub fn from_uuid(uuid: &str) -> Result<String, IdError> {
    uuid_bytes(uuid).map(encode)
}

/// The UUID text (lowercase, hyphenated) an interface id stands for.
pub fn to_uuid(id: &str) -> Result<String, IdError> {
    let b = decode(id)?;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(encode([0; 16]), "00000000000000000000000000");
        assert_eq!(encode([0xff; 16]), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        let uuid = "0190f3c2-7a1b-7cde-8f00-123456789abc";
        let id = from_uuid(uuid).unwrap();
        assert_eq!(id.len(), LEN);
        assert_eq!(to_uuid(&id).unwrap(), uuid);
        assert_eq!(to_uuid(&id.to_lowercase()).unwrap(), uuid);
        assert_eq!(
            from_uuid("0190F3C27A1B7CDE8F00123456789ABC").unwrap(),
            id,
            "plain hex, either case"
        );
    }

    #[test]
    fn misread_characters_are_read_as_crockford_means_them() {
        let id = encode([0x11; 16]);
        let misread = id.replace('1', "l").replace('0', "O");
        assert_eq!(decode(&misread).unwrap(), [0x11; 16]);
    }

    #[test]
    fn bad_ids_are_refused_with_the_reason() {
        assert_eq!(decode("ABC"), Err(IdError::Length(3)));
        assert_eq!(
            decode("0000000000000000000000000U"),
            Err(IdError::Character('U'))
        );
        assert_eq!(decode("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"), Err(IdError::Overflow));
        assert_eq!(
            decode("000000000000000000000000中0"),
            Err(IdError::Character('中'))
        );
        assert!(matches!(from_uuid("not-a-uuid"), Err(IdError::NotUuid(_))));
        let e = decode("ABC").unwrap_err().to_string();
        assert_eq!(e, "must be 26 characters, got 3");
    }

    proptest! {
        #[test]
        fn every_uuid_round_trips(bytes in any::<[u8; 16]>()) {
            let id = encode(bytes);
            prop_assert_eq!(id.len(), LEN);
            prop_assert_eq!(decode(&id).unwrap(), bytes);
        }

        #[test]
        fn order_is_kept(a in any::<[u8; 16]>(), b in any::<[u8; 16]>()) {
            // Time-ordered UUIDs (v7) give ids that sort the same way.
            prop_assert_eq!(a.cmp(&b), encode(a).cmp(&encode(b)));
        }
    }
}
