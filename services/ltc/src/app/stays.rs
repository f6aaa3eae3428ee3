//! Inpatient stays from settlement's claim events (see `events::stays`): recorded once per
//! claim, marked when the claim is reversed.

use super::{AppError, Ltc};
use crate::store::stays;

pub use crate::store::stays::NewStay as Stay;

impl Ltc {
    /// Records an inpatient stay settled by settlement (idempotent by claim id).
    pub async fn record_stay(&self, s: &Stay<'_>) -> Result<(), AppError> {
        let tx = self.store.begin().await?;
        if !stays::exists(&*tx, s.claim_id).await? {
            stays::insert(&tx, s).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks a stay reversed (its claim was reversed in settlement).
    pub async fn reverse_stay(&self, claim_id: &str) -> Result<(), AppError> {
        let tx = self.store.begin().await?;
        stays::mark_reversed(&tx, claim_id).await?;
        tx.commit().await?;
        Ok(())
    }
}
