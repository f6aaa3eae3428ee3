//! Prices: listed prices (挂网价) checked against reference prices (限价 ceilings and 指导价
//! guide prices) with effective periods, payment standards (医保支付标准) with history, their
//! derivation from a procurement outcome (DOMAIN §5.3), and price-cut statistics.
//!
//! All prices are fen per pricing unit of the item (单位可比价 / 最小计价单位 for drugs, per
//! item for service items). Histories are per item: setting a new value from a date closes an
//! open-ended previous one the day before; a value that would overlap a closed period is
//! refused, so a date always has at most one value of each kind.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use yibao_core::{Bp, Fen, MoneyOverflow};

use super::catalogue::ItemCode;
use super::selection::Outcome;
use super::{Period, exact_times, multiplier, ratio_bp};

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

/// A dated value in a history.
trait Dated {
    fn period(&self) -> Period;
    fn period_mut(&mut self) -> &mut Period;
}

impl Dated for ReferencePrice {
    fn period(&self) -> Period {
        self.period
    }
    fn period_mut(&mut self) -> &mut Period {
        &mut self.period
    }
}
impl Dated for ListedPrice {
    fn period(&self) -> Period {
        self.period
    }
    fn period_mut(&mut self) -> &mut Period {
        &mut self.period
    }
}
impl Dated for PaymentStandard {
    fn period(&self) -> Period {
        self.period
    }
    fn period_mut(&mut self) -> &mut Period {
        &mut self.period
    }
}

/// Inserts `value` into a history sorted by start date. An open-ended period that started
/// before the new one is closed the day before it; any other overlap is refused.
fn insert_dated<T: Dated>(
    history: &mut Vec<T>,
    value: T,
    item: &ItemCode,
) -> Result<(), PricingError> {
    let new = value.period();
    if new.to.is_some_and(|to| to < new.from) {
        return Err(PricingError::InvalidPeriod {
            item_code: item.clone(),
        });
    }
    let at = history.partition_point(|v| v.period().from < new.from);
    // The predecessor may be open-ended: close it the day before.
    let mut close_prev = None;
    if let Some(prev) = at.checked_sub(1).and_then(|i| history.get(i)) {
        let p = prev.period();
        if p.to.is_none() && at == history.len() {
            close_prev = new.from.pred_opt();
        } else if p.overlaps(&new) {
            return Err(PricingError::Overlap {
                item_code: item.clone(),
                period: new,
                existing: p,
            });
        }
    }
    if let Some(next) = history.get(at)
        && next.period().overlaps(&new)
    {
        return Err(PricingError::Overlap {
            item_code: item.clone(),
            period: new,
            existing: next.period(),
        });
    }
    if let Some(day_before) = close_prev
        && let Some(prev) = at.checked_sub(1).and_then(|i| history.get_mut(i))
    {
        prev.period_mut().to = Some(day_before);
    }
    history.insert(at, value);
    Ok(())
}

/// The value of a history on `date`.
fn on_date<T: Dated>(history: &[T], date: NaiveDate) -> Option<&T> {
    let at = history.partition_point(|v| v.period().from <= date);
    at.checked_sub(1)
        .and_then(|i| history.get(i))
        .filter(|v| v.period().contains(date))
}

/// Reference prices and listings (挂网) of items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceBook {
    references: BTreeMap<(ItemCode, ReferenceKind), Vec<ReferencePrice>>,
    listings: BTreeMap<ItemCode, Vec<ListedPrice>>,
}

impl PriceBook {
    /// An empty book.
    pub fn new() -> PriceBook {
        PriceBook::default()
    }

    /// Sets a reference price from its period's start; an open-ended reference of the same
    /// item and kind ends the day before (the guide price of 200 yuan ends when 120 starts).
    /// Existing listings are not re-checked here: [`PriceBook::listings_above_references`]
    /// reports them.
    pub fn set_reference(&mut self, reference: ReferencePrice) -> Result<(), PricingError> {
        if reference.price.0 <= 0 {
            return Err(PricingError::NonPositivePrice {
                item_code: reference.item_code,
                price: reference.price,
            });
        }
        let item = reference.item_code.clone();
        let history = self
            .references
            .entry((item.clone(), reference.kind))
            .or_default();
        insert_dated(history, reference, &item)
    }

    /// The reference of `kind` for `item` on `date`.
    pub fn reference_on(
        &self,
        item: &ItemCode,
        kind: ReferenceKind,
        date: NaiveDate,
    ) -> Option<&ReferencePrice> {
        self.references
            .get(&(item.clone(), kind))
            .and_then(|h| on_date(h, date))
    }

    /// History of references of `kind` for `item`, oldest first.
    pub fn reference_history(&self, item: &ItemCode, kind: ReferenceKind) -> &[ReferencePrice] {
        self.references
            .get(&(item.clone(), kind))
            .map_or(&[], Vec::as_slice)
    }

    /// The lowest reference in force on any day of `period` that `price` exceeds, if any.
    fn exceeded_reference(
        &self,
        item: &ItemCode,
        price: Fen,
        period: &Period,
    ) -> Option<&ReferencePrice> {
        [ReferenceKind::Ceiling, ReferenceKind::Guide]
            .iter()
            .filter_map(|k| self.references.get(&(item.clone(), *k)))
            .flatten()
            .filter(|r| r.period.overlaps(period) && price > r.price)
            .min_by(|a, b| (a.price, a.period.from, a.kind).cmp(&(b.price, b.period.from, b.kind)))
    }

    /// Lists an item at a price. Refused, naming the reference, when the price is above a
    /// ceiling or guide price in force on any day of the listing's period.
    pub fn list(&mut self, listing: ListedPrice) -> Result<(), PricingError> {
        if listing.price.0 <= 0 {
            return Err(PricingError::NonPositivePrice {
                item_code: listing.item_code,
                price: listing.price,
            });
        }
        if let Some(r) = self.exceeded_reference(&listing.item_code, listing.price, &listing.period)
        {
            return Err(PricingError::AboveReference {
                item_code: listing.item_code,
                price: listing.price,
                kind: r.kind,
                reference: r.price,
                reference_period: r.period,
            });
        }
        let item = listing.item_code.clone();
        insert_dated(
            self.listings.entry(item.clone()).or_default(),
            listing,
            &item,
        )
    }

    /// The listing of `item` on `date`.
    pub fn listed_on(&self, item: &ItemCode, date: NaiveDate) -> Option<&ListedPrice> {
        self.listings.get(item).and_then(|h| on_date(h, date))
    }

    /// Listings that a later reference undercuts (price-governance prompts): each listing with
    /// the reference it now exceeds, in item order.
    pub fn listings_above_references(&self) -> Vec<(&ListedPrice, &ReferencePrice)> {
        self.listings
            .values()
            .flatten()
            .filter_map(|l| {
                self.exceeded_reference(&l.item_code, l.price, &l.period)
                    .map(|r| (l, r))
            })
            .collect()
    }
}

/// Payment standards of items with their history, indexed for fast look-up by code and date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentStandardIndex {
    by_item: HashMap<String, Vec<PaymentStandard>>,
}

impl PaymentStandardIndex {
    /// An empty index.
    pub fn new() -> PaymentStandardIndex {
        PaymentStandardIndex::default()
    }

    /// Sets a standard from its period's start; an open-ended standard of the item ends the
    /// day before. Overlapping a closed period, or a second standard from the same day, is
    /// refused ([`PricingError::Overlap`]): corrections are new periods, history is kept.
    pub fn set(&mut self, standard: PaymentStandard) -> Result<(), PricingError> {
        if standard.amount.0 <= 0 {
            return Err(PricingError::NonPositivePrice {
                item_code: standard.item_code,
                price: standard.amount,
            });
        }
        let item = standard.item_code.clone();
        insert_dated(
            self.by_item.entry(item.as_str().to_string()).or_default(),
            standard,
            &item,
        )
    }

    /// The standard of `item_code` in force on `date`: a claim is priced by the standard of
    /// its own date, not today's.
    pub fn standard_on(&self, item_code: &str, date: NaiveDate) -> Option<&PaymentStandard> {
        self.by_item.get(item_code).and_then(|h| on_date(h, date))
    }

    /// Batch look-up: one answer per code, in the order given.
    pub fn standards_on<'a>(
        &'a self,
        item_codes: &[&str],
        date: NaiveDate,
    ) -> Vec<Option<&'a PaymentStandard>> {
        item_codes
            .iter()
            .map(|c| self.standard_on(c, date))
            .collect()
    }

    /// History of an item, oldest first.
    pub fn history(&self, item_code: &str) -> &[PaymentStandard] {
        self.by_item.get(item_code).map_or(&[], Vec::as_slice)
    }

    /// Number of items with at least one standard.
    pub fn len(&self) -> usize {
        self.by_item.len()
    }

    /// True when no item has a standard.
    pub fn is_empty(&self) -> bool {
        self.by_item.is_empty()
    }
}

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
        let multiple = rules.non_winner_multiple;
        let above =
            i128::from(p.unit_price.0) * 10_000 > i128::from(reference.0) * i128::from(multiple.0);
        let (amount, basis) = if above {
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
        };
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
