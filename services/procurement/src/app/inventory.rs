//! Purchase-sale-inventory uploads (进销存): records are idempotent on their number, checked
//! with every stored record of the items concerned against the listings in force, and the
//! mark-up and sale-without-stock findings become events in the upload's transaction.

use super::{AppError, Procurement};
use crate::domain::{
    self, Finding, InventoryCheck, InventoryError, InventoryRecord, InventoryRules, OpeningStock,
    StockPosition,
};
use crate::events::inventory_event;
use crate::store::{OutboxEvent, now};
use std::collections::{BTreeMap, BTreeSet};
use yibao_core::InstitutionCode;

/// What an upload found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryUpload {
    /// Findings of the uploaded records (those of earlier records are not repeated).
    pub findings: Vec<Finding>,
    /// Closing stock per item.
    pub closing: Vec<StockPosition>,
}

fn inventory_error(e: InventoryError) -> AppError {
    match e {
        InventoryError::InvalidRecord { record_no, reason } => AppError::invalid_code(
            crate::error::INVALID_INVENTORY_RECORD.code,
            "records",
            format!("record {record_no}: {reason}"),
        ),
        InventoryError::Overflow(_) => AppError::invalid_code(
            crate::error::MONEY_OVERFLOW.code,
            "records",
            "amounts are too large",
        ),
    }
}

/// The events of a check's findings, numbered per record (a sale drawing on two lots
/// yields two).
fn events_of(check: &InventoryCheck) -> Vec<OutboxEvent> {
    let mut ordinal: BTreeMap<&str, usize> = BTreeMap::new();
    let mut events = Vec::new();
    for f in &check.findings {
        let n = ordinal.entry(f.record_no.as_str()).or_insert(0);
        if let Some(e) = inventory_event(f, *n) {
            events.push(e);
        }
        *n += 1;
    }
    events
}

impl Procurement {
    /// Stores an institution's records and opening stock, checks them and writes the
    /// findings' events in one transaction, then publishes what the outbox holds.
    pub async fn upload_inventory(
        &self,
        institution: &InstitutionCode,
        records: &[InventoryRecord],
        opening: &[OpeningStock],
        rules: &InventoryRules,
    ) -> Result<InventoryUpload, AppError> {
        let mut items: Vec<String> = records
            .iter()
            .map(|x| x.item_code.to_string())
            .chain(opening.iter().map(|o| o.item_code.to_string()))
            .collect();
        items.sort();
        items.dedup();
        let book = self
            .listings_for(institution.region().as_str(), &items)
            .await?;
        let check = self
            .record_inventory(institution.as_str(), records, opening, |all, open| {
                let check =
                    domain::check_inventory(all, open, &book, rules).map_err(inventory_error)?;
                let events = events_of(&check);
                Ok((check, events))
            })
            .await?;
        if let Some(relay) = &self.relay {
            relay.kick();
        }
        let uploaded: BTreeSet<&str> = records.iter().map(|x| x.record_no.as_str()).collect();
        Ok(InventoryUpload {
            findings: check
                .findings
                .into_iter()
                .filter(|f| uploaded.contains(f.record_no.as_str()))
                .collect(),
            closing: check.closing,
        })
    }

    /// Stores an upload's records (idempotent on record number: an identical record is kept,
    /// a different one under a used number is refused naming `records[i].record_no`) and
    /// opening stock; then runs `check` over every stored record and opening stock of the
    /// institution's items concerned, and writes the events it returns, all in one
    /// transaction.
    pub async fn record_inventory<T>(
        &self,
        institution: &str,
        records: &[InventoryRecord],
        opening: &[OpeningStock],
        check: impl FnOnce(
            &[InventoryRecord],
            &[OpeningStock],
        ) -> Result<(T, Vec<OutboxEvent>), AppError>,
    ) -> Result<T, AppError> {
        let t = self.store.begin().await?;
        self.store
            .lock(&t, &format!("inventory:{institution}"))
            .await?;
        let at = now();
        let mut items: Vec<String> = records
            .iter()
            .map(|r| r.item_code.as_str().to_string())
            .chain(opening.iter().map(|o| o.item_code.as_str().to_string()))
            .collect();
        items.sort();
        items.dedup();
        for (i, r) in records.iter().enumerate() {
            if let Some(existing) = self
                .store
                .inventory_record(&t, institution, &r.record_no)
                .await?
            {
                if existing != *r {
                    return Err(AppError::conflict(
                        crate::error::RECORD_NO_REUSED.code,
                        format!(
                            "records[{i}].record_no: record `{}` is stored with other content",
                            r.record_no
                        ),
                    ));
                }
                continue;
            }
            self.store.insert_inventory_record(&t, r, &at).await?;
        }
        for o in opening {
            self.store.upsert_opening_stock(&t, o).await?;
        }
        let (all_records, all_opening) = self
            .store
            .inventory_of_items(&t, institution, &items)
            .await?;
        let (result, events) = check(&all_records, &all_opening)?;
        self.store.enqueue(&t, &events).await?;
        t.commit().await?;
        Ok(result)
    }
}
