//! The duplicate-enrolment scan: streams a year's paid enrolments in person order, a page at
//! a time (bounded memory however large the dataset), asks the domain for pairs, and opens a
//! task for each new pair. Also the task state machine flagged → verified → resolved.

use crate::domain::duplicates::{DuplicateKind, find_duplicates};
use crate::domain::roster::RosterOutcome;
use crate::error::EnrollError;
use crate::store::{Actor, Store, enrolment_of, entities};
use sea_orm::Set;
use yibao_proto::common::v1 as common;
use yibao_proto::enrollment::v1 as pb;

/// Candidate people per page (their enrolments are read with one `IN` query).
const PAGE: u64 = 1_000;

/// What a scan did.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScanReport {
    /// Enrolments read.
    pub scanned: u64,
    /// Tasks opened.
    pub opened: u64,
    /// Pairs already known.
    pub known: u64,
}

fn kind_str(k: DuplicateKind) -> &'static str {
    match k {
        DuplicateKind::SameSystemMultiRegion => "same_system_multi_region",
        DuplicateKind::CrossSystem => "cross_system",
        DuplicateKind::DoublePaymentSameRegion => "double_payment_same_region",
    }
}

/// Scans `year` within `prefix` and opens tasks: the database finds the people with more
/// than one paid enrolment that year (at least one inside the prefix), a page at a time; the
/// rules pair their enrolments; each new pair opens a task (known pairs are counted, not
/// reopened). Memory is bounded by the page, however large the year.
pub async fn scan_duplicates(
    store: &Store,
    year: i32,
    prefix: &str,
    actor: &Actor,
) -> Result<ScanReport, EnrollError> {
    let mut report = ScanReport::default();
    let mut after = String::new();
    loop {
        let people = store
            .duplicate_candidates(year, prefix, &after, PAGE)
            .await?;
        let Some(last) = people.last().cloned() else {
            break;
        };
        let full = people.len() as u64 == PAGE;
        let mut by_person: std::collections::BTreeMap<String, Vec<entities::enrolment::Model>> =
            std::collections::BTreeMap::new();
        for e in store.enrolments_of_people(year, people).await? {
            by_person.entry(e.person_id.clone()).or_default().push(e);
        }
        let mut tasks = Vec::new();
        for (person_id, mut models) in by_person {
            report.scanned += models.len() as u64;
            models.sort_by(|a, b| a.id.cmp(&b.id));
            let enrolments = models
                .iter()
                .map(enrolment_of)
                .collect::<Result<Vec<_>, _>>()?;
            for pair in find_duplicates(&enrolments) {
                let region = enrolments
                    .iter()
                    .find(|e| e.id == pair.keep)
                    .map(|e| e.region.to_string())
                    .unwrap_or_default();
                let step = serde_json::json!([{"actor": actor.subject, "role": actor.role, "at": chrono::Utc::now().to_rfc3339(), "state": "flagged", "note": "found by scan"}]);
                tasks.push(entities::duplicate_task::ActiveModel {
                    id: Set(uuid::Uuid::now_v7().to_string()),
                    person_id: Set(person_id.clone()),
                    year: Set(year),
                    kind: Set(kind_str(pair.kind).into()),
                    keep_enrolment_id: Set(pair.keep),
                    drop_enrolment_id: Set(pair.drop),
                    rationale: Set(pair.rationale),
                    state: Set("flagged".into()),
                    region_code: Set(region),
                    steps_json: Set(step.to_string()),
                });
            }
        }
        let (opened, known) = store.insert_duplicate_tasks(tasks).await?;
        report.opened += opened;
        report.known += known;
        if !full {
            break;
        }
        after = last;
    }
    Ok(report)
}

/// Stored name of a task state.
pub fn state_str(s: pb::DuplicateTaskState) -> &'static str {
    match s {
        pb::DuplicateTaskState::Flagged | pb::DuplicateTaskState::Unspecified => "flagged",
        pb::DuplicateTaskState::Verified => "verified",
        pb::DuplicateTaskState::Resolved => "resolved",
        pb::DuplicateTaskState::Dismissed => "dismissed",
    }
}

fn state_of(s: &str) -> pb::DuplicateTaskState {
    match s {
        "verified" => pb::DuplicateTaskState::Verified,
        "resolved" => pb::DuplicateTaskState::Resolved,
        "dismissed" => pb::DuplicateTaskState::Dismissed,
        _ => pb::DuplicateTaskState::Flagged,
    }
}

/// flagged → verified | dismissed; verified → resolved | dismissed; nothing after.
pub fn check_transition(from: &str, to: pb::DuplicateTaskState) -> Result<(), String> {
    use pb::DuplicateTaskState as S;
    let ok = matches!(
        (state_of(from), to),
        (S::Flagged, S::Verified | S::Dismissed) | (S::Verified, S::Resolved | S::Dismissed)
    );
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a task that is {from} cannot become {}",
            state_str(to)
        ))
    }
}

/// Proto form of a task.
pub fn task_pb(t: &entities::duplicate_task::Model) -> pb::DuplicateTask {
    let kind = match t.kind.as_str() {
        "cross_system" => pb::DuplicateKind::CrossSystem,
        "same_system_multi_region" => pb::DuplicateKind::SameSystemMultiRegion,
        _ => pb::DuplicateKind::DoublePaymentSameRegion,
    };
    let steps: Vec<serde_json::Value> = serde_json::from_str(&t.steps_json).unwrap_or_default();
    pb::DuplicateTask {
        task_id: t.id.clone(),
        person_id: t.person_id.clone(),
        year: t.year,
        kind: kind as i32,
        keep_enrolment_id: t.keep_enrolment_id.clone(),
        drop_enrolment_id: t.drop_enrolment_id.clone(),
        rationale: t.rationale.clone(),
        state: state_of(&t.state) as i32,
        region_code: t.region_code.clone(),
        steps: steps
            .iter()
            .map(|s| common::Audit {
                actor: s["actor"].as_str().unwrap_or_default().into(),
                role: s["role"].as_str().unwrap_or_default().into(),
                at: s["at"].as_str().unwrap_or_default().into(),
            })
            .collect(),
    }
}

/// Proto form of a roster outcome.
pub fn roster_pb(o: RosterOutcome) -> pb::RosterOutcome {
    match o {
        RosterOutcome::Enrolled => pb::RosterOutcome::Enrolled,
        RosterOutcome::Deceased => pb::RosterOutcome::Deceased,
        RosterOutcome::MovedOutOfProvince => pb::RosterOutcome::MovedOutOfProvince,
        RosterOutcome::EnrolledElsewhere => pb::RosterOutcome::EnrolledElsewhere,
        RosterOutcome::IdInvalid => pb::RosterOutcome::IdInvalid,
        RosterOutcome::NotFound => pb::RosterOutcome::NotFound,
        RosterOutcome::NotEnrolled => pb::RosterOutcome::NotEnrolled,
    }
}
