//! Duplicate enrolments (重复参保): the scan streams a year's candidates a page at a time
//! (bounded memory however large the dataset), asks the rules for pairs and opens a task for
//! each new pair; operators then work each task flagged → verified → resolved (or dismissed),
//! and resolving ends the losing enrolment.

use super::tenancy::check_region;
use super::{AppError, Enrollment};
use crate::domain::EnrolmentError;
use crate::domain::duplicates::{TaskState, check_transition, end_of_dropped, find_duplicates};
use crate::store::duplicates::{
    DuplicateTask, NewTask, end_as_duplicate, enrolment_in, transition_in,
};
use crate::store::{Store, StoreError};
use yibao_runtime::Actor;
use yibao_runtime::Caller;
use yibao_runtime::page::Page;

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

/// Scans `year` within `prefix` and opens tasks: the database finds the people with more
/// than one paid enrolment that year (at least one inside the prefix), a page at a time; the
/// rules pair their enrolments; each new pair opens a task (known pairs are counted, not
/// reopened). Memory is bounded by the page, however large the year.
pub async fn scan_duplicates(
    store: &Store,
    year: i32,
    prefix: &str,
    actor: &Actor,
) -> Result<ScanReport, AppError> {
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
        let mut by_person = std::collections::BTreeMap::<String, Vec<_>>::new();
        for (person_id, e) in store.enrolments_of_people(year, people).await? {
            by_person.entry(person_id).or_default().push(e);
        }
        let mut tasks = Vec::new();
        for (person_id, mut enrolments) in by_person {
            report.scanned += enrolments.len() as u64;
            enrolments.sort_by(|a, b| a.id.cmp(&b.id));
            for pair in find_duplicates(&enrolments) {
                let region_code = enrolments
                    .iter()
                    .find(|e| e.id == pair.keep)
                    .map(|e| e.region.to_string())
                    .unwrap_or_default();
                tasks.push(NewTask {
                    person_id: person_id.clone(),
                    year,
                    pair,
                    region_code,
                });
            }
        }
        let (opened, known) = store.insert_duplicate_tasks(tasks, actor).await?;
        report.opened += opened;
        report.known += known;
        if !full {
            break;
        }
        after = last;
    }
    Ok(report)
}

impl Enrollment {
    /// Scans `year` within the region prefix (already checked against the caller).
    pub async fn scan_duplicates(
        &self,
        caller: &Caller,
        year: i32,
        prefix: &str,
    ) -> Result<ScanReport, AppError> {
        scan_duplicates(&self.store, year, prefix, &Actor::from(caller)).await
    }

    /// Tasks within the region prefix (already checked against the caller), optionally by
    /// state, in id order from after the page's key: [`Page::fetch`] of them, for
    /// [`Page::finish`].
    pub async fn duplicate_tasks(
        &self,
        prefix: &str,
        state: Option<TaskState>,
        page: &Page,
    ) -> Result<Vec<DuplicateTask>, AppError> {
        let after = (!page.is_first()).then(|| page.after_key(0));
        Ok(self
            .store
            .duplicate_tasks(prefix, state, after, page.fetch())
            .await?)
    }

    /// Moves a task of the caller's region to `to` (`None`: a state the contract does not
    /// know); resolving ends the losing enrolment from the day before the kept one gives
    /// cover, in the same transaction, and invalidates the person's cached eligibility.
    pub async fn transition_duplicate(
        &self,
        caller: &Caller,
        task_id: &str,
        to: Option<TaskState>,
        note: &str,
    ) -> Result<DuplicateTask, AppError> {
        let task = self.store.duplicate_task(task_id).await?;
        check_region(caller, "task_id", &task.region_code)?;
        let to = to.ok_or_else(|| EnrolmentError::invalid("to_state", "unknown state"))?;
        check_transition(task.state, to)?;
        let actor = Actor::from(caller);
        let txn = self.store.begin().await?;
        transition_in(&txn, &task.id, task.state, to, note, &actor).await?;
        if to == TaskState::Resolved {
            let drop = enrolment_in(&txn, &task.drop_enrolment_id).await?;
            let keep = enrolment_in(&txn, &task.keep_enrolment_id).await?;
            let end = end_of_dropped(&keep, &drop);
            end_as_duplicate(&txn, &task, &drop, &keep, end, &actor).await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        let updated = self.store.duplicate_task(&task.id).await?;
        if to == TaskState::Resolved {
            let p = self.store.person(&task.person_id).await?;
            self.eligibility.invalidate(&p.id_number).await;
        }
        Ok(updated)
    }
}
