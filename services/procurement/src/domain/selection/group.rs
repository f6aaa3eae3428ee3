//! Selection within one group: validity, qualification, ranking into slots, and the agreed
//! volume allocated to the group's institutions.

use std::collections::{BTreeMap, BTreeSet};
use yibao_core::{Bp, Fen, InstitutionCode};

use super::{
    Allocation, Bid, BidResult, BidStatus, Group, GroupOutcome, QualifiedBy, RoundRules,
    SelectionError, Winner, allocate_largest_remainder,
};
use crate::domain::{exact_times, multiplier, percent, quantity_at_rate, ratio_bp};

/// Ranking key: unit price, declared price, manufacturer, item code.
fn rank_key(b: &Bid) -> (Fen, Fen, &str, &str) {
    (
        b.unit_price,
        b.declared_price,
        b.manufacturer.as_str(),
        b.item_code.as_str(),
    )
}

pub(super) fn select_group(
    rules: &RoundRules,
    group: &Group,
    mut bids: Vec<&Bid>,
    demand: BTreeMap<&InstitutionCode, u64>,
) -> Result<GroupOutcome, SelectionError> {
    bids.sort_by(|a, b| rank_key(a).cmp(&rank_key(b)));
    check_one_bid_per_manufacturer(group, &bids)?;
    let ceiling = group.highest_valid_price;
    let (valid, invalid): (Vec<&Bid>, Vec<&Bid>) = bids
        .into_iter()
        .partition(|b| b.unit_price.0 > 0 && b.declared_price.0 > 0 && b.unit_price <= ceiling);
    // Valid bids are sorted by unit price: the first is the anchor.
    let lowest = valid.first().map(|b| b.unit_price);

    let mut results: Vec<BidResult> = Vec::with_capacity(valid.len() + invalid.len());
    let qualified = qualify_valid(rules, ceiling, lowest, &valid, &mut results);
    let n_qualified = u32::try_from(qualified.len()).unwrap_or(u32::MAX);
    let slots = rules.max_winners(n_qualified);
    let winners = award_slots(&qualified, slots, n_qualified, &mut results);
    for b in invalid {
        results.push(invalid_result(b, ceiling));
    }

    let n_winners = u32::try_from(winners.len()).unwrap_or(u32::MAX);
    let agreed_share = rules.agreed_share(n_winners);
    let total_demand = demand.values().fold(0u64, |acc, q| acc.saturating_add(*q));
    let agreed_volume = quantity_at_rate(total_demand, agreed_share);
    let allocations = allocate(agreed_volume, &demand);

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

/// Refuses a second bid of one manufacturer in the group.
fn check_one_bid_per_manufacturer(group: &Group, bids: &[&Bid]) -> Result<(), SelectionError> {
    let mut manufacturers = BTreeSet::new();
    for b in bids {
        if !manufacturers.insert(b.manufacturer.as_str()) {
            return Err(SelectionError::DuplicateBid {
                group_id: group.id.clone(),
                manufacturer: b.manufacturer.clone(),
            });
        }
    }
    Ok(())
}

/// Appends a result for each valid bid (not qualified until ranked) and returns the qualified
/// ones as (index into `results`, qualifying rule), in ranking order.
fn qualify_valid(
    rules: &RoundRules,
    ceiling: Fen,
    lowest: Option<Fen>,
    valid: &[&Bid],
    results: &mut Vec<BidResult>,
) -> Vec<(usize, QualifiedBy)> {
    let mut qualified: Vec<(usize, QualifiedBy)> = Vec::new();
    for b in valid {
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
    qualified
}

/// Gives the first `slots` qualified bids a slot each and marks the rest not selected;
/// returns the winners in slot order.
fn award_slots(
    qualified: &[(usize, QualifiedBy)],
    slots: u32,
    n_qualified: u32,
    results: &mut [BidResult],
) -> Vec<Winner> {
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
    winners
}

/// The result of an invalid bid with the first reason it is invalid.
fn invalid_result(b: &Bid, ceiling: Fen) -> BidResult {
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
    BidResult {
        manufacturer: b.manufacturer.clone(),
        item_code: b.item_code.clone(),
        unit_price: b.unit_price,
        declared_price: b.declared_price,
        status: BidStatus::Invalid,
        explanation: vec![reason],
    }
}

/// The agreed volume split among institutions in proportion to their demand, in
/// institution-code order.
fn allocate(agreed_volume: u64, demand: &BTreeMap<&InstitutionCode, u64>) -> Vec<Allocation> {
    let weights: Vec<u64> = demand.values().copied().collect();
    let shares = allocate_largest_remainder(agreed_volume, &weights);
    demand
        .iter()
        .zip(shares)
        .map(|((inst, q), agreed)| Allocation {
            institution: (*inst).clone(),
            demand: *q,
            agreed_volume: agreed,
        })
        .collect()
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
        let cut_bp = ratio_bp(i128::from(ceiling.0 - price.0), i128::from(ceiling.0));
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
