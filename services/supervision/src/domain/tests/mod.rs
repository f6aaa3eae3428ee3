//! Specifications of the supervision domain. Planted patterns ride on a clean generated stream
//! and must come out with exactly the evidence and amount stated; the clean stream alone must
//! raise nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cloned_ref_to_slice_refs
)]

mod detect;
mod instay;
mod money;
mod random;
mod workflow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use yibao_core::{Fen, InstitutionCode, RegionCode, Sex};

use super::*;

pub(crate) fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, m, d).unwrap()
}

pub(crate) fn at(m: u32, d: u32, h: u32) -> NaiveDateTime {
    day(m, d).and_hms_opt(h, 0, 0).unwrap()
}

pub(crate) fn utc(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&at(m, d, h))
}

pub(crate) fn inst(code: &str) -> InstitutionCode {
    InstitutionCode::parse(code).unwrap()
}

pub(crate) fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).unwrap()
}

pub(crate) fn pk(s: &str) -> PersonKey {
    PersonKey::parse(s).unwrap()
}

/// Huoqiu county hospitals and a pharmacy, and a Lu'an city hospital.
pub(crate) const H1: &str = "H34152200001";
pub(crate) const H2: &str = "H34152200002";
pub(crate) const P1: &str = "P34152200001";
pub(crate) const LUAN: &str = "H34150200001";

pub(crate) fn rules() -> RuleSet {
    RuleSet::default_for(region("341522"), day(1, 1))
}

/// A claim of `kind` for a planted person (home Huoqiu, male, born 1960), settled at 10:00 on
/// its last day; total = fund paid unless changed.
pub(crate) fn claim(
    id: &str,
    person: &str,
    kind: ClaimKind,
    institution: &str,
    start: NaiveDate,
    end: NaiveDate,
    fund: Fen,
) -> ClaimEvent {
    ClaimEvent {
        event_id: format!("ev-{id}"),
        claim_id: id.to_string(),
        action: ClaimAction::Settled,
        settled_at: end.and_hms_opt(10, 0, 0).unwrap(),
        person: pk(person),
        sex: Sex::Male,
        birth_date: NaiveDate::from_ymd_opt(1960, 5, 1).unwrap(),
        home_region: region("341522"),
        institution: inst(institution),
        physician: Some("D341522000101".into()),
        kind,
        start_date: start,
        end_date: end,
        principal_diagnosis: None,
        chronic_disease: None,
        items: Vec::new(),
        total: fund,
        fund_paid: fund,
        enrolment_end: None,
        death_date: None,
    }
}

pub(crate) fn stay(
    id: &str,
    person: &str,
    institution: &str,
    adm: NaiveDate,
    dis: NaiveDate,
    dx: &str,
    fund: Fen,
) -> ClaimEvent {
    let mut e = claim(
        id,
        person,
        ClaimKind::Inpatient,
        institution,
        adm,
        dis,
        fund,
    );
    e.principal_diagnosis = Some(dx.to_string());
    e
}

pub(crate) fn visit(
    id: &str,
    person: &str,
    kind: ClaimKind,
    institution: &str,
    on: NaiveDate,
    fund: Fen,
) -> ClaimEvent {
    claim(id, person, kind, institution, on, on, fund)
}

pub(crate) fn item(code: &str, quantity: u32, unit_price: Fen, days_supply: u32) -> ClaimItem {
    ClaimItem {
        code: code.into(),
        quantity,
        unit_price,
        amount: Fen(unit_price.0 * i64::from(quantity)),
        days_supply,
    }
}

/// The clean stream: 500 persons, 3,000 claims, January to about May 2018.
pub(crate) fn clean_stream(n: usize) -> Vec<SupervisionEvent> {
    SyntheticStream::new(&StreamConfig::huoqiu(20_180_101, 500))
        .unwrap()
        .take(n)
        .collect()
}

/// Runs the clean stream with `planted` merged in settlement order through a detector with the
/// default rules; returns every finding.
pub(crate) fn run_planted(planted: Vec<ClaimEvent>) -> Vec<Finding> {
    run_events(planted.into_iter().map(SupervisionEvent::Claim).collect())
}

pub(crate) fn run_events(planted: Vec<SupervisionEvent>) -> Vec<Finding> {
    let mut events = clean_stream(3_000);
    events.extend(planted);
    // Stable: planted events keep their order among themselves at equal times.
    events.sort_by_key(|e| e.at());
    let mut detector = Detector::new(rules()).unwrap();
    let mut findings = Vec::new();
    for e in &events {
        findings.extend(detector.observe(e).unwrap());
    }
    findings
}
