//! Insurance physicians: import, list by institution, get.

use super::Reply;
use super::parse::{invalid, own_region};
use super::registry::{institution_code, row_errors_pb};
use crate::app::Enrollment;
use crate::domain::registry::physicians::{Physician, PhysicianStatus};
use tonic::{Request, Response, Status};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::page::Page;
use yibao_runtime::server::caller;

pub(super) fn physician_status_pb(s: PhysicianStatus) -> i32 {
    (match s {
        PhysicianStatus::Active => pb::PhysicianStatus::Active,
        PhysicianStatus::Suspended => pb::PhysicianStatus::Suspended,
        PhysicianStatus::Revoked => pb::PhysicianStatus::Revoked,
    }) as i32
}

fn physician_pb(p: Physician) -> pb::Physician {
    pb::Physician {
        physician_code: p.code,
        name: p.name,
        institution_code: p.institution.to_string(),
        status: physician_status_pb(p.status),
        status_reason: p.status_reason,
    }
}

pub(super) async fn import_physicians(
    app: &Enrollment,
    req: Request<pb::ImportPhysiciansRequest>,
) -> Reply<pb::ImportPhysiciansResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let within = own_region(&c, "region_code", &r.region_code)?;
    if r.csv.trim().is_empty() {
        return Err(invalid(
            "csv",
            "required: the physician file (docs/roster-format.md)",
        ));
    }
    let out = app
        .import_physicians(&c, &within, &r.csv, r.dry_run)
        .await?;
    let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
    Ok(Response::new(pb::ImportPhysiciansResponse {
        stored: out.stored,
        written: n(out.written),
        unchanged: n(out.unchanged),
        errors: row_errors_pb(out.errors),
    }))
}

pub(super) async fn list_physicians(
    app: &Enrollment,
    req: Request<pb::ListPhysiciansRequest>,
) -> Reply<pb::ListPhysiciansResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let code = institution_code("institution_code", &r.institution_code)?;
    let page = Page::parse(r.page.as_ref()).map_err(Status::from)?;
    let list = app.list_physicians(&c, &code, &page).await?;
    let (list, page) = page.finish(list, |p| vec![p.code.clone()]);
    Ok(Response::new(pb::ListPhysiciansResponse {
        physicians: list.into_iter().map(physician_pb).collect(),
        page: Some(page),
    }))
}

pub(super) async fn get_physician(
    app: &Enrollment,
    req: Request<pb::GetPhysicianRequest>,
) -> Reply<pb::GetPhysicianResponse> {
    let c = caller(&req)?;
    let code = req.get_ref().physician_code.trim().to_string();
    if code.is_empty() {
        return Err(invalid("physician_code", "required"));
    }
    let p = app.get_physician(&c, &code).await?;
    Ok(Response::new(pb::GetPhysicianResponse {
        physician: Some(physician_pb(p)),
    }))
}
