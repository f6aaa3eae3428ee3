//! Catalogue entries per region (`catalogue_items`).

use super::{
    Actor, Audit, Store, StoreError, audit, date, get_n, get_os, get_s, n, opt_date, opt_date_text,
    placeholders, region_chain, s,
};
use crate::domain::{CatalogueEntry, InsuranceClass, ItemCode, ItemKind};
use chrono::NaiveDate;
use sea_orm::QueryResult;

/// A stored catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// Region of the catalogue.
    pub region: String,
    /// The entry.
    pub entry: CatalogueEntry,
    /// Last change.
    pub updated: Audit,
}

/// Text form of an item kind.
pub fn kind_str(k: ItemKind) -> &'static str {
    match k {
        ItemKind::WesternDrug => "western_drug",
        ItemKind::ChinesePatentMedicine => "chinese_patent_medicine",
        ItemKind::Consumable => "consumable",
        ItemKind::Reagent => "reagent",
        ItemKind::ServiceItem => "service_item",
    }
}

fn kind_of(s: &str) -> Result<ItemKind, StoreError> {
    [
        ItemKind::WesternDrug,
        ItemKind::ChinesePatentMedicine,
        ItemKind::Consumable,
        ItemKind::Reagent,
        ItemKind::ServiceItem,
    ]
    .into_iter()
    .find(|k| kind_str(*k) == s)
    .ok_or_else(|| StoreError::Corrupt(format!("item kind `{s}`")))
}

fn class_str(c: InsuranceClass) -> &'static str {
    match c {
        InsuranceClass::A => "A",
        InsuranceClass::B => "B",
        InsuranceClass::C => "C",
    }
}

fn class_of(s: &str) -> Result<InsuranceClass, StoreError> {
    match s {
        "A" => Ok(InsuranceClass::A),
        "B" => Ok(InsuranceClass::B),
        "C" => Ok(InsuranceClass::C),
        _ => Err(StoreError::Corrupt(format!("insurance class `{s}`"))),
    }
}

const CATALOGUE_COLS: &str = "region_code, code, kind, generic_name, dosage_form, specification, manufacturer, insurance_class, negotiated, valid_from, valid_to, updated_by, updated_role, updated_at";

fn catalogue_row(r: &QueryResult) -> Result<StoredItem, StoreError> {
    let kind = kind_of(&get_s(r, "kind")?)?;
    let raw = get_s(r, "code")?;
    Ok(StoredItem {
        region: get_s(r, "region_code")?,
        entry: CatalogueEntry {
            code: ItemCode::parse(kind, &raw)
                .map_err(|e| StoreError::Corrupt(format!("stored code `{raw}`: {e}")))?,
            kind,
            generic_name: get_s(r, "generic_name")?,
            dosage_form: get_s(r, "dosage_form")?,
            specification: get_s(r, "specification")?,
            manufacturer: get_s(r, "manufacturer")?,
            class: class_of(&get_s(r, "insurance_class")?)?,
            negotiated: get_n(r, "negotiated")? != 0,
            valid_from: date(&get_s(r, "valid_from")?)?,
            valid_to: opt_date(get_os(r, "valid_to")?)?,
        },
        updated: audit(r, "updated_by", "updated_role", "updated_at")?,
    })
}

impl Store {
    /// Inserts or replaces entries of a region's catalogue in one transaction; returns for
    /// each entry whether it was new.
    pub async fn upsert_catalogue(
        &self,
        region: &str,
        entries: &[CatalogueEntry],
        actor: &Actor,
    ) -> Result<Vec<bool>, StoreError> {
        let t = self.begin().await?;
        let at = super::now();
        let mut created = Vec::with_capacity(entries.len());
        let sql = format!(
            "INSERT INTO catalogue_items ({CATALOGUE_COLS}) VALUES ({}) ON CONFLICT (region_code, code) DO UPDATE SET \
             kind = excluded.kind, generic_name = excluded.generic_name, dosage_form = excluded.dosage_form, \
             specification = excluded.specification, manufacturer = excluded.manufacturer, \
             insurance_class = excluded.insurance_class, negotiated = excluded.negotiated, \
             valid_from = excluded.valid_from, valid_to = excluded.valid_to, updated_by = excluded.updated_by, \
             updated_role = excluded.updated_role, updated_at = excluded.updated_at",
            placeholders(1, 14)
        );
        for e in entries {
            let exists = self
                .one(
                    &*t,
                    "SELECT code FROM catalogue_items WHERE region_code = $1 AND code = $2",
                    vec![s(region), s(e.code.as_str())],
                )
                .await?
                .is_some();
            self.exec(
                &*t,
                &sql,
                vec![
                    s(region),
                    s(e.code.as_str()),
                    s(kind_str(e.kind)),
                    s(e.generic_name.clone()),
                    s(e.dosage_form.clone()),
                    s(e.specification.clone()),
                    s(e.manufacturer.clone()),
                    s(class_str(e.class)),
                    n(i64::from(e.negotiated)),
                    s(e.valid_from.to_string()),
                    opt_date_text(e.valid_to),
                    s(actor.subject.clone()),
                    s(actor.role.clone()),
                    s(at.clone()),
                ],
            )
            .await?;
            created.push(!exists);
        }
        t.commit().await?;
        Ok(created)
    }

    /// A catalogue entry of a region.
    pub async fn catalogue_item(
        &self,
        region: &str,
        code: &str,
    ) -> Result<Option<StoredItem>, StoreError> {
        let sql = format!(
            "SELECT {CATALOGUE_COLS} FROM catalogue_items WHERE region_code = $1 AND code = $2"
        );
        self.one(self.db(), &sql, vec![s(region), s(code)])
            .await?
            .as_ref()
            .map(catalogue_row)
            .transpose()
    }

    /// The entry of `code` in the most specific region of `region`'s chain that has it.
    pub async fn catalogue_item_in_chain(
        &self,
        region: &str,
        code: &str,
    ) -> Result<Option<StoredItem>, StoreError> {
        for r in region_chain(region) {
            if let Some(item) = self.catalogue_item(&r, code).await? {
                return Ok(Some(item));
            }
        }
        Ok(None)
    }

    /// Entries of a region in code order after `after`, at most `limit`, filtered by kind,
    /// generic name (substring) and validity on a date.
    pub async fn list_catalogue(
        &self,
        region: &str,
        kind: Option<ItemKind>,
        name_contains: &str,
        on_date: Option<NaiveDate>,
        after: &str,
        limit: u64,
    ) -> Result<Vec<StoredItem>, StoreError> {
        let mut sql = format!(
            "SELECT {CATALOGUE_COLS} FROM catalogue_items WHERE region_code = $1 AND code > $2"
        );
        let mut values = vec![s(region), s(after)];
        if let Some(k) = kind {
            values.push(s(kind_str(k)));
            sql.push_str(&format!(" AND kind = ${}", values.len()));
        }
        if !name_contains.is_empty() {
            values.push(s(format!("%{name_contains}%")));
            sql.push_str(&format!(" AND generic_name LIKE ${}", values.len()));
        }
        if let Some(d) = on_date {
            values.push(s(d.to_string()));
            let i = values.len();
            sql.push_str(&format!(
                " AND valid_from <= ${i} AND (valid_to IS NULL OR valid_to >= ${i})"
            ));
        }
        values.push(n(i64::try_from(limit).unwrap_or(1000)));
        sql.push_str(&format!(" ORDER BY code LIMIT ${}", values.len()));
        self.all(self.db(), &sql, values)
            .await?
            .iter()
            .map(catalogue_row)
            .collect()
    }

    /// Codes of the region chain's catalogue entries with a generic name.
    pub async fn codes_of_generic(
        &self,
        region: &str,
        generic_name: &str,
    ) -> Result<Vec<String>, StoreError> {
        let chain = region_chain(region);
        let sql = format!(
            "SELECT DISTINCT code FROM catalogue_items WHERE generic_name = $1 AND region_code IN ({}) ORDER BY code",
            placeholders(2, chain.len())
        );
        let mut values = vec![s(generic_name)];
        values.extend(chain.into_iter().map(s));
        self.all(self.db(), &sql, values)
            .await?
            .iter()
            .map(|r| get_s(r, "code"))
            .collect()
    }
}
