//! The one upstream: enrollment's eligibility of a person on a date, behind [`Enrollment`] so
//! that the use cases can run against a stand-in; [`GrpcEnrollment`] asks the real service,
//! forwarding the caller's token.

use super::AppError;
use chrono::NaiveDate;
use yibao_proto::enrollment::v1 as en;
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
        let mut client = en::enrollment_service_client::EnrollmentServiceClient::with_interceptor(
            self.channel.clone(),
            Forward {
                authorization: credentials.clone(),
            },
        );
        let e = client
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
}
