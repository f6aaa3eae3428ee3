//! Dated histories: at most one value of each kind on any date.

use chrono::NaiveDate;

use super::super::Period;
use super::{ItemCode, ListedPrice, PaymentStandard, PricingError, ReferencePrice};

/// A dated value in a history.
pub(super) trait Dated {
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
pub(super) fn insert_dated<T: Dated>(
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
pub(super) fn on_date<T: Dated>(history: &[T], date: NaiveDate) -> Option<&T> {
    let at = history.partition_point(|v| v.period().from <= date);
    at.checked_sub(1)
        .and_then(|i| history.get(i))
        .filter(|v| v.period().contains(date))
}
