//! Layer 1, the basic pool (`hifp_pay`), with its deductible (起付线): inpatient deductible and
//! rate by level, or a general-outpatient pool, or a chronic/special disease's own rate and cap,
//! or a maternity flat benefit.

use yibao_core::{Bp, Fen};

use super::tally::{Context, Tally, add_to, bounded, minus_bp, room};
use super::{EngineError, Explanation, Field, Layer, LayerLine, Reason, Rule};
use crate::domain::EncounterKind;
use crate::domain::policy::DeductibleBasis;

/// What layer 1 paid: the deductible consumed, the payment, the rate and its explanation.
type Paid = (Fen, Fen, Bp, Explanation);

/// Runs layer 1 on the policy range and returns the residual it leaves.
pub(super) fn apply(cx: &Context<'_>, t: &mut Tally) -> Result<Fen, EngineError> {
    let inscp = t.bd.inscp_scp_amt;
    let (dedc, hifp, rate, l1_rule) = match cx.claim.kind {
        EncounterKind::Maternity if cx.policy.maternity.is_some() => maternity(cx, t, inscp)?,
        EncounterKind::Inpatient | EncounterKind::Maternity => inpatient(cx, t, inscp)?,
        EncounterKind::GeneralOutpatient | EncounterKind::Pharmacy => outpatient(cx, t, inscp)?,
        EncounterKind::OutpatientChronic => chronic_disease(cx, t, inscp)?,
    };
    let Tally { bd, ex, .. } = t;
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
    let residual = inscp.checked_sub(hifp)?;
    for f in [Field::CvlservPay, Field::HifesPay] {
        ex.push(Explanation::new(
            f,
            Rule::NotApplied(Reason::NotSettledHere),
            Fen::ZERO,
            Fen::ZERO,
        ));
    }
    Ok(residual)
}

/// Maternity flat benefit, within the pool's annual cap.
fn maternity(cx: &Context<'_>, t: &mut Tally, inscp: Fen) -> Result<Paid, EngineError> {
    let Context {
        policy, pool_type, ..
    } = *cx;
    let Tally { acc, layers, .. } = t;
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
    Ok((
        Fen::ZERO,
        pay,
        Bp::ZERO,
        Explanation {
            less: flat,
            limit: lim,
            ..Explanation::new(Field::HifpPay, Rule::MaternityFlat, pay, inscp)
        },
    ))
}

/// Inpatient (and maternity without a flat benefit): deductible and rate by level, with the
/// category tilt and the cross-region reduction, within the pool's annual cap.
fn inpatient(cx: &Context<'_>, t: &mut Tally, inscp: Fen) -> Result<Paid, EngineError> {
    let Context {
        eligibility,
        policy,
        level,
        tilt,
        reduction,
        pool_type,
        ..
    } = *cx;
    let Tally {
        acc, layers, ex, ..
    } = t;
    let rule = policy
        .deductible_for(level)
        .ok_or_else(|| EngineError::PolicyGap(format!("basic.deductibles[level={level:?}]")))?;
    let base_rate = policy
        .rate_for(level)
        .ok_or_else(|| EngineError::PolicyGap(format!("basic.rates[level={level:?}]")))?;
    let mut amount = rule.amount;
    if policy.basic.deductible_basis == DeductibleBasis::PerAdmission && acc.admissions > 0 {
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
    Ok((
        dedc,
        pay,
        rate,
        Explanation {
            less: dedc,
            rate: Some(rate),
            limit: lim,
            ..Explanation::new(Field::HifpPay, Rule::BasicPoolRate, pay, inscp)
        },
    ))
}

/// General outpatient and pharmacy: the first pool of the kind the person may use.
fn outpatient(cx: &Context<'_>, t: &mut Tally, inscp: Fen) -> Result<Paid, EngineError> {
    let Context {
        claim,
        eligibility,
        policy,
        reduction,
        pool_type,
        ..
    } = *cx;
    let Tally {
        acc, layers, ex, ..
    } = t;
    let pool = policy.outpatient_pools.iter().find(|p| {
        p.encounter_kinds.contains(&claim.kind)
            && (p.categories.is_empty() || eligibility.holds_any(&p.categories))
    });
    Ok(match pool {
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
                Explanation::new(Field::HifpPay, Rule::NotApplied(reason), Fen::ZERO, inscp),
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
                limit_remaining: Some(p.annual_limit.saturating_sub_floor0(used.checked_add(pay)?)),
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
    })
}

/// Chronic/special disease (门诊慢特病): the disease's rate and cap, no deductible; a disease
/// settled as inpatient takes the inpatient rate and the later layers' inpatient scope.
fn chronic_disease(cx: &Context<'_>, t: &mut Tally, inscp: Fen) -> Result<Paid, EngineError> {
    let Context {
        claim,
        eligibility,
        policy,
        level,
        tilt,
        reduction,
        pool_type,
        ..
    } = *cx;
    let Tally {
        acc,
        layers,
        scope_kind,
        ..
    } = t;
    let code = claim.disease_code.as_deref().unwrap_or_default();
    let disease = policy
        .chronic_disease(code)
        .ok_or_else(|| EngineError::UnknownDisease(code.to_string()))?;
    if !eligibility.chronic_registrations.iter().any(|c| c == code) {
        return Err(EngineError::ChronicNotRegistered(code.to_string()));
    }
    let rate = if disease.settle_as_inpatient {
        *scope_kind = EncounterKind::Inpatient;
        let base_rate = policy
            .rate_for(level)
            .ok_or_else(|| EngineError::PolicyGap(format!("basic.rates[level={level:?}]")))?;
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
    Ok((
        Fen::ZERO,
        pay,
        rate,
        Explanation {
            rate: Some(rate),
            limit: lim,
            ..Explanation::new(Field::HifpPay, Rule::ChronicDiseaseRate, pay, inscp)
        },
    ))
}
