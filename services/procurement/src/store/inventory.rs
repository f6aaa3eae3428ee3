//! Institutions' purchase-sale-inventory records (`inventory_records`, unique per institution
//! and record number) and opening stock (`opening_stocks`).

use super::{
    Store, StoreError, Txn, code, date, get_n, get_s, institution, n, placeholders, qty, s, uqty,
};
use crate::domain::{InventoryRecord, Movement, OpeningStock};
use chrono::NaiveDate;
use sea_orm::{QueryResult, Value};
use yibao_core::Fen;

/// A purchase of an institution (for completion and savings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// Institution.
    pub institution: String,
    /// Item.
    pub item_code: String,
    /// Quantity.
    pub quantity: u64,
    /// Price per unit.
    pub unit_price: Fen,
}

fn movement_str(m: Movement) -> &'static str {
    match m {
        Movement::Purchase => "purchase",
        Movement::Sale => "sale",
    }
}

fn movement_of(s: &str) -> Result<Movement, StoreError> {
    match s {
        "purchase" => Ok(Movement::Purchase),
        "sale" => Ok(Movement::Sale),
        _ => Err(StoreError::Corrupt(format!("movement `{s}`"))),
    }
}

fn inventory_row(r: &QueryResult) -> Result<InventoryRecord, StoreError> {
    Ok(InventoryRecord {
        institution: institution(&get_s(r, "institution_code")?)?,
        item_code: code(&get_s(r, "item_code")?)?,
        date: date(&get_s(r, "record_date")?)?,
        movement: movement_of(&get_s(r, "movement")?)?,
        quantity: uqty(get_n(r, "quantity")?)?,
        unit_price: Fen(get_n(r, "unit_price_fen")?),
        record_no: get_s(r, "record_no")?,
    })
}

fn opening_row(r: &QueryResult) -> Result<OpeningStock, StoreError> {
    Ok(OpeningStock {
        institution: institution(&get_s(r, "institution_code")?)?,
        item_code: code(&get_s(r, "item_code")?)?,
        quantity: uqty(get_n(r, "quantity")?)?,
        unit_cost: Fen(get_n(r, "unit_cost_fen")?),
        as_of: date(&get_s(r, "as_of_date")?)?,
    })
}

/// `institution` then the items, for `institution_code = $1 AND item_code IN ($2…)`.
fn of_items(institution: &str, items: &[String]) -> Vec<Value> {
    let mut values = vec![s(institution)];
    values.extend(items.iter().map(|i| s(i.clone())));
    values
}

impl Store {
    /// The record stored under an institution's record number, read inside the transaction.
    pub async fn inventory_record(
        &self,
        t: &Txn,
        institution: &str,
        record_no: &str,
    ) -> Result<Option<InventoryRecord>, StoreError> {
        self.one(
            &**t,
            "SELECT * FROM inventory_records WHERE institution_code = $1 AND record_no = $2",
            vec![s(institution), s(record_no)],
        )
        .await?
        .as_ref()
        .map(inventory_row)
        .transpose()
    }

    /// Stores a record received at `at`.
    pub async fn insert_inventory_record(
        &self,
        t: &Txn,
        r: &InventoryRecord,
        at: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            &**t,
            "INSERT INTO inventory_records (institution_code, record_no, item_code, record_date, movement, quantity, unit_price_fen, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![s(r.institution.as_str()), s(r.record_no.clone()), s(r.item_code.as_str()), s(r.date.to_string()), s(movement_str(r.movement)), n(qty(r.quantity)?), n(r.unit_price.0), s(at)],
        )
        .await?;
        Ok(())
    }

    /// Stores (or replaces) an opening stock of an item on a date.
    pub async fn upsert_opening_stock(&self, t: &Txn, o: &OpeningStock) -> Result<(), StoreError> {
        self.exec(
            &**t,
            "INSERT INTO opening_stocks (institution_code, item_code, as_of_date, quantity, unit_cost_fen) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (institution_code, item_code, as_of_date) DO UPDATE SET quantity = excluded.quantity, unit_cost_fen = excluded.unit_cost_fen",
            vec![s(o.institution.as_str()), s(o.item_code.as_str()), s(o.as_of.to_string()), n(qty(o.quantity)?), n(o.unit_cost.0)],
        )
        .await?;
        Ok(())
    }

    /// Every record and opening stock of an institution's items, read inside the transaction.
    pub async fn inventory_of_items(
        &self,
        t: &Txn,
        institution: &str,
        items: &[String],
    ) -> Result<(Vec<InventoryRecord>, Vec<OpeningStock>), StoreError> {
        if items.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let sql = format!(
            "SELECT * FROM inventory_records WHERE institution_code = $1 AND item_code IN ({})",
            placeholders(2, items.len())
        );
        let records = self
            .all(&**t, &sql, of_items(institution, items))
            .await?
            .iter()
            .map(inventory_row)
            .collect::<Result<Vec<_>, _>>()?;
        let sql = format!(
            "SELECT * FROM opening_stocks WHERE institution_code = $1 AND item_code IN ({})",
            placeholders(2, items.len())
        );
        let opening = self
            .all(&**t, &sql, of_items(institution, items))
            .await?
            .iter()
            .map(opening_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, opening))
    }

    /// Purchases of institutions between two dates (inclusive), of the given items.
    pub async fn purchases(
        &self,
        institutions: &[String],
        items: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Purchase>, StoreError> {
        if institutions.is_empty() || items.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT institution_code, item_code, quantity, unit_price_fen FROM inventory_records WHERE movement = 'purchase' \
             AND record_date >= $1 AND record_date <= $2 AND institution_code IN ({}) AND item_code IN ({}) ORDER BY institution_code, item_code, record_date, record_no",
            placeholders(3, institutions.len()),
            placeholders(3 + institutions.len(), items.len())
        );
        let mut values = vec![s(from.to_string()), s(to.to_string())];
        values.extend(institutions.iter().chain(items).map(|v| s(v.clone())));
        self.all(self.db(), &sql, values)
            .await?
            .iter()
            .map(|r| {
                Ok(Purchase {
                    institution: get_s(r, "institution_code")?,
                    item_code: get_s(r, "item_code")?,
                    quantity: uqty(get_n(r, "quantity")?)?,
                    unit_price: Fen(get_n(r, "unit_price_fen")?),
                })
            })
            .collect()
    }
}
