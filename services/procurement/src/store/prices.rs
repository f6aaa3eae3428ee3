//! Price histories per region and item: ceiling and guide prices (`reference_prices`),
//! listings (`listed_prices`) and payment standards (`payment_standards`). A row's period is
//! only ever shortened (closed the day before its successor), as `app/` decides.

use super::{
    Audit, Store, StoreError, Txn, audit, code, date, get_n, get_os, get_s, n, opt_date,
    opt_date_text, opt_s, placeholders, s,
};
use crate::domain::{ListedPrice, PaymentStandard, Period, ReferenceKind, ReferencePrice};
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, QueryResult};
use yibao_core::Fen;

/// A stored reference price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReference {
    /// Id.
    pub id: String,
    /// Region.
    pub region: String,
    /// The reference.
    pub reference: ReferencePrice,
    /// The reference this one ended, if any.
    pub closed_id: Option<String>,
    /// Last change.
    pub updated: Audit,
}

/// A stored listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredListing {
    /// Id.
    pub id: String,
    /// Region.
    pub region: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// The listing.
    pub listing: ListedPrice,
    /// Last change.
    pub updated: Audit,
}

/// A stored payment standard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStandard {
    /// Id.
    pub id: String,
    /// Region.
    pub region: String,
    /// The standard.
    pub standard: PaymentStandard,
    /// The standard this one ended, if any.
    pub closed_id: Option<String>,
    /// Last change.
    pub updated: Audit,
}

fn ref_kind_str(k: ReferenceKind) -> &'static str {
    match k {
        ReferenceKind::Ceiling => "ceiling",
        ReferenceKind::Guide => "guide",
    }
}

fn ref_kind_of(s: &str) -> Result<ReferenceKind, StoreError> {
    match s {
        "ceiling" => Ok(ReferenceKind::Ceiling),
        "guide" => Ok(ReferenceKind::Guide),
        _ => Err(StoreError::Corrupt(format!("reference kind `{s}`"))),
    }
}

fn period(r: &QueryResult) -> Result<Period, StoreError> {
    Ok(Period {
        from: date(&get_s(r, "valid_from")?)?,
        to: opt_date(get_os(r, "valid_to")?)?,
    })
}

fn reference_row(r: &QueryResult) -> Result<StoredReference, StoreError> {
    Ok(StoredReference {
        id: get_s(r, "id")?,
        region: get_s(r, "region_code")?,
        reference: ReferencePrice {
            item_code: code(&get_s(r, "item_code")?)?,
            kind: ref_kind_of(&get_s(r, "kind")?)?,
            price: Fen(get_n(r, "price_fen")?),
            period: period(r)?,
        },
        closed_id: get_os(r, "closed_id")?,
        updated: audit(r, "updated_by", "updated_role", "updated_at")?,
    })
}

fn listing_row(r: &QueryResult) -> Result<StoredListing, StoreError> {
    Ok(StoredListing {
        id: get_s(r, "id")?,
        region: get_s(r, "region_code")?,
        manufacturer: get_s(r, "manufacturer_code")?,
        listing: ListedPrice {
            item_code: code(&get_s(r, "item_code")?)?,
            price: Fen(get_n(r, "price_fen")?),
            period: period(r)?,
        },
        updated: audit(r, "updated_by", "updated_role", "updated_at")?,
    })
}

fn standard_row(r: &QueryResult) -> Result<StoredStandard, StoreError> {
    Ok(StoredStandard {
        id: get_s(r, "id")?,
        region: get_s(r, "region_code")?,
        standard: PaymentStandard {
            item_code: code(&get_s(r, "item_code")?)?,
            amount: Fen(get_n(r, "amount_fen")?),
            period: period(r)?,
            basis: get_s(r, "basis")?,
        },
        closed_id: get_os(r, "closed_id")?,
        updated: audit(r, "updated_by", "updated_role", "updated_at")?,
    })
}

impl Store {
    // ------------------------------------------------------------------ references

    /// Reference prices of an item in a region, in (kind, from) order, read over `c`.
    pub async fn references_in(
        &self,
        c: &impl ConnectionTrait,
        region: &str,
        item: &str,
    ) -> Result<Vec<StoredReference>, StoreError> {
        self.all(c, "SELECT * FROM reference_prices WHERE region_code = $1 AND item_code = $2 ORDER BY kind, valid_from", vec![s(region), s(item)])
            .await?
            .iter()
            .map(reference_row)
            .collect()
    }

    /// Sets the last day of a reference price.
    pub async fn close_reference(
        &self,
        t: &Txn,
        id: &str,
        to: Option<NaiveDate>,
    ) -> Result<(), StoreError> {
        self.exec(
            &**t,
            "UPDATE reference_prices SET valid_to = $1 WHERE id = $2",
            vec![opt_date_text(to), s(id)],
        )
        .await?;
        Ok(())
    }

    /// Stores a reference price.
    pub async fn insert_reference(&self, t: &Txn, r: &StoredReference) -> Result<(), StoreError> {
        let p = &r.reference;
        self.exec(
            &**t,
            "INSERT INTO reference_prices (id, region_code, item_code, kind, price_fen, valid_from, valid_to, closed_id, updated_by, updated_role, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            vec![
                s(r.id.clone()),
                s(r.region.clone()),
                s(p.item_code.as_str()),
                s(ref_kind_str(p.kind)),
                n(p.price.0),
                s(p.period.from.to_string()),
                opt_date_text(p.period.to),
                opt_s(r.closed_id.clone()),
                s(r.updated.actor.clone()),
                s(r.updated.role.clone()),
                s(r.updated.at.clone()),
            ],
        )
        .await?;
        Ok(())
    }

    // ------------------------------------------------------------------ listings

    /// Listings of an item in a region, in period order, read over `c`.
    pub async fn listings_in(
        &self,
        c: &impl ConnectionTrait,
        region: &str,
        item: &str,
    ) -> Result<Vec<StoredListing>, StoreError> {
        self.all(c, "SELECT * FROM listed_prices WHERE region_code = $1 AND item_code = $2 ORDER BY valid_from", vec![s(region), s(item)])
            .await?
            .iter()
            .map(listing_row)
            .collect()
    }

    /// Sets the last day of a listing.
    pub async fn close_listing(
        &self,
        t: &Txn,
        id: &str,
        to: Option<NaiveDate>,
    ) -> Result<(), StoreError> {
        self.exec(
            &**t,
            "UPDATE listed_prices SET valid_to = $1 WHERE id = $2",
            vec![opt_date_text(to), s(id)],
        )
        .await?;
        Ok(())
    }

    /// Stores a listing.
    pub async fn insert_listing(&self, t: &Txn, l: &StoredListing) -> Result<(), StoreError> {
        let p = &l.listing;
        self.exec(
            &**t,
            "INSERT INTO listed_prices (id, region_code, item_code, manufacturer_code, price_fen, valid_from, valid_to, updated_by, updated_role, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                s(l.id.clone()),
                s(l.region.clone()),
                s(p.item_code.as_str()),
                s(l.manufacturer.clone()),
                n(p.price.0),
                s(p.period.from.to_string()),
                opt_date_text(p.period.to),
                s(l.updated.actor.clone()),
                s(l.updated.role.clone()),
                s(l.updated.at.clone()),
            ],
        )
        .await?;
        Ok(())
    }

    // ------------------------------------------------------------------ payment standards

    /// Payment standards of an item in a region, in period order, read over `c`.
    pub async fn standards_in(
        &self,
        c: &impl ConnectionTrait,
        region: &str,
        item: &str,
    ) -> Result<Vec<StoredStandard>, StoreError> {
        self.all(c, "SELECT * FROM payment_standards WHERE region_code = $1 AND item_code = $2 ORDER BY valid_from", vec![s(region), s(item)])
            .await?
            .iter()
            .map(standard_row)
            .collect()
    }

    /// Sets the last day of a payment standard.
    pub async fn close_standard(
        &self,
        t: &Txn,
        id: &str,
        to: Option<NaiveDate>,
    ) -> Result<(), StoreError> {
        self.exec(
            &**t,
            "UPDATE payment_standards SET valid_to = $1 WHERE id = $2",
            vec![opt_date_text(to), s(id)],
        )
        .await?;
        Ok(())
    }

    /// Stores a payment standard.
    pub async fn insert_standard(&self, t: &Txn, st: &StoredStandard) -> Result<(), StoreError> {
        let p = &st.standard;
        self.exec(
            &**t,
            "INSERT INTO payment_standards (id, region_code, item_code, amount_fen, valid_from, valid_to, basis, closed_id, updated_by, updated_role, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            vec![
                s(st.id.clone()),
                s(st.region.clone()),
                s(p.item_code.as_str()),
                n(p.amount.0),
                s(p.period.from.to_string()),
                opt_date_text(p.period.to),
                s(p.basis.clone()),
                opt_s(st.closed_id.clone()),
                s(st.updated.actor.clone()),
                s(st.updated.role.clone()),
                s(st.updated.at.clone()),
            ],
        )
        .await?;
        Ok(())
    }

    /// Standard histories of items in every region, in (item, region, from) order: one query
    /// whatever the number of items (the look-up's cache fill).
    pub async fn standards_of_items(
        &self,
        items: &[String],
    ) -> Result<Vec<StoredStandard>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM payment_standards WHERE item_code IN ({}) ORDER BY item_code, region_code, valid_from",
            placeholders(1, items.len())
        );
        self.all(
            self.db(),
            &sql,
            items.iter().map(|v| s(v.clone())).collect(),
        )
        .await?
        .iter()
        .map(standard_row)
        .collect()
    }
}
