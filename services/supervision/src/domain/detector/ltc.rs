//! Long-term-care billings: coverage, and care billed during a stay of the person.

use super::Out;
use super::coverage;
use super::stays::care_during_stay;
use super::windows::{CareRec, PersonState};
use crate::domain::event::LtcEvent;

pub(super) fn observe_ltc(out: &mut Out<'_>, person: &mut PersonState, e: &LtcEvent) {
    let c = out.c;
    if let Some(d) = e.death_date {
        person.death_date = Some(person.death_date.map_or(d, |k| k.min(d)));
    }
    person.latest = Some(person.latest.map_or(e.period_end, |l| l.max(e.period_end)));
    coverage::check_ltc(out, person, e);
    let care = CareRec {
        claim_id: e.claim_id.clone(),
        institution: e.institution.clone(),
        start: e.period_start,
        end: e.period_end,
        fund_paid: e.fund_paid,
    };
    if let Some((severity, true)) = c.overlap {
        let mut drafts = Vec::new();
        for stay in &person.stays {
            if let Some(d) = care_during_stay(
                severity,
                stay,
                &care,
                e.person.clone(),
                &e.event_id,
                e.settled_at,
            ) {
                drafts.push(d);
            }
        }
        for d in drafts {
            out.push(d);
        }
    }
    person.care.push(care);
}
