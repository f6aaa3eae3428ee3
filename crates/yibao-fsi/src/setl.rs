//! The settlement output of 2206/2207 (outpatient) and 2303/2304 (inpatient): `setlinfo` and
//! `setldetail[]`, with the accounting identities of DOMAIN §1.1 that every answer must
//! satisfy to the fen. Reversals (2208, 2305) answer the same shape with negated amounts.

use crate::decimal::{Ratio, Yuan};
use serde::{Deserialize, Serialize};
use yibao_core::{Fen, MoneyOverflow};

/// `setlinfo`: one settlement as the interface reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetlInfo {
    /// Encounter id (就诊ID).
    pub mdtrt_id: String,
    /// Settlement id (结算ID).
    pub setl_id: String,
    /// Person number (人员编号).
    pub psn_no: String,
    /// Name.
    pub psn_name: String,
    /// Certificate type (01 ID card…).
    pub psn_cert_type: String,
    /// Certificate number.
    pub certno: String,
    /// Sex (1 male, 2 female).
    pub gend: String,
    /// Ethnicity.
    pub naty: String,
    /// Birth date, `yyyy-MM-dd`.
    pub brdy: String,
    /// Age in years.
    pub age: u32,
    /// Insurance type (390 residents' basic…).
    pub insutype: String,
    /// Person type.
    pub psn_type: String,
    /// Civil-servant flag (0/1).
    pub cvlserv_flag: String,
    /// Settlement time, `yyyy-MM-dd HH:mm:ss`.
    pub setl_time: String,
    /// Certificate used for the encounter (01 e-voucher, 02 ID card, 03 card).
    pub mdtrt_cert_type: String,
    /// Medical type (11 general outpatient, 21 inpatient…).
    pub med_type: String,
    /// 医疗费总额: the whole bill.
    pub medfee_sumamt: Yuan,
    /// 全自费金额: outside the catalogue (丙).
    pub fulamt_ownpay_amt: Yuan,
    /// 超限价自费费用: above the payment standard.
    pub overlmt_selfpay: Yuan,
    /// 先行自付金额: 乙 items' first self-pay share.
    pub preselfpay_amt: Yuan,
    /// 符合政策范围金额: within the policy range.
    pub inscp_scp_amt: Yuan,
    /// 实际支付起付线: deductible consumed.
    pub act_pay_dedc: Yuan,
    /// 基本医疗保险统筹基金支出: the basic pool.
    pub hifp_pay: Yuan,
    /// 基本医疗保险统筹基金支付比例: the pool's rate.
    pub pool_prop_selfpay: Ratio,
    /// 公务员医疗补助资金支出 (employees).
    pub cvlserv_pay: Yuan,
    /// 企业补充医疗保险基金支出 (employees).
    pub hifes_pay: Yuan,
    /// 居民大病保险资金支出: critical-illness insurance.
    pub hifmi_pay: Yuan,
    /// 职工大额医疗费用补助基金支出 (employees).
    pub hifob_pay: Yuan,
    /// 医疗救助基金支出: medical assistance.
    pub maf_pay: Yuan,
    /// 伤残人员医疗保障基金支出.
    pub hifdm_pay: Yuan,
    /// 其他支出: the backstop and other layers.
    pub oth_pay: Yuan,
    /// 基金支付总额: all funds.
    pub fund_pay_sumamt: Yuan,
    /// 个人负担总金额: the patient's share.
    pub psn_part_amt: Yuan,
    /// 个人账户支出.
    pub acct_pay: Yuan,
    /// 个人现金支出.
    pub psn_cash_pay: Yuan,
    /// 医院负担金额.
    pub hosp_part_amt: Yuan,
    /// Account balance after the settlement.
    pub balc: Yuan,
    /// 个人账户共济支付.
    pub acct_mulaid_pay: Yuan,
    /// The institution's own settlement id.
    pub medins_setl_id: String,
    /// Clearing agency (region code).
    pub clr_optins: String,
    /// Clearing way.
    pub clr_way: String,
    /// Clearing type.
    pub clr_type: String,
}

/// `setldetail[]`: one fund's part of a settlement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetlDetail {
    /// Fund type (310100 basic pool, 320100 critical illness, 610100 assistance…).
    pub fund_pay_type: String,
    /// Policy-range amount this fund was applied to.
    pub inscp_scp_amt: Yuan,
    /// 本次可支付限额金额: what this fund could pay this time.
    pub crt_payb_lmt_amt: Yuan,
    /// What it paid.
    pub fund_payamt: Yuan,
    /// The fund's name.
    pub fund_pay_type_name: String,
    /// How it was computed, in words.
    pub setl_proc_info: String,
}

/// An identity of DOMAIN §1.1 that a settlement does not satisfy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A named identity is off by `off` fen.
    #[error("setlinfo: {identity} is off by {off} fen")]
    Off {
        /// The identity, written out.
        identity: &'static str,
        /// Left side minus right side, in fen.
        off: i64,
    },
    /// The sums overflowed.
    #[error("setlinfo: the amounts overflow")]
    Overflow,
}

impl From<MoneyOverflow> for IdentityError {
    fn from(_: MoneyOverflow) -> IdentityError {
        IdentityError::Overflow
    }
}

fn sum(parts: &[Yuan]) -> Result<Fen, MoneyOverflow> {
    parts
        .iter()
        .try_fold(Fen::ZERO, |acc, y| acc.checked_add(y.fen()))
}

fn same(identity: &'static str, left: Fen, right: Fen) -> Result<(), IdentityError> {
    match left.checked_sub(right)? {
        Fen(0) => Ok(()),
        Fen(off) => Err(IdentityError::Off { identity, off }),
    }
}

impl SetlInfo {
    /// The four accounting identities, to the fen.
    pub fn check_identities(&self) -> Result<(), IdentityError> {
        same(
            "medfee_sumamt = fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt",
            self.medfee_sumamt.fen(),
            sum(&[
                self.fulamt_ownpay_amt,
                self.overlmt_selfpay,
                self.preselfpay_amt,
                self.inscp_scp_amt,
            ])?,
        )?;
        same(
            "fund_pay_sumamt = hifp_pay + cvlserv_pay + hifes_pay + hifmi_pay + hifob_pay + maf_pay + hifdm_pay + oth_pay",
            self.fund_pay_sumamt.fen(),
            sum(&[
                self.hifp_pay,
                self.cvlserv_pay,
                self.hifes_pay,
                self.hifmi_pay,
                self.hifob_pay,
                self.maf_pay,
                self.hifdm_pay,
                self.oth_pay,
            ])?,
        )?;
        same(
            "psn_part_amt = medfee_sumamt - fund_pay_sumamt - hosp_part_amt",
            self.psn_part_amt.fen(),
            self.medfee_sumamt
                .fen()
                .checked_sub(self.fund_pay_sumamt.fen())?
                .checked_sub(self.hosp_part_amt.fen())?,
        )?;
        same(
            "psn_part_amt = acct_pay + acct_mulaid_pay + psn_cash_pay",
            self.psn_part_amt.fen(),
            sum(&[self.acct_pay, self.acct_mulaid_pay, self.psn_cash_pay])?,
        )
    }

    /// The same settlement with every amount negated except the balance and the rate: the
    /// answer of a reversal (2208, 2305).
    pub fn reversed(&self) -> SetlInfo {
        let neg = |y: Yuan| Yuan(Fen(-y.fen().get()));
        SetlInfo {
            medfee_sumamt: neg(self.medfee_sumamt),
            fulamt_ownpay_amt: neg(self.fulamt_ownpay_amt),
            overlmt_selfpay: neg(self.overlmt_selfpay),
            preselfpay_amt: neg(self.preselfpay_amt),
            inscp_scp_amt: neg(self.inscp_scp_amt),
            act_pay_dedc: neg(self.act_pay_dedc),
            hifp_pay: neg(self.hifp_pay),
            cvlserv_pay: neg(self.cvlserv_pay),
            hifes_pay: neg(self.hifes_pay),
            hifmi_pay: neg(self.hifmi_pay),
            hifob_pay: neg(self.hifob_pay),
            maf_pay: neg(self.maf_pay),
            hifdm_pay: neg(self.hifdm_pay),
            oth_pay: neg(self.oth_pay),
            fund_pay_sumamt: neg(self.fund_pay_sumamt),
            psn_part_amt: neg(self.psn_part_amt),
            acct_pay: neg(self.acct_pay),
            psn_cash_pay: neg(self.psn_cash_pay),
            hosp_part_amt: neg(self.hosp_part_amt),
            acct_mulaid_pay: neg(self.acct_mulaid_pay),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yibao_core::Bp;

    fn y(s: &str) -> Yuan {
        Yuan::parse(s).unwrap()
    }

    /// The public 2304 mock's amounts (DOMAIN §1.9): 23,442.46 = 2,533.97 + 1,396.89 +
    /// 703.44 + 18,808.16 = 18,785.39 + 4,152.06 + 505.01.
    fn mock() -> SetlInfo {
        SetlInfo {
            mdtrt_id: "MDT1".into(),
            setl_id: "SETL1".into(),
            medfee_sumamt: y("23442.46"),
            fulamt_ownpay_amt: y("2533.97"),
            overlmt_selfpay: y("1396.89"),
            preselfpay_amt: y("703.44"),
            inscp_scp_amt: y("18808.16"),
            hifp_pay: y("15000.00"),
            pool_prop_selfpay: Ratio(Bp(6000)),
            hifmi_pay: y("3285.39"),
            maf_pay: y("500.00"),
            fund_pay_sumamt: y("18785.39"),
            psn_part_amt: y("4152.06"),
            psn_cash_pay: y("4152.06"),
            hosp_part_amt: y("505.01"),
            balc: y("120.00"),
            ..SetlInfo::default()
        }
    }

    #[test]
    fn the_public_mock_satisfies_every_identity() {
        assert_eq!(mock().check_identities(), Ok(()));
    }

    #[test]
    fn a_fen_off_is_named() {
        let mut s = mock();
        s.maf_pay = y("500.01");
        let e = s.check_identities().unwrap_err();
        assert!(matches!(e, IdentityError::Off { off: -1, .. }), "{e}");
        assert!(
            e.to_string().starts_with("setlinfo: fund_pay_sumamt ="),
            "{e}"
        );
        let mut s = mock();
        s.psn_cash_pay = y("4152.00");
        let e = s.check_identities().unwrap_err();
        assert!(
            e.to_string()
                .contains("acct_pay + acct_mulaid_pay + psn_cash_pay"),
            "{e}"
        );
    }

    #[test]
    fn a_reversal_negates_amounts_and_keeps_identities() {
        let r = mock().reversed();
        assert_eq!(r.medfee_sumamt, y("-23442.46"));
        assert_eq!(r.hifp_pay, y("-15000.00"));
        assert_eq!(
            r.balc,
            y("120.00"),
            "the balance is a state, not an amount paid"
        );
        assert_eq!(r.pool_prop_selfpay, Ratio(Bp(6000)));
        assert_eq!(r.setl_id, "SETL1");
        assert_eq!(r.check_identities(), Ok(()));
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""medfee_sumamt":-23442.46"#), "{json}");
        let back: SetlInfo = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
