//! The double-entry fund ledger (per fund line a debit of `fund:<fund_pay_type>` and a credit of
//! `payable:<institution>`; reversals post the opposite) and the record of reconciliation runs.

use super::{Actor, Store, StoreError, like_prefix, new_id, now, scheme_str};
use crate::domain::{Breakdown, Scheme, Settlement};
use sea_orm::DatabaseTransaction;
use std::collections::BTreeMap;
use yibao_runtime::sql::{self, i, insert_rows, int, t, text};

/// The fund (and insurer) lines of a breakdown as `(fund_pay_type, fen)`, zeros left out.
/// The commercial line (990201) is a payer line, not a fund; the ledger carries it too.
pub fn fund_lines(scheme: Scheme, b: &Breakdown) -> Vec<(&'static str, i64)> {
    let pool = match scheme {
        Scheme::Employee => "310100",
        Scheme::Resident => "390100",
    };
    [
        (pool, b.hifp_pay.0),
        ("320100", b.cvlserv_pay.0),
        ("340100", b.hifes_pay.0),
        ("330100", b.hifob_pay.0),
        ("390200", b.hifmi_pay.0),
        ("610100", b.maf_pay.0),
        ("350100", b.hifdm_pay.0),
        ("990101", b.backstop_pay.0),
        ("990102", b.supplement_pay.0),
        ("990201", b.insurer_pay.0),
    ]
    .into_iter()
    .filter(|(_, v)| *v != 0)
    .collect()
}

/// Debits and credits of a region's month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerBalance {
    /// Total debits.
    pub debits: i64,
    /// Total credits.
    pub credits: i64,
}

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
            let amount = amount * sign;
            let (debit, credit) = if amount >= 0 {
                (amount, 0)
            } else {
                (0, -amount)
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

    /// The ledger's net of every fund line per claim in a region prefix's month, keyed by (claim id,
    /// fund_pay_type).
    pub async fn ledger_by_claim(
        &self,
        region: &str,
        month: &str,
    ) -> Result<BTreeMap<(String, String), i64>, StoreError> {
        let region_like = like_prefix(region);
        let mut recorded: BTreeMap<(String, String), i64> = BTreeMap::new();
        for r in sql::all(
            self.db(),
            "SELECT claim_id, fund_pay_type, CAST(SUM(debit_fen - credit_fen) AS BIGINT) AS net FROM ledger_lines WHERE region_code LIKE ? AND month = ? AND account LIKE 'fund:%' GROUP BY claim_id, fund_pay_type",
            vec![t(&region_like), t(month)],
        )
        .await?
        {
            recorded.insert((text(&r, "claim_id")?, text(&r, "fund_pay_type")?), int(&r, "net")?);
        }
        Ok(recorded)
    }

    /// Total debits and credits of a region's month (none when nothing was posted).
    pub async fn ledger_balance(
        &self,
        region: &str,
        month: &str,
    ) -> Result<Option<LedgerBalance>, StoreError> {
        let region_like = like_prefix(region);
        let balance = sql::one(
            self.db(),
            "SELECT CAST(SUM(debit_fen) AS BIGINT) AS d, CAST(SUM(credit_fen) AS BIGINT) AS c FROM ledger_lines WHERE region_code LIKE ? AND month = ?",
            vec![t(&region_like), t(month)],
        )
        .await?;
        match &balance {
            Some(r) => Ok(Some(LedgerBalance {
                debits: int(r, "d")?,
                credits: int(r, "c")?,
            })),
            None => Ok(None),
        }
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
