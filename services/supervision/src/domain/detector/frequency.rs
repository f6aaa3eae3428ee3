//! Over-frequency: units of an item billed beyond its limit per day (per stay, or per day,
//! institution and item across a person's visits); excess units × unit price.

use yibao_core::Fen;

use super::windows::PersonState;
use super::{Evidence, Out, claim_draft};
use crate::domain::event::{ClaimEvent, ClaimKind};
use crate::domain::rules::RuleCode;

/// Items of a claim billed beyond their frequency limit.
pub(super) fn check(out: &mut Out<'_>, person: &mut PersonState, e: &ClaimEvent) {
    let c = out.c;
    if let Some((severity, table)) = &c.frequency {
        let days = u64::from(e.billable_days());
        let mut per_item: Vec<(&str, u64, Fen)> = Vec::new();
        for item in e.items.iter().filter(|i| table.contains_key(&i.code)) {
            match per_item.iter_mut().find(|(code, _, _)| *code == item.code) {
                Some(entry) => entry.1 += u64::from(item.quantity),
                None => per_item.push((&item.code, u64::from(item.quantity), item.unit_price)),
            }
        }
        for (code, quantity, unit_price) in per_item {
            let max = u64::from(table.get(code).copied().unwrap_or(u32::MAX));
            let (billed, claim_ids) = if e.kind == ClaimKind::Inpatient {
                (quantity, vec![e.claim_id.clone()])
            } else {
                let rec = person
                    .daily
                    .entry((e.start_date, e.institution.clone(), code.to_string()))
                    .or_default();
                rec.quantity += quantity;
                rec.claim_ids.push(e.claim_id.clone());
                (rec.quantity, rec.claim_ids.clone())
            };
            let allowed = max.saturating_mul(days);
            // Only the units this claim adds beyond the limit are new excess.
            let excess = billed.saturating_sub(allowed).min(quantity);
            if excess > 0 {
                let amount = Fen(unit_price
                    .0
                    .saturating_mul(i64::try_from(excess).unwrap_or(i64::MAX)));
                let mut d = claim_draft(e, RuleCode::OverFrequency, *severity);
                d.explanation = format!(
                    "item {code} billed {billed} time(s) where {allowed} are allowed ({max}/day over {days} day(s)): {excess} excess unit(s), {amount} yuan",
                );
                d.evidence = Evidence {
                    claim_ids,
                    item_codes: vec![code.to_string()],
                    dates: vec![e.start_date, e.end_date],
                    ..Evidence::default()
                };
                d.amount = amount;
                out.push(d);
            }
        }
    }
}
