//! The settlement breakdown in the national vocabulary, its accounting identities, and the
//! fund lines and layers that make it up.

use serde::{Deserialize, Serialize};
use yibao_core::{Bp, Fen, MoneyOverflow};

use super::EngineError;

/// The settlement breakdown in the national interface's vocabulary (2207/2304 `setlinfo`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    /// 医疗费总额.
    pub medfee_sumamt: Fen,
    /// 全自费金额 (丙类).
    pub fulamt_ownpay_amt: Fen,
    /// 超限价自费费用.
    pub overlmt_selfpay: Fen,
    /// 先行自付金额 (乙类).
    pub preselfpay_amt: Fen,
    /// 符合政策范围金额.
    pub inscp_scp_amt: Fen,
    /// 实际支付起付线.
    pub act_pay_dedc: Fen,
    /// 基本医疗保险统筹基金支出 (layer 1).
    pub hifp_pay: Fen,
    /// 统筹基金支付比例 applied by layer 1.
    pub pool_prop_selfpay: Bp,
    /// 公务员医疗补助资金支出 (not settled by this engine: zero).
    pub cvlserv_pay: Fen,
    /// 企业补充医疗保险基金支出 (not settled by this engine: zero).
    pub hifes_pay: Fen,
    /// 居民大病保险资金支出 (layer 2, residents).
    pub hifmi_pay: Fen,
    /// 职工大额医疗费用补助基金支出 (layer 2, employees).
    pub hifob_pay: Fen,
    /// 医疗救助基金支出 (layer 3).
    pub maf_pay: Fen,
    /// 伤残人员医疗保障基金支出 (not settled by this engine: zero).
    pub hifdm_pay: Fen,
    /// 其他支出 = `backstop_pay + supplement_pay` (layer 4).
    pub oth_pay: Fen,
    /// Government backstop "351" (part of `oth_pay`).
    pub backstop_pay: Fen,
    /// "180" chronic-disease supplement (part of `oth_pay`).
    pub supplement_pay: Fen,
    /// 基金支付总额.
    pub fund_pay_sumamt: Fen,
    /// 医院负担金额 (zero: no hospital-borne amounts at settlement).
    pub hosp_part_amt: Fen,
    /// 个人负担总金额 = medfee − fund − hospital part.
    pub psn_part_amt: Fen,
    /// Commercial supplementary insurers (惠民保), paid out of the person's share.
    pub insurer_pay: Fen,
    /// 个人账户支出 (chosen at the counter; zero here).
    pub acct_pay: Fen,
    /// 个人账户共济支付 (zero here).
    pub acct_mulaid_pay: Fen,
    /// 个人现金支出.
    pub psn_cash_pay: Fen,
}

impl Breakdown {
    /// Field-by-field `f(self, other)` of the money fields, checked; the rate is `rate`.
    fn combine(
        &self,
        o: &Breakdown,
        rate: Bp,
        f: impl Fn(Fen, Fen) -> Result<Fen, MoneyOverflow>,
    ) -> Result<Breakdown, MoneyOverflow> {
        Ok(Breakdown {
            medfee_sumamt: f(self.medfee_sumamt, o.medfee_sumamt)?,
            fulamt_ownpay_amt: f(self.fulamt_ownpay_amt, o.fulamt_ownpay_amt)?,
            overlmt_selfpay: f(self.overlmt_selfpay, o.overlmt_selfpay)?,
            preselfpay_amt: f(self.preselfpay_amt, o.preselfpay_amt)?,
            inscp_scp_amt: f(self.inscp_scp_amt, o.inscp_scp_amt)?,
            act_pay_dedc: f(self.act_pay_dedc, o.act_pay_dedc)?,
            hifp_pay: f(self.hifp_pay, o.hifp_pay)?,
            pool_prop_selfpay: rate,
            cvlserv_pay: f(self.cvlserv_pay, o.cvlserv_pay)?,
            hifes_pay: f(self.hifes_pay, o.hifes_pay)?,
            hifmi_pay: f(self.hifmi_pay, o.hifmi_pay)?,
            hifob_pay: f(self.hifob_pay, o.hifob_pay)?,
            maf_pay: f(self.maf_pay, o.maf_pay)?,
            hifdm_pay: f(self.hifdm_pay, o.hifdm_pay)?,
            oth_pay: f(self.oth_pay, o.oth_pay)?,
            backstop_pay: f(self.backstop_pay, o.backstop_pay)?,
            supplement_pay: f(self.supplement_pay, o.supplement_pay)?,
            fund_pay_sumamt: f(self.fund_pay_sumamt, o.fund_pay_sumamt)?,
            hosp_part_amt: f(self.hosp_part_amt, o.hosp_part_amt)?,
            psn_part_amt: f(self.psn_part_amt, o.psn_part_amt)?,
            insurer_pay: f(self.insurer_pay, o.insurer_pay)?,
            acct_pay: f(self.acct_pay, o.acct_pay)?,
            acct_mulaid_pay: f(self.acct_mulaid_pay, o.acct_mulaid_pay)?,
            psn_cash_pay: f(self.psn_cash_pay, o.psn_cash_pay)?,
        })
    }

    /// Field-by-field `self − other` of the money fields (the rate is kept from `self`): what a
    /// partial refund gives back per layer.
    pub fn minus(&self, o: &Breakdown) -> Result<Breakdown, EngineError> {
        Ok(self.combine(o, self.pool_prop_selfpay, Fen::checked_sub)?)
    }

    /// Field-by-field `self + other` of the money fields, checked (the rate is `other`'s): a
    /// month's totals.
    pub fn plus(&self, o: &Breakdown) -> Result<Breakdown, MoneyOverflow> {
        self.combine(o, o.pool_prop_selfpay, Fen::checked_add)
    }

    /// Field-by-field `self − other` of the money fields, checked (the rate is `other`'s): a
    /// month's totals less what was given back.
    pub fn less(&self, o: &Breakdown) -> Result<Breakdown, MoneyOverflow> {
        self.combine(o, o.pool_prop_selfpay, Fen::checked_sub)
    }

    /// Checks the accounting identities of DOMAIN §1.1 (the fourth extended by the commercial
    /// line) and that no amount is negative and the public layers stay within the policy range.
    pub fn check_identities(&self) -> Result<(), EngineError> {
        let sum = |v: &[Fen]| Fen::sum(v.iter().copied());
        let parts = [
            self.fulamt_ownpay_amt,
            self.overlmt_selfpay,
            self.preselfpay_amt,
            self.inscp_scp_amt,
        ];
        if sum(&parts)? != self.medfee_sumamt {
            return Err(EngineError::IdentityViolated(
                "medfee_sumamt = fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt",
            ));
        }
        let funds = [
            self.hifp_pay,
            self.cvlserv_pay,
            self.hifes_pay,
            self.hifmi_pay,
            self.hifob_pay,
            self.maf_pay,
            self.hifdm_pay,
            self.oth_pay,
        ];
        if sum(&funds)? != self.fund_pay_sumamt {
            return Err(EngineError::IdentityViolated(
                "fund_pay_sumamt = sum of the fund lines",
            ));
        }
        if self.backstop_pay.checked_add(self.supplement_pay)? != self.oth_pay {
            return Err(EngineError::IdentityViolated(
                "oth_pay = backstop_pay + supplement_pay",
            ));
        }
        if self
            .medfee_sumamt
            .checked_sub(self.fund_pay_sumamt)?
            .checked_sub(self.hosp_part_amt)?
            != self.psn_part_amt
        {
            return Err(EngineError::IdentityViolated(
                "psn_part_amt = medfee_sumamt - fund_pay_sumamt - hosp_part_amt",
            ));
        }
        if sum(&[
            self.acct_pay,
            self.acct_mulaid_pay,
            self.insurer_pay,
            self.psn_cash_pay,
        ])? != self.psn_part_amt
        {
            return Err(EngineError::IdentityViolated(
                "psn_part_amt = acct_pay + acct_mulaid_pay + insurer_pay + psn_cash_pay",
            ));
        }
        if self.fund_pay_sumamt > self.inscp_scp_amt {
            return Err(EngineError::IdentityViolated(
                "fund_pay_sumamt <= inscp_scp_amt",
            ));
        }
        if self.act_pay_dedc > self.inscp_scp_amt {
            return Err(EngineError::IdentityViolated(
                "act_pay_dedc <= inscp_scp_amt",
            ));
        }
        let all = [
            self.medfee_sumamt,
            self.act_pay_dedc,
            self.hosp_part_amt,
            self.psn_part_amt,
            self.insurer_pay,
            self.acct_pay,
            self.acct_mulaid_pay,
            self.psn_cash_pay,
            self.backstop_pay,
            self.supplement_pay,
            self.fund_pay_sumamt,
        ];
        if parts
            .iter()
            .chain(funds.iter())
            .chain(all.iter())
            .any(|f| f.is_negative())
        {
            return Err(EngineError::IdentityViolated("no amount is negative"));
        }
        Ok(())
    }
}

/// A fund or payer line (`fund_pay_type`). Codes 3xxxxx/6xxxxx are the national dictionary's
/// [K]; the 99xxxx codes are platform-local for lines the national dictionary does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundPayType {
    /// 310100 职工基本医疗保险统筹基金.
    EmployeePool,
    /// 390100 城乡居民基本医疗保险基金.
    ResidentPool,
    /// 330100 职工大额医疗费用补助基金.
    EmployeeLargeAmount,
    /// 390200 城乡居民大病医疗保险基金.
    ResidentCriticalIllness,
    /// 610100 医疗救助基金.
    MedicalAssistance,
    /// 990101 政府兜底 ("351"), platform-local.
    GovernmentBackstop,
    /// 990102 慢性病补充医疗保障 ("180"), platform-local.
    ChronicSupplement,
    /// 990201 商业补充保险 (惠民保), platform-local; not a fund payment.
    CommercialSupplement,
}

impl FundPayType {
    /// The dictionary code.
    pub fn code(self) -> &'static str {
        match self {
            FundPayType::EmployeePool => "310100",
            FundPayType::ResidentPool => "390100",
            FundPayType::EmployeeLargeAmount => "330100",
            FundPayType::ResidentCriticalIllness => "390200",
            FundPayType::MedicalAssistance => "610100",
            FundPayType::GovernmentBackstop => "990101",
            FundPayType::ChronicSupplement => "990102",
            FundPayType::CommercialSupplement => "990201",
        }
    }
}

/// A settlement layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Basic pool, inpatient rules.
    BasicPool,
    /// Basic pool, maternity flat benefit.
    Maternity,
    /// General-outpatient pool.
    OutpatientPool,
    /// Chronic/special disease pool.
    ChronicDisease,
    /// Critical illness (大病/大额).
    CriticalIllness,
    /// Medical assistance.
    MedicalAssistance,
    /// Government backstop "351".
    Backstop,
    /// "180" supplement.
    ChronicSupplement,
    /// Commercial product.
    Commercial,
}

/// One layer's detail (`setldetail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerLine {
    /// Layer.
    pub layer: Layer,
    /// Fund line.
    pub fund_pay_type: FundPayType,
    /// Pool, disease or product code where the layer has several.
    pub code: Option<String>,
    /// The amount the layer worked on (its residual).
    pub base: Fen,
    /// Rate applied (the first band's for banded layers).
    pub rate: Bp,
    /// Paid (`fund_payamt`).
    pub amount: Fen,
    /// 本次可支付限额金额 (`crt_payb_lmt_amt`): the limit available before this claim.
    pub crt_payb_lmt_amt: Option<Fen>,
    /// Limit remaining after this claim.
    pub limit_remaining: Option<Fen>,
}
