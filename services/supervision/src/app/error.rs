//! Errors of the use cases, each with a stable code; mapped once to the caller's error in
//! [`crate::api::error`].

use crate::domain::{BudgetError, CaseError, InspectionError, ReviewError, RuleError};
use crate::store::StoreError;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::auth::AuthError;

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
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Denied(AuthError::OtherOrganisation { .. }) => "OTHER_ORGANISATION",
            AppError::Denied(AuthError::OutsideRegion { .. }) => "OUTSIDE_REGION",
            AppError::Denied(AuthError::RoleNotAllowed { .. }) => "ROLE_NOT_ALLOWED",
            AppError::Denied(_) => "UNAUTHENTICATED",
            AppError::FindingNotFound(_) | AppError::CaseFindingUnknown { .. } => {
                "SUPERVISION_FINDING_NOT_FOUND"
            }
            AppError::TaskNotFound(_) => "SUPERVISION_TASK_NOT_FOUND",
            AppError::CaseNotFound(_) => "SUPERVISION_CASE_NOT_FOUND",
            AppError::DrawNotFound(_) => "INSPECTION_DRAW_NOT_FOUND",
            AppError::BudgetNotSet { .. } => "BUDGET_NOT_SET",
            AppError::RuleVersionUnknown { .. } => "RULE_VERSION_UNKNOWN",
            AppError::RuleVersionConflict { .. } => "RULE_VERSION_CONFLICT",
            AppError::SamePerson => "REVIEW_SAME_PERSON",
            AppError::CaseFindingOutsideRegion { .. } => "CASE_FINDING_OUTSIDE_REGION",
            AppError::CaseTipUnknown(_) => "SUPERVISION_TIP_NOT_FOUND",
            AppError::CaseTipOutsideRegion { .. } => "CASE_TIP_OUTSIDE_REGION",
            AppError::RequestIdReused(_) => "SUPERVISION_REQUEST_ID_REUSED",
            AppError::Rule(e) => rule_code(e),
            AppError::Review(e) => review_code(e),
            AppError::Case(e) => case_code(e),
            AppError::Inspection(e) => inspection_code(e),
            AppError::BudgetPolicy(_) => "BUDGET_POLICY_INVALID",
            AppError::Corrupt(_) => "SUPERVISION_STORED_DATA_CORRUPT",
            AppError::Store(e) => e.code(),
        }
    }
}

/// Stable code of a refused rule-set change.
pub fn rule_code(e: &RuleError) -> &'static str {
    match e {
        RuleError::UnknownRule(_) => "RULE_UNKNOWN",
        RuleError::ParamsMismatch { .. } => "RULE_PARAMS_MISMATCH",
        RuleError::InvalidParams { .. } => "RULE_PARAMS_INVALID",
        RuleError::Incomplete(_) => "RULE_SET_INCOMPLETE",
        RuleError::RetentionTooShort { .. } => "RULE_RETENTION_TOO_SHORT",
    }
}

/// Stable code of a refused review or verification step.
pub fn review_code(e: &ReviewError) -> &'static str {
    match e {
        ReviewError::IllegalTransition { .. } => "REVIEW_ILLEGAL_TRANSITION",
        ReviewError::WrongRole { .. } => "REVIEW_WRONG_ROLE",
        ReviewError::FeedbackWindowOpen { .. } => "REVIEW_FEEDBACK_WINDOW_OPEN",
        ReviewError::AmountOutOfRange { .. } => "REVIEW_AMOUNT_OUT_OF_RANGE",
        ReviewError::BoundByThirdParty => "REVIEW_BOUND_BY_THIRD_PARTY",
        ReviewError::TimeBackwards { .. } => "REVIEW_TIME_BEFORE_PREVIOUS_STEP",
        ReviewError::AlreadyCompleted(_) => "VERIFICATION_ALREADY_COMPLETED",
        ReviewError::MethodInsufficient { .. } => "VERIFICATION_METHOD_INSUFFICIENT",
    }
}

/// Stable code of a refused case change.
pub fn case_code(e: &CaseError) -> &'static str {
    match e {
        CaseError::NoFindings => "CASE_NO_FINDINGS",
        CaseError::MixedInstitutions(..) => "CASE_MIXED_INSTITUTIONS",
        CaseError::Closed(_) => "CASE_CLOSED",
        CaseError::AmountNotPositive => "CASE_AMOUNT_NOT_POSITIVE",
        CaseError::RewardAboveDue { .. } => "CASE_REWARD_ABOVE_DUE",
        CaseError::NoReward(_) => "CASE_NO_REWARD",
    }
}

/// Stable code of a refused draw.
pub fn inspection_code(e: &InspectionError) -> &'static str {
    match e {
        InspectionError::EmptyDraw => "INSPECTION_EMPTY_DRAW",
        InspectionError::OutsideRegion(_) => "INSPECTION_OUTSIDE_REGION",
        InspectionError::TooFewInstitutions { .. } => "INSPECTION_TOO_FEW_INSTITUTIONS",
        InspectionError::TooFewInspectors { .. } => "INSPECTION_TOO_FEW_INSPECTORS",
    }
}
