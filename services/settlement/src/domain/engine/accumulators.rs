//! Per-person-year accumulators (累计), the signed delta one settlement makes to them, and
//! applying a delta: a full reversal applies the negated delta and restores the counters exactly.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use yibao_core::{Fen, MoneyOverflow, RegionCode};

use super::{EngineError, Settlement};
use crate::domain::InstitutionTier;

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
            tier_visits: self
                .tier_visits
                .iter()
                .map(|(k, v)| Ok((*k, v.checked_neg().ok_or(MoneyOverflow)?)))
                .collect::<Result<_, MoneyOverflow>>()?,
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

    pub(super) fn between(
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
