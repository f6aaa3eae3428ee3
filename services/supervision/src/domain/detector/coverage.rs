//! Coverage: care billed after the person's death, else after enrolment ended (plus grace).
//! Amounts are the fund payment prorated over the days of care past the date (nights for a
//! stay, days for long-term care, the whole claim for a visit).

use chrono::{Duration, NaiveDate};
use yibao_core::Fen;

use super::windows::PersonState;
use super::{Draft, Evidence, Out, claim_draft};
use crate::domain::event::{ClaimEvent, ClaimKind, LtcEvent};
use crate::domain::prorate;
use crate::domain::rules::RuleCode;

/// The days of care of a claim that count for coverage: the nights of a stay, the service day
/// of anything else. Returns (first, last inclusive, count).
fn care_span(e: &ClaimEvent) -> (NaiveDate, NaiveDate, i64) {
    match e.kind {
        ClaimKind::Inpatient => {
            let last = if e.end_date > e.start_date {
                e.end_date - Duration::days(1)
            } else {
                e.start_date
            };
            (e.start_date, last, (last - e.start_date).num_days() + 1)
        }
        _ => (
            e.start_date,
            e.end_date,
            (e.end_date - e.start_date).num_days() + 1,
        ),
    }
}

/// Days of `[first, last]` strictly after `date`.
fn days_after(first: NaiveDate, last: NaiveDate, date: NaiveDate) -> i64 {
    if last <= date {
        0
    } else {
        (last - first.max(date + Duration::days(1))).num_days() + 1
    }
}

/// Service after death, else outside enrolment, of a claim.
pub(super) fn check_claim(out: &mut Out<'_>, person: &PersonState, e: &ClaimEvent) {
    let c = out.c;
    let (first, last, span) = care_span(e);
    let mut after_death = false;
    if let (Some(severity), Some(death)) = (c.after_death, person.death_date) {
        let n = days_after(first, last, death);
        if n > 0 {
            after_death = true;
            let amount = prorate(e.fund_paid, n, span);
            let mut d = claim_draft(e, RuleCode::ServiceAfterDeath, severity);
            d.evidence = Evidence {
                claim_ids: vec![e.claim_id.clone()],
                dates: vec![death, e.start_date, e.end_date],
                ..Evidence::default()
            };
            d.amount = amount;
            d.explanation = format!(
                "claim {} bills {n} of {span} day(s) of care after the person's death on {death}: {amount} yuan of fund payment at risk",
                e.claim_id
            );
            out.push(d);
        }
    }
    if let (false, Some((severity, grace)), Some(end)) =
        (after_death, &c.outside_enrolment, e.enrolment_end)
    {
        let limit = end + Duration::days(*grace);
        let n = days_after(first, last, limit);
        if n > 0 {
            let amount = prorate(e.fund_paid, n, span);
            let mut d = claim_draft(e, RuleCode::ServiceOutsideEnrolment, *severity);
            d.evidence = Evidence {
                claim_ids: vec![e.claim_id.clone()],
                dates: vec![end, e.start_date, e.end_date],
                ..Evidence::default()
            };
            d.amount = amount;
            d.explanation = format!(
                "claim {} bills {n} of {span} day(s) of care after enrolment ended on {end}: {amount} yuan of fund payment at risk",
                e.claim_id
            );
            out.push(d);
        }
    }
}

/// Service after death, else outside enrolment, of a long-term-care billing.
pub(super) fn check_ltc(out: &mut Out<'_>, person: &PersonState, e: &LtcEvent) {
    let c = out.c;
    let span = e.care_days();
    let base = |rule, severity| Draft {
        rule,
        severity,
        institution: e.institution.clone(),
        person: Some(e.person.clone()),
        physician: None,
        event_id: &e.event_id,
        at: e.settled_at,
        evidence: Evidence::default(),
        amount: Fen::ZERO,
        verification: None,
        explanation: String::new(),
    };
    let mut after_death = false;
    if let (Some(severity), Some(death)) = (c.after_death, person.death_date) {
        let n = days_after(e.period_start, e.period_end, death);
        if n > 0 {
            after_death = true;
            let amount = prorate(e.fund_paid, n, span);
            let mut d = base(RuleCode::ServiceAfterDeath, severity);
            d.evidence = Evidence {
                claim_ids: vec![e.claim_id.clone()],
                dates: vec![death, e.period_start, e.period_end],
                ..Evidence::default()
            };
            d.amount = amount;
            d.explanation = format!(
                "long-term care {} bills {n} of {span} day(s) after the person's death on {death}: {amount} yuan at risk",
                e.claim_id
            );
            out.push(d);
        }
    }
    if let (false, Some((severity, grace)), Some(end)) =
        (after_death, &c.outside_enrolment, e.enrolment_end)
    {
        let n = days_after(e.period_start, e.period_end, end + Duration::days(*grace));
        if n > 0 {
            let amount = prorate(e.fund_paid, n, span);
            let mut d = base(RuleCode::ServiceOutsideEnrolment, *severity);
            d.evidence = Evidence {
                claim_ids: vec![e.claim_id.clone()],
                dates: vec![end, e.period_start, e.period_end],
                ..Evidence::default()
            };
            d.amount = amount;
            d.explanation = format!(
                "long-term care {} bills {n} of {span} day(s) after enrolment ended on {end}: {amount} yuan at risk",
                e.claim_id
            );
            out.push(d);
        }
    }
}
