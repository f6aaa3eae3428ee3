//! The totals after the layers: other payments, fund total and person's share before the
//! insurers, the person's cash after them.

use yibao_core::Fen;

use super::tally::Tally;
use super::{EngineError, Explanation, Field, Reason, Rule};

/// `oth_pay`, `fund_pay_sumamt`, `hosp_part_amt` and `psn_part_amt`, after the public layers.
pub(super) fn funds_and_person(t: &mut Tally) -> Result<(), EngineError> {
    let Tally { bd, ex, .. } = t;
    bd.oth_pay = bd.backstop_pay.checked_add(bd.supplement_pay)?;
    ex.push(Explanation::new(
        Field::OthPay,
        Rule::OtherTotal,
        bd.oth_pay,
        bd.oth_pay,
    ));

    bd.fund_pay_sumamt = Fen::sum([
        bd.hifp_pay,
        bd.cvlserv_pay,
        bd.hifes_pay,
        bd.hifmi_pay,
        bd.hifob_pay,
        bd.maf_pay,
        bd.hifdm_pay,
        bd.oth_pay,
    ])?;
    ex.push(Explanation::new(
        Field::FundPaySumamt,
        Rule::FundTotal,
        bd.fund_pay_sumamt,
        bd.fund_pay_sumamt,
    ));
    ex.push(Explanation::new(
        Field::HospPartAmt,
        Rule::NotApplied(Reason::NotSettledHere),
        Fen::ZERO,
        Fen::ZERO,
    ));
    bd.psn_part_amt = bd
        .medfee_sumamt
        .checked_sub(bd.fund_pay_sumamt)?
        .checked_sub(bd.hosp_part_amt)?;
    ex.push(Explanation::new(
        Field::PsnPartAmt,
        Rule::PersonTotal,
        bd.psn_part_amt,
        bd.medfee_sumamt,
    ));
    Ok(())
}

/// The account lines (settled at the counter) and `psn_cash_pay`, after the insurers.
pub(super) fn cash(t: &mut Tally) -> Result<(), EngineError> {
    let Tally { bd, ex, .. } = t;
    ex.push(Explanation::new(
        Field::AcctPay,
        Rule::NotApplied(Reason::NotSettledHere),
        Fen::ZERO,
        Fen::ZERO,
    ));
    ex.push(Explanation::new(
        Field::AcctMulaidPay,
        Rule::NotApplied(Reason::NotSettledHere),
        Fen::ZERO,
        Fen::ZERO,
    ));
    bd.psn_cash_pay = bd
        .psn_part_amt
        .checked_sub(bd.acct_pay)?
        .checked_sub(bd.acct_mulaid_pay)?
        .checked_sub(bd.insurer_pay)?;
    ex.push(Explanation::new(
        Field::PsnCashPay,
        Rule::CashTotal,
        bd.psn_cash_pay,
        bd.psn_part_amt,
    ));
    Ok(())
}
