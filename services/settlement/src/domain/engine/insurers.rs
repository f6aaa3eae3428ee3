//! Commercial supplementary products (惠民保; `insurer_pay`): they pay part of the person's
//! share and are not fund payments.

use yibao_core::Fen;

use super::tally::{Context, Tally, bounded};
use super::{
    EngineError, Explanation, Field, FundPayType, Layer, LayerLine, Reason, Rule, SupplementUse,
};

/// Runs the products the person holds on what is left after the public layers.
pub(super) fn apply(cx: &Context<'_>, t: &mut Tally, residual: Fen) -> Result<(), EngineError> {
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
    Ok(())
}
