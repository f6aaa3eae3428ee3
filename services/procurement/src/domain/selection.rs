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

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use yibao_core::{Bp, Fen, InstitutionCode};

use super::catalogue::ItemCode;
use super::{exact_times, multiplier, percent, quantity_at_rate};

/// One row of the winners table: from `min_qualified` qualified bidders on, at most
/// `max_winners` win (until the next row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinnersBand {
    /// Smallest number of qualified bidders this row applies to (≥ 1).
    pub min_qualified: u32,
    /// Maximum number of winners.
    pub max_winners: u32,
}

/// One row of the agreed-volume table: from `min_winners` winners on, the agreed volume is
/// `share` of the reported demand (until the next row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareBand {
    /// Smallest number of winners this row applies to (≥ 1).
    pub min_winners: u32,
    /// Share of the reported first-year demand (≤ 100%).
    pub share: Bp,
}

/// The rules of a round, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundRules {
    /// Maximum ratio to the lowest unit comparable price that still qualifies (18000 = 1.8×).
    pub max_ratio_to_lowest: Bp,
    /// Alternative qualifier: a cut of at least this much against the group's highest valid
    /// declared price (与最高有效申报价相比降幅, e.g. 5000 = 50%). `None`: not offered.
    pub min_cut_alternative: Option<Bp>,
    /// Alternative qualifier: a unit comparable price at or below this (e.g. 10 fen = 0.10
    /// yuan, low-price drugs). `None`: not offered.
    pub low_price_alternative: Option<Fen>,
    /// Winners table, rows in ascending `min_qualified`, the first row starting at 1.
    pub winners_by_qualified: Vec<WinnersBand>,
    /// Agreed-volume share table, rows in ascending `min_winners`, the first starting at 1.
    pub agreed_share_by_winners: Vec<ShareBand>,
}

impl RoundRules {
    /// The national defaults of DOMAIN §5.1–5.2: 1.8× (10th batch "规则一" [S]), ≥ 50% cut or
    /// ≤ 0.10 yuan alternatives [K], shares 1→50%, 2→60%, 3→70%, ≥4→80% [K]. The winners table
    /// is illustrative [I] (batches publish their own): 1→1, 2–3→2, 4→3, 5–6→4, 7–8→5, 9–10→6,
    /// ≥11→8.
    pub fn national_default() -> RoundRules {
        let w = |min_qualified, max_winners| WinnersBand {
            min_qualified,
            max_winners,
        };
        let s = |min_winners, share| ShareBand {
            min_winners,
            share: Bp(share),
        };
        RoundRules {
            max_ratio_to_lowest: Bp(18_000),
            min_cut_alternative: Some(Bp(5_000)),
            low_price_alternative: Some(Fen(10)),
            winners_by_qualified: vec![
                w(1, 1),
                w(2, 2),
                w(4, 3),
                w(5, 4),
                w(7, 5),
                w(9, 6),
                w(11, 8),
            ],
            agreed_share_by_winners: vec![s(1, 5_000), s(2, 6_000), s(3, 7_000), s(4, 8_000)],
        }
    }

    /// Checks the tables: non-empty, first row at 1, strictly ascending, winners ≥ 1, shares ≤
    /// 100%, ratio ≥ 100%, cut ≤ 100%.
    pub fn validate(&self) -> Result<(), SelectionError> {
        let bad = |reason: &str| {
            Err(SelectionError::InvalidRules {
                reason: reason.to_string(),
            })
        };
        if self.max_ratio_to_lowest < Bp::FULL {
            return bad("max_ratio_to_lowest must be at least 10000 bp (1×)");
        }
        if self.min_cut_alternative.is_some_and(|c| c > Bp::FULL) {
            return bad("min_cut_alternative must be at most 10000 bp");
        }
        let w = &self.winners_by_qualified;
        if w.first().map(|b| b.min_qualified) != Some(1) {
            return bad("winners_by_qualified must start at 1 qualified bidder");
        }
        if w.windows(2)
            .any(|p| p[0].min_qualified >= p[1].min_qualified)
        {
            return bad("winners_by_qualified must be strictly ascending");
        }
        if w.iter().any(|b| b.max_winners == 0) {
            return bad("max_winners must be at least 1");
        }
        let s = &self.agreed_share_by_winners;
        if s.first().map(|b| b.min_winners) != Some(1) {
            return bad("agreed_share_by_winners must start at 1 winner");
        }
        if s.windows(2).any(|p| p[0].min_winners >= p[1].min_winners) {
            return bad("agreed_share_by_winners must be strictly ascending");
        }
        if s.iter().any(|b| b.share > Bp::FULL) {
            return bad("an agreed share must be at most 10000 bp");
        }
        Ok(())
    }

    /// Maximum number of winners for `qualified` qualified bidders (0 for none).
    pub fn max_winners(&self, qualified: u32) -> u32 {
        if qualified == 0 {
            return 0;
        }
        self.winners_by_qualified
            .iter()
            .rev()
            .find(|b| b.min_qualified <= qualified)
            .map_or(0, |b| b.max_winners.min(qualified))
    }

    /// Agreed-volume share for `winners` winners (0 for none).
    pub fn agreed_share(&self, winners: u32) -> Bp {
        if winners == 0 {
            return Bp::ZERO;
        }
        self.agreed_share_by_winners
            .iter()
            .rev()
            .find(|b| b.min_winners <= winners)
            .map_or(Bp::ZERO, |b| b.share)
    }
}

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
        out.push(select_group(&round.rules, group, group_bids, group_demand)?);
    }
    Ok(Outcome {
        round_id: round.id.clone(),
        groups: out,
    })
}

/// Ranking key: unit price, declared price, manufacturer, item code.
fn rank_key(b: &Bid) -> (Fen, Fen, &str, &str) {
    (
        b.unit_price,
        b.declared_price,
        b.manufacturer.as_str(),
        b.item_code.as_str(),
    )
}

fn select_group(
    rules: &RoundRules,
    group: &Group,
    mut bids: Vec<&Bid>,
    demand: BTreeMap<&InstitutionCode, u64>,
) -> Result<GroupOutcome, SelectionError> {
    bids.sort_by(|a, b| rank_key(a).cmp(&rank_key(b)));
    let mut manufacturers = BTreeSet::new();
    for b in &bids {
        if !manufacturers.insert(b.manufacturer.as_str()) {
            return Err(SelectionError::DuplicateBid {
                group_id: group.id.clone(),
                manufacturer: b.manufacturer.clone(),
            });
        }
    }
    let ceiling = group.highest_valid_price;
    let (valid, invalid): (Vec<&Bid>, Vec<&Bid>) = bids
        .into_iter()
        .partition(|b| b.unit_price.0 > 0 && b.declared_price.0 > 0 && b.unit_price <= ceiling);
    // Valid bids are sorted by unit price: the first is the anchor.
    let lowest = valid.first().map(|b| b.unit_price);

    let mut results: Vec<BidResult> = Vec::with_capacity(valid.len() + invalid.len());
    let mut qualified: Vec<(usize, QualifiedBy)> = Vec::new();
    for b in &valid {
        let mut lines = Vec::with_capacity(3);
        let by = qualify(
            rules,
            ceiling,
            lowest.unwrap_or(b.unit_price),
            b.unit_price,
            &mut lines,
        );
        if let Some(by) = by {
            qualified.push((results.len(), by));
        }
        results.push(BidResult {
            manufacturer: b.manufacturer.clone(),
            item_code: b.item_code.clone(),
            unit_price: b.unit_price,
            declared_price: b.declared_price,
            status: BidStatus::NotQualified,
            explanation: lines,
        });
    }
    let n_qualified = u32::try_from(qualified.len()).unwrap_or(u32::MAX);
    let slots = rules.max_winners(n_qualified);
    let mut winners = Vec::new();
    for (rank0, (idx, by)) in qualified.iter().enumerate() {
        let rank = u32::try_from(rank0 + 1).unwrap_or(u32::MAX);
        let Some(r) = results.get_mut(*idx) else {
            continue;
        };
        if rank <= slots {
            r.status = BidStatus::Won {
                by: *by,
                slot: rank,
                of: slots,
            };
            r.explanation.push(format!("won slot {rank} of {slots}"));
            winners.push(Winner {
                slot: rank,
                manufacturer: r.manufacturer.clone(),
                item_code: r.item_code.clone(),
                unit_price: r.unit_price,
                declared_price: r.declared_price,
            });
        } else {
            r.status = BidStatus::NotSelected { by: *by, rank };
            r.explanation.push(format!(
                "not selected: ranked {rank} of {n_qualified} qualified, {slots} slots"
            ));
        }
    }
    for b in invalid {
        let reason = if b.unit_price.0 <= 0 {
            format!(
                "invalid: unit comparable price {} must be positive",
                b.unit_price
            )
        } else if b.declared_price.0 <= 0 {
            format!(
                "invalid: declared price {} must be positive",
                b.declared_price
            )
        } else {
            format!(
                "invalid: {} is above the highest valid declared price {}",
                b.unit_price, ceiling
            )
        };
        results.push(BidResult {
            manufacturer: b.manufacturer.clone(),
            item_code: b.item_code.clone(),
            unit_price: b.unit_price,
            declared_price: b.declared_price,
            status: BidStatus::Invalid,
            explanation: vec![reason],
        });
    }

    let n_winners = u32::try_from(winners.len()).unwrap_or(u32::MAX);
    let agreed_share = rules.agreed_share(n_winners);
    let total_demand = demand.values().fold(0u64, |acc, q| acc.saturating_add(*q));
    let agreed_volume = quantity_at_rate(total_demand, agreed_share);
    let weights: Vec<u64> = demand.values().copied().collect();
    let shares = allocate_largest_remainder(agreed_volume, &weights);
    let allocations = demand
        .iter()
        .zip(shares)
        .map(|((inst, q), agreed)| Allocation {
            institution: (*inst).clone(),
            demand: *q,
            agreed_volume: agreed,
        })
        .collect();

    Ok(GroupOutcome {
        group_id: group.id.clone(),
        generic_name: group.generic_name.clone(),
        specification: group.specification.clone(),
        lowest_unit_price: lowest,
        qualified: n_qualified,
        winners,
        bids: results,
        total_demand,
        agreed_share,
        agreed_volume,
        allocations,
    })
}

/// Applies the qualifying rules in order (ratio, cut, low price), writing one line per rule
/// tried. Comparisons are exact in integers.
fn qualify(
    rules: &RoundRules,
    ceiling: Fen,
    lowest: Fen,
    price: Fen,
    lines: &mut Vec<String>,
) -> Option<QualifiedBy> {
    let ratio = rules.max_ratio_to_lowest;
    let line = format!(
        "{} × {} = {}",
        multiplier(ratio),
        lowest,
        exact_times(lowest, ratio)
    );
    // price ≤ ratio × lowest  ⇔  price × 10000 ≤ lowest × ratio
    if i128::from(price.0) * 10_000 <= i128::from(lowest.0) * i128::from(ratio.0) {
        lines.push(format!("qualified: {price} ≤ {line}"));
        return Some(QualifiedBy::PriceRatio);
    }
    lines.push(format!("not qualified: {price} > {line}"));
    if let Some(min_cut) = rules.min_cut_alternative {
        // cut = (ceiling − price) / ceiling ≥ min_cut  ⇔  price × 10000 ≤ ceiling × (10000 − min_cut)
        let cut_bp = super::ratio_bp(i128::from(ceiling.0 - price.0), i128::from(ceiling.0));
        let max_price = i128::from(ceiling.0) * i128::from(Bp::FULL.0.saturating_sub(min_cut.0));
        if i128::from(price.0) * 10_000 <= max_price {
            lines.push(format!(
                "qualified by cut: {price} is {} below the highest valid declared price {ceiling} (≥ {min_cut})",
                percent(cut_bp)
            ));
            return Some(QualifiedBy::DeepCut);
        }
        lines.push(format!(
            "not qualified by cut: {price} is {} below the highest valid declared price {ceiling} (< {min_cut})",
            percent(cut_bp)
        ));
    }
    if let Some(low) = rules.low_price_alternative {
        if price <= low {
            lines.push(format!("qualified as low-price: {price} ≤ {low}"));
            return Some(QualifiedBy::LowPrice);
        }
        lines.push(format!("not qualified as low-price: {price} > {low}"));
    }
    None
}

/// Splits `total` among weights in proportion, exactly: each gets `⌊total × wᵢ / Σw⌋`, and the
/// units left over go one each to the largest remainders, ties to the earlier index. The
/// result sums to `total` (all zero when every weight is zero and `total` is zero; when the
/// weights sum to zero and `total` is not, everything goes to nobody and the result is zeros —
/// callers derive `total` from the weights, so this does not happen).
pub fn allocate_largest_remainder(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let total128 = u128::from(total);
    let mut out = Vec::with_capacity(weights.len());
    let mut rems = Vec::with_capacity(weights.len());
    let mut given: u128 = 0;
    for (i, w) in weights.iter().enumerate() {
        let p = total128 * u128::from(*w);
        let q = p / sum;
        given += q;
        out.push(u64::try_from(q).unwrap_or(u64::MAX));
        rems.push((p % sum, i));
    }
    let left = usize::try_from(total128.saturating_sub(given)).unwrap_or(0);
    // Largest remainder first; equal remainders: lower index first.
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems.into_iter().take(left) {
        if let Some(v) = out.get_mut(i) {
            *v += 1;
        }
    }
    out
}
