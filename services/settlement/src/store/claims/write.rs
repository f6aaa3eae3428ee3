//! The claim row of a settled claim.

use super::{ClaimStatus, NewClaim, kind_str, lines, scheme_str};
use crate::store::{Store, StoreError, json, now};
use sea_orm::DatabaseTransaction;
use yibao_runtime::sql::{self, i, i4, ot, t};

impl Store {
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
        lines::insert_items(txn, c.claim_id, st, s).await?;
        Self::insert_explanations(txn, c.claim_id, 0, s).await
    }
}
