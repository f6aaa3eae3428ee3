//! Errors of the settlement service and their one mapping to [`ApiError`].

use crate::domain::{EngineError, FieldError, PolicyError};
use yibao_runtime::{ApiError, ErrorKind};

/// What can go wrong in the settlement service.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    /// Bad input; each pair is (field path, reason).
    #[error("invalid input: {0:?}")]
    Invalid(Vec<(String, String)>),
    /// The engine refused the claim.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// An uploaded policy document is unusable.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// No such record.
    #[error("{0} `{1}` not found")]
    NotFound(&'static str, String),
    /// The state does not allow the operation (code, message).
    #[error("{1}")]
    Precondition(&'static str, String),
    /// It exists already.
    #[error("{0}")]
    Exists(String),
    /// A concurrent change; retry.
    #[error("{0}")]
    Conflict(String),
    /// An upstream service (enrollment, procurement) could not be reached: (code, message).
    #[error("{1}")]
    Upstream(&'static str, String),
    /// Stored data that does not parse (a bug or a manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl SettleError {
    /// Bad input in one field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SettleError {
        SettleError::Invalid(vec![(field.into(), reason.into())])
    }
}

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

impl From<SettleError> for ApiError {
    fn from(e: SettleError) -> ApiError {
        match e {
            SettleError::Invalid(v) => ApiError::invalid_fields("SETTLEMENT_INVALID_ARGUMENT", v),
            SettleError::Engine(e) => {
                let code = e.code();
                match e {
                    EngineError::InvalidClaim(errors) => {
                        ApiError::invalid_fields(code, pairs(&errors, claim_field_path))
                    }
                    EngineError::UnknownDisease(d) => ApiError::invalid(
                        code,
                        "claim.disease_code",
                        format!("`{d}` is not in the policy's chronic/special disease list"),
                    ),
                    EngineError::Overflow => {
                        ApiError::invalid(code, "claim.items", "amounts overflow")
                    }
                    EngineError::PolicyMismatch { .. }
                    | EngineError::PolicyGap(_)
                    | EngineError::ChronicNotRegistered(_) => {
                        ApiError::new(ErrorKind::FailedPrecondition, code, e.to_string())
                    }
                    EngineError::AccumulatorMismatch(_)
                    | EngineError::IdentityViolated(_)
                    | EngineError::AccumulatorUnderflow(_) => ApiError::internal(e),
                }
            }
            SettleError::Policy(e) => match &e {
                PolicyError::Parse(m) => ApiError::invalid(e.code(), "document_json", m.clone()),
                PolicyError::Invalid(errors) => ApiError::invalid_fields(
                    e.code(),
                    pairs(errors, |p| format!("document_json.{p}")),
                ),
            },
            SettleError::NotFound(what, id) => {
                ApiError::not_found(not_found_code(what), format!("{what} `{id}` not found"))
            }
            SettleError::Precondition(code, m) => {
                ApiError::new(ErrorKind::FailedPrecondition, code, m)
            }
            SettleError::Exists(m) => {
                ApiError::new(ErrorKind::AlreadyExists, "SETTLEMENT_ALREADY_EXISTS", m)
            }
            SettleError::Conflict(m) => ApiError::new(ErrorKind::Aborted, "SETTLEMENT_CONFLICT", m),
            SettleError::Upstream(code, m) => ApiError::new(ErrorKind::Unavailable, code, m),
            SettleError::Corrupt(m) => ApiError::internal(m),
            SettleError::Db(e) => ApiError::internal(e),
        }
    }
}

impl From<SettleError> for tonic::Status {
    fn from(e: SettleError) -> tonic::Status {
        ApiError::from(e).into()
    }
}

fn not_found_code(what: &str) -> &'static str {
    match what {
        "claim" => "SETTLEMENT_CLAIM_NOT_FOUND",
        "policy" => "SETTLEMENT_POLICY_NOT_FOUND",
        "insurer claim" => "SETTLEMENT_INSURER_CLAIM_NOT_FOUND",
        "product" => "SETTLEMENT_PRODUCT_NOT_FOUND",
        _ => "SETTLEMENT_NOT_FOUND",
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
