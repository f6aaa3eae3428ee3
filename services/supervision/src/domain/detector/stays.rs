//! Stays: split hospitalisation (分解住院) and overlapping care — a stay inside another, a
//! visit elsewhere during a stay (挂床), long-term care billed during a stay.

use chrono::{Duration, NaiveDateTime};
use std::collections::BTreeSet;

use super::windows::{CareRec, PersonState, StayRec, VisitRec};
use super::{Draft, Evidence, Out, claim_draft};
use crate::domain::event::{ClaimEvent, PersonKey, icd10_category};
use crate::domain::prorate;
use crate::domain::rules::{RuleCode, Severity};

pub(super) fn observe_stay(out: &mut Out<'_>, person: &mut PersonState, e: &ClaimEvent) {
    let c = out.c;
    let category = e.principal_diagnosis.as_deref().and_then(icd10_category);
    let planned = match (&c.split, &e.principal_diagnosis) {
        (Some((_, _, prefixes)), Some(dx)) => {
            let dx = dx.trim().to_ascii_uppercase();
            prefixes.iter().any(|p| dx.starts_with(p.as_str()))
        }
        _ => false,
    };
    let mut stay = StayRec {
        claim_id: e.claim_id.clone(),
        institution: e.institution.clone(),
        admission: e.start_date,
        discharge: e.end_date,
        category,
        diagnosis: e.principal_diagnosis.clone(),
        planned,
        fund_paid: e.fund_paid,
        contradicted: BTreeSet::new(),
    };

    check_split(out, person, e, &stay);
    check_overlap(out, person, e, &mut stay);
    person.stays.push(stay);
}

/// Split hospitalisation (分解住院), in either order of observation: a readmission to the same
/// institution within the window for the same diagnosis category (planned care aside).
fn check_split(out: &mut Out<'_>, person: &PersonState, e: &ClaimEvent, stay: &StayRec) {
    let c = out.c;
    if let Some((severity, window, _)) = &c.split {
        for other in &person.stays {
            if other.institution != stay.institution || other.planned || stay.planned {
                continue;
            }
            if other.category.is_none() || other.category != stay.category {
                continue;
            }
            let (earlier, later) = if other.discharge <= stay.admission {
                (other, stay)
            } else if stay.discharge <= other.admission {
                (stay, other)
            } else {
                continue;
            };
            let gap = (later.admission - earlier.discharge).num_days();
            if gap > *window {
                continue;
            }
            let mut d = claim_draft(e, RuleCode::SplitHospitalisation, *severity);
            d.evidence = Evidence {
                claim_ids: vec![earlier.claim_id.clone(), later.claim_id.clone()],
                diagnoses: [&earlier.diagnosis, &later.diagnosis]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect(),
                dates: vec![
                    earlier.admission,
                    earlier.discharge,
                    later.admission,
                    later.discharge,
                ],
                ..Evidence::default()
            };
            d.amount = later.fund_paid;
            d.explanation = format!(
                "readmitted to {} {gap} day(s) after discharge ({} → {}) for the same diagnosis category {}: suspected split hospitalisation (分解住院); the later stay's {} yuan is at risk",
                stay.institution,
                earlier.discharge,
                later.admission,
                stay.category.as_deref().unwrap_or(""),
                later.fund_paid
            );
            out.push(d);
        }
    }
}

/// Overlapping care: nights of the new stay inside another stay, visits elsewhere already seen
/// during it (挂床), and long-term care already billed for days inside it.
fn check_overlap(out: &mut Out<'_>, person: &PersonState, e: &ClaimEvent, stay: &mut StayRec) {
    let c = out.c;
    if let Some((severity, include_ltc)) = c.overlap {
        // Overlapping stays: nights of the new stay inside another stay.
        let (a, z) = stay.night_range();
        let mut drafts = Vec::new();
        for other in &person.stays {
            let (oa, oz) = other.night_range();
            let from = a.max(oa);
            let to = z.min(oz);
            if from >= to {
                continue;
            }
            let mut newly = 0i64;
            let mut night = from;
            while night < to {
                if stay.contradicted.insert(night) {
                    newly += 1;
                }
                night += Duration::days(1);
            }
            let overlap = (to - from).num_days();
            let amount = prorate(stay.fund_paid, newly, stay.nights());
            let mut d = claim_draft(e, RuleCode::OverlappingStay, severity);
            d.evidence = Evidence {
                claim_ids: vec![other.claim_id.clone(), stay.claim_id.clone()],
                dates: vec![from, to],
                ..Evidence::default()
            };
            d.amount = amount;
            d.explanation = format!(
                "stay {} at {} ({} → {}) overlaps stay {} at {} ({} → {}) for {overlap} night(s): {amount} yuan at risk",
                stay.claim_id,
                stay.institution,
                stay.admission,
                stay.discharge,
                other.claim_id,
                other.institution,
                other.admission,
                other.discharge
            );
            drafts.push(d);
        }
        // Visits elsewhere already seen inside the new stay.
        for v in &person.visits {
            if v.institution != stay.institution
                && v.date > stay.admission
                && v.date < stay.discharge
            {
                drafts.push(visit_during_stay(e, severity, stay, v));
            }
        }
        // Long-term care already billed for days inside the new stay.
        if include_ltc {
            for care in &person.care {
                if let Some(d) = care_during_stay(
                    severity,
                    stay,
                    care,
                    e.person.clone(),
                    &e.event_id,
                    e.settled_at,
                ) {
                    drafts.push(d);
                }
            }
        }
        for d in drafts {
            out.push(d);
        }
    }
}

pub(super) fn visit_during_stay<'e>(
    e: &'e ClaimEvent,
    severity: Severity,
    stay: &mut StayRec,
    v: &VisitRec,
) -> Draft<'e> {
    let newly = i64::from(stay.contradicted.insert(v.date));
    let amount = prorate(stay.fund_paid, newly, stay.nights());
    let mut d = claim_draft(e, RuleCode::OverlappingStay, severity);
    d.institution = stay.institution.clone();
    d.evidence = Evidence {
        claim_ids: vec![stay.claim_id.clone(), v.claim_id.clone()],
        dates: vec![stay.admission, v.date, stay.discharge],
        ..Evidence::default()
    };
    d.amount = amount;
    d.explanation = format!(
        "patient of stay {} at {} ({} → {}) was billed at {} on {} (claim {}): suspected phantom stay (挂床住院); {amount} yuan at risk",
        stay.claim_id,
        stay.institution,
        stay.admission,
        stay.discharge,
        v.institution,
        v.date,
        v.claim_id
    );
    d
}

pub(super) fn care_during_stay<'e>(
    severity: Severity,
    stay: &StayRec,
    care: &CareRec,
    person: PersonKey,
    event_id: &'e str,
    at: NaiveDateTime,
) -> Option<Draft<'e>> {
    // Interior days of the stay: the admission and discharge days are not evidence.
    let first = care.start.max(stay.admission + Duration::days(1));
    let last = care.end.min(stay.discharge - Duration::days(1));
    if first > last {
        return None;
    }
    let n = (last - first).num_days() + 1;
    let care_days = (care.end - care.start).num_days() + 1;
    let amount = prorate(care.fund_paid, n, care_days);
    Some(Draft {
        rule: RuleCode::OverlappingStay,
        severity,
        institution: care.institution.clone(),
        person: Some(person),
        physician: None,
        event_id,
        at,
        evidence: Evidence {
            claim_ids: vec![stay.claim_id.clone(), care.claim_id.clone()],
            dates: vec![first, last],
            ..Evidence::default()
        },
        amount,
        verification: None,
        explanation: format!(
            "long-term care {} at {} bills {n} day(s) ({first} → {last}) while the person was an inpatient at {} (stay {}): {amount} yuan at risk",
            care.claim_id, care.institution, stay.institution, stay.claim_id
        ),
    })
}

pub(super) fn observe_visit(out: &mut Out<'_>, person: &mut PersonState, e: &ClaimEvent) {
    let visit = VisitRec {
        claim_id: e.claim_id.clone(),
        institution: e.institution.clone(),
        date: e.start_date,
    };
    if let Some((severity, _)) = out.c.overlap {
        let mut drafts = Vec::new();
        for stay in person.stays.iter_mut() {
            if stay.institution != visit.institution
                && visit.date > stay.admission
                && visit.date < stay.discharge
            {
                drafts.push(visit_during_stay(e, severity, stay, &visit));
            }
        }
        for d in drafts {
            out.push(d);
        }
    }
    person.visits.push(visit);
}
