//! Items restricted by the patient's sex or age: the amounts of the offending lines.

use yibao_core::{Fen, Sex};

use super::{Evidence, Out, claim_draft};
use crate::domain::add;
use crate::domain::event::ClaimEvent;
use crate::domain::rules::RuleCode;

/// Items of a claim restricted to the other sex.
pub(super) fn check_sex(out: &mut Out<'_>, e: &ClaimEvent) {
    let c = out.c;
    if let Some((severity, table)) = &c.sex {
        let mut codes = Vec::new();
        let mut amount = Fen::ZERO;
        for item in e
            .items
            .iter()
            .filter(|i| table.get(&i.code).is_some_and(|s| *s != e.sex))
        {
            if !codes.contains(&item.code) {
                codes.push(item.code.clone());
            }
            amount = add(amount, item.amount);
        }
        if !codes.is_empty() {
            let mut d = claim_draft(e, RuleCode::SexLimit, *severity);
            d.explanation = format!(
                "claim {} bills item(s) {} restricted to the other sex for a {} patient: {amount} yuan",
                e.claim_id,
                codes.join(", "),
                if e.sex == Sex::Male { "male" } else { "female" }
            );
            d.evidence = Evidence {
                claim_ids: vec![e.claim_id.clone()],
                item_codes: codes,
                ..Evidence::default()
            };
            d.amount = amount;
            out.push(d);
        }
    }
}

/// Items of a claim outside their age band.
pub(super) fn check_age(out: &mut Out<'_>, e: &ClaimEvent) {
    let c = out.c;
    if let Some((severity, table)) = &c.age {
        let age = e.age_at_service();
        let mut codes = Vec::new();
        let mut amount = Fen::ZERO;
        for item in e.items.iter() {
            let Some(r) = table.get(&item.code) else {
                continue;
            };
            if r.min_age.is_some_and(|lo| age < lo) || r.max_age.is_some_and(|hi| age > hi) {
                if !codes.contains(&item.code) {
                    codes.push(item.code.clone());
                }
                amount = add(amount, item.amount);
            }
        }
        if !codes.is_empty() {
            let mut d = claim_draft(e, RuleCode::AgeLimit, *severity);
            d.explanation = format!(
                "claim {} bills item(s) {} outside their age band for a patient aged {age}: {amount} yuan",
                e.claim_id,
                codes.join(", ")
            );
            d.evidence = Evidence {
                claim_ids: vec![e.claim_id.clone()],
                item_codes: codes,
                dates: vec![e.birth_date, e.start_date],
                ..Evidence::default()
            };
            d.amount = amount;
            out.push(d);
        }
    }
}
