//! Inpatient stays settled by settlement (from its claim events), keyed by claim id.

use super::sql::{all, exec, one, t, text};
use super::{StoreError, date};
use crate::domain::record::HospitalStay;
use sea_orm::{ConnectionTrait, DatabaseTransaction};

/// A stay as settlement reported it.
#[derive(Debug, Clone)]
pub struct NewStay<'a> {
    /// Settlement's claim id.
    pub claim_id: &'a str,
    /// Enrollment person id.
    pub person_id: &'a str,
    /// Admission date (`YYYY-MM-DD`).
    pub admitted: &'a str,
    /// Discharge date (`YYYY-MM-DD`).
    pub discharged: &'a str,
    /// The event that reported it.
    pub event_id: &'a str,
}

/// Settled hospital stays of a person (reversed ones excluded).
pub async fn of_person<C: ConnectionTrait>(
    c: &C,
    person_id: &str,
) -> Result<Vec<HospitalStay>, StoreError> {
    all(
        c,
        "SELECT admitted, discharged FROM ltc_hospital_stays WHERE person_id = ? AND reversed = 0",
        vec![t(person_id)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(HospitalStay {
            admitted: date(&text(r, "admitted")?)?,
            discharged: date(&text(r, "discharged")?)?,
        })
    })
    .collect()
}

/// True when the claim's stay is recorded.
pub async fn exists<C: ConnectionTrait>(c: &C, claim_id: &str) -> Result<bool, StoreError> {
    let r = one(
        c,
        "SELECT claim_id FROM ltc_hospital_stays WHERE claim_id = ?",
        vec![t(claim_id)],
    )
    .await?;
    Ok(r.is_some())
}

/// Records a stay.
pub async fn insert(txn: &DatabaseTransaction, s: &NewStay<'_>) -> Result<(), StoreError> {
    exec(
        txn,
        "INSERT INTO ltc_hospital_stays (claim_id, person_id, admitted, discharged, reversed, event_id) VALUES (?, ?, ?, ?, 0, ?)",
        vec![t(s.claim_id), t(s.person_id), t(s.admitted), t(s.discharged), t(s.event_id)],
    )
    .await?;
    Ok(())
}

/// Marks a stay reversed (its claim was reversed in settlement).
pub async fn mark_reversed(txn: &DatabaseTransaction, claim_id: &str) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_hospital_stays SET reversed = 1 WHERE claim_id = ?",
        vec![t(claim_id)],
    )
    .await?;
    Ok(())
}
