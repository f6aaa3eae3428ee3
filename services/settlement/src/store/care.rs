//! Encounters in care (`care_encounters`): opened by registration or admission, their fee
//! lines (`care_fee_lines`) uploaded in parts and cancelled line by line, the claims settled
//! from them (`care_settlements`, with the request that settled each) and the requests undone
//! by reference (`care_undone`, 2601). Named `care_` because `encounters` is the claims'
//! idempotency key.

use super::claims::{kind_of, kind_str};
use super::{Store, StoreError, parse};
use crate::domain::encounter::{EncounterStatus, FeeLine};
use crate::domain::{Breakdown, ClaimItem, EncounterKind, ItemClass};
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use yibao_core::Fen;
use yibao_runtime::sql::{self, i, i4, insert_rows, int, int32, opt_int32, opt_text, ot, t, text};

/// An encounter as stored.
#[derive(Debug, Clone)]
pub struct EncounterRow {
    /// Its id (UUIDv7).
    pub encounter_id: String,
    /// Institution.
    pub institution_code: String,
    /// The institution's number.
    pub encounter_no: String,
    /// ID number (clear; masked in responses).
    pub id_number: String,
    /// Enrollment's person id.
    pub person_id: String,
    /// Insured region.
    pub insured_region: String,
    /// Kind.
    pub kind: EncounterKind,
    /// Chronic disease, when any.
    pub disease_code: Option<String>,
    /// Start.
    pub start_date: NaiveDate,
    /// Discharge.
    pub end_date: Option<NaiveDate>,
    /// Diagnoses, main first.
    pub diagnoses: Vec<String>,
    /// Attending physician, when any.
    pub physician_code: Option<String>,
    /// Stored status.
    pub status: EncounterStatus,
    /// The request that opened it.
    pub open_ref: String,
    /// Who opened it.
    pub opened_by: String,
    /// Their role.
    pub opened_role: String,
    /// When.
    pub opened_at: String,
}

/// A fee line as stored.
#[derive(Debug, Clone)]
pub struct FeeLineRow {
    /// The line.
    pub line: FeeLine,
    /// Charge category.
    pub charge_category: String,
    /// The request that uploaded it.
    pub upload_ref: String,
    /// True once cancelled.
    pub cancelled: bool,
}

/// A claim settled from an encounter.
#[derive(Debug, Clone)]
pub struct CareSettlementRow {
    /// The claim.
    pub claim_id: String,
    /// The encounter.
    pub encounter_id: String,
    /// Its sequence among the encounter's settlements (1, 2 after a reversal, …).
    pub seq: i32,
    /// The request that settled it.
    pub request_ref: String,
}

/// A request undone by reference.
#[derive(Debug, Clone)]
pub struct UndoneRow {
    /// The original request.
    pub request_ref: String,
    /// What was undone (`nothing`, `settlement`, `fees`, `encounter`).
    pub undone: String,
    /// The encounter concerned, or empty.
    pub encounter_id: String,
    /// The claim reversed, or empty.
    pub claim_id: String,
    /// The refund of a reversed settlement.
    pub refund: Option<Breakdown>,
}

const ENCOUNTER_COLUMNS: &str = "encounter_id, institution_code, encounter_no, id_number, person_id, insured_region, kind, disease_code, start_date, end_date, diagnoses_json, physician_code, status, open_ref, opened_by, opened_role, opened_at";

fn date(s: &str, what: &str) -> Result<NaiveDate, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} `{s}`")))
}

fn encounter_row(r: &sea_orm::QueryResult) -> Result<EncounterRow, StoreError> {
    let kind = text(r, "kind")?;
    let status = text(r, "status")?;
    let disease = text(r, "disease_code")?;
    let physician = text(r, "physician_code")?;
    Ok(EncounterRow {
        encounter_id: text(r, "encounter_id")?,
        institution_code: text(r, "institution_code")?,
        encounter_no: text(r, "encounter_no")?,
        id_number: text(r, "id_number")?,
        person_id: text(r, "person_id")?,
        insured_region: text(r, "insured_region")?,
        kind: kind_of(&kind).ok_or_else(|| StoreError::Corrupt(format!("kind `{kind}`")))?,
        disease_code: Some(disease).filter(|d| !d.is_empty()),
        start_date: date(&text(r, "start_date")?, "start date")?,
        end_date: opt_text(r, "end_date")?
            .map(|d| date(&d, "end date"))
            .transpose()?,
        diagnoses: parse(&text(r, "diagnoses_json")?, "diagnoses")?,
        physician_code: Some(physician).filter(|p| !p.is_empty()),
        status: EncounterStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("encounter status `{status}`")))?,
        open_ref: text(r, "open_ref")?,
        opened_by: text(r, "opened_by")?,
        opened_role: text(r, "opened_role")?,
        opened_at: text(r, "opened_at")?,
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Inserts an encounter; false when (institution, number) is taken already.
    pub async fn insert_care_encounter(
        txn: &DatabaseTransaction,
        e: &EncounterRow,
        at: &str,
    ) -> Result<bool, StoreError> {
        let n = sql::exec(
            txn,
            &format!(
                "INSERT INTO care_encounters ({ENCOUNTER_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (institution_code, encounter_no) DO NOTHING"
            ),
            vec![
                t(&e.encounter_id),
                t(&e.institution_code),
                t(&e.encounter_no),
                t(&e.id_number),
                t(&e.person_id),
                t(&e.insured_region),
                t(kind_str(e.kind)),
                t(e.disease_code.clone().unwrap_or_default()),
                t(e.start_date.to_string()),
                ot(e.end_date.map(|d| d.to_string())),
                t(json(&e.diagnoses)?),
                t(e.physician_code.clone().unwrap_or_default()),
                t(e.status.as_str()),
                t(&e.open_ref),
                t(&e.opened_by),
                t(&e.opened_role),
                t(at),
                t(at),
            ],
        )
        .await?;
        Ok(n > 0)
    }

    /// An encounter by id.
    pub async fn care_encounter(&self, id: &str) -> Result<Option<EncounterRow>, StoreError> {
        one_encounter(self.db(), "encounter_id = ?", vec![t(id)], "").await
    }

    /// An encounter by id, locked for this transaction (every step of one encounter is
    /// serialised on its row).
    pub async fn lock_care_encounter(
        &self,
        txn: &DatabaseTransaction,
        id: &str,
    ) -> Result<Option<EncounterRow>, StoreError> {
        one_encounter(txn, "encounter_id = ?", vec![t(id)], self.for_update()).await
    }

    /// An encounter by the institution's number.
    pub async fn care_encounter_by_no(
        &self,
        institution: &str,
        encounter_no: &str,
    ) -> Result<Option<EncounterRow>, StoreError> {
        one_encounter(
            self.db(),
            "institution_code = ? AND encounter_no = ?",
            vec![t(institution), t(encounter_no)],
            "",
        )
        .await
    }

    /// The encounter a request of the institution opened.
    pub async fn care_encounter_opened_by(
        &self,
        institution: &str,
        request_ref: &str,
    ) -> Result<Option<EncounterRow>, StoreError> {
        one_encounter(
            self.db(),
            "institution_code = ? AND open_ref = ?",
            vec![t(institution), t(request_ref)],
            "",
        )
        .await
    }

    /// Writes an encounter's changeable facts back.
    pub async fn update_care_encounter(
        txn: &DatabaseTransaction,
        e: &EncounterRow,
        at: &str,
    ) -> Result<(), StoreError> {
        sql::exec(
            txn,
            "UPDATE care_encounters SET disease_code = ?, end_date = ?, diagnoses_json = ?, physician_code = ?, status = ?, updated_at = ? WHERE encounter_id = ?",
            vec![
                t(e.disease_code.clone().unwrap_or_default()),
                ot(e.end_date.map(|d| d.to_string())),
                t(json(&e.diagnoses)?),
                t(e.physician_code.clone().unwrap_or_default()),
                t(e.status.as_str()),
                t(at),
                t(&e.encounter_id),
            ],
        )
        .await?;
        Ok(())
    }

    /// An encounter's fee lines in upload order, cancelled ones included.
    pub async fn care_fee_lines<C: ConnectionTrait>(
        c: &C,
        encounter_id: &str,
    ) -> Result<Vec<FeeLineRow>, StoreError> {
        let rows = sql::all(
            c,
            "SELECT feedetl_sn, fee_date, national_code, name, quantity, unit_price_fen, amount_fen, charge_category, days_supply, upload_ref, cancelled_at FROM care_fee_lines WHERE encounter_id = ? ORDER BY seq",
            vec![t(encounter_id)],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FeeLineRow {
                    line: FeeLine {
                        feedetl_sn: text(r, "feedetl_sn")?,
                        fee_date: date(&text(r, "fee_date")?, "fee date")?,
                        item: ClaimItem {
                            national_code: text(r, "national_code")?,
                            name: text(r, "name")?,
                            class: ItemClass::C,
                            quantity: int(r, "quantity")?,
                            unit_price: Fen(int(r, "unit_price_fen")?),
                            amount: Fen(int(r, "amount_fen")?),
                            payment_standard: None,
                            preselfpay_share: None,
                        },
                        days_supply: opt_int32(r, "days_supply")?
                            .and_then(|d| u32::try_from(d).ok()),
                    },
                    charge_category: text(r, "charge_category")?,
                    upload_ref: text(r, "upload_ref")?,
                    cancelled: opt_text(r, "cancelled_at")?.is_some(),
                })
            })
            .collect()
    }

    /// Appends fee lines after the `after` lines the encounter has.
    pub async fn insert_care_fee_lines(
        txn: &DatabaseTransaction,
        encounter_id: &str,
        after: usize,
        lines: &[(FeeLine, String)],
        upload_ref: &str,
    ) -> Result<(), StoreError> {
        let rows = lines
            .iter()
            .enumerate()
            .map(|(n, (l, category))| {
                vec![
                    t(encounter_id),
                    t(&l.feedetl_sn),
                    i4(i32::try_from(after + n).unwrap_or(i32::MAX)),
                    t(l.fee_date.to_string()),
                    t(&l.item.national_code),
                    t(&l.item.name),
                    i(l.item.quantity),
                    i(l.item.unit_price.0),
                    i(l.item.amount.0),
                    t(category),
                    sql::oi(l.days_supply.map(i64::from)),
                    t(upload_ref),
                ]
            })
            .collect();
        insert_rows(
            txn,
            "care_fee_lines",
            &[
                "encounter_id",
                "feedetl_sn",
                "seq",
                "fee_date",
                "national_code",
                "name",
                "quantity",
                "unit_price_fen",
                "amount_fen",
                "charge_category",
                "days_supply",
                "upload_ref",
            ],
            rows,
        )
        .await?;
        Ok(())
    }

    /// Cancels the encounter's uncancelled lines among `sns` (every one when `None`), or those
    /// uploaded by `upload_ref`; the number cancelled.
    pub async fn cancel_care_fee_lines(
        txn: &DatabaseTransaction,
        encounter_id: &str,
        which: LinesToCancel<'_>,
        at: &str,
    ) -> Result<u64, StoreError> {
        let base = "UPDATE care_fee_lines SET cancelled_at = ? WHERE encounter_id = ? AND cancelled_at IS NULL";
        let mut n = 0;
        match which {
            LinesToCancel::All => {
                n += sql::exec(txn, base, vec![t(at), t(encounter_id)]).await?;
            }
            LinesToCancel::Numbers(sns) => {
                for sn in sns {
                    n += sql::exec(
                        txn,
                        &format!("{base} AND feedetl_sn = ?"),
                        vec![t(at), t(encounter_id), t(sn)],
                    )
                    .await?;
                }
            }
            LinesToCancel::UploadedBy(r) => {
                n += sql::exec(
                    txn,
                    &format!("{base} AND upload_ref = ?"),
                    vec![t(at), t(encounter_id), t(r)],
                )
                .await?;
            }
        }
        Ok(n)
    }

    /// The encounter of the institution whose lines a request uploaded.
    pub async fn care_encounter_uploaded_by(
        &self,
        institution: &str,
        request_ref: &str,
    ) -> Result<Option<EncounterRow>, StoreError> {
        one_encounter(
            self.db(),
            "institution_code = ? AND encounter_id IN (SELECT encounter_id FROM care_fee_lines WHERE upload_ref = ?)",
            vec![t(institution), t(request_ref)],
            "",
        )
        .await
    }

    /// The claims settled from an encounter, oldest first.
    pub async fn care_settlements<C: ConnectionTrait>(
        c: &C,
        encounter_id: &str,
    ) -> Result<Vec<CareSettlementRow>, StoreError> {
        let rows = sql::all(
            c,
            "SELECT claim_id, encounter_id, seq, request_ref FROM care_settlements WHERE encounter_id = ? ORDER BY seq",
            vec![t(encounter_id)],
        )
        .await?;
        rows.iter().map(settlement_row).collect()
    }

    /// The claim a request of the institution settled.
    pub async fn care_settlement_by_ref(
        &self,
        institution: &str,
        request_ref: &str,
    ) -> Result<Option<CareSettlementRow>, StoreError> {
        sql::one(
            self.db(),
            "SELECT claim_id, encounter_id, seq, request_ref FROM care_settlements WHERE institution_code = ? AND request_ref = ?",
            vec![t(institution), t(request_ref)],
        )
        .await?
        .as_ref()
        .map(settlement_row)
        .transpose()
    }

    /// Records that `claim_id` was settled from the encounter as its `seq`th settlement.
    pub async fn insert_care_settlement(
        txn: &DatabaseTransaction,
        s: &CareSettlementRow,
        institution: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sql::exec(
            txn,
            "INSERT INTO care_settlements (claim_id, encounter_id, seq, institution_code, request_ref, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                t(&s.claim_id),
                t(&s.encounter_id),
                i4(s.seq),
                t(institution),
                t(&s.request_ref),
                t(at),
            ],
        )
        .await?;
        Ok(())
    }

    /// What an institution's reversal by reference undid, if it ran.
    pub async fn undone(
        &self,
        institution: &str,
        reversal_ref: &str,
    ) -> Result<Option<UndoneRow>, StoreError> {
        let Some(r) = sql::one(
            self.db(),
            "SELECT request_ref, undone, encounter_id, claim_id, refund_json FROM care_undone WHERE institution_code = ? AND reversal_ref = ?",
            vec![t(institution), t(reversal_ref)],
        )
        .await?
        else {
            return Ok(None);
        };
        let refund = text(&r, "refund_json")?;
        Ok(Some(UndoneRow {
            request_ref: text(&r, "request_ref")?,
            undone: text(&r, "undone")?,
            encounter_id: text(&r, "encounter_id")?,
            claim_id: text(&r, "claim_id")?,
            refund: if refund.is_empty() {
                None
            } else {
                Some(parse(&refund, "refund")?)
            },
        }))
    }

    /// Records a reversal by reference (in the transaction that undid it); false when the
    /// reversal reference was used already (a concurrent retry).
    pub async fn insert_undone(
        txn: &DatabaseTransaction,
        institution: &str,
        reversal_ref: &str,
        u: &UndoneRow,
        at: &str,
    ) -> Result<bool, StoreError> {
        let refund = match &u.refund {
            Some(b) => json(b)?,
            None => String::new(),
        };
        let n = sql::exec(
            txn,
            "INSERT INTO care_undone (institution_code, reversal_ref, request_ref, undone, encounter_id, claim_id, refund_json, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (institution_code, reversal_ref) DO NOTHING",
            vec![
                t(institution),
                t(reversal_ref),
                t(&u.request_ref),
                t(&u.undone),
                t(&u.encounter_id),
                t(&u.claim_id),
                t(refund),
                t(at),
            ],
        )
        .await?;
        Ok(n > 0)
    }

    /// The ID number and insured region of a person the institution has an encounter or a
    /// claim of (the newest), found by `key`.
    pub async fn patient_of(
        &self,
        institution: &str,
        key: PatientKey<'_>,
    ) -> Result<Option<(String, String)>, StoreError> {
        let (column, value) = match key {
            PatientKey::PersonId(p) => ("person_id", p),
            PatientKey::IdNumber(n) => ("id_number", n),
        };
        for (table, newest) in [("care_encounters", "opened_at"), ("claims", "settled_at")] {
            let q = format!(
                "SELECT id_number, insured_region FROM {table} WHERE {column} = ? AND institution_code = ? ORDER BY {newest} DESC LIMIT 1"
            );
            if let Some(r) = sql::one(self.db(), &q, vec![t(value), t(institution)]).await? {
                return Ok(Some((text(&r, "id_number")?, text(&r, "insured_region")?)));
            }
        }
        Ok(None)
    }
}

/// How a patient is named.
#[derive(Debug, Clone, Copy)]
pub enum PatientKey<'a> {
    /// Enrollment's person id.
    PersonId(&'a str),
    /// The clear ID number.
    IdNumber(&'a str),
}

/// Which lines a cancellation takes.
#[derive(Debug, Clone, Copy)]
pub enum LinesToCancel<'a> {
    /// Every line.
    All,
    /// The lines of these numbers.
    Numbers(&'a [String]),
    /// The lines one request uploaded.
    UploadedBy(&'a str),
}

fn settlement_row(r: &sea_orm::QueryResult) -> Result<CareSettlementRow, StoreError> {
    Ok(CareSettlementRow {
        claim_id: text(r, "claim_id")?,
        encounter_id: text(r, "encounter_id")?,
        seq: int32(r, "seq")?,
        request_ref: text(r, "request_ref")?,
    })
}

async fn one_encounter<C: ConnectionTrait>(
    c: &C,
    filter: &str,
    values: Vec<sea_orm::Value>,
    suffix: &str,
) -> Result<Option<EncounterRow>, StoreError> {
    sql::one(
        c,
        &format!("SELECT {ENCOUNTER_COLUMNS} FROM care_encounters WHERE {filter}{suffix}"),
        values,
    )
    .await?
    .as_ref()
    .map(encounter_row)
    .transpose()
}
