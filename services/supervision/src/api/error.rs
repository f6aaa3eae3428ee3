//! The one mapping of the service's errors to the caller's: use-case and store errors →
//! [`ApiError`] (stable code, gRPC kind, the field concerned) → [`tonic::Status`].

use crate::app::AppError;
use crate::domain::{CaseError, InspectionError, ReviewError, RuleError};
use crate::store::StoreError;
use yibao_runtime::{ApiError, ErrorKind};

/// The refusal's text without its field prefix (`field: reason` → `reason`).
fn message_of(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    text.split_once(": ")
        .map_or(text.clone(), |(_, m)| m.to_string())
}

fn precondition(code: &'static str, message: String) -> ApiError {
    ApiError::new(ErrorKind::FailedPrecondition, code, message)
}

fn review(code: &'static str, e: &ReviewError) -> ApiError {
    let message = message_of(e);
    match e {
        ReviewError::WrongRole { .. } => ApiError::new(ErrorKind::PermissionDenied, code, message),
        ReviewError::AmountOutOfRange { .. } => ApiError::invalid(code, "amount_fen", message),
        ReviewError::BoundByThirdParty => ApiError::invalid(code, "conclusion", message),
        ReviewError::MethodInsufficient { .. } => ApiError::invalid(code, "method", message),
        ReviewError::IllegalTransition { .. }
        | ReviewError::FeedbackWindowOpen { .. }
        | ReviewError::TimeBackwards { .. }
        | ReviewError::AlreadyCompleted(_) => precondition(code, message),
    }
}

fn case(code: &'static str, e: &CaseError) -> ApiError {
    let message = message_of(e);
    match e {
        CaseError::NoFindings | CaseError::MixedInstitutions(..) => {
            ApiError::invalid(code, "finding_ids", message)
        }
        CaseError::AmountNotPositive | CaseError::RewardAboveDue { .. } => {
            ApiError::invalid(code, "amount_fen", message)
        }
        CaseError::Closed(_) | CaseError::NoReward(_) => precondition(code, message),
    }
}

fn rule(code: &'static str, e: &RuleError) -> ApiError {
    let field = match e {
        RuleError::UnknownRule(_) | RuleError::Incomplete(_) => "rule_code",
        RuleError::ParamsMismatch { .. }
        | RuleError::InvalidParams { .. }
        | RuleError::RetentionTooShort { .. } => "params",
    };
    ApiError::invalid(code, field, message_of(e))
}

fn inspection(code: &'static str, e: &InspectionError) -> ApiError {
    let field = match e {
        InspectionError::EmptyDraw | InspectionError::TooFewInstitutions { .. } => {
            "institutions_to_draw"
        }
        InspectionError::OutsideRegion(_) => "institution_codes",
        InspectionError::TooFewInspectors { .. } => "inspectors_to_draw",
    };
    ApiError::invalid(code, field, message_of(e))
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let code = e.code();
        match e {
            StoreError::Conflict(m) => ApiError::new(ErrorKind::Aborted, code, m),
            StoreError::TipAlreadyInCase(_) => precondition(code, e.to_string()),
            StoreError::FindingAlreadyInCase(_) => {
                ApiError::invalid(code, "finding_ids", e.to_string())
            }
            StoreError::Corrupt(m) => ApiError::internal(m),
            StoreError::Db(e) => ApiError::internal(e),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        let code = e.code();
        match e {
            AppError::Denied(a) => a.into(),
            AppError::FindingNotFound(_)
            | AppError::TaskNotFound(_)
            | AppError::CaseNotFound(_)
            | AppError::DrawNotFound(_)
            | AppError::BudgetNotSet { .. } => ApiError::not_found(code, e.to_string()),
            AppError::RuleVersionUnknown { .. } => {
                ApiError::invalid(code, "version", e.to_string())
            }
            AppError::RuleVersionConflict { .. } => {
                ApiError::new(ErrorKind::Aborted, code, e.to_string())
            }
            AppError::SamePerson => precondition(code, e.to_string()),
            AppError::CaseFindingUnknown { index, .. }
            | AppError::CaseFindingOutsideRegion { index, .. } => {
                ApiError::invalid(code, format!("finding_ids[{index}]"), e.to_string())
            }
            AppError::CaseTipUnknown(_) | AppError::CaseTipOutsideRegion { .. } => {
                ApiError::invalid(code, "tip_id", e.to_string())
            }
            AppError::RequestIdReused(_) => {
                ApiError::new(ErrorKind::AlreadyExists, code, e.to_string())
            }
            AppError::Rule(r) => rule(code, &r),
            AppError::Review(r) => review(code, &r),
            AppError::Case(c) => case(code, &c),
            AppError::Inspection(i) => inspection(code, &i),
            AppError::BudgetPolicy(b) => ApiError::invalid(
                code,
                "policy",
                b.to_string()
                    .split_once(": ")
                    .map_or(String::new(), |(_, m)| m.to_string()),
            ),
            AppError::Corrupt(m) => ApiError::internal(m),
            AppError::Store(s) => s.into(),
        }
    }
}

impl From<AppError> for tonic::Status {
    fn from(e: AppError) -> tonic::Status {
        ApiError::from(e).into()
    }
}
