//! Layer 2, critical illness (`hifmi_pay` for residents, `hifob_pay` for employees):
//! progressive bands on the year's cumulative compliant self-pay above the threshold, with the
//! poverty tilt.

use yibao_core::{Bp, Fen};

use super::tally::{Context, Tally, bounded, room};
use super::{EngineError, Explanation, Field, FundPayType, Layer, LayerLine, Reason, Rule};
use crate::domain::Scheme;
use crate::domain::policy::CriticalIllness;

/// Runs layer 2 on the residual of layer 1 and returns what it leaves.
pub(super) fn apply(
    cx: &Context<'_>,
    t: &mut Tally,
    mut residual: Fen,
) -> Result<Fen, EngineError> {
    let Context {
        eligibility,
        policy,
        ..
    } = *cx;
    let scope_kind = t.scope_kind;
    let Tally {
        acc,
        bd,
        layers,
        ex,
        ..
    } = t;
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
            let (raw, first_rate) = banded(ci, plus, over_before, over_after)?;
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
    Ok(residual)
}

/// The bands' payment on the part of the cumulative self-pay above the threshold that this
/// claim adds (`over_before..over_after`), and the rate of the first band it reaches.
fn banded(
    ci: &CriticalIllness,
    plus: Bp,
    over_before: Fen,
    over_after: Fen,
) -> Result<(Fen, Bp), EngineError> {
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
    Ok((raw, first_rate))
}
