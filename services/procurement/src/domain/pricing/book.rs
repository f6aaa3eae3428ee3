//! The price book (reference prices and listings) and the payment-standard index.

use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};
use yibao_core::Fen;

use super::super::Period;
use super::history::{insert_dated, on_date};
use super::{ItemCode, ListedPrice, PaymentStandard, PricingError, ReferenceKind, ReferencePrice};

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
