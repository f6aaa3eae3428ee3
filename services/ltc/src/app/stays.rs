//! Inpatient stays from settlement's claim events (see `events::stays`), one row per claim
//! holding what the claim's latest event says. A partial refund reverses a claim and settles
//! it again (Reversed, then Settled, under later event ids): the stay is reversed and then
//! reinstated with the new dates. Settlement's event ids grow with time (UUIDv7), so an event
//! older than the one already applied — a redelivery, or a message another consumer had taken
//! and this one reclaimed — changes nothing, whatever order delivery takes.

use super::{AppError, Ltc};
use crate::store::stays;

pub use crate::store::stays::NewStay as Stay;

impl Ltc {
    /// Applies an inpatient stay settled by settlement.
    pub async fn record_stay(&self, s: &Stay<'_>) -> Result<(), AppError> {
        self.apply_stay_event(s, false).await
    }

    /// Applies the reversal of a stay's claim in settlement.
    pub async fn reverse_stay(&self, s: &Stay<'_>) -> Result<(), AppError> {
        self.apply_stay_event(s, true).await
    }

    async fn apply_stay_event(&self, s: &Stay<'_>, reversed: bool) -> Result<(), AppError> {
        let tx = self.store.begin().await?;
        match stays::last_event(&*tx, s.claim_id).await? {
            None => stays::insert(&tx, s, reversed).await?,
            Some(applied) if s.event_id > applied.as_str() => {
                stays::update(&tx, s, reversed).await?
            }
            Some(_) => {}
        }
        tx.commit().await?;
        Ok(())
    }
}
