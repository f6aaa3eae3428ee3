//! Encounters (the idempotency key: institution + encounter number → current claim), claims
//! with their items and the explanation of every amount, and reversals.

use super::catalogue::class_str;
use super::{Actor, Store, StoreError, json, like_prefix, limit, now, parse};
use crate::domain::{
    Breakdown, Claim, ClaimItem, CrossRegionFiling, EligibilitySnapshot, EncounterKind,
    HospitalGrade, InstitutionTier, Scheme, Settlement,
};
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde::{Deserialize, Serialize};
use yibao_core::{IdNumber, InstitutionCode, RegionCode};
use yibao_runtime::sql::{self, i, i4, insert_rows, int, oi, opt_text, ot, t, text};

/// State of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStatus {
    /// Settled.
    Settled,
    /// Some items refunded.
    PartiallyRefunded,
    /// Fully reversed.
    Reversed,
    /// Replaced by a corrected claim.
    Superseded,
}

impl ClaimStatus {
    /// Text form in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Settled => "settled",
            ClaimStatus::PartiallyRefunded => "partially_refunded",
            ClaimStatus::Reversed => "reversed",
            ClaimStatus::Superseded => "superseded",
        }
    }

    /// Parses the text form.
    pub fn parse(s: &str) -> Option<ClaimStatus> {
        [
            ClaimStatus::Settled,
            ClaimStatus::PartiallyRefunded,
            ClaimStatus::Reversed,
            ClaimStatus::Superseded,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// True while the claim can still be reversed, refunded or re-settled.
    pub fn open(self) -> bool {
        matches!(self, ClaimStatus::Settled | ClaimStatus::PartiallyRefunded)
    }
}

/// Text form of a scheme.
pub fn scheme_str(s: Scheme) -> &'static str {
    match s {
        Scheme::Employee => "employee",
        Scheme::Resident => "resident",
    }
}

/// Parses a scheme's text form.
pub fn scheme_of(s: &str) -> Option<Scheme> {
    [Scheme::Employee, Scheme::Resident]
        .into_iter()
        .find(|x| scheme_str(*x) == s)
}

/// Text form of an encounter kind.
pub fn kind_str(k: EncounterKind) -> &'static str {
    match k {
        EncounterKind::Inpatient => "inpatient",
        EncounterKind::GeneralOutpatient => "general_outpatient",
        EncounterKind::OutpatientChronic => "outpatient_chronic",
        EncounterKind::Maternity => "maternity",
        EncounterKind::Pharmacy => "pharmacy",
    }
}

/// Parses an encounter kind's text form.
pub fn kind_of(s: &str) -> Option<EncounterKind> {
    [
        EncounterKind::Inpatient,
        EncounterKind::GeneralOutpatient,
        EncounterKind::OutpatientChronic,
        EncounterKind::Maternity,
        EncounterKind::Pharmacy,
    ]
    .into_iter()
    .find(|k| kind_str(*k) == s)
}

/// A claim as stored: the priced claim the engine settled plus what the request carried
/// besides it. Serialised into `claims.claim_json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredClaim {
    /// Institution.
    pub institution_code: String,
    /// Encounter number.
    pub encounter_no: String,
    /// ID number (clear; never logged, masked in responses).
    pub id_number: String,
    /// Insured region as submitted and verified.
    pub insured_region_code: String,
    /// Kind.
    pub kind: EncounterKind,
    /// Disease code of a chronic claim.
    pub disease_code: Option<String>,
    /// Grade.
    pub grade: HospitalGrade,
    /// Tier.
    pub tier: InstitutionTier,
    /// Start date.
    pub start_date: NaiveDate,
    /// End date.
    pub end_date: NaiveDate,
    /// Diagnoses.
    pub diagnoses: Vec<String>,
    /// Items as priced (class and payment standard from the catalogue).
    pub items: Vec<ClaimItem>,
    /// Cross-region filing.
    pub cross_region_filing: Option<CrossRegionFiling>,
    /// Indexes of refunded items, in the order refunded.
    #[serde(default)]
    pub refunded: Vec<usize>,
}

impl StoredClaim {
    /// Captures a parsed claim.
    pub fn of(
        claim: &Claim,
        insured_region: &RegionCode,
        filing: Option<CrossRegionFiling>,
    ) -> StoredClaim {
        StoredClaim {
            institution_code: claim.institution_code.as_str().to_string(),
            encounter_no: claim.encounter_no.clone(),
            id_number: claim.id_number.expose().to_string(),
            insured_region_code: insured_region.to_string(),
            kind: claim.kind,
            disease_code: claim.disease_code.clone(),
            grade: claim.grade,
            tier: claim.tier,
            start_date: claim.start_date,
            end_date: claim.end_date,
            diagnoses: claim.diagnoses.clone(),
            items: claim.items.clone(),
            cross_region_filing: filing,
            refunded: Vec::new(),
        }
    }

    /// The domain claim with every item.
    pub fn claim(&self) -> Result<Claim, StoreError> {
        Ok(Claim {
            institution_code: InstitutionCode::parse(&self.institution_code)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            encounter_no: self.encounter_no.clone(),
            id_number: IdNumber::parse(&self.id_number)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            kind: self.kind,
            disease_code: self.disease_code.clone(),
            grade: self.grade,
            tier: self.tier,
            start_date: self.start_date,
            end_date: self.end_date,
            diagnoses: self.diagnoses.clone(),
            items: self.items.clone(),
        })
    }

    /// The claim with the items not yet refunded, and their original indexes.
    pub fn remaining(&self) -> Result<(Claim, Vec<usize>), StoreError> {
        let mut c = self.claim()?;
        let keep: Vec<usize> = (0..self.items.len())
            .filter(|i| !self.refunded.contains(i))
            .collect();
        c.items = keep.iter().map(|i| self.items[*i].clone()).collect();
        Ok((c, keep))
    }
}

/// A stored reversal.
#[derive(Debug, Clone)]
pub struct ReversalRow {
    /// Institution's reversal number.
    pub reversal_no: String,
    /// Refunded items; empty for a full reversal.
    pub item_indexes: Vec<usize>,
    /// Amounts given back.
    pub refund: Breakdown,
    /// Reason.
    pub reason: String,
    /// Who.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
}

/// A stored claim with its history.
#[derive(Debug, Clone)]
pub struct ClaimRow {
    /// Claim id.
    pub claim_id: String,
    /// The claim.
    pub stored: StoredClaim,
    /// Current settlement.
    pub settlement: Settlement,
    /// Status.
    pub status: ClaimStatus,
    /// Reversals, oldest first.
    pub reversals: Vec<ReversalRow>,
    /// Replacement.
    pub superseded_by: Option<String>,
    /// Corrected claim.
    pub corrects: Option<String>,
    /// Settled by.
    pub settled_by: String,
    /// Role.
    pub settled_role: String,
    /// When.
    pub settled_at: String,
}

/// A line of a claim list.
#[derive(Debug, Clone)]
pub struct ClaimSummaryRow {
    /// Claim id.
    pub claim_id: String,
    /// When settled (with the claim id, the key of the list's order).
    pub settled_at: String,
    /// Institution.
    pub institution_code: String,
    /// Encounter.
    pub encounter_no: String,
    /// Kind.
    pub kind: EncounterKind,
    /// Settled on.
    pub settled_on: String,
    /// Status.
    pub status: ClaimStatus,
    /// Scheme.
    pub scheme: Scheme,
    /// Total.
    pub medfee_sumamt: i64,
    /// Funds.
    pub fund_pay_sumamt: i64,
    /// Person.
    pub psn_part_amt: i64,
    /// Insurers.
    pub insurer_pay: i64,
}

/// Filter of a claim list.
#[derive(Debug, Clone, Default)]
pub struct ClaimFilter {
    /// Institution (exact).
    pub institution_code: Option<String>,
    /// Insured region prefix.
    pub region_prefix: Option<String>,
    /// Month `YYYY-MM` of the settlement date.
    pub month: Option<String>,
    /// Status.
    pub status: Option<ClaimStatus>,
}

/// A claim to insert: the claim as stored, who the person is, the eligibility snapshot and
/// the settlement.
#[derive(Debug, Clone, Copy)]
pub struct NewClaim<'a> {
    /// Claim id.
    pub claim_id: &'a str,
    /// The claim as priced.
    pub stored: &'a StoredClaim,
    /// Enrollment's person id.
    pub person_id: &'a str,
    /// Eligibility snapshot.
    pub eligibility: &'a EligibilitySnapshot,
    /// The settlement.
    pub settlement: &'a Settlement,
    /// Month of the settlement (`YYYY-MM` of its date).
    pub month: &'a str,
    /// Who settled.
    pub actor: &'a Actor,
    /// The claim this one corrects (a re-settlement).
    pub corrects: Option<&'a str>,
}

pub fn rule_name(rule: &crate::domain::Rule) -> String {
    match serde_json::to_value(rule) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(m)) => m
            .iter()
            .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
        _ => "unknown".into(),
    }
}

impl Store {
    /// Claims the encounter for `claim_id`; false when it is taken already (or by a concurrent
    /// settlement that commits while this insert waits on the key).
    pub async fn claim_encounter(
        txn: &DatabaseTransaction,
        institution: &str,
        encounter_no: &str,
        claim_id: &str,
    ) -> Result<bool, StoreError> {
        let claimed = sql::exec(
            txn,
            "INSERT INTO encounters (institution_code, encounter_no, claim_id) VALUES (?, ?, ?) ON CONFLICT (institution_code, encounter_no) DO NOTHING",
            vec![t(institution), t(encounter_no), t(claim_id)],
        )
        .await?;
        Ok(claimed > 0)
    }

    /// Points the encounter at its corrected claim.
    pub async fn point_encounter(
        txn: &DatabaseTransaction,
        institution: &str,
        encounter_no: &str,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        sql::exec(
            txn,
            "UPDATE encounters SET claim_id = ? WHERE institution_code = ? AND encounter_no = ?",
            vec![t(claim_id), t(institution), t(encounter_no)],
        )
        .await?;
        Ok(())
    }

    async fn encounter_claim<C: ConnectionTrait>(
        c: &C,
        institution: &str,
        encounter_no: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sql::one(
            c,
            "SELECT claim_id FROM encounters WHERE institution_code = ? AND encounter_no = ?",
            vec![t(institution), t(encounter_no)],
        )
        .await?
        .map(|r| text(&r, "claim_id"))
        .transpose()?)
    }

    /// The current claim id and settlement of an encounter, if it was settled.
    pub async fn settled_encounter(
        &self,
        institution: &str,
        encounter_no: &str,
    ) -> Result<Option<(String, Settlement)>, StoreError> {
        match Self::encounter_claim(self.db(), institution, encounter_no).await? {
            Some(id) => {
                let row = self.claim(&id).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("encounter points at missing claim {id}"))
                })?;
                Ok(Some((id, row.settlement)))
            }
            None => Ok(None),
        }
    }

    /// Inserts a settled claim: its row, its items with their split and the explanation of
    /// every amount (revision 0).
    pub async fn insert_claim(
        txn: &DatabaseTransaction,
        c: &NewClaim<'_>,
    ) -> Result<(), StoreError> {
        let s = c.settlement;
        let b = &s.breakdown;
        let st = c.stored;
        let month = c.month;
        sql::exec(
            txn,
            "INSERT INTO claims (claim_id, institution_code, encounter_no, id_number, person_id, insured_region, treatment_region, kind, scheme, year, settled_on, month, status, medfee_sumamt_fen, fund_pay_sumamt_fen, psn_part_amt_fen, insurer_pay_fen, claim_json, eligibility_json, settlement_json, current_json, superseded_by, corrects, settled_by, settled_role, settled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?)",
            vec![
                t(c.claim_id),
                t(&st.institution_code),
                t(&st.encounter_no),
                t(&st.id_number),
                t(c.person_id),
                t(s.insured_region.to_string()),
                t(s.treatment_region.to_string()),
                t(kind_str(s.kind)),
                t(scheme_str(s.scheme)),
                i4(s.year),
                t(s.settled_on.to_string()),
                t(month),
                t(ClaimStatus::Settled.as_str()),
                i(b.medfee_sumamt.0),
                i(b.fund_pay_sumamt.0),
                i(b.psn_part_amt.0),
                i(b.insurer_pay.0),
                t(json(st)?),
                t(json(c.eligibility)?),
                t(json(s)?),
                ot(c.corrects.map(str::to_string)),
                t(&c.actor.subject),
                t(&c.actor.role),
                t(now()),
            ],
        )
        .await?;
        let items = st
            .items
            .iter()
            .zip(&s.items)
            .enumerate()
            .map(|(n, (it, sp))| {
                vec![
                    t(c.claim_id),
                    i4(i32::try_from(n).unwrap_or(i32::MAX)),
                    t(&it.national_code),
                    t(&it.name),
                    t(class_str(it.class)),
                    i(it.quantity),
                    i(it.unit_price.0),
                    i(it.amount.0),
                    oi(it.payment_standard.map(|f| f.0)),
                    i(sp.fulamt_ownpay_amt.0),
                    i(sp.overlmt_selfpay.0),
                    i(sp.preselfpay_amt.0),
                    i(sp.inscp_scp_amt.0),
                ]
            })
            .collect();
        insert_rows(
            txn,
            "claim_items",
            &[
                "claim_id",
                "item_index",
                "national_code",
                "name",
                "item_class",
                "quantity",
                "unit_price_fen",
                "amount_fen",
                "payment_standard_fen",
                "fulamt_ownpay_amt_fen",
                "overlmt_selfpay_fen",
                "preselfpay_amt_fen",
                "inscp_scp_amt_fen",
            ],
            items,
        )
        .await?;
        Self::insert_explanations(txn, c.claim_id, 0, s).await
    }

    /// Inserts the explanations of a settlement under `revision` (0, then one per refund).
    pub async fn insert_explanations(
        txn: &DatabaseTransaction,
        claim_id: &str,
        revision: i32,
        s: &Settlement,
    ) -> Result<(), StoreError> {
        let rows = s
            .explanations
            .iter()
            .enumerate()
            .map(|(n, e)| {
                vec![
                    t(claim_id),
                    i4(revision),
                    i4(i32::try_from(n).unwrap_or(i32::MAX)),
                    t(e.field.name()),
                    t(rule_name(&e.rule)),
                    i(e.amount.0),
                    i(e.base.0),
                    i(e.less.0),
                    oi(e.rate.map(|r| i64::from(r.0))),
                    oi(e.limit.map(|l| l.0)),
                    t(e.words()),
                ]
            })
            .collect();
        insert_rows(
            txn,
            "breakdown_lines",
            &[
                "claim_id",
                "revision",
                "seq",
                "field",
                "rule",
                "amount_fen",
                "base_fen",
                "less_fen",
                "rate_bp",
                "limit_fen",
                "text",
            ],
            rows,
        )
        .await?;
        Ok(())
    }

    /// A claim with its history.
    pub async fn claim(&self, claim_id: &str) -> Result<Option<ClaimRow>, StoreError> {
        let Some(mut row) = self.claim_in(self.db(), claim_id).await? else {
            return Ok(None);
        };
        let mut reversals = Vec::new();
        for x in sql::all(self.db(), "SELECT reversal_no, item_indexes, refund_json, reason, actor, role, at FROM reversals WHERE claim_id = ? ORDER BY at, reversal_no", vec![t(claim_id)]).await? {
            reversals.push(ReversalRow {
                reversal_no: text(&x, "reversal_no")?,
                item_indexes: parse(&text(&x, "item_indexes")?, "item indexes")?,
                refund: parse(&text(&x, "refund_json")?, "refund")?,
                reason: text(&x, "reason")?,
                actor: text(&x, "actor")?,
                role: text(&x, "role")?,
                at: text(&x, "at")?,
            });
        }
        row.reversals = reversals;
        Ok(Some(row))
    }

    /// Claims by filter, newest first: at most `fetch` rows after the key `after`
    /// (settled_at, claim_id) of the previous page.
    pub async fn list_claims(
        &self,
        f: &ClaimFilter,
        after: Option<(&str, &str)>,
        fetch: u64,
    ) -> Result<Vec<ClaimSummaryRow>, StoreError> {
        let mut q = String::from(
            "SELECT claim_id, settled_at, institution_code, encounter_no, kind, settled_on, status, scheme, medfee_sumamt_fen, fund_pay_sumamt_fen, psn_part_amt_fen, insurer_pay_fen FROM claims WHERE 1 = 1",
        );
        let mut v = Vec::new();
        if let Some(x) = &f.institution_code {
            q.push_str(" AND institution_code = ?");
            v.push(t(x));
        }
        if let Some(x) = &f.region_prefix {
            q.push_str(" AND insured_region LIKE ?");
            v.push(t(like_prefix(x)));
        }
        if let Some(x) = &f.month {
            q.push_str(" AND month = ?");
            v.push(t(x));
        }
        if let Some(x) = f.status {
            q.push_str(" AND status = ?");
            v.push(t(x.as_str()));
        }
        if let Some((at, id)) = after {
            q.push_str(" AND (settled_at < ? OR (settled_at = ? AND claim_id < ?))");
            v.extend([t(at), t(at), t(id)]);
        }
        q.push_str(" ORDER BY settled_at DESC, claim_id DESC LIMIT ?");
        v.push(limit(fetch));
        let mut out = Vec::new();
        for r in sql::all(self.db(), &q, v).await? {
            let (kind, status, scheme) =
                (text(&r, "kind")?, text(&r, "status")?, text(&r, "scheme")?);
            out.push(ClaimSummaryRow {
                claim_id: text(&r, "claim_id")?,
                settled_at: text(&r, "settled_at")?,
                institution_code: text(&r, "institution_code")?,
                encounter_no: text(&r, "encounter_no")?,
                kind: kind_of(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("kind `{kind}`")))?,
                settled_on: text(&r, "settled_on")?,
                status: ClaimStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("status `{status}`")))?,
                scheme: scheme_of(&scheme)
                    .ok_or_else(|| StoreError::Corrupt(format!("scheme `{scheme}`")))?,
                medfee_sumamt: int(&r, "medfee_sumamt_fen")?,
                fund_pay_sumamt: int(&r, "fund_pay_sumamt_fen")?,
                psn_part_amt: int(&r, "psn_part_amt_fen")?,
                insurer_pay: int(&r, "insurer_pay_fen")?,
            });
        }
        Ok(out)
    }

    /// Locks a claim for this transaction: the row, enrollment's person id and the
    /// eligibility snapshot it was settled with.
    pub async fn lock_claim(
        &self,
        txn: &DatabaseTransaction,
        claim_id: &str,
    ) -> Result<Option<(ClaimRow, String, EligibilitySnapshot)>, StoreError> {
        let q = format!(
            "SELECT person_id, eligibility_json FROM claims WHERE claim_id = ?{}",
            self.for_update()
        );
        let Some(r) = sql::one(txn, &q, vec![t(claim_id)]).await? else {
            return Ok(None);
        };
        let person_id = text(&r, "person_id")?;
        let eligibility: EligibilitySnapshot =
            parse(&text(&r, "eligibility_json")?, "eligibility")?;
        // Read the rest through the transaction's snapshot: the row is locked now.
        Ok(self
            .claim_in(txn, claim_id)
            .await?
            .map(|row| (row, person_id, eligibility)))
    }

    async fn claim_in<C: ConnectionTrait>(
        &self,
        c: &C,
        claim_id: &str,
    ) -> Result<Option<ClaimRow>, StoreError> {
        let Some(r) = sql::one(
            c,
            "SELECT claim_id, status, claim_json, settlement_json, current_json, superseded_by, corrects, settled_by, settled_role, settled_at FROM claims WHERE claim_id = ?",
            vec![t(claim_id)],
        )
        .await?
        else {
            return Ok(None);
        };
        let status = text(&r, "status")?;
        let settlement: Settlement = match opt_text(&r, "current_json")? {
            Some(c) => parse(&c, "settlement")?,
            None => parse(&text(&r, "settlement_json")?, "settlement")?,
        };
        Ok(Some(ClaimRow {
            claim_id: text(&r, "claim_id")?,
            stored: parse(&text(&r, "claim_json")?, "claim")?,
            settlement,
            status: ClaimStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("status `{status}`")))?,
            reversals: Vec::new(),
            superseded_by: opt_text(&r, "superseded_by")?,
            corrects: opt_text(&r, "corrects")?,
            settled_by: text(&r, "settled_by")?,
            settled_role: text(&r, "settled_role")?,
            settled_at: text(&r, "settled_at")?,
        }))
    }
}
