//! Errors of the store: a missing row, a lost race, stored data that does not parse, the
//! database. Each variant has a stable code, mapped once to a status in `api::error`.

use crate::error;
use yibao_runtime::error::{ErrorCode, codes};

/// What can go wrong reading or writing rows.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No application with this id.
    #[error("application `{0}` not found")]
    ApplicationNotFound(String),
    /// No assessment with this id.
    #[error("assessment `{0}` not found")]
    AssessmentNotFound(String),
    /// No beneficiary with this id.
    #[error("beneficiary `{0}` not found")]
    BeneficiaryNotFound(String),
    /// No care plan with this id.
    #[error("care plan `{0}` not found")]
    CarePlanNotFound(String),
    /// No policy uploaded for this region and year (`region/year`).
    #[error("policy `{0}` not found")]
    PolicyNotFound(String),
    /// No record with this number at the institution.
    #[error("record `{0}` not found")]
    RecordNotFound(String),
    /// No settlement run with this id.
    #[error("settlement `{0}` not found")]
    SettlementNotFound(String),
    /// A concurrent change won (a unique key taken, a row moved on); the caller may retry.
    #[error("{0}")]
    Conflict(String),
    /// Stored data that does not parse (a bug or manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl StoreError {
    /// The stable code of the error, with the kind it is answered with.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::ApplicationNotFound(_) => error::APPLICATION_NOT_FOUND,
            StoreError::AssessmentNotFound(_) => error::ASSESSMENT_NOT_FOUND,
            StoreError::BeneficiaryNotFound(_) => error::BENEFICIARY_NOT_FOUND,
            // A plan vanishing inside its own transaction; the code it always had.
            StoreError::CarePlanNotFound(_) => error::NOT_FOUND,
            StoreError::PolicyNotFound(_) => error::POLICY_NOT_FOUND,
            StoreError::RecordNotFound(_) => error::RECORD_NOT_FOUND,
            StoreError::SettlementNotFound(_) => error::SETTLEMENT_NOT_FOUND,
            StoreError::Conflict(_) => error::CONFLICT,
            StoreError::Corrupt(_) | StoreError::Db(_) => codes::INTERNAL,
        }
    }
}
