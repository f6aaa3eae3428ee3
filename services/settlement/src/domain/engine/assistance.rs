//! Layer 3, medical assistance (`maf_pay`) by category, with an annual deductible and limit.

use yibao_core::Fen;

use super::tally::{Context, Tally, bounded, room};
use super::{EngineError, Explanation, Field, FundPayType, Layer, LayerLine, Reason, Rule};

/// Runs layer 3 on the residual of layer 2 and returns what it leaves.
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
    Ok(residual)
}
