//! Code formats of the national coding standards (DOMAIN §7.3, §7.4, §9), checked without a
//! regex engine, and the checked [`ItemCode`].

use serde::{Deserialize, Serialize};
use std::fmt;

use super::ItemKind;

/// A code format of the national coding standards (DOMAIN §7.3, §7.4, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeFormat {
    /// `^X[A-Z0-9]{5}[A-Z]\d{3}[A-Z]\d{3}\d{4}\d{5}$`.
    WesternDrug,
    /// `^Z[A-Z0-9]{5}[A-Z]\d{4}\d{4}\d{5}$`.
    ChinesePatentMedicine,
    /// `^C\d{19}$` or `^C\d{26}$` (unsettled, DOMAIN §9 item 10).
    Consumable,
    /// `^\d{15}$`.
    ServiceItem,
}

/// One position class of a code pattern.
#[derive(Clone, Copy)]
enum Pos {
    Lit(u8),
    Upper,
    UpperOrDigit,
    Digit,
}

/// `^X[A-Z0-9]{5}[A-Z]\d{3}[A-Z]\d{3}\d{4}\d{5}$` as runs of position classes.
const X_PATTERN: &[(Pos, usize)] = &[
    (Pos::Lit(b'X'), 1),
    (Pos::UpperOrDigit, 5),
    (Pos::Upper, 1),
    (Pos::Digit, 3),
    (Pos::Upper, 1),
    (Pos::Digit, 12),
];
/// `^Z[A-Z0-9]{5}[A-Z]\d{4}\d{4}\d{5}$` as runs of position classes.
const Z_PATTERN: &[(Pos, usize)] = &[
    (Pos::Lit(b'Z'), 1),
    (Pos::UpperOrDigit, 5),
    (Pos::Upper, 1),
    (Pos::Digit, 13),
];

/// Matches `code` against runs of position classes: the regex of DOMAIN §7.3 without a regex
/// engine.
fn matches_pattern(code: &[u8], runs: &[(Pos, usize)]) -> Result<(), CodeError> {
    let expected: usize = runs.iter().map(|(_, n)| n).sum();
    if code.len() != expected {
        return Err(CodeError::Length {
            expected: vec![expected],
            got: code.len(),
        });
    }
    let positions = runs
        .iter()
        .flat_map(|&(pos, n)| std::iter::repeat_n(pos, n));
    for (i, (c, pos)) in code.iter().zip(positions).enumerate() {
        let ok = match pos {
            Pos::Lit(l) => *c == l,
            Pos::Upper => c.is_ascii_uppercase(),
            Pos::UpperOrDigit => c.is_ascii_uppercase() || c.is_ascii_digit(),
            Pos::Digit => c.is_ascii_digit(),
        };
        if !ok {
            return Err(CodeError::Character { position: i + 1 });
        }
    }
    Ok(())
}

impl CodeFormat {
    /// Checks `code` (already trimmed) against this format.
    pub fn check(self, code: &str) -> Result<(), CodeError> {
        let b = code.as_bytes();
        match self {
            CodeFormat::WesternDrug => matches_pattern(b, X_PATTERN),
            CodeFormat::ChinesePatentMedicine => matches_pattern(b, Z_PATTERN),
            CodeFormat::ServiceItem => {
                if b.len() != 15 {
                    return Err(CodeError::Length {
                        expected: vec![15],
                        got: b.len(),
                    });
                }
                match b.iter().position(|c| !c.is_ascii_digit()) {
                    Some(i) => Err(CodeError::Character { position: i + 1 }),
                    None => Ok(()),
                }
            }
            CodeFormat::Consumable => {
                if b.len() != 20 && b.len() != 27 {
                    return Err(CodeError::Length {
                        expected: vec![20, 27],
                        got: b.len(),
                    });
                }
                if b[0] != b'C' {
                    return Err(CodeError::Character { position: 1 });
                }
                match b.iter().skip(1).position(|c| !c.is_ascii_digit()) {
                    Some(i) => Err(CodeError::Character { position: i + 2 }),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Why a code was refused. Positions are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Wrong number of characters.
    #[error("must be {} characters, got {got}", join_lengths(expected))]
    Length {
        /// Allowed lengths.
        expected: Vec<usize>,
        /// Actual length in bytes (a non-ASCII character counts more than once).
        got: usize,
    },
    /// A character outside the class allowed at this position.
    #[error("character at position {position} is not allowed there")]
    Character {
        /// 1-based position.
        position: usize,
    },
}

fn join_lengths(v: &[usize]) -> String {
    v.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A catalogue code that passed the check of its kind's format. Deserialising checks the
/// shape too ([`ItemCode::parse_any`]), so no unchecked code gets in through serde.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ItemCode(String);

impl TryFrom<String> for ItemCode {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ItemCode::parse_any(&s).map(|(_, c)| c)
    }
}

impl From<ItemCode> for String {
    fn from(c: ItemCode) -> String {
        c.0
    }
}

impl ItemCode {
    /// Parses `s` (surrounding whitespace ignored) as a code of `kind`.
    pub fn parse(kind: ItemKind, s: &str) -> Result<ItemCode, CodeError> {
        let s = s.trim();
        kind.format().check(s)?;
        Ok(ItemCode(s.to_string()))
    }

    /// Parses a code whose kind is recognisable from its shape: `X…` 23 chars, `Z…` 20 chars,
    /// 15 digits, `C…` 20 or 27 chars (consumable; a reagent needs [`ItemCode::parse`]).
    pub fn parse_any(s: &str) -> Result<(ItemKind, ItemCode), CodeError> {
        let s = s.trim();
        let kind = match (s.as_bytes().first(), s.len()) {
            (Some(b'X'), _) => ItemKind::WesternDrug,
            (Some(b'Z'), _) => ItemKind::ChinesePatentMedicine,
            (Some(b'C'), _) => ItemKind::Consumable,
            _ => ItemKind::ServiceItem,
        };
        Ok((kind, ItemCode::parse(kind, s)?))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// 企业码 of a drug code (last 5 characters), `None` for other kinds.
    pub fn drug_company_segment(&self) -> Option<&str> {
        match self.0.as_bytes().first() {
            Some(b'X') | Some(b'Z') => self.0.get(self.0.len().saturating_sub(5)..),
            _ => None,
        }
    }
}

impl fmt::Display for ItemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ItemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemCode({})", self.0)
    }
}
