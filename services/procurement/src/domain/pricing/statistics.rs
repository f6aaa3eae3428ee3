//! Price-cut statistics per round and category.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use yibao_core::{Fen, MoneyOverflow};

use super::super::ratio_bp;
use super::{ItemCode, PricingError};

/// One item's price before and after a round, for the statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceCutInput {
    /// Round.
    pub round_id: String,
    /// Category, e.g. `drug`, `joint` (人工关节), `stent`.
    pub category: String,
    /// Item.
    pub item_code: ItemCode,
    /// Unit price before (集采前).
    pub before: Fen,
    /// Unit price after (中选价).
    pub after: Fen,
    /// Quantity weighting the volume-weighted cut (e.g. agreed volume).
    pub quantity: u64,
}

/// Price cuts of one round and category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCut {
    /// Round.
    pub round_id: String,
    /// Category.
    pub category: String,
    /// Number of items.
    pub items: u32,
    /// Mean of the items' cuts, in bp, half-up (8200 = prices down 82%); negative for rises.
    pub average_cut_bp: i64,
    /// Volume-weighted cut `1 − Σ after×q / Σ before×q`, in bp, half-up.
    pub weighted_cut_bp: i64,
    /// Σ before × quantity.
    pub before_total: Fen,
    /// Σ after × quantity.
    pub after_total: Fen,
}

/// Price-cut statistics per round and category, in (round, category) order. Items with a
/// non-positive price before are skipped (no cut can be computed).
pub fn price_cut_statistics(inputs: &[PriceCutInput]) -> Result<Vec<CategoryCut>, PricingError> {
    // Each item's cut is rounded to a basis point first, then the mean is rounded once.
    struct Acc {
        items: i64,
        cut_sum_bp: i128,
        before: Fen,
        after: Fen,
    }
    let mut acc: BTreeMap<(&str, &str), Acc> = BTreeMap::new();
    for i in inputs.iter().filter(|i| i.before.0 > 0) {
        let a = acc
            .entry((i.round_id.as_str(), i.category.as_str()))
            .or_insert(Acc {
                items: 0,
                cut_sum_bp: 0,
                before: Fen::ZERO,
                after: Fen::ZERO,
            });
        let q = i64::try_from(i.quantity).map_err(|_| MoneyOverflow)?;
        a.items += 1;
        a.cut_sum_bp += i128::from(ratio_bp(
            i128::from(i.before.0 - i.after.0),
            i128::from(i.before.0),
        ));
        a.before = a.before.checked_add(i.before.checked_mul(q)?)?;
        a.after = a.after.checked_add(i.after.checked_mul(q)?)?;
    }
    Ok(acc
        .into_iter()
        .map(|((round, category), a)| CategoryCut {
            round_id: round.to_string(),
            category: category.to_string(),
            items: u32::try_from(a.items).unwrap_or(u32::MAX),
            average_cut_bp: round_div(a.cut_sum_bp, i128::from(a.items)),
            weighted_cut_bp: ratio_bp(i128::from(a.before.0 - a.after.0), i128::from(a.before.0)),
            before_total: a.before,
            after_total: a.after,
        })
        .collect())
}

/// `n / d` rounded half away from zero; 0 when `d` is 0.
fn round_div(n: i128, d: i128) -> i64 {
    if d == 0 {
        return 0;
    }
    let q = n / d;
    let r = n % d;
    let q = if r.abs() * 2 >= d.abs() {
        q + n.signum() * d.signum()
    } else {
        q
    };
    i64::try_from(q).unwrap_or(0)
}
