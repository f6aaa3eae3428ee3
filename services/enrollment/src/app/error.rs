//! Errors of the use cases: the rules' and the store's, plus the refusals decided here.

use crate::domain::EnrolmentError;
use crate::domain::voucher::VoucherError;
use crate::error as codes;
use crate::store::{Entity, StoreError};
use yibao_runtime::auth::AuthError;
use yibao_runtime::error::{ErrorCode, codes as runtime_codes};

/// What can go wrong in a use case of the enrollment service.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A rule refused the input.
    #[error(transparent)]
    Domain(#[from] EnrolmentError),
    /// A scanned voucher is refused.
    #[error(transparent)]
    Voucher(#[from] VoucherError),
    /// Reading or writing rows failed (not found, exists, conflict, database).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No record has the id the request names in `field` (the answer names the field).
    #[error("{field}: {} `{id}` not found", .entity.name())]
    Unknown {
        /// The request's field.
        field: &'static str,
        /// What was looked up.
        entity: Entity,
        /// The id the request gave.
        id: String,
    },
    /// The caller may not reach the record (outside their region).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The person lives outside the caller's region (the caller's region in the message).
    #[error("the person lives outside your region {0}")]
    OutsideRegion(String),
    /// No voucher is issued for a deceased person.
    #[error("no voucher for a deceased person")]
    PersonDeceased,
    /// The voucher was revoked.
    #[error("voucher was revoked at {at}: {reason}")]
    VoucherRevoked {
        /// When.
        at: String,
        /// Why.
        reason: String,
    },
    /// An unexpected failure (a bug, or stored data that does not parse); logged, not shown.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// Stable machine-readable code (the one callers see).
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Domain(e) => e.code(),
            AppError::Voucher(e) => e.code(),
            AppError::Store(e) => e.code(),
            AppError::Unknown { entity, .. } => entity.not_found_code(),
            AppError::Auth(AuthError::MissingToken | AuthError::InvalidToken(_)) => {
                runtime_codes::UNAUTHENTICATED
            }
            AppError::Auth(AuthError::RoleNotAllowed { .. }) => runtime_codes::ROLE_NOT_ALLOWED,
            AppError::Auth(AuthError::OtherOrganisation { .. }) => {
                runtime_codes::OTHER_ORGANISATION
            }
            AppError::Auth(AuthError::OutsideRegion { .. }) | AppError::OutsideRegion(_) => {
                runtime_codes::OUTSIDE_REGION
            }
            AppError::PersonDeceased => codes::PERSON_DECEASED,
            AppError::VoucherRevoked { .. } => codes::VOUCHER_REVOKED,
            AppError::Internal(_) => runtime_codes::INTERNAL,
        }
    }

    /// The field a row of an import is refused for (`row` when the error names none).
    pub fn field(&self) -> &'static str {
        match self {
            AppError::Domain(e) => e.field().unwrap_or("row"),
            _ => "row",
        }
    }
}
