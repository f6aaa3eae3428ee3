//! Price governance: ceiling and guide prices, and listings under them. A new reference or
//! listing closes the open-ended predecessor the day before, as the domain's price book
//! decides; an identical repeat writes nothing.

use super::{AppError, Procurement};
use crate::domain::{ListedPrice, PriceBook, PricingError, ReferencePrice};
use crate::store::{
    Actor, Audit, StoredListing, StoredReference, Written, new_id, now, region_chain,
};

/// What setting a reference price did.
pub type ReferenceChange = (
    Written<StoredReference>,
    Option<StoredReference>,
    Vec<StoredListing>,
);

/// A price book of one item in a region: listings first (so a listing that a later
/// reference undercuts is still held), then the references.
fn book(listings: &[StoredListing], references: &[StoredReference]) -> Result<PriceBook, AppError> {
    let mut book = PriceBook::new();
    for l in listings {
        book.list(l.listing.clone())
            .map_err(|e| AppError::Corrupt(format!("stored listing {}: {e}", l.id)))?;
    }
    for r in references {
        book.set_reference(r.reference.clone())
            .map_err(|e| AppError::Corrupt(format!("stored reference {}: {e}", r.id)))?;
    }
    Ok(book)
}

/// The stored listings that `book` holds above a reference.
fn listings_above(book: &PriceBook, listings: &[StoredListing]) -> Vec<StoredListing> {
    let above: Vec<&ListedPrice> = book
        .listings_above_references()
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    listings
        .iter()
        .filter(|l| above.contains(&&l.listing))
        .cloned()
        .collect()
}

impl Procurement {
    /// Sets a ceiling or guide price. Returns the stored reference, the one it ended, and the
    /// listings now above a reference; an identical repeat writes nothing.
    pub async fn set_reference(
        &self,
        region: &str,
        reference: &ReferencePrice,
        actor: &Actor,
    ) -> Result<ReferenceChange, AppError> {
        let t = self.store.begin().await?;
        let item = reference.item_code.as_str();
        self.store
            .lock(&t, &format!("prices:{region}:{item}"))
            .await?;
        let refs = self.store.references_in(&*t, region, item).await?;
        let listings = self.store.listings_in(&*t, region, item).await?;
        if let Some(same) = refs.iter().find(|r| r.reference == *reference) {
            let book = book(&listings, &refs)?;
            let ended = same
                .closed_id
                .as_ref()
                .and_then(|id| refs.iter().find(|r| &r.id == id))
                .cloned();
            return Ok((
                Written::Existing(same.clone()),
                ended,
                listings_above(&book, &listings),
            ));
        }
        let mut book = book(&listings, &refs)?;
        book.set_reference(reference.clone())
            .map_err(|e| AppError::pricing(e, "reference.valid_from_date"))?;
        let history = book.reference_history(&reference.item_code, reference.kind);
        let closed = refs.iter().find(|r| {
            r.reference.kind == reference.kind
                && history.iter().any(|h| {
                    h.period.from == r.reference.period.from && h.period.to != r.reference.period.to
                })
        });
        let mut previous = None;
        if let Some(c) = closed {
            let to = history
                .iter()
                .find(|h| h.period.from == c.reference.period.from)
                .and_then(|h| h.period.to);
            self.store.close_reference(&t, &c.id, to).await?;
            let mut p = c.clone();
            p.reference.period.to = to;
            previous = Some(p);
        }
        let stored = StoredReference {
            id: new_id(),
            region: region.to_string(),
            reference: reference.clone(),
            closed_id: previous.as_ref().map(|p: &StoredReference| p.id.clone()),
            updated: Audit::by(actor, &now()),
        };
        self.store.insert_reference(&t, &stored).await?;
        t.commit().await?;
        let above = listings_above(&book, &listings);
        Ok((Written::New(stored), previous, above))
    }

    /// Lists a catalogued product. Refused (naming the reference) above a reference in force
    /// on any day of the period; an identical repeat writes nothing.
    pub async fn set_listing(
        &self,
        region: &str,
        manufacturer: &str,
        listing: &ListedPrice,
        actor: &Actor,
    ) -> Result<Written<StoredListing>, AppError> {
        self.require_catalogued(region, &listing.item_code, "listing.item_code")
            .await?;
        let t = self.store.begin().await?;
        let item = listing.item_code.as_str();
        self.store
            .lock(&t, &format!("prices:{region}:{item}"))
            .await?;
        let refs = self.store.references_in(&*t, region, item).await?;
        let listings = self.store.listings_in(&*t, region, item).await?;
        if let Some(same) = listings
            .iter()
            .find(|l| l.listing == *listing && l.manufacturer == manufacturer)
        {
            return Ok(Written::Existing(same.clone()));
        }
        let mut book = book(&listings, &refs)?;
        book.list(listing.clone()).map_err(|e| match &e {
            PricingError::AboveReference { .. } => AppError::pricing(e, "listing.price_fen"),
            _ => AppError::pricing(e, "listing.valid_from_date"),
        })?;
        for l in &listings {
            let now_to = book
                .listed_on(&l.listing.item_code, l.listing.period.from)
                .filter(|h| h.period.from == l.listing.period.from)
                .map(|h| h.period.to);
            if let Some(to) = now_to
                && to != l.listing.period.to
            {
                self.store.close_listing(&t, &l.id, to).await?;
            }
        }
        let stored = StoredListing {
            id: new_id(),
            region: region.to_string(),
            manufacturer: manufacturer.to_string(),
            listing: listing.clone(),
            updated: Audit::by(actor, &now()),
        };
        self.store.insert_listing(&t, &stored).await?;
        t.commit().await?;
        Ok(Written::New(stored))
    }

    /// A price book of the listings that apply in `region` for `items`: per item, those of the
    /// most specific region of the chain that has any.
    pub async fn listings_for(
        &self,
        region: &str,
        items: &[String],
    ) -> Result<PriceBook, AppError> {
        let mut book = PriceBook::new();
        for item in items {
            for r in region_chain(region) {
                let listings = self.store.listings_in(self.store.db(), &r, item).await?;
                if listings.is_empty() {
                    continue;
                }
                for l in listings {
                    book.list(l.listing)
                        .map_err(|e| AppError::Corrupt(format!("stored listing {}: {e}", l.id)))?;
                }
                break;
            }
        }
        Ok(book)
    }
}
