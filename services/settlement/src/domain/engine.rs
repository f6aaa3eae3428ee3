//! The one-stop multi-layer settlement engine (一站式结算, DOMAIN §1).
//!
//! [`settle`] splits the items (claim.rs), then runs the layers strictly in order, each on the
//! residual compliant self-pay the previous layer left (DOMAIN §1.2, §1.8):
//!
//! 1. basic pool (`hifp_pay`): inpatient deductible and rate by level, or a general-outpatient
//!    pool, or a chronic/special disease's own rate and cap, or a maternity flat benefit;
//! 2. critical illness (`hifmi_pay` for residents, `hifob_pay` for employees): progressive bands
//!    on the year's cumulative compliant self-pay above the threshold, with the poverty tilt;
//! 3. medical assistance (`maf_pay`) by category, with annual deductible and limit;
//! 4. government backstop "351" (`oth_pay`, backstop line): caps the year's compliant
//!    out-of-pocket by the highest tier visited;
//! 5. "180" chronic-disease supplement (`oth_pay`, supplement line);
//! 6. commercial supplementary products (惠民保; `insurer_pay`), which pay part of the person's
//!    share and are not fund payments.
//!
//! Every layer rounds its own payout once (half-up to the fen) and passes the exact remainder
//! on. The accounting identities of DOMAIN §1.1 are checked on every settlement; the fourth is
//! extended by the commercial line: `psn_part_amt = acct_pay + acct_mulaid_pay + insurer_pay +
//! psn_cash_pay`.
//!
//! **Accumulators and reversal.** A settlement carries the accumulators after it and the delta
//! from those before it. A full reversal applies the negated delta ([`reverse`], [`apply_delta`]),
//! which restores the counters exactly, whatever was settled in between, because every counter
//! (including the tiers visited, kept as counts per tier) is additive. A per-item refund
//! ([`refund_items`]) re-settles the remaining items against the accumulators as they were
//! before the original claim (current − original delta) and applies `new delta − original
//! delta` to the current counters. Claims settled between the original and the refund are not
//! re-settled: they keep the layer amounts they were given.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use yibao_core::{Bp, Fen, MoneyOverflow, RegionCode};

use super::claim::{Claim, ClaimError, ItemSplit, split_claim, validate_claim};
use super::policy::{DeductibleBasis, LevelBasis, PolicyDocument};
use super::{
    EncounterKind, FieldError, InstitutionTier, LevelKey, PersonCategory, Scheme, join_errors,
};

/// Filing type of a cross-region patient (异地就医备案).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossRegionFiling {
    /// 异地长期居住 / 异地安置退休 / 常驻异地工作.
    LongTermResident,
    /// 转诊转院.
    Referral,
    /// 急诊抢救.
    Emergency,
    /// 其他临时外出.
    OtherTemporary,
}

/// What enrollment says about the person on the claim date, snapshot into the settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilitySnapshot {
    /// Scheme the person is insured under.
    pub scheme: Scheme,
    /// Insured region (参保地, `insuplc_admdvs`).
    pub insured_region: RegionCode,
    /// Categories valid on the date.
    pub categories: Vec<PersonCategory>,
    /// Chronic/special disease codes with a valid 认定 on the date.
    #[serde(default)]
    pub chronic_registrations: Vec<String>,
    /// Commercial supplementary products the person holds (product codes).
    #[serde(default)]
    pub supplement_products: Vec<String>,
    /// Cross-region filing, if any.
    #[serde(default)]
    pub cross_region_filing: Option<CrossRegionFiling>,
}

impl EligibilitySnapshot {
    fn holds_any(&self, categories: &[PersonCategory]) -> bool {
        categories.iter().any(|c| self.categories.contains(c))
    }
}

/// Use of a commercial supplementary product in the year.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplementUse {
    /// Deductible (免赔额) consumed.
    pub deductible_used: Fen,
    /// Paid by the insurer.
    pub paid: Fen,
}

/// Annual counters of one person × insurance year × insured region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accumulators {
    /// Insurance year.
    pub year: i32,
    /// Insured region.
    pub region: RegionCode,
    /// Basic-pool deductible consumed (the annual deductible when the basis is annual).
    pub deductible_used: Fen,
    /// Inpatient admissions settled (for repeat-admission deductibles).
    pub admissions: i64,
    /// Basic pool paid for inpatient and maternity care (against the annual cap).
    pub pool_paid: Fen,
    /// Cumulative compliant self-pay counted toward the critical-illness threshold.
    pub critical_base: Fen,
    /// Critical illness paid.
    pub critical_paid: Fen,
    /// Assistance deductible consumed.
    pub assistance_deductible_used: Fen,
    /// Assistance paid.
    pub assistance_paid: Fen,
    /// Compliant out-of-pocket counted toward the backstop cap.
    pub backstop_oop: Fen,
    /// Backstop paid.
    pub backstop_paid: Fen,
    /// Claims in backstop scope per tier; the highest tier with a claim sets the cap.
    pub tier_visits: BTreeMap<InstitutionTier, i64>,
    /// "180" supplement paid.
    pub chronic_supplement_paid: Fen,
    /// General-outpatient pools paid, by pool code.
    pub outpatient_pools: BTreeMap<String, Fen>,
    /// Chronic/special disease pool paid, by disease code.
    pub chronic_used: BTreeMap<String, Fen>,
    /// Commercial products used, by product code.
    pub supplements: BTreeMap<String, SupplementUse>,
}

impl Accumulators {
    /// Empty counters for a person-year.
    pub fn new(year: i32, region: RegionCode) -> Accumulators {
        Accumulators {
            year,
            region,
            deductible_used: Fen::ZERO,
            admissions: 0,
            pool_paid: Fen::ZERO,
            critical_base: Fen::ZERO,
            critical_paid: Fen::ZERO,
            assistance_deductible_used: Fen::ZERO,
            assistance_paid: Fen::ZERO,
            backstop_oop: Fen::ZERO,
            backstop_paid: Fen::ZERO,
            tier_visits: BTreeMap::new(),
            chronic_supplement_paid: Fen::ZERO,
            outpatient_pools: BTreeMap::new(),
            chronic_used: BTreeMap::new(),
            supplements: BTreeMap::new(),
        }
    }

    /// The highest tier visited in the year (in backstop scope).
    pub fn highest_tier(&self) -> Option<InstitutionTier> {
        self.tier_visits
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(t, _)| *t)
            .max()
    }
}

/// Signed change of [`Accumulators`] made by one settlement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccumulatorDelta {
    /// Change of `deductible_used`.
    pub deductible_used: Fen,
    /// Change of `admissions`.
    pub admissions: i64,
    /// Change of `pool_paid`.
    pub pool_paid: Fen,
    /// Change of `critical_base`.
    pub critical_base: Fen,
    /// Change of `critical_paid`.
    pub critical_paid: Fen,
    /// Change of `assistance_deductible_used`.
    pub assistance_deductible_used: Fen,
    /// Change of `assistance_paid`.
    pub assistance_paid: Fen,
    /// Change of `backstop_oop`.
    pub backstop_oop: Fen,
    /// Change of `backstop_paid`.
    pub backstop_paid: Fen,
    /// Change of `tier_visits`.
    pub tier_visits: BTreeMap<InstitutionTier, i64>,
    /// Change of `chronic_supplement_paid`.
    pub chronic_supplement_paid: Fen,
    /// Change of `outpatient_pools`.
    pub outpatient_pools: BTreeMap<String, Fen>,
    /// Change of `chronic_used`.
    pub chronic_used: BTreeMap<String, Fen>,
    /// Change of `supplements`.
    pub supplements: BTreeMap<String, SupplementUse>,
}

fn neg(f: Fen) -> Result<Fen, MoneyOverflow> {
    Fen::ZERO.checked_sub(f)
}

impl AccumulatorDelta {
    /// The opposite change (what a full reversal applies).
    pub fn negated(&self) -> Result<AccumulatorDelta, EngineError> {
        let nm = |m: &BTreeMap<String, Fen>| -> Result<BTreeMap<String, Fen>, MoneyOverflow> {
            m.iter().map(|(k, v)| Ok((k.clone(), neg(*v)?))).collect()
        };
        Ok(AccumulatorDelta {
            deductible_used: neg(self.deductible_used)?,
            admissions: self.admissions.checked_neg().ok_or(EngineError::Overflow)?,
            pool_paid: neg(self.pool_paid)?,
            critical_base: neg(self.critical_base)?,
            critical_paid: neg(self.critical_paid)?,
            assistance_deductible_used: neg(self.assistance_deductible_used)?,
            assistance_paid: neg(self.assistance_paid)?,
            backstop_oop: neg(self.backstop_oop)?,
            backstop_paid: neg(self.backstop_paid)?,
            tier_visits: self.tier_visits.iter().map(|(k, v)| (*k, -*v)).collect(),
            chronic_supplement_paid: neg(self.chronic_supplement_paid)?,
            outpatient_pools: nm(&self.outpatient_pools)?,
            chronic_used: nm(&self.chronic_used)?,
            supplements: self
                .supplements
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        SupplementUse {
                            deductible_used: neg(v.deductible_used)?,
                            paid: neg(v.paid)?,
                        },
                    ))
                })
                .collect::<Result<_, MoneyOverflow>>()?,
        })
    }

    /// `self + other`.
    pub fn plus(&self, other: &AccumulatorDelta) -> Result<AccumulatorDelta, EngineError> {
        fn merge<K: Ord + Clone, V: Copy>(
            a: &BTreeMap<K, V>,
            b: &BTreeMap<K, V>,
            add: impl Fn(V, V) -> Result<V, MoneyOverflow>,
            zero: V,
        ) -> Result<BTreeMap<K, V>, MoneyOverflow> {
            let mut out = a.clone();
            for (k, v) in b {
                let cur = out.get(k).copied().unwrap_or(zero);
                out.insert(k.clone(), add(cur, *v)?);
            }
            Ok(out)
        }
        let add = |a: Fen, b: Fen| a.checked_add(b);
        Ok(AccumulatorDelta {
            deductible_used: self.deductible_used.checked_add(other.deductible_used)?,
            admissions: self
                .admissions
                .checked_add(other.admissions)
                .ok_or(EngineError::Overflow)?,
            pool_paid: self.pool_paid.checked_add(other.pool_paid)?,
            critical_base: self.critical_base.checked_add(other.critical_base)?,
            critical_paid: self.critical_paid.checked_add(other.critical_paid)?,
            assistance_deductible_used: self
                .assistance_deductible_used
                .checked_add(other.assistance_deductible_used)?,
            assistance_paid: self.assistance_paid.checked_add(other.assistance_paid)?,
            backstop_oop: self.backstop_oop.checked_add(other.backstop_oop)?,
            backstop_paid: self.backstop_paid.checked_add(other.backstop_paid)?,
            tier_visits: merge(
                &self.tier_visits,
                &other.tier_visits,
                |a, b| a.checked_add(b).ok_or(MoneyOverflow),
                0,
            )?,
            chronic_supplement_paid: self
                .chronic_supplement_paid
                .checked_add(other.chronic_supplement_paid)?,
            outpatient_pools: merge(
                &self.outpatient_pools,
                &other.outpatient_pools,
                add,
                Fen::ZERO,
            )?,
            chronic_used: merge(&self.chronic_used, &other.chronic_used, add, Fen::ZERO)?,
            supplements: merge(
                &self.supplements,
                &other.supplements,
                |a, b| {
                    Ok(SupplementUse {
                        deductible_used: a.deductible_used.checked_add(b.deductible_used)?,
                        paid: a.paid.checked_add(b.paid)?,
                    })
                },
                SupplementUse::default(),
            )?,
        })
    }

    fn between(
        before: &Accumulators,
        after: &Accumulators,
    ) -> Result<AccumulatorDelta, EngineError> {
        fn diff<K: Ord + Clone, V: Copy + PartialEq>(
            a: &BTreeMap<K, V>,
            b: &BTreeMap<K, V>,
            sub: impl Fn(V, V) -> Result<V, MoneyOverflow>,
            zero: V,
        ) -> Result<BTreeMap<K, V>, MoneyOverflow> {
            let mut out = BTreeMap::new();
            for k in a.keys().chain(b.keys()) {
                let d = sub(
                    b.get(k).copied().unwrap_or(zero),
                    a.get(k).copied().unwrap_or(zero),
                )?;
                if d != zero {
                    out.insert(k.clone(), d);
                }
            }
            Ok(out)
        }
        let sub = |a: Fen, b: Fen| a.checked_sub(b);
        Ok(AccumulatorDelta {
            deductible_used: after.deductible_used.checked_sub(before.deductible_used)?,
            admissions: after
                .admissions
                .checked_sub(before.admissions)
                .ok_or(EngineError::Overflow)?,
            pool_paid: after.pool_paid.checked_sub(before.pool_paid)?,
            critical_base: after.critical_base.checked_sub(before.critical_base)?,
            critical_paid: after.critical_paid.checked_sub(before.critical_paid)?,
            assistance_deductible_used: after
                .assistance_deductible_used
                .checked_sub(before.assistance_deductible_used)?,
            assistance_paid: after.assistance_paid.checked_sub(before.assistance_paid)?,
            backstop_oop: after.backstop_oop.checked_sub(before.backstop_oop)?,
            backstop_paid: after.backstop_paid.checked_sub(before.backstop_paid)?,
            tier_visits: diff(
                &before.tier_visits,
                &after.tier_visits,
                |a, b| a.checked_sub(b).ok_or(MoneyOverflow),
                0,
            )?,
            chronic_supplement_paid: after
                .chronic_supplement_paid
                .checked_sub(before.chronic_supplement_paid)?,
            outpatient_pools: diff(
                &before.outpatient_pools,
                &after.outpatient_pools,
                sub,
                Fen::ZERO,
            )?,
            chronic_used: diff(&before.chronic_used, &after.chronic_used, sub, Fen::ZERO)?,
            supplements: diff(
                &before.supplements,
                &after.supplements,
                |a, b| {
                    Ok(SupplementUse {
                        deductible_used: a.deductible_used.checked_sub(b.deductible_used)?,
                        paid: a.paid.checked_sub(b.paid)?,
                    })
                },
                SupplementUse::default(),
            )?,
        })
    }
}

/// Applies a delta to accumulators. A counter that would go negative is an error (the delta
/// does not belong to these accumulators); entries that reach zero are removed, so a full
/// reversal restores the counters exactly.
pub fn apply_delta(
    acc: &Accumulators,
    delta: &AccumulatorDelta,
) -> Result<Accumulators, EngineError> {
    fn add(field: &str, a: Fen, d: Fen) -> Result<Fen, EngineError> {
        let v = a.checked_add(d)?;
        if v.is_negative() {
            Err(EngineError::AccumulatorUnderflow(field.to_string()))
        } else {
            Ok(v)
        }
    }
    fn add_map(
        field: &str,
        m: &mut BTreeMap<String, Fen>,
        d: &BTreeMap<String, Fen>,
    ) -> Result<(), EngineError> {
        for (k, v) in d {
            let n = add(
                &format!("{field}.{k}"),
                m.get(k).copied().unwrap_or(Fen::ZERO),
                *v,
            )?;
            if n == Fen::ZERO {
                m.remove(k);
            } else {
                m.insert(k.clone(), n);
            }
        }
        Ok(())
    }
    let mut a = acc.clone();
    a.deductible_used = add("deductible_used", a.deductible_used, delta.deductible_used)?;
    a.admissions = a
        .admissions
        .checked_add(delta.admissions)
        .ok_or(EngineError::Overflow)?;
    if a.admissions < 0 {
        return Err(EngineError::AccumulatorUnderflow("admissions".into()));
    }
    a.pool_paid = add("pool_paid", a.pool_paid, delta.pool_paid)?;
    a.critical_base = add("critical_base", a.critical_base, delta.critical_base)?;
    a.critical_paid = add("critical_paid", a.critical_paid, delta.critical_paid)?;
    a.assistance_deductible_used = add(
        "assistance_deductible_used",
        a.assistance_deductible_used,
        delta.assistance_deductible_used,
    )?;
    a.assistance_paid = add("assistance_paid", a.assistance_paid, delta.assistance_paid)?;
    a.backstop_oop = add("backstop_oop", a.backstop_oop, delta.backstop_oop)?;
    a.backstop_paid = add("backstop_paid", a.backstop_paid, delta.backstop_paid)?;
    for (t, d) in &delta.tier_visits {
        let n = a
            .tier_visits
            .get(t)
            .copied()
            .unwrap_or(0)
            .checked_add(*d)
            .ok_or(EngineError::Overflow)?;
        if n < 0 {
            return Err(EngineError::AccumulatorUnderflow(format!(
                "tier_visits.{t:?}"
            )));
        }
        if n == 0 {
            a.tier_visits.remove(t);
        } else {
            a.tier_visits.insert(*t, n);
        }
    }
    a.chronic_supplement_paid = add(
        "chronic_supplement_paid",
        a.chronic_supplement_paid,
        delta.chronic_supplement_paid,
    )?;
    add_map(
        "outpatient_pools",
        &mut a.outpatient_pools,
        &delta.outpatient_pools,
    )?;
    add_map("chronic_used", &mut a.chronic_used, &delta.chronic_used)?;
    for (k, d) in &delta.supplements {
        let cur = a.supplements.get(k).copied().unwrap_or_default();
        let n = SupplementUse {
            deductible_used: add(
                &format!("supplements.{k}.deductible_used"),
                cur.deductible_used,
                d.deductible_used,
            )?,
            paid: add(&format!("supplements.{k}.paid"), cur.paid, d.paid)?,
        };
        if n == SupplementUse::default() {
            a.supplements.remove(k);
        } else {
            a.supplements.insert(k.clone(), n);
        }
    }
    Ok(a)
}

/// The accumulator change that fully reverses a settlement (2208/2305 结算撤销): apply it with
/// [`apply_delta`] to the current accumulators.
pub fn reverse(settlement: &Settlement) -> Result<AccumulatorDelta, EngineError> {
    settlement.delta.negated()
}

/// Settlement failed; each variant has a stable code ([`EngineError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The claim is invalid; each problem names its field path.
    #[error("claim is invalid: {}", join_errors(.0))]
    InvalidClaim(Vec<FieldError>),
    /// The policy does not apply to this person or date.
    #[error("policy does not apply: {field}: {message}")]
    PolicyMismatch {
        /// Field of the policy that does not match.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// The accumulators are not this person-year's.
    #[error("accumulators do not match the claim: {0}")]
    AccumulatorMismatch(&'static str),
    /// The policy lacks a value the claim needs.
    #[error("policy has no value at {0}")]
    PolicyGap(String),
    /// The chronic disease code is not in the policy.
    #[error("disease code is not in the policy's chronic/special disease list")]
    UnknownDisease(String),
    /// The person holds no valid 认定 for the disease.
    #[error("person has no valid registration for the chronic/special disease")]
    ChronicNotRegistered(String),
    /// Money arithmetic overflowed.
    #[error("money arithmetic overflowed")]
    Overflow,
    /// An accounting identity of DOMAIN §1.1 failed (a bug, never a caller error).
    #[error("accounting identity violated: {0}")]
    IdentityViolated(&'static str),
    /// Applying a delta would make a counter negative.
    #[error("accumulator would go negative: {0}")]
    AccumulatorUnderflow(String),
}

impl EngineError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::InvalidClaim(_) => "SETTLEMENT_CLAIM_INVALID",
            EngineError::PolicyMismatch { .. } => "SETTLEMENT_POLICY_MISMATCH",
            EngineError::AccumulatorMismatch(_) => "SETTLEMENT_ACCUMULATOR_MISMATCH",
            EngineError::PolicyGap(_) => "SETTLEMENT_POLICY_GAP",
            EngineError::UnknownDisease(_) => "SETTLEMENT_UNKNOWN_DISEASE",
            EngineError::ChronicNotRegistered(_) => "SETTLEMENT_CHRONIC_NOT_REGISTERED",
            EngineError::Overflow => "SETTLEMENT_OVERFLOW",
            EngineError::IdentityViolated(_) => "SETTLEMENT_IDENTITY_VIOLATED",
            EngineError::AccumulatorUnderflow(_) => "SETTLEMENT_ACCUMULATOR_UNDERFLOW",
        }
    }
}

impl From<MoneyOverflow> for EngineError {
    fn from(_: MoneyOverflow) -> EngineError {
        EngineError::Overflow
    }
}

impl From<ClaimError> for EngineError {
    fn from(e: ClaimError) -> EngineError {
        match e {
            ClaimError::Invalid(v) => EngineError::InvalidClaim(v),
            ClaimError::Overflow => EngineError::Overflow,
        }
    }
}

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
    /// Field-by-field `self − other` of the money fields (the rate is kept from `self`): what a
    /// partial refund gives back per layer.
    pub fn minus(&self, o: &Breakdown) -> Result<Breakdown, EngineError> {
        Ok(Breakdown {
            medfee_sumamt: self.medfee_sumamt.checked_sub(o.medfee_sumamt)?,
            fulamt_ownpay_amt: self.fulamt_ownpay_amt.checked_sub(o.fulamt_ownpay_amt)?,
            overlmt_selfpay: self.overlmt_selfpay.checked_sub(o.overlmt_selfpay)?,
            preselfpay_amt: self.preselfpay_amt.checked_sub(o.preselfpay_amt)?,
            inscp_scp_amt: self.inscp_scp_amt.checked_sub(o.inscp_scp_amt)?,
            act_pay_dedc: self.act_pay_dedc.checked_sub(o.act_pay_dedc)?,
            hifp_pay: self.hifp_pay.checked_sub(o.hifp_pay)?,
            pool_prop_selfpay: self.pool_prop_selfpay,
            cvlserv_pay: self.cvlserv_pay.checked_sub(o.cvlserv_pay)?,
            hifes_pay: self.hifes_pay.checked_sub(o.hifes_pay)?,
            hifmi_pay: self.hifmi_pay.checked_sub(o.hifmi_pay)?,
            hifob_pay: self.hifob_pay.checked_sub(o.hifob_pay)?,
            maf_pay: self.maf_pay.checked_sub(o.maf_pay)?,
            hifdm_pay: self.hifdm_pay.checked_sub(o.hifdm_pay)?,
            oth_pay: self.oth_pay.checked_sub(o.oth_pay)?,
            backstop_pay: self.backstop_pay.checked_sub(o.backstop_pay)?,
            supplement_pay: self.supplement_pay.checked_sub(o.supplement_pay)?,
            fund_pay_sumamt: self.fund_pay_sumamt.checked_sub(o.fund_pay_sumamt)?,
            hosp_part_amt: self.hosp_part_amt.checked_sub(o.hosp_part_amt)?,
            psn_part_amt: self.psn_part_amt.checked_sub(o.psn_part_amt)?,
            insurer_pay: self.insurer_pay.checked_sub(o.insurer_pay)?,
            acct_pay: self.acct_pay.checked_sub(o.acct_pay)?,
            acct_mulaid_pay: self.acct_mulaid_pay.checked_sub(o.acct_mulaid_pay)?,
            psn_cash_pay: self.psn_cash_pay.checked_sub(o.psn_cash_pay)?,
        })
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
    fn new(field: Field, rule: Rule, amount: Fen, base: Fen) -> Explanation {
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

/// The result of a settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// Institution.
    pub institution_code: String,
    /// Encounter number.
    pub encounter_no: String,
    /// Kind.
    pub kind: EncounterKind,
    /// Disease code of a chronic claim.
    pub disease_code: Option<String>,
    /// Date settled (the claim's end date).
    pub settled_on: NaiveDate,
    /// Insurance year.
    pub year: i32,
    /// Policy id applied.
    pub policy_id: String,
    /// Policy version applied.
    pub policy_version: u32,
    /// Scheme.
    pub scheme: Scheme,
    /// Insured region (参保地).
    pub insured_region: RegionCode,
    /// Place of treatment (就医地).
    pub treatment_region: RegionCode,
    /// True when treated outside the insured pooling region.
    pub cross_region: bool,
    /// Categories snapshot.
    pub categories: Vec<PersonCategory>,
    /// Breakdown.
    pub breakdown: Breakdown,
    /// Per-item split, in claim order.
    pub items: Vec<ItemSplit>,
    /// Layer lines.
    pub layers: Vec<LayerLine>,
    /// One explanation per breakdown amount (and per commercial product).
    pub explanations: Vec<Explanation>,
    /// Accumulators after this settlement.
    pub accumulators_after: Accumulators,
    /// Change of the accumulators made by this settlement.
    pub delta: AccumulatorDelta,
}

/// The result of refunding some items of a settled claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRefund {
    /// The re-settlement of the remaining items; none when no item remains (a full reversal).
    pub settlement: Option<Settlement>,
    /// Amounts given back per field (original − new).
    pub refund: Breakdown,
    /// Change to apply to the current accumulators (new delta − original delta).
    pub delta: AccumulatorDelta,
    /// The current accumulators with `delta` applied.
    pub accumulators_after: Accumulators,
}

/// Refunds the items at `removed` (indices into `claim.items`) of a settled claim: re-settles
/// the remaining items against the accumulators as they were before the original claim
/// (`current − original.delta`), gives back the difference and returns the combined delta.
pub fn refund_items(
    original: &Settlement,
    claim: &Claim,
    removed: &[usize],
    eligibility: &EligibilitySnapshot,
    current: &Accumulators,
    policy: &PolicyDocument,
) -> Result<ItemRefund, EngineError> {
    let errors: Vec<FieldError> = removed
        .iter()
        .filter(|i| **i >= claim.items.len())
        .map(|i| FieldError::new(format!("items[{i}]"), "no such item"))
        .collect();
    if !errors.is_empty() {
        return Err(EngineError::InvalidClaim(errors));
    }
    let undo = original.delta.negated()?;
    let before = apply_delta(current, &undo)?;
    let mut rest = claim.clone();
    rest.items = claim
        .items
        .iter()
        .enumerate()
        .filter(|(i, _)| !removed.contains(i))
        .map(|(_, it)| it.clone())
        .collect();
    if rest.items.is_empty() {
        let accumulators_after = apply_delta(current, &undo)?;
        return Ok(ItemRefund {
            settlement: None,
            refund: original.breakdown,
            delta: undo,
            accumulators_after,
        });
    }
    let new = settle(&rest, eligibility, &before, policy)?;
    let delta = undo.plus(&new.delta)?;
    let accumulators_after = apply_delta(current, &delta)?;
    let refund = original.breakdown.minus(&new.breakdown)?;
    Ok(ItemRefund {
        settlement: Some(new),
        refund,
        delta,
        accumulators_after,
    })
}

fn level_key(policy: &PolicyDocument, claim: &Claim) -> LevelKey {
    match policy.level_basis {
        LevelBasis::Tier => claim.tier.into(),
        LevelBasis::Grade => claim.grade.into(),
    }
}

fn minus_bp(rate: Bp, less: Bp) -> Bp {
    Bp(rate.0.saturating_sub(less.0))
}

fn add_to(map: &mut BTreeMap<String, Fen>, key: &str, amount: Fen) -> Result<(), MoneyOverflow> {
    if amount != Fen::ZERO {
        let cur = map.get(key).copied().unwrap_or(Fen::ZERO);
        map.insert(key.to_string(), cur.checked_add(amount)?);
    }
    Ok(())
}

/// Remaining room under an optional limit.
fn room(limit: Option<Fen>, used: Fen) -> Option<Fen> {
    limit.map(|l| l.saturating_sub_floor0(used))
}

fn bounded(raw: Fen, room: Option<Fen>) -> (Fen, Option<Fen>) {
    match room {
        Some(r) if raw > r => (r, Some(r)),
        _ => (raw, None),
    }
}

/// Settles a claim for a person against their accumulators and the insured region's policy.
/// Side-effect free: the caller commits `accumulators_after` (settle) or discards it (pre-settle).
pub fn settle(
    claim: &Claim,
    eligibility: &EligibilitySnapshot,
    accumulators: &Accumulators,
    policy: &PolicyDocument,
) -> Result<Settlement, EngineError> {
    validate_claim(claim)?;
    let year = claim.end_date.year();
    if policy.scheme != eligibility.scheme {
        return Err(EngineError::PolicyMismatch {
            field: "scheme",
            message: "the policy is for another scheme".into(),
        });
    }
    if !policy.region.covers(&eligibility.insured_region) {
        return Err(EngineError::PolicyMismatch {
            field: "region",
            message: "the policy's region does not cover the insured region".into(),
        });
    }
    if policy.year != year || policy.effective_from > claim.end_date {
        return Err(EngineError::PolicyMismatch {
            field: "year",
            message: "the policy is not in force on the claim's end date".into(),
        });
    }
    if accumulators.year != year {
        return Err(EngineError::AccumulatorMismatch("year"));
    }
    if accumulators.region != eligibility.insured_region {
        return Err(EngineError::AccumulatorMismatch("region"));
    }

    let treatment_region = claim.institution_code.region();
    let pooling = policy.pooling_region.as_ref().unwrap_or(&policy.region);
    let cross_region =
        !eligibility.insured_region.covers(&treatment_region) && !pooling.covers(&treatment_region);
    let in_province = treatment_region.province() == eligibility.insured_region.province();
    let reduction = if cross_region {
        let cr = &policy.cross_region;
        match eligibility.cross_region_filing {
            None => cr.unfiled_reduction,
            Some(CrossRegionFiling::LongTermResident) => cr.long_term_reduction,
            Some(CrossRegionFiling::Referral) => cr.referral_reduction,
            Some(CrossRegionFiling::Emergency) => cr.emergency_reduction,
            Some(CrossRegionFiling::OtherTemporary) => cr.other_temporary_reduction,
        }
    } else {
        Bp::ZERO
    };

    let split = split_claim(&claim.items, policy.preselfpay_share)?;
    let t = split.totals;
    let mut acc = accumulators.clone();
    let mut bd = Breakdown {
        medfee_sumamt: t.medfee_sumamt,
        fulamt_ownpay_amt: t.fulamt_ownpay_amt,
        overlmt_selfpay: t.overlmt_selfpay,
        preselfpay_amt: t.preselfpay_amt,
        inscp_scp_amt: t.inscp_scp_amt,
        ..Breakdown::default()
    };
    let mut layers = Vec::with_capacity(6);
    let mut ex = Vec::with_capacity(26);
    ex.push(Explanation::new(
        Field::MedfeeSumamt,
        Rule::ItemsTotal,
        t.medfee_sumamt,
        t.medfee_sumamt,
    ));
    ex.push(Explanation::new(
        Field::FulamtOwnpayAmt,
        Rule::OutOfCatalogue,
        t.fulamt_ownpay_amt,
        t.fulamt_ownpay_amt,
    ));
    ex.push(Explanation::new(
        Field::OverlmtSelfpay,
        Rule::AbovePaymentStandard,
        t.overlmt_selfpay,
        t.overlmt_selfpay,
    ));
    let b_eligible = claim
        .items
        .iter()
        .zip(&split.items)
        .filter(|(it, _)| it.class == super::ItemClass::B)
        .try_fold(Fen::ZERO, |s, (_, sp)| {
            s.checked_add(sp.preselfpay_amt)?
                .checked_add(sp.inscp_scp_amt)
        })?;
    ex.push(Explanation {
        rate: Some(policy.preselfpay_share),
        ..Explanation::new(
            Field::PreselfpayAmt,
            Rule::FirstSelfPay,
            t.preselfpay_amt,
            b_eligible,
        )
    });
    ex.push(Explanation::new(
        Field::InscpScpAmt,
        Rule::PolicyRange,
        t.inscp_scp_amt,
        t.medfee_sumamt,
    ));

    let pool_type = match policy.scheme {
        Scheme::Employee => FundPayType::EmployeePool,
        Scheme::Resident => FundPayType::ResidentPool,
    };
    let level = level_key(policy, claim);
    let tilt = policy
        .basic
        .category_tilts
        .iter()
        .filter(|ct| eligibility.categories.contains(&ct.category))
        .map(|ct| ct.plus)
        .max()
        .unwrap_or(Bp::ZERO);
    let inscp = t.inscp_scp_amt;

    // ---- Layer 1: basic pool -------------------------------------------------------------
    let mut scope_kind = claim.kind;
    let (dedc, hifp, rate, l1_rule) = match claim.kind {
        EncounterKind::Maternity if policy.maternity.is_some() => {
            let flat = policy
                .maternity
                .as_ref()
                .map(|m| m.flat_amount)
                .unwrap_or(Fen::ZERO);
            let cap_room = room(policy.basic.annual_cap, acc.pool_paid);
            let (pay, lim) = bounded(inscp.min(flat), cap_room);
            acc.pool_paid = acc.pool_paid.checked_add(pay)?;
            layers.push(LayerLine {
                layer: Layer::Maternity,
                fund_pay_type: pool_type,
                code: None,
                base: inscp,
                rate: Bp::ZERO,
                amount: pay,
                crt_payb_lmt_amt: cap_room,
                limit_remaining: room(policy.basic.annual_cap, acc.pool_paid),
            });
            (
                Fen::ZERO,
                pay,
                Bp::ZERO,
                Explanation {
                    less: flat,
                    limit: lim,
                    ..Explanation::new(Field::HifpPay, Rule::MaternityFlat, pay, inscp)
                },
            )
        }
        EncounterKind::Inpatient | EncounterKind::Maternity => {
            let rule = policy.deductible_for(level).ok_or_else(|| {
                EngineError::PolicyGap(format!("basic.deductibles[level={level:?}]"))
            })?;
            let base_rate = policy
                .rate_for(level)
                .ok_or_else(|| EngineError::PolicyGap(format!("basic.rates[level={level:?}]")))?;
            let mut amount = rule.amount;
            if policy.basic.deductible_basis == DeductibleBasis::PerAdmission && acc.admissions > 0
            {
                amount = amount.min(rule.repeat_admission.unwrap_or(amount));
            }
            for c in &rule.by_category {
                if eligibility.categories.contains(&c.category) {
                    amount = amount.min(c.amount);
                }
            }
            let remaining = match policy.basic.deductible_basis {
                DeductibleBasis::PerAdmission => amount,
                DeductibleBasis::Annual => amount.saturating_sub_floor0(acc.deductible_used),
            };
            let dedc = inscp.min(remaining);
            let rate = minus_bp(base_rate.plus_capped(tilt), reduction);
            let raw = inscp.checked_sub(dedc)?.at_rate(rate);
            let cap_room = room(policy.basic.annual_cap, acc.pool_paid);
            let (pay, lim) = bounded(raw, cap_room);
            acc.deductible_used = acc.deductible_used.checked_add(dedc)?;
            acc.admissions = acc.admissions.checked_add(1).ok_or(EngineError::Overflow)?;
            acc.pool_paid = acc.pool_paid.checked_add(pay)?;
            layers.push(LayerLine {
                layer: Layer::BasicPool,
                fund_pay_type: pool_type,
                code: None,
                base: inscp.checked_sub(dedc)?,
                rate,
                amount: pay,
                crt_payb_lmt_amt: cap_room,
                limit_remaining: room(policy.basic.annual_cap, acc.pool_paid),
            });
            ex.push(Explanation {
                less: remaining,
                ..Explanation::new(Field::ActPayDedc, Rule::Deductible, dedc, inscp)
            });
            (
                dedc,
                pay,
                rate,
                Explanation {
                    less: dedc,
                    rate: Some(rate),
                    limit: lim,
                    ..Explanation::new(Field::HifpPay, Rule::BasicPoolRate, pay, inscp)
                },
            )
        }
        EncounterKind::GeneralOutpatient | EncounterKind::Pharmacy => {
            let pool = policy.outpatient_pools.iter().find(|p| {
                p.encounter_kinds.contains(&claim.kind)
                    && (p.categories.is_empty() || eligibility.holds_any(&p.categories))
            });
            match pool {
                None => {
                    let reason = if policy
                        .outpatient_pools
                        .iter()
                        .any(|p| p.encounter_kinds.contains(&claim.kind))
                    {
                        Reason::CategoryNotEligible
                    } else {
                        Reason::NotInPolicy
                    };
                    (
                        Fen::ZERO,
                        Fen::ZERO,
                        Bp::ZERO,
                        Explanation::new(
                            Field::HifpPay,
                            Rule::NotApplied(reason),
                            Fen::ZERO,
                            inscp,
                        ),
                    )
                }
                Some(p) => {
                    let dedc = inscp.min(p.per_visit_deductible);
                    let rate = minus_bp(p.rate, reduction);
                    let raw = inscp.checked_sub(dedc)?.at_rate(rate);
                    let used = acc
                        .outpatient_pools
                        .get(&p.code)
                        .copied()
                        .unwrap_or(Fen::ZERO);
                    let lim_room = Some(p.annual_limit.saturating_sub_floor0(used));
                    let (pay, lim) = bounded(raw, lim_room);
                    add_to(&mut acc.outpatient_pools, &p.code, pay)?;
                    layers.push(LayerLine {
                        layer: Layer::OutpatientPool,
                        fund_pay_type: pool_type,
                        code: Some(p.code.clone()),
                        base: inscp.checked_sub(dedc)?,
                        rate,
                        amount: pay,
                        crt_payb_lmt_amt: lim_room,
                        limit_remaining: Some(
                            p.annual_limit.saturating_sub_floor0(used.checked_add(pay)?),
                        ),
                    });
                    ex.push(Explanation {
                        less: p.per_visit_deductible,
                        ..Explanation::new(Field::ActPayDedc, Rule::Deductible, dedc, inscp)
                    });
                    (
                        dedc,
                        pay,
                        rate,
                        Explanation {
                            less: dedc,
                            rate: Some(rate),
                            limit: lim,
                            ..Explanation::new(Field::HifpPay, Rule::OutpatientPoolRate, pay, inscp)
                        },
                    )
                }
            }
        }
        EncounterKind::OutpatientChronic => {
            let code = claim.disease_code.as_deref().unwrap_or_default();
            let disease = policy
                .chronic_disease(code)
                .ok_or_else(|| EngineError::UnknownDisease(code.to_string()))?;
            if !eligibility.chronic_registrations.iter().any(|c| c == code) {
                return Err(EngineError::ChronicNotRegistered(code.to_string()));
            }
            let rate = if disease.settle_as_inpatient {
                scope_kind = EncounterKind::Inpatient;
                let base_rate = policy.rate_for(level).ok_or_else(|| {
                    EngineError::PolicyGap(format!("basic.rates[level={level:?}]"))
                })?;
                minus_bp(base_rate.plus_capped(tilt), reduction)
            } else {
                minus_bp(disease.rate, reduction)
            };
            let raw = inscp.at_rate(rate);
            let used = acc.chronic_used.get(code).copied().unwrap_or(Fen::ZERO);
            let lim_room = Some(disease.annual_cap.saturating_sub_floor0(used));
            let (pay, lim) = bounded(raw, lim_room);
            add_to(&mut acc.chronic_used, code, pay)?;
            layers.push(LayerLine {
                layer: Layer::ChronicDisease,
                fund_pay_type: pool_type,
                code: Some(code.to_string()),
                base: inscp,
                rate,
                amount: pay,
                crt_payb_lmt_amt: lim_room,
                limit_remaining: Some(
                    disease
                        .annual_cap
                        .saturating_sub_floor0(used.checked_add(pay)?),
                ),
            });
            (
                Fen::ZERO,
                pay,
                rate,
                Explanation {
                    rate: Some(rate),
                    limit: lim,
                    ..Explanation::new(Field::HifpPay, Rule::ChronicDiseaseRate, pay, inscp)
                },
            )
        }
    };
    if !ex.iter().any(|e| e.field == Field::ActPayDedc) {
        ex.push(Explanation::new(
            Field::ActPayDedc,
            Rule::NotApplied(Reason::NotInPolicy),
            Fen::ZERO,
            inscp,
        ));
    }
    bd.act_pay_dedc = dedc;
    bd.hifp_pay = hifp;
    bd.pool_prop_selfpay = rate;
    ex.push(l1_rule);
    let mut residual = inscp.checked_sub(hifp)?;
    for f in [Field::CvlservPay, Field::HifesPay] {
        ex.push(Explanation::new(
            f,
            Rule::NotApplied(Reason::NotSettledHere),
            Fen::ZERO,
            Fen::ZERO,
        ));
    }

    // ---- Layer 2: critical illness -------------------------------------------------------
    let (ci_field, other_ci_field, ci_type) = match policy.scheme {
        Scheme::Resident => (
            Field::HifmiPay,
            Field::HifobPay,
            FundPayType::ResidentCriticalIllness,
        ),
        Scheme::Employee => (
            Field::HifobPay,
            Field::HifmiPay,
            FundPayType::EmployeeLargeAmount,
        ),
    };
    let ci_expl = match &policy.critical_illness {
        None => Explanation::new(
            ci_field,
            Rule::NotApplied(Reason::NotInPolicy),
            Fen::ZERO,
            residual,
        ),
        Some(ci) if !ci.encounter_kinds.contains(&scope_kind) => Explanation::new(
            ci_field,
            Rule::NotApplied(Reason::KindNotInScope),
            Fen::ZERO,
            residual,
        ),
        Some(ci) => {
            let poor = ci
                .poor_tilt
                .as_ref()
                .filter(|t| eligibility.holds_any(&t.categories));
            let threshold = poor.map_or(ci.threshold, |t| ci.threshold.at_rate(t.threshold_share));
            let plus = poor.map_or(Bp::ZERO, |t| t.rate_plus);
            let prior = acc.critical_base;
            let cumulative = prior.checked_add(residual)?;
            let over_before = prior.saturating_sub_floor0(threshold);
            let over_after = cumulative.saturating_sub_floor0(threshold);
            let mut raw = Fen::ZERO;
            let mut lo = Fen::ZERO;
            let mut first_rate = None;
            for band in &ci.bands {
                let hi = band.up_to;
                let seg_lo = lo.max(over_before);
                let seg_hi = hi.map_or(over_after, |h| h.min(over_after));
                if seg_hi > seg_lo {
                    let r = band.rate.plus_capped(plus);
                    first_rate.get_or_insert(r);
                    raw = raw.checked_add(seg_hi.checked_sub(seg_lo)?.at_rate(r))?;
                }
                match hi {
                    Some(h) => lo = h,
                    None => break,
                }
            }
            let first_rate = first_rate.unwrap_or_else(|| {
                ci.bands
                    .first()
                    .map_or(Bp::ZERO, |b| b.rate.plus_capped(plus))
            });
            let cap = if poor.is_some_and(|t| t.no_cap) {
                None
            } else {
                ci.annual_cap
            };
            let cap_room = room(cap, acc.critical_paid);
            let (pay, lim) = bounded(raw.min(residual), cap_room);
            acc.critical_base = cumulative;
            acc.critical_paid = acc.critical_paid.checked_add(pay)?;
            let counted = over_after.checked_sub(over_before)?;
            layers.push(LayerLine {
                layer: Layer::CriticalIllness,
                fund_pay_type: ci_type,
                code: None,
                base: counted,
                rate: first_rate,
                amount: pay,
                crt_payb_lmt_amt: cap_room,
                limit_remaining: room(cap, acc.critical_paid),
            });
            Explanation {
                less: residual.checked_sub(counted)?,
                rate: Some(first_rate),
                limit: lim,
                ..Explanation::new(ci_field, Rule::CriticalIllnessBands, pay, residual)
            }
        }
    };
    match ci_field {
        Field::HifmiPay => bd.hifmi_pay = ci_expl.amount,
        _ => bd.hifob_pay = ci_expl.amount,
    }
    residual = residual.checked_sub(ci_expl.amount)?;
    ex.push(ci_expl);
    ex.push(Explanation::new(
        other_ci_field,
        Rule::NotApplied(Reason::OtherScheme),
        Fen::ZERO,
        Fen::ZERO,
    ));

    // ---- Layer 3: medical assistance -----------------------------------------------------
    let maf = match &policy.assistance {
        None => Explanation::new(
            Field::MafPay,
            Rule::NotApplied(Reason::NotInPolicy),
            Fen::ZERO,
            residual,
        ),
        Some(a) if !a.encounter_kinds.contains(&scope_kind) => Explanation::new(
            Field::MafPay,
            Rule::NotApplied(Reason::KindNotInScope),
            Fen::ZERO,
            residual,
        ),
        Some(a) => match a
            .rules
            .iter()
            .find(|r| eligibility.categories.contains(&r.category))
        {
            None => Explanation::new(
                Field::MafPay,
                Rule::NotApplied(Reason::CategoryNotEligible),
                Fen::ZERO,
                residual,
            ),
            Some(r) => {
                let ded_room = r
                    .annual_deductible
                    .saturating_sub_floor0(acc.assistance_deductible_used);
                let consumed = residual.min(ded_room);
                let raw = residual.checked_sub(consumed)?.at_rate(r.rate);
                let lim_room = room(r.annual_limit, acc.assistance_paid);
                let (pay, lim) = bounded(raw, lim_room);
                acc.assistance_deductible_used =
                    acc.assistance_deductible_used.checked_add(consumed)?;
                acc.assistance_paid = acc.assistance_paid.checked_add(pay)?;
                layers.push(LayerLine {
                    layer: Layer::MedicalAssistance,
                    fund_pay_type: FundPayType::MedicalAssistance,
                    code: None,
                    base: residual.checked_sub(consumed)?,
                    rate: r.rate,
                    amount: pay,
                    crt_payb_lmt_amt: lim_room,
                    limit_remaining: room(r.annual_limit, acc.assistance_paid),
                });
                Explanation {
                    less: consumed,
                    rate: Some(r.rate),
                    limit: lim,
                    ..Explanation::new(Field::MafPay, Rule::AssistanceRate, pay, residual)
                }
            }
        },
    };
    bd.maf_pay = maf.amount;
    residual = residual.checked_sub(maf.amount)?;
    ex.push(maf);
    ex.push(Explanation::new(
        Field::HifdmPay,
        Rule::NotApplied(Reason::NotSettledHere),
        Fen::ZERO,
        Fen::ZERO,
    ));

    // ---- Layer 4a: government backstop "351" ---------------------------------------------
    let mut backstop_applies = false;
    let backstop = match &policy.backstop {
        None => Explanation::new(
            Field::BackstopPay,
            Rule::NotApplied(Reason::NotInPolicy),
            Fen::ZERO,
            residual,
        ),
        Some(b) if !b.encounter_kinds.contains(&scope_kind) => Explanation::new(
            Field::BackstopPay,
            Rule::NotApplied(Reason::KindNotInScope),
            Fen::ZERO,
            residual,
        ),
        Some(b) if !eligibility.holds_any(&b.categories) => Explanation::new(
            Field::BackstopPay,
            Rule::NotApplied(Reason::CategoryNotEligible),
            Fen::ZERO,
            residual,
        ),
        Some(b) if b.in_province_only && !in_province => Explanation::new(
            Field::BackstopPay,
            Rule::NotApplied(Reason::OutOfProvince),
            Fen::ZERO,
            residual,
        ),
        Some(b) => {
            backstop_applies = true;
            let visits = acc.tier_visits.get(&claim.tier).copied().unwrap_or(0);
            acc.tier_visits.insert(
                claim.tier,
                visits.checked_add(1).ok_or(EngineError::Overflow)?,
            );
            let highest = acc.highest_tier().unwrap_or(claim.tier);
            let cap = b
                .tier_caps
                .iter()
                .find(|c| c.tier == highest)
                .map(|c| c.cap)
                .ok_or_else(|| {
                    EngineError::PolicyGap(format!("backstop.tier_caps[tier={highest:?}]"))
                })?;
            let open = cap.saturating_sub_floor0(acc.backstop_oop);
            let pay = residual.saturating_sub_floor0(open);
            acc.backstop_paid = acc.backstop_paid.checked_add(pay)?;
            layers.push(LayerLine {
                layer: Layer::Backstop,
                fund_pay_type: FundPayType::GovernmentBackstop,
                code: None,
                base: residual,
                rate: Bp::ZERO,
                amount: pay,
                crt_payb_lmt_amt: Some(open),
                limit_remaining: Some(open.saturating_sub_floor0(residual)),
            });
            Explanation {
                less: open,
                ..Explanation::new(Field::BackstopPay, Rule::BackstopCap, pay, residual)
            }
        }
    };
    bd.backstop_pay = backstop.amount;
    residual = residual.checked_sub(backstop.amount)?;
    ex.push(backstop);

    // ---- Layer 4b: "180" chronic-disease supplement --------------------------------------
    let supp = match &policy.chronic_supplement {
        None => Explanation::new(
            Field::SupplementPay,
            Rule::NotApplied(Reason::NotInPolicy),
            Fen::ZERO,
            residual,
        ),
        Some(s) if !s.encounter_kinds.contains(&claim.kind) => Explanation::new(
            Field::SupplementPay,
            Rule::NotApplied(Reason::KindNotInScope),
            Fen::ZERO,
            residual,
        ),
        Some(s) if !eligibility.holds_any(&s.categories) => Explanation::new(
            Field::SupplementPay,
            Rule::NotApplied(Reason::CategoryNotEligible),
            Fen::ZERO,
            residual,
        ),
        Some(s) => {
            let raw = residual.at_rate(s.rate);
            let lim_room = room(s.annual_cap, acc.chronic_supplement_paid);
            let (pay, lim) = bounded(raw, lim_room);
            acc.chronic_supplement_paid = acc.chronic_supplement_paid.checked_add(pay)?;
            layers.push(LayerLine {
                layer: Layer::ChronicSupplement,
                fund_pay_type: FundPayType::ChronicSupplement,
                code: None,
                base: residual,
                rate: s.rate,
                amount: pay,
                crt_payb_lmt_amt: lim_room,
                limit_remaining: room(s.annual_cap, acc.chronic_supplement_paid),
            });
            Explanation {
                rate: Some(s.rate),
                limit: lim,
                ..Explanation::new(
                    Field::SupplementPay,
                    Rule::ChronicSupplementRate,
                    pay,
                    residual,
                )
            }
        }
    };
    bd.supplement_pay = supp.amount;
    residual = residual.checked_sub(supp.amount)?;
    ex.push(supp);
    if backstop_applies {
        // The backstop counts what the person finally pays of the compliant cost.
        acc.backstop_oop = acc.backstop_oop.checked_add(residual)?;
    }
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

    // ---- Commercial supplementary products (insurer layer) -------------------------------
    // Pots the products may draw on, in the order they are drawn: compliant residual, then the
    // 乙类 first self-pay, then out-of-catalogue items.
    let mut pots = [residual, bd.preselfpay_amt, bd.fulamt_ownpay_amt];
    let mut any_product = false;
    for p in &policy.supplements {
        if !eligibility.supplement_products.iter().any(|c| c == &p.code)
            || !p.encounter_kinds.contains(&claim.kind)
        {
            continue;
        }
        any_product = true;
        let covered = Fen::sum([
            pots[0],
            if p.covers_preselfpay {
                pots[1]
            } else {
                Fen::ZERO
            },
            if p.covers_out_of_catalogue {
                pots[2]
            } else {
                Fen::ZERO
            },
        ])?;
        let used = acc.supplements.get(&p.code).copied().unwrap_or_default();
        let ded_room = p
            .annual_deductible
            .saturating_sub_floor0(used.deductible_used);
        let consumed = covered.min(ded_room);
        let raw = covered.checked_sub(consumed)?.at_rate(p.rate);
        let lim_room = Some(p.annual_cap.saturating_sub_floor0(used.paid));
        let (pay, lim) = bounded(raw, lim_room);
        let mut left = pay;
        for (i, pot) in pots.iter_mut().enumerate() {
            let allowed =
                i == 0 || (i == 1 && p.covers_preselfpay) || (i == 2 && p.covers_out_of_catalogue);
            if allowed {
                let take = left.min(*pot);
                *pot = pot.checked_sub(take)?;
                left = left.checked_sub(take)?;
            }
        }
        let now = SupplementUse {
            deductible_used: used.deductible_used.checked_add(consumed)?,
            paid: used.paid.checked_add(pay)?,
        };
        if now != SupplementUse::default() {
            acc.supplements.insert(p.code.clone(), now);
        }
        bd.insurer_pay = bd.insurer_pay.checked_add(pay)?;
        layers.push(LayerLine {
            layer: Layer::Commercial,
            fund_pay_type: FundPayType::CommercialSupplement,
            code: Some(p.code.clone()),
            base: covered,
            rate: p.rate,
            amount: pay,
            crt_payb_lmt_amt: lim_room,
            limit_remaining: Some(p.annual_cap.saturating_sub_floor0(now.paid)),
        });
        ex.push(Explanation {
            less: consumed,
            rate: Some(p.rate),
            limit: lim,
            ..Explanation::new(Field::InsurerPay, Rule::CommercialRate, pay, covered)
        });
    }
    if !any_product {
        ex.push(Explanation::new(
            Field::InsurerPay,
            Rule::NotApplied(Reason::NotPurchased),
            Fen::ZERO,
            Fen::ZERO,
        ));
    }
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

    bd.check_identities()?;
    check_layers(&bd, &layers)?;
    let delta = AccumulatorDelta::between(accumulators, &acc)?;

    Ok(Settlement {
        institution_code: claim.institution_code.as_str().to_string(),
        encounter_no: claim.encounter_no.clone(),
        kind: claim.kind,
        disease_code: claim.disease_code.clone(),
        settled_on: claim.end_date,
        year,
        policy_id: policy.id.clone(),
        policy_version: policy.version,
        scheme: policy.scheme,
        insured_region: eligibility.insured_region.clone(),
        treatment_region,
        cross_region,
        categories: eligibility.categories.clone(),
        breakdown: bd,
        items: split.items,
        layers,
        explanations: ex,
        accumulators_after: acc,
        delta,
    })
}

/// The layer lines must add up to the breakdown's lines.
fn check_layers(bd: &Breakdown, layers: &[LayerLine]) -> Result<(), EngineError> {
    let total = |pred: &dyn Fn(&LayerLine) -> bool| {
        Fen::sum(layers.iter().filter(|l| pred(l)).map(|l| l.amount))
    };
    let l1 = total(&|l| {
        matches!(
            l.layer,
            Layer::BasicPool | Layer::Maternity | Layer::OutpatientPool | Layer::ChronicDisease
        )
    })?;
    let checks = [
        (l1, bd.hifp_pay),
        (
            total(&|l| l.layer == Layer::CriticalIllness)?,
            bd.hifmi_pay.checked_add(bd.hifob_pay)?,
        ),
        (total(&|l| l.layer == Layer::MedicalAssistance)?, bd.maf_pay),
        (total(&|l| l.layer == Layer::Backstop)?, bd.backstop_pay),
        (
            total(&|l| l.layer == Layer::ChronicSupplement)?,
            bd.supplement_pay,
        ),
        (total(&|l| l.layer == Layer::Commercial)?, bd.insurer_pay),
    ];
    if checks.iter().any(|(a, b)| a != b) {
        return Err(EngineError::IdentityViolated(
            "layer lines add up to the breakdown",
        ));
    }
    Ok(())
}
