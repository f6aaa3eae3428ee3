//! Verification tasks: `ListVerificationTasks`, `CompleteVerificationTask`.

use super::input::{institution_in, non_empty, scope};
use super::{Res, map};
use crate::app::Supervision;
use crate::domain::VerificationKind;
use crate::store::Page;
use crate::store::tasks::task_key;
use tonic::{Request, Response};
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::server::caller;

pub(super) async fn list_verification_tasks(
    app: &Supervision,
    req: Request<pb::ListVerificationTasksRequest>,
) -> Res<pb::ListVerificationTasksResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let prefix = scope(&caller, "region_code", &r.region_code)?;
    let institution = if r.institution_code.is_empty() {
        None
    } else {
        Some(institution_in("institution_code", &r.institution_code)?.to_string())
    };
    let kind = map::verification_kind_filter("kind", r.kind)?.map(|k| match k {
        VerificationKind::CheckRecord => "check_record",
        VerificationKind::PhoneOrOnSite => "phone_or_on_site",
    });
    let page = Page::parse(r.page.as_ref())?;
    let tasks = app
        .tasks(
            &prefix,
            institution.as_deref(),
            kind,
            r.include_completed,
            &page,
        )
        .await?;
    let (tasks, next) = page.finish(tasks, task_key);
    Ok(Response::new(pb::ListVerificationTasksResponse {
        page: Some(next),
        tasks: tasks.iter().map(map::task).collect(),
    }))
}

pub(super) async fn complete_verification_task(
    app: &Supervision,
    req: Request<pb::CompleteVerificationTaskRequest>,
) -> Res<pb::CompleteVerificationTaskResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let method = map::method_in(r.method)?;
    let outcome = map::outcome_in(r.outcome)?;
    let id = non_empty("task_id", &r.task_id)?;
    let task = app
        .complete_task(&caller, &id, method, outcome, r.note.trim())
        .await?;
    Ok(Response::new(pb::CompleteVerificationTaskResponse {
        task: Some(map::task(&task)),
    }))
}
