//! The incremental detector (智能监控): one pass over the event stream, per-person and
//! per-institution windows kept in memory, each event checked against the enabled rules of a
//! [`RuleSet`] as it arrives. Observing the same event id twice yields nothing the second time.
//!
//! Attribution and amounts at risk (all exact in fen, prorations half-up):
//! - split hospitalisation: the later stay of the pair, its whole fund payment;
//! - overlapping stays: the stay observed second, its fund payment prorated over the nights
//!   that overlap (a night already contradicted by earlier evidence is not counted twice);
//! - outpatient or pharmacy care elsewhere during a stay (挂床): the hospital of the stay, one
//!   night of its fund payment per day the patient was seen elsewhere (strictly between
//!   admission and discharge; the admission and discharge days are not evidence);
//! - long-term care during a stay: the care institution, its fund payment prorated over the
//!   care days inside the stay;
//! - after death / outside enrolment: the fund payment prorated over the days of care after the
//!   date (nights for a stay, days for long-term care, the whole claim for a visit);
//! - over-prescription: the line amount prorated over the excess days;
//! - over-frequency: excess units × unit price;
//! - sex / age limits: the amounts of the offending lines;
//! - large receipt, chronic-diagnosis change: the fund payment of the claim (to verify);
//! - identity cluster: the fund payments of every claim of the cluster in the window;
//! - mark-up: (sale − purchase price) × quantity.
//!
//! Windows assume events arrive in settlement order per person (and per institution for the
//! identity cluster), which holds for the live stream; a backfill replays history in that order.
//! A reversal (结算撤销) removes the claim from the person's windows, so later events are not
//! judged against it; findings already raised stay and are dismissed in review. The set of
//! event ids seen lives in memory for the detector's lifetime: durable idempotency across
//! restarts belongs to the store.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use yibao_core::{Bp, Fen, InstitutionCode, RegionCode, Sex};

use super::event::{
    ClaimAction, ClaimEvent, ClaimKind, EventError, LtcEvent, PersonKey, SupervisionEvent,
    icd10_category,
};
use super::rules::{
    AgeRestriction, ReceiptTier, RuleCode, RuleParams, RuleSet, Severity, SupplyLimit,
    VerificationKind,
};
use super::{add, prorate};

/// What supports a finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Claims involved, chronological (for a mark-up: the inventory record number).
    pub claim_ids: Vec<String>,
    /// Item codes involved.
    pub item_codes: Vec<String>,
    /// Diagnosis or chronic-disease codes involved.
    pub diagnoses: Vec<String>,
    /// Dates that make the case (e.g. discharge and readmission, the day seen elsewhere).
    pub dates: Vec<NaiveDate>,
    /// Persons involved (identity cluster), sorted.
    pub persons: Vec<PersonKey>,
}

/// A suspicion raised by a rule (疑点), the start of the review workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Deterministic id: `{event_id}/{RULE_CODE}/{n}`.
    pub finding_id: String,
    /// Rule that raised it.
    pub rule: RuleCode,
    /// Version of the rule set.
    pub rule_version: u32,
    /// Region of the rule set.
    pub region: RegionCode,
    /// Severity from the rule set.
    pub severity: Severity,
    /// Institution answerable for it.
    pub institution: InstitutionCode,
    /// Person concerned, if one.
    pub person: Option<PersonKey>,
    /// Insurance physician who ordered the care, if known.
    pub physician: Option<String>,
    /// Event that raised it.
    pub event_id: String,
    /// When that event happened.
    pub observed_at: NaiveDateTime,
    /// Evidence.
    pub evidence: Evidence,
    /// Fund money at risk.
    pub amount_at_risk: Fen,
    /// Verification the finding requires (large receipts).
    pub verification: Option<VerificationKind>,
    /// Human explanation.
    pub explanation: String,
}

/// Rules compiled from a rule set for fast lookups; `None` when switched off.
#[derive(Debug, Clone)]
struct Compiled {
    version: u32,
    region: RegionCode,
    retention_days: i64,
    split: Option<(Severity, i64, Vec<String>)>,
    overlap: Option<(Severity, bool)>,
    after_death: Option<Severity>,
    outside_enrolment: Option<(Severity, i64)>,
    over_prescription: Option<(Severity, SupplyLimit, SupplyLimit)>,
    frequency: Option<(Severity, HashMap<String, u32>)>,
    sex: Option<(Severity, HashMap<String, Sex>)>,
    age: Option<(Severity, HashMap<String, AgeRestriction>)>,
    large_receipt: Option<(Severity, Vec<ReceiptTier>)>,
    chronic_change: Option<Severity>,
    cluster: Option<(Severity, usize, i64)>,
    mark_up: Option<(Severity, Bp)>,
}

impl Compiled {
    fn new(set: &RuleSet) -> Compiled {
        let mut c = Compiled {
            version: set.version,
            region: set.region.clone(),
            retention_days: i64::from(set.retention_days),
            split: None,
            overlap: None,
            after_death: None,
            outside_enrolment: None,
            over_prescription: None,
            frequency: None,
            sex: None,
            age: None,
            large_receipt: None,
            chronic_change: None,
            cluster: None,
            mark_up: None,
        };
        for rule in set.rules.iter().filter(|r| r.enabled) {
            let s = rule.severity;
            match &rule.params {
                RuleParams::SplitHospitalisation {
                    window_days,
                    planned_diagnosis_prefixes,
                } => {
                    let prefixes = planned_diagnosis_prefixes
                        .iter()
                        .map(|p| p.trim().to_ascii_uppercase())
                        .collect();
                    c.split = Some((s, i64::from(*window_days), prefixes));
                }
                RuleParams::OverlappingStay { include_ltc } => c.overlap = Some((s, *include_ltc)),
                RuleParams::ServiceAfterDeath => c.after_death = Some(s),
                RuleParams::ServiceOutsideEnrolment { grace_days } => {
                    c.outside_enrolment = Some((s, i64::from(*grace_days)))
                }
                RuleParams::OverPrescription { chronic, acute } => {
                    c.over_prescription = Some((s, chronic.clone(), acute.clone()))
                }
                RuleParams::OverFrequency { limits } => {
                    c.frequency = Some((
                        s,
                        limits
                            .iter()
                            .map(|l| (l.item_code.clone(), l.max_per_day))
                            .collect(),
                    ))
                }
                RuleParams::SexLimit { restrictions } => {
                    c.sex = Some((
                        s,
                        restrictions
                            .iter()
                            .map(|r| (r.item_code.clone(), r.sex))
                            .collect(),
                    ))
                }
                RuleParams::AgeLimit { restrictions } => {
                    c.age = Some((
                        s,
                        restrictions
                            .iter()
                            .map(|r| (r.item_code.clone(), r.clone()))
                            .collect(),
                    ))
                }
                RuleParams::LargeReceipt { tiers } => c.large_receipt = Some((s, tiers.clone())),
                RuleParams::ChronicDiagnosisChange => c.chronic_change = Some(s),
                RuleParams::IdentityCluster {
                    min_persons,
                    window_hours,
                } => {
                    c.cluster = Some((
                        s,
                        usize::try_from(*min_persons).unwrap_or(usize::MAX),
                        i64::from(*window_hours),
                    ))
                }
                RuleParams::MarkUp { tolerance } => c.mark_up = Some((s, *tolerance)),
            }
        }
        c
    }
}

#[derive(Debug, Clone)]
struct StayRec {
    claim_id: String,
    institution: InstitutionCode,
    admission: NaiveDate,
    discharge: NaiveDate,
    category: Option<String>,
    diagnosis: Option<String>,
    planned: bool,
    fund_paid: Fen,
    contradicted: BTreeSet<NaiveDate>,
}

impl StayRec {
    /// Nights `[admission, discharge)`; a same-day stay counts its admission day as one night.
    fn night_range(&self) -> (NaiveDate, NaiveDate) {
        let end = if self.discharge > self.admission {
            self.discharge
        } else {
            self.admission + Duration::days(1)
        };
        (self.admission, end)
    }

    fn nights(&self) -> i64 {
        let (a, e) = self.night_range();
        (e - a).num_days()
    }
}

#[derive(Debug, Clone)]
struct VisitRec {
    claim_id: String,
    institution: InstitutionCode,
    date: NaiveDate,
}

#[derive(Debug, Clone)]
struct CareRec {
    claim_id: String,
    institution: InstitutionCode,
    start: NaiveDate,
    end: NaiveDate,
    fund_paid: Fen,
}

#[derive(Debug, Clone)]
struct SupplyRec {
    claim_id: String,
    date: NaiveDate,
    days: u32,
}

#[derive(Debug, Clone, Default)]
struct DailyRec {
    quantity: u64,
    claim_ids: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct PersonState {
    stays: Vec<StayRec>,
    visits: Vec<VisitRec>,
    care: Vec<CareRec>,
    supplies: HashMap<String, VecDeque<SupplyRec>>,
    daily: HashMap<(NaiveDate, InstitutionCode, String), DailyRec>,
    chronic: Option<(String, String, NaiveDate)>,
    death_date: Option<NaiveDate>,
    latest: Option<NaiveDate>,
    events_since_prune: u32,
}

impl PersonState {
    fn prune(&mut self, retention_days: i64) {
        let Some(latest) = self.latest else { return };
        let horizon = latest - Duration::days(retention_days);
        self.stays.retain(|s| s.discharge >= horizon);
        self.visits.retain(|v| v.date >= horizon);
        self.care.retain(|c| c.end >= horizon);
        for q in self.supplies.values_mut() {
            while q.front().is_some_and(|r| r.date < horizon) {
                q.pop_front();
            }
        }
        self.supplies.retain(|_, q| !q.is_empty());
        self.daily.retain(|(d, _, _), _| *d >= horizon);
    }

    fn forget_claim(&mut self, claim_id: &str) {
        self.stays.retain(|s| s.claim_id != claim_id);
        self.visits.retain(|v| v.claim_id != claim_id);
        for q in self.supplies.values_mut() {
            q.retain(|r| r.claim_id != claim_id);
        }
        for rec in self.daily.values_mut() {
            rec.claim_ids.retain(|c| c != claim_id);
        }
        self.daily.retain(|_, r| !r.claim_ids.is_empty());
    }
}

#[derive(Debug, Clone)]
struct ClusterEntry {
    at: NaiveDateTime,
    person: PersonKey,
    claim_id: String,
    fund_paid: Fen,
}

#[derive(Debug, Clone, Default)]
struct ClusterState {
    entries: VecDeque<ClusterEntry>,
    counts: HashMap<PersonKey, u32>,
    open: bool,
}

/// Outcome of a backfill: findings of one rule over a replayed history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillReport {
    /// Rule replayed.
    pub rule: RuleCode,
    /// Rule-set version used.
    pub rule_version: u32,
    /// Events replayed (duplicates included).
    pub events_seen: u64,
    /// Events refused as invalid, with the reason.
    pub refused: Vec<(String, EventError)>,
    /// Findings, in event order.
    pub findings: Vec<Finding>,
}

/// The incremental detector.
#[derive(Debug, Clone)]
pub struct Detector {
    rules: RuleSet,
    compiled: Compiled,
    seen: HashSet<String>,
    /// False for a replay of stored history, whose event ids are distinct by construction.
    remember_ids: bool,
    persons: HashMap<PersonKey, PersonState>,
    clusters: HashMap<(InstitutionCode, RegionCode), ClusterState>,
}

impl Detector {
    /// A detector running `rules` (validated first).
    pub fn new(rules: RuleSet) -> Result<Detector, super::rules::RuleError> {
        rules.validate()?;
        let compiled = Compiled::new(&rules);
        Ok(Detector {
            rules,
            compiled,
            seen: HashSet::new(),
            remember_ids: true,
            persons: HashMap::new(),
            clusters: HashMap::new(),
        })
    }

    /// A detector for a replay of stored history, where every event id is distinct (the store
    /// keys events by id): it does not keep the set of ids observed, so a replay of millions of
    /// events holds only the windows. Findings are the same as [`Detector::new`]'s for such a
    /// replay.
    pub fn for_replay(rules: RuleSet) -> Result<Detector, super::rules::RuleError> {
        let mut d = Detector::new(rules)?;
        d.remember_ids = false;
        Ok(d)
    }

    /// The rule set in force.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Switches to a new rule-set version, keeping the windows: later events are judged by it.
    pub fn replace_rules(&mut self, rules: RuleSet) -> Result<(), super::rules::RuleError> {
        rules.validate()?;
        self.compiled = Compiled::new(&rules);
        self.rules = rules;
        Ok(())
    }

    /// Number of distinct events observed.
    pub fn events_observed(&self) -> usize {
        self.seen.len()
    }

    /// Observes one event and returns the findings it raises. An event id seen before yields no
    /// findings and changes nothing. An invalid event is refused and not remembered.
    pub fn observe(&mut self, event: &SupervisionEvent) -> Result<Vec<Finding>, EventError> {
        event.validate()?;
        if self.remember_ids {
            if self.seen.contains(event.event_id()) {
                return Ok(Vec::new());
            }
            self.seen.insert(event.event_id().to_string());
        }
        let mut out = Out {
            findings: Vec::new(),
            c: &self.compiled,
        };
        match event {
            SupervisionEvent::Claim(e) => match e.action {
                ClaimAction::Settled => {
                    let person = self.persons.entry(e.person.clone()).or_default();
                    observe_claim(&mut out, person, e);
                    if !matches!(e.kind, ClaimKind::Inpatient) {
                        observe_cluster(&mut out, &mut self.clusters, e);
                    }
                }
                ClaimAction::Reversed => {
                    if let Some(p) = self.persons.get_mut(&e.person) {
                        p.forget_claim(&e.claim_id);
                    }
                }
            },
            SupervisionEvent::Ltc(e) => {
                let person = self.persons.entry(e.person.clone()).or_default();
                observe_ltc(&mut out, person, e);
            }
            SupervisionEvent::Inventory(e) => {
                if let Some((severity, tolerance)) = self.compiled.mark_up {
                    let limit =
                        i128::from(e.purchase_unit_price.0) * i128::from(10_000 + tolerance.0);
                    if i128::from(e.sale_unit_price.0) * 10_000 > limit {
                        let unit = e.sale_unit_price.0.saturating_sub(e.purchase_unit_price.0);
                        let amount = Fen(unit.saturating_mul(i64::from(e.quantity)));
                        out.push(Draft {
                            rule: RuleCode::MarkUp,
                            severity,
                            institution: e.institution.clone(),
                            person: None,
                            physician: None,
                            event_id: &e.event_id,
                            at: e.recorded_at,
                            evidence: Evidence {
                                claim_ids: vec![e.record_no.clone()],
                                item_codes: vec![e.item_code.clone()],
                                dates: vec![e.recorded_at.date()],
                                ..Evidence::default()
                            },
                            amount,
                            verification: None,
                            explanation: format!(
                                "{} sold {} × {} at {} yuan against a purchase price of {} yuan (mark-up {} yuan; zero mark-up policy)",
                                e.institution, e.quantity, e.item_code, e.sale_unit_price, e.purchase_unit_price, amount
                            ),
                        });
                    }
                }
            }
        }
        Ok(out.findings)
    }

    /// Replays `events` through a fresh detector with only `rule` enabled (the rest of this
    /// detector's rule set as is): used when a rule is switched on or tuned, to find what it
    /// would have found in history. This detector is unchanged.
    pub fn backfill<'a, I>(&self, rule: RuleCode, events: I) -> BackfillReport
    where
        I: IntoIterator<Item = &'a SupervisionEvent>,
    {
        let only = self.rules.only(rule);
        let compiled = Compiled::new(&only);
        let mut fresh = Detector {
            rules: only,
            compiled,
            seen: HashSet::new(),
            remember_ids: true,
            persons: HashMap::new(),
            clusters: HashMap::new(),
        };
        let mut report = BackfillReport {
            rule,
            rule_version: self.rules.version,
            events_seen: 0,
            refused: Vec::new(),
            findings: Vec::new(),
        };
        for event in events {
            report.events_seen += 1;
            match fresh.observe(event) {
                Ok(f) => report.findings.extend(f),
                Err(e) => report.refused.push((event.event_id().to_string(), e)),
            }
        }
        report
    }
}

/// A finding before its id is assigned.
struct Draft<'e> {
    rule: RuleCode,
    severity: Severity,
    institution: InstitutionCode,
    person: Option<PersonKey>,
    physician: Option<String>,
    event_id: &'e str,
    at: NaiveDateTime,
    evidence: Evidence,
    amount: Fen,
    verification: Option<VerificationKind>,
    explanation: String,
}

struct Out<'c> {
    findings: Vec<Finding>,
    c: &'c Compiled,
}

impl Out<'_> {
    fn push(&mut self, d: Draft<'_>) {
        let n = self.findings.iter().filter(|f| f.rule == d.rule).count() + 1;
        self.findings.push(Finding {
            finding_id: format!("{}/{}/{}", d.event_id, d.rule.as_str(), n),
            rule: d.rule,
            rule_version: self.c.version,
            region: self.c.region.clone(),
            severity: d.severity,
            institution: d.institution,
            person: d.person,
            physician: d.physician,
            event_id: d.event_id.to_string(),
            observed_at: d.at,
            evidence: d.evidence,
            amount_at_risk: d.amount,
            verification: d.verification,
            explanation: d.explanation,
        });
    }
}

fn claim_draft<'e>(e: &'e ClaimEvent, rule: RuleCode, severity: Severity) -> Draft<'e> {
    Draft {
        rule,
        severity,
        institution: e.institution.clone(),
        person: Some(e.person.clone()),
        physician: e.physician.clone(),
        event_id: &e.event_id,
        at: e.settled_at,
        evidence: Evidence::default(),
        amount: Fen::ZERO,
        verification: None,
        explanation: String::new(),
    }
}

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

#[allow(clippy::too_many_lines)]
fn observe_claim(out: &mut Out<'_>, person: &mut PersonState, e: &ClaimEvent) {
    let c = out.c;
    // Remember what we learn about the person.
    if let Some(d) = e.death_date {
        person.death_date = Some(person.death_date.map_or(d, |k| k.min(d)));
    }
    person.latest = Some(person.latest.map_or(e.end_date, |l| l.max(e.end_date)));
    person.events_since_prune += 1;
    if person.events_since_prune >= 32 {
        person.prune(c.retention_days);
        person.events_since_prune = 0;
    }

    // Coverage: after death, else after enrolment.
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

    // Sex and age limits of items.
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

    // Large receipts.
    if let Some((severity, tiers)) = &c.large_receipt {
        if let Some(tier) = tiers.iter().rev().find(|t| e.total > t.above) {
            let mut d = claim_draft(e, RuleCode::LargeReceipt, *severity);
            d.evidence = Evidence {
                claim_ids: vec![e.claim_id.clone()],
                dates: vec![e.end_date],
                ..Evidence::default()
            };
            d.amount = e.fund_paid;
            d.verification = Some(tier.verification);
            d.explanation = format!(
                "receipt {} of {} yuan is above {} yuan: {}",
                e.claim_id,
                e.total,
                tier.above,
                match tier.verification {
                    VerificationKind::CheckRecord => "a check record (核实记录) is required",
                    VerificationKind::PhoneOrOnSite =>
                        "verification by phone or on site (电话或实地查验) is required",
                }
            );
            out.push(d);
        }
    }

    // Frequency limits.
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

    // Over-prescription: days of supply per drug in a window.
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

    // Chronic-disease diagnosis change.
    if let (ClaimKind::Chronic, Some(disease)) = (e.kind, &e.chronic_disease) {
        if let Some((prev, prev_claim, prev_date)) = &person.chronic {
            if prev != disease {
                if let Some(severity) = c.chronic_change {
                    let mut d = claim_draft(e, RuleCode::ChronicDiagnosisChange, severity);
                    d.evidence = Evidence {
                        claim_ids: vec![prev_claim.clone(), e.claim_id.clone()],
                        diagnoses: vec![prev.clone(), disease.clone()],
                        dates: vec![*prev_date, e.start_date],
                        ..Evidence::default()
                    };
                    d.amount = e.fund_paid;
                    d.explanation = format!(
                        "chronic disease changed from {prev} (claim {prev_claim}, {prev_date}) to {disease} (claim {}): the change must be explained (病种变化须查明原由)",
                        e.claim_id
                    );
                    out.push(d);
                }
            }
        }
        person.chronic = Some((disease.clone(), e.claim_id.clone(), e.start_date));
    }

    match e.kind {
        ClaimKind::Inpatient => observe_stay(out, person, e),
        _ => observe_visit(out, person, e),
    }
}

fn observe_stay(out: &mut Out<'_>, person: &mut PersonState, e: &ClaimEvent) {
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

    // Split hospitalisation, in either order of observation.
    if let Some((severity, window, _)) = &c.split {
        for other in &person.stays {
            if other.institution != stay.institution || other.planned || stay.planned {
                continue;
            }
            if other.category.is_none() || other.category != stay.category {
                continue;
            }
            let (earlier, later) = if other.discharge <= stay.admission {
                (other, &stay)
            } else if stay.discharge <= other.admission {
                (&stay, other)
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
                drafts.push(visit_during_stay(e, severity, &mut stay, v));
            }
        }
        // Long-term care already billed for days inside the new stay.
        if include_ltc {
            for care in &person.care {
                if let Some(d) = care_during_stay(
                    severity,
                    &stay,
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
    person.stays.push(stay);
}

fn visit_during_stay<'e>(
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

fn care_during_stay<'e>(
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

fn observe_visit(out: &mut Out<'_>, person: &mut PersonState, e: &ClaimEvent) {
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

fn observe_ltc(out: &mut Out<'_>, person: &mut PersonState, e: &LtcEvent) {
    let c = out.c;
    if let Some(d) = e.death_date {
        person.death_date = Some(person.death_date.map_or(d, |k| k.min(d)));
    }
    person.latest = Some(person.latest.map_or(e.period_end, |l| l.max(e.period_end)));
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

fn observe_cluster(
    out: &mut Out<'_>,
    clusters: &mut HashMap<(InstitutionCode, RegionCode), ClusterState>,
    e: &ClaimEvent,
) {
    let inst_region = e.institution.region();
    if inst_region.covers(&e.home_region) {
        return;
    }
    let Some((severity, min_persons, window_hours)) = out.c.cluster else {
        return;
    };
    let key = (e.institution.clone(), e.home_region.clone());
    let state = clusters.entry(key).or_default();
    let horizon = e.settled_at - Duration::hours(window_hours);
    while state.entries.front().is_some_and(|x| x.at < horizon) {
        if let Some(old) = state.entries.pop_front() {
            if let Some(n) = state.counts.get_mut(&old.person) {
                *n -= 1;
                if *n == 0 {
                    state.counts.remove(&old.person);
                }
            }
        }
    }
    if state.counts.len() < min_persons {
        state.open = false;
    }
    state.entries.push_back(ClusterEntry {
        at: e.settled_at,
        person: e.person.clone(),
        claim_id: e.claim_id.clone(),
        fund_paid: e.fund_paid,
    });
    *state.counts.entry(e.person.clone()).or_insert(0) += 1;
    if !state.open && state.counts.len() >= min_persons {
        state.open = true;
        let amount = state
            .entries
            .iter()
            .fold(Fen::ZERO, |acc, x| add(acc, x.fund_paid));
        let mut persons: Vec<PersonKey> = state.counts.keys().cloned().collect();
        persons.sort();
        let first = state.entries.front().map_or(e.settled_at, |x| x.at);
        let mut d = claim_draft(e, RuleCode::IdentityCluster, severity);
        d.person = None;
        d.physician = e.physician.clone();
        d.explanation = format!(
            "{} persons enrolled in {} were billed at {} (region {inst_region}) within {window_hours} hours ({} → {}): suspected use of other people's identities (冒用身份); {amount} yuan at risk",
            persons.len(),
            e.home_region,
            e.institution,
            first,
            e.settled_at
        );
        d.evidence = Evidence {
            claim_ids: state.entries.iter().map(|x| x.claim_id.clone()).collect(),
            dates: vec![first.date(), e.settled_at.date()],
            persons,
            ..Evidence::default()
        };
        d.amount = amount;
        out.push(d);
    }
}
