//! Care-service records, their corrections (previous values kept) and the revision counter
//! settlement runs compare against.

use super::sql::{all, exec, i, insert_rows, int, one, t, text};
use super::{StoreError, care_type_of, conflict_on_unique, date, json, now, to_json};
use crate::domain::Month;
use crate::domain::policy::CareType;
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult};
use yibao_core::Fen;
use yibao_runtime::Actor;

/// A record accepted for storage.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// Record number.
    pub record_no: String,
    /// Beneficiary.
    pub beneficiary_id: String,
    /// Beneficiary's region.
    pub region_code: String,
    /// Care type.
    pub care_type: CareType,
    /// Date.
    pub service_date: NaiveDate,
    /// Units.
    pub units: u32,
    /// Amount.
    pub amount: Fen,
    /// Care items.
    pub items: Vec<String>,
    /// The flag's code when stored flagged (not paid until cleared).
    pub flag_code: Option<String>,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// Record number.
    pub record_no: String,
    /// Beneficiary.
    pub beneficiary_id: String,
    /// Care type.
    pub care_type: CareType,
    /// Date.
    pub service_date: NaiveDate,
    /// Units.
    pub units: u32,
    /// Amount.
    pub amount: Fen,
    /// Care items.
    pub items: Vec<String>,
}

/// A beneficiary's month so far: (care type, date, units) of stored records.
pub type MonthUsage = Vec<(CareType, NaiveDate, u32)>;

/// A correction of a record's units and amount.
#[derive(Debug, Clone)]
pub struct Correction<'a> {
    /// The record as it was.
    pub old: &'a RecordRow,
    /// New units.
    pub units: u32,
    /// New amount.
    pub amount: Fen,
    /// Why.
    pub reason: &'a str,
}

const RECORD_COLUMNS: [&str; 14] = [
    "institution_code",
    "record_no",
    "beneficiary_id",
    "region_code",
    "care_type",
    "service_date",
    "month",
    "units",
    "amount_fen",
    "items_json",
    "status",
    "flag_code",
    "revision",
    "uploaded_at",
];

fn record_row(r: &QueryResult) -> Result<RecordRow, StoreError> {
    Ok(RecordRow {
        record_no: text(r, "record_no")?,
        beneficiary_id: text(r, "beneficiary_id")?,
        care_type: care_type_of(&text(r, "care_type")?)?,
        service_date: date(&text(r, "service_date")?)?,
        units: u32::try_from(int(r, "units")?).unwrap_or(0),
        amount: Fen(int(r, "amount_fen")?),
        items: json(&text(r, "items_json")?)?,
    })
}

/// A stored record.
pub async fn get<C: ConnectionTrait>(
    c: &C,
    institution: &str,
    record_no: &str,
) -> Result<Option<RecordRow>, StoreError> {
    one(
        c,
        "SELECT * FROM ltc_records WHERE institution_code = ? AND record_no = ?",
        vec![t(institution), t(record_no)],
    )
    .await?
    .as_ref()
    .map(record_row)
    .transpose()
}

/// What a beneficiary has recorded in a month (all institutions).
pub async fn month_usage<C: ConnectionTrait>(
    c: &C,
    beneficiary_id: &str,
    month: Month,
) -> Result<MonthUsage, StoreError> {
    all(c, "SELECT care_type, service_date, units FROM ltc_records WHERE beneficiary_id = ? AND month = ?", vec![t(beneficiary_id), t(month.to_string())])
        .await?
        .iter()
        .map(|r| Ok((care_type_of(&text(r, "care_type")?)?, date(&text(r, "service_date")?)?, u32::try_from(int(r, "units")?).unwrap_or(0))))
        .collect()
}

/// Takes `n` revisions from the counter; returns the first. The counter row stays locked until
/// the transaction ends, so revisions become visible in the order they were taken.
async fn reserve_revisions(txn: &DatabaseTransaction, n: i64) -> Result<i64, StoreError> {
    exec(
        txn,
        "UPDATE ltc_counters SET value = value + ? WHERE name = 'record_revision'",
        vec![i(n)],
    )
    .await?;
    let r = one(
        txn,
        "SELECT value FROM ltc_counters WHERE name = 'record_revision'",
        vec![],
    )
    .await?
    .ok_or_else(|| StoreError::Corrupt("revision counter missing".into()))?;
    Ok(int(&r, "value")? - n + 1)
}

/// Stores accepted records, each under a new revision.
pub async fn insert_all(
    txn: &DatabaseTransaction,
    institution: &str,
    records: &[NewRecord],
) -> Result<(), StoreError> {
    let at = now();
    let first = reserve_revisions(txn, i64::try_from(records.len()).unwrap_or(i64::MAX)).await?;
    let rows: Vec<Vec<sea_orm::Value>> = records
        .iter()
        .zip(first..)
        .map(|(r, revision)| -> Result<Vec<sea_orm::Value>, StoreError> {
            Ok(vec![
                t(institution),
                t(r.record_no.clone()),
                t(r.beneficiary_id.clone()),
                t(r.region_code.clone()),
                t(r.care_type.as_str()),
                t(r.service_date.to_string()),
                t(Month::of(r.service_date).to_string()),
                i(i64::from(r.units)),
                i(r.amount.get()),
                t(to_json(&r.items)?),
                t(if r.flag_code.is_some() {
                    "flagged"
                } else {
                    "accepted"
                }),
                t(r.flag_code.clone().unwrap_or_default()),
                i(revision),
                t(at.clone()),
            ])
        })
        .collect::<Result<_, _>>()?;
    insert_rows(txn, "ltc_records", &RECORD_COLUMNS, rows)
        .await
        .map_err(|e| {
            conflict_on_unique(e, || {
                "a record number was uploaded concurrently; retry the upload".into()
            })
        })?;
    Ok(())
}

/// Corrects a record's units and amount under a new revision, keeping the previous values.
pub async fn correct(
    txn: &DatabaseTransaction,
    institution: &str,
    c: &Correction<'_>,
    actor: &Actor,
) -> Result<(), StoreError> {
    let record_no = c.old.record_no.as_str();
    let seq = one(txn, "SELECT COUNT(*) AS n FROM ltc_record_corrections WHERE institution_code = ? AND record_no = ?", vec![t(institution), t(record_no)]).await?;
    let seq = seq.as_ref().map(|r| int(r, "n")).transpose()?.unwrap_or(0);
    exec(
        txn,
        "INSERT INTO ltc_record_corrections (institution_code, record_no, seq, old_units, old_amount_fen, new_units, new_amount_fen, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![t(institution), t(record_no), i(seq), i(i64::from(c.old.units)), i(c.old.amount.get()), i(i64::from(c.units)), i(c.amount.get()), t(c.reason), t(actor.subject.clone()), t(now())],
    )
    .await?;
    let revision = reserve_revisions(txn, 1).await?;
    exec(
        txn,
        "UPDATE ltc_records SET units = ?, amount_fen = ?, revision = ? WHERE institution_code = ? AND record_no = ?",
        vec![i(i64::from(c.units)), i(c.amount.get()), i(revision), t(institution), t(record_no)],
    )
    .await?;
    Ok(())
}
