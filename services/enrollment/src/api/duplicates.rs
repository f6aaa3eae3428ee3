//! Duplicate-enrolment scans and tasks.

use super::Reply;
use super::parse::{region_prefix, year};
use crate::app::Enrollment;
use crate::domain::duplicates::{DuplicateKind, TaskState};
use crate::store::duplicates::DuplicateTask;
use tonic::{Request, Response};
use yibao_proto::common::v1 as common;
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::page::Page;
use yibao_runtime::server::caller;

/// The contract's state (`None` for a number it does not define); UNSPECIFIED reads as
/// flagged.
fn state_of(v: i32) -> Option<TaskState> {
    pb::DuplicateTaskState::try_from(v).ok().map(|s| match s {
        pb::DuplicateTaskState::Flagged | pb::DuplicateTaskState::Unspecified => TaskState::Flagged,
        pb::DuplicateTaskState::Verified => TaskState::Verified,
        pb::DuplicateTaskState::Resolved => TaskState::Resolved,
        pb::DuplicateTaskState::Dismissed => TaskState::Dismissed,
    })
}

fn state_pb(s: TaskState) -> pb::DuplicateTaskState {
    match s {
        TaskState::Flagged => pb::DuplicateTaskState::Flagged,
        TaskState::Verified => pb::DuplicateTaskState::Verified,
        TaskState::Resolved => pb::DuplicateTaskState::Resolved,
        TaskState::Dismissed => pb::DuplicateTaskState::Dismissed,
    }
}

fn task_pb(t: DuplicateTask) -> pb::DuplicateTask {
    let kind = match t.kind {
        DuplicateKind::CrossSystem => pb::DuplicateKind::CrossSystem,
        DuplicateKind::SameSystemMultiRegion => pb::DuplicateKind::SameSystemMultiRegion,
        DuplicateKind::DoublePaymentSameRegion => pb::DuplicateKind::DoublePaymentSameRegion,
    };
    pb::DuplicateTask {
        task_id: t.id,
        person_id: t.person_id,
        year: t.year,
        kind: kind as i32,
        keep_enrolment_id: t.keep_enrolment_id,
        drop_enrolment_id: t.drop_enrolment_id,
        rationale: t.rationale,
        state: state_pb(t.state) as i32,
        region_code: t.region_code,
        steps: t
            .steps
            .into_iter()
            .map(|s| common::Audit {
                actor: s.actor,
                role: s.role,
                at: s.at,
            })
            .collect(),
    }
}

pub(super) async fn scan_duplicates(
    app: &Enrollment,
    req: Request<pb::ScanDuplicatesRequest>,
) -> Reply<pb::ScanDuplicatesResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let year = year(r.year)?;
    let prefix = region_prefix(&c, &r.region_code)?;
    let report = app.scan_duplicates(&c, year, &prefix).await?;
    Ok(Response::new(pb::ScanDuplicatesResponse {
        enrolments_scanned: report.scanned as i64,
        tasks_opened: report.opened as i64,
        already_known: report.known as i64,
    }))
}

pub(super) async fn list_duplicate_tasks(
    app: &Enrollment,
    req: Request<pb::ListDuplicateTasksRequest>,
) -> Reply<pb::ListDuplicateTasksResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let prefix = region_prefix(&c, &r.region_code)?;
    let state = match pb::DuplicateTaskState::try_from(r.state) {
        Ok(pb::DuplicateTaskState::Unspecified) | Err(_) => None,
        Ok(_) => state_of(r.state),
    };
    let page = Page::parse(r.page.as_ref())?;
    let tasks = app.duplicate_tasks(&prefix, state, &page).await?;
    let (tasks, page) = page.finish(tasks, |t| vec![t.id.clone()]);
    Ok(Response::new(pb::ListDuplicateTasksResponse {
        tasks: tasks.into_iter().map(task_pb).collect(),
        page: Some(page),
    }))
}

pub(super) async fn transition_duplicate_task(
    app: &Enrollment,
    req: Request<pb::TransitionDuplicateTaskRequest>,
) -> Reply<pb::TransitionDuplicateTaskResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let task = app
        .transition_duplicate(&c, &r.task_id, state_of(r.to_state), r.note.trim())
        .await?;
    Ok(Response::new(pb::TransitionDuplicateTaskResponse {
        task: Some(task_pb(task)),
    }))
}
