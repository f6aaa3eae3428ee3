//! A person's certifications: chronic/special-disease certifications and cross-region filings.

use super::Reply;
use super::parse::{date, invalid, parse_region};
use super::registry::institution_code;
use crate::app::Enrollment;
use crate::app::certifications::{NewCertification, NewFiling};
use crate::domain::certifications::{
    ChronicCertification, CrossRegionFiling, FilingKind, Period, RecordStatus,
};
use tonic::{Request, Response, Status};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::server::caller;

pub(super) fn record_status_pb(s: RecordStatus) -> i32 {
    (match s {
        RecordStatus::Active => pb::RecordStatus::Active,
        RecordStatus::Revoked => pb::RecordStatus::Revoked,
    }) as i32
}

pub(super) fn filing_kind_pb(k: FilingKind) -> i32 {
    (match k {
        FilingKind::LongTermResident => pb::FilingKind::LongTermResident,
        FilingKind::Referral => pb::FilingKind::Referral,
        FilingKind::Emergency => pb::FilingKind::Emergency,
        FilingKind::OtherTemporary => pb::FilingKind::OtherTemporary,
    }) as i32
}

pub(super) fn certification_pb(c: ChronicCertification) -> pb::ChronicCertification {
    pb::ChronicCertification {
        certification_id: c.id,
        person_id: c.person_id,
        disease_code: c.disease_code,
        certifying_institution_code: c.certifying_institution.to_string(),
        valid_from: c.period.from.to_string(),
        valid_to: c.period.to.map(|d| d.to_string()).unwrap_or_default(),
        status: record_status_pb(c.status),
        revoke_reason: c.revoke_reason,
    }
}

pub(super) fn filing_pb(f: CrossRegionFiling) -> pb::CrossRegionFiling {
    pb::CrossRegionFiling {
        filing_id: f.id,
        person_id: f.person_id,
        kind: filing_kind_pb(f.kind),
        destination_region_code: f.destination.to_string(),
        valid_from: f.period.from.to_string(),
        valid_to: f.period.to.map(|d| d.to_string()).unwrap_or_default(),
        status: record_status_pb(f.status),
        revoke_reason: f.revoke_reason,
    }
}

fn period(from: &str, to: &str) -> Result<Period, Status> {
    let from = date("valid_from", from)?;
    let to = if to.trim().is_empty() {
        None
    } else {
        Some(date("valid_to", to)?)
    };
    Ok(Period::new(from, to)?)
}

fn required(field: &'static str, s: &str) -> Result<String, Status> {
    let s = s.trim();
    if s.is_empty() {
        Err(invalid(field, "required"))
    } else {
        Ok(s.to_string())
    }
}

pub(super) async fn add_certification(
    app: &Enrollment,
    req: Request<pb::AddChronicCertificationRequest>,
) -> Reply<pb::AddChronicCertificationResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let new = NewCertification {
        person_id: required("person_id", &r.person_id)?,
        disease_code: required("disease_code", &r.disease_code)?,
        certifying_institution: institution_code(
            "certifying_institution_code",
            &r.certifying_institution_code,
        )?,
        period: period(&r.valid_from, &r.valid_to)?,
    };
    let cert = app.add_certification(&c, new).await?;
    Ok(Response::new(pb::AddChronicCertificationResponse {
        certification: Some(certification_pb(cert)),
    }))
}

pub(super) async fn list_certifications(
    app: &Enrollment,
    req: Request<pb::ListChronicCertificationsRequest>,
) -> Reply<pb::ListChronicCertificationsResponse> {
    let c = caller(&req)?;
    let person = required("person_id", &req.get_ref().person_id)?;
    let list = app.certifications(&c, &person).await?;
    Ok(Response::new(pb::ListChronicCertificationsResponse {
        certifications: list.into_iter().map(certification_pb).collect(),
    }))
}

pub(super) async fn revoke_certification(
    app: &Enrollment,
    req: Request<pb::RevokeChronicCertificationRequest>,
) -> Reply<pb::RevokeChronicCertificationResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let id = required("certification_id", &r.certification_id)?;
    let cert = app.revoke_certification(&c, &id, &r.reason).await?;
    Ok(Response::new(pb::RevokeChronicCertificationResponse {
        certification: Some(certification_pb(cert)),
    }))
}

pub(super) async fn add_filing(
    app: &Enrollment,
    req: Request<pb::AddCrossRegionFilingRequest>,
) -> Reply<pb::AddCrossRegionFilingResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let kind = match pb::FilingKind::try_from(r.kind) {
        Ok(pb::FilingKind::LongTermResident) => FilingKind::LongTermResident,
        Ok(pb::FilingKind::Referral) => FilingKind::Referral,
        Ok(pb::FilingKind::Emergency) => FilingKind::Emergency,
        Ok(pb::FilingKind::OtherTemporary) => FilingKind::OtherTemporary,
        _ => {
            return Err(invalid(
                "kind",
                "must be a FilingKind other than UNSPECIFIED",
            ));
        }
    };
    let new = NewFiling {
        person_id: required("person_id", &r.person_id)?,
        kind,
        destination: parse_region("destination_region_code", &r.destination_region_code)?,
        period: period(&r.valid_from, &r.valid_to)?,
    };
    let f = app.add_filing(&c, new).await?;
    Ok(Response::new(pb::AddCrossRegionFilingResponse {
        filing: Some(filing_pb(f)),
    }))
}

pub(super) async fn list_filings(
    app: &Enrollment,
    req: Request<pb::ListCrossRegionFilingsRequest>,
) -> Reply<pb::ListCrossRegionFilingsResponse> {
    let c = caller(&req)?;
    let person = required("person_id", &req.get_ref().person_id)?;
    let list = app.filings(&c, &person).await?;
    Ok(Response::new(pb::ListCrossRegionFilingsResponse {
        filings: list.into_iter().map(filing_pb).collect(),
    }))
}

pub(super) async fn revoke_filing(
    app: &Enrollment,
    req: Request<pb::RevokeCrossRegionFilingRequest>,
) -> Reply<pb::RevokeCrossRegionFilingResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let id = required("filing_id", &r.filing_id)?;
    let f = app.revoke_filing(&c, &id, &r.reason).await?;
    Ok(Response::new(pb::RevokeCrossRegionFilingResponse {
        filing: Some(filing_pb(f)),
    }))
}
