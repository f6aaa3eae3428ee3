//! Purchase-sale-inventory checks (进销存) of an institution's records:
//!
//! - a purchase must match a product listed (挂网) on the purchase date, at no more than the
//!   listed price;
//! - a sale above its purchase price (加价销售; public institutions sell drugs and consumables
//!   at zero mark-up) is a finding — sales consume stock first-in first-out, so each sale is
//!   compared with the purchase lots it actually drew on;
//! - a sale without stock is a finding (sold more than was bought).
//!
//! Records are processed per institution and item in date order; on the same day purchases
//! come before sales, then record numbers order the records. The result does not depend on
//! the input order.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use yibao_core::{Bp, Fen, InstitutionCode, MoneyOverflow};

use super::catalogue::ItemCode;
use super::pricing::PriceBook;

/// Direction of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Movement {
    /// 进: purchase from a supplier.
    Purchase,
    /// 销: sale (dispensing) to patients.
    Sale,
}

/// One purchase or sale record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryRecord {
    /// Institution.
    pub institution: InstitutionCode,
    /// Product.
    pub item_code: ItemCode,
    /// Date of the movement.
    pub date: NaiveDate,
    /// Purchase or sale.
    pub movement: Movement,
    /// Quantity in pricing units.
    pub quantity: u64,
    /// Price per unit.
    pub unit_price: Fen,
    /// The institution's record number.
    pub record_no: String,
}

/// Stock on hand at the start of the checked period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningStock {
    /// Institution.
    pub institution: InstitutionCode,
    /// Product.
    pub item_code: ItemCode,
    /// Quantity on hand.
    pub quantity: u64,
    /// Purchase price per unit of that stock.
    pub unit_cost: Fen,
    /// Date the stock was counted (serves as the purchase date of the lot).
    pub as_of: NaiveDate,
}

/// Rules of the check, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryRules {
    /// Mark-up allowed over the purchase price (0 = 零加成, zero mark-up).
    pub allowed_markup: Bp,
}

impl Default for InventoryRules {
    /// Zero mark-up.
    fn default() -> Self {
        InventoryRules {
            allowed_markup: Bp::ZERO,
        }
    }
}

/// Kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Purchase of a product not listed on the purchase date.
    UnlistedPurchase,
    /// Purchase above the listed price.
    PurchaseAboveListedPrice,
    /// 违规加价: sale above the purchase price plus the allowed mark-up.
    MarkUp,
    /// Sale without stock (sold more than bought).
    SaleWithoutStock,
}

impl FindingKind {
    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::UnlistedPurchase => crate::error::UNLISTED_PURCHASE.code,
            FindingKind::PurchaseAboveListedPrice => crate::error::PURCHASE_ABOVE_LISTED_PRICE.code,
            FindingKind::MarkUp => crate::error::MARK_UP.code,
            FindingKind::SaleWithoutStock => crate::error::SALE_WITHOUT_STOCK.code,
        }
    }
}

/// A finding (疑点) with the institution, product, dates and amounts concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Kind.
    pub kind: FindingKind,
    /// Institution.
    pub institution: InstitutionCode,
    /// Product.
    pub item_code: ItemCode,
    /// Record the finding is about.
    pub record_no: String,
    /// Date of that record.
    pub date: NaiveDate,
    /// For a mark-up: date of the purchase lot sold.
    pub purchase_date: Option<NaiveDate>,
    /// Quantity concerned.
    pub quantity: u64,
    /// Purchase price per unit (mark-up: of the lot; purchase findings: paid).
    pub purchase_price: Option<Fen>,
    /// Sale price per unit (sale findings).
    pub sale_price: Option<Fen>,
    /// Listed price per unit (purchase above listed price).
    pub listed_price: Option<Fen>,
    /// Money concerned: the excess (mark-up, over-listed purchase) or the value sold without
    /// stock, or the value of an unlisted purchase.
    pub amount: Fen,
    /// One line saying what was found.
    pub explanation: String,
}

/// Stock left after the records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockPosition {
    /// Institution.
    pub institution: InstitutionCode,
    /// Product.
    pub item_code: ItemCode,
    /// Quantity on hand.
    pub quantity: u64,
    /// Value at purchase prices.
    pub value: Fen,
}

/// Result of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryCheck {
    /// Findings in (institution, item, date, record) order.
    pub findings: Vec<Finding>,
    /// Closing stock per institution and item.
    pub closing: Vec<StockPosition>,
}

/// Why a check could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// A record has a zero quantity or a negative price.
    #[error("record {record_no}: {reason}")]
    InvalidRecord {
        /// Record number.
        record_no: String,
        /// What is wrong.
        reason: String,
    },
    /// Money arithmetic overflowed.
    #[error(transparent)]
    Overflow(#[from] MoneyOverflow),
}

impl InventoryError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            InventoryError::InvalidRecord { .. } => crate::error::INVALID_INVENTORY_RECORD.code,
            InventoryError::Overflow(_) => crate::error::MONEY_OVERFLOW.code,
        }
    }
}

struct Lot {
    quantity: u64,
    unit_cost: Fen,
    date: NaiveDate,
}

fn qty(q: u64) -> Result<i64, MoneyOverflow> {
    i64::try_from(q).map_err(|_| MoneyOverflow)
}

/// Checks purchase-sale-inventory records against the listings of `prices`.
pub fn check_inventory(
    records: &[InventoryRecord],
    opening: &[OpeningStock],
    prices: &PriceBook,
    rules: &InventoryRules,
) -> Result<InventoryCheck, InventoryError> {
    validate_records(records)?;
    let mut stock = opening_lots(opening);
    let mut findings = Vec::new();
    for r in sorted_records(records) {
        let lots = stock
            .entry((r.institution.clone(), r.item_code.clone()))
            .or_default();
        match r.movement {
            Movement::Purchase => check_purchase(r, prices, lots, &mut findings)?,
            Movement::Sale => check_sale(r, rules, lots, &mut findings)?,
        }
    }
    let closing = closing_positions(stock)?;
    Ok(InventoryCheck { findings, closing })
}

/// Stock lots per institution and item, oldest first.
type Stock = BTreeMap<(InstitutionCode, ItemCode), VecDeque<Lot>>;

/// Refuses a record with a zero quantity or a negative price.
fn validate_records(records: &[InventoryRecord]) -> Result<(), InventoryError> {
    for r in records {
        if r.quantity == 0 {
            return Err(InventoryError::InvalidRecord {
                record_no: r.record_no.clone(),
                reason: "quantity is zero".into(),
            });
        }
        if r.unit_price.is_negative() {
            return Err(InventoryError::InvalidRecord {
                record_no: r.record_no.clone(),
                reason: "unit price is negative".into(),
            });
        }
    }
    Ok(())
}

/// The records in processing order: institution, item, date, purchases before sales, then
/// record number (quantity and price make the order total).
fn sorted_records(records: &[InventoryRecord]) -> Vec<&InventoryRecord> {
    let mut sorted: Vec<&InventoryRecord> = records.iter().collect();
    sorted.sort_by(|a, b| {
        (
            &a.institution,
            &a.item_code,
            a.date,
            a.movement,
            &a.record_no,
            a.quantity,
            a.unit_price,
        )
            .cmp(&(
                &b.institution,
                &b.item_code,
                b.date,
                b.movement,
                &b.record_no,
                b.quantity,
                b.unit_price,
            ))
    });
    sorted
}

/// The opening stock as the first lots of each institution and item, in count-date order.
fn opening_lots(opening: &[OpeningStock]) -> Stock {
    let mut stock = Stock::new();
    let mut open_sorted: Vec<&OpeningStock> = opening.iter().collect();
    open_sorted.sort_by(|a, b| {
        (
            &a.institution,
            &a.item_code,
            a.as_of,
            a.unit_cost,
            a.quantity,
        )
            .cmp(&(
                &b.institution,
                &b.item_code,
                b.as_of,
                b.unit_cost,
                b.quantity,
            ))
    });
    for o in open_sorted.into_iter().filter(|o| o.quantity > 0) {
        stock
            .entry((o.institution.clone(), o.item_code.clone()))
            .or_default()
            .push_back(Lot {
                quantity: o.quantity,
                unit_cost: o.unit_cost,
                date: o.as_of,
            });
    }
    stock
}

/// A finding about record `r`, the optional prices and dates left empty.
fn finding(
    r: &InventoryRecord,
    kind: FindingKind,
    quantity: u64,
    amount: Fen,
    explanation: String,
) -> Finding {
    Finding {
        kind,
        institution: r.institution.clone(),
        item_code: r.item_code.clone(),
        record_no: r.record_no.clone(),
        date: r.date,
        purchase_date: None,
        quantity,
        purchase_price: None,
        sale_price: None,
        listed_price: None,
        amount,
        explanation,
    }
}

/// A purchase: checked against the listing on its date, then added to stock as a new lot.
fn check_purchase(
    r: &InventoryRecord,
    prices: &PriceBook,
    lots: &mut VecDeque<Lot>,
    findings: &mut Vec<Finding>,
) -> Result<(), InventoryError> {
    let value = r.unit_price.checked_mul(qty(r.quantity)?)?;
    match prices.listed_on(&r.item_code, r.date) {
        None => {
            let mut f = finding(
                r,
                FindingKind::UnlistedPurchase,
                r.quantity,
                value,
                format!(
                    "purchase of {} on {} does not match a listed product",
                    r.item_code, r.date
                ),
            );
            f.purchase_price = Some(r.unit_price);
            findings.push(f);
        }
        Some(l) if r.unit_price > l.price => {
            let excess = r
                .unit_price
                .checked_sub(l.price)?
                .checked_mul(qty(r.quantity)?)?;
            let mut f = finding(
                r,
                FindingKind::PurchaseAboveListedPrice,
                r.quantity,
                excess,
                format!(
                    "purchased at {} above the listed price {}: {} × {} = {excess} excess",
                    r.unit_price,
                    l.price,
                    r.unit_price.checked_sub(l.price)?,
                    r.quantity
                ),
            );
            f.purchase_price = Some(r.unit_price);
            f.listed_price = Some(l.price);
            findings.push(f);
        }
        Some(_) => {}
    }
    lots.push_back(Lot {
        quantity: r.quantity,
        unit_cost: r.unit_price,
        date: r.date,
    });
    Ok(())
}

/// A sale: drawn from the lots first-in first-out, each lot drawn on compared with the sale
/// price; what the lots cannot cover was sold without stock.
fn check_sale(
    r: &InventoryRecord,
    rules: &InventoryRules,
    lots: &mut VecDeque<Lot>,
    findings: &mut Vec<Finding>,
) -> Result<(), InventoryError> {
    let mut left = r.quantity;
    while left > 0 {
        let Some(lot) = lots.front_mut() else { break };
        let take = left.min(lot.quantity);
        if let Some(f) = mark_up(r, rules, lot, take)? {
            findings.push(f);
        }
        lot.quantity -= take;
        left -= take;
        if lot.quantity == 0 {
            lots.pop_front();
        }
    }
    if left > 0 {
        let amount = r.unit_price.checked_mul(qty(left)?)?;
        let mut f = finding(
            r,
            FindingKind::SaleWithoutStock,
            left,
            amount,
            format!(
                "sold {} on {} with {} in stock: {left} without stock, {amount}",
                r.quantity,
                r.date,
                r.quantity - left
            ),
        );
        f.sale_price = Some(r.unit_price);
        findings.push(f);
    }
    Ok(())
}

/// The mark-up finding for `take` units of sale `r` drawn on `lot`, if its price is above the
/// lot's cost plus the allowed mark-up.
fn mark_up(
    r: &InventoryRecord,
    rules: &InventoryRules,
    lot: &Lot,
    take: u64,
) -> Result<Option<Finding>, InventoryError> {
    // sale > cost × (1 + allowed)  ⇔  sale × 10000 > cost × (10000 + allowed)
    let factor = i128::from(Bp::FULL.0) + i128::from(rules.allowed_markup.0);
    if i128::from(r.unit_price.0) * 10_000 <= i128::from(lot.unit_cost.0) * factor {
        return Ok(None);
    }
    let allowed_price = lot
        .unit_cost
        .at_rate(Bp(Bp::FULL.0.saturating_add(rules.allowed_markup.0)));
    let per_unit = r.unit_price.checked_sub(allowed_price)?.max(Fen::ZERO);
    let excess = per_unit.checked_mul(qty(take)?)?;
    let mut f = finding(
        r,
        FindingKind::MarkUp,
        take,
        excess,
        format!(
            "sold on {} at {} above the purchase price {} of {} (allowed mark-up {}): {} × {take} = {excess}",
            r.date, r.unit_price, lot.unit_cost, lot.date, rules.allowed_markup, per_unit
        ),
    );
    f.purchase_date = Some(lot.date);
    f.purchase_price = Some(lot.unit_cost);
    f.sale_price = Some(r.unit_price);
    Ok(Some(f))
}

/// Stock left per institution and item, valued at purchase prices.
fn closing_positions(stock: Stock) -> Result<Vec<StockPosition>, InventoryError> {
    let mut closing = Vec::new();
    for ((institution, item_code), lots) in stock {
        let quantity = lots.iter().map(|l| l.quantity).sum();
        let mut value = Fen::ZERO;
        for l in &lots {
            value = value.checked_add(l.unit_cost.checked_mul(qty(l.quantity)?)?)?;
        }
        closing.push(StockPosition {
            institution,
            item_code,
            quantity,
            value,
        });
    }
    Ok(closing)
}
