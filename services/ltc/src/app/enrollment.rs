//! The one upstream: enrollment's eligibility of a person on a date and its
//! designated-institution registry's file of a care institution, behind [`Enrollment`] so that
//! the use cases can run against a stand-in; [`GrpcEnrollment`] asks the real service,
//! forwarding the caller's token (a care institution asks about itself, an operator about an
//! institution of its region).

use super::AppError;
use crate::domain::registry::{Agreement, InstitutionFile, ServiceKind, Status, StatusChange};
use chrono::NaiveDate;
use yibao_core::InstitutionCode;
use yibao_proto::enrollment::v1 as en;
use yibao_runtime::auth::AuthError;
use yibao_runtime::server::Forward;

/// The caller's `authorization` value, forwarded to enrollment.
pub type Credentials = Option<http::HeaderValue>;

/// Enrollment's answer on a person and a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityAnswer {
    /// Insured and alive on the date.
    pub eligible: bool,
    /// Not eligible because they died before the date.
    pub deceased: bool,
    /// Enrollment's explanation when not eligible.
    pub explanation: String,
    /// Enrollment's person id.
    pub person_id: String,
    /// The region they are insured in.
    pub region_code: String,
}

/// Eligibility of a person on a date (enrollment's `CheckEligibility`).
#[tonic::async_trait]
pub trait Enrollment: Send + Sync + std::fmt::Debug {
    /// Asks whether the person with `id_number` is insured and alive on `date`.
    async fn check_eligibility(
        &self,
        credentials: &Credentials,
        id_number: &str,
        date: NaiveDate,
    ) -> Result<EligibilityAnswer, AppError>;

    /// The registry's file of an institution (enrollment's `GetInstitution`): `None` when it
    /// is not in the registry.
    async fn institution(
        &self,
        credentials: &Credentials,
        code: &InstitutionCode,
    ) -> Result<Option<InstitutionFile>, AppError>;
}

/// Enrollment over gRPC.
#[derive(Debug, Clone)]
pub struct GrpcEnrollment {
    channel: yibao_runtime::upstream::Channel,
}

impl GrpcEnrollment {
    /// Over a channel to enrollment.
    pub fn new(channel: yibao_runtime::upstream::Channel) -> GrpcEnrollment {
        GrpcEnrollment { channel }
    }
}

#[tonic::async_trait]
impl Enrollment for GrpcEnrollment {
    async fn check_eligibility(
        &self,
        credentials: &Credentials,
        id_number: &str,
        date: NaiveDate,
    ) -> Result<EligibilityAnswer, AppError> {
        let e = self
            .client(credentials)
            .check_eligibility(en::CheckEligibilityRequest {
                id_number: id_number.to_string(),
                date: date.to_string(),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| AppError::EnrollmentUnavailable(s.message().to_string()))?;
        Ok(EligibilityAnswer {
            eligible: e.eligible,
            deceased: e.reason == en::IneligibleReason::Deceased as i32,
            explanation: e.explanation,
            person_id: e.person_id,
            region_code: e.region_code,
        })
    }

    async fn institution(
        &self,
        credentials: &Credentials,
        code: &InstitutionCode,
    ) -> Result<Option<InstitutionFile>, AppError> {
        let answer = self
            .client(credentials)
            .get_institution(en::GetInstitutionRequest {
                institution_code: code.to_string(),
                date: String::new(),
            })
            .await;
        match answer {
            Ok(r) => Ok(r.into_inner().institution.as_ref().map(file_of)),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            // The registry holds the institution in a region the operator does not cover.
            Err(s) if s.code() == tonic::Code::PermissionDenied => Err(AuthError::OutsideRegion {
                field: "institution_code".into(),
                value: code.to_string(),
                region: format!("(enrollment: {})", s.message()),
            }
            .into()),
            Err(s) => Err(AppError::RegistryUnavailable(s.message().to_string())),
        }
    }
}

impl GrpcEnrollment {
    fn client(
        &self,
        credentials: &Credentials,
    ) -> en::enrollment_service_client::EnrollmentServiceClient<
        tonic::service::interceptor::InterceptedService<yibao_runtime::upstream::Channel, Forward>,
    > {
        en::enrollment_service_client::EnrollmentServiceClient::with_interceptor(
            self.channel.clone(),
            Forward {
                authorization: credentials.clone(),
            },
        )
    }
}

/// The registry's file as the LTC rule reads it (unknown enum values and unparseable dates are
/// left out: they can neither admit nor refuse).
fn file_of(i: &en::Institution) -> InstitutionFile {
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    InstitutionFile {
        versions_from: i
            .versions
            .iter()
            .filter_map(|v| date(&v.effective_from))
            .collect(),
        agreements: i
            .agreements
            .iter()
            .filter_map(|a| {
                Some(Agreement {
                    agreement_no: a.agreement_no.clone(),
                    valid_from: date(&a.valid_from)?,
                    valid_to: date(&a.valid_to)?,
                    services: a
                        .service_kinds
                        .iter()
                        .filter_map(|k| match en::ServiceKind::try_from(*k).ok()? {
                            en::ServiceKind::Inpatient => Some(ServiceKind::Inpatient),
                            en::ServiceKind::Outpatient => Some(ServiceKind::Outpatient),
                            en::ServiceKind::Chronic => Some(ServiceKind::Chronic),
                            en::ServiceKind::Pharmacy => Some(ServiceKind::Pharmacy),
                            en::ServiceKind::Ltc => Some(ServiceKind::Ltc),
                            en::ServiceKind::Unspecified => None,
                        })
                        .collect(),
                })
            })
            .collect(),
        status_changes: i
            .status_history
            .iter()
            .filter_map(|c| {
                let status = match en::InstitutionStatus::try_from(c.status).ok()? {
                    en::InstitutionStatus::Active => Status::Active,
                    en::InstitutionStatus::Suspended => Status::Suspended,
                    en::InstitutionStatus::Terminated => Status::Terminated,
                    en::InstitutionStatus::Unspecified => return None,
                };
                Some(StatusChange {
                    status,
                    effective_on: date(&c.effective_on)?,
                    reason: c.reason.clone(),
                })
            })
            .collect(),
    }
}
