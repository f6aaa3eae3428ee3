//! The double-entry fund ledger (per fund line a debit of `fund:<fund_pay_type>` and a credit of
//! `payable:<institution>`; reversals post the opposite) and the record of reconciliation runs.

use super::{Actor, Store, StoreError, fund_lines, new_id, now, scheme_str};
use crate::domain::{Breakdown, Settlement};
use sea_orm::DatabaseTransaction;
use yibao_runtime::sql::{self, i, insert_rows, t};

impl Store {
    /// Posts `sign × breakdown` to the ledger: per fund line, the fund account against the
    /// institution's payable, with equal debit and credit.
    pub async fn post_ledger(
        txn: &DatabaseTransaction,
        claim_id: &str,
        month: &str,
        s: &Settlement,
        institution: &str,
        b: &Breakdown,
        sign: i64,
    ) -> Result<(), StoreError> {
        let posting = new_id();
        let at = now();
        let mut rows = Vec::new();
        for (code, amount) in fund_lines(s.scheme, b) {
            let overflow = || StoreError::Overflow(format!("the posting of claim {claim_id}"));
            let amount = amount.checked_mul(sign).ok_or_else(overflow)?;
            let (debit, credit) = if amount >= 0 {
                (amount, 0)
            } else {
                (0, amount.checked_neg().ok_or_else(overflow)?)
            };
            for (account, d, c) in [
                (format!("fund:{code}"), debit, credit),
                (format!("payable:{institution}"), credit, debit),
            ] {
                rows.push(vec![
                    t(new_id()),
                    t(&posting),
                    t(claim_id),
                    t(month),
                    t(s.insured_region.to_string()),
                    t(institution),
                    t(scheme_str(s.scheme)),
                    t(code),
                    t(account),
                    i(d),
                    i(c),
                    t(&at),
                ]);
            }
        }
        insert_rows(
            txn,
            "ledger_lines",
            &[
                "id",
                "posting_id",
                "claim_id",
                "month",
                "region_code",
                "institution_code",
                "scheme",
                "fund_pay_type",
                "account",
                "debit_fen",
                "credit_fen",
                "created_at",
            ],
            rows,
        )
        .await?;
        Ok(())
    }

    /// Records a reconciliation run (ledger or insurer) with its summary.
    pub async fn record_run(
        &self,
        id: &str,
        kind: &str,
        scope: &str,
        month: &str,
        result: &serde_json::Value,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        sql::exec(
            &*txn,
            "INSERT INTO reconciliation_runs (id, kind, scope, month, result_json, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![t(id), t(kind), t(scope), t(month), t(result.to_string()), t(&actor.subject), t(now())],
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
