//! Enrollment's registries as settlement asks them: `GetSettlementFacts` (decision 10) — the
//! person on the claim's date and what the designated-institution registry, the person's
//! certifications and filings and the physician registry say about the claim, in one call.

use super::grpc::{EnrollmentClient, upstream};
use super::{Authorization, Offline, PersonOnDate};
use crate::app::AppError;
use crate::domain::registry::{
    InstitutionOnDate, PhysicianOnDate, RegistryFacts, RegistryStatus, ServiceKind,
};
use crate::domain::{CrossRegionFiling, HospitalGrade, InstitutionTier};
use crate::error::ENROLLMENT_UNAVAILABLE;
use chrono::NaiveDate;
use yibao_core::{IdNumber, InstitutionCode, PersonCategory, RegionCode, Scheme};
use yibao_proto::enrollment::v1 as enr;
use yibao_runtime::server::Forward;

/// What settlement asks about a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsQuery<'a> {
    /// The patient.
    pub id_number: &'a IdNumber,
    /// The claim's end date.
    pub date: NaiveDate,
    /// The institution.
    pub institution: &'a InstitutionCode,
    /// The service the claim is settled under.
    pub service: ServiceKind,
    /// The disease of a chronic claim.
    pub disease_code: Option<&'a str>,
    /// The attending physician the claim names.
    pub physician_code: Option<&'a str>,
    /// The insured region the claim names.
    pub insured_region: &'a RegionCode,
}

/// Enrollment's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRegistryFacts {
    /// The person on the date.
    pub person: PersonOnDate,
    /// What the registries say about the claim.
    pub registry: RegistryFacts,
}

/// Enrollment's `GetSettlementFacts`.
#[tonic::async_trait]
pub trait SettlementRegistry: Send + Sync + std::fmt::Debug {
    /// The facts of a claim. An unreachable enrollment is `AppError::Upstream`; its refusals
    /// pass on as `AppError::Refused`.
    async fn facts(
        &self,
        authorization: Authorization,
        query: &FactsQuery<'_>,
    ) -> Result<ClaimRegistryFacts, AppError>;
}

fn service_pb(s: ServiceKind) -> i32 {
    (match s {
        ServiceKind::Inpatient => enr::ServiceKind::Inpatient,
        ServiceKind::Outpatient => enr::ServiceKind::Outpatient,
        ServiceKind::Chronic => enr::ServiceKind::Chronic,
        ServiceKind::Pharmacy => enr::ServiceKind::Pharmacy,
    }) as i32
}

fn institution_of(i: enr::InstitutionFacts) -> Result<Option<InstitutionOnDate>, AppError> {
    let Some(v) = i.version.filter(|_| i.registered) else {
        return Ok(None);
    };
    let unexpected = |what: &str| {
        AppError::Upstream(
            ENROLLMENT_UNAVAILABLE,
            format!("enrollment answered an institution without a {what}"),
        )
    };
    let grade = match enr::InstitutionGrade::try_from(v.grade) {
        Ok(enr::InstitutionGrade::InstitutionGrade1) => Some(HospitalGrade::Grade1),
        Ok(enr::InstitutionGrade::InstitutionGrade2) => Some(HospitalGrade::Grade2),
        Ok(enr::InstitutionGrade::InstitutionGrade3) => Some(HospitalGrade::Grade3),
        Ok(enr::InstitutionGrade::Ungraded) => None,
        _ => return Err(unexpected("grade")),
    };
    let tier = match enr::InstitutionTier::try_from(v.tier) {
        Ok(enr::InstitutionTier::Township) => InstitutionTier::Township,
        Ok(enr::InstitutionTier::County) => InstitutionTier::County,
        Ok(enr::InstitutionTier::City) => InstitutionTier::City,
        Ok(enr::InstitutionTier::Province) => InstitutionTier::Province,
        _ => return Err(unexpected("tier")),
    };
    let status = match enr::InstitutionStatus::try_from(i.status) {
        Ok(enr::InstitutionStatus::Active) => RegistryStatus::Active,
        Ok(enr::InstitutionStatus::Suspended) => RegistryStatus::Suspended,
        Ok(enr::InstitutionStatus::Terminated) => RegistryStatus::Ended,
        _ => return Err(unexpected("status")),
    };
    Ok(Some(InstitutionOnDate {
        grade,
        tier,
        status,
        status_reason: i.status_reason,
        agreement_no: i.agreement.map(|a| a.agreement_no),
        no_agreement_reason: i.no_agreement_reason,
    }))
}

fn filing_of(f: enr::CrossRegionFiling) -> Option<(String, CrossRegionFiling)> {
    let kind = match enr::FilingKind::try_from(f.kind) {
        Ok(enr::FilingKind::LongTermResident) => CrossRegionFiling::LongTermResident,
        Ok(enr::FilingKind::Referral) => CrossRegionFiling::Referral,
        Ok(enr::FilingKind::Emergency) => CrossRegionFiling::Emergency,
        Ok(enr::FilingKind::OtherTemporary) => CrossRegionFiling::OtherTemporary,
        _ => return None,
    };
    Some((f.filing_id, kind))
}

fn physician_of(p: enr::PhysicianFacts) -> PhysicianOnDate {
    PhysicianOnDate {
        registered: p.registered,
        institution_code: p.institution_code,
        status: match enr::PhysicianStatus::try_from(p.status) {
            Ok(enr::PhysicianStatus::Active) => RegistryStatus::Active,
            Ok(enr::PhysicianStatus::Suspended) => RegistryStatus::Suspended,
            _ => RegistryStatus::Ended,
        },
        status_reason: p.status_reason,
    }
}

#[tonic::async_trait]
impl SettlementRegistry for EnrollmentClient {
    async fn facts(
        &self,
        authorization: Authorization,
        q: &FactsQuery<'_>,
    ) -> Result<ClaimRegistryFacts, AppError> {
        let mut client = enr::enrollment_service_client::EnrollmentServiceClient::with_interceptor(
            self.0.clone(),
            Forward { authorization },
        );
        let r = client
            .get_settlement_facts(enr::GetSettlementFactsRequest {
                id_number: q.id_number.expose().to_string(),
                date: q.date.to_string(),
                institution_code: q.institution.to_string(),
                service_kind: service_pb(q.service),
                disease_code: q.disease_code.unwrap_or_default().to_string(),
                physician_code: q.physician_code.unwrap_or_default().to_string(),
                insured_region_code: q.insured_region.to_string(),
            })
            .await
            .map_err(|s| upstream(ENROLLMENT_UNAVAILABLE, s))?
            .into_inner();
        let e = r.person.unwrap_or_default();
        Ok(ClaimRegistryFacts {
            person: PersonOnDate {
                person_id: e.person_id,
                eligible: e.eligible,
                explanation: e.explanation,
                region_code: e.region_code,
                scheme: Scheme::from_proto_number(e.scheme),
                categories: e
                    .categories
                    .iter()
                    .filter_map(|c| PersonCategory::from_proto_number(*c))
                    .collect(),
            },
            registry: RegistryFacts {
                institution: match r.institution {
                    Some(i) => institution_of(i)?,
                    None => None,
                },
                certification_id: r.certification.map(|c| c.certification_id),
                filing: r.filing.and_then(filing_of),
                physician: r.physician.map(physician_of),
            },
        })
    }
}

#[tonic::async_trait]
impl SettlementRegistry for Offline {
    async fn facts(
        &self,
        _: Authorization,
        _: &FactsQuery<'_>,
    ) -> Result<ClaimRegistryFacts, AppError> {
        Err(AppError::Upstream(ENROLLMENT_UNAVAILABLE, "offline".into()))
    }
}
