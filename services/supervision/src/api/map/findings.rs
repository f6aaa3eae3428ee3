//! Findings, their review, verification tasks and cases.

use super::{rule_code, severity, verification_kind};
use crate::domain::{
    Case, CaseSource, CaseStatus, FeedbackKind, Finding, Review, ReviewRole, ReviewState,
    RewardPolicy, VerificationMethod, VerificationOutcome, VerificationTask,
};
use crate::error;
use crate::store::rfc3339;
use yibao_core::Fen;
use yibao_proto::common::v1 as common;
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::ApiError;

/// Proto number of a review state.
pub fn review_state(s: &ReviewState) -> i32 {
    (match s {
        ReviewState::AwaitingFeedback => pb::ReviewState::AwaitingFeedback,
        ReviewState::FeedbackReceived { .. } => pb::ReviewState::FeedbackReceived,
        ReviewState::Reviewed { .. } => pb::ReviewState::Reviewed,
        ReviewState::ThirdPartyPending => pb::ReviewState::ThirdPartyPending,
        ReviewState::ThirdPartyReviewed { .. } => pb::ReviewState::ThirdPartyReviewed,
        ReviewState::Confirmed { .. } => pb::ReviewState::Confirmed,
        ReviewState::Dismissed => pb::ReviewState::Dismissed,
    }) as i32
}

/// The stored state name of a proto state filter (`None` for unspecified).
pub fn review_state_filter(n: i32) -> Result<Option<&'static str>, ApiError> {
    Ok(match pb::ReviewState::try_from(n) {
        Ok(pb::ReviewState::Unspecified) => None,
        Ok(pb::ReviewState::AwaitingFeedback) => Some("AWAITING_FEEDBACK"),
        Ok(pb::ReviewState::FeedbackReceived) => Some("FEEDBACK_RECEIVED"),
        Ok(pb::ReviewState::Reviewed) => Some("REVIEWED"),
        Ok(pb::ReviewState::ThirdPartyPending) => Some("THIRD_PARTY_PENDING"),
        Ok(pb::ReviewState::ThirdPartyReviewed) => Some("THIRD_PARTY_REVIEWED"),
        Ok(pb::ReviewState::Confirmed) => Some("CONFIRMED"),
        Ok(pb::ReviewState::Dismissed) => Some("DISMISSED"),
        Err(_) => {
            return Err(error::STATE_INVALID.invalid("state", format!("unknown review state {n}")));
        }
    })
}

fn review_role(r: ReviewRole) -> i32 {
    (match r {
        ReviewRole::System => pb::ReviewRole::System,
        ReviewRole::Institution => pb::ReviewRole::Institution,
        ReviewRole::Reviewer => pb::ReviewRole::Reviewer,
        ReviewRole::ThirdParty => pb::ReviewRole::ThirdParty,
        ReviewRole::FinalReviewer => pb::ReviewRole::FinalReviewer,
    }) as i32
}

/// The institution's answer from the proto.
pub fn feedback_in(n: i32) -> Result<FeedbackKind, ApiError> {
    match pb::FeedbackKind::try_from(n) {
        Ok(pb::FeedbackKind::Accept) => Ok(FeedbackKind::Accept),
        Ok(pb::FeedbackKind::Explain) => Ok(FeedbackKind::Explain),
        Ok(pb::FeedbackKind::Appeal) => Ok(FeedbackKind::Appeal),
        _ => Err(error::FEEDBACK_KIND_INVALID.invalid("kind", "must be ACCEPT, EXPLAIN or APPEAL")),
    }
}

/// A conclusion from the proto: uphold for an amount, or dismiss.
pub fn conclusion_in(n: i32, amount_fen: i64) -> Result<crate::domain::ReviewOutcome, ApiError> {
    match pb::Conclusion::try_from(n) {
        Ok(pb::Conclusion::Uphold) => Ok(crate::domain::ReviewOutcome::Uphold {
            amount: Fen(amount_fen),
        }),
        Ok(pb::Conclusion::Dismiss) if amount_fen == 0 => Ok(crate::domain::ReviewOutcome::Dismiss),
        Ok(pb::Conclusion::Dismiss) => Err(error::REVIEW_AMOUNT_OUT_OF_RANGE
            .invalid("amount_fen", "must be 0 when the finding is dismissed")),
        _ => Err(error::CONCLUSION_INVALID.invalid(
            "conclusion",
            "must be CONCLUSION_UPHOLD or CONCLUSION_DISMISS",
        )),
    }
}

fn evidence(f: &Finding) -> pb::Evidence {
    pb::Evidence {
        claim_ids: f.evidence.claim_ids.clone(),
        encounter_ids: f.evidence.encounter_ids.clone(),
        item_codes: f.evidence.item_codes.clone(),
        diagnoses: f.evidence.diagnoses.clone(),
        dates: f.evidence.dates.iter().map(|d| d.to_string()).collect(),
        person_keys: f
            .evidence
            .persons
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
    }
}

/// A proto finding with its review; `step_roles` are the caller roles of the steps.
pub fn finding(f: &Finding, r: &Review, step_roles: &[String]) -> pb::Finding {
    pb::Finding {
        finding_id: f.finding_id.clone(),
        rule_code: rule_code(f.rule),
        rule_version: f.rule_version,
        region_code: f.region.to_string(),
        severity: severity(f.severity),
        institution_code: f.institution.to_string(),
        person_key: f
            .person
            .as_ref()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        physician_code: f.physician.clone().unwrap_or_default(),
        event_id: f.event_id.clone(),
        observed_at: f.observed_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        evidence: Some(evidence(f)),
        amount_at_risk_fen: f.amount_at_risk.0,
        verification: f.verification.map_or(0, verification_kind),
        explanation: f.explanation.clone(),
        state: review_state(&r.state),
        feedback_due_at: rfc3339(r.feedback_due),
        amount_to_recover_fen: match r.state {
            ReviewState::Confirmed { amount_to_recover } => amount_to_recover.0,
            _ => 0,
        },
        steps: r
            .steps
            .iter()
            .enumerate()
            .map(|(k, s)| pb::ReviewStep {
                action: s.action.clone(),
                role: review_role(s.role),
                audit: Some(common::Audit {
                    actor: s.actor.clone(),
                    role: step_roles
                        .get(k)
                        .cloned()
                        .unwrap_or_else(|| s.role.to_string()),
                    at: rfc3339(s.at),
                }),
                note: s.note.clone(),
                state_after: review_state(&s.state_after),
            })
            .collect(),
    }
}

/// A method of verification from the proto.
pub fn method_in(n: i32) -> Result<VerificationMethod, ApiError> {
    match pb::VerificationMethod::try_from(n) {
        Ok(pb::VerificationMethod::CheckRecord) => Ok(VerificationMethod::CheckRecord),
        Ok(pb::VerificationMethod::Phone) => Ok(VerificationMethod::Phone),
        Ok(pb::VerificationMethod::OnSite) => Ok(VerificationMethod::OnSite),
        _ => Err(error::VERIFICATION_METHOD_INVALID
            .invalid("method", "must be CHECK_RECORD, PHONE or ON_SITE")),
    }
}

/// An outcome of verification from the proto.
pub fn outcome_in(n: i32) -> Result<VerificationOutcome, ApiError> {
    match pb::VerificationOutcome::try_from(n) {
        Ok(pb::VerificationOutcome::Genuine) => Ok(VerificationOutcome::Genuine),
        Ok(pb::VerificationOutcome::NotGenuine) => Ok(VerificationOutcome::NotGenuine),
        _ => Err(error::VERIFICATION_OUTCOME_INVALID
            .invalid("outcome", "must be GENUINE or NOT_GENUINE")),
    }
}

/// A proto verification task.
pub fn task(t: &VerificationTask) -> pb::VerificationTask {
    let c = t.completion.as_ref();
    pb::VerificationTask {
        task_id: t.task_id.clone(),
        claim_id: t.claim_id.clone(),
        institution_code: t.institution.to_string(),
        kind: verification_kind(t.kind),
        amount_fen: t.amount.0,
        opened_at: rfc3339(t.opened_at),
        method: c.map_or(0, |c| {
            (match c.method {
                VerificationMethod::CheckRecord => pb::VerificationMethod::CheckRecord,
                VerificationMethod::Phone => pb::VerificationMethod::Phone,
                VerificationMethod::OnSite => pb::VerificationMethod::OnSite,
            }) as i32
        }),
        outcome: c.map_or(0, |c| {
            (match c.outcome {
                VerificationOutcome::Genuine => pb::VerificationOutcome::Genuine,
                VerificationOutcome::NotGenuine => pb::VerificationOutcome::NotGenuine,
            }) as i32
        }),
        completed: c.map(|c| common::Audit {
            actor: c.actor.clone(),
            role: "operator".into(),
            at: rfc3339(c.at),
        }),
        note: c.map(|c| c.note.clone()).unwrap_or_default(),
        withdrawn_at: t
            .withdrawn
            .as_ref()
            .map(|w| rfc3339(w.at))
            .unwrap_or_default(),
        withdrawn_reason: t
            .withdrawn
            .as_ref()
            .map(|w| w.reason.clone())
            .unwrap_or_default(),
    }
}

/// A proto case.
pub fn case(c: &Case, tip_id: &str, policy: &RewardPolicy) -> pb::Case {
    pb::Case {
        case_id: c.case_id.clone(),
        region_code: c.region.to_string(),
        institution_code: c
            .institution
            .as_ref()
            .map(|i| i.to_string())
            .unwrap_or_default(),
        finding_ids: match &c.source {
            CaseSource::Findings { finding_ids } => finding_ids.clone(),
            CaseSource::Tip(_) => Vec::new(),
        },
        tip_id: tip_id.to_string(),
        amount_suspected_fen: c.amount_suspected.0,
        status: (match c.status {
            CaseStatus::Open => pb::CaseStatus::Open,
            CaseStatus::Closed => pb::CaseStatus::Closed,
        }) as i32,
        recoveries: c
            .recoveries
            .iter()
            .map(|r| pb::Recovery {
                amount_fen: r.amount.0,
                note: r.note.clone(),
                recorded: Some(common::Audit {
                    actor: r.actor.clone(),
                    role: r.role.clone(),
                    at: rfc3339(r.at),
                }),
            })
            .collect(),
        recovered_fen: c.recovered().0,
        reward_due_fen: c.reward_due(policy).0,
        reward_paid_fen: c.reward_paid().0,
        opened: Some(common::Audit {
            actor: c.opened_by.clone(),
            role: c.opened_by_role.clone(),
            at: rfc3339(c.opened_at),
        }),
        closed_at: c.closed_at.map(rfc3339).unwrap_or_default(),
    }
}

/// A case status filter (`None` for unspecified).
pub fn case_status_filter(n: i32) -> Result<Option<&'static str>, ApiError> {
    match pb::CaseStatus::try_from(n) {
        Ok(pb::CaseStatus::Unspecified) => Ok(None),
        Ok(pb::CaseStatus::Open) => Ok(Some("open")),
        Ok(pb::CaseStatus::Closed) => Ok(Some("closed")),
        Err(_) => {
            Err(error::CASE_STATUS_INVALID.invalid("status", format!("unknown case status {n}")))
        }
    }
}
