//! Errors of the use cases: a rule refused, the store failed, the caller may not see or change
//! the record, or enrollment did not answer. Each variant has a stable code; `api::error` maps
//! them to a status once.

use crate::domain::DomainError;
use crate::domain::registry::RegistryRefusal;
use crate::error;
use crate::store::StoreError;
use yibao_runtime::auth::AuthError;
use yibao_runtime::error::{ErrorCode, codes};

/// What can go wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A rule refused the input or the state change (the code is the rule's).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Reading or writing rows failed, or a row is missing.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record or the requested scope is outside the caller's organisation or region.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// An assessor reached for an application (they reach them through their assessments).
    #[error("assessors reach applications through their assessments")]
    AssessorReachesApplication,
    /// The assessment is not assigned to the calling assessor.
    #[error("assessment {0} is not assigned to you")]
    NotAssigned(String),
    /// The beneficiary never applied through, nor was placed with, the calling institution.
    #[error("the beneficiary is not one of your institution's people")]
    NotYourBeneficiary,
    /// The institution's application number was used for another person.
    #[error("application_no `{0}` was used for another person")]
    ApplicationNoReused(String),
    /// Enrollment did not answer.
    #[error("enrollment CheckEligibility: {0}")]
    EnrollmentUnavailable(String),
    /// Enrollment's registry did not answer.
    #[error("enrollment GetInstitution: {0}")]
    RegistryUnavailable(String),
    /// The registry does not admit the care institution to long-term care on the date.
    #[error("institution_code: {0}")]
    Registry(#[from] RegistryRefusal),
}

impl AppError {
    /// The stable code of the error, as the caller sees it.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Domain(DomainError::InvalidFields { code, .. })
            | AppError::Domain(DomainError::Precondition { code, .. }) => code,
            AppError::Store(e) => e.code().code,
            AppError::Auth(e) => yibao_runtime::ApiError::from(e.clone()).code,
            _ => self.fixed_code().map_or(codes::INTERNAL.code, |c| c.code),
        }
    }

    /// The code of a variant whose code does not depend on what it wraps.
    pub fn fixed_code(&self) -> Option<ErrorCode> {
        match self {
            AppError::Domain(_) | AppError::Store(_) | AppError::Auth(_) => None,
            AppError::AssessorReachesApplication => Some(codes::ROLE_NOT_ALLOWED),
            AppError::NotAssigned(_) => Some(error::NOT_ASSIGNED),
            AppError::NotYourBeneficiary => Some(codes::OTHER_ORGANISATION),
            AppError::ApplicationNoReused(_) => Some(error::CONFLICT),
            AppError::EnrollmentUnavailable(_) | AppError::RegistryUnavailable(_) => {
                Some(error::DEPENDENCY_UNAVAILABLE)
            }
            AppError::Registry(_) => Some(error::INSTITUTION_NOT_DESIGNATED),
        }
    }
}

/// A failed commit (the write transaction is the runtime's).
impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> AppError {
        AppError::Store(StoreError::Db(e))
    }
}
