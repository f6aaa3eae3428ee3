//! Payment standards derived from a procurement outcome (DOMAIN §5.3).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use yibao_core::{Bp, Fen};

use super::super::selection::Outcome;
use super::super::{Period, exact_times, multiplier};
use super::{ItemCode, PaymentStandard, PaymentStandardIndex, PricingError};

/// Which winning price a non-winner of the same generic name is compared with when a generic
/// has several winners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WinningReference {
    /// The highest winning unit price of the generic.
    HighestWinning,
    /// The lowest winning unit price of the generic.
    LowestWinning,
}

/// Rules deriving payment standards from an outcome (DOMAIN §5.3, 医保发〔2019〕18号 as
/// reported [S]), as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardRules {
    /// A non-winner priced above this multiple of the winning price (20000 = 2×) keeps its
    /// previous standard less `above_multiple_cut`; at or below it, it gets the winning price.
    pub non_winner_multiple: Bp,
    /// Cut of the previous standard for non-winners above the multiple (3000 = −30%).
    pub above_multiple_cut: Bp,
    /// The winning price compared with.
    pub reference: WinningReference,
}

impl StandardRules {
    /// The 2019 defaults: 2×, −30%, compared with the highest winning price.
    pub fn national_default() -> StandardRules {
        StandardRules {
            non_winner_multiple: Bp(20_000),
            above_multiple_cut: Bp(3_000),
            reference: WinningReference::HighestWinning,
        }
    }
}

/// A product of a generic that has winners but did not win itself, with its current price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonWinningProduct {
    /// Item.
    pub item_code: ItemCode,
    /// 通用名, matched against the groups' generic names.
    pub generic_name: String,
    /// Current unit price (挂网价 per comparable unit).
    pub unit_price: Fen,
}

/// A derived payment standard with the rule line that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedStandard {
    /// The standard, effective from the given date, open-ended.
    pub standard: PaymentStandard,
    /// True for a winning product.
    pub winner: bool,
}

/// Derives payment standards effective from `effective_from`:
///
/// - a winner: its winning unit price (中选价 = 支付标准);
/// - a non-winner of a generic with winners, priced above `non_winner_multiple` × the winning
///   reference: its previous standard (on the day before `effective_from`; without one, its
///   current price) less `above_multiple_cut`, never below the winning reference;
/// - otherwise: the winning reference.
///
/// Products are returned in item-code order; a product both winning and listed as a
/// non-winner is treated as a winner; a product listed twice counts once, at its lowest price.
pub fn derive_standards(
    outcome: &Outcome,
    non_winners: &[NonWinningProduct],
    previous: &PaymentStandardIndex,
    effective_from: NaiveDate,
    rules: &StandardRules,
) -> Result<Vec<DerivedStandard>, PricingError> {
    let mut out: BTreeMap<ItemCode, DerivedStandard> = BTreeMap::new();
    let reference_by_generic = winner_standards(outcome, effective_from, rules, &mut out);
    let before = effective_from.pred_opt().unwrap_or(effective_from);
    // A product listed twice counts once, at its lowest price, whatever the input order.
    let mut sorted: Vec<&NonWinningProduct> = non_winners.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.item_code, a.unit_price, &a.generic_name).cmp(&(
            &b.item_code,
            b.unit_price,
            &b.generic_name,
        ))
    });
    for p in sorted {
        if out.contains_key(&p.item_code) {
            continue;
        }
        let Some(&reference) = reference_by_generic.get(p.generic_name.as_str()) else {
            continue;
        };
        let (amount, basis) = non_winner_amount(p, reference, previous, before, rules)?;
        out.insert(
            p.item_code.clone(),
            DerivedStandard {
                standard: PaymentStandard {
                    item_code: p.item_code.clone(),
                    amount,
                    period: Period::from(effective_from),
                    basis,
                },
                winner: false,
            },
        );
    }
    Ok(out.into_values().collect())
}

/// Inserts each winner's standard (its winning price) into `out` and returns the winning
/// reference price of each generic name.
fn winner_standards<'a>(
    outcome: &'a Outcome,
    effective_from: NaiveDate,
    rules: &StandardRules,
    out: &mut BTreeMap<ItemCode, DerivedStandard>,
) -> BTreeMap<&'a str, Fen> {
    let mut reference_by_generic: BTreeMap<&str, Fen> = BTreeMap::new();
    for g in &outcome.groups {
        for w in &g.winners {
            out.insert(
                w.item_code.clone(),
                DerivedStandard {
                    standard: PaymentStandard {
                        item_code: w.item_code.clone(),
                        amount: w.unit_price,
                        period: Period::from(effective_from),
                        basis: format!(
                            "winner of group {} in round {}: winning price {}",
                            g.group_id, outcome.round_id, w.unit_price
                        ),
                    },
                    winner: true,
                },
            );
            let r = reference_by_generic
                .entry(g.generic_name.as_str())
                .or_insert(w.unit_price);
            *r = match rules.reference {
                WinningReference::HighestWinning => (*r).max(w.unit_price),
                WinningReference::LowestWinning => (*r).min(w.unit_price),
            };
        }
    }
    reference_by_generic
}

/// The standard of non-winner `p` against the winning `reference` of its generic, with the
/// rule line: above the multiple, its standard on `before` (or its price) less the cut, never
/// below the reference; otherwise the reference.
fn non_winner_amount(
    p: &NonWinningProduct,
    reference: Fen,
    previous: &PaymentStandardIndex,
    before: NaiveDate,
    rules: &StandardRules,
) -> Result<(Fen, String), PricingError> {
    let multiple = rules.non_winner_multiple;
    let above =
        i128::from(p.unit_price.0) * 10_000 > i128::from(reference.0) * i128::from(multiple.0);
    Ok(if above {
        let (base, base_name) = match previous.standard_on(p.item_code.as_str(), before) {
            Some(s) => (s.amount, "previous standard"),
            None => (p.unit_price, "current price (no previous standard)"),
        };
        let cut = base.at_rate(rules.above_multiple_cut);
        let amount = base.checked_sub(cut)?.max(reference);
        (
            amount,
            format!(
                "non-winner priced {} > {} × {} = {}: {base_name} {base} less {} = {amount}",
                p.unit_price,
                multiplier(multiple),
                reference,
                exact_times(reference, multiple),
                rules.above_multiple_cut
            ),
        )
    } else {
        (
            reference,
            format!(
                "non-winner priced {} ≤ {} × {} = {}: winning price {reference}",
                p.unit_price,
                multiplier(multiple),
                reference,
                exact_times(reference, multiple)
            ),
        )
    })
}
