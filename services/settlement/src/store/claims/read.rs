//! Reads: one claim with its history, the claim list, a claim locked for an update.

use super::{ClaimFilter, ClaimRow, ClaimStatus, ClaimSummaryRow, ReversalRow, kind_of, scheme_of};
use crate::domain::{EligibilitySnapshot, Settlement};
use crate::store::{Store, StoreError, like_prefix, limit, parse};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use yibao_runtime::sql::{self, int, opt_text, t, text};

impl Store {
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
