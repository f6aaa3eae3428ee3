//! The gRPC implementations of the upstream traits, forwarding the caller's token and the
//! trace context.

use super::{
    Authorization, CatalogueLine, CatalogueResolver, ClaimFacts, PaymentCheck, PaymentDecision,
    Resolution, SettlementHolds, Unanswered, Upstreams,
};
use crate::app::AppError;
use crate::domain::ItemClass;
use crate::error::PROCUREMENT_UNAVAILABLE;
use std::sync::Arc;
use tonic::Status;
use yibao_core::{Bp, Fen, InstitutionCode, Sex};
use yibao_proto::procurement::v1 as proc;
use yibao_proto::supervision::v1 as sup;
use yibao_runtime::error::ErrorCode;
use yibao_runtime::server::Forward;
use yibao_runtime::upstream::Channel;

/// An upstream's failure to answer becomes `Upstream` with our code; its refusals pass on.
/// `CANCELLED` is a failure to answer too: an upstream killed mid-call resets the stream.
pub(super) fn upstream(code: ErrorCode, s: Status) -> AppError {
    match s.code() {
        tonic::Code::Unavailable
        | tonic::Code::DeadlineExceeded
        | tonic::Code::Unknown
        | tonic::Code::Cancelled => AppError::Upstream(code, s.message().to_string()),
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
            registry: Arc::new(EnrollmentClient(enrollment)),
            catalogue: Arc::new(ProcurementClient(procurement)),
            holds: Arc::new(SupervisionClient(supervision)),
        }
    }
}

/// Lines of one `ResolveCatalogue` call (procurement's limit).
const RESOLVE_CHUNK: usize = 1_000;

fn restriction_name(k: i32) -> String {
    proc::RestrictionKind::try_from(k)
        .map(|k| {
            k.as_str_name()
                .trim_start_matches("RESTRICTION_KIND_")
                .to_string()
        })
        .unwrap_or_else(|_| format!("RESTRICTION_KIND_{k}"))
}

#[tonic::async_trait]
impl CatalogueResolver for ProcurementClient {
    async fn resolve(
        &self,
        authorization: Authorization,
        facts: &ClaimFacts<'_>,
        lines: &[CatalogueLine],
    ) -> Result<Vec<Resolution>, AppError> {
        let mut client =
            proc::procurement_service_client::ProcurementServiceClient::with_interceptor(
                self.0.clone(),
                Forward { authorization },
            );
        let sex = match facts.sex {
            Sex::Male => proc::Sex::Male,
            Sex::Female => proc::Sex::Female,
        };
        let mut out = Vec::with_capacity(lines.len());
        for chunk in lines.chunks(RESOLVE_CHUNK) {
            let answer = client
                .resolve_catalogue(proc::ResolveCatalogueRequest {
                    region_code: String::new(),
                    institution_code: facts.institution.to_string(),
                    on_date: facts.date.to_string(),
                    institution_grade: facts.institution_grade.map_or(0, u32::from),
                    person_sex: sex as i32,
                    person_age_years: Some(facts.age),
                    diagnoses: facts.diagnoses.to_vec(),
                    lines: chunk
                        .iter()
                        .map(|l| proc::ResolveLine {
                            code: l.code.clone(),
                            days_supply: l.days_supply,
                        })
                        .collect(),
                })
                .await
                .map_err(|s| upstream(PROCUREMENT_UNAVAILABLE, s))?
                .into_inner();
            if answer.lines.len() != chunk.len() {
                return Err(AppError::Upstream(
                    PROCUREMENT_UNAVAILABLE,
                    format!(
                        "procurement answered {} lines for {}",
                        answer.lines.len(),
                        chunk.len()
                    ),
                ));
            }
            out.extend(answer.lines.into_iter().map(|l| Resolution {
                in_catalogue: l.in_catalogue,
                class: match proc::InsuranceClass::try_from(l.insurance_class) {
                    Ok(proc::InsuranceClass::A) => ItemClass::A,
                    Ok(proc::InsuranceClass::B) => ItemClass::B,
                    _ => ItemClass::C,
                },
                preselfpay_share: l.preselfpay_share_bp.map(Bp),
                payment_standard: l.payment_standard_fen.map(Fen),
                negotiated: l.negotiated,
                violations: l.violations.into_iter().map(|v| v.reason).collect(),
                unchecked: l.unchecked.into_iter().map(restriction_name).collect(),
                indication: l.indication,
                explanation: l.explanation,
            }));
        }
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unanswered_calls_are_unavailable_and_refusals_pass_on() {
        for code in [
            tonic::Code::Unavailable,
            tonic::Code::DeadlineExceeded,
            tonic::Code::Unknown,
            tonic::Code::Cancelled,
        ] {
            let e = upstream(PROCUREMENT_UNAVAILABLE, Status::new(code, "reset"));
            assert!(
                matches!(&e, AppError::Upstream(c, m) if *c == PROCUREMENT_UNAVAILABLE && m == "reset"),
                "{code:?} gave {e:?}"
            );
        }
        let e = upstream(
            PROCUREMENT_UNAVAILABLE,
            Status::permission_denied("not yours"),
        );
        assert!(matches!(&e, AppError::Refused(s) if s.code() == tonic::Code::PermissionDenied));
    }
}
