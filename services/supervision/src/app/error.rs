//! Errors of the use cases, each with a stable code; mapped once to the caller's error in
//! [`crate::api::error`].

use crate::domain::{BudgetError, CaseError, InspectionError, ReviewError, RuleError};
use crate::error;
use crate::store::StoreError;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::auth::AuthError;
use yibao_runtime::error::{ErrorCode, codes};

/// What a use case can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The record belongs to another organisation or lies outside the caller's region.
    #[error(transparent)]
    Denied(#[from] AuthError),
    /// No such finding.
    #[error("finding `{0}` not found")]
    FindingNotFound(String),
    /// No such verification task.
    #[error("verification task `{0}` not found")]
    TaskNotFound(String),
    /// No such case.
    #[error("case `{0}` not found")]
    CaseNotFound(String),
    /// No such inspection draw.
    #[error("draw `{0}` not found")]
    DrawNotFound(String),
    /// The institution has no budget that year.
    #[error("no budget for {institution} in {year}")]
    BudgetNotSet {
        /// Institution.
        institution: InstitutionCode,
        /// Year.
        year: i32,
    },
    /// The rule-set version asked for does not exist.
    #[error("{region} has no version {version}")]
    RuleVersionUnknown {
        /// Region.
        region: RegionCode,
        /// Version asked for.
        version: u32,
    },
    /// The caller changed a rule set from a version that is no longer the latest.
    #[error("expected version {expected} but {region} is at version {current}; re-read and retry")]
    RuleVersionConflict {
        /// Version the caller read.
        expected: u32,
        /// Region.
        region: RegionCode,
        /// Version in force.
        current: u32,
    },
    /// The reviewer of a finding tried to take its final decision (four eyes).
    #[error("the reviewer of a finding may not also take its final decision")]
    SamePerson,
    /// A finding a case is to be opened from does not exist (`finding_ids[index]`).
    #[error("no finding `{id}`")]
    CaseFindingUnknown {
        /// Position in `finding_ids`.
        index: usize,
        /// The id.
        id: String,
    },
    /// A finding a case is to be opened from lies outside the case's region.
    #[error("finding `{id}` is outside {region}")]
    CaseFindingOutsideRegion {
        /// Position in `finding_ids`.
        index: usize,
        /// The id.
        id: String,
        /// The case's region.
        region: RegionCode,
    },
    /// The tip a case is to be opened from does not exist.
    #[error("no tip `{0}`")]
    CaseTipUnknown(String),
    /// The tip was received outside the case's region.
    #[error("tip `{id}` was received in {received_in}")]
    CaseTipOutsideRegion {
        /// The tip.
        id: String,
        /// Where it was received.
        received_in: RegionCode,
    },
    /// A request id was used before for a different request.
    #[error("request_id `{0}` was used for a different request")]
    RequestIdReused(String),
    /// A rule-set change the rules refuse.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// A review step the workflow refuses.
    #[error(transparent)]
    Review(#[from] ReviewError),
    /// A case change the rules refuse.
    #[error(transparent)]
    Case(#[from] CaseError),
    /// A draw the rules refuse.
    #[error(transparent)]
    Inspection(#[from] InspectionError),
    /// A budget policy the rules refuse.
    #[error(transparent)]
    BudgetPolicy(BudgetError),
    /// Stored data the rules cannot use (a bug or a manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Reading or writing rows failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    /// Inconsistent stored data.
    pub fn corrupt(what: impl std::fmt::Display) -> AppError {
        AppError::Corrupt(what.to_string())
    }

    /// Stable code of the error (for the domain's refusals, the code of the refusal).
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Denied(AuthError::OtherOrganisation { .. }) => codes::OTHER_ORGANISATION,
            AppError::Denied(AuthError::OutsideRegion { .. }) => codes::OUTSIDE_REGION,
            AppError::Denied(AuthError::RoleNotAllowed { .. }) => codes::ROLE_NOT_ALLOWED,
            AppError::Denied(_) => codes::UNAUTHENTICATED,
            AppError::FindingNotFound(_) | AppError::CaseFindingUnknown { .. } => {
                error::FINDING_NOT_FOUND
            }
            AppError::TaskNotFound(_) => error::TASK_NOT_FOUND,
            AppError::CaseNotFound(_) => error::CASE_NOT_FOUND,
            AppError::DrawNotFound(_) => error::INSPECTION_DRAW_NOT_FOUND,
            AppError::BudgetNotSet { .. } => error::BUDGET_NOT_SET,
            AppError::RuleVersionUnknown { .. } => error::RULE_VERSION_UNKNOWN,
            AppError::RuleVersionConflict { .. } => error::RULE_VERSION_CONFLICT,
            AppError::SamePerson => error::REVIEW_SAME_PERSON,
            AppError::CaseFindingOutsideRegion { .. } => error::CASE_FINDING_OUTSIDE_REGION,
            AppError::CaseTipUnknown(_) => error::TIP_NOT_FOUND,
            AppError::CaseTipOutsideRegion { .. } => error::CASE_TIP_OUTSIDE_REGION,
            AppError::RequestIdReused(_) => error::REQUEST_ID_REUSED,
            AppError::Rule(e) => rule_code(e),
            AppError::Review(e) => review_code(e),
            AppError::Case(e) => case_code(e),
            AppError::Inspection(e) => inspection_code(e),
            AppError::BudgetPolicy(_) => error::BUDGET_POLICY_INVALID,
            AppError::Corrupt(_) => error::STORED_DATA_CORRUPT,
            AppError::Store(e) => e.code(),
        }
    }
}

/// Stable code of a refused rule-set change.
pub fn rule_code(e: &RuleError) -> ErrorCode {
    match e {
        RuleError::UnknownRule(_) => error::RULE_UNKNOWN,
        RuleError::ParamsMismatch { .. } => error::RULE_PARAMS_MISMATCH,
        RuleError::InvalidParams { .. } => error::RULE_PARAMS_INVALID,
        RuleError::Incomplete(_) => error::RULE_SET_INCOMPLETE,
        RuleError::RetentionTooShort { .. } => error::RULE_RETENTION_TOO_SHORT,
    }
}

/// Stable code of a refused review or verification step.
pub fn review_code(e: &ReviewError) -> ErrorCode {
    match e {
        ReviewError::IllegalTransition { .. } => error::REVIEW_ILLEGAL_TRANSITION,
        ReviewError::WrongRole { .. } => error::REVIEW_WRONG_ROLE,
        ReviewError::FeedbackWindowOpen { .. } => error::REVIEW_FEEDBACK_WINDOW_OPEN,
        ReviewError::AmountOutOfRange { .. } => error::REVIEW_AMOUNT_OUT_OF_RANGE,
        ReviewError::BoundByThirdParty => error::REVIEW_BOUND_BY_THIRD_PARTY,
        ReviewError::TimeBackwards { .. } => error::REVIEW_TIME_BEFORE_PREVIOUS_STEP,
        ReviewError::AlreadyCompleted(_) => error::VERIFICATION_ALREADY_COMPLETED,
        ReviewError::MethodInsufficient { .. } => error::VERIFICATION_METHOD_INSUFFICIENT,
    }
}

/// Stable code of a refused case change.
pub fn case_code(e: &CaseError) -> ErrorCode {
    match e {
        CaseError::NoFindings => error::CASE_NO_FINDINGS,
        CaseError::MixedInstitutions(..) => error::CASE_MIXED_INSTITUTIONS,
        CaseError::Closed(_) => error::CASE_CLOSED,
        CaseError::AmountNotPositive => error::CASE_AMOUNT_NOT_POSITIVE,
        CaseError::RewardAboveDue { .. } => error::CASE_REWARD_ABOVE_DUE,
        CaseError::NoReward(_) => error::CASE_NO_REWARD,
    }
}

/// Stable code of a refused draw.
pub fn inspection_code(e: &InspectionError) -> ErrorCode {
    match e {
        InspectionError::EmptyDraw => error::INSPECTION_EMPTY_DRAW,
        InspectionError::OutsideRegion(_) => error::INSPECTION_OUTSIDE_REGION,
        InspectionError::TooFewInstitutions { .. } => error::INSPECTION_TOO_FEW_INSTITUTIONS,
        InspectionError::TooFewInspectors { .. } => error::INSPECTION_TOO_FEW_INSPECTORS,
    }
}

/// A failed commit of a store transaction.
impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> AppError {
        AppError::Store(StoreError::Db(e))
    }
}
