//! Layer 4a, the government backstop "351" (`oth_pay`, backstop line): caps the year's
//! compliant out-of-pocket by the highest tier visited.

use yibao_core::{Bp, Fen};

use super::tally::{Context, Tally};
use super::{EngineError, Explanation, Field, FundPayType, Layer, LayerLine, Reason, Rule};

/// Runs layer 4a on the residual of layer 3; returns what it leaves and whether the backstop
/// applies (it then counts what the person finally pays, after the "180" supplement).
pub(super) fn apply(
    cx: &Context<'_>,
    t: &mut Tally,
    mut residual: Fen,
) -> Result<(Fen, bool), EngineError> {
    let Context {
        claim,
        eligibility,
        policy,
        in_province,
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
    Ok((residual, backstop_applies))
}
