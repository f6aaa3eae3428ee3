//! Cases and rewards, credit and the blacklist, budgets and warnings.

use super::*;
use yibao_core::Bp;

fn confirmed(id: &str, institution: &str, amount: Fen) -> Finding {
    let mut d = Detector::new(rules()).unwrap();
    let mut e = stay(
        id,
        &format!("pk-{id}"),
        institution,
        day(3, 1),
        day(3, 20),
        "S72.000",
        amount,
    );
    e.total = Fen(amount.0 + Fen::yuan(10_000).0);
    d.observe(&SupervisionEvent::Claim(e)).unwrap().remove(0)
}

fn tip(reporter: &str) -> Tip {
    Tip {
        tip_id: "TIP-1".into(),
        received_at: utc(5, 1, 9),
        whistleblower_ref: reporter.into(),
        institution: Some(inst(H1)),
        description: "a village doctor buys drugs with poor households' cards".into(),
    }
}

#[test]
fn a_case_from_findings_sums_their_amounts_and_records_recoveries() {
    let f1 = confirmed("A", H1, Fen::yuan(1_000));
    let f2 = confirmed("B", H1, Fen::yuan(2_500));
    let mut case = Case::open_from_findings(
        "CASE-1",
        region("341522"),
        &[f1, f2],
        ("auditor-1", "auditor"),
        utc(5, 1, 9),
    )
    .unwrap();
    assert_eq!(case.amount_suspected, Fen::yuan(3_500));
    assert_eq!(case.institution, Some(inst(H1)));
    assert_eq!(
        case.record_recovery(
            Fen(1_902_108),
            ("auditor-1", "auditor"),
            utc(5, 2, 9),
            "bank receipt 1"
        )
        .unwrap(),
        Fen(1_902_108)
    );
    assert_eq!(case.recovered(), Fen(1_902_108));
    assert!(!case.earns_reward());
    assert_eq!(case.reward_due(&RewardPolicy::default()), Fen::ZERO);
    case.close(utc(5, 3, 9)).unwrap();
    assert_eq!(
        case.record_recovery(Fen(1), ("auditor-1", "auditor"), utc(5, 4, 9), ""),
        Err(CaseError::Closed("CASE-1".into()))
    );
}

#[test]
fn a_case_needs_findings_of_one_institution() {
    let r = region("341522");
    assert_eq!(
        Case::open_from_findings("C", r.clone(), &[], ("a", "operator"), utc(5, 1, 9)),
        Err(CaseError::NoFindings)
    );
    let mixed = [
        confirmed("A", H1, Fen::yuan(1)),
        confirmed("B", H2, Fen::yuan(1)),
    ];
    assert_eq!(
        Case::open_from_findings("C", r, &mixed, ("a", "operator"), utc(5, 1, 9)),
        Err(CaseError::MixedInstitutions(inst(H1), inst(H2)))
    );
}

#[test]
fn a_whistle_blower_earns_the_rate_of_the_recovered_funds_between_floor_and_cap() {
    let policy = RewardPolicy {
        rate: Bp(500),
        floor: Fen::yuan(200),
        cap: Fen::yuan(200_000),
    };
    let mut case = Case::open_from_tip(
        "CASE-2",
        region("341522"),
        tip("contact-77"),
        ("auditor-1", "auditor"),
        utc(5, 1, 9),
    );
    assert_eq!(
        case.reward_due(&policy),
        Fen::ZERO,
        "nothing recovered, nothing due"
    );
    case.record_recovery(Fen(1_902_108), ("auditor-1", "auditor"), utc(5, 2, 9), "")
        .unwrap();
    assert_eq!(case.reward_due(&policy), Fen(95_105)); // 19,021.08 × 5% = 951.054 → 951.05
    case.record_recovery(
        Fen::yuan(105_290),
        ("auditor-1", "auditor"),
        utc(5, 3, 9),
        "",
    )
    .unwrap();
    assert_eq!(case.reward_due(&policy), Fen(621_555)); // (19,021.08 + 105,290) × 5% = 6,215.554
    assert_eq!(policy.reward_for(Fen::yuan(1_000)), Fen::yuan(200), "floor");
    assert_eq!(
        policy.reward_for(Fen::yuan(10_000_000)),
        Fen::yuan(200_000),
        "cap"
    );
    assert_eq!(
        case.pay_reward(Fen::yuan(6_000), &policy, "finance-1", utc(5, 4, 9))
            .unwrap(),
        Fen(21_555)
    );
    assert_eq!(
        case.pay_reward(Fen(21_556), &policy, "finance-1", utc(5, 5, 9)),
        Err(CaseError::RewardAboveDue {
            amount: Fen(21_556),
            outstanding: Fen(21_555)
        })
    );
    case.close(utc(5, 6, 9)).unwrap();
    assert_eq!(
        case.pay_reward(Fen(21_555), &policy, "finance-1", utc(5, 7, 9))
            .unwrap(),
        Fen::ZERO,
        "paid after closing"
    );
}

#[test]
fn an_anonymous_tip_earns_no_reward() {
    let mut case = Case::open_from_tip(
        "CASE-3",
        region("341522"),
        tip(" "),
        ("auditor-1", "auditor"),
        utc(5, 1, 9),
    );
    case.record_recovery(Fen::yuan(5_000), ("auditor-1", "auditor"), utc(5, 2, 9), "")
        .unwrap();
    assert_eq!(case.reward_due(&RewardPolicy::default()), Fen::ZERO);
    assert_eq!(
        case.pay_reward(Fen(1), &RewardPolicy::default(), "f", utc(5, 3, 9)),
        Err(CaseError::NoReward("CASE-3".into()))
    );
}

#[test]
fn credit_loses_points_by_severity_once_per_violation() {
    let mut credit = CreditRegistry::new(CreditPolicy::default()).unwrap();
    let h = Subject::Institution(inst(H1));
    assert_eq!(credit.score(&h), 100);
    credit.deduct(&h, "F-1", Severity::High, utc(5, 1, 9), "phantom stay");
    credit.deduct(
        &h,
        "F-2",
        Severity::Medium,
        utc(5, 2, 9),
        "split hospitalisation",
    );
    credit.deduct(&h, "F-3", Severity::Low, utc(5, 3, 9), "unexplained change");
    credit.deduct(
        &h,
        "F-3",
        Severity::Low,
        utc(5, 3, 9),
        "same violation again",
    );
    assert_eq!(credit.score(&h), 83);
    assert_eq!(credit.record(&h).unwrap().deductions.len(), 3);
    assert_eq!(credit.may_settle(&inst(H1)), Decision::Settle);
    let doctor = Subject::Physician(PhysicianCode::parse("D341522000101").unwrap());
    credit.deduct(
        &doctor,
        "F-4",
        Severity::High,
        utc(5, 4, 9),
        "village doctor used poor households' IDs",
    );
    assert_eq!(credit.score(&doctor), 90);
    assert_eq!(
        PhysicianCode::parse("X341522000101"),
        Err(CreditError::PhysicianCode)
    );
}

#[test]
fn an_institution_crossing_the_blacklist_threshold_is_a_sanction_and_a_physician_never_is() {
    let mut credit = CreditRegistry::new(CreditPolicy::default()).unwrap();
    let h = Subject::Institution(inst(H1));
    for (n, at) in [(1, 1), (2, 2), (3, 3), (4, 4)] {
        credit.deduct(&h, &format!("F-{n}"), Severity::High, utc(5, at, 9), "");
    }
    // 60: not below the threshold, no sanction.
    assert_eq!(sanction_of(false, credit.record(&h).unwrap()), None);
    credit.deduct(&h, "F-5", Severity::Low, utc(5, 5, 9), "");
    assert_eq!(
        sanction_of(false, credit.record(&h).unwrap()),
        Some(Sanction::Blacklisted)
    );
    // Already blacklisted: a further deduction is no new sanction.
    credit.deduct(&h, "F-6", Severity::Low, utc(5, 6, 9), "");
    assert_eq!(sanction_of(true, credit.record(&h).unwrap()), None);
    // A restoration still below the threshold lifts nothing; one reaching it lifts.
    credit.restore_once(&h, "R-1", 1, utc(6, 1, 9), "").unwrap();
    assert_eq!(credit.score(&h), 57);
    assert_eq!(sanction_of(true, credit.record(&h).unwrap()), None);
    assert_eq!(
        credit
            .restore_once(&h, "R-2", 30, utc(6, 2, 9), "")
            .unwrap(),
        87
    );
    assert_eq!(
        sanction_of(true, credit.record(&h).unwrap()),
        Some(Sanction::Lifted)
    );
    let doctor = Subject::Physician(PhysicianCode::parse("D341522000101").unwrap());
    for n in 1..=5 {
        credit.deduct(&doctor, &format!("F-{n}"), Severity::High, utc(5, 1, 9), "");
    }
    assert!(credit.is_blacklisted(&doctor));
    assert_eq!(sanction_of(false, credit.record(&doctor).unwrap()), None);
}

#[test]
fn a_restoration_under_a_reference_already_recorded_restores_nothing_more() {
    let mut credit = CreditRegistry::new(CreditPolicy::default()).unwrap();
    let h = Subject::Institution(inst(H1));
    credit.deduct(&h, "F-1", Severity::High, utc(5, 1, 9), "");
    credit.deduct(&h, "F-2", Severity::High, utc(5, 2, 9), "");
    assert_eq!(
        credit
            .restore_once(&h, "R-9", 5, utc(6, 1, 9), "a")
            .unwrap(),
        85
    );
    assert_eq!(
        credit
            .restore_once(&h, "R-9", 5, utc(6, 1, 9), "a")
            .unwrap(),
        85
    );
    let history = &credit.record(&h).unwrap().deductions;
    assert_eq!(history.len(), 3);
    assert_eq!(history[2].violation_id, "restore:R-9");
    assert_eq!(history[2].points, -5);
    assert_eq!(
        credit.restore_once(&h, "R-10", 0, utc(6, 1, 9), "a"),
        Err(CreditError::PointsNotPositive)
    );
}

#[test]
fn payments_are_held_below_80_and_refused_on_the_blacklist_below_60() {
    let mut credit = CreditRegistry::new(CreditPolicy::default()).unwrap();
    let code = inst(H2);
    let h = Subject::Institution(code.clone());
    credit.deduct(&h, "F-1", Severity::High, utc(5, 1, 9), "");
    credit.deduct(&h, "F-2", Severity::High, utc(5, 2, 9), "");
    assert_eq!(credit.score(&h), 80);
    assert_eq!(
        credit.may_settle(&code),
        Decision::Settle,
        "80 is not below 80"
    );
    credit.deduct(&h, "F-3", Severity::Medium, utc(5, 3, 9), "");
    assert!(matches!(
        credit.may_settle(&code),
        Decision::Hold { score: 75, .. }
    ));
    credit.deduct(&h, "F-4", Severity::High, utc(5, 4, 9), "");
    credit.deduct(&h, "F-5", Severity::Medium, utc(5, 5, 9), "");
    assert_eq!(credit.score(&h), 60);
    assert!(!credit.is_blacklisted(&h), "60 is not below 60");
    credit.deduct(&h, "F-6", Severity::Low, utc(5, 6, 9), "");
    assert_eq!(credit.score(&h), 58);
    assert!(matches!(
        credit.may_settle(&code),
        Decision::Refuse { score: 58, .. }
    ));
    assert_eq!(
        credit
            .blacklist()
            .iter()
            .map(|r| r.subject.clone())
            .collect::<Vec<_>>(),
        [h.clone()]
    );
    assert_eq!(
        credit.record(&h).unwrap().blacklisted_since,
        Some(utc(5, 6, 9))
    );
    // Remediation lifts the blacklist once back at the threshold; the hold remains.
    assert_eq!(
        credit.restore(&h, 2, utc(6, 1, 9), "rectified").unwrap(),
        60
    );
    assert!(credit.blacklist().is_empty());
    assert!(matches!(
        credit.may_settle(&code),
        Decision::Hold { score: 60, .. }
    ));
    assert_eq!(
        CreditRegistry::new(CreditPolicy {
            hold_below: 50,
            ..CreditPolicy::default()
        }),
        Err(CreditError::Policy(
            "blacklist_below ≤ hold_below ≤ initial is required"
        ))
    );
}

fn ledger() -> BudgetLedger {
    let mut l = BudgetLedger::new(vec![BudgetPolicy::default_for(region("341522"))]).unwrap();
    l.set_budget(inst(H1), 2018, Fen::yuan(1_200_000)).unwrap();
    l
}

fn spend(l: &mut BudgetLedger, id: &str, institution: &str, month: u32, fund: Fen) {
    let mut e = visit(
        id,
        "pk-budget",
        ClaimKind::Outpatient,
        institution,
        day(month, 10),
        fund,
    );
    e.event_id = format!("ev-budget-{id}");
    assert!(l.record_claim(&e));
}

#[test]
fn warnings_start_exactly_at_10_20_and_30_points_over_the_balanced_pace() {
    // Budget 1.2M yuan; at the end of June the pace is 50% (600,000 yuan).
    let cases = [
        (Fen(71_999_999), None),                          // 59.999…%: +9.99 pp
        (Fen::yuan(720_000), Some(WarningLevel::Yellow)), // 60%: +10 pp exactly
        (Fen(83_999_999), Some(WarningLevel::Yellow)),
        (Fen::yuan(840_000), Some(WarningLevel::Orange)), // +20 pp
        (Fen::yuan(960_000), Some(WarningLevel::Red)),    // +30 pp
    ];
    for (spent, level) in cases {
        let mut l = ledger();
        spend(&mut l, "J", H1, 6, spent);
        let status = l.status(&inst(H1), 2018, 6).unwrap();
        assert_eq!(status.level, level, "spent {spent}");
        assert_eq!(status.time_progress_bp, 5_000);
    }
}

#[test]
fn a_red_warning_holds_next_months_payment_and_the_summary_reports_it() {
    let mut l = ledger();
    l.set_budget(inst(H2), 2018, Fen::yuan(600_000)).unwrap();
    for m in 1..=3 {
        spend(&mut l, &format!("H1-{m}"), H1, m, Fen::yuan(130_000)); // 390,000 of 1.2M at 25% pace: +7.5 pp
        spend(&mut l, &format!("H2-{m}"), H2, m, Fen::yuan(85_000)); // 255,000 of 600,000: +17.5 pp
    }
    spend(&mut l, "H2-3b", H2, 3, Fen::yuan(90_000)); // 345,000: 57.5% − 25% = +32.5 pp
    let warnings = l.evaluate_month(2018, 3).unwrap();
    assert_eq!(warnings.len(), 1);
    let w = &warnings[0];
    assert_eq!(
        (w.level, w.hold_payment_of),
        (WarningLevel::Red, Some((2018, 4)))
    );
    assert_eq!(w.status.spent_to_date, Fen::yuan(345_000));
    assert_eq!(
        (w.status.spend_progress_bp, w.status.over_pace_bp),
        (5_750, 3_250)
    );
    assert!(l.payment_held(&inst(H2), 2018, 4));
    assert!(!l.payment_held(&inst(H1), 2018, 4));
    assert!(l.status(&inst(H2), 2018, 4).unwrap().payment_held);

    // A reversal of the last payment brings H2 back to +17.5 pp: re-evaluation lifts the hold.
    let mut rev = visit(
        "H2-3b",
        "pk-budget",
        ClaimKind::Outpatient,
        H2,
        day(3, 10),
        Fen::yuan(90_000),
    );
    rev.event_id = "ev-budget-H2-3b-reversal".into();
    rev.action = ClaimAction::Reversed;
    assert!(l.record_claim(&rev));
    assert!(!l.record_claim(&rev), "idempotent by event id");
    let again = l.evaluate_month(2018, 3).unwrap();
    assert_eq!(
        again.iter().map(|w| w.level).collect::<Vec<_>>(),
        [WarningLevel::Yellow]
    );
    assert!(!l.payment_held(&inst(H2), 2018, 4));

    // Fund summary of the county: opening 2M, income 300,000 a month.
    l.set_opening_balance(region("341522"), 2018, Fen::yuan(2_000_000));
    for m in 1..=3 {
        l.record_income(region("341522"), 2018, m, Fen::yuan(300_000))
            .unwrap();
    }
    let s = l.fund_summary(&region("341522"), 2018, 3).unwrap();
    assert_eq!(s.income, Fen::yuan(300_000));
    assert_eq!(s.spending, Fen::yuan(215_000));
    assert_eq!(s.balance, Fen::yuan(2_255_000)); // 2,000,000 + 900,000 − 645,000
    assert_eq!(s.months_payable_hundredths, Some(1_048)); // 2,255,000 / (645,000 / 3) = 10.488…
    assert_eq!(s.balance_status, FundBalanceStatus::High);
    assert_eq!(s.warnings.len(), 1);
}

#[test]
fn budgets_refuse_bad_months_amounts_and_policies() {
    let mut l = ledger();
    assert_eq!(l.status(&inst(H1), 2018, 13), Err(BudgetError::Month(13)));
    assert_eq!(
        l.set_budget(inst(H2), 2018, Fen::ZERO),
        Err(BudgetError::AmountNotPositive)
    );
    assert_eq!(
        l.set_budget(inst(LUAN), 2018, Fen::yuan(1)),
        Err(BudgetError::NoPolicy(inst(LUAN)))
    );
    assert_eq!(
        l.status(&inst(H2), 2018, 1),
        Err(BudgetError::NotSet(inst(H2), 2018))
    );
    let bad = BudgetPolicy {
        orange_over_pace: Bp(500),
        ..BudgetPolicy::default_for(region("341522"))
    };
    assert!(matches!(
        BudgetLedger::new(vec![bad]),
        Err(BudgetError::Policy(_))
    ));
}
