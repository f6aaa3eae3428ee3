//! What the in-stay rules keep: the inpatient stays seen on settlement's encounter stream and
//! the fees uploaded per stay and fee date. The consumer loads a [`StayBook`] for the events of
//! a part (the stays of their persons, the day totals of their encounters), the domain changes
//! it event by event, and the changed entries are written in the part's transaction.

use super::{BIGINT, Col, Store, StoreError, TEXT, i, rfc3339, s};
use crate::domain::{PersonKey, Stay, StayBook, StayStatus};
use chrono::{NaiveDate, Utc};
use sea_orm::{DatabaseTransaction, Value};
use yibao_core::{Fen, InstitutionCode};

/// The changed entries of a book, to be written with a part.
#[derive(Debug, Default, Clone)]
pub struct StayWrites {
    /// Stays as they stand after the part, with the event that last changed each.
    pub stays: Vec<(Stay, String)>,
    /// Day totals as they stand after the part: (encounter id, fee date, fees).
    pub fee_days: Vec<(String, NaiveDate, Fen)>,
}

impl StayWrites {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.stays.is_empty() && self.fee_days.is_empty()
    }
}

const STAY_COLS: &[Col] = &[
    ("encounter_id", TEXT),
    ("person_key", TEXT),
    ("institution_code", TEXT),
    ("start_date", TEXT),
    ("end_date", TEXT),
    ("status", TEXT),
    ("event_id", TEXT),
    ("updated_at", TEXT),
];

const DAY_COLS: &[Col] = &[
    ("encounter_id", TEXT),
    ("fee_date", TEXT),
    ("amount_fen", BIGINT),
    ("updated_at", TEXT),
];

fn date(text: &str, col: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| StoreError::corrupt(format!("{col} `{text}`: {e}")))
}

fn stay_of(r: &sea_orm::QueryResult) -> Result<Stay, StoreError> {
    let end = r
        .try_get::<Option<String>>("", "end_date")
        .map_err(|e| StoreError::corrupt(format!("end_date: {e}")))?;
    let status = s(r, "status")?;
    Ok(Stay {
        encounter_id: s(r, "encounter_id")?,
        person: PersonKey::parse(&s(r, "person_key")?).map_err(StoreError::corrupt)?,
        institution: InstitutionCode::parse(&s(r, "institution_code")?)
            .map_err(StoreError::corrupt)?,
        start: date(&s(r, "start_date")?, "start_date")?,
        end: end
            .filter(|e| !e.is_empty())
            .map(|e| date(&e, "end_date"))
            .transpose()?,
        status: StayStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt(format!("stay status `{status}`")))?,
    })
}

impl Store {
    /// The book of the in-stay rules for some persons and encounters: every stay of those
    /// persons (and of those encounters), and the day totals of those encounters.
    pub async fn stay_book(
        &self,
        persons: &[String],
        encounters: &[String],
    ) -> Result<StayBook, StoreError> {
        let mut book = StayBook::default();
        for (col, keys) in [("person_key", persons), ("encounter_id", encounters)] {
            for chunk in keys.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let rows = self
                    .all(
                        self.db(),
                        &format!("SELECT encounter_id, person_key, institution_code, start_date, end_date, status FROM stays WHERE {col} IN ({marks})"),
                        chunk.iter().map(|k| Value::from(k.clone())).collect(),
                    )
                    .await?;
                for r in &rows {
                    let stay = stay_of(r)?;
                    book.stays.insert(stay.encounter_id.clone(), stay);
                }
            }
        }
        for chunk in encounters.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let rows = self
                .all(
                    self.db(),
                    &format!("SELECT encounter_id, fee_date, amount_fen FROM stay_fee_days WHERE encounter_id IN ({marks})"),
                    chunk.iter().map(|k| Value::from(k.clone())).collect(),
                )
                .await?;
            for r in &rows {
                book.fee_days.insert(
                    (s(r, "encounter_id")?, date(&s(r, "fee_date")?, "fee_date")?),
                    Fen(i(r, "amount_fen")?),
                );
            }
        }
        Ok(book)
    }

    /// Writes the stays and day totals a part changed (each key once), in one multi-row
    /// statement per table.
    pub async fn write_stays(
        &self,
        txn: &DatabaseTransaction,
        w: &StayWrites,
    ) -> Result<(), StoreError> {
        let now = rfc3339(Utc::now());
        let stays: Vec<Vec<Value>> = w
            .stays
            .iter()
            .map(|(st, event_id)| {
                vec![
                    Value::from(st.encounter_id.as_str()),
                    st.person.as_str().into(),
                    st.institution.to_string().into(),
                    st.start.to_string().into(),
                    Value::String(st.end.map(|d| d.to_string())),
                    st.status.as_str().into(),
                    event_id.as_str().into(),
                    now.as_str().into(),
                ]
            })
            .collect();
        if !stays.is_empty() {
            self.insert_many(
                txn,
                "stays",
                STAY_COLS,
                stays,
                "ON CONFLICT (encounter_id) DO UPDATE SET person_key = excluded.person_key, institution_code = excluded.institution_code, start_date = excluded.start_date, end_date = excluded.end_date, status = excluded.status, event_id = excluded.event_id, updated_at = excluded.updated_at",
                None,
            )
            .await?;
        }
        let days: Vec<Vec<Value>> = w
            .fee_days
            .iter()
            .map(|(enc, day, fen)| {
                vec![
                    Value::from(enc.as_str()),
                    day.to_string().into(),
                    fen.0.into(),
                    now.as_str().into(),
                ]
            })
            .collect();
        if !days.is_empty() {
            self.insert_many(
                txn,
                "stay_fee_days",
                DAY_COLS,
                days,
                "ON CONFLICT (encounter_id, fee_date) DO UPDATE SET amount_fen = excluded.amount_fen, updated_at = excluded.updated_at",
                None,
            )
            .await?;
        }
        Ok(())
    }
}
