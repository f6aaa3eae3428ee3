//! Errors of the use cases, each with a stable code; mapped once onto `ApiError` in
//! [`crate::api::error`].

use crate::domain::registry::RegistryRefusal;
use crate::domain::{EngineError, PolicyError};
use crate::events::EventError;
use crate::store::StoreError;
use yibao_runtime::auth::AuthError;
use yibao_runtime::error::ErrorCode;

/// What can go wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad input; each pair is (field path, reason).
    #[error("invalid input: {0:?}")]
    Invalid(Vec<(String, String)>),
    /// The engine refused the claim.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// An uploaded policy document is unusable.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The registries do not admit the claim.
    #[error(transparent)]
    Registry(#[from] RegistryRefusal),
    /// No such record: (what, id).
    #[error("{0} `{1}` not found")]
    NotFound(&'static str, String),
    /// The state does not allow the operation.
    #[error("{1}")]
    Precondition(ErrorCode, String),
    /// An upstream service (enrollment, procurement) could not be reached.
    #[error("{1}")]
    Upstream(ErrorCode, String),
    /// An upstream service refused the request; its answer is passed on as it is.
    #[error("upstream refused: {}", .0.message())]
    Refused(tonic::Status),
    /// The record is not the caller's (organisation or region).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An event could not be built from what is stored.
    #[error(transparent)]
    Event(#[from] EventError),
}

impl AppError {
    /// Bad input in one field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> AppError {
        AppError::Invalid(vec![(field.into(), reason.into())])
    }

    /// Stable machine-readable code; none for an upstream's refusal, which carries the
    /// upstream's own code.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            AppError::Invalid(_) => crate::error::INVALID_ARGUMENT.code,
            AppError::Engine(e) => e.code(),
            AppError::Policy(e) => e.code(),
            AppError::Registry(e) => crate::api::error::registry_code(e).code,
            AppError::NotFound(what, _) => not_found_code(what).code,
            AppError::Precondition(c, _) | AppError::Upstream(c, _) => c.code,
            AppError::Refused(_) => return None,
            AppError::Auth(e) => yibao_runtime::ApiError::from(e.clone()).code,
            AppError::Store(e) => e.code(),
            AppError::Event(e) => e.code(),
        })
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> AppError {
        AppError::Store(StoreError::Db(e))
    }
}

/// The code of a missing record of a kind.
pub fn not_found_code(what: &str) -> ErrorCode {
    use crate::error as codes;
    match what {
        "claim" => codes::CLAIM_NOT_FOUND,
        "policy" => codes::POLICY_NOT_FOUND,
        "insurer claim" => codes::INSURER_CLAIM_NOT_FOUND,
        "product" => codes::PRODUCT_NOT_FOUND,
        "encounter" => codes::ENCOUNTER_NOT_FOUND,
        _ => codes::NOT_FOUND,
    }
}
