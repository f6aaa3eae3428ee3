//! The application workflow: received → assessment scheduled → assessed → decided (approved at
//! a level, or rejected with a reason) → appealed → assessment scheduled → assessed → re-decided.
//! One appeal per application; every step is recorded with who and when by the store.

use super::DomainError;
use crate::error;
use serde::{Deserialize, Serialize};

/// State of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApplicationStatus {
    /// 受理.
    Received,
    /// Assessors assigned.
    AssessmentScheduled,
    /// Level computed from the score sheets.
    Assessed,
    /// Approved at the level.
    Approved,
    /// Rejected with a reason.
    Rejected,
    /// Appealed; waits for a new assessment.
    Appealed,
}

impl ApplicationStatus {
    /// Every state.
    pub const ALL: [ApplicationStatus; 6] = [
        ApplicationStatus::Received,
        ApplicationStatus::AssessmentScheduled,
        ApplicationStatus::Assessed,
        ApplicationStatus::Approved,
        ApplicationStatus::Rejected,
        ApplicationStatus::Appealed,
    ];

    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Received => "received",
            ApplicationStatus::AssessmentScheduled => "assessment_scheduled",
            ApplicationStatus::Assessed => "assessed",
            ApplicationStatus::Approved => "approved",
            ApplicationStatus::Rejected => "rejected",
            ApplicationStatus::Appealed => "appealed",
        }
    }

    /// Parses stored text.
    pub fn parse(s: &str) -> Option<ApplicationStatus> {
        ApplicationStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Why an application was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApplicationKind {
    /// First application.
    Initial,
    /// Reassessment of a beneficiary (scheduled or requested).
    Reassessment,
}

impl ApplicationKind {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationKind::Initial => "initial",
            ApplicationKind::Reassessment => "reassessment",
        }
    }

    /// Parses stored text.
    pub fn parse(s: &str) -> Option<ApplicationKind> {
        [ApplicationKind::Initial, ApplicationKind::Reassessment]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A step a caller asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Assign assessors.
    Schedule,
    /// All sheets are in and agree.
    Assess,
    /// Approve at the computed level.
    Approve,
    /// Reject with a reason.
    Reject,
    /// Appeal the decision.
    Appeal,
}

/// The state after `step` from `status`, or the refusal. `appeals_so_far` counts earlier
/// appeals of the application: one appeal is allowed.
pub fn transition(
    status: ApplicationStatus,
    step: &Step,
    appeals_so_far: u32,
) -> Result<ApplicationStatus, DomainError> {
    use ApplicationStatus as S;
    let next = match (status, step) {
        (S::Received | S::Appealed, Step::Schedule) => S::AssessmentScheduled,
        (S::AssessmentScheduled, Step::Assess) => S::Assessed,
        (S::Assessed, Step::Approve) => S::Approved,
        (S::Assessed, Step::Reject) => S::Rejected,
        (S::Approved | S::Rejected, Step::Appeal) if appeals_so_far == 0 => S::Appealed,
        (S::Approved | S::Rejected, Step::Appeal) => {
            return Err(DomainError::precondition(
                error::APPEAL_ALREADY_MADE.code,
                "the decision was already appealed once and re-decided",
            ));
        }
        _ => {
            return Err(DomainError::precondition(
                error::APPLICATION_WRONG_STATE.code,
                format!(
                    "application is {}; {step:?} is not possible",
                    status.as_str()
                ),
            ));
        }
    };
    Ok(next)
}
