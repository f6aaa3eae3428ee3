//! Money and rates.
//!
//! All money is integer fen (分, 0.01 yuan). Rates are basis points (10000 = 100%).
//!
//! **The one rounding rule**: a rate applied to an amount is rounded HALF-UP to the fen
//! (half away from zero for negative amounts), once, per application. Each settlement layer
//! rounds its own payout and hands the exact remainder on to the next layer, so layers
//! always add up to the total to the fen.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of money in fen (分). Arithmetic is checked: overflow is an error, never a wrap.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(pub i64);

/// Money arithmetic overflowed `i64` fen (about 92 trillion yuan): the input is absurd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("money arithmetic overflowed")]
pub struct MoneyOverflow;

impl Fen {
    /// Zero fen.
    pub const ZERO: Fen = Fen(0);

    /// Whole yuan to fen.
    pub const fn yuan(y: i64) -> Fen {
        Fen(y * 100)
    }

    /// The raw number of fen.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// `self + rhs`, or an error on overflow.
    pub fn checked_add(self, rhs: Fen) -> Result<Fen, MoneyOverflow> {
        self.0.checked_add(rhs.0).map(Fen).ok_or(MoneyOverflow)
    }

    /// `self - rhs`, or an error on overflow.
    pub fn checked_sub(self, rhs: Fen) -> Result<Fen, MoneyOverflow> {
        self.0.checked_sub(rhs.0).map(Fen).ok_or(MoneyOverflow)
    }

    /// `self × n` (a quantity), or an error on overflow.
    pub fn checked_mul(self, n: i64) -> Result<Fen, MoneyOverflow> {
        self.0.checked_mul(n).map(Fen).ok_or(MoneyOverflow)
    }

    /// `self - rhs`, floored at zero. Never overflows for non-negative inputs.
    pub fn saturating_sub_floor0(self, rhs: Fen) -> Fen {
        Fen(self.0.saturating_sub(rhs.0).max(0))
    }

    /// This amount at `rate`, rounded half-up to the fen (the one rounding rule).
    pub fn at_rate(self, rate: Bp) -> Fen {
        let product = i128::from(self.0) * i128::from(rate.0);
        let q = product / 10_000;
        let r = product % 10_000;
        let rounded = if r.abs() * 2 >= 10_000 {
            q + product.signum()
        } else {
            q
        };
        // |self| × rate / 10000 with rate ≤ u32::MAX stays within i64 for any sane amount;
        // clamp instead of panicking if someone passes an absurd rate.
        Fen(i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN }))
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Fen) -> Fen {
        Fen(self.0.min(other.0))
    }

    /// The larger of two amounts.
    pub fn max(self, other: Fen) -> Fen {
        Fen(self.0.max(other.0))
    }

    /// True when the amount is negative.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Sum of amounts, checked.
    pub fn sum<I: IntoIterator<Item = Fen>>(items: I) -> Result<Fen, MoneyOverflow> {
        items.into_iter().try_fold(Fen::ZERO, Fen::checked_add)
    }
}

impl fmt::Display for Fen {
    /// Displays as yuan with two decimals: `Fen(1234567)` → `12345.67`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Debug for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fen({self})")
    }
}

/// A rate in basis points: 10000 = 100%. Ratios above 100% (e.g. the 1.8× price line of
/// procurement, 18000) are allowed; payout shares are checked by [`Bp::share`].
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bp(pub u32);

/// A payout share was above 100%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate {0} basis points is above 10000 (100%)")]
pub struct RateAboveFull(pub u32);

impl Bp {
    /// 100%.
    pub const FULL: Bp = Bp(10_000);
    /// 0%.
    pub const ZERO: Bp = Bp(0);

    /// A share of an amount (0..=10000 bp).
    pub fn share(bp: u32) -> Result<Bp, RateAboveFull> {
        if bp > 10_000 {
            Err(RateAboveFull(bp))
        } else {
            Ok(Bp(bp))
        }
    }

    /// The raw basis points.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// `self + rhs` capped at 100% (used for "+5 points" tilts).
    pub fn plus_capped(self, rhs: Bp) -> Bp {
        Bp(self.0.saturating_add(rhs.0).min(10_000))
    }

    /// `100% - self`, floored at zero.
    pub fn complement(self) -> Bp {
        Bp(10_000u32.saturating_sub(self.0))
    }
}

impl fmt::Display for Bp {
    /// `Bp(6500)` → `65.00%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}%", self.0 / 100, self.0 % 100)
    }
}

impl fmt::Debug for Bp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bp({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rate_rounds_half_up_to_the_fen() {
        // 0.05 fen rounds up, 0.04999 down.
        assert_eq!(Fen(1).at_rate(Bp(5_000)), Fen(1)); // 0.5 → 1
        assert_eq!(Fen(3).at_rate(Bp(1_500)), Fen(0)); // 0.45 → 0
        assert_eq!(Fen(-1).at_rate(Bp(5_000)), Fen(-1)); // half away from zero
        // DOMAIN 1.7: (48,250 − 5,000) × 65% = 28,112.50 yuan
        assert_eq!(Fen::yuan(43_250).at_rate(Bp(6_500)), Fen(2_811_250));
    }

    #[test]
    fn displays_as_yuan() {
        assert_eq!(Fen(1_234_567).to_string(), "12345.67");
        assert_eq!(Fen(-5).to_string(), "-0.05");
        assert_eq!(Bp(6_500).to_string(), "65.00%");
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(Fen(i64::MAX).checked_add(Fen(1)), Err(MoneyOverflow));
        assert_eq!(Fen(i64::MIN).checked_sub(Fen(1)), Err(MoneyOverflow));
    }

    #[test]
    fn share_above_full_is_refused() {
        assert_eq!(Bp::share(10_001), Err(RateAboveFull(10_001)));
        assert_eq!(Bp(9_800).plus_capped(Bp(500)), Bp::FULL);
    }

    proptest! {
        #[test]
        fn rate_and_complement_add_up(amount in 0i64..10_000_000_000, bp in 0u32..=10_000) {
            let paid = Fen(amount).at_rate(Bp(bp));
            let rest = Fen(amount).checked_sub(paid).unwrap();
            prop_assert!(paid.0 >= 0 && rest.0 >= 0);
            prop_assert_eq!(paid.0 + rest.0, amount);
        }
    }
}
