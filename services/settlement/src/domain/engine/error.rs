//! Errors of the engine, each with a stable code.

use yibao_core::MoneyOverflow;

use crate::domain::claim::ClaimError;
use crate::domain::{FieldError, join_errors};

/// Settlement failed; each variant has a stable code ([`EngineError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The claim is invalid; each problem names its field path.
    #[error("claim is invalid: {}", join_errors(.0))]
    InvalidClaim(Vec<FieldError>),
    /// The policy does not apply to this person or date.
    #[error("policy does not apply: {field}: {message}")]
    PolicyMismatch {
        /// Field of the policy that does not match.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// The accumulators are not this person-year's.
    #[error("accumulators do not match the claim: {0}")]
    AccumulatorMismatch(&'static str),
    /// The policy lacks a value the claim needs.
    #[error("policy has no value at {0}")]
    PolicyGap(String),
    /// The chronic disease code is not in the policy.
    #[error("disease code is not in the policy's chronic/special disease list")]
    UnknownDisease(String),
    /// The person holds no valid 认定 for the disease.
    #[error("person has no valid registration for the chronic/special disease")]
    ChronicNotRegistered(String),
    /// Money arithmetic overflowed.
    #[error("money arithmetic overflowed")]
    Overflow,
    /// An accounting identity of DOMAIN §1.1 failed (a bug, never a caller error).
    #[error("accounting identity violated: {0}")]
    IdentityViolated(&'static str),
    /// Applying a delta would make a counter negative.
    #[error("accumulator would go negative: {0}")]
    AccumulatorUnderflow(String),
}

impl EngineError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::InvalidClaim(_) => crate::error::CLAIM_INVALID.code,
            EngineError::PolicyMismatch { .. } => crate::error::POLICY_MISMATCH.code,
            EngineError::AccumulatorMismatch(_) => crate::error::ACCUMULATOR_MISMATCH.code,
            EngineError::PolicyGap(_) => crate::error::POLICY_GAP.code,
            EngineError::UnknownDisease(_) => crate::error::UNKNOWN_DISEASE.code,
            EngineError::ChronicNotRegistered(_) => crate::error::CHRONIC_NOT_REGISTERED.code,
            EngineError::Overflow => crate::error::OVERFLOW.code,
            EngineError::IdentityViolated(_) => crate::error::IDENTITY_VIOLATED.code,
            EngineError::AccumulatorUnderflow(_) => crate::error::ACCUMULATOR_UNDERFLOW.code,
        }
    }
}

impl From<MoneyOverflow> for EngineError {
    fn from(_: MoneyOverflow) -> EngineError {
        EngineError::Overflow
    }
}

impl From<ClaimError> for EngineError {
    fn from(e: ClaimError) -> EngineError {
        match e {
            ClaimError::Invalid(v) => EngineError::InvalidClaim(v),
            ClaimError::Overflow => EngineError::Overflow,
        }
    }
}
