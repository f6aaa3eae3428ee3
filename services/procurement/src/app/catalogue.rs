//! The catalogue: entries upserted one by one or imported from a CSV file, read by code and
//! listed.

use super::{AppError, Procurement};
use crate::domain::{self, CatalogueEntry, CatalogueImport, ItemCode, ItemKind};
use crate::store::{Actor, StoredItem};
use chrono::NaiveDate;

/// A page of a region's catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueQuery {
    /// Only entries of this kind.
    pub kind: Option<ItemKind>,
    /// Only entries whose generic name contains this (empty: all).
    pub name_contains: String,
    /// Only entries valid on this day.
    pub on_date: Option<NaiveDate>,
    /// Entries after this code.
    pub after: String,
    /// At most this many.
    pub limit: u64,
}

impl Procurement {
    /// Inserts or replaces an entry of a region's catalogue; returns it as stored and whether
    /// it was new.
    pub async fn upsert_catalogue_item(
        &self,
        region: &str,
        entry: CatalogueEntry,
        actor: &Actor,
    ) -> Result<(StoredItem, bool), AppError> {
        let created = self
            .store
            .upsert_catalogue(region, std::slice::from_ref(&entry), actor)
            .await?;
        let stored = self
            .store
            .catalogue_item(region, entry.code.as_str())
            .await?
            .ok_or_else(|| AppError::Corrupt("catalogue entry vanished after upsert".into()))?;
        Ok((stored, created.first().copied().unwrap_or(false)))
    }

    /// Parses a catalogue file and, unless `dry_run`, stores its valid rows in one
    /// transaction; the rows in error come back with their line and field.
    pub async fn import_catalogue(
        &self,
        region: &str,
        csv_text: &str,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<CatalogueImport, AppError> {
        let import = domain::parse_catalogue_csv(csv_text);
        if !dry_run && !import.entries.is_empty() {
            self.store
                .upsert_catalogue(region, &import.entries, actor)
                .await?;
        }
        Ok(import)
    }

    /// An entry of a region's catalogue, valid on `on` when given.
    pub async fn catalogue_item(
        &self,
        region: &str,
        code: &ItemCode,
        on: Option<NaiveDate>,
    ) -> Result<StoredItem, AppError> {
        let not_found = || {
            AppError::not_found(
                crate::error::ITEM_NOT_FOUND.code,
                format!(
                    "catalogue entry `{code}` of region {region}{}",
                    on.map(|d| format!(" valid on {d}")).unwrap_or_default()
                ),
            )
        };
        let stored = self
            .store
            .catalogue_item(region, code.as_str())
            .await?
            .ok_or_else(not_found)?;
        if let Some(d) = on
            && !stored.entry.is_valid_on(d)
        {
            return Err(not_found());
        }
        Ok(stored)
    }

    /// A page of a region's catalogue in code order.
    pub async fn list_catalogue(
        &self,
        region: &str,
        q: &CatalogueQuery,
    ) -> Result<Vec<StoredItem>, AppError> {
        Ok(self
            .store
            .list_catalogue(
                region,
                q.kind,
                &q.name_contains,
                q.on_date,
                &q.after,
                q.limit,
            )
            .await?)
    }

    /// Refused naming `field` unless `code` is in the catalogue of `region`'s chain.
    pub(super) async fn require_catalogued(
        &self,
        region: &str,
        code: &ItemCode,
        field: &str,
    ) -> Result<(), AppError> {
        if self
            .store
            .catalogue_item_in_chain(region, code.as_str())
            .await?
            .is_none()
        {
            return Err(AppError::invalid_code(
                crate::error::ITEM_NOT_FOUND.code,
                field,
                format!("{code} is not in the catalogue of region {region}"),
            ));
        }
        Ok(())
    }
}
