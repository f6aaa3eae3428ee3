//! The one mapping of the service's errors to the caller's: use-case and store errors →
//! [`ApiError`] (the stable code of [`crate::error`] with its kind, the field concerned) →
//! [`tonic::Status`].

use crate::app::AppError;
use crate::domain::{CaseError, InspectionError, ReviewError, RuleError};
use crate::store::StoreError;
use yibao_runtime::ApiError;

/// The refusal's text without its code prefix (`CODE: reason` → `reason`).
fn message_of(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    text.split_once(": ")
        .map_or(text.clone(), |(_, m)| m.to_string())
}

/// The request field a refused review step concerns, if one.
fn review_field(e: &ReviewError) -> Option<&'static str> {
    match e {
        ReviewError::AmountOutOfRange { .. } => Some("amount_fen"),
        ReviewError::BoundByThirdParty => Some("conclusion"),
        ReviewError::MethodInsufficient { .. } => Some("method"),
        ReviewError::WrongRole { .. }
        | ReviewError::IllegalTransition { .. }
        | ReviewError::FeedbackWindowOpen { .. }
        | ReviewError::TimeBackwards { .. }
        | ReviewError::AlreadyCompleted(_) => None,
    }
}

/// The request field a refused case change concerns, if one.
fn case_field(e: &CaseError) -> Option<&'static str> {
    match e {
        CaseError::NoFindings | CaseError::MixedInstitutions(..) => Some("finding_ids"),
        CaseError::AmountNotPositive | CaseError::RewardAboveDue { .. } => Some("amount_fen"),
        CaseError::Closed(_) | CaseError::NoReward(_) => None,
    }
}

/// The request field a refused rule-set change concerns.
fn rule_field(e: &RuleError) -> &'static str {
    match e {
        RuleError::UnknownRule(_) | RuleError::Incomplete(_) => "rule_code",
        RuleError::ParamsMismatch { .. }
        | RuleError::InvalidParams { .. }
        | RuleError::RetentionTooShort { .. } => "params",
    }
}

/// The request field a refused draw concerns.
fn inspection_field(e: &InspectionError) -> &'static str {
    match e {
        InspectionError::EmptyDraw | InspectionError::TooFewInstitutions { .. } => {
            "institutions_to_draw"
        }
        InspectionError::OutsideRegion(_) => "institution_codes",
        InspectionError::TooFewInspectors { .. } => "inspectors_to_draw",
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let code = e.code();
        match e {
            StoreError::Conflict(m) => code.error(m),
            StoreError::TipAlreadyInCase(_) => code.error(e.to_string()),
            StoreError::FindingAlreadyInCase(_) => code.invalid("finding_ids", e.to_string()),
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
            | AppError::BudgetNotSet { .. }
            | AppError::RuleVersionConflict { .. }
            | AppError::SamePerson
            | AppError::RequestIdReused(_) => code.error(e.to_string()),
            AppError::RuleVersionUnknown { .. } => code.invalid("version", e.to_string()),
            // The finding code is NotFound; named in a request's list it is bad input.
            AppError::CaseFindingUnknown { index, .. } => {
                ApiError::invalid(code.code, format!("finding_ids[{index}]"), e.to_string())
            }
            AppError::CaseFindingOutsideRegion { index, .. } => {
                code.invalid(format!("finding_ids[{index}]"), e.to_string())
            }
            AppError::CaseTipUnknown(_) | AppError::CaseTipOutsideRegion { .. } => {
                code.invalid("tip_id", e.to_string())
            }
            AppError::Rule(r) => code.invalid(rule_field(&r), message_of(&r)),
            AppError::Review(r) => match review_field(&r) {
                Some(field) => code.invalid(field, message_of(&r)),
                None => code.error(message_of(&r)),
            },
            AppError::Case(c) => match case_field(&c) {
                Some(field) => code.invalid(field, message_of(&c)),
                None => code.error(message_of(&c)),
            },
            AppError::Inspection(i) => code.invalid(inspection_field(&i), message_of(&i)),
            AppError::BudgetPolicy(b) => code.invalid(
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
