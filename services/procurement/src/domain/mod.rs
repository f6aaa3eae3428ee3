//! Pure rules of the procurement service: no I/O, no async.
//!
//! - [`catalogue`]: the medical-insurance catalogue (医保目录): entries (drugs, consumables,
//!   reagents, service items) in versions per region and period with class, first self-pay
//!   share, payment standard, negotiated flag and payment restrictions (限定支付), their code
//!   formats (DOMAIN §7.3, §7.4), the parsing of a catalogue file with per-row errors, and the
//!   resolution of a claim's lines (a code in no version in force is 丙);
//! - [`selection`]: a volume-based procurement round (国家组织药品集中带量采购, DOMAIN §5.1–5.2)
//!   with its rules as data, winner selection with an explanation per bid, and agreed volumes
//!   allocated to institutions exactly;
//! - [`pricing`]: listed prices (挂网) against ceilings and guide prices, payment standards
//!   (医保支付标准) with history and their derivation from an outcome (DOMAIN §5.3), price-cut
//!   statistics;
//! - [`inventory`]: purchase-sale-inventory checks (进销存): unlisted purchases, mark-ups, sales
//!   without stock;
//! - [`savings`]: agreed-volume completion against time progress and retained savings
//!   (结余留用, DOMAIN §5.4).
//!
//! Money is [`yibao_core::Fen`], rates and ratios [`yibao_core::Bp`]. Unit prices are fen per
//! comparable unit (单位可比价 / 最小计价单位). Every threshold comparison is exact in integers;
//! a rate applied to an amount rounds once, half-up to the fen. Quantities are whole units.
//! Every function returns the same result for the same input whatever the input order.

pub mod catalogue;
pub mod inventory;
pub mod pricing;
pub mod savings;
pub mod selection;

#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use yibao_core::{Bp, Fen};

pub use catalogue::{
    CATALOGUE_COLUMNS, Catalogue, CatalogueEntry, CatalogueImport, CodeError, CodeFormat,
    FieldProblem, InsuranceClass, ItemCode, ItemKind, LineQuery, MAX_AGE_YEARS, RegionVersion,
    ResolveContext, Resolved, RestrictionKind, Restrictions, RowError, RowOrigin, StandardSource,
    VersionChange, VersionConflict, Violation, apply_version, parse_catalogue_csv, resolve_line,
    select_version,
};
pub use inventory::{
    Finding, FindingKind, InventoryCheck, InventoryError, InventoryRecord, InventoryRules,
    Movement, OpeningStock, StockPosition, check_inventory,
};
pub use pricing::{
    CategoryCut, DerivedStandard, ListedPrice, NonWinningProduct, PaymentStandard,
    PaymentStandardIndex, PriceBook, PriceCutInput, PricingError, ReferenceKind, ReferencePrice,
    StandardRules, WinningReference, derive_standards, price_cut_statistics,
};
pub use savings::{
    CompletionInput, CompletionRules, CompletionStatus, InstitutionSavingsInput, RetainedSavings,
    SavingsError, SavingsLine, SavingsPurchase, SavingsRules, VolumeCompletion, retained_savings,
    time_progress, total_retained, volume_completion,
};
pub use selection::{
    Allocation, Bid, BidResult, BidStatus, Demand, Group, GroupOutcome, Outcome, QualifiedBy,
    Round, RoundRules, SelectionError, ShareBand, Winner, WinnersBand, allocate_largest_remainder,
    select,
};

/// A validity period of whole days, `from` to `to` inclusive; `to = None` is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive), `None` while open-ended.
    pub to: Option<NaiveDate>,
}

impl Period {
    /// An open-ended period from `from`.
    pub fn from(from: NaiveDate) -> Period {
        Period { from, to: None }
    }

    /// A closed period; `None` when `to < from`.
    pub fn between(from: NaiveDate, to: NaiveDate) -> Option<Period> {
        (from <= to).then_some(Period { from, to: Some(to) })
    }

    /// True when `date` lies in the period.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && self.to.is_none_or(|to| date <= to)
    }

    /// True when the two periods share at least one day.
    pub fn overlaps(&self, other: &Period) -> bool {
        let a_starts_before_b_ends = other.to.is_none_or(|to| self.from <= to);
        let b_starts_before_a_ends = self.to.is_none_or(|to| other.from <= to);
        a_starts_before_b_ends && b_starts_before_a_ends
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to {
            Some(to) => write!(f, "{} to {}", self.from, to),
            None => write!(f, "from {}", self.from),
        }
    }
}

/// Formats `numerator / 10^scale` as a decimal with at least two and at most `scale`
/// decimals, trailing zeros trimmed: `(1_260_000, 6)` → `1.26`, `(1_278_000, 6)` → `1.278`.
pub(crate) fn decimal(numerator: i128, scale: u32) -> String {
    let sign = if numerator < 0 { "-" } else { "" };
    let n = numerator.unsigned_abs();
    let div = 10u128.pow(scale);
    let mut frac = format!("{:0width$}", n % div, width = scale as usize);
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    format!("{sign}{}.{frac}", n / div)
}

/// A ratio in basis points as a multiplier: `Bp(18000)` → `1.8`, `Bp(20000)` → `2`.
pub(crate) fn multiplier(bp: Bp) -> String {
    let s = decimal(i128::from(bp.0), 4);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `price × ratio` in yuan, exact: `(Fen(70), Bp(18000))` → `1.26`.
pub(crate) fn exact_times(price: Fen, ratio: Bp) -> String {
    decimal(i128::from(price.0) * i128::from(ratio.0), 6)
}

/// `quantity × rate`, rounded half-up to a whole unit.
pub(crate) fn quantity_at_rate(quantity: u64, rate: Bp) -> u64 {
    let product = u128::from(quantity) * u128::from(rate.0);
    let rounded = (product + 5_000) / 10_000;
    u64::try_from(rounded).unwrap_or(u64::MAX)
}

/// `numerator / denominator` in basis points, rounded half-up; 0 when the denominator is 0.
pub(crate) fn ratio_bp(numerator: i128, denominator: i128) -> i64 {
    if denominator == 0 {
        return 0;
    }
    let scaled = numerator * 10_000;
    let q = scaled / denominator;
    let r = scaled % denominator;
    let rounded = if (r.abs() * 2) >= denominator.abs() {
        q + (scaled.signum() * denominator.signum())
    } else {
        q
    };
    i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN })
}

/// A basis-point figure (possibly negative) as a percentage: `8200` → `82.00%`.
pub(crate) fn percent(bp: i64) -> String {
    format!("{}%", decimal(i128::from(bp), 2))
}
