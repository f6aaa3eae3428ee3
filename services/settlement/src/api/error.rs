//! The one mapping of the service's errors onto `ApiError` (stable codes, field paths) and
//! `tonic::Status`.

use crate::app::{AppError, not_found_code};
use crate::domain::registry::RegistryRefusal;
use crate::domain::{EngineError, FieldError, PolicyError};
use crate::error as codes;
use crate::store::StoreError;
use yibao_runtime::ApiError;

/// Maps a domain path (`items[3].unit_price`) onto the request's field path
/// (`claim.items[3].unit_price_fen`).
pub fn claim_field_path(path: &str) -> String {
    let renamed = match path.rsplit_once('.') {
        Some((head, last)) => format!("{head}.{}", proto_field(last)),
        None => proto_field(path).to_string(),
    };
    format!("claim.{renamed}")
}

fn proto_field(name: &str) -> &str {
    match name {
        "unit_price" => "unit_price_fen",
        "amount" => "amount_fen",
        "payment_standard" => "payment_standard_fen",
        "preselfpay_share" => "preselfpay_share_bp",
        other => other,
    }
}

fn pairs(errors: &[FieldError], map: impl Fn(&str) -> String) -> Vec<(String, String)> {
    errors
        .iter()
        .map(|e| (map(&e.path), e.message.clone()))
        .collect()
}

fn engine(e: EngineError) -> ApiError {
    match e {
        EngineError::InvalidClaim(errors) => {
            codes::CLAIM_INVALID.invalid_fields(pairs(&errors, claim_field_path))
        }
        EngineError::UnknownDisease(d) => codes::UNKNOWN_DISEASE.invalid(
            "claim.disease_code",
            format!("`{d}` is not in the policy's chronic/special disease list"),
        ),
        EngineError::Overflow => codes::OVERFLOW.invalid("claim.items", "amounts overflow"),
        EngineError::PolicyMismatch { .. } => codes::POLICY_MISMATCH.error(e.to_string()),
        EngineError::PolicyGap(_) => codes::POLICY_GAP.error(e.to_string()),
        EngineError::ChronicNotRegistered(_) => codes::CHRONIC_NOT_REGISTERED.error(e.to_string()),
        EngineError::AccumulatorMismatch(_)
        | EngineError::IdentityViolated(_)
        | EngineError::AccumulatorUnderflow(_) => ApiError::internal(e),
    }
}

/// The code of a registry refusal.
pub fn registry_code(e: &RegistryRefusal) -> yibao_runtime::error::ErrorCode {
    match e {
        RegistryRefusal::NotRegistered(_) => codes::INSTITUTION_NOT_REGISTERED,
        RegistryRefusal::NotActive(_) => codes::INSTITUTION_NOT_ACTIVE,
        RegistryRefusal::NoAgreement(_) => codes::NO_AGREEMENT,
        RegistryRefusal::Mismatch { .. } => codes::DECLARED_FACT_MISMATCH,
        RegistryRefusal::NotCertified(_) => codes::CHRONIC_NOT_REGISTERED,
        RegistryRefusal::Physician(_) => codes::PHYSICIAN_NOT_ACCEPTED,
    }
}

/// A registry refusal names the claim field it concerns.
fn registry(e: RegistryRefusal) -> ApiError {
    let reason = match &e {
        RegistryRefusal::Mismatch { message, .. } => message.clone(),
        other => other.to_string(),
    };
    registry_code(&e).invalid(e.field(), reason)
}

fn policy(e: PolicyError) -> ApiError {
    match &e {
        PolicyError::Parse(m) => codes::POLICY_PARSE.invalid("document_json", m.clone()),
        PolicyError::Shape(f) if f.path.is_empty() => {
            codes::POLICY_PARSE.invalid("document_json", f.message.clone())
        }
        PolicyError::Shape(f) => {
            codes::POLICY_PARSE.invalid(format!("document_json.{}", f.path), f.message.clone())
        }
        PolicyError::Invalid(errors) => {
            codes::POLICY_INVALID.invalid_fields(pairs(errors, |p| format!("document_json.{p}")))
        }
    }
}

fn store(e: StoreError) -> ApiError {
    match e {
        StoreError::PolicyNotFound(id) => {
            codes::POLICY_NOT_FOUND.error(format!("policy `{id}` not found"))
        }
        StoreError::Conflict => codes::CONFLICT.error(e.to_string()),
        StoreError::Overflow(_) => {
            tracing::error!(error = %e, "a sum of stored amounts overflowed");
            codes::TOTAL_OVERFLOW.error(e.to_string())
        }
        // UNAVAILABLE (503) when the database cannot be reached now, else INTERNAL.
        StoreError::Db(db) => ApiError::database(&db),
        StoreError::Corrupt(_) => ApiError::internal(e),
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        match e {
            AppError::Invalid(v) => codes::INVALID_ARGUMENT.invalid_fields(v),
            AppError::Engine(e) => engine(e),
            AppError::Policy(e) => policy(e),
            AppError::Registry(e) => registry(e),
            AppError::NotFound(what, id) => {
                not_found_code(what).error(format!("{what} `{id}` not found"))
            }
            AppError::Precondition(code, m) | AppError::Upstream(code, m) => code.error(m),
            AppError::Refused(s) => ApiError::internal(format!(
                "upstream refusal reached the error mapping: {}",
                s.message()
            )),
            AppError::Auth(e) => ApiError::from(e),
            AppError::Store(e) => store(e),
            AppError::Event(e) => ApiError::internal(e),
        }
    }
}

impl From<AppError> for tonic::Status {
    fn from(e: AppError) -> tonic::Status {
        match e {
            // An upstream's refusal passes on as the upstream answered it.
            AppError::Refused(s) => s,
            e => ApiError::from(e).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_paths_become_request_paths() {
        assert_eq!(
            claim_field_path("items[3].unit_price"),
            "claim.items[3].unit_price_fen"
        );
        assert_eq!(
            claim_field_path("items[0].quantity"),
            "claim.items[0].quantity"
        );
        assert_eq!(claim_field_path("encounter_no"), "claim.encounter_no");
    }
}
