//! Winner selection of a volume-based procurement round (带量采购, DOMAIN §5.1–5.2).
//!
//! A round's rules are data ([`RoundRules`]): the ratio to the lowest unit comparable price
//! that qualifies a bid (the "1.8×" rule), the alternative qualifiers (a cut of at least 50%
//! against the group's highest valid declared price, or a unit price of at most 0.10 yuan),
//! the number of winners as a function of the number of qualified bidders, and the agreed
//! volume share by number of winners.
//!
//! Per group (same generic name and specification):
//!
//! 1. a bid is *invalid* when its unit price or declared price is not positive, or its unit
//!    price is above the group's highest valid declared price (最高有效申报价);
//! 2. the anchor is the lowest unit comparable price (最低单位可比价) among valid bids;
//! 3. a valid bid *qualifies* (入围) when `unit_price ≤ ratio × anchor` (compared exactly: a
//!    price on the line qualifies, one fen above does not), or, failing that, by an
//!    alternative qualifier;
//! 4. qualified bids are ranked (below) and the first `max_winners(qualified)` win, one slot
//!    each;
//! 5. the agreed volume (约定采购量) is the group's reported demand × the share for the number
//!    of winners (half-up to a whole unit), allocated to institutions in proportion to their
//!    demand by the largest-remainder method, so the allocations sum exactly to the total.
//!
//! **Tie-breaking** (deterministic, published with the round): lower unit comparable price
//! first; on equal unit prices, lower declared price; then manufacturer code, then item code,
//! in ascending byte order. Ties never add slots. Allocation ties (equal remainders) go to the
//! institution code that sorts first.
//!
//! The outcome does not depend on the order of groups, bids or demands in the input.

mod allocation;
mod group;
mod rules;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use yibao_core::{Bp, Fen, InstitutionCode};

use super::catalogue::ItemCode;

pub use allocation::allocate_largest_remainder;
pub use rules::{RoundRules, ShareBand, WinnersBand};

/// A procurement group (采购组): one generic name and specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Group id, unique in the round.
    pub id: String,
    /// 通用名.
    pub generic_name: String,
    /// 规格 (or the specification family the unit comparable price refers to).
    pub specification: String,
    /// 最高有效申报价 per comparable unit: bids above it are invalid; the base of the cut
    /// alternative.
    pub highest_valid_price: Fen,
}

/// A manufacturer's bid (申报) in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bid {
    /// Group bid in.
    pub group_id: String,
    /// Manufacturer's organisation code; one bid per manufacturer and group.
    pub manufacturer: String,
    /// Catalogue code of the product bid.
    pub item_code: ItemCode,
    /// 单位可比价: price per comparable unit, the basis of every comparison.
    pub unit_price: Fen,
    /// 申报价: the declared price per pack, the winning price (中选价) if it wins.
    pub declared_price: Fen,
}

/// An institution's reported demand (报量) for a group, in comparable units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    /// Group.
    pub group_id: String,
    /// Reporting institution. Several reports of one institution for one group add up.
    pub institution: InstitutionCode,
    /// First-year demand (首年采购需求量).
    pub quantity: u64,
}

/// A round with its rules, groups, bids and demand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    /// Round id.
    pub id: String,
    /// Rules of the round.
    pub rules: RoundRules,
    /// Groups.
    pub groups: Vec<Group>,
    /// Bids.
    pub bids: Vec<Bid>,
    /// Institutions' demand.
    pub demands: Vec<Demand>,
}

/// Why a round cannot be run. Each variant has a stable code ([`SelectionError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// The rule tables are inconsistent.
    #[error("invalid round rules: {reason}")]
    InvalidRules {
        /// What is wrong.
        reason: String,
    },
    /// Two groups share an id.
    #[error("group {group_id} is defined twice")]
    DuplicateGroup {
        /// Group id.
        group_id: String,
    },
    /// A bid or demand names a group that is not in the round.
    #[error("group {group_id} is not in the round")]
    UnknownGroup {
        /// Group id.
        group_id: String,
    },
    /// A manufacturer bid twice in one group.
    #[error("manufacturer {manufacturer} bid twice in group {group_id}")]
    DuplicateBid {
        /// Group id.
        group_id: String,
        /// Manufacturer.
        manufacturer: String,
    },
    /// A group's highest valid declared price is not positive.
    #[error("group {group_id} has no positive highest valid declared price")]
    InvalidGroup {
        /// Group id.
        group_id: String,
    },
}

impl SelectionError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SelectionError::InvalidRules { .. } => crate::error::INVALID_ROUND_RULES.code,
            SelectionError::DuplicateGroup { .. } => crate::error::DUPLICATE_GROUP.code,
            SelectionError::UnknownGroup { .. } => crate::error::UNKNOWN_GROUP.code,
            SelectionError::DuplicateBid { .. } => crate::error::DUPLICATE_BID.code,
            SelectionError::InvalidGroup { .. } => crate::error::INVALID_GROUP.code,
        }
    }
}

/// Which rule qualified a bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualifiedBy {
    /// Within the ratio to the lowest unit comparable price.
    PriceRatio,
    /// Cut at least the minimum against the highest valid declared price.
    DeepCut,
    /// Unit price at or below the low-price line.
    LowPrice,
}

/// The result of a bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BidStatus {
    /// 无效申报: not a valid bid.
    Invalid,
    /// 未入围: valid but not qualified.
    NotQualified,
    /// Qualified but ranked beyond the last slot.
    NotSelected {
        /// Qualifying rule.
        by: QualifiedBy,
        /// Rank among the qualified (1-based).
        rank: u32,
    },
    /// 拟中选: won a slot.
    Won {
        /// Qualifying rule.
        by: QualifiedBy,
        /// Slot won (1-based, the rank).
        slot: u32,
        /// Number of slots filled in the group.
        of: u32,
    },
}

/// A bid with its result and the reasons, one line per step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BidResult {
    /// Manufacturer.
    pub manufacturer: String,
    /// Product.
    pub item_code: ItemCode,
    /// 单位可比价.
    pub unit_price: Fen,
    /// 申报价.
    pub declared_price: Fen,
    /// Result.
    pub status: BidStatus,
    /// Explanation lines, e.g. `qualified: 1.20 ≤ 1.8 × 0.70 = 1.26`, `won slot 2 of 3`.
    pub explanation: Vec<String>,
}

/// A winning bid (中选).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Winner {
    /// Slot (1-based).
    pub slot: u32,
    /// Manufacturer.
    pub manufacturer: String,
    /// Product.
    pub item_code: ItemCode,
    /// Winning unit comparable price.
    pub unit_price: Fen,
    /// 中选价 per pack.
    pub declared_price: Fen,
}

/// An institution's agreed volume in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// Institution.
    pub institution: InstitutionCode,
    /// Its reported demand.
    pub demand: u64,
    /// Its agreed volume (约定采购量).
    pub agreed_volume: u64,
}

/// The outcome of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOutcome {
    /// Group id.
    pub group_id: String,
    /// 通用名.
    pub generic_name: String,
    /// 规格.
    pub specification: String,
    /// Lowest unit comparable price among valid bids (the anchor), if any.
    pub lowest_unit_price: Option<Fen>,
    /// Number of qualified bids.
    pub qualified: u32,
    /// Winners in slot order.
    pub winners: Vec<Winner>,
    /// Every bid with its result, in ranking order (valid bids by price, then invalid ones).
    pub bids: Vec<BidResult>,
    /// Σ reported demand.
    pub total_demand: u64,
    /// Agreed share for the number of winners.
    pub agreed_share: Bp,
    /// Agreed volume of the group: total demand × share, half-up to a unit.
    pub agreed_volume: u64,
    /// Allocation to institutions in institution-code order; sums to `agreed_volume`.
    pub allocations: Vec<Allocation>,
}

/// The outcome of a round, groups in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Round id.
    pub round_id: String,
    /// Per-group outcomes.
    pub groups: Vec<GroupOutcome>,
}

impl Outcome {
    /// The outcome of a group.
    pub fn group(&self, group_id: &str) -> Option<&GroupOutcome> {
        self.groups
            .binary_search_by(|g| g.group_id.as_str().cmp(group_id))
            .ok()
            .and_then(|i| self.groups.get(i))
    }
}

/// Runs the selection of a round. Errors only on an inconsistent round (bad rules, unknown or
/// duplicate groups, duplicate bids); every bid-level problem is a result with its reason.
pub fn select(round: &Round) -> Result<Outcome, SelectionError> {
    round.rules.validate()?;
    let mut groups: BTreeMap<&str, &Group> = BTreeMap::new();
    for g in &round.groups {
        if g.highest_valid_price.0 <= 0 {
            return Err(SelectionError::InvalidGroup {
                group_id: g.id.clone(),
            });
        }
        if groups.insert(g.id.as_str(), g).is_some() {
            return Err(SelectionError::DuplicateGroup {
                group_id: g.id.clone(),
            });
        }
    }
    let mut bids: BTreeMap<&str, Vec<&Bid>> = BTreeMap::new();
    for b in &round.bids {
        if !groups.contains_key(b.group_id.as_str()) {
            return Err(SelectionError::UnknownGroup {
                group_id: b.group_id.clone(),
            });
        }
        bids.entry(b.group_id.as_str()).or_default().push(b);
    }
    let mut demand: BTreeMap<&str, BTreeMap<&InstitutionCode, u64>> = BTreeMap::new();
    for d in &round.demands {
        if !groups.contains_key(d.group_id.as_str()) {
            return Err(SelectionError::UnknownGroup {
                group_id: d.group_id.clone(),
            });
        }
        let q = demand
            .entry(d.group_id.as_str())
            .or_default()
            .entry(&d.institution)
            .or_insert(0);
        *q = q.saturating_add(d.quantity);
    }
    let mut out = Vec::with_capacity(groups.len());
    for (id, group) in groups {
        let group_bids = bids.remove(id).unwrap_or_default();
        let group_demand = demand.remove(id).unwrap_or_default();
        out.push(group::select_group(
            &round.rules,
            group,
            group_bids,
            group_demand,
        )?);
    }
    Ok(Outcome {
        round_id: round.id.clone(),
        groups: out,
    })
}
