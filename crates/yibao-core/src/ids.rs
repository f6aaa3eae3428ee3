//! Identifiers that carry their own invariants: the resident ID number (GB 11643),
//! the 6-digit region code (医保区划, GB/T 2260) and the 12-character institution code.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an identifier was refused. The message is safe to show: it never repeats the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Wrong number of characters.
    #[error("must be {expected} characters, got {got}")]
    Length {
        /// Required length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A character outside the allowed set.
    #[error("contains a character that is not allowed at position {0}")]
    Character(usize),
    /// The GB 11643 (ISO 7064 MOD 11-2) check character does not match.
    #[error("check digit does not match (GB 11643)")]
    Checksum,
    /// The embedded birth date is not a real date.
    #[error("birth date is not a valid date")]
    BirthDate,
    /// The embedded birth date is after today.
    #[error("birth date is in the future")]
    FutureBirthDate,
    /// Wrong prefix letter.
    #[error("must start with {0}")]
    Prefix(&'static str),
}

/// Sex as encoded in the 17th digit of an ID number (odd = male, even = female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    /// 男
    Male,
    /// 女
    Female,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// An 18-character resident ID number (居民身份证号码, GB 11643-1999) that has passed the
/// checksum and birth-date checks. It never prints in clear: `Display` and `Debug` show
/// `3415**********1234`; use [`IdNumber::expose`] where the clear value is really needed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber(String);

impl IdNumber {
    /// Parses and validates against today's date (birth date must not be in the future).
    pub fn parse(s: &str) -> Result<IdNumber, IdError> {
        Self::parse_on(s, chrono::Utc::now().date_naive())
    }

    /// Parses and validates; `today` bounds the birth date.
    pub fn parse_on(s: &str, today: NaiveDate) -> Result<IdNumber, IdError> {
        let s = s.trim();
        let bytes = s.as_bytes();
        if bytes.len() != 18 {
            return Err(IdError::Length {
                expected: 18,
                got: s.chars().count(),
            });
        }
        for (i, b) in bytes[..17].iter().enumerate() {
            if !b.is_ascii_digit() {
                return Err(IdError::Character(i + 1));
            }
        }
        let last = bytes[17].to_ascii_uppercase();
        if !(last.is_ascii_digit() || last == b'X') {
            return Err(IdError::Character(18));
        }
        if check_char(&bytes[..17]) != last {
            return Err(IdError::Checksum);
        }
        let birth = birth_date_of(&s[6..14]).ok_or(IdError::BirthDate)?;
        if birth > today {
            return Err(IdError::FutureBirthDate);
        }
        let mut clear = s[..17].to_string();
        clear.push(char::from(last));
        Ok(IdNumber(clear))
    }

    /// Completes 17 digits (region + birth date + sequence) with their check character. Used
    /// by generators of test and demo data.
    pub fn with_check_digit(first17: &str) -> Result<IdNumber, IdError> {
        if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::Length {
                expected: 17,
                got: first17.chars().count(),
            });
        }
        let check = char::from(check_char(first17.as_bytes()));
        Self::parse(&format!("{first17}{check}"))
    }

    /// Converts a legacy 15-digit number (inserts "19", appends the check character).
    pub fn from_legacy15(s: &str) -> Result<IdNumber, IdError> {
        let s = s.trim();
        if s.len() != 15 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::Length {
                expected: 15,
                got: s.chars().count(),
            });
        }
        let body = format!("{}19{}", &s[..6], &s[6..]);
        let check = char::from(check_char(body.as_bytes()));
        Self::parse(&format!("{body}{check}"))
    }

    /// The clear value. Callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked form `3415**********1234` used in logs and for display.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }

    /// Date of birth (validated at parse time).
    pub fn birth_date(&self) -> NaiveDate {
        birth_date_of(&self.0[6..14]).unwrap_or_default()
    }

    /// Sex from the 17th digit.
    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The 6-digit administrative region of the number's issue (first six digits).
    pub fn issuing_region(&self) -> &str {
        &self.0[..6]
    }

    /// Age in whole years on `date`.
    pub fn age_on(&self, date: NaiveDate) -> u32 {
        use chrono::Datelike;
        let b = self.birth_date();
        let mut age = date.year() - b.year();
        if (date.month(), date.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        u32::try_from(age).unwrap_or(0)
    }
}

fn check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK_CHARS[(sum % 11) as usize]
}

fn birth_date_of(yyyymmdd: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(yyyymmdd, "%Y%m%d").ok()
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

/// A 6-digit region code (医保区划): province (2) + city (2) + county (2). Trailing `00`
/// pairs denote the higher level: `340000` is Anhui province, `341500` Lu'an city,
/// `341522` Huoqiu county.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl RegionCode {
    /// Parses a 6-digit code.
    pub fn parse(s: &str) -> Result<RegionCode, IdError> {
        let s = s.trim();
        if s.len() != 6 {
            return Err(IdError::Length {
                expected: 6,
                got: s.chars().count(),
            });
        }
        if let Some(i) = s.bytes().position(|b| !b.is_ascii_digit()) {
            return Err(IdError::Character(i + 1));
        }
        Ok(RegionCode(s.to_string()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The significant prefix: `340000` → `34`, `341500` → `3415`, `341522` → `341522`.
    pub fn prefix(&self) -> &str {
        if self.0.ends_with("0000") {
            &self.0[..2]
        } else if self.0.ends_with("00") {
            &self.0[..4]
        } else {
            &self.0
        }
    }

    /// True when `other` lies within this region (a province covers its cities and counties).
    pub fn covers(&self, other: &RegionCode) -> bool {
        other.0.starts_with(self.prefix())
    }

    /// The province-level code (`341522` → `340000`).
    pub fn province(&self) -> RegionCode {
        RegionCode(format!("{}0000", &self.0[..2]))
    }
}

impl TryFrom<String> for RegionCode {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RegionCode::parse(&s)
    }
}

impl From<RegionCode> for String {
    fn from(r: RegionCode) -> String {
        r.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionCode({})", self.0)
    }
}

/// A designated institution code (定点医药机构编号): 12 characters, `H` (hospital) or `P`
/// (pharmacy) + 6-digit region + 5-digit sequence, e.g. `H34152200001`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstitutionCode(String);

impl InstitutionCode {
    /// Parses a 12-character code.
    pub fn parse(s: &str) -> Result<InstitutionCode, IdError> {
        let s = s.trim();
        if s.len() != 12 {
            return Err(IdError::Length {
                expected: 12,
                got: s.chars().count(),
            });
        }
        if !matches!(s.as_bytes()[0], b'H' | b'P') {
            return Err(IdError::Prefix("H (hospital) or P (pharmacy)"));
        }
        if let Some(i) = s.bytes().skip(1).position(|b| !b.is_ascii_digit()) {
            return Err(IdError::Character(i + 2));
        }
        Ok(InstitutionCode(s.to_string()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The region the institution is registered in.
    pub fn region(&self) -> RegionCode {
        RegionCode(self.0[1..7].to_string())
    }

    /// True for a retail pharmacy (`P…`).
    pub fn is_pharmacy(&self) -> bool {
        self.0.starts_with('P')
    }
}

impl TryFrom<String> for InstitutionCode {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        InstitutionCode::parse(&s)
    }
}

impl From<InstitutionCode> for String {
    fn from(c: InstitutionCode) -> String {
        c.0
    }
}

impl fmt::Display for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstitutionCode({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn gb11643_test_vectors() {
        assert!(IdNumber::parse("11010519491231002X").is_ok());
        assert!(IdNumber::parse("11010519491231002x").is_ok());
        assert!(IdNumber::parse("440524188001010014").is_ok());
        assert!(IdNumber::parse("11010119900307803X").is_ok());
        // The "sample" number of many codebases is invalid: its check digit should be 7.
        assert_eq!(
            IdNumber::parse("110101199001011234"),
            Err(IdError::Checksum)
        );
        assert!(IdNumber::parse("110101199001011237").is_ok());
    }

    #[test]
    fn birth_date_and_sex_are_derived() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.birth_date(), day(1949, 12, 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.age_on(day(2019, 12, 30)), 69);
        assert_eq!(id.age_on(day(2019, 12, 31)), 70);
        assert_eq!(
            IdNumber::parse("11010119900307803X").unwrap().sex(),
            Sex::Male
        );
    }

    #[test]
    fn impossible_or_future_birth_dates_are_refused() {
        // 1990-02-30 does not exist; recompute a valid check char so only the date is wrong.
        let body = "11010119900230001";
        let c = char::from(check_char(body.as_bytes()));
        assert_eq!(
            IdNumber::parse(&format!("{body}{c}")),
            Err(IdError::BirthDate)
        );
        let body = "11010120990101001";
        let c = char::from(check_char(body.as_bytes()));
        assert_eq!(
            IdNumber::parse_on(&format!("{body}{c}"), day(2026, 1, 1)),
            Err(IdError::FutureBirthDate)
        );
    }

    #[test]
    fn never_prints_in_clear() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.to_string(), "1101**********002X");
        assert_eq!(format!("{id:?}"), "IdNumber(1101**********002X)");
        assert!(!format!("{id} {id:?}").contains("19491231"));
    }

    #[test]
    fn wrong_length_and_characters_are_named() {
        assert_eq!(
            IdNumber::parse("123"),
            Err(IdError::Length {
                expected: 18,
                got: 3
            })
        );
        assert_eq!(
            IdNumber::parse("1101051949123100AX"),
            Err(IdError::Character(17))
        );
    }

    #[test]
    fn legacy_15_digit_numbers_convert() {
        let id = IdNumber::from_legacy15("110105491231002").unwrap();
        assert_eq!(id.expose(), "11010519491231002X");
    }

    #[test]
    fn region_prefixes_cover_their_children() {
        let anhui = RegionCode::parse("340000").unwrap();
        let luan = RegionCode::parse("341500").unwrap();
        let huoqiu = RegionCode::parse("341522").unwrap();
        assert!(anhui.covers(&huoqiu) && luan.covers(&huoqiu) && huoqiu.covers(&huoqiu));
        assert!(!huoqiu.covers(&luan));
        assert!(!RegionCode::parse("370000").unwrap().covers(&huoqiu));
        assert_eq!(huoqiu.province(), anhui);
        assert!(RegionCode::parse("34152A").is_err());
    }

    #[test]
    fn institution_codes_carry_their_region() {
        let h = InstitutionCode::parse("H34152200001").unwrap();
        assert_eq!(h.region().as_str(), "341522");
        assert!(!h.is_pharmacy());
        assert!(
            InstitutionCode::parse("P34152200007")
                .unwrap()
                .is_pharmacy()
        );
        assert_eq!(
            InstitutionCode::parse("X34152200001"),
            Err(IdError::Prefix("H (hospital) or P (pharmacy)"))
        );
    }
}
