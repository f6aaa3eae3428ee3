//! The designated-institution registry: roster import, list, get, history, status changes.

use super::Reply;
use super::parse::{date_or_today, invalid, own_region, region_prefix, scheme_pb};
use crate::app::Enrollment;
use crate::app::registry::StatusRequest;
use crate::domain::import::RowError;
use crate::domain::registry::{
    Agreement, Grade, InstitutionFile, InstitutionKind, InstitutionStatus, InstitutionVersion,
    ServiceKind, Tier,
};
use crate::store::registry::RegistryEntry;
use chrono::NaiveDate;
use tonic::{Request, Response, Status};
use yibao_core::InstitutionCode;
use yibao_proto::common::v1 as common;
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::page::Page;
use yibao_runtime::server::caller;

pub(super) fn kind_pb(k: InstitutionKind) -> i32 {
    (match k {
        InstitutionKind::Hospital => pb::InstitutionKind::Hospital,
        InstitutionKind::Pharmacy => pb::InstitutionKind::Pharmacy,
        InstitutionKind::Clinic => pb::InstitutionKind::Clinic,
        InstitutionKind::CareInstitution => pb::InstitutionKind::CareInstitution,
    }) as i32
}

pub(super) fn grade_pb(g: Grade) -> i32 {
    (match g {
        Grade::Grade1 => pb::InstitutionGrade::InstitutionGrade1,
        Grade::Grade2 => pb::InstitutionGrade::InstitutionGrade2,
        Grade::Grade3 => pb::InstitutionGrade::InstitutionGrade3,
        Grade::Ungraded => pb::InstitutionGrade::Ungraded,
    }) as i32
}

pub(super) fn tier_pb(t: Tier) -> i32 {
    (match t {
        Tier::Township => pb::InstitutionTier::Township,
        Tier::County => pb::InstitutionTier::County,
        Tier::City => pb::InstitutionTier::City,
        Tier::Province => pb::InstitutionTier::Province,
    }) as i32
}

pub(super) fn status_pb(s: InstitutionStatus) -> i32 {
    (match s {
        InstitutionStatus::Active => pb::InstitutionStatus::Active,
        InstitutionStatus::Suspended => pb::InstitutionStatus::Suspended,
        InstitutionStatus::Terminated => pb::InstitutionStatus::Terminated,
    }) as i32
}

pub(super) fn service_pb(s: ServiceKind) -> i32 {
    (match s {
        ServiceKind::Inpatient => pb::ServiceKind::Inpatient,
        ServiceKind::Outpatient => pb::ServiceKind::Outpatient,
        ServiceKind::Chronic => pb::ServiceKind::Chronic,
        ServiceKind::Pharmacy => pb::ServiceKind::Pharmacy,
        ServiceKind::Ltc => pb::ServiceKind::Ltc,
    }) as i32
}

pub(super) fn version_pb(v: &InstitutionVersion) -> pb::InstitutionVersion {
    pb::InstitutionVersion {
        effective_from: v.effective_from.to_string(),
        name: v.name.clone(),
        kind: kind_pb(v.kind),
        grade: grade_pb(v.grade),
        tier: tier_pb(v.tier),
        region_code: v.region.to_string(),
        beds: v.beds,
    }
}

pub(super) fn agreement_pb(a: &Agreement) -> pb::Agreement {
    pb::Agreement {
        agreement_no: a.agreement_no.clone(),
        valid_from: a.valid_from.to_string(),
        valid_to: a.valid_to.to_string(),
        schemes: a.schemes.iter().map(|s| scheme_pb(*s)).collect(),
        service_kinds: a.services.iter().map(|s| service_pb(*s)).collect(),
    }
}

/// An institution as of `date`.
pub(super) fn institution_pb(f: &InstitutionFile, date: NaiveDate) -> pb::Institution {
    let standing = f.status_on(date);
    pb::Institution {
        institution_code: f.code.to_string(),
        current: f.version_on(date).map(version_pb),
        versions: f.versions.iter().map(version_pb).collect(),
        agreements: f.agreements.iter().map(agreement_pb).collect(),
        status: status_pb(standing.status),
        status_reason: standing
            .change
            .map(|c| c.reason.clone())
            .unwrap_or_default(),
        status_history: f
            .status_changes
            .iter()
            .map(|c| pb::InstitutionStatusChange {
                status: status_pb(c.status),
                effective_on: c.effective_on.to_string(),
                reason: c.reason.clone(),
                audit: Some(common::Audit {
                    actor: c.actor.clone(),
                    role: c.role.clone(),
                    at: c.at.clone(),
                }),
            })
            .collect(),
    }
}

pub(super) fn row_errors_pb(errors: Vec<RowError>) -> Vec<pb::RowError> {
    errors
        .into_iter()
        .map(|e| pb::RowError {
            line: i32::try_from(e.line).unwrap_or(i32::MAX),
            field: e.field,
            reason: e.reason,
        })
        .collect()
}

pub(super) fn entry_pb(e: RegistryEntry) -> pb::HistoryEntry {
    pb::HistoryEntry {
        kind: e.kind,
        detail_json: e.detail_json,
        audit: Some(common::Audit {
            actor: e.actor,
            role: e.role,
            at: e.at,
        }),
    }
}

pub(super) fn institution_code(field: &'static str, s: &str) -> Result<InstitutionCode, Status> {
    InstitutionCode::parse(s).map_err(|e| invalid(field, e.to_string()))
}

fn kind_or_all(v: i32) -> Result<Option<InstitutionKind>, Status> {
    match pb::InstitutionKind::try_from(v) {
        Ok(pb::InstitutionKind::Unspecified) => Ok(None),
        Ok(pb::InstitutionKind::Hospital) => Ok(Some(InstitutionKind::Hospital)),
        Ok(pb::InstitutionKind::Pharmacy) => Ok(Some(InstitutionKind::Pharmacy)),
        Ok(pb::InstitutionKind::Clinic) => Ok(Some(InstitutionKind::Clinic)),
        Ok(pb::InstitutionKind::CareInstitution) => Ok(Some(InstitutionKind::CareInstitution)),
        Err(_) => Err(invalid("kind", "unknown value")),
    }
}

pub(super) async fn import_roster(
    app: &Enrollment,
    req: Request<pb::ImportInstitutionRosterRequest>,
) -> Reply<pb::ImportInstitutionRosterResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let within = own_region(&c, "region_code", &r.region_code)?;
    if r.csv.trim().is_empty() {
        return Err(invalid(
            "csv",
            "required: the roster file (docs/roster-format.md)",
        ));
    }
    let out = app.import_roster(&c, &within, &r.csv, r.dry_run).await?;
    let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
    Ok(Response::new(pb::ImportInstitutionRosterResponse {
        stored: out.stored,
        institutions_created: n(out.created),
        versions_written: n(out.versions),
        agreements_written: n(out.agreements),
        unchanged_rows: n(out.unchanged),
        errors: row_errors_pb(out.errors),
    }))
}

pub(super) async fn list_institutions(
    app: &Enrollment,
    req: Request<pb::ListInstitutionsRequest>,
) -> Reply<pb::ListInstitutionsResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let prefix = region_prefix(&c, &r.region_code)?;
    let kind = kind_or_all(r.kind)?;
    let date = date_or_today("date", &r.date)?;
    let page = Page::parse(r.page.as_ref()).map_err(Status::from)?;
    let files = app.list_institutions(&prefix, kind, &page).await?;
    let (files, page) = page.finish(files, |f| vec![f.code.to_string()]);
    Ok(Response::new(pb::ListInstitutionsResponse {
        institutions: files.iter().map(|f| institution_pb(f, date)).collect(),
        page: Some(page),
    }))
}

pub(super) async fn get_institution(
    app: &Enrollment,
    req: Request<pb::GetInstitutionRequest>,
) -> Reply<pb::GetInstitutionResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let code = institution_code("institution_code", &r.institution_code)?;
    let date = date_or_today("date", &r.date)?;
    let f = app.get_institution(&c, &code).await?;
    Ok(Response::new(pb::GetInstitutionResponse {
        institution: Some(institution_pb(&f, date)),
    }))
}

pub(super) async fn institution_history(
    app: &Enrollment,
    req: Request<pb::GetInstitutionHistoryRequest>,
) -> Reply<pb::GetInstitutionHistoryResponse> {
    let c = caller(&req)?;
    let code = institution_code("institution_code", &req.get_ref().institution_code)?;
    let entries = app.institution_history(&c, &code).await?;
    Ok(Response::new(pb::GetInstitutionHistoryResponse {
        entries: entries.into_iter().map(entry_pb).collect(),
    }))
}

pub(super) async fn change_status(
    app: &Enrollment,
    req: Request<pb::ChangeInstitutionStatusRequest>,
) -> Reply<pb::ChangeInstitutionStatusResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let code = institution_code("institution_code", &r.institution_code)?;
    let status = match pb::InstitutionStatus::try_from(r.status) {
        Ok(pb::InstitutionStatus::Active) => InstitutionStatus::Active,
        Ok(pb::InstitutionStatus::Suspended) => InstitutionStatus::Suspended,
        Ok(pb::InstitutionStatus::Terminated) => InstitutionStatus::Terminated,
        _ => {
            return Err(invalid(
                "status",
                "must be INSTITUTION_STATUS_ACTIVE, _SUSPENDED or _TERMINATED",
            ));
        }
    };
    let effective_on = super::parse::date("effective_on", &r.effective_on)?;
    let f = app
        .change_institution_status(
            &c,
            StatusRequest {
                code,
                status,
                effective_on,
                reason: r.reason,
            },
        )
        .await?;
    Ok(Response::new(pb::ChangeInstitutionStatusResponse {
        institution: Some(institution_pb(&f, effective_on)),
    }))
}
