//! The place of treatment's catalogue.

use super::{AppError, SettlementApp};
use crate::store::CatalogueRow;

impl SettlementApp {
    /// Adds or replaces the entry (region, code, first day in force); true when created.
    pub async fn upsert_catalogue(&self, row: &CatalogueRow) -> Result<bool, AppError> {
        Ok(self.store.upsert_catalogue(row).await?)
    }
}
