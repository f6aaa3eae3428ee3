//! Over-prescription: days of supply of a drug dispensed within a window beyond the limit
//! (chronic-disease or ordinary prescription); the line amount prorated over the excess days.

use chrono::Duration;

use super::windows::{PersonState, SupplyRec};
use super::{Evidence, Out, claim_draft};
use crate::domain::event::{ClaimEvent, ClaimKind};
use crate::domain::prorate;
use crate::domain::rules::RuleCode;

/// Remembers the supplies of a claim and checks each against its window.
pub(super) fn check(out: &mut Out<'_>, person: &mut PersonState, e: &ClaimEvent) {
    let c = out.c;
    if e.kind != ClaimKind::Inpatient {
        let chronic = e.kind == ClaimKind::Chronic || e.chronic_disease.is_some();
        for item in e.items.iter().filter(|i| i.days_supply > 0) {
            let q = person.supplies.entry(item.code.clone()).or_default();
            let rec = SupplyRec {
                claim_id: e.claim_id.clone(),
                date: e.start_date,
                days: item.days_supply,
            };
            let pos = q.iter().position(|r| r.date > rec.date).unwrap_or(q.len());
            q.insert(pos, rec);
            let Some((severity, chronic_limit, acute_limit)) = &c.over_prescription else {
                continue;
            };
            let limit = if chronic { chronic_limit } else { acute_limit };
            let from = e.start_date - Duration::days(i64::from(limit.window_days) - 1);
            let in_window: Vec<&SupplyRec> = q
                .iter()
                .filter(|r| r.date >= from && r.date <= e.start_date)
                .collect();
            let total: u64 = in_window.iter().map(|r| u64::from(r.days)).sum();
            let allowed = u64::from(limit.max_days_supply) + u64::from(limit.tolerance_days);
            let excess = total
                .saturating_sub(allowed)
                .min(u64::from(item.days_supply));
            if excess > 0 {
                let excess_i = i64::try_from(excess).unwrap_or(i64::MAX);
                let amount = prorate(item.amount, excess_i, i64::from(item.days_supply));
                let mut d = claim_draft(e, RuleCode::OverPrescription, *severity);
                d.explanation = format!(
                    "{} days of {} dispensed within {} days where {} are allowed ({}): {excess} excess day(s), {amount} yuan",
                    total,
                    item.code,
                    limit.window_days,
                    limit.max_days_supply,
                    if chronic {
                        "chronic-disease prescription"
                    } else {
                        "ordinary prescription"
                    }
                );
                d.evidence = Evidence {
                    claim_ids: in_window.iter().map(|r| r.claim_id.clone()).collect(),
                    item_codes: vec![item.code.clone()],
                    dates: in_window.iter().map(|r| r.date).collect(),
                    ..Evidence::default()
                };
                d.amount = amount;
                out.push(d);
            }
        }
    }
}
