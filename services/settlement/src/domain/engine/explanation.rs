//! One explanation per amount: the breakdown field, the rule that produced it, its base,
//! deduction, rate and limit, and the words shown to people.

use serde::{Deserialize, Serialize};
use std::fmt;
use yibao_core::{Bp, Fen};

/// A breakdown field, named as in the national interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Field {
    MedfeeSumamt,
    FulamtOwnpayAmt,
    OverlmtSelfpay,
    PreselfpayAmt,
    InscpScpAmt,
    ActPayDedc,
    HifpPay,
    CvlservPay,
    HifesPay,
    HifmiPay,
    HifobPay,
    MafPay,
    HifdmPay,
    OthPay,
    BackstopPay,
    SupplementPay,
    FundPaySumamt,
    HospPartAmt,
    PsnPartAmt,
    InsurerPay,
    AcctPay,
    AcctMulaidPay,
    PsnCashPay,
}

impl Field {
    /// The national field name.
    pub fn name(self) -> &'static str {
        match self {
            Field::MedfeeSumamt => "medfee_sumamt",
            Field::FulamtOwnpayAmt => "fulamt_ownpay_amt",
            Field::OverlmtSelfpay => "overlmt_selfpay",
            Field::PreselfpayAmt => "preselfpay_amt",
            Field::InscpScpAmt => "inscp_scp_amt",
            Field::ActPayDedc => "act_pay_dedc",
            Field::HifpPay => "hifp_pay",
            Field::CvlservPay => "cvlserv_pay",
            Field::HifesPay => "hifes_pay",
            Field::HifmiPay => "hifmi_pay",
            Field::HifobPay => "hifob_pay",
            Field::MafPay => "maf_pay",
            Field::HifdmPay => "hifdm_pay",
            Field::OthPay => "oth_pay",
            Field::BackstopPay => "backstop_pay",
            Field::SupplementPay => "supplement_pay",
            Field::FundPaySumamt => "fund_pay_sumamt",
            Field::HospPartAmt => "hosp_part_amt",
            Field::PsnPartAmt => "psn_part_amt",
            Field::InsurerPay => "insurer_pay",
            Field::AcctPay => "acct_pay",
            Field::AcctMulaidPay => "acct_mulaid_pay",
            Field::PsnCashPay => "psn_cash_pay",
        }
    }
}

/// The rule that produced an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Sum of the item amounts.
    ItemsTotal,
    /// 丙类 items, paid by the patient in full.
    OutOfCatalogue,
    /// Price above the payment standard × quantity.
    AbovePaymentStandard,
    /// 乙类 eligible amount × first self-pay share.
    FirstSelfPay,
    /// Total less the three self-pay parts.
    PolicyRange,
    /// Deductible consumed from the policy range.
    Deductible,
    /// Basic pool: (base − deductible) × rate by level.
    BasicPoolRate,
    /// Maternity flat benefit.
    MaternityFlat,
    /// General-outpatient pool: (base − per-visit deductible) × rate, within the annual limit.
    OutpatientPoolRate,
    /// Chronic/special disease: base × rate, within the disease's annual cap.
    ChronicDiseaseRate,
    /// Critical illness: cumulative self-pay above the threshold × band rates.
    CriticalIllnessBands,
    /// Medical assistance: (residual − assistance deductible) × category rate.
    AssistanceRate,
    /// Backstop: residual above the remaining annual out-of-pocket cap.
    BackstopCap,
    /// "180": residual × rate.
    ChronicSupplementRate,
    /// Commercial product: (covered remainder − product deductible) × rate.
    CommercialRate,
    /// Sum of the fund lines.
    FundTotal,
    /// Backstop plus supplement.
    OtherTotal,
    /// Total less fund less hospital part.
    PersonTotal,
    /// Person's share less account and insurer payments.
    CashTotal,
    /// The layer did not apply, for the reason given.
    NotApplied(Reason),
}

/// Why a layer paid nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The policy has no such layer or line.
    NotInPolicy,
    /// The encounter kind is outside the layer's scope.
    KindNotInScope,
    /// The person holds none of the eligible categories.
    CategoryNotEligible,
    /// This scheme uses the other critical-illness line.
    OtherScheme,
    /// Care outside the insured province.
    OutOfProvince,
    /// The person holds no such product.
    NotPurchased,
    /// Settled elsewhere (account chosen at the counter, hospital part).
    NotSettledHere,
}

/// An explanation of one amount: the rule, its base, what was subtracted, the rate and the
/// limit that bound it. [`Explanation::words`] renders it for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// The breakdown field explained.
    pub field: Field,
    /// The rule.
    pub rule: Rule,
    /// The amount.
    pub amount: Fen,
    /// The base the rule worked on.
    pub base: Fen,
    /// What was subtracted from the base before the rate (deductible, threshold, cap room).
    pub less: Fen,
    /// Rate applied.
    pub rate: Option<Bp>,
    /// The limit that bound the amount, when it did.
    pub limit: Option<Fen>,
}

impl Explanation {
    pub(super) fn new(field: Field, rule: Rule, amount: Fen, base: Fen) -> Explanation {
        Explanation {
            field,
            rule,
            amount,
            base,
            less: Fen::ZERO,
            rate: None,
            limit: None,
        }
    }

    /// The explanation in words.
    pub fn words(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, l, a) = (self.base, self.less, self.amount);
        let rate = self.rate.unwrap_or(Bp::ZERO);
        write!(f, "{} {a}: ", self.field.name())?;
        match self.rule {
            Rule::ItemsTotal => write!(f, "sum of the item amounts"),
            Rule::OutOfCatalogue => write!(
                f,
                "丙类 (out-of-catalogue) items, paid by the patient in full"
            ),
            Rule::AbovePaymentStandard => write!(
                f,
                "unit price above the payment standard (支付标准) × quantity"
            ),
            Rule::FirstSelfPay => write!(
                f,
                "乙类 items within the standard, {b}, × first self-pay share {rate}"
            ),
            Rule::PolicyRange => write!(
                f,
                "total {b} less out-of-catalogue, above-standard and first self-pay parts"
            ),
            Rule::Deductible => write!(
                f,
                "deductible (起付线) of {l} remaining, consumed from the policy range {b}"
            ),
            Rule::BasicPoolRate => write!(
                f,
                "basic pool: ({b} policy range − {l} deductible) × {rate} by level"
            ),
            Rule::MaternityFlat => write!(
                f,
                "maternity flat benefit up to {l}, of the policy range {b}"
            ),
            Rule::OutpatientPoolRate => {
                write!(
                    f,
                    "general-outpatient pool: ({b} policy range − {l} per-visit deductible) × {rate}"
                )
            }
            Rule::ChronicDiseaseRate => write!(
                f,
                "chronic/special disease pool, no deductible: {b} × {rate}"
            ),
            Rule::CriticalIllnessBands => write!(
                f,
                "critical illness: compliant self-pay after the basic pool {b}, of which {l} lies below the threshold; the rest × {rate}"
            ),
            Rule::AssistanceRate => write!(
                f,
                "medical assistance: ({b} remaining compliant self-pay − {l} assistance deductible) × {rate}"
            ),
            Rule::BackstopCap => write!(
                f,
                "government backstop \"351\": remaining compliant self-pay {b} above the {l} still open under the annual out-of-pocket cap"
            ),
            Rule::ChronicSupplementRate => write!(
                f,
                "\"180\" supplement: remaining compliant cost {b} × {rate}"
            ),
            Rule::CommercialRate => write!(
                f,
                "commercial supplement: ({b} covered remainder − {l} product deductible) × {rate}"
            ),
            Rule::FundTotal => write!(f, "sum of the fund lines"),
            Rule::OtherTotal => write!(f, "backstop plus \"180\" supplement"),
            Rule::PersonTotal => write!(f, "total {b} less fund payments"),
            Rule::CashTotal => write!(
                f,
                "person's share {b} less account and commercial insurer payments"
            ),
            Rule::NotApplied(r) => write!(
                f,
                "not applied: {}",
                match r {
                    Reason::NotInPolicy => "the policy has no such layer",
                    Reason::KindNotInScope => "the encounter kind is outside the layer's scope",
                    Reason::CategoryNotEligible =>
                        "the person holds none of the eligible categories",
                    Reason::OtherScheme => "paid on the other scheme's line",
                    Reason::OutOfProvince => "care outside the insured province is excluded",
                    Reason::NotPurchased => "the person holds no commercial product",
                    Reason::NotSettledHere => "settled at the counter or by another scheme",
                }
            ),
        }?;
        if let Some(lim) = self.limit {
            write!(f, ", limited to {lim} left of the annual limit")?;
        }
        Ok(())
    }
}
