//! Applications: submit, read, list, schedule the assessment, decide, appeal.

use super::Reply;
use super::assessments::assessment_pb;
use super::beneficiaries::beneficiary_pb;
use super::fields::{
    audit, authorization, date_field, date_or_today, institution, invalid, level_pb, masked,
    region, text_field,
};
use crate::app::Ltc;
use crate::app::applications::{ApplicationFilter, ApplicationInput};
use crate::domain::application::{ApplicationKind, ApplicationStatus};
use crate::store::applications::ApplicationRow;
use tonic::{Request, Response};
use yibao_core::IdNumber;
use yibao_proto::ltc::v1 as pb;
use yibao_runtime::page::Page;
use yibao_runtime::server::caller;

fn status_pb(s: ApplicationStatus) -> i32 {
    match s {
        ApplicationStatus::Received => pb::ApplicationStatus::Received as i32,
        ApplicationStatus::AssessmentScheduled => pb::ApplicationStatus::AssessmentScheduled as i32,
        ApplicationStatus::Assessed => pb::ApplicationStatus::Assessed as i32,
        ApplicationStatus::Approved => pb::ApplicationStatus::Approved as i32,
        ApplicationStatus::Rejected => pb::ApplicationStatus::Rejected as i32,
        ApplicationStatus::Appealed => pb::ApplicationStatus::Appealed as i32,
    }
}

fn status_of(v: i32) -> Option<ApplicationStatus> {
    ApplicationStatus::ALL
        .into_iter()
        .find(|s| status_pb(*s) == v)
}

fn application_pb(a: &ApplicationRow) -> pb::Application {
    pb::Application {
        application_id: a.id.clone(),
        institution_code: a.institution_code.clone(),
        application_no: a.application_no.clone(),
        id_number_masked: masked(&a.id_number),
        person_id: a.person_id.clone(),
        name: a.name.clone(),
        region_code: a.region_code.clone(),
        kind: match a.kind {
            ApplicationKind::Initial => pb::ApplicationKind::Initial as i32,
            ApplicationKind::Reassessment => pb::ApplicationKind::Reassessment as i32,
        },
        medical_records: a.medical_records.clone(),
        status: status_pb(a.status),
        level: a.level.map_or(0, level_pb),
        dementia: a.dementia,
        rejection_reason: a.rejection_reason.clone(),
        beneficiary_id: a.beneficiary_id.clone().unwrap_or_default(),
        assessment_id: a.assessment_id.clone().unwrap_or_default(),
        steps: a
            .steps
            .iter()
            .map(|s| pb::ApplicationStep {
                status: status_pb(s.status),
                audit: audit(&s.actor, &s.role, &s.at),
                note: s.note.clone(),
            })
            .collect(),
    }
}

fn application_input(r: pb::SubmitApplicationRequest) -> Result<ApplicationInput, tonic::Status> {
    let inst = institution("institution_code", &r.institution_code)?;
    let application_no = text_field("application_no", &r.application_no, 64)?;
    let id = IdNumber::parse(&r.id_number).map_err(|e| invalid("id_number", e.to_string()))?;
    let name = text_field("name", &r.name, 64)?;
    let reg = region("region_code", &r.region_code)?;
    let kind = match pb::ApplicationKind::try_from(r.kind) {
        Ok(pb::ApplicationKind::Unspecified) | Ok(pb::ApplicationKind::Initial) => {
            ApplicationKind::Initial
        }
        Ok(pb::ApplicationKind::Reassessment) => ApplicationKind::Reassessment,
        Err(_) => return Err(invalid("kind", "unknown application kind")),
    };
    if r.medical_records.is_empty() {
        return Err(invalid(
            "medical_records",
            "at least one medical record must be presented",
        ));
    }
    for (i, m) in r.medical_records.iter().enumerate() {
        text_field(&format!("medical_records[{i}]"), m, 256)?;
    }
    let applied_on = date_or_today("applied_on", &r.applied_on)?;
    if applied_on > chrono::Utc::now().date_naive() {
        return Err(invalid("applied_on", "must not be in the future"));
    }
    Ok(ApplicationInput {
        institution: inst,
        application_no,
        id_number: id,
        name,
        region: reg,
        kind,
        medical_records: r
            .medical_records
            .iter()
            .map(|m| m.trim().to_string())
            .collect(),
        applied_on,
    })
}

pub(super) async fn submit(
    ltc: &Ltc,
    req: Request<pb::SubmitApplicationRequest>,
) -> Reply<pb::SubmitApplicationResponse> {
    let c = caller(&req)?;
    let auth = authorization(&req);
    let input = application_input(req.into_inner())?;
    let (a, replayed) = ltc.submit_application(&c, &auth, input).await?;
    Ok(Response::new(pb::SubmitApplicationResponse {
        application: Some(application_pb(&a)),
        replayed,
    }))
}

pub(super) async fn get(
    ltc: &Ltc,
    req: Request<pb::GetApplicationRequest>,
) -> Reply<pb::GetApplicationResponse> {
    let c = caller(&req)?;
    let a = ltc.application(&c, &req.get_ref().application_id).await?;
    Ok(Response::new(pb::GetApplicationResponse {
        application: Some(application_pb(&a)),
    }))
}

pub(super) async fn list(
    ltc: &Ltc,
    req: Request<pb::ListApplicationsRequest>,
) -> Reply<pb::ListApplicationsResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let page = Page::parse(r.page.as_ref())?;
    let status = if r.status == 0 {
        None
    } else {
        Some(status_of(r.status).ok_or_else(|| invalid("status", "unknown status"))?)
    };
    let filter = ApplicationFilter {
        institution_code: r.institution_code,
        region_code: r.region_code,
        status,
        page,
    };
    let list = ltc.list_applications(&c, &filter).await?;
    let (list, page) = filter.page.finish(list, |a| vec![a.id.clone()]);
    Ok(Response::new(pb::ListApplicationsResponse {
        page: Some(page),
        applications: list.iter().map(application_pb).collect(),
    }))
}

pub(super) async fn schedule(
    ltc: &Ltc,
    req: Request<pb::ScheduleAssessmentRequest>,
) -> Reply<pb::ScheduleAssessmentResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let scheduled_on = date_field("scheduled_on", &r.scheduled_on)?;
    let mut assessors = Vec::new();
    for (i, a) in r.assessor_codes.iter().enumerate() {
        let a = text_field(&format!("assessor_codes[{i}]"), a, 64)?;
        if assessors.contains(&a) {
            return Err(invalid(format!("assessor_codes[{i}]"), "listed twice"));
        }
        assessors.push(a);
    }
    if !(1..=2).contains(&assessors.len()) {
        return Err(invalid("assessor_codes", "one or two assessors"));
    }
    let (app, a) = ltc
        .schedule_assessment(&c, &r.application_id, &assessors, scheduled_on)
        .await?;
    Ok(Response::new(pb::ScheduleAssessmentResponse {
        application: Some(application_pb(&app)),
        assessment: Some(assessment_pb(&a)),
    }))
}

pub(super) async fn decide(
    ltc: &Ltc,
    req: Request<pb::DecideApplicationRequest>,
) -> Reply<pb::DecideApplicationResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let decided_on = date_or_today("decided_on", &r.decided_on)?;
    if !r.approve && r.reason.trim().is_empty() {
        return Err(invalid("reason", "a rejection needs a reason"));
    }
    let (app, b) = ltc
        .decide_application(&c, &r.application_id, r.approve, &r.reason, decided_on)
        .await?;
    Ok(Response::new(pb::DecideApplicationResponse {
        application: Some(application_pb(&app)),
        beneficiary: b.as_ref().map(beneficiary_pb),
    }))
}

pub(super) async fn appeal(
    ltc: &Ltc,
    req: Request<pb::AppealDecisionRequest>,
) -> Reply<pb::AppealDecisionResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let reason = text_field("reason", &r.reason, 500)?;
    let app = ltc.appeal_decision(&c, &r.application_id, &reason).await?;
    Ok(Response::new(pb::AppealDecisionResponse {
        application: Some(application_pb(&app)),
    }))
}
