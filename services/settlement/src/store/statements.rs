//! An institution's month by scheme, and the fund amounts per claim that settlements and
//! reversals of a month add up to (what the ledger must show).

use super::{ClaimStatus, Store, StoreError, fund_lines, like_prefix, parse, scheme_of};
use crate::domain::{Breakdown, Scheme, Settlement};
use std::collections::BTreeMap;
use yibao_core::Fen;
use yibao_runtime::sql::{self, t, text};

/// Totals of one scheme in an institution's month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementTotals {
    /// Claims settled in the month and not fully reversed.
    pub claims: i64,
    /// Reversals and refunds posted in the month.
    pub reversals: i64,
    /// Net amounts (settled in the month less given back in the month).
    pub net: Breakdown,
}

/// `a + sign × b` for every money field of a breakdown (the rate is kept from `b`).
pub fn add_breakdown(a: &Breakdown, b: &Breakdown, sign: i64) -> Breakdown {
    let f = |x: Fen, y: Fen| Fen(x.0 + sign * y.0);
    Breakdown {
        medfee_sumamt: f(a.medfee_sumamt, b.medfee_sumamt),
        fulamt_ownpay_amt: f(a.fulamt_ownpay_amt, b.fulamt_ownpay_amt),
        overlmt_selfpay: f(a.overlmt_selfpay, b.overlmt_selfpay),
        preselfpay_amt: f(a.preselfpay_amt, b.preselfpay_amt),
        inscp_scp_amt: f(a.inscp_scp_amt, b.inscp_scp_amt),
        act_pay_dedc: f(a.act_pay_dedc, b.act_pay_dedc),
        hifp_pay: f(a.hifp_pay, b.hifp_pay),
        pool_prop_selfpay: b.pool_prop_selfpay,
        cvlserv_pay: f(a.cvlserv_pay, b.cvlserv_pay),
        hifes_pay: f(a.hifes_pay, b.hifes_pay),
        hifmi_pay: f(a.hifmi_pay, b.hifmi_pay),
        hifob_pay: f(a.hifob_pay, b.hifob_pay),
        maf_pay: f(a.maf_pay, b.maf_pay),
        hifdm_pay: f(a.hifdm_pay, b.hifdm_pay),
        oth_pay: f(a.oth_pay, b.oth_pay),
        backstop_pay: f(a.backstop_pay, b.backstop_pay),
        supplement_pay: f(a.supplement_pay, b.supplement_pay),
        fund_pay_sumamt: f(a.fund_pay_sumamt, b.fund_pay_sumamt),
        hosp_part_amt: f(a.hosp_part_amt, b.hosp_part_amt),
        psn_part_amt: f(a.psn_part_amt, b.psn_part_amt),
        insurer_pay: f(a.insurer_pay, b.insurer_pay),
        acct_pay: f(a.acct_pay, b.acct_pay),
        acct_mulaid_pay: f(a.acct_mulaid_pay, b.acct_mulaid_pay),
        psn_cash_pay: f(a.psn_cash_pay, b.psn_cash_pay),
    }
}

impl Store {
    /// Fund amounts per claim insured inside a region prefix in a month, keyed by (claim id,
    /// fund_pay_type): settlements dated in the month (their first settlement) less refunds
    /// posted in the month.
    pub async fn expected_by_claim(
        &self,
        region: &str,
        month: &str,
    ) -> Result<BTreeMap<(String, String), (Scheme, i64)>, StoreError> {
        let column = "insured_region LIKE ?";
        let value = like_prefix(region);
        let value = value.as_str();
        let mut out: BTreeMap<(String, String), (Scheme, i64)> = BTreeMap::new();
        let q = format!(
            "SELECT claim_id, scheme, settlement_json FROM claims WHERE {column} AND month = ?"
        );
        for r in sql::all(self.db(), &q, vec![t(value), t(month)]).await? {
            let scheme_text = text(&r, "scheme")?;
            let scheme = scheme_of(&scheme_text)
                .ok_or_else(|| StoreError::Corrupt(format!("scheme `{scheme_text}`")))?;
            let s: Settlement = parse(&text(&r, "settlement_json")?, "settlement")?;
            let id = text(&r, "claim_id")?;
            for (code, v) in fund_lines(scheme, &s.breakdown) {
                out.entry((id.clone(), code.to_string()))
                    .or_insert((scheme, 0))
                    .1 += v;
            }
        }
        let q = format!(
            "SELECT r.claim_id AS claim_id, c.scheme AS scheme, r.refund_json AS refund_json FROM reversals r JOIN claims c ON c.claim_id = r.claim_id WHERE c.{column} AND r.month = ?"
        );
        for r in sql::all(self.db(), &q, vec![t(value), t(month)]).await? {
            let scheme_text = text(&r, "scheme")?;
            let scheme = scheme_of(&scheme_text)
                .ok_or_else(|| StoreError::Corrupt(format!("scheme `{scheme_text}`")))?;
            let b: Breakdown = parse(&text(&r, "refund_json")?, "refund")?;
            let id = text(&r, "claim_id")?;
            for (code, v) in fund_lines(scheme, &b) {
                out.entry((id.clone(), code.to_string()))
                    .or_insert((scheme, 0))
                    .1 -= v;
            }
        }
        Ok(out)
    }

    /// An institution's month by scheme.
    pub async fn statement(
        &self,
        institution: &str,
        month: &str,
    ) -> Result<BTreeMap<Scheme, StatementTotals>, StoreError> {
        let mut out: BTreeMap<Scheme, StatementTotals> = BTreeMap::new();
        for r in sql::all(self.db(), "SELECT scheme, status, settlement_json FROM claims WHERE institution_code = ? AND month = ?", vec![t(institution), t(month)]).await? {
            let scheme_text = text(&r, "scheme")?;
            let scheme = scheme_of(&scheme_text).ok_or_else(|| StoreError::Corrupt(format!("scheme `{scheme_text}`")))?;
            let s: Settlement = parse(&text(&r, "settlement_json")?, "settlement")?;
            let e = out.entry(scheme).or_default();
            let status = text(&r, "status")?;
            if status != ClaimStatus::Reversed.as_str() && status != ClaimStatus::Superseded.as_str() {
                e.claims += 1;
            }
            e.net = add_breakdown(&e.net, &s.breakdown, 1);
        }
        for r in sql::all(self.db(), "SELECT c.scheme AS scheme, r.refund_json AS refund_json FROM reversals r JOIN claims c ON c.claim_id = r.claim_id WHERE r.institution_code = ? AND r.month = ?", vec![t(institution), t(month)]).await? {
            let scheme_text = text(&r, "scheme")?;
            let scheme = scheme_of(&scheme_text).ok_or_else(|| StoreError::Corrupt(format!("scheme `{scheme_text}`")))?;
            let b: Breakdown = parse(&text(&r, "refund_json")?, "refund")?;
            let e = out.entry(scheme).or_default();
            e.reversals += 1;
            e.net = add_breakdown(&e.net, &b, -1);
        }
        Ok(out)
    }
}
