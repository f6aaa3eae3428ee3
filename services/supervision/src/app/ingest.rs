//! The consumer's write of one part of a read: the event rows, the findings with their opened
//! review, the verification tasks of large receipts, the spending per institution and month,
//! the re-evaluated budget warnings and the stays and day totals of the in-stay rules, in one
//! transaction.

use super::{AppError, budgets::reevaluate};
use crate::domain::{Finding, Review, VerificationTask};
use crate::store::{Batch, Store};
use std::collections::BTreeMap;

/// Writes a batch of the consumer in one transaction, its events numbered from the store's
/// counter. Fails with a conflict, writing nothing, when one of its events was stored
/// meanwhile. Each table
/// gets one multi-row statement (PostgreSQL: up to 5,000 rows of array parameters), not one
/// per row.
pub async fn commit_batch(store: &Store, batch: &Batch) -> Result<(), AppError> {
    let txn = store.begin().await?;
    let first_seq = store.take_seqs(&txn, batch.events.len()).await?;
    store.insert_events(&txn, &batch.events, first_seq).await?;
    let pairs: Vec<(&Finding, &Review)> = batch.findings.iter().map(|(f, r, _)| (f, r)).collect();
    store.insert_findings(&txn, &pairs, None).await?;
    let tasks: Vec<(&Finding, &VerificationTask)> = batch
        .findings
        .iter()
        .filter_map(|(f, _, t)| t.as_ref().map(|t| (f, t)))
        .collect();
    store.insert_tasks(&txn, &tasks).await?;
    store.add_spending(&txn, &batch.spending).await?;
    if !batch.stays.is_empty() {
        store.write_stays(&txn, &batch.stays).await?;
    }
    store
        .withdraw_tasks(&txn, &batch.reversed, chrono::Utc::now())
        .await?;
    let mut months: BTreeMap<(i32, u32), Vec<String>> = BTreeMap::new();
    for (inst, year, month) in batch.spending.keys() {
        months
            .entry((*year, *month))
            .or_default()
            .push(inst.clone());
    }
    for ((year, month), institutions) in months {
        reevaluate(store, &txn, year, month, &institutions).await?;
    }
    txn.commit().await?;
    Ok(())
}
