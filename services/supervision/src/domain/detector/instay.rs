//! In-stay rules: judged while the patient is still in care, on settlement's encounter events
//! (admission, each fee upload, discharge, cancellation), before any claim is settled.
//!
//! - 同一时间段多家住院 ([`RuleCode::ConcurrentAdmission`]): a person admitted while a stay of
//!   theirs at another institution is not cancelled and its nights overlap the new stay's (an
//!   open stay runs on). A discharge and an admission elsewhere on the same day is a transfer,
//!   not an overlap. Raised once, on the step that first shows the pair, against the stay
//!   observed second. Nothing is billed or paid yet, so nothing is at risk: the stay's claim
//!   is judged again after settlement by overlapping stays, with its money.
//! - a day's fees above the limit ([`RuleCode::DailyFeesAboveLimit`]): the uploaded lines of one
//!   fee date of one stay summing strictly above the limit, raised by the upload that crosses
//!   it (once per day); at risk: the day's fees above the limit.
//! - a fee line outside the stay ([`RuleCode::FeeOutsideStay`]): a line of an upload dated
//!   before the admission or after the discharge; at risk: those lines' amounts. (Settlement
//!   refuses such lines at its door today; the rule judges what the stream carries.)
//!
//! Settlement announces no cancellation of single fee lines, so a day's total counts every line
//! uploaded for it, cancelled or not.
//!
//! The book is what the store keeps for these rules: stays by encounter (person, institution,
//! dates, status) and the day totals of uploaded lines. Each step changes it; the caller
//! writes the changed entries back with the findings, in one transaction.

use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};
use yibao_core::{Fen, InstitutionCode};

use super::{Draft, Evidence, Out};
use crate::domain::event::{ClaimKind, EncounterAction, EncounterEvent, PersonKey};
use crate::domain::rules::{RuleCode, Severity};

/// Where a stay stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StayStatus {
    /// Admitted, not discharged.
    Open,
    /// Discharged on its end date.
    Discharged,
    /// Admission cancelled: it never happened for the rules.
    Cancelled,
}

impl StayStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            StayStatus::Open => "open",
            StayStatus::Discharged => "discharged",
            StayStatus::Cancelled => "cancelled",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<StayStatus> {
        match s {
            "open" => Some(StayStatus::Open),
            "discharged" => Some(StayStatus::Discharged),
            "cancelled" => Some(StayStatus::Cancelled),
            _ => None,
        }
    }
}

/// An inpatient stay as the in-stay rules know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stay {
    /// The encounter (mdtrt_id).
    pub encounter_id: String,
    /// Hashed person key.
    pub person: PersonKey,
    /// Institution of the stay.
    pub institution: InstitutionCode,
    /// Admission date.
    pub start: NaiveDate,
    /// Discharge date, once discharged.
    pub end: Option<NaiveDate>,
    /// Open, discharged or cancelled.
    pub status: StayStatus,
}

impl Stay {
    /// The nights of the stay, `[admission, discharge)`; an open stay runs on.
    fn nights(&self) -> (NaiveDate, NaiveDate) {
        (self.start, self.end.unwrap_or(NaiveDate::MAX))
    }
}

/// The stays and day totals the in-stay rules read and change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StayBook {
    /// Stays by encounter id: those of the persons concerned.
    pub stays: BTreeMap<String, Stay>,
    /// Fees uploaded per (encounter id, fee date): those of the encounters concerned.
    pub fee_days: BTreeMap<(String, NaiveDate), Fen>,
    /// Encounters whose stay changed since the book was loaded.
    pub changed_stays: BTreeSet<String>,
    /// Day totals changed since the book was loaded.
    pub changed_days: BTreeSet<(String, NaiveDate)>,
}

impl StayBook {
    /// Fees of one fee date of one stay.
    pub fn day_total(&self, encounter_id: &str, day: NaiveDate) -> Fen {
        self.fee_days
            .get(&(encounter_id.to_string(), day))
            .copied()
            .unwrap_or(Fen::ZERO)
    }
}

/// Applies one step of an inpatient encounter to the book and judges it.
pub(super) fn observe(out: &mut Out<'_>, book: &mut StayBook, e: &EncounterEvent) {
    if e.kind != ClaimKind::Inpatient {
        return;
    }
    let prev = book.stays.get(&e.encounter_id).cloned();
    let first_sight = prev.is_none();
    let cancelled_before = prev
        .as_ref()
        .is_some_and(|s| s.status == StayStatus::Cancelled);
    // Every step carries the stay's facts; a cancellation is final. A step without a
    // discharge date after a discharge means the discharge was taken back.
    let status = if cancelled_before || e.action == EncounterAction::Cancelled {
        StayStatus::Cancelled
    } else if e.end_date.is_some() {
        StayStatus::Discharged
    } else {
        StayStatus::Open
    };
    let stay = Stay {
        encounter_id: e.encounter_id.clone(),
        person: e.person.clone(),
        institution: e.institution.clone(),
        start: e.start_date,
        end: e.end_date,
        status,
    };
    if prev.as_ref() != Some(&stay) {
        book.stays.insert(stay.encounter_id.clone(), stay.clone());
        book.changed_stays.insert(stay.encounter_id.clone());
    }
    if stay.status == StayStatus::Cancelled {
        return;
    }
    if first_sight {
        check_concurrent_admission(out, book, e, &stay);
    }
    match e.action {
        EncounterAction::FeesUploaded => {
            check_lines_outside_stay(out, e, &stay);
            add_fees(out, book, e);
        }
        // Cancelled lines no longer count towards their day (a finding already raised stays:
        // the day was billed so at the time).
        EncounterAction::FeesCancelled => take_back_fees(book, e),
        // Settlement refuses a discharge before a live line's date.
        EncounterAction::Opened | EncounterAction::Discharged | EncounterAction::Cancelled => {}
    }
}

fn draft<'e>(e: &'e EncounterEvent, rule: RuleCode, severity: Severity) -> Draft<'e> {
    Draft {
        rule,
        severity,
        institution: e.institution.clone(),
        person: Some(e.person.clone()),
        physician: e.physician.clone(),
        event_id: &e.event_id,
        at: e.occurred_at,
        evidence: Evidence {
            encounter_ids: vec![e.encounter_id.clone()],
            ..Evidence::default()
        },
        amount: Fen::ZERO,
        verification: None,
        explanation: String::new(),
    }
}

/// 同一时间段多家住院: the other stays of the person at other institutions, not cancelled,
/// whose nights overlap the new stay's.
pub(super) fn concurrent_stays<'b>(book: &'b StayBook, stay: &Stay) -> Vec<&'b Stay> {
    let (a, z) = stay.nights();
    let mut others: Vec<&Stay> = book
        .stays
        .values()
        .filter(|o| {
            o.encounter_id != stay.encounter_id
                && o.person == stay.person
                && o.institution != stay.institution
                && o.status != StayStatus::Cancelled
        })
        .filter(|o| {
            let (oa, oz) = o.nights();
            a.max(oa) < z.min(oz)
        })
        .collect();
    others.sort_by(|x, y| (x.start, &x.encounter_id).cmp(&(y.start, &y.encounter_id)));
    others
}

fn check_concurrent_admission(out: &mut Out<'_>, book: &StayBook, e: &EncounterEvent, stay: &Stay) {
    let Some(severity) = out.c.concurrent_admission else {
        return;
    };
    let mut drafts = Vec::new();
    for other in concurrent_stays(book, stay) {
        let mut d = draft(e, RuleCode::ConcurrentAdmission, severity);
        let (first, second) =
            if (other.start, &other.encounter_id) <= (stay.start, &stay.encounter_id) {
                (other, stay)
            } else {
                (stay, other)
            };
        d.evidence.encounter_ids = vec![first.encounter_id.clone(), second.encounter_id.clone()];
        d.evidence.dates = vec![other.start, stay.start];
        if let Some(end) = other.end {
            d.evidence.dates.insert(1, end);
        }
        d.explanation = format!(
            "admitted to {} on {} (encounter {}) while stay {} at {} since {} is {}: the person is an inpatient at two institutions at once (同一时间段多家住院); nothing is paid yet, the stays' claims are judged again when settled",
            stay.institution,
            stay.start,
            stay.encounter_id,
            other.encounter_id,
            other.institution,
            other.start,
            match other.end {
                Some(end) => format!("discharged only on {end}"),
                None => "still open".to_string(),
            }
        );
        drafts.push(d);
    }
    for d in drafts {
        out.push(d);
    }
}

/// The lines of an upload dated before the admission or after the discharge.
pub(super) fn lines_outside_stay<'e>(
    e: &'e EncounterEvent,
    stay: &Stay,
) -> Vec<&'e crate::domain::event::EncounterFeeLine> {
    e.lines
        .iter()
        .filter(|l| l.fee_date < stay.start || stay.end.is_some_and(|end| l.fee_date > end))
        .collect()
}

fn check_lines_outside_stay(out: &mut Out<'_>, e: &EncounterEvent, stay: &Stay) {
    let Some(severity) = out.c.fee_outside_stay else {
        return;
    };
    let lines = lines_outside_stay(e, stay);
    if lines.is_empty() {
        return;
    }
    let amount = lines
        .iter()
        .fold(Fen::ZERO, |a, l| crate::domain::add(a, l.item.amount));
    let days: BTreeSet<NaiveDate> = lines.iter().map(|l| l.fee_date).collect();
    let codes: BTreeSet<&str> = lines.iter().map(|l| l.item.code.as_str()).collect();
    let sns: Vec<&str> = lines.iter().map(|l| l.feedetl_sn.as_str()).collect();
    let mut d = draft(e, RuleCode::FeeOutsideStay, severity);
    d.evidence.item_codes = codes.into_iter().map(str::to_string).collect();
    d.evidence.dates = days.into_iter().collect();
    d.amount = amount;
    d.explanation = format!(
        "stay {} at {} ({} → {}) was billed line(s) {} dated outside the stay: {amount} yuan at risk",
        stay.encounter_id,
        stay.institution,
        stay.start,
        stay.end
            .map_or_else(|| "open".to_string(), |d| d.to_string()),
        sns.join(", ")
    );
    out.push(d);
}

/// Adds the upload's lines to the day totals; a day the upload takes strictly above the limit
/// (it was at or below it before) raises a finding.
fn add_fees(out: &mut Out<'_>, book: &mut StayBook, e: &EncounterEvent) {
    let mut per_day: BTreeMap<NaiveDate, (Fen, BTreeSet<&str>)> = BTreeMap::new();
    for l in &e.lines {
        let entry = per_day.entry(l.fee_date).or_default();
        entry.0 = crate::domain::add(entry.0, l.item.amount);
        entry.1.insert(l.item.code.as_str());
    }
    for (day, (added, codes)) in per_day {
        let key = (e.encounter_id.clone(), day);
        let before = book.day_total(&e.encounter_id, day);
        let after = crate::domain::add(before, added);
        book.fee_days.insert(key.clone(), after);
        book.changed_days.insert(key);
        if let Some((severity, limit)) = out.c.daily_fees
            && before <= limit
            && after > limit
        {
            out.push(daily_fees_draft(e, severity, limit, day, after, codes));
        }
    }
}

fn take_back_fees(book: &mut StayBook, e: &EncounterEvent) {
    for l in &e.lines {
        let key = (e.encounter_id.clone(), l.fee_date);
        let before = book.day_total(&e.encounter_id, l.fee_date);
        book.fee_days.insert(
            key.clone(),
            Fen(before.0.saturating_sub(l.item.amount.0).max(0)),
        );
        book.changed_days.insert(key);
    }
}

fn daily_fees_draft<'e>(
    e: &'e EncounterEvent,
    severity: Severity,
    limit: Fen,
    day: NaiveDate,
    total: Fen,
    codes: BTreeSet<&str>,
) -> Draft<'e> {
    let excess = Fen(total.0.saturating_sub(limit.0));
    let mut d = draft(e, RuleCode::DailyFeesAboveLimit, severity);
    d.evidence.item_codes = codes.into_iter().map(str::to_string).collect();
    d.evidence.dates = vec![day];
    d.amount = excess;
    d.explanation = format!(
        "stay {} at {} was billed {total} yuan for {day}, above the daily limit of {limit} yuan: the {excess} yuan above it are at risk until explained",
        e.encounter_id, e.institution
    );
    d
}
