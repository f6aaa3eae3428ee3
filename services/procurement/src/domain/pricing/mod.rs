//! Prices: listed prices (挂网价) checked against reference prices (限价 ceilings and 指导价
//! guide prices) with effective periods, payment standards (医保支付标准) with history, their
//! derivation from a procurement outcome (DOMAIN §5.3), and price-cut statistics.
//!
//! All prices are fen per pricing unit of the item (单位可比价 / 最小计价单位 for drugs, per
//! item for service items). Histories are per item: setting a new value from a date closes an
//! open-ended previous one the day before; a value that would overlap a closed period is
//! refused, so a date always has at most one value of each kind.

mod book;
mod history;
mod standards;
mod statistics;

use serde::{Deserialize, Serialize};
use std::fmt;
use yibao_core::{Fen, MoneyOverflow};

use super::Period;
use super::catalogue::ItemCode;

pub use book::{PaymentStandardIndex, PriceBook};
pub use standards::{
    DerivedStandard, NonWinningProduct, StandardRules, WinningReference, derive_standards,
};
pub use statistics::{CategoryCut, PriceCutInput, price_cut_statistics};

/// Kind of reference price a listing must not exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    /// 限价: a price ceiling set by the bureau or the procurement platform.
    Ceiling,
    /// 指导价: a guide price (e.g. a test's guide price cut from 200 to 120 yuan).
    Guide,
}

impl fmt::Display for ReferenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReferenceKind::Ceiling => "ceiling price (限价)",
            ReferenceKind::Guide => "guide price (指导价)",
        })
    }
}

/// A reference price of an item over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencePrice {
    /// Item.
    pub item_code: ItemCode,
    /// Ceiling or guide.
    pub kind: ReferenceKind,
    /// Price per unit.
    pub price: Fen,
    /// Effective period.
    pub period: Period,
}

/// A listing (挂网) of an item at a price over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedPrice {
    /// Item.
    pub item_code: ItemCode,
    /// Listed price per unit.
    pub price: Fen,
    /// Effective period.
    pub period: Period,
}

/// A payment standard (医保支付标准) of an item over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentStandard {
    /// Item.
    pub item_code: ItemCode,
    /// Standard per unit; the insured pays any excess (`overlmt_selfpay`).
    pub amount: Fen,
    /// Effective period.
    pub period: Period,
    /// Why this amount: set by an operator, or the derivation rule that produced it.
    pub basis: String,
}

/// Why a price operation was refused. Each variant has a stable code ([`PricingError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// A listing is above a reference price effective during its period.
    #[error(
        "listed price {price} of {item_code} is above the {kind} {reference} effective {reference_period}"
    )]
    AboveReference {
        /// Item.
        item_code: ItemCode,
        /// Refused listed price.
        price: Fen,
        /// The reference it exceeds.
        kind: ReferenceKind,
        /// The reference price.
        reference: Fen,
        /// The reference's period.
        reference_period: Period,
    },
    /// A new value overlaps a closed period of the same item and kind.
    #[error("{item_code}: period {period} overlaps the existing period {existing}")]
    Overlap {
        /// Item.
        item_code: ItemCode,
        /// Refused period.
        period: Period,
        /// Existing period.
        existing: Period,
    },
    /// A price must be positive.
    #[error("{item_code}: price {price} must be positive")]
    NonPositivePrice {
        /// Item.
        item_code: ItemCode,
        /// Refused price.
        price: Fen,
    },
    /// A period ends before it starts.
    #[error("{item_code}: period ends before it starts")]
    InvalidPeriod {
        /// Item.
        item_code: ItemCode,
    },
    /// Money arithmetic overflowed.
    #[error(transparent)]
    Overflow(#[from] MoneyOverflow),
}

impl PricingError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PricingError::AboveReference { .. } => crate::error::PRICE_ABOVE_REFERENCE.code,
            PricingError::Overlap { .. } => crate::error::PERIOD_OVERLAP.code,
            PricingError::NonPositivePrice { .. } => crate::error::NON_POSITIVE_PRICE.code,
            PricingError::InvalidPeriod { .. } => crate::error::INVALID_PERIOD.code,
            PricingError::Overflow(_) => crate::error::MONEY_OVERFLOW.code,
        }
    }
}
