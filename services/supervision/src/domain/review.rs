//! The review workflow of a finding (seed 002: 自动审核 → 医疗机构反馈 → 复审 → 终审), with the
//! third-party appeal review of seed 003 (第三方申诉复核: the bureau settles according to the
//! third party's conclusion), and the verification tasks of large receipts (seed 000).
//!
//! ```text
//! AwaitingFeedback ──feedback (institution)──▶ FeedbackReceived ──review (reviewer)──▶ Reviewed
//!        └──review (reviewer, after the feedback deadline)──────────────────────────▶ Reviewed
//! Reviewed ──request third party (institution appealing an upheld review, or reviewer)──▶ ThirdPartyPending
//! ThirdPartyPending ──third-party review──▶ ThirdPartyReviewed
//! Reviewed | ThirdPartyReviewed ──decide (final reviewer)──▶ Confirmed { amount } | Dismissed
//! ```
//!
//! Every step records actor, role and timestamp (passed in; steps may not go back in time).
//! An illegal transition is an error naming the current state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use yibao_core::{Fen, InstitutionCode};

use super::detector::Finding;
use super::rules::{RuleCode, VerificationKind};

/// Role of the actor of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewRole {
    /// The platform (automatic review, 自动审核).
    System,
    /// The institution answering for the finding (医疗机构).
    Institution,
    /// The bureau's reviewer (复审).
    Reviewer,
    /// The contracted third party (第三方复核).
    ThirdParty,
    /// The final reviewer (终审).
    FinalReviewer,
}

impl fmt::Display for ReviewRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReviewRole::System => "system",
            ReviewRole::Institution => "institution",
            ReviewRole::Reviewer => "reviewer",
            ReviewRole::ThirdParty => "third_party",
            ReviewRole::FinalReviewer => "final_reviewer",
        })
    }
}

/// The institution's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// 认可: accepts the finding.
    Accept,
    /// 说明: explains (with documents) why the charge is compliant.
    Explain,
    /// 申诉: disputes the finding.
    Appeal,
}

/// Conclusion of a review or third-party review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// The finding stands for this amount (0 < amount ≤ amount at risk).
    Uphold {
        /// Amount to recover or deduct.
        amount: Fen,
    },
    /// The finding does not stand.
    Dismiss,
}

/// State of a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReviewState {
    /// Raised by automatic review; waiting for the institution.
    AwaitingFeedback,
    /// The institution answered.
    FeedbackReceived {
        /// Its answer.
        kind: FeedbackKind,
    },
    /// The reviewer concluded.
    Reviewed {
        /// Conclusion.
        outcome: ReviewOutcome,
    },
    /// Sent to the third party.
    ThirdPartyPending,
    /// The third party concluded; the final decision follows it.
    ThirdPartyReviewed {
        /// Conclusion.
        outcome: ReviewOutcome,
    },
    /// Final: the amount is to be recovered or deducted (拒付/追回).
    Confirmed {
        /// Amount to recover or deduct.
        amount_to_recover: Fen,
    },
    /// Final: no violation.
    Dismissed,
}

impl ReviewState {
    /// Stable name of the state, e.g. `AWAITING_FEEDBACK`.
    pub fn name(&self) -> &'static str {
        match self {
            ReviewState::AwaitingFeedback => "AWAITING_FEEDBACK",
            ReviewState::FeedbackReceived { .. } => "FEEDBACK_RECEIVED",
            ReviewState::Reviewed { .. } => "REVIEWED",
            ReviewState::ThirdPartyPending => "THIRD_PARTY_PENDING",
            ReviewState::ThirdPartyReviewed { .. } => "THIRD_PARTY_REVIEWED",
            ReviewState::Confirmed { .. } => "CONFIRMED",
            ReviewState::Dismissed => "DISMISSED",
        }
    }

    /// True for `Confirmed` and `Dismissed`.
    pub fn is_final(&self) -> bool {
        matches!(self, ReviewState::Confirmed { .. } | ReviewState::Dismissed)
    }
}

/// One recorded step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What was done, e.g. `submit_feedback`.
    pub action: String,
    /// Who did it (token subject).
    pub actor: String,
    /// In which role.
    pub role: ReviewRole,
    /// When.
    pub at: DateTime<Utc>,
    /// Free-text note or reasons.
    pub note: String,
    /// State after the step.
    pub state_after: ReviewState,
}

/// Why a step was refused. Each variant has a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// The step is not allowed in the current state.
    #[error("REVIEW_ILLEGAL_TRANSITION: cannot {action} while the review is {state}")]
    IllegalTransition {
        /// Attempted action.
        action: &'static str,
        /// Current state name.
        state: &'static str,
    },
    /// The actor's role may not take this step.
    #[error("REVIEW_WRONG_ROLE: {role} may not {action}")]
    WrongRole {
        /// Attempted action.
        action: &'static str,
        /// Role of the actor.
        role: ReviewRole,
    },
    /// The reviewer acted before the institution answered and before the deadline.
    #[error("REVIEW_FEEDBACK_WINDOW_OPEN: the institution may answer until {due}")]
    FeedbackWindowOpen {
        /// Feedback deadline.
        due: DateTime<Utc>,
    },
    /// The amount is not positive or above the amount at risk.
    #[error("REVIEW_AMOUNT_OUT_OF_RANGE: amount {amount} must be above 0 and at most {max}")]
    AmountOutOfRange {
        /// Amount given.
        amount: Fen,
        /// Upper bound.
        max: Fen,
    },
    /// The final decision departs from the third party's conclusion.
    #[error("REVIEW_BOUND_BY_THIRD_PARTY: the decision must follow the third party's conclusion")]
    BoundByThirdParty,
    /// The timestamp is before the previous step.
    #[error("REVIEW_TIME_BEFORE_PREVIOUS_STEP: {at} is before {previous}")]
    TimeBackwards {
        /// Previous step.
        previous: DateTime<Utc>,
        /// Given time.
        at: DateTime<Utc>,
    },
    /// A verification task was already completed.
    #[error("VERIFICATION_ALREADY_COMPLETED: task {0} was completed")]
    AlreadyCompleted(String),
    /// The method does not satisfy the task's required verification.
    #[error("VERIFICATION_METHOD_INSUFFICIENT: {kind:?} requires a phone or on-site check")]
    MethodInsufficient {
        /// Required verification.
        kind: VerificationKind,
    },
}

/// Who acts, in which role, when, with what note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Token subject.
    pub actor: String,
    /// Role.
    pub role: ReviewRole,
    /// Timestamp.
    pub at: DateTime<Utc>,
    /// Note or reasons.
    pub note: String,
}

/// The review of one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// Finding reviewed.
    pub finding_id: String,
    /// Rule of the finding.
    pub rule: RuleCode,
    /// Institution answering.
    pub institution: InstitutionCode,
    /// Amount at risk of the finding: the upper bound of any amount upheld.
    pub amount_at_risk: Fen,
    /// Until when the institution may answer.
    pub feedback_due: DateTime<Utc>,
    /// Current state.
    pub state: ReviewState,
    /// The reviewer's conclusion, kept after a third-party review.
    pub reviewer_outcome: Option<ReviewOutcome>,
    /// The third party's conclusion, if any.
    pub third_party_outcome: Option<ReviewOutcome>,
    /// Every step, first the automatic review.
    pub steps: Vec<Step>,
}

impl Review {
    /// Opens the review of a finding by automatic review (system step at `at`).
    pub fn open(finding: &Finding, at: DateTime<Utc>, feedback_due: DateTime<Utc>) -> Review {
        Review {
            finding_id: finding.finding_id.clone(),
            rule: finding.rule,
            institution: finding.institution.clone(),
            amount_at_risk: finding.amount_at_risk,
            feedback_due,
            state: ReviewState::AwaitingFeedback,
            reviewer_outcome: None,
            third_party_outcome: None,
            steps: vec![Step {
                action: "automatic_review".into(),
                actor: "system".into(),
                role: ReviewRole::System,
                at,
                note: finding.explanation.clone(),
                state_after: ReviewState::AwaitingFeedback,
            }],
        }
    }

    /// The institution answers (认可/说明/申诉).
    pub fn submit_feedback(
        &mut self,
        by: Actor,
        kind: FeedbackKind,
    ) -> Result<&ReviewState, ReviewError> {
        const ACTION: &str = "submit feedback";
        self.check(ACTION, &by, &[ReviewRole::Institution])?;
        match self.state {
            ReviewState::AwaitingFeedback => {
                self.step(ACTION, by, ReviewState::FeedbackReceived { kind })
            }
            _ => Err(self.illegal(ACTION)),
        }
    }

    /// The reviewer concludes (复审): after the institution answered, or without an answer once
    /// the feedback deadline has passed.
    pub fn review(
        &mut self,
        by: Actor,
        outcome: ReviewOutcome,
    ) -> Result<&ReviewState, ReviewError> {
        const ACTION: &str = "review";
        self.check(ACTION, &by, &[ReviewRole::Reviewer])?;
        match self.state {
            ReviewState::FeedbackReceived { .. } => {}
            ReviewState::AwaitingFeedback if by.at >= self.feedback_due => {}
            ReviewState::AwaitingFeedback => {
                return Err(ReviewError::FeedbackWindowOpen {
                    due: self.feedback_due,
                });
            }
            _ => return Err(self.illegal(ACTION)),
        }
        self.check_amount(outcome)?;
        self.reviewer_outcome = Some(outcome);
        self.step(ACTION, by, ReviewState::Reviewed { outcome })
    }

    /// Sends the reviewed finding to the third party: the institution appealing an upheld
    /// review (申诉), or the reviewer for a difficult case (提请第三方评审).
    pub fn request_third_party(&mut self, by: Actor) -> Result<&ReviewState, ReviewError> {
        const ACTION: &str = "request a third-party review";
        self.check(
            ACTION,
            &by,
            &[ReviewRole::Institution, ReviewRole::Reviewer],
        )?;
        match self.state {
            ReviewState::Reviewed {
                outcome: ReviewOutcome::Dismiss,
            } if by.role == ReviewRole::Institution => Err(self.illegal(ACTION)),
            ReviewState::Reviewed { .. } => self.step(ACTION, by, ReviewState::ThirdPartyPending),
            _ => Err(self.illegal(ACTION)),
        }
    }

    /// The third party concludes (第三方复核).
    pub fn third_party_review(
        &mut self,
        by: Actor,
        outcome: ReviewOutcome,
    ) -> Result<&ReviewState, ReviewError> {
        const ACTION: &str = "record a third-party review";
        self.check(ACTION, &by, &[ReviewRole::ThirdParty])?;
        match self.state {
            ReviewState::ThirdPartyPending => {
                self.check_amount(outcome)?;
                self.third_party_outcome = Some(outcome);
                self.step(ACTION, by, ReviewState::ThirdPartyReviewed { outcome })
            }
            _ => Err(self.illegal(ACTION)),
        }
    }

    /// The final decision (终审). After a third-party review it must follow the third party: a
    /// dismissal stays a dismissal, an upheld amount is not exceeded.
    pub fn decide(
        &mut self,
        by: Actor,
        outcome: ReviewOutcome,
    ) -> Result<&ReviewState, ReviewError> {
        const ACTION: &str = "decide";
        self.check(ACTION, &by, &[ReviewRole::FinalReviewer])?;
        match self.state {
            ReviewState::Reviewed { .. } => {}
            ReviewState::ThirdPartyReviewed { outcome: bound } => match (bound, outcome) {
                (ReviewOutcome::Dismiss, ReviewOutcome::Uphold { .. }) => {
                    return Err(ReviewError::BoundByThirdParty);
                }
                (ReviewOutcome::Uphold { amount: max }, ReviewOutcome::Uphold { amount })
                    if amount > max =>
                {
                    return Err(ReviewError::BoundByThirdParty);
                }
                _ => {}
            },
            _ => return Err(self.illegal(ACTION)),
        }
        self.check_amount(outcome)?;
        let next = match outcome {
            ReviewOutcome::Uphold { amount } => ReviewState::Confirmed {
                amount_to_recover: amount,
            },
            ReviewOutcome::Dismiss => ReviewState::Dismissed,
        };
        self.step(ACTION, by, next)
    }

    fn check(
        &self,
        action: &'static str,
        by: &Actor,
        roles: &[ReviewRole],
    ) -> Result<(), ReviewError> {
        if !roles.contains(&by.role) {
            return Err(ReviewError::WrongRole {
                action,
                role: by.role,
            });
        }
        if let Some(prev) = self.steps.last()
            && by.at < prev.at
        {
            return Err(ReviewError::TimeBackwards {
                previous: prev.at,
                at: by.at,
            });
        }
        Ok(())
    }

    fn check_amount(&self, outcome: ReviewOutcome) -> Result<(), ReviewError> {
        match outcome {
            ReviewOutcome::Uphold { amount } if amount.0 <= 0 || amount > self.amount_at_risk => {
                Err(ReviewError::AmountOutOfRange {
                    amount,
                    max: self.amount_at_risk,
                })
            }
            _ => Ok(()),
        }
    }

    fn illegal(&self, action: &'static str) -> ReviewError {
        ReviewError::IllegalTransition {
            action,
            state: self.state.name(),
        }
    }

    fn step(
        &mut self,
        action: &str,
        by: Actor,
        next: ReviewState,
    ) -> Result<&ReviewState, ReviewError> {
        self.state = next;
        self.steps.push(Step {
            action: action.replace(' ', "_"),
            actor: by.actor,
            role: by.role,
            at: by.at,
            note: by.note,
            state_after: next,
        });
        Ok(&self.state)
    }
}

/// How a large receipt was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationMethod {
    /// A check record was filed from the documents.
    CheckRecord,
    /// The patient or family was called.
    Phone,
    /// Someone went to see.
    OnSite,
}

/// What the verification established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationOutcome {
    /// 属实: the care happened as billed.
    Genuine,
    /// 不属实: it did not; the finding goes to review.
    NotGenuine,
}

/// The completion of a verification task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationCompletion {
    /// Method used.
    pub method: VerificationMethod,
    /// Result.
    pub outcome: VerificationOutcome,
    /// Who completed it.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Note.
    pub note: String,
}

/// A verification task of a large receipt (seed 000: 一万元以上的票据有核实记录, 五万元以上的票据
/// 必须做到电话或实地查验).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationTask {
    /// Task id (the finding id).
    pub task_id: String,
    /// The receipt.
    pub claim_id: String,
    /// Institution of the receipt.
    pub institution: InstitutionCode,
    /// Required verification.
    pub kind: VerificationKind,
    /// The basic pool's payment of the receipt (what the claim event carries as the fund's
    /// payment).
    pub amount: Fen,
    /// When the task was opened.
    pub opened_at: DateTime<Utc>,
    /// Completion, once done.
    pub completion: Option<VerificationCompletion>,
    /// Set when the claim was reversed before the task was completed: nothing is left to
    /// verify, and the task leaves the open queue.
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

/// Why and when an open task was closed without a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    /// When.
    pub at: DateTime<Utc>,
    /// Why, e.g. the reversing event.
    pub reason: String,
}

impl VerificationTask {
    /// The task a finding requires, if it requires one.
    pub fn from_finding(finding: &Finding, opened_at: DateTime<Utc>) -> Option<VerificationTask> {
        let kind = finding.verification?;
        Some(VerificationTask {
            task_id: finding.finding_id.clone(),
            claim_id: finding
                .evidence
                .claim_ids
                .first()
                .cloned()
                .unwrap_or_default(),
            institution: finding.institution.clone(),
            kind,
            amount: finding.amount_at_risk,
            opened_at,
            completion: None,
            withdrawn: None,
        })
    }

    /// Closes an open task because its claim was reversed; a completed or withdrawn task
    /// stays as it is (returns false).
    pub fn withdraw(&mut self, at: DateTime<Utc>, reason: &str) -> bool {
        if self.completion.is_some() || self.withdrawn.is_some() {
            return false;
        }
        self.withdrawn = Some(Withdrawal {
            at: at.max(self.opened_at),
            reason: reason.to_string(),
        });
        true
    }

    /// Completes the task. A phone-or-on-site task is not satisfied by a check record alone.
    pub fn complete(
        &mut self,
        method: VerificationMethod,
        outcome: VerificationOutcome,
        actor: &str,
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<&VerificationCompletion, ReviewError> {
        if self.completion.is_some() || self.withdrawn.is_some() {
            return Err(ReviewError::AlreadyCompleted(self.task_id.clone()));
        }
        if self.kind == VerificationKind::PhoneOrOnSite && method == VerificationMethod::CheckRecord
        {
            return Err(ReviewError::MethodInsufficient { kind: self.kind });
        }
        if at < self.opened_at {
            return Err(ReviewError::TimeBackwards {
                previous: self.opened_at,
                at,
            });
        }
        Ok(self.completion.insert(VerificationCompletion {
            method,
            outcome,
            actor: actor.to_string(),
            at,
            note: note.to_string(),
        }))
    }
}
