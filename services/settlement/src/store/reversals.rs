//! Reversals of claims (full reversals, refunds of items, the reversal half of a
//! re-settlement) and the claim's state after them.

use super::{Actor, ClaimStatus, Store, StoreError, StoredClaim, json, parse};
use crate::domain::{Breakdown, Settlement};
use sea_orm::DatabaseTransaction;
use yibao_runtime::sql::{self, i, ot, t, text};

impl Store {
    /// The claim and refund of a reversal number already used by the institution.
    pub async fn reversal_by_no(
        txn: &DatabaseTransaction,
        institution: &str,
        reversal_no: &str,
    ) -> Result<Option<(String, Breakdown)>, StoreError> {
        match sql::one(txn, "SELECT claim_id, refund_json FROM reversals WHERE institution_code = ? AND reversal_no = ?", vec![t(institution), t(reversal_no)]).await? {
            Some(r) => Ok(Some((text(&r, "claim_id")?, parse(&text(&r, "refund_json")?, "refund")?))),
            None => Ok(None),
        }
    }

    /// Inserts a reversal row posted in `month`.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_reversal(
        txn: &DatabaseTransaction,
        claim_id: &str,
        institution: &str,
        reversal_no: &str,
        month: &str,
        items: &[usize],
        refund: &Breakdown,
        reason: &str,
        actor: &Actor,
        at: &str,
    ) -> Result<(), StoreError> {
        sql::exec(
            txn,
            "INSERT INTO reversals (claim_id, institution_code, reversal_no, month, item_indexes, refund_json, reason, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![t(claim_id), t(institution), t(reversal_no), t(month), t(json(&items)?), t(json(refund)?), t(reason), t(&actor.subject), t(&actor.role), t(at)],
        )
        .await?;
        Ok(())
    }

    /// Sets a claim's state after a reversal: status, the claim as stored (refunded items),
    /// the settlement shown now and its totals, and its replacement.
    pub async fn update_claim_state(
        txn: &DatabaseTransaction,
        claim_id: &str,
        status: ClaimStatus,
        stored: &StoredClaim,
        shown: &Settlement,
        superseded_by: Option<&str>,
    ) -> Result<(), StoreError> {
        let b = &shown.breakdown;
        sql::exec(
            txn,
            "UPDATE claims SET status = ?, claim_json = ?, current_json = ?, superseded_by = ?, medfee_sumamt_fen = ?, fund_pay_sumamt_fen = ?, psn_part_amt_fen = ?, insurer_pay_fen = ? WHERE claim_id = ?",
            vec![t(status.as_str()), t(json(stored)?), t(json(shown)?), ot(superseded_by.map(str::to_string)), i(b.medfee_sumamt.0), i(b.fund_pay_sumamt.0), i(b.psn_part_amt.0), i(b.insurer_pay.0), t(claim_id)],
        )
        .await?;
        Ok(())
    }
}
