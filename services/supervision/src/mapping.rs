//! Proto ⇄ domain mapping of the supervision contract. Input mappings name the offending field.

use crate::domain::{
    AgeRestriction, BudgetStatus, BudgetWarning, Case, CaseSource, CaseStatus, CreditRecord,
    FeedbackKind, Finding, FrequencyLimit, FundBalanceStatus, InspectionDraw, ReceiptTier, Review,
    ReviewRole, ReviewState, RewardPolicy, Rule, RuleCode, RuleParams, RuleSet, Severity,
    SexRestriction, Subject, SupplyLimit, VerificationKind, VerificationMethod,
    VerificationOutcome, VerificationTask, WarningLevel,
};
use crate::store::{Audit, rfc3339};
use yibao_core::{Bp, Fen, Sex};
use yibao_proto::common::v1 as common;
use yibao_proto::supervision::v1 as pb;
use yibao_proto::supervision::v1::rule_params::Params;
use yibao_runtime::ApiError;

/// A proto audit.
pub fn audit(a: &Audit) -> common::Audit {
    common::Audit {
        actor: a.actor.clone(),
        role: a.role.clone(),
        at: rfc3339(a.at),
    }
}

/// Proto number of a rule code.
pub fn rule_code(c: RuleCode) -> i32 {
    RuleCode::ALL
        .iter()
        .position(|x| *x == c)
        .map_or(0, |p| i32::try_from(p + 1).unwrap_or(0))
}

/// A rule code from its proto number; `None` for unspecified.
pub fn rule_code_in(field: &str, n: i32) -> Result<Option<RuleCode>, ApiError> {
    if n == 0 {
        return Ok(None);
    }
    usize::try_from(n - 1)
        .ok()
        .and_then(|k| RuleCode::ALL.get(k).copied())
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(
                "SUPERVISION_RULE_CODE_INVALID",
                field,
                format!("unknown rule code {n}"),
            )
        })
}

/// Proto number of a severity.
pub fn severity(s: Severity) -> i32 {
    match s {
        Severity::Low => pb::Severity::Low as i32,
        Severity::Medium => pb::Severity::Medium as i32,
        Severity::High => pb::Severity::High as i32,
    }
}

fn severity_in(field: &str, n: i32) -> Result<Option<Severity>, ApiError> {
    match pb::Severity::try_from(n) {
        Ok(pb::Severity::Unspecified) => Ok(None),
        Ok(pb::Severity::Low) => Ok(Some(Severity::Low)),
        Ok(pb::Severity::Medium) => Ok(Some(Severity::Medium)),
        Ok(pb::Severity::High) => Ok(Some(Severity::High)),
        Err(_) => Err(ApiError::invalid(
            "SUPERVISION_SEVERITY_INVALID",
            field,
            format!("unknown severity {n}"),
        )),
    }
}

/// Proto number of a verification kind.
pub fn verification_kind(k: VerificationKind) -> i32 {
    match k {
        VerificationKind::CheckRecord => pb::VerificationKind::CheckRecord as i32,
        VerificationKind::PhoneOrOnSite => pb::VerificationKind::PhoneOrOnSite as i32,
    }
}

fn verification_kind_in(field: &str, n: i32) -> Result<VerificationKind, ApiError> {
    match pb::VerificationKind::try_from(n) {
        Ok(pb::VerificationKind::CheckRecord) => Ok(VerificationKind::CheckRecord),
        Ok(pb::VerificationKind::PhoneOrOnSite) => Ok(VerificationKind::PhoneOrOnSite),
        _ => Err(ApiError::invalid(
            "SUPERVISION_VERIFICATION_KIND_INVALID",
            field,
            "must be CHECK_RECORD or PHONE_OR_ON_SITE",
        )),
    }
}

/// A verification kind filter (`None` for unspecified).
pub fn verification_kind_filter(field: &str, n: i32) -> Result<Option<VerificationKind>, ApiError> {
    if n == 0 {
        Ok(None)
    } else {
        verification_kind_in(field, n).map(Some)
    }
}

fn sex(s: Sex) -> i32 {
    match s {
        Sex::Male => pb::Sex::Male as i32,
        Sex::Female => pb::Sex::Female as i32,
    }
}

fn sex_in(field: &str, n: i32) -> Result<Sex, ApiError> {
    match pb::Sex::try_from(n) {
        Ok(pb::Sex::Male) => Ok(Sex::Male),
        Ok(pb::Sex::Female) => Ok(Sex::Female),
        _ => Err(ApiError::invalid(
            "SUPERVISION_SEX_INVALID",
            field,
            "must be SEX_MALE or SEX_FEMALE",
        )),
    }
}

fn supply(l: &SupplyLimit) -> pb::SupplyLimit {
    pb::SupplyLimit {
        window_days: l.window_days,
        max_days_supply: l.max_days_supply,
        tolerance_days: l.tolerance_days,
    }
}

fn supply_in(field: &str, l: Option<&pb::SupplyLimit>) -> Result<SupplyLimit, ApiError> {
    let l = l.ok_or_else(|| ApiError::invalid("RULE_PARAMS_INVALID", field, "is required"))?;
    Ok(SupplyLimit {
        window_days: l.window_days,
        max_days_supply: l.max_days_supply,
        tolerance_days: l.tolerance_days,
    })
}

/// Proto parameters of a rule.
pub fn params(p: &RuleParams) -> pb::RuleParams {
    let params = match p {
        RuleParams::SplitHospitalisation {
            window_days,
            planned_diagnosis_prefixes,
        } => Params::SplitHospitalisation(pb::SplitHospitalisationParams {
            window_days: *window_days,
            planned_diagnosis_prefixes: planned_diagnosis_prefixes.clone(),
        }),
        RuleParams::OverlappingStay { include_ltc } => {
            Params::OverlappingStay(pb::OverlappingStayParams {
                include_ltc: *include_ltc,
            })
        }
        RuleParams::ServiceAfterDeath => Params::ServiceAfterDeath(pb::ServiceAfterDeathParams {}),
        RuleParams::ServiceOutsideEnrolment { grace_days } => {
            Params::ServiceOutsideEnrolment(pb::ServiceOutsideEnrolmentParams {
                grace_days: *grace_days,
            })
        }
        RuleParams::OverPrescription { chronic, acute } => {
            Params::OverPrescription(pb::OverPrescriptionParams {
                chronic: Some(supply(chronic)),
                acute: Some(supply(acute)),
            })
        }
        RuleParams::OverFrequency { limits } => Params::OverFrequency(pb::OverFrequencyParams {
            limits: limits
                .iter()
                .map(|l| pb::FrequencyLimit {
                    item_code: l.item_code.clone(),
                    max_per_day: l.max_per_day,
                })
                .collect(),
        }),
        RuleParams::SexLimit { restrictions } => Params::SexLimit(pb::SexLimitParams {
            restrictions: restrictions
                .iter()
                .map(|r| pb::SexRestriction {
                    item_code: r.item_code.clone(),
                    sex: sex(r.sex),
                })
                .collect(),
        }),
        RuleParams::AgeLimit { restrictions } => Params::AgeLimit(pb::AgeLimitParams {
            restrictions: restrictions
                .iter()
                .map(|r| pb::AgeRestriction {
                    item_code: r.item_code.clone(),
                    min_age: r.min_age,
                    max_age: r.max_age,
                })
                .collect(),
        }),
        RuleParams::LargeReceipt { tiers } => Params::LargeReceipt(pb::LargeReceiptParams {
            tiers: tiers
                .iter()
                .map(|t| pb::ReceiptTier {
                    above_fen: t.above.0,
                    verification: verification_kind(t.verification),
                })
                .collect(),
        }),
        RuleParams::ChronicDiagnosisChange => {
            Params::ChronicDiagnosisChange(pb::ChronicDiagnosisChangeParams {})
        }
        RuleParams::IdentityCluster {
            min_persons,
            window_hours,
        } => Params::IdentityCluster(pb::IdentityClusterParams {
            min_persons: *min_persons,
            window_hours: *window_hours,
        }),
        RuleParams::MarkUp { tolerance } => Params::MarkUp(pb::MarkUpParams {
            tolerance_bp: tolerance.0,
        }),
    };
    pb::RuleParams {
        params: Some(params),
    }
}

/// Domain parameters from the proto; `None` when no case is set.
pub fn params_in(p: Option<&pb::RuleParams>) -> Result<Option<RuleParams>, ApiError> {
    let Some(p) = p.and_then(|p| p.params.as_ref()) else {
        return Ok(None);
    };
    let out = match p {
        Params::SplitHospitalisation(x) => RuleParams::SplitHospitalisation {
            window_days: x.window_days,
            planned_diagnosis_prefixes: x
                .planned_diagnosis_prefixes
                .iter()
                .map(|s| s.trim().to_string())
                .collect(),
        },
        Params::OverlappingStay(x) => RuleParams::OverlappingStay {
            include_ltc: x.include_ltc,
        },
        Params::ServiceAfterDeath(_) => RuleParams::ServiceAfterDeath,
        Params::ServiceOutsideEnrolment(x) => RuleParams::ServiceOutsideEnrolment {
            grace_days: x.grace_days,
        },
        Params::OverPrescription(x) => RuleParams::OverPrescription {
            chronic: supply_in("params.over_prescription.chronic", x.chronic.as_ref())?,
            acute: supply_in("params.over_prescription.acute", x.acute.as_ref())?,
        },
        Params::OverFrequency(x) => RuleParams::OverFrequency {
            limits: x
                .limits
                .iter()
                .map(|l| FrequencyLimit {
                    item_code: l.item_code.trim().to_string(),
                    max_per_day: l.max_per_day,
                })
                .collect(),
        },
        Params::SexLimit(x) => RuleParams::SexLimit {
            restrictions: x
                .restrictions
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    Ok(SexRestriction {
                        item_code: r.item_code.trim().to_string(),
                        sex: sex_in(&format!("params.sex_limit.restrictions[{k}].sex"), r.sex)?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
        },
        Params::AgeLimit(x) => RuleParams::AgeLimit {
            restrictions: x
                .restrictions
                .iter()
                .map(|r| AgeRestriction {
                    item_code: r.item_code.trim().to_string(),
                    min_age: r.min_age,
                    max_age: r.max_age,
                })
                .collect(),
        },
        Params::LargeReceipt(x) => RuleParams::LargeReceipt {
            tiers: x
                .tiers
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    Ok(ReceiptTier {
                        above: Fen(t.above_fen),
                        verification: verification_kind_in(
                            &format!("params.large_receipt.tiers[{k}].verification"),
                            t.verification,
                        )?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
        },
        Params::ChronicDiagnosisChange(_) => RuleParams::ChronicDiagnosisChange,
        Params::IdentityCluster(x) => RuleParams::IdentityCluster {
            min_persons: x.min_persons,
            window_hours: x.window_hours,
        },
        Params::MarkUp(x) => RuleParams::MarkUp {
            tolerance: Bp(x.tolerance_bp),
        },
    };
    Ok(Some(out))
}

/// The severity of an update (`None` keeps it).
pub fn severity_update(n: i32) -> Result<Option<Severity>, ApiError> {
    severity_in("severity", n)
}

fn rule(r: &Rule) -> pb::Rule {
    pb::Rule {
        code: rule_code(r.code()),
        enabled: r.enabled,
        severity: severity(r.severity),
        params: Some(params(&r.params)),
    }
}

/// A proto rule set.
pub fn rule_set(set: &RuleSet, made: Option<&Audit>) -> pb::RuleSet {
    pb::RuleSet {
        region_code: set.region.to_string(),
        version: set.version,
        effective_from_date: set.effective_from.to_string(),
        retention_days: set.retention_days,
        rules: set.rules.iter().map(rule).collect(),
        updated: made.map(audit),
    }
}

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
            return Err(ApiError::invalid(
                "SUPERVISION_STATE_INVALID",
                "state",
                format!("unknown review state {n}"),
            ));
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
        _ => Err(ApiError::invalid(
            "SUPERVISION_FEEDBACK_KIND_INVALID",
            "kind",
            "must be ACCEPT, EXPLAIN or APPEAL",
        )),
    }
}

/// A conclusion from the proto: uphold for an amount, or dismiss.
pub fn conclusion_in(n: i32, amount_fen: i64) -> Result<crate::domain::ReviewOutcome, ApiError> {
    match pb::Conclusion::try_from(n) {
        Ok(pb::Conclusion::Uphold) => Ok(crate::domain::ReviewOutcome::Uphold {
            amount: Fen(amount_fen),
        }),
        Ok(pb::Conclusion::Dismiss) if amount_fen == 0 => Ok(crate::domain::ReviewOutcome::Dismiss),
        Ok(pb::Conclusion::Dismiss) => Err(ApiError::invalid(
            "REVIEW_AMOUNT_OUT_OF_RANGE",
            "amount_fen",
            "must be 0 when the finding is dismissed",
        )),
        _ => Err(ApiError::invalid(
            "SUPERVISION_CONCLUSION_INVALID",
            "conclusion",
            "must be CONCLUSION_UPHOLD or CONCLUSION_DISMISS",
        )),
    }
}

fn evidence(f: &Finding) -> pb::Evidence {
    pb::Evidence {
        claim_ids: f.evidence.claim_ids.clone(),
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
        _ => Err(ApiError::invalid(
            "SUPERVISION_VERIFICATION_METHOD_INVALID",
            "method",
            "must be CHECK_RECORD, PHONE or ON_SITE",
        )),
    }
}

/// An outcome of verification from the proto.
pub fn outcome_in(n: i32) -> Result<VerificationOutcome, ApiError> {
    match pb::VerificationOutcome::try_from(n) {
        Ok(pb::VerificationOutcome::Genuine) => Ok(VerificationOutcome::Genuine),
        Ok(pb::VerificationOutcome::NotGenuine) => Ok(VerificationOutcome::NotGenuine),
        _ => Err(ApiError::invalid(
            "SUPERVISION_VERIFICATION_OUTCOME_INVALID",
            "outcome",
            "must be GENUINE or NOT_GENUINE",
        )),
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
                    role: String::new(),
                    at: rfc3339(r.at),
                }),
            })
            .collect(),
        recovered_fen: c.recovered().0,
        reward_due_fen: c.reward_due(policy).0,
        reward_paid_fen: c.reward_paid().0,
        opened: Some(common::Audit {
            actor: c.opened_by.clone(),
            role: String::new(),
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
        Err(_) => Err(ApiError::invalid(
            "SUPERVISION_CASE_STATUS_INVALID",
            "status",
            format!("unknown case status {n}"),
        )),
    }
}

/// A proto credit score of a subject (`record` absent: never deducted, `initial` score).
pub fn credit(subject: &Subject, record: Option<&CreditRecord>, initial: u32) -> pb::CreditScore {
    let (kind, code) = match subject {
        Subject::Institution(c) => (pb::CreditSubjectKind::Institution, c.to_string()),
        Subject::Physician(c) => (pb::CreditSubjectKind::Physician, c.to_string()),
    };
    pb::CreditScore {
        subject_kind: kind as i32,
        subject_code: code,
        score: record.map_or(initial, |r| r.score),
        blacklisted: record.is_some_and(|r| r.blacklisted_since.is_some()),
        blacklisted_since: record
            .and_then(|r| r.blacklisted_since)
            .map(rfc3339)
            .unwrap_or_default(),
        deductions: record
            .map(|r| {
                r.deductions
                    .iter()
                    .map(|d| pb::CreditDeduction {
                        violation_id: d.violation_id.clone(),
                        severity: d.severity.map_or(0, severity),
                        points: i32::try_from(d.points).unwrap_or(0),
                        reason: d.reason.clone(),
                        at: rfc3339(d.at),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Proto number of a warning level.
pub fn level(l: Option<WarningLevel>) -> i32 {
    (match l {
        None => pb::WarningLevel::Unspecified,
        Some(WarningLevel::Yellow) => pb::WarningLevel::Yellow,
        Some(WarningLevel::Orange) => pb::WarningLevel::Orange,
        Some(WarningLevel::Red) => pb::WarningLevel::Red,
    }) as i32
}

/// A warning level filter (`None` for unspecified).
pub fn level_in(n: i32) -> Result<Option<WarningLevel>, ApiError> {
    match pb::WarningLevel::try_from(n) {
        Ok(pb::WarningLevel::Unspecified) => Ok(None),
        Ok(pb::WarningLevel::Yellow) => Ok(Some(WarningLevel::Yellow)),
        Ok(pb::WarningLevel::Orange) => Ok(Some(WarningLevel::Orange)),
        Ok(pb::WarningLevel::Red) => Ok(Some(WarningLevel::Red)),
        Err(_) => Err(ApiError::invalid(
            "SUPERVISION_WARNING_LEVEL_INVALID",
            "min_level",
            format!("unknown level {n}"),
        )),
    }
}

/// A proto budget status.
pub fn budget_status(s: &BudgetStatus) -> pb::BudgetStatus {
    pb::BudgetStatus {
        institution_code: s.institution.to_string(),
        year: s.year,
        month: s.month,
        annual_budget_fen: s.annual_budget.0,
        spent_in_month_fen: s.spent_in_month.0,
        spent_to_date_fen: s.spent_to_date.0,
        spend_progress_bp: s.spend_progress_bp,
        time_progress_bp: s.time_progress_bp,
        over_pace_bp: s.over_pace_bp,
        level: level(s.level),
        payment_held: s.payment_held,
    }
}

/// A proto warning.
pub fn warning(w: &BudgetWarning) -> pb::BudgetWarning {
    let (hy, hm) = w.hold_payment_of.unwrap_or((0, 0));
    pb::BudgetWarning {
        level: level(Some(w.level)),
        status: Some(budget_status(&w.status)),
        hold_year: hy,
        hold_month: hm,
    }
}

/// Proto number of a balance band.
pub fn balance_status(b: FundBalanceStatus) -> i32 {
    (match b {
        FundBalanceStatus::Insufficient => pb::FundBalanceStatus::Insufficient,
        FundBalanceStatus::Low => pb::FundBalanceStatus::Low,
        FundBalanceStatus::Reasonable => pb::FundBalanceStatus::Reasonable,
        FundBalanceStatus::High => pb::FundBalanceStatus::High,
        FundBalanceStatus::Excessive => pb::FundBalanceStatus::Excessive,
        FundBalanceStatus::Unknown => pb::FundBalanceStatus::Unknown,
    }) as i32
}

/// A proto budget policy.
pub fn budget_policy(p: &crate::domain::BudgetPolicy) -> pb::BudgetPolicy {
    pb::BudgetPolicy {
        region_code: p.region.to_string(),
        yellow_over_pace_bp: p.yellow_over_pace.0,
        orange_over_pace_bp: p.orange_over_pace.0,
        red_over_pace_bp: p.red_over_pace.0,
        hold_on_red: p.hold_on_red,
        insufficient_below_months: p.insufficient_below_months,
        reasonable_from_months: p.reasonable_from_months,
        reasonable_to_months: p.reasonable_to_months,
        excessive_above_months: p.excessive_above_months,
    }
}

/// A proto draw.
pub fn draw(d: &InspectionDraw) -> pb::InspectionDraw {
    pb::InspectionDraw {
        draw_id: d.draw_id.clone(),
        region_code: d.region.to_string(),
        seed: d.seed,
        algorithm: d.algorithm.clone(),
        drawn_at: rfc3339(d.drawn_at),
        institution_pool: d.institution_pool.iter().map(|i| i.to_string()).collect(),
        inspector_pool: d.inspector_pool.clone(),
        conflicts: d
            .conflicts
            .iter()
            .map(|(who, inst)| pb::Conflict {
                inspector_id: who.clone(),
                institution_code: inst.to_string(),
            })
            .collect(),
        excluded_inspectors: d.excluded_inspectors.clone(),
        institution_codes: d.institutions.iter().map(|i| i.to_string()).collect(),
        inspector_ids: d.inspectors.clone(),
    }
}
