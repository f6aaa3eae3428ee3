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

/// The id of the last event applied to the claim's stay, if the stay is recorded.
pub async fn last_event<C: ConnectionTrait>(
    c: &C,
    claim_id: &str,
) -> Result<Option<String>, StoreError> {
    let r = one(
        c,
        "SELECT event_id FROM ltc_hospital_stays WHERE claim_id = ?",
        vec![t(claim_id)],
    )
    .await?;
    Ok(r.map(|r| text(&r, "event_id")).transpose()?)
}

/// Records a stay, settled (`reversed` false) or reversed.
pub async fn insert(
    txn: &DatabaseTransaction,
    s: &NewStay<'_>,
    reversed: bool,
) -> Result<(), StoreError> {
    exec(
        txn,
        "INSERT INTO ltc_hospital_stays (claim_id, person_id, admitted, discharged, reversed, event_id) VALUES (?, ?, ?, ?, ?, ?)",
        vec![
            t(s.claim_id),
            t(s.person_id),
            t(s.admitted),
            t(s.discharged),
            sea_orm::Value::from(i32::from(reversed)),
            t(s.event_id),
        ],
    )
    .await?;
    Ok(())
}

/// Replaces a recorded stay with what a later event says (dates, settled or reversed).
pub async fn update(
    txn: &DatabaseTransaction,
    s: &NewStay<'_>,
    reversed: bool,
) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_hospital_stays SET person_id = ?, admitted = ?, discharged = ?, reversed = ?, event_id = ? WHERE claim_id = ?",
        vec![
            t(s.person_id),
            t(s.admitted),
            t(s.discharged),
            sea_orm::Value::from(i32::from(reversed)),
            t(s.event_id),
            t(s.claim_id),
        ],
    )
    .await?;
    Ok(())
}
