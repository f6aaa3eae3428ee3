//! `GetSettlementFacts`: the facts settlement pays a claim by, in one call.

use super::Reply;
use super::certifications::{certification_pb, filing_pb};
use super::eligibility::{eligibility_pb, unknown_person_pb};
use super::parse::{date_or_today, invalid, parse_id};
use super::physicians::physician_status_pb;
use super::registry::{agreement_pb, institution_code, status_pb, version_pb};
use crate::app::Enrollment;
use crate::app::settlement_facts::FactsQuery;
use crate::domain::registry::ServiceKind;
use tonic::{Request, Response, Status};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::server::caller;

fn service_of(v: i32) -> Result<ServiceKind, Status> {
    match pb::ServiceKind::try_from(v) {
        Ok(pb::ServiceKind::Inpatient) => Ok(ServiceKind::Inpatient),
        Ok(pb::ServiceKind::Outpatient) => Ok(ServiceKind::Outpatient),
        Ok(pb::ServiceKind::Chronic) => Ok(ServiceKind::Chronic),
        Ok(pb::ServiceKind::Pharmacy) => Ok(ServiceKind::Pharmacy),
        Ok(pb::ServiceKind::Ltc) => Ok(ServiceKind::Ltc),
        _ => Err(invalid(
            "service_kind",
            "must be a ServiceKind other than UNSPECIFIED",
        )),
    }
}

fn optional(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

pub(super) async fn settlement_facts(
    app: &Enrollment,
    req: Request<pb::GetSettlementFactsRequest>,
) -> Reply<pb::GetSettlementFactsResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let q = FactsQuery {
        id_number: parse_id("id_number", &r.id_number)?,
        date: date_or_today("date", &r.date)?,
        institution: institution_code("institution_code", &r.institution_code)?,
        service: service_of(r.service_kind)?,
        disease_code: optional(&r.disease_code),
        physician_code: optional(&r.physician_code),
    };
    let f = app.settlement_facts(&c, &q).await?;
    let i = f.institution;
    Ok(Response::new(pb::GetSettlementFactsResponse {
        person: Some(match f.person {
            Some(a) => eligibility_pb(a),
            None => unknown_person_pb(&q.id_number, q.date),
        }),
        institution: Some(pb::InstitutionFacts {
            registered: i.version.is_some(),
            version: i.version.as_ref().map(version_pb),
            status: status_pb(i.status),
            status_reason: i.status_reason,
            agreement: i.agreement.as_ref().ok().map(agreement_pb),
            no_agreement_reason: i.agreement.err().unwrap_or_default(),
        }),
        certification: f.certification.map(certification_pb),
        filing: f.filing.map(filing_pb),
        physician: f.physician.map(|p| match p {
            Some(p) => pb::PhysicianFacts {
                registered: true,
                institution_code: p.institution.to_string(),
                status: physician_status_pb(p.status),
                status_reason: p.status_reason,
            },
            None => pb::PhysicianFacts::default(),
        }),
    }))
}
