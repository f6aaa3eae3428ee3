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

mod chronic;
mod cluster;
mod compiled;
mod coverage;
mod frequency;
mod instay;
mod items;
mod ltc;
mod markup;
mod prescription;
mod receipts;
mod stays;
mod windows;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use yibao_core::{Fen, InstitutionCode, RegionCode};

use super::event::{ClaimAction, ClaimEvent, ClaimKind, EventError, PersonKey, SupervisionEvent};
use super::rules::{RuleCode, RuleSet, Severity, VerificationKind};
use compiled::Compiled;
pub use instay::{Stay, StayBook, StayStatus};
use windows::{ClusterState, PersonState};

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
    /// Encounters involved (mdtrt_id), chronological: the stays an in-stay rule judged, before
    /// any claim was settled. Findings stored before the field have none.
    #[serde(default)]
    pub encounter_ids: Vec<String>,
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
                        cluster::observe_cluster(&mut out, &mut self.clusters, e);
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
                ltc::observe_ltc(&mut out, person, e);
            }
            SupervisionEvent::Inventory(e) => markup::check(&mut out, e),
            // Judged against the stays kept in the store ([`Detector::observe_encounter`]).
            SupervisionEvent::Encounter(_) => {}
        }
        Ok(out.findings)
    }

    /// Judges an encounter's step by the in-stay rules against `book` (the stays of the
    /// person and the day totals of the encounter, as the store keeps them), records the step
    /// in the book and returns the findings it raises. Only inpatient stays are judged and
    /// kept; other encounters change nothing. Idempotency by event id is the caller's (the
    /// store's): the same step applied twice adds its fees twice.
    pub fn observe_encounter(
        &self,
        book: &mut StayBook,
        event: &super::event::EncounterEvent,
    ) -> Result<Vec<Finding>, EventError> {
        SupervisionEvent::Encounter(event.clone()).validate()?;
        let mut out = Out {
            findings: Vec::new(),
            c: &self.compiled,
        };
        instay::observe(&mut out, book, event);
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

/// Judges a settled claim against the person's windows, rule family by rule family, and
/// remembers it.
fn observe_claim(out: &mut Out<'_>, person: &mut PersonState, e: &ClaimEvent) {
    person.remember(e, out.c.retention_days);
    coverage::check_claim(out, person, e);
    items::check_sex(out, e);
    items::check_age(out, e);
    receipts::check(out, e);
    frequency::check(out, person, e);
    prescription::check(out, person, e);
    chronic::check(out, person, e);
    match e.kind {
        ClaimKind::Inpatient => stays::observe_stay(out, person, e),
        _ => stays::observe_visit(out, person, e),
    }
}
