//! The review workflow and the verification of large receipts.

use super::*;

fn finding(amount: Fen) -> Finding {
    let mut d = Detector::new(rules()).unwrap();
    d.observe(&SupervisionEvent::Claim(stay(
        "S1",
        "pk-r",
        H1,
        day(3, 1),
        day(3, 8),
        "J18.900",
        Fen::yuan(4_000),
    )))
    .unwrap();
    let mut f = d
        .observe(&SupervisionEvent::Claim(stay(
            "S2",
            "pk-r",
            H1,
            day(3, 12),
            day(3, 20),
            "J18.900",
            amount,
        )))
        .unwrap();
    f.remove(0)
}

fn by(role: ReviewRole, h: u32) -> Actor {
    Actor {
        actor: format!("{role}-1"),
        role,
        at: utc(4, 1, h),
        note: format!("note by {role}"),
    }
}

fn open() -> Review {
    Review::open(&finding(Fen::yuan(3_000)), utc(4, 1, 0), utc(4, 1, 12))
}

#[test]
fn automatic_review_feedback_review_and_final_decision_confirm_the_amount() {
    let mut r = open();
    assert_eq!(r.state, ReviewState::AwaitingFeedback);
    r.submit_feedback(by(ReviewRole::Institution, 2), FeedbackKind::Explain)
        .unwrap();
    r.review(
        by(ReviewRole::Reviewer, 3),
        ReviewOutcome::Uphold {
            amount: Fen::yuan(2_000),
        },
    )
    .unwrap();
    let state = *r
        .decide(
            by(ReviewRole::FinalReviewer, 4),
            ReviewOutcome::Uphold {
                amount: Fen::yuan(2_000),
            },
        )
        .unwrap();
    assert_eq!(
        state,
        ReviewState::Confirmed {
            amount_to_recover: Fen::yuan(2_000)
        }
    );
    let trail: Vec<(&str, ReviewRole, DateTime<Utc>)> = r
        .steps
        .iter()
        .map(|s| (s.action.as_str(), s.role, s.at))
        .collect();
    assert_eq!(
        trail,
        [
            ("automatic_review", ReviewRole::System, utc(4, 1, 0)),
            ("submit_feedback", ReviewRole::Institution, utc(4, 1, 2)),
            ("review", ReviewRole::Reviewer, utc(4, 1, 3)),
            ("decide", ReviewRole::FinalReviewer, utc(4, 1, 4)),
        ]
    );
    assert_eq!(r.steps[2].actor, "reviewer-1");
    assert!(r.state.is_final());
}

#[test]
fn an_appeal_goes_to_the_third_party_whose_conclusion_binds_the_final_decision() {
    let mut r = open();
    r.submit_feedback(by(ReviewRole::Institution, 1), FeedbackKind::Appeal)
        .unwrap();
    r.review(
        by(ReviewRole::Reviewer, 2),
        ReviewOutcome::Uphold {
            amount: Fen::yuan(3_000),
        },
    )
    .unwrap();
    r.request_third_party(by(ReviewRole::Institution, 3))
        .unwrap();
    assert_eq!(r.state, ReviewState::ThirdPartyPending);
    r.third_party_review(
        by(ReviewRole::ThirdParty, 4),
        ReviewOutcome::Uphold {
            amount: Fen::yuan(1_200),
        },
    )
    .unwrap();
    assert_eq!(
        r.decide(
            by(ReviewRole::FinalReviewer, 5),
            ReviewOutcome::Uphold {
                amount: Fen::yuan(3_000)
            }
        ),
        Err(ReviewError::BoundByThirdParty)
    );
    r.decide(
        by(ReviewRole::FinalReviewer, 5),
        ReviewOutcome::Uphold {
            amount: Fen::yuan(1_200),
        },
    )
    .unwrap();
    assert_eq!(
        r.state,
        ReviewState::Confirmed {
            amount_to_recover: Fen::yuan(1_200)
        }
    );
    assert_eq!(
        r.reviewer_outcome,
        Some(ReviewOutcome::Uphold {
            amount: Fen::yuan(3_000)
        })
    );
    assert_eq!(
        r.third_party_outcome,
        Some(ReviewOutcome::Uphold {
            amount: Fen::yuan(1_200)
        })
    );
}

#[test]
fn a_third_party_dismissal_cannot_be_overturned_into_a_recovery() {
    let mut r = open();
    r.submit_feedback(by(ReviewRole::Institution, 1), FeedbackKind::Explain)
        .unwrap();
    r.review(
        by(ReviewRole::Reviewer, 2),
        ReviewOutcome::Uphold {
            amount: Fen::yuan(500),
        },
    )
    .unwrap();
    r.request_third_party(by(ReviewRole::Reviewer, 3)).unwrap();
    r.third_party_review(by(ReviewRole::ThirdParty, 4), ReviewOutcome::Dismiss)
        .unwrap();
    assert_eq!(
        r.decide(
            by(ReviewRole::FinalReviewer, 5),
            ReviewOutcome::Uphold {
                amount: Fen::yuan(1)
            }
        ),
        Err(ReviewError::BoundByThirdParty)
    );
    assert_eq!(
        *r.decide(by(ReviewRole::FinalReviewer, 5), ReviewOutcome::Dismiss)
            .unwrap(),
        ReviewState::Dismissed
    );
}

#[test]
fn illegal_transitions_name_the_current_state() {
    let mut r = open();
    assert_eq!(
        r.decide(by(ReviewRole::FinalReviewer, 1), ReviewOutcome::Dismiss),
        Err(ReviewError::IllegalTransition {
            action: "decide",
            state: "AWAITING_FEEDBACK"
        })
    );
    assert_eq!(
        r.third_party_review(by(ReviewRole::ThirdParty, 1), ReviewOutcome::Dismiss),
        Err(ReviewError::IllegalTransition {
            action: "record a third-party review",
            state: "AWAITING_FEEDBACK"
        })
    );
    r.submit_feedback(by(ReviewRole::Institution, 1), FeedbackKind::Accept)
        .unwrap();
    let again = r
        .submit_feedback(by(ReviewRole::Institution, 2), FeedbackKind::Appeal)
        .unwrap_err();
    assert_eq!(
        again,
        ReviewError::IllegalTransition {
            action: "submit feedback",
            state: "FEEDBACK_RECEIVED"
        }
    );
    assert_eq!(
        again.to_string(),
        "REVIEW_ILLEGAL_TRANSITION: cannot submit feedback while the review is FEEDBACK_RECEIVED"
    );
    r.review(by(ReviewRole::Reviewer, 2), ReviewOutcome::Dismiss)
        .unwrap();
    // Nothing for the institution to appeal once dismissed.
    assert_eq!(
        r.request_third_party(by(ReviewRole::Institution, 3)),
        Err(ReviewError::IllegalTransition {
            action: "request a third-party review",
            state: "REVIEWED"
        })
    );
    r.decide(by(ReviewRole::FinalReviewer, 3), ReviewOutcome::Dismiss)
        .unwrap();
    assert_eq!(
        r.review(by(ReviewRole::Reviewer, 4), ReviewOutcome::Dismiss),
        Err(ReviewError::IllegalTransition {
            action: "review",
            state: "DISMISSED"
        })
    );
}

#[test]
fn each_step_requires_its_role() {
    let mut r = open();
    assert_eq!(
        r.submit_feedback(by(ReviewRole::Reviewer, 1), FeedbackKind::Accept),
        Err(ReviewError::WrongRole {
            action: "submit feedback",
            role: ReviewRole::Reviewer
        })
    );
    r.submit_feedback(by(ReviewRole::Institution, 1), FeedbackKind::Accept)
        .unwrap();
    assert_eq!(
        r.review(by(ReviewRole::Institution, 2), ReviewOutcome::Dismiss),
        Err(ReviewError::WrongRole {
            action: "review",
            role: ReviewRole::Institution
        })
    );
    r.review(
        by(ReviewRole::Reviewer, 2),
        ReviewOutcome::Uphold {
            amount: Fen::yuan(10),
        },
    )
    .unwrap();
    assert_eq!(
        r.decide(by(ReviewRole::Reviewer, 3), ReviewOutcome::Dismiss),
        Err(ReviewError::WrongRole {
            action: "decide",
            role: ReviewRole::Reviewer
        })
    );
}

#[test]
fn the_reviewer_may_proceed_without_feedback_only_after_the_deadline() {
    let mut r = open();
    assert_eq!(
        r.review(by(ReviewRole::Reviewer, 11), ReviewOutcome::Dismiss),
        Err(ReviewError::FeedbackWindowOpen { due: utc(4, 1, 12) })
    );
    r.review(
        by(ReviewRole::Reviewer, 12),
        ReviewOutcome::Uphold {
            amount: Fen::yuan(3_000),
        },
    )
    .unwrap();
    assert_eq!(
        r.state,
        ReviewState::Reviewed {
            outcome: ReviewOutcome::Uphold {
                amount: Fen::yuan(3_000)
            }
        }
    );
}

#[test]
fn upheld_amounts_must_be_positive_and_within_the_amount_at_risk_and_time_moves_forward() {
    let mut r = open();
    r.submit_feedback(by(ReviewRole::Institution, 5), FeedbackKind::Accept)
        .unwrap();
    assert_eq!(
        r.review(
            by(ReviewRole::Reviewer, 6),
            ReviewOutcome::Uphold {
                amount: Fen(300_001)
            }
        ),
        Err(ReviewError::AmountOutOfRange {
            amount: Fen(300_001),
            max: Fen::yuan(3_000)
        })
    );
    assert!(matches!(
        r.review(
            by(ReviewRole::Reviewer, 6),
            ReviewOutcome::Uphold { amount: Fen::ZERO }
        ),
        Err(ReviewError::AmountOutOfRange { .. })
    ));
    assert_eq!(
        r.review(by(ReviewRole::Reviewer, 4), ReviewOutcome::Dismiss),
        Err(ReviewError::TimeBackwards {
            previous: utc(4, 1, 5),
            at: utc(4, 1, 4)
        })
    );
    assert_eq!(r.steps.len(), 2, "refused steps leave no trace");
}

#[test]
fn a_receipt_over_50000_yuan_needs_a_phone_or_on_site_check_not_just_a_record() {
    let mut d = Detector::new(rules()).unwrap();
    let mut e = stay(
        "BIG",
        "pk-big",
        H1,
        day(3, 1),
        day(3, 25),
        "S72.000",
        Fen::yuan(42_000),
    );
    e.total = Fen::yuan(60_000);
    let f = d.observe(&SupervisionEvent::Claim(e)).unwrap().remove(0);
    let mut task = VerificationTask::from_finding(&f, utc(3, 26, 9)).unwrap();
    assert_eq!(
        (task.claim_id.as_str(), task.kind, task.amount),
        ("BIG", VerificationKind::PhoneOrOnSite, Fen::yuan(42_000))
    );
    assert_eq!(
        task.complete(
            VerificationMethod::CheckRecord,
            VerificationOutcome::Genuine,
            "officer-7",
            utc(3, 27, 9),
            ""
        ),
        Err(ReviewError::MethodInsufficient {
            kind: VerificationKind::PhoneOrOnSite
        })
    );
    let done = task
        .complete(
            VerificationMethod::Phone,
            VerificationOutcome::Genuine,
            "officer-7",
            utc(3, 27, 9),
            "called the family",
        )
        .unwrap()
        .clone();
    assert_eq!(done.method, VerificationMethod::Phone);
    assert_eq!(
        task.complete(
            VerificationMethod::OnSite,
            VerificationOutcome::NotGenuine,
            "officer-7",
            utc(3, 28, 9),
            ""
        ),
        Err(ReviewError::AlreadyCompleted(
            "ev-BIG/LARGE_RECEIPT/1".into()
        ))
    );
}

#[test]
fn a_receipt_over_10000_yuan_is_satisfied_by_a_check_record_and_other_findings_need_no_task() {
    let mut d = Detector::new(rules()).unwrap();
    let mut e = stay(
        "MID",
        "pk-mid",
        H1,
        day(3, 1),
        day(3, 12),
        "S72.000",
        Fen::yuan(9_000),
    );
    e.total = Fen::yuan(12_000);
    let f = d.observe(&SupervisionEvent::Claim(e)).unwrap().remove(0);
    let mut task = VerificationTask::from_finding(&f, utc(3, 13, 9)).unwrap();
    assert_eq!(task.kind, VerificationKind::CheckRecord);
    task.complete(
        VerificationMethod::CheckRecord,
        VerificationOutcome::Genuine,
        "officer-2",
        utc(3, 13, 10),
        "",
    )
    .unwrap();
    assert_eq!(
        VerificationTask::from_finding(&finding(Fen::yuan(1)), utc(3, 13, 9)),
        None
    );
}
