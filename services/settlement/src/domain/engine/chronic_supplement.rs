//! Layer 4b, the "180" chronic-disease supplement (`oth_pay`, supplement line).

use yibao_core::Fen;

use super::tally::{Context, Tally, bounded, room};
use super::{EngineError, Explanation, Field, FundPayType, Layer, LayerLine, Reason, Rule};

/// Runs layer 4b on the residual of the backstop and returns what it leaves.
pub(super) fn apply(
    cx: &Context<'_>,
    t: &mut Tally,
    mut residual: Fen,
) -> Result<Fen, EngineError> {
    let Context {
        claim,
        eligibility,
        policy,
        ..
    } = *cx;
    let Tally {
        acc,
        bd,
        layers,
        ex,
        ..
    } = t;
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
    Ok(residual)
}
