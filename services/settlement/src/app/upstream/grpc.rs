//! The gRPC implementations of the upstream traits, forwarding the caller's token and the
//! trace context.

use super::{
    Authorization, Eligibility, PaymentCheck, PaymentDecision, PaymentStandards, PersonOnDate,
    SettlementHolds, Unanswered, Upstreams,
};
use crate::app::AppError;
use crate::error::{ENROLLMENT_UNAVAILABLE, PROCUREMENT_UNAVAILABLE};
use chrono::NaiveDate;
use std::collections::HashMap;
use std::sync::Arc;
use tonic::Status;
use yibao_core::{Fen, IdNumber, InstitutionCode, PersonCategory, RegionCode, Scheme};
use yibao_proto::enrollment::v1 as enr;
use yibao_proto::procurement::v1 as proc;
use yibao_proto::supervision::v1 as sup;
use yibao_runtime::error::ErrorCode;
use yibao_runtime::server::Forward;
use yibao_runtime::upstream::Channel;

/// An upstream's failure to answer becomes `Upstream` with our code; its refusals pass on.
fn upstream(code: ErrorCode, s: Status) -> AppError {
    match s.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown => {
            AppError::Upstream(code, s.message().to_string())
        }
        _ => AppError::Refused(s),
    }
}

/// Enrollment over gRPC.
#[derive(Debug, Clone)]
pub struct EnrollmentClient(pub Channel);

/// Procurement over gRPC.
#[derive(Debug, Clone)]
pub struct ProcurementClient(pub Channel);

/// Supervision over gRPC.
#[derive(Debug, Clone)]
pub struct SupervisionClient(pub Channel);

impl Upstreams {
    /// The upstreams over lazily connecting channels.
    pub fn grpc(enrollment: Channel, procurement: Channel, supervision: Channel) -> Upstreams {
        Upstreams {
            eligibility: Arc::new(EnrollmentClient(enrollment)),
            standards: Arc::new(ProcurementClient(procurement)),
            holds: Arc::new(SupervisionClient(supervision)),
        }
    }
}

#[tonic::async_trait]
impl Eligibility for EnrollmentClient {
    async fn check(
        &self,
        authorization: Authorization,
        id: &IdNumber,
        date: NaiveDate,
    ) -> Result<PersonOnDate, AppError> {
        let mut client = enr::enrollment_service_client::EnrollmentServiceClient::with_interceptor(
            self.0.clone(),
            Forward { authorization },
        );
        let e = client
            .check_eligibility(enr::CheckEligibilityRequest {
                id_number: id.expose().to_string(),
                date: date.to_string(),
            })
            .await
            .map_err(|s| upstream(ENROLLMENT_UNAVAILABLE, s))?
            .into_inner();
        Ok(PersonOnDate {
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
        })
    }
}

#[tonic::async_trait]
impl PaymentStandards for ProcurementClient {
    async fn standards(
        &self,
        authorization: Authorization,
        treatment: &RegionCode,
        codes: &[String],
        date: NaiveDate,
    ) -> Result<HashMap<String, Fen>, AppError> {
        let mut client =
            proc::procurement_service_client::ProcurementServiceClient::with_interceptor(
                self.0.clone(),
                Forward { authorization },
            );
        let mut found = HashMap::new();
        for chunk in codes.chunks(1_000) {
            let answer = client
                .get_payment_standards(proc::GetPaymentStandardsRequest {
                    region_code: treatment.to_string(),
                    item_codes: chunk.to_vec(),
                    on_date: date.to_string(),
                    skip_non_national_codes: true,
                })
                .await
                .map_err(|s| upstream(PROCUREMENT_UNAVAILABLE, s))?;
            for r in answer.into_inner().results {
                if let Some(st) = r.standard.filter(|_| r.found) {
                    found.insert(r.item_code, Fen(st.amount_fen));
                }
            }
        }
        Ok(found)
    }
}

#[tonic::async_trait]
impl SettlementHolds for SupervisionClient {
    async fn check(
        &self,
        authorization: Authorization,
        institution: &InstitutionCode,
        year: i32,
        month: u32,
    ) -> Result<PaymentCheck, Unanswered> {
        let mut client =
            sup::supervision_service_client::SupervisionServiceClient::with_interceptor(
                self.0.clone(),
                Forward { authorization },
            );
        let ask = sup::CheckSettlementHoldRequest {
            region_code: institution.region().to_string(),
            institution_code: institution.to_string(),
            year,
            month,
        };
        let r = client
            .check_settlement_hold(ask)
            .await
            .map_err(|e| Unanswered(e.message().to_string()))?
            .into_inner();
        let decision = match sup::SettlementDecision::try_from(r.decision) {
            Ok(sup::SettlementDecision::Settle) => PaymentDecision::Pay,
            Ok(sup::SettlementDecision::Hold) => PaymentDecision::Hold,
            Ok(sup::SettlementDecision::Refuse) => PaymentDecision::Refuse,
            _ => PaymentDecision::Unspecified,
        };
        Ok(PaymentCheck {
            decision,
            reasons: r.reasons,
            credit_score: r.credit_score,
        })
    }
}
