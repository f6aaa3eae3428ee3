//! The gRPC API: proto ⇄ domain mapping, tenancy re-checks, and status codes. Each handler
//! parses its request at the edge (errors name the field; nothing is written), asks enrollment
//! for eligibility where the rules need it (forwarding the caller's token), calls the domain and
//! the store, and maps the result back.

use crate::domain::application::{ApplicationKind, ApplicationStatus};
use crate::domain::assessment::{AssessmentResult, DisabilityLevel, Impairment, ScoreSheet};
use crate::domain::policy::{BenefitPolicy, CareType, Unit};
use crate::domain::record::{Eligibility, MonthSoFar, RecordContext, RecordIn, Verdict, check};
use crate::domain::{Month, parse_date};
use crate::error::LtcError;
use crate::relay::Relay;
use crate::store::{
    Actor, ApplicationRow, AssessmentRow, BeneficiaryRow, LineRow, NewApplication, NewRecord,
    PlanRow, SettlementRow, Store,
};
use chrono::{Datelike, NaiveDate};
use std::collections::{BTreeMap, HashMap};
use tonic::{Request, Response, Status};
use yibao_core::{Fen, IdNumber, InstitutionCode, RegionCode};
use yibao_proto::common::v1 as common;
use yibao_proto::enrollment::v1 as en;
use yibao_proto::ltc::v1 as pb;
use yibao_runtime::server::{Forward, caller};
use yibao_runtime::{ApiError, Caller, ErrorKind, Role};

type Reply<T> = Result<Response<T>, Status>;

/// Largest amount of one record: 1,000,000 yuan.
const MAX_RECORD_FEN: i64 = 100_000_000;

/// The LTC gRPC service.
#[derive(Debug, Clone)]
pub struct LtcApi {
    store: Store,
    enrollment: tonic::transport::Channel,
    relay: Relay,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Status {
    ApiError::invalid("LTC_INVALID_ARGUMENT", field, reason).into()
}

fn st(e: LtcError) -> Status {
    e.into()
}

fn allow(c: &Caller, roles: &[Role]) -> Result<(), Status> {
    if c.role == Role::Admin || roles.contains(&c.role) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::PermissionDenied,
            "ROLE_NOT_ALLOWED",
            format!("role `{}` may not call this method", c.role.as_str()),
        )
        .into())
    }
}

fn denied(code: &'static str, msg: impl Into<String>) -> Status {
    ApiError::new(ErrorKind::PermissionDenied, code, msg).into()
}

fn actor(c: &Caller) -> Actor {
    Actor {
        subject: c.subject.clone(),
        role: c.role.as_str().to_string(),
    }
}

fn audit(actor: &str, role: &str, at: &str) -> Option<common::Audit> {
    Some(common::Audit {
        actor: actor.into(),
        role: role.into(),
        at: at.into(),
    })
}

fn date_field(field: &str, s: &str) -> Result<NaiveDate, Status> {
    parse_date(field, s).map_err(|e| st(e.into()))
}

fn date_or_today(field: &str, s: &str) -> Result<NaiveDate, Status> {
    if s.trim().is_empty() {
        Ok(chrono::Utc::now().date_naive())
    } else {
        date_field(field, s)
    }
}

fn institution(field: &str, s: &str) -> Result<InstitutionCode, Status> {
    InstitutionCode::parse(s).map_err(|e| invalid(field, e.to_string()))
}

fn region(field: &str, s: &str) -> Result<RegionCode, Status> {
    RegionCode::parse(s).map_err(|e| invalid(field, e.to_string()))
}

fn text_field(field: &str, s: &str, max: usize) -> Result<String, Status> {
    let s = s.trim();
    if s.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    Ok(s.to_string())
}

fn masked(id: &str) -> String {
    IdNumber::parse(id)
        .map(|i| i.masked())
        .unwrap_or_else(|_| "******".into())
}

/// The caller's own region, or the requested one checked against it.
fn region_scope(c: &Caller, field: &str, requested: &str) -> Result<Option<RegionCode>, Status> {
    if requested.trim().is_empty() {
        return Ok(c.region.clone());
    }
    c.check_region(field, requested)?;
    Ok(Some(region(field, requested)?))
}

fn covers(c: &Caller, field: &str, region_code: &str) -> Result<(), Status> {
    c.check_region(field, region_code).map_err(Status::from)
}

fn page(p: &Option<common::PageRequest>) -> Result<(u64, u64), Status> {
    let (size, token) = p
        .as_ref()
        .map(|p| (p.page_size, p.page_token.as_str()))
        .unwrap_or((0, ""));
    let size = if size == 0 { 100 } else { size };
    if !(1..=1000).contains(&size) {
        return Err(invalid("page.page_size", "must be 1 to 1000"));
    }
    let offset = if token.is_empty() {
        0
    } else {
        token
            .parse::<u64>()
            .map_err(|_| invalid("page.page_token", "is not a token of this list"))?
    };
    Ok((u64::try_from(size).unwrap_or(100), offset))
}

fn next_page(limit: u64, offset: u64, got: usize) -> Option<common::PageResponse> {
    Some(common::PageResponse {
        next_page_token: if got as u64 == limit {
            (offset + limit).to_string()
        } else {
            String::new()
        },
    })
}

fn level_pb(l: DisabilityLevel) -> i32 {
    i32::from(l.number()) + 1
}

fn impairment_pb(i: Impairment) -> i32 {
    match i {
        Impairment::Intact => pb::Impairment::Intact as i32,
        Impairment::Mild => pb::Impairment::Mild as i32,
        Impairment::Moderate => pb::Impairment::Moderate as i32,
        Impairment::Severe => pb::Impairment::Severe as i32,
    }
}

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

fn care_type_pb(c: CareType) -> i32 {
    match c {
        CareType::Institutional => pb::CareType::Institutional as i32,
        CareType::Home => pb::CareType::Home as i32,
        CareType::Visiting => pb::CareType::Visiting as i32,
        CareType::DementiaUnit => pb::CareType::DementiaUnit as i32,
    }
}

fn care_type_of(field: &str, v: i32) -> Result<CareType, Status> {
    CareType::ALL
        .into_iter()
        .find(|c| care_type_pb(*c) == v)
        .ok_or_else(|| invalid(field, "must be a CareType other than UNSPECIFIED"))
}

fn result_pb(r: &AssessmentResult) -> pb::AssessmentResult {
    pb::AssessmentResult {
        adl_score: r.adl_score,
        cognition_score: r.cognition_score,
        perception_score: r.perception_score,
        adl: impairment_pb(r.adl),
        cognition: impairment_pb(r.cognition),
        perception: impairment_pb(r.perception),
        level: level_pb(r.level),
        dementia: r.dementia,
    }
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

fn assessment_pb(a: &AssessmentRow) -> pb::Assessment {
    pb::Assessment {
        assessment_id: a.id.clone(),
        application_id: a.application_id.clone(),
        assessor_codes: a.assessors.clone(),
        scheduled_on: a.scheduled_on.clone(),
        status: if a.completed {
            pb::AssessmentStatus::Completed as i32
        } else {
            pb::AssessmentStatus::Scheduled as i32
        },
        sheets: a
            .sheets
            .iter()
            .map(|s| pb::ScoreSheet {
                assessor_code: s.assessor_code.clone(),
                items: s.items.clone().into_iter().collect(),
                dementia: s.dementia,
                audit: audit(&s.actor, &s.role, &s.at),
            })
            .collect(),
        result: a.result.as_ref().map(result_pb),
        region_code: a.region_code.clone(),
    }
}

fn plan_pb(p: &PlanRow) -> pb::CarePlan {
    pb::CarePlan {
        care_plan_id: p.plan.id.clone(),
        beneficiary_id: p.beneficiary_id.clone(),
        institution_code: p.plan.institution.clone(),
        care_type: care_type_pb(p.plan.care_type),
        start_date: p.plan.start.to_string(),
        end_date: p.plan.end.map(|d| d.to_string()).unwrap_or_default(),
        audit: audit(&p.actor, &p.role, &p.at),
    }
}

fn beneficiary_pb(b: &BeneficiaryRow) -> pb::Beneficiary {
    pb::Beneficiary {
        beneficiary_id: b.id.clone(),
        person_id: b.person_id.clone(),
        id_number_masked: masked(&b.id_number),
        name: b.name.clone(),
        region_code: b.region_code.clone(),
        levels: b
            .levels
            .iter()
            .map(|l| pb::LevelPeriod {
                level: level_pb(l.level),
                dementia: l.dementia,
                effective_from: l.effective_from.to_string(),
                application_id: l.application_id.clone(),
            })
            .collect(),
        care_plans: b.plans.iter().map(plan_pb).collect(),
        reassessment_due: b.reassessment_due.clone(),
    }
}

fn line_pb(l: &LineRow) -> pb::SettlementLine {
    pb::SettlementLine {
        line_id: l.id.clone(),
        beneficiary_id: l.beneficiary_id.clone(),
        kind: if l.reversal {
            pb::LineKind::Reversal as i32
        } else {
            pb::LineKind::Settled as i32
        },
        reverses_line_id: l.reverses_line_id.clone().unwrap_or_default(),
        level: level_pb(l.level),
        units: u32::try_from(l.figures.units.unsigned_abs()).unwrap_or(u32::MAX),
        billed_fen: l.figures.billed.get(),
        fund_before_cap_fen: l.figures.fund_before_cap.get(),
        fund_fen: l.figures.fund.get(),
        person_fen: l.figures.person.get(),
        capped_fen: l.figures.capped.get(),
        period_start: l.figures.period_start.to_string(),
        period_end: l.figures.period_end.to_string(),
    }
}

fn settlement_pb(s: &SettlementRow) -> pb::Settlement {
    pb::Settlement {
        settlement_id: s.id.clone(),
        institution_code: s.institution_code.clone(),
        month: s.month.clone(),
        lines: s.lines.iter().map(line_pb).collect(),
        billed_fen: s.billed,
        fund_fen: s.fund,
        person_fen: s.person,
        reversed: s.reversed,
        audit: audit(&s.actor, &s.role, &s.at),
    }
}

fn authorization<T>(req: &Request<T>) -> Option<http::HeaderValue> {
    req.metadata()
        .get("authorization")
        .and_then(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok())
}

impl LtcApi {
    /// Builds the service over its store, a channel to enrollment and the outbox relay.
    pub fn new(store: Store, enrollment: tonic::transport::Channel, relay: Relay) -> LtcApi {
        LtcApi {
            store,
            enrollment,
            relay,
        }
    }

    /// Eligibility of a person on a date, from enrollment, with the caller's token.
    async fn eligibility(
        &self,
        auth: &Option<http::HeaderValue>,
        id_number: &str,
        date: NaiveDate,
    ) -> Result<en::CheckEligibilityResponse, Status> {
        let mut client = en::enrollment_service_client::EnrollmentServiceClient::with_interceptor(
            self.enrollment.clone(),
            Forward {
                authorization: auth.clone(),
            },
        );
        client
            .check_eligibility(en::CheckEligibilityRequest {
                id_number: id_number.to_string(),
                date: date.to_string(),
            })
            .await
            .map(Response::into_inner)
            .map_err(|s| {
                st(LtcError::Unavailable(format!(
                    "enrollment CheckEligibility: {}",
                    s.message()
                )))
            })
    }

    async fn policy(&self, region_code: &str, year: i32) -> Result<BenefitPolicy, Status> {
        self.store
            .policy_for(region_code, year)
            .await
            .map_err(st)?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::FailedPrecondition,
                    "LTC_NO_POLICY",
                    format!("no benefit policy for region {region_code} in {year}"),
                )
                .into()
            })
    }

    fn check_application(c: &Caller, a: &ApplicationRow) -> Result<(), Status> {
        match c.role {
            Role::CareInstitution => c
                .check_org("institution_code", &a.institution_code)
                .map_err(Status::from),
            Role::Assessor => Err(denied(
                "ROLE_NOT_ALLOWED",
                "assessors reach applications through their assessments",
            )),
            _ => covers(c, "region_code", &a.region_code),
        }
    }

    fn check_assessment(c: &Caller, a: &AssessmentRow) -> Result<(), Status> {
        match c.role {
            Role::Assessor if !a.assessors.contains(&c.org) => Err(denied(
                "LTC_NOT_ASSIGNED",
                format!("assessment {} is not assigned to you", a.id),
            )),
            Role::Assessor => Ok(()),
            _ => covers(c, "region_code", &a.region_code),
        }
    }

    async fn check_beneficiary(&self, c: &Caller, b: &BeneficiaryRow) -> Result<(), Status> {
        match c.role {
            Role::CareInstitution => {
                if self.store.institution_knows(b, &c.org).await.map_err(st)? {
                    Ok(())
                } else {
                    Err(denied(
                        "OTHER_ORGANISATION",
                        "the beneficiary is not one of your institution's people",
                    ))
                }
            }
            _ => covers(c, "region_code", &b.region_code),
        }
    }

    fn check_institution(c: &Caller, field: &str, code: &InstitutionCode) -> Result<(), Status> {
        c.check_org(field, code.as_str())?;
        if c.role.is_region_scoped() && !c.covers_region(&code.region()) {
            return Err(yibao_runtime::auth::AuthError::OutsideRegion {
                field: field.into(),
                value: code.to_string(),
                region: c.region.as_ref().map(|r| r.to_string()).unwrap_or_default(),
            }
            .into());
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl pb::ltc_service_server::LtcService for LtcApi {
    async fn submit_application(
        &self,
        req: Request<pb::SubmitApplicationRequest>,
    ) -> Reply<pb::SubmitApplicationResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::CareInstitution, Role::Operator])?;
        let auth = authorization(&req);
        let r = req.into_inner();
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
        c.check_org("institution_code", inst.as_str())?;
        covers(&c, "region_code", reg.as_str())?;
        let existing = self
            .store
            .list_applications(Some(inst.as_str()), None, None, 1000, 0)
            .await
            .map_err(st)?;
        if let Some(a) = existing
            .into_iter()
            .find(|a| a.application_no == application_no)
        {
            if a.id_number != id.expose() {
                return Err(st(LtcError::Conflict(format!(
                    "application_no `{application_no}` was used for another person"
                ))));
            }
            return Ok(Response::new(pb::SubmitApplicationResponse {
                application: Some(application_pb(&a)),
                replayed: true,
            }));
        }
        let e = self.eligibility(&auth, id.expose(), applied_on).await?;
        if !e.eligible {
            return Err(ApiError::new(
                ErrorKind::FailedPrecondition,
                "LTC_NOT_INSURED",
                format!(
                    "the person is not insured on {applied_on}: {}",
                    e.explanation
                ),
            )
            .into());
        }
        if e.region_code != reg.as_str() {
            return Err(invalid(
                "region_code",
                format!("the person is insured in {}", e.region_code),
            ));
        }
        let new = NewApplication {
            institution_code: inst.to_string(),
            application_no,
            id_number: id.expose().to_string(),
            person_id: e.person_id,
            name,
            region_code: reg.to_string(),
            kind,
            medical_records: r
                .medical_records
                .iter()
                .map(|m| m.trim().to_string())
                .collect(),
            applied_on,
        };
        let (a, replayed) = self
            .store
            .submit_application(&new, &actor(&c))
            .await
            .map_err(st)?;
        Ok(Response::new(pb::SubmitApplicationResponse {
            application: Some(application_pb(&a)),
            replayed,
        }))
    }

    async fn get_application(
        &self,
        req: Request<pb::GetApplicationRequest>,
    ) -> Reply<pb::GetApplicationResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::CareInstitution, Role::Operator, Role::Auditor])?;
        let a = self
            .store
            .application(&req.get_ref().application_id)
            .await
            .map_err(st)?;
        Self::check_application(&c, &a)?;
        Ok(Response::new(pb::GetApplicationResponse {
            application: Some(application_pb(&a)),
        }))
    }

    async fn list_applications(
        &self,
        req: Request<pb::ListApplicationsRequest>,
    ) -> Reply<pb::ListApplicationsResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::CareInstitution, Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let (limit, offset) = page(&r.page)?;
        let status = if r.status == 0 {
            None
        } else {
            Some(status_of(r.status).ok_or_else(|| invalid("status", "unknown status"))?)
        };
        let (inst, reg) = if c.role == Role::CareInstitution {
            let inst = if r.institution_code.is_empty() {
                c.org.clone()
            } else {
                r.institution_code.clone()
            };
            c.check_org("institution_code", &inst)?;
            (Some(inst), None)
        } else {
            let inst = if r.institution_code.is_empty() {
                None
            } else {
                Some(institution("institution_code", &r.institution_code)?.to_string())
            };
            (inst, region_scope(&c, "region_code", &r.region_code)?)
        };
        let list = self
            .store
            .list_applications(inst.as_deref(), reg.as_ref(), status, limit, offset)
            .await
            .map_err(st)?;
        Ok(Response::new(pb::ListApplicationsResponse {
            page: next_page(limit, offset, list.len()),
            applications: list.iter().map(application_pb).collect(),
        }))
    }

    async fn schedule_assessment(
        &self,
        req: Request<pb::ScheduleAssessmentRequest>,
    ) -> Reply<pb::ScheduleAssessmentResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::Operator])?;
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
        let app = self
            .store
            .application(&r.application_id)
            .await
            .map_err(st)?;
        Self::check_application(&c, &app)?;
        let policy = self.policy(&app.region_code, scheduled_on.year()).await?;
        if policy.two_assessors && assessors.len() != 2 {
            return Err(invalid(
                "assessor_codes",
                "the region's policy demands two assessors",
            ));
        }
        let (app, a) = self
            .store
            .schedule(&app.id, &assessors, scheduled_on, &actor(&c))
            .await
            .map_err(st)?;
        Ok(Response::new(pb::ScheduleAssessmentResponse {
            application: Some(application_pb(&app)),
            assessment: Some(assessment_pb(&a)),
        }))
    }

    async fn submit_score_sheet(
        &self,
        req: Request<pb::SubmitScoreSheetRequest>,
    ) -> Reply<pb::SubmitScoreSheetResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::Assessor])?;
        let r = req.into_inner();
        let raw: BTreeMap<String, u32> = r.items.into_iter().collect();
        let sheet = ScoreSheet::parse("items", &raw, r.dementia).map_err(|e| st(e.into()))?;
        let a = self.store.assessment(&r.assessment_id).await.map_err(st)?;
        if c.role != Role::Admin && !a.assessors.contains(&c.org) {
            return Err(denied(
                "LTC_NOT_ASSIGNED",
                format!("assessment {} is not assigned to you", a.id),
            ));
        }
        let assessor = if c.role == Role::Admin {
            a.assessors.first().cloned().unwrap_or_default()
        } else {
            c.org.clone()
        };
        let (a, replayed) = self
            .store
            .submit_sheet(&a.id, &assessor, &raw, r.dementia, &actor(&c))
            .await
            .map_err(st)?;
        Ok(Response::new(pb::SubmitScoreSheetResponse {
            assessment: Some(assessment_pb(&a)),
            sheet_result: Some(result_pb(&sheet.result())),
            replayed,
        }))
    }

    async fn get_assessment(
        &self,
        req: Request<pb::GetAssessmentRequest>,
    ) -> Reply<pb::GetAssessmentResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::Assessor, Role::Operator, Role::Auditor])?;
        let a = self
            .store
            .assessment(&req.get_ref().assessment_id)
            .await
            .map_err(st)?;
        Self::check_assessment(&c, &a)?;
        Ok(Response::new(pb::GetAssessmentResponse {
            assessment: Some(assessment_pb(&a)),
        }))
    }

    async fn list_assignments(
        &self,
        req: Request<pb::ListAssignmentsRequest>,
    ) -> Reply<pb::ListAssignmentsResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::Assessor, Role::Operator])?;
        let r = req.into_inner();
        let (limit, offset) = page(&r.page)?;
        let list = if c.role == Role::Assessor {
            self.store
                .list_assessments(Some(&c.org), None, r.open_only, limit, offset)
                .await
        } else {
            self.store
                .list_assessments(None, c.region.as_ref(), r.open_only, limit, offset)
                .await
        }
        .map_err(st)?;
        Ok(Response::new(pb::ListAssignmentsResponse {
            page: next_page(limit, offset, list.len()),
            assessments: list.iter().map(assessment_pb).collect(),
        }))
    }

    async fn decide_application(
        &self,
        req: Request<pb::DecideApplicationRequest>,
    ) -> Reply<pb::DecideApplicationResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::Operator])?;
        let r = req.into_inner();
        let decided_on = date_or_today("decided_on", &r.decided_on)?;
        if !r.approve && r.reason.trim().is_empty() {
            return Err(invalid("reason", "a rejection needs a reason"));
        }
        let app = self
            .store
            .application(&r.application_id)
            .await
            .map_err(st)?;
        Self::check_application(&c, &app)?;
        let policy = self.policy(&app.region_code, decided_on.year()).await?;
        let (app, b) = self
            .store
            .decide(
                &app.id,
                r.approve,
                &r.reason,
                decided_on,
                &policy,
                &actor(&c),
            )
            .await
            .map_err(st)?;
        Ok(Response::new(pb::DecideApplicationResponse {
            application: Some(application_pb(&app)),
            beneficiary: b.as_ref().map(beneficiary_pb),
        }))
    }

    async fn appeal_decision(
        &self,
        req: Request<pb::AppealDecisionRequest>,
    ) -> Reply<pb::AppealDecisionResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::CareInstitution, Role::Operator])?;
        let r = req.into_inner();
        let reason = text_field("reason", &r.reason, 500)?;
        let app = self
            .store
            .application(&r.application_id)
            .await
            .map_err(st)?;
        Self::check_application(&c, &app)?;
        let app = self
            .store
            .appeal(&app.id, &reason, &actor(&c))
            .await
            .map_err(st)?;
        Ok(Response::new(pb::AppealDecisionResponse {
            application: Some(application_pb(&app)),
        }))
    }

    async fn upload_benefit_policy(
        &self,
        req: Request<pb::UploadBenefitPolicyRequest>,
    ) -> Reply<pb::UploadBenefitPolicyResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::Operator])?;
        let r = req.into_inner();
        let reg = region("region_code", &r.region_code)?;
        covers(&c, "region_code", reg.as_str())?;
        if !(2000..=2100).contains(&r.year) {
            return Err(invalid("year", "must be 2000 to 2100"));
        }
        let policy = BenefitPolicy::from_json(&r.document_json).map_err(|e| st(e.into()))?;
        let (version, doc) = self
            .store
            .upload_policy(reg.as_str(), r.year, &policy, &actor(&c))
            .await
            .map_err(st)?;
        Ok(Response::new(pb::UploadBenefitPolicyResponse {
            version,
            document_json: doc,
        }))
    }

    async fn get_benefit_policy(
        &self,
        req: Request<pb::GetBenefitPolicyRequest>,
    ) -> Reply<pb::GetBenefitPolicyResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::Operator, Role::Auditor, Role::CareInstitution])?;
        let r = req.into_inner();
        let reg = region("region_code", &r.region_code)?;
        covers(&c, "region_code", reg.as_str())?;
        let (version, _, doc, a, role, at) = self
            .store
            .policy_exact(reg.as_str(), r.year)
            .await
            .map_err(st)?
            .ok_or_else(|| st(LtcError::NotFound("policy", format!("{reg}/{}", r.year))))?;
        Ok(Response::new(pb::GetBenefitPolicyResponse {
            version,
            document_json: doc,
            audit: audit(&a, &role, &at),
        }))
    }

    async fn get_beneficiary(
        &self,
        req: Request<pb::GetBeneficiaryRequest>,
    ) -> Reply<pb::GetBeneficiaryResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::CareInstitution, Role::Operator, Role::Auditor])?;
        let b = self
            .store
            .beneficiary(&req.get_ref().beneficiary_id)
            .await
            .map_err(st)?;
        self.check_beneficiary(&c, &b).await?;
        Ok(Response::new(pb::GetBeneficiaryResponse {
            beneficiary: Some(beneficiary_pb(&b)),
        }))
    }

    async fn list_reassessments_due(
        &self,
        req: Request<pb::ListReassessmentsDueRequest>,
    ) -> Reply<pb::ListReassessmentsDueResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let (limit, offset) = page(&r.page)?;
        let on = date_or_today("date", &r.date)?;
        let reg = region_scope(&c, "region_code", &r.region_code)?
            .ok_or_else(|| invalid("region_code", "must not be empty"))?;
        let list = self
            .store
            .reassessments_due(&reg, on, limit, offset)
            .await
            .map_err(st)?;
        Ok(Response::new(pb::ListReassessmentsDueResponse {
            page: next_page(limit, offset, list.len()),
            beneficiaries: list.iter().map(beneficiary_pb).collect(),
        }))
    }

    async fn place_care(&self, req: Request<pb::PlaceCareRequest>) -> Reply<pb::PlaceCareResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::CareInstitution, Role::Operator])?;
        let r = req.into_inner();
        let inst = institution("institution_code", &r.institution_code)?;
        let care_type = care_type_of("care_type", r.care_type)?;
        let start = date_field("start_date", &r.start_date)?;
        Self::check_institution(&c, "institution_code", &inst)?;
        let b = self
            .store
            .beneficiary(&r.beneficiary_id)
            .await
            .map_err(st)?;
        self.check_beneficiary(&c, &b).await?;
        let policy = self.policy(&b.region_code, start.year()).await?;
        if policy.terms(care_type).is_none() {
            return Err(invalid(
                "care_type",
                format!(
                    "the policy of {} in {} does not offer {}",
                    b.region_code,
                    start.year(),
                    care_type.as_str()
                ),
            ));
        }
        let (plan, ended, replayed) = self
            .store
            .place_care(&b.id, inst.as_str(), care_type, start, &actor(&c))
            .await
            .map_err(st)?;
        Ok(Response::new(pb::PlaceCareResponse {
            care_plan: Some(plan_pb(&plan)),
            ended: ended.as_ref().map(plan_pb),
            replayed,
        }))
    }

    async fn upload_service_records(
        &self,
        req: Request<pb::UploadServiceRecordsRequest>,
    ) -> Reply<pb::UploadServiceRecordsResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::CareInstitution, Role::Operator])?;
        let auth = authorization(&req);
        let r = req.into_inner();
        let inst = institution("institution_code", &r.institution_code)?;
        Self::check_institution(&c, "institution_code", &inst)?;
        if r.records.is_empty() || r.records.len() > 1000 {
            return Err(invalid("records", "1 to 1000 records"));
        }
        // Shape first: a malformed record refuses the whole upload, naming it; nothing is written.
        let today = chrono::Utc::now().date_naive();
        let mut parsed = Vec::with_capacity(r.records.len());
        for (i, rec) in r.records.iter().enumerate() {
            let f = |name: &str| format!("records[{i}].{name}");
            let record_no = text_field(&f("record_no"), &rec.record_no, 64)?;
            if parsed
                .iter()
                .any(|(no, _, _, _): &(String, String, RecordIn, Vec<String>)| *no == record_no)
            {
                return Err(invalid(f("record_no"), "listed twice in the upload"));
            }
            let beneficiary = text_field(&f("beneficiary_id"), &rec.beneficiary_id, 64)?;
            let care_type = care_type_of(&f("care_type"), rec.care_type)?;
            let service_date = date_field(&f("service_date"), &rec.service_date)?;
            if service_date > today {
                return Err(invalid(f("service_date"), "must not be in the future"));
            }
            if !(1..=100).contains(&rec.units) {
                return Err(invalid(f("units"), "must be 1 to 100"));
            }
            if !(0..=MAX_RECORD_FEN).contains(&rec.amount_fen) {
                return Err(invalid(
                    f("amount_fen"),
                    format!("must be 0 to {MAX_RECORD_FEN}"),
                ));
            }
            let items = rec
                .items
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            parsed.push((
                record_no,
                beneficiary,
                RecordIn {
                    care_type,
                    service_date,
                    units: rec.units,
                    amount: Fen(rec.amount_fen),
                },
                items,
            ));
        }
        let mut results = Vec::with_capacity(parsed.len());
        let mut accepted: Vec<NewRecord> = Vec::new();
        let mut beneficiaries: HashMap<String, Option<BeneficiaryRow>> = HashMap::new();
        let mut policies: HashMap<(String, i32), Option<BenefitPolicy>> = HashMap::new();
        let mut eligibility: HashMap<(String, NaiveDate), Eligibility> = HashMap::new();
        let mut stays = HashMap::new();
        let mut usage: HashMap<(String, Month), Vec<(CareType, NaiveDate, u32)>> = HashMap::new();
        let result =
            |no: &str, outcome: pb::RecordOutcome, code: &str, reason: String| pb::RecordResult {
                record_no: no.to_string(),
                outcome: outcome as i32,
                code: code.to_string(),
                reason,
            };
        for (no, ben_id, rec, items) in &parsed {
            if let Some(old) = self.store.record(inst.as_str(), no).await.map_err(st)? {
                let same = old.beneficiary_id == *ben_id
                    && old.care_type == rec.care_type
                    && old.service_date == rec.service_date
                    && old.units == rec.units
                    && old.amount == rec.amount;
                results.push(if same {
                    result(no, pb::RecordOutcome::Replayed, "", "uploaded before; nothing written".into())
                } else {
                    result(no, pb::RecordOutcome::Refused, "LTC_RECORD_NO_REUSED", "the record number was uploaded before with other content; correct it instead".into())
                });
                continue;
            }
            if !beneficiaries.contains_key(ben_id) {
                let b = match self.store.beneficiary(ben_id).await {
                    Ok(b) => Some(b),
                    Err(LtcError::NotFound(..)) => None,
                    Err(e) => return Err(st(e)),
                };
                beneficiaries.insert(ben_id.clone(), b);
            }
            let Some(b) = beneficiaries.get(ben_id).and_then(Option::as_ref) else {
                results.push(result(
                    no,
                    pb::RecordOutcome::Refused,
                    "LTC_BENEFICIARY_UNKNOWN",
                    format!("no beneficiary {ben_id}"),
                ));
                continue;
            };
            let year = rec.service_date.year();
            if !policies.contains_key(&(b.region_code.clone(), year)) {
                let p = self
                    .store
                    .policy_for(&b.region_code, year)
                    .await
                    .map_err(st)?;
                policies.insert((b.region_code.clone(), year), p);
            }
            let policy = policies
                .get(&(b.region_code.clone(), year))
                .and_then(Option::as_ref);
            let key = (b.id.clone(), rec.service_date);
            if !eligibility.contains_key(&key) {
                let e = self
                    .eligibility(&auth, &b.id_number, rec.service_date)
                    .await?;
                let v = if e.eligible {
                    Eligibility::Eligible
                } else if e.reason == en::IneligibleReason::Deceased as i32 {
                    Eligibility::Deceased
                } else {
                    Eligibility::NotCovered(e.explanation)
                };
                eligibility.insert(key.clone(), v);
            }
            if !stays.contains_key(&b.person_id) {
                stays.insert(
                    b.person_id.clone(),
                    self.store.stays(&b.person_id).await.map_err(st)?,
                );
            }
            let month = Month::of(rec.service_date);
            let ukey = (b.id.clone(), month);
            if !usage.contains_key(&ukey) {
                usage.insert(
                    ukey.clone(),
                    self.store.month_usage(&b.id, month).await.map_err(st)?,
                );
            }
            let used = usage.get(&ukey).map(Vec::as_slice).unwrap_or_default();
            let day_unit = policy
                .and_then(|p| p.terms(rec.care_type))
                .is_some_and(|t| t.unit == Unit::Day);
            let so_far = MonthSoFar {
                units: used
                    .iter()
                    .filter(|(t, ..)| *t == rec.care_type)
                    .map(|(.., u)| *u)
                    .sum(),
                day_taken: day_unit
                    && used.iter().any(|(t, d, _)| {
                        *d == rec.service_date
                            && matches!(t, CareType::Institutional | CareType::DementiaUnit)
                    }),
            };
            let plans = b.care_plans();
            let levels = b.level_periods();
            let cx = RecordContext {
                institution: inst.as_str(),
                plans: &plans,
                levels: &levels,
                policy,
                eligibility: eligibility.get(&key).unwrap_or(&Eligibility::Eligible),
                stays: stays
                    .get(&b.person_id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                so_far,
            };
            let verdict = check(rec, &cx);
            let flag = match verdict {
                Verdict::Refuse { code, reason } => {
                    results.push(result(no, pb::RecordOutcome::Refused, code, reason));
                    continue;
                }
                Verdict::Flag { code, reason } => {
                    results.push(result(no, pb::RecordOutcome::Flagged, code, reason));
                    Some(code.to_string())
                }
                Verdict::Accept => {
                    results.push(result(no, pb::RecordOutcome::Accepted, "", String::new()));
                    None
                }
            };
            usage
                .entry(ukey)
                .or_default()
                .push((rec.care_type, rec.service_date, rec.units));
            accepted.push(NewRecord {
                record_no: no.clone(),
                beneficiary_id: b.id.clone(),
                region_code: b.region_code.clone(),
                care_type: rec.care_type,
                service_date: rec.service_date,
                units: rec.units,
                amount: rec.amount,
                items: items.clone(),
                flag_code: flag,
            });
        }
        self.store
            .insert_records(inst.as_str(), &accepted)
            .await
            .map_err(st)?;
        let n_accepted = results
            .iter()
            .filter(|r| {
                r.outcome == pb::RecordOutcome::Accepted as i32
                    || r.outcome == pb::RecordOutcome::Flagged as i32
            })
            .count();
        let n_refused = results
            .iter()
            .filter(|r| r.outcome == pb::RecordOutcome::Refused as i32)
            .count();
        Ok(Response::new(pb::UploadServiceRecordsResponse {
            results,
            accepted: u32::try_from(n_accepted).unwrap_or(u32::MAX),
            refused: u32::try_from(n_refused).unwrap_or(u32::MAX),
        }))
    }

    async fn correct_service_record(
        &self,
        req: Request<pb::CorrectServiceRecordRequest>,
    ) -> Reply<pb::CorrectServiceRecordResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::CareInstitution, Role::Operator])?;
        let r = req.into_inner();
        let inst = institution("institution_code", &r.institution_code)?;
        Self::check_institution(&c, "institution_code", &inst)?;
        let record_no = text_field("record_no", &r.record_no, 64)?;
        let reason = text_field("reason", &r.reason, 500)?;
        if !(1..=100).contains(&r.units) {
            return Err(invalid("units", "must be 1 to 100"));
        }
        if !(0..=MAX_RECORD_FEN).contains(&r.amount_fen) {
            return Err(invalid(
                "amount_fen",
                format!("must be 0 to {MAX_RECORD_FEN}"),
            ));
        }
        let old = self
            .store
            .record(inst.as_str(), &record_no)
            .await
            .map_err(st)?
            .ok_or_else(|| st(LtcError::NotFound("record", record_no.clone())))?;
        if r.units != 1 {
            let b = self
                .store
                .beneficiary(&old.beneficiary_id)
                .await
                .map_err(st)?;
            let policy = self.policy(&b.region_code, old.service_date.year()).await?;
            if policy
                .terms(old.care_type)
                .is_some_and(|t| t.unit == Unit::Day)
            {
                return Err(invalid("units", "a bed-day record carries exactly 1 unit"));
            }
        }
        let (rec, needs) = self
            .store
            .correct_record(
                inst.as_str(),
                &record_no,
                r.units,
                Fen(r.amount_fen),
                &reason,
                &actor(&c),
            )
            .await
            .map_err(st)?;
        Ok(Response::new(pb::CorrectServiceRecordResponse {
            record: Some(pb::ServiceRecord {
                record_no: rec.record_no,
                beneficiary_id: rec.beneficiary_id,
                care_type: care_type_pb(rec.care_type),
                service_date: rec.service_date.to_string(),
                units: rec.units,
                amount_fen: rec.amount.get(),
                items: rec.items,
            }),
            needs_resettlement: needs,
        }))
    }

    async fn settle_month(
        &self,
        req: Request<pb::SettleMonthRequest>,
    ) -> Reply<pb::SettleMonthResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::Operator])?;
        let r = req.into_inner();
        let inst = institution("institution_code", &r.institution_code)?;
        let month = Month::parse("month", &r.month).map_err(|e| st(e.into()))?;
        let request_id = text_field("request_id", &r.request_id, 128)?;
        if month.first_day() > chrono::Utc::now().date_naive() {
            return Err(invalid("month", "must not be in the future"));
        }
        Self::check_institution(&c, "institution_code", &inst)?;
        let (run, replayed) = self
            .store
            .settle_month(inst.as_str(), month, &request_id, &actor(&c))
            .await
            .map_err(st)?;
        self.relay.kick();
        Ok(Response::new(pb::SettleMonthResponse {
            settlement: Some(settlement_pb(&run)),
            replayed,
        }))
    }

    async fn reverse_settlement(
        &self,
        req: Request<pb::ReverseSettlementRequest>,
    ) -> Reply<pb::ReverseSettlementResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::Operator])?;
        let r = req.into_inner();
        let request_id = text_field("request_id", &r.request_id, 128)?;
        let reason = text_field("reason", &r.reason, 500)?;
        let target = self.store.settlement(&r.settlement_id).await.map_err(st)?;
        Self::check_institution(
            &c,
            "institution_code",
            &institution("institution_code", &target.institution_code)?,
        )?;
        let (run, replayed) = self
            .store
            .reverse_settlement(&target.id, &request_id, &reason, &actor(&c))
            .await
            .map_err(st)?;
        self.relay.kick();
        Ok(Response::new(pb::ReverseSettlementResponse {
            reversal: Some(settlement_pb(&run)),
            replayed,
        }))
    }

    async fn get_settlement(
        &self,
        req: Request<pb::GetSettlementRequest>,
    ) -> Reply<pb::GetSettlementResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::CareInstitution, Role::Operator, Role::Auditor])?;
        let s = self
            .store
            .settlement(&req.get_ref().settlement_id)
            .await
            .map_err(st)?;
        Self::check_institution(
            &c,
            "institution_code",
            &institution("institution_code", &s.institution_code)?,
        )?;
        Ok(Response::new(pb::GetSettlementResponse {
            settlement: Some(settlement_pb(&s)),
        }))
    }

    async fn get_statistics(
        &self,
        req: Request<pb::GetStatisticsRequest>,
    ) -> Reply<pb::GetStatisticsResponse> {
        let c = caller(&req)?;
        allow(&c, &[Role::Operator, Role::Auditor])?;
        let r = req.into_inner();
        let month = Month::parse("month", &r.month).map_err(|e| st(e.into()))?;
        let reg = region_scope(&c, "region_code", &r.region_code)?
            .ok_or_else(|| invalid("region_code", "must not be empty"))?;
        let s = self.store.statistics(&reg, month).await.map_err(st)?;
        let counts = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| pb::Count {
                    key: k.clone(),
                    count: *v,
                })
                .collect::<Vec<_>>()
        };
        Ok(Response::new(pb::GetStatisticsResponse {
            beneficiaries: s.beneficiaries,
            by_level: counts(&s.by_level),
            by_care_type: counts(&s.by_care_type),
            by_region: counts(&s.by_region),
            previous_month: s.previous_month,
            growth_month_on_month_bp: crate::domain::stats::growth_bp(
                s.previous_month,
                s.beneficiaries,
            ),
            same_month_last_year: s.same_month_last_year,
            growth_year_on_year_bp: crate::domain::stats::growth_bp(
                s.same_month_last_year,
                s.beneficiaries,
            ),
            institutions: s.institutions,
            fund_paid_fen: s.fund_paid,
        }))
    }
}
