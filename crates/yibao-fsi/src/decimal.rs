//! Exact decimals as the interface writes them: money in yuan `N16,2`, ratios `N5,4`,
//! quantities `N16,4`.
//!
//! A value is read from its JSON text (a number such as `23442.46`, or the same in a string,
//! as some HIS send it) and never passes through a binary float: `0.1 + 0.2` yuan is 30 fen.
//! More decimals than the field allows are refused rather than rounded, because a rounding
//! the hospital did not see is money that does not reconcile.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use std::fmt;
use yibao_core::{Bp, Fen};

/// Why a decimal's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not a plain decimal (`-12.30`, `7`, `0.5`): exponents, signs in the middle, letters.
    #[error("`{0}` is not a decimal number")]
    NotDecimal(String),
    /// More decimals than the field's scale.
    #[error("`{text}` has more than {scale} decimals")]
    TooPrecise {
        /// The text as sent.
        text: String,
        /// The field's scale.
        scale: u32,
    },
    /// Outside the field's range (a ratio below 0 or above 1).
    #[error("`{0}` is out of range")]
    OutOfRange(String),
    /// More integer digits than the field allows.
    #[error("`{text}` has more than {digits} digits before the decimal point")]
    TooLarge {
        /// The text as sent.
        text: String,
        /// The most integer digits the field allows.
        digits: u32,
    },
}

/// Parses `text` as a decimal with at most `scale` decimals and `int_digits` integer digits,
/// into an integer count of `10^-scale` units. Leading and trailing blanks are refused too.
pub fn parse_fixed(text: &str, scale: u32, int_digits: u32) -> Result<i64, DecimalError> {
    let bad = || DecimalError::NotDecimal(text.to_string());
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int_part) || frac_part.is_some_and(|f| !digits(f)) {
        return Err(bad());
    }
    let frac = frac_part.unwrap_or("");
    if frac.len() > scale as usize {
        return Err(DecimalError::TooPrecise {
            text: text.to_string(),
            scale,
        });
    }
    let significant = int_part.trim_start_matches('0');
    if significant.len() > int_digits as usize {
        return Err(DecimalError::TooLarge {
            text: text.to_string(),
            digits: int_digits,
        });
    }
    // int_digits + scale ≤ 18 for every field of the interface, so this fits in i64.
    let mut units: i64 = 0;
    for b in significant.bytes().chain(frac.bytes()) {
        units = units * 10 + i64::from(b - b'0');
    }
    for _ in frac.len()..scale as usize {
        units *= 10;
    }
    Ok(if negative { -units } else { units })
}

/// Writes `units` of `10^-scale` as a decimal with exactly `scale` decimals.
pub fn format_fixed(units: i64, scale: u32) -> String {
    let p = 10u64.pow(scale);
    let sign = if units < 0 { "-" } else { "" };
    let a = units.unsigned_abs();
    if scale == 0 {
        return format!("{sign}{a}");
    }
    format!("{sign}{}.{:0width$}", a / p, a % p, width = scale as usize)
}

/// The text of a JSON scalar: a number as written, or the content of a string.
fn scalar_text(raw: &RawValue) -> Result<String, String> {
    let t = raw.get().trim();
    if t.starts_with('"') {
        let s: String = serde_json::from_str(t).map_err(|e| e.to_string())?;
        Ok(s)
    } else if t.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
        Ok(t.to_string())
    } else {
        Err(format!("`{t}` is not a decimal number"))
    }
}

fn raw_number(text: String) -> Result<Box<RawValue>, serde_json::Error> {
    RawValue::from_string(text)
}

macro_rules! fixed_type {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $wrap:expr, $unwrap:expr, $scale:expr, $digits:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $inner);

        impl $name {
            /// Decimals the interface writes.
            pub const SCALE: u32 = $scale;
            /// Integer digits the interface allows.
            pub const INT_DIGITS: u32 = $digits;

            /// Parses the interface's text of this field.
            pub fn parse(text: &str) -> Result<$name, DecimalError> {
                let units = parse_fixed(text, Self::SCALE, Self::INT_DIGITS)?;
                $wrap(units)
                    .map($name)
                    .ok_or_else(|| DecimalError::OutOfRange(text.to_string()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&format_fixed($unwrap(self.0), Self::SCALE))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        /// Written as a JSON number with exactly the field's decimals (`12.30`).
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                raw_number(self.to_string())
                    .map_err(serde::ser::Error::custom)?
                    .serialize(s)
            }
        }

        /// Read from a JSON number or a string holding one, exactly.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let raw = Box::<RawValue>::deserialize(d)?;
                let text = scalar_text(&raw).map_err(D::Error::custom)?;
                $name::parse(&text).map_err(D::Error::custom)
            }
        }
    };
}

fixed_type!(
    /// Money on the interface: yuan with two decimals (`N16,2`), held as fen.
    Yuan, Fen, |u| Some(Fen(u)), |f: Fen| f.get(), 2, 14
);
fixed_type!(
    /// A ratio on the interface (`N5,4`, `0.6000`), held as basis points: 0 to 1.
    Ratio,
    Bp,
    |u: i64| u32::try_from(u).ok().filter(|b| *b <= 10_000).map(Bp),
    |b: Bp| i64::from(b.0),
    4,
    1
);
fixed_type!(
    /// A quantity on the interface (`N16,4`), held in ten-thousandths.
    Quantity, i64, Some, |u| u, 4, 12
);

impl Yuan {
    /// The amount in fen.
    pub fn fen(self) -> Fen {
        self.0
    }
}

impl From<Fen> for Yuan {
    fn from(f: Fen) -> Yuan {
        Yuan(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_is_read_exactly_from_numbers_and_strings() {
        let y: Yuan = serde_json::from_str("23442.46").unwrap();
        assert_eq!(y.fen(), Fen(2_344_246));
        let y: Yuan = serde_json::from_str("\"0.1\"").unwrap();
        assert_eq!(y.fen(), Fen(10));
        let y: Yuan = serde_json::from_str("-1505.01").unwrap();
        assert_eq!(y.fen(), Fen(-150_501));
        let y: Yuan = serde_json::from_str("7").unwrap();
        assert_eq!(y.fen(), Fen(700));
        // 16 significant digits: beyond what an f64 holds exactly.
        let y: Yuan = serde_json::from_str("99999999999999.99").unwrap();
        assert_eq!(y.fen(), Fen(9_999_999_999_999_999));
    }

    #[test]
    fn bad_money_is_refused_with_the_reason() {
        let e = serde_json::from_str::<Yuan>("12.345")
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 2 decimals"), "{e}");
        for bad in [
            "1e3",
            "\"12,30\"",
            "\"\"",
            "\" 1\"",
            "true",
            ".5",
            "5.",
            "--1",
            "null",
        ] {
            assert!(
                serde_json::from_str::<Yuan>(bad).is_err(),
                "{bad} was accepted"
            );
        }
        let e = Yuan::parse("100000000000000.00").unwrap_err();
        assert!(
            matches!(e, DecimalError::TooLarge { digits: 14, .. }),
            "{e}"
        );
    }

    #[test]
    fn money_is_written_with_two_decimals() {
        let out =
            serde_json::to_string(&[Yuan(Fen(2_344_246)), Yuan(Fen(-5)), Yuan(Fen(0))]).unwrap();
        assert_eq!(out, "[23442.46,-0.05,0.00]");
    }

    #[test]
    fn ratios_and_quantities() {
        assert_eq!(Ratio::parse("0.6").unwrap(), Ratio(Bp(6000)));
        assert_eq!(Ratio::parse("1.0000").unwrap(), Ratio(Bp(10_000)));
        assert!(matches!(
            Ratio::parse("1.0001"),
            Err(DecimalError::OutOfRange(_))
        ));
        assert!(matches!(
            Ratio::parse("-0.1"),
            Err(DecimalError::OutOfRange(_))
        ));
        assert!(Ratio::parse("0.12345").is_err());
        assert_eq!(Ratio(Bp(6000)).to_string(), "0.6000");
        assert_eq!(Quantity::parse("2.5").unwrap(), Quantity(25_000));
        assert_eq!(Quantity(25_000).to_string(), "2.5000");
    }

    proptest! {
        #[test]
        fn written_money_reads_back_to_the_same_fen(f in -9_999_999_999_999_999i64..=9_999_999_999_999_999) {
            let text = serde_json::to_string(&Yuan(Fen(f))).unwrap();
            let back: Yuan = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back.fen(), Fen(f));
        }
    }
}
