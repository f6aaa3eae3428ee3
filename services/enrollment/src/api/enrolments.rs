//! Contribution standards, enrolling, contributions and status events.

use super::Reply;
use super::parse::{date, date_or_today, invalid, own_region, parse_region, scheme_of, scheme_pb};
use crate::app::Enrollment;
use crate::app::enrolments::{Enrol, EventRequest, RecordEvent};
use crate::domain::Enrolment;
use crate::domain::enrolment::{ContributionKind, ContributionStandard, StatusEvent};
use crate::store::enrolments::Contribution;
use chrono::NaiveDate;
use tonic::{Request, Response};
use yibao_core::Fen;
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::server::caller;

pub(super) fn enrolment_pb(person_id: &str, e: &Enrolment, today: NaiveDate) -> pb::Enrolment {
    let status = if e.end_reason.is_some() && e.effective_to < today {
        pb::EnrolmentStatus::Ended
    } else if e.paid_on.is_some() {
        pb::EnrolmentStatus::Active
    } else {
        pb::EnrolmentStatus::PendingPayment
    };
    pb::Enrolment {
        enrolment_id: e.id.clone(),
        person_id: person_id.to_string(),
        year: e.year,
        scheme: scheme_pb(e.scheme),
        region_code: e.region.to_string(),
        effective_from: e.effective_from.to_string(),
        effective_to: e.effective_to.to_string(),
        due_fen: e.due.0,
        paid_fen: e.paid.0,
        subsidised_fen: e.subsidised.0,
        status: status as i32,
        paid_on: e.paid_on.map(|d| d.to_string()).unwrap_or_default(),
    }
}

fn enrolments_pb(person_id: &str, enrolments: &[Enrolment]) -> Vec<pb::Enrolment> {
    let today = chrono::Utc::now().date_naive();
    enrolments
        .iter()
        .map(|e| enrolment_pb(person_id, e, today))
        .collect()
}

pub(super) async fn set_contribution_standard(
    app: &Enrollment,
    req: Request<pb::SetContributionStandardRequest>,
) -> Reply<pb::SetContributionStandardResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&c, "region_code", &r.region_code)?;
    let scheme = scheme_of("scheme", r.scheme)?;
    let year = super::parse::year(r.year)?;
    if r.individual_amount_fen < 0 {
        return Err(invalid("individual_amount_fen", "must not be negative"));
    }
    let waiting = u32::try_from(r.waiting_days)
        .ok()
        .filter(|d| *d <= 365)
        .ok_or_else(|| invalid("waiting_days", "must be 0 to 365"))?;
    let std = ContributionStandard {
        individual_amount: Fen(r.individual_amount_fen),
        waiting_days: waiting,
    };
    app.set_standard(&region, year, scheme, &std).await?;
    Ok(Response::new(pb::SetContributionStandardResponse {
        region_code: region.to_string(),
        year: r.year,
        scheme: r.scheme,
        individual_amount_fen: r.individual_amount_fen,
        waiting_days: r.waiting_days,
    }))
}

pub(super) async fn enroll(
    app: &Enrollment,
    req: Request<pb::EnrollRequest>,
) -> Reply<pb::EnrollResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let scheme = scheme_of("scheme", r.scheme)?;
    let region = own_region(&c, "region_code", &r.region_code)?;
    let enrolled_on = date_or_today("enrolled_on", &r.enrolled_on)?;
    let enrol = Enrol {
        person_id: r.person_id,
        year: r.year,
        scheme,
        region,
        enrolled_on,
    };
    let (person_id, e) = app.enroll(&c, enrol).await?;
    Ok(Response::new(pb::EnrollResponse {
        enrolment: Some(enrolment_pb(
            &person_id,
            &e,
            chrono::Utc::now().date_naive(),
        )),
    }))
}

pub(super) async fn record_contribution(
    app: &Enrollment,
    req: Request<pb::RecordContributionRequest>,
) -> Reply<pb::RecordContributionResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let kind = match pb::ContributionKind::try_from(r.kind) {
        Ok(pb::ContributionKind::Payment) => ContributionKind::Payment,
        Ok(pb::ContributionKind::Subsidy) => ContributionKind::Subsidy,
        _ => {
            return Err(invalid(
                "kind",
                "must be CONTRIBUTION_KIND_PAYMENT or CONTRIBUTION_KIND_SUBSIDY",
            ));
        }
    };
    if r.amount_fen <= 0 {
        return Err(invalid("amount_fen", "must be positive"));
    }
    let reference = r.reference.trim();
    if reference.is_empty() || reference.len() > 128 {
        return Err(invalid(
            "reference",
            "a receipt number or subsidy programme reference (1 to 128 characters) makes retries safe",
        ));
    }
    let contribution = Contribution {
        kind,
        amount: Fen(r.amount_fen),
        paid_on: date_or_today("paid_on", &r.paid_on)?,
        reference: reference.to_string(),
    };
    let (person_id, e) = app
        .record_contribution(&c, &r.enrolment_id, contribution)
        .await?;
    Ok(Response::new(pb::RecordContributionResponse {
        enrolment: Some(enrolment_pb(
            &person_id,
            &e,
            chrono::Utc::now().date_naive(),
        )),
    }))
}

pub(super) async fn list_enrolments(
    app: &Enrollment,
    req: Request<pb::ListEnrolmentsRequest>,
) -> Reply<pb::ListEnrolmentsResponse> {
    let c = caller(&req)?;
    let (person_id, enrolments) = app.list_enrolments(&c, &req.get_ref().person_id).await?;
    Ok(Response::new(pb::ListEnrolmentsResponse {
        enrolments: enrolments_pb(&person_id, &enrolments),
    }))
}

fn event_request(r: &pb::RecordStatusEventRequest) -> Result<EventRequest, tonic::Status> {
    Ok(match pb::StatusEventKind::try_from(r.kind) {
        Ok(pb::StatusEventKind::Death) => EventRequest::Event(StatusEvent::Death, "death"),
        Ok(pb::StatusEventKind::MovedOutOfRegion) => {
            EventRequest::Event(StatusEvent::MovedOutOfRegion, "moved_out_of_region")
        }
        Ok(pb::StatusEventKind::MovedOutOfProvince) => {
            EventRequest::Event(StatusEvent::MovedOutOfProvince, "moved_out_of_province")
        }
        Ok(pb::StatusEventKind::Suspension) => {
            EventRequest::Event(StatusEvent::Suspension, "suspension")
        }
        Ok(pb::StatusEventKind::Resumption) => {
            EventRequest::Event(StatusEvent::Resumption, "resumption")
        }
        Ok(pb::StatusEventKind::Transfer) => EventRequest::Transfer {
            to_region: parse_region("to_region_code", &r.to_region_code)?,
            to_scheme: if r.to_scheme == 0 {
                None
            } else {
                Some(scheme_of("to_scheme", r.to_scheme)?)
            },
        },
        _ => {
            return Err(invalid(
                "kind",
                "must be a StatusEventKind other than UNSPECIFIED",
            ));
        }
    })
}

pub(super) async fn record_status_event(
    app: &Enrollment,
    req: Request<pb::RecordStatusEventRequest>,
) -> Reply<pb::RecordStatusEventResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let on = date("effective_on", &r.effective_on)?;
    let request = event_request(&r)?;
    let event = RecordEvent {
        person_id: r.person_id,
        on,
        request,
        note: r.note,
        to_region_code: r.to_region_code,
    };
    let (person_id, enrolments) = app.record_status_event(&c, event).await?;
    Ok(Response::new(pb::RecordStatusEventResponse {
        enrolments: enrolments_pb(&person_id, &enrolments),
    }))
}
