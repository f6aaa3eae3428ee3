//! The catalogue of the place of treatment: class, payment standard and first self-pay share
//! of listed items, per region and first day in force.

use super::{Store, StoreError, now};
use crate::domain::{CatalogueEntry, ItemClass};
use chrono::NaiveDate;
use sea_orm::Value;
use std::collections::HashMap;
use yibao_core::{Bp, Fen, RegionCode};
use yibao_runtime::sql::{self, oi, opt_int, t, text};

/// A catalogue entry with its name and first day in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueRow {
    /// Region of the catalogue.
    pub region_code: String,
    /// Class, standard and share.
    pub entry: CatalogueEntry,
    /// Name.
    pub name: String,
    /// First day in force.
    pub effective_from: NaiveDate,
}

pub(super) fn class_str(c: ItemClass) -> &'static str {
    match c {
        ItemClass::A => "A",
        ItemClass::B => "B",
        ItemClass::C => "C",
    }
}

fn class_of(s: &str) -> Option<ItemClass> {
    [ItemClass::A, ItemClass::B, ItemClass::C]
        .into_iter()
        .find(|c| class_str(*c) == s)
}

impl Store {
    /// Adds or replaces the entry (region, code, effective_from); true when created.
    pub async fn upsert_catalogue(&self, row: &CatalogueRow) -> Result<bool, StoreError> {
        let txn = self.begin().await?;
        let key = vec![
            t(&row.region_code),
            t(&row.entry.national_code),
            t(row.effective_from.to_string()),
        ];
        let existed = sql::exec(&*txn, "DELETE FROM catalogue_items WHERE region_code = ? AND national_code = ? AND effective_from = ?", key).await? > 0;
        sql::exec(
            &*txn,
            "INSERT INTO catalogue_items (region_code, national_code, effective_from, name, item_class, payment_standard_fen, preselfpay_share_bp, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                t(&row.region_code),
                t(&row.entry.national_code),
                t(row.effective_from.to_string()),
                t(&row.name),
                t(class_str(row.entry.class)),
                oi(row.entry.payment_standard.map(|f| f.0)),
                oi(row.entry.preselfpay_share.map(|b| i64::from(b.0))),
                t(now()),
            ],
        )
        .await?;
        txn.commit().await?;
        Ok(!existed)
    }

    /// Entries in force on `date` for the codes at the place of treatment: the most specific
    /// catalogue (county, city, province) listing the code, its latest entry on the date.
    pub async fn catalogue_for(
        &self,
        treatment: &RegionCode,
        codes: &[String],
        date: NaiveDate,
    ) -> Result<HashMap<String, CatalogueRow>, StoreError> {
        let mut out = HashMap::new();
        if codes.is_empty() {
            return Ok(out);
        }
        let s = treatment.as_str();
        let regions = [
            s.to_string(),
            format!("{}00", &s[..4]),
            format!("{}0000", &s[..2]),
        ];
        let q = format!(
            "SELECT region_code, national_code, effective_from, name, item_class, payment_standard_fen, preselfpay_share_bp FROM catalogue_items WHERE region_code IN (?, ?, ?) AND effective_from <= ? AND national_code IN ({})",
            vec!["?"; codes.len()].join(", ")
        );
        let mut v: Vec<Value> = regions.iter().map(t).collect();
        v.push(t(date.to_string()));
        v.extend(codes.iter().map(t));
        let mut best: HashMap<String, (usize, String, CatalogueRow)> = HashMap::new();
        for r in sql::all(self.db(), &q, v).await? {
            let region_code = text(&r, "region_code")?;
            let specificity = 3 - regions.iter().position(|x| *x == region_code).unwrap_or(2);
            let from = text(&r, "effective_from")?;
            let code = text(&r, "national_code")?;
            let class = text(&r, "item_class")?;
            let row = CatalogueRow {
                region_code: region_code.clone(),
                entry: CatalogueEntry {
                    national_code: code.clone(),
                    class: class_of(&class)
                        .ok_or_else(|| StoreError::Corrupt(format!("item class `{class}`")))?,
                    payment_standard: opt_int(&r, "payment_standard_fen")?.map(Fen),
                    preselfpay_share: opt_int(&r, "preselfpay_share_bp")?
                        .and_then(|b| u32::try_from(b).ok())
                        .map(Bp),
                },
                name: text(&r, "name")?,
                effective_from: NaiveDate::parse_from_str(&from, "%Y-%m-%d")
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            };
            let better = best
                .get(&code)
                .is_none_or(|(sp, f, _)| (specificity, &from) > (*sp, f));
            if better {
                best.insert(code, (specificity, from, row));
            }
        }
        for (code, (_, _, row)) in best {
            out.insert(code, row);
        }
        Ok(out)
    }
}
