//! The rule library on planted patterns.

use super::*;
use proptest::prelude::*;

fn only(findings: &[Finding], rule: RuleCode) -> Vec<&Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

fn ids(f: &Finding) -> Vec<&str> {
    f.evidence.claim_ids.iter().map(String::as_str).collect()
}

#[test]
fn clean_stream_of_3000_claims_raises_no_finding() {
    let events = clean_stream(3_000);
    assert_eq!(events.len(), 3_000);
    let mut kinds = std::collections::BTreeSet::new();
    for e in &events {
        if let SupervisionEvent::Claim(c) = e {
            kinds.insert(c.kind);
        }
    }
    assert_eq!(kinds.len(), 4, "the stream exercises every kind of claim");
    let mut detector = Detector::new(rules()).unwrap();
    let findings: Vec<Finding> = events
        .iter()
        .flat_map(|e| detector.observe(e).unwrap())
        .collect();
    assert_eq!(findings, Vec::new());
    assert_eq!(detector.events_observed(), 3_000);
}

#[test]
fn generated_stream_is_reproducible_from_its_seed() {
    let a: Vec<_> = SyntheticStream::new(&StreamConfig::huoqiu(7, 100))
        .unwrap()
        .take(500)
        .collect();
    let b: Vec<_> = SyntheticStream::new(&StreamConfig::huoqiu(7, 100))
        .unwrap()
        .take(500)
        .collect();
    assert_eq!(a, b);
    assert!(
        a.windows(2).all(|w| w[0].at() <= w[1].at()),
        "settlement order"
    );
}

#[test]
fn readmission_12_days_after_discharge_same_category_is_split_hospitalisation() {
    let first = stay(
        "S1",
        "pk-split",
        H1,
        day(3, 1),
        day(3, 8),
        "J18.900",
        Fen::yuan(4_000),
    );
    let second = stay(
        "S2",
        "pk-split",
        H1,
        day(3, 20),
        day(3, 27),
        "J18.100",
        Fen::yuan(3_500),
    );
    let findings = run_planted(vec![first, second]);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.rule, RuleCode::SplitHospitalisation);
    assert_eq!(f.finding_id, "ev-S2/SPLIT_HOSPITALISATION/1");
    assert_eq!(f.rule_version, 1);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(ids(f), ["S1", "S2"]);
    assert_eq!(f.evidence.diagnoses, ["J18.900", "J18.100"]);
    assert_eq!(
        f.evidence.dates,
        [day(3, 1), day(3, 8), day(3, 20), day(3, 27)]
    );
    assert_eq!(f.amount_at_risk, Fen::yuan(3_500));
    assert_eq!(f.institution, inst(H1));
    assert_eq!(f.person, Some(pk("pk-split")));
    assert!(f.explanation.contains("12 day(s)"), "{}", f.explanation);
}

#[test]
fn readmission_exactly_15_days_after_is_split_and_16_days_is_not() {
    let at15 = run_planted(vec![
        stay(
            "A1",
            "pk-a",
            H1,
            day(3, 1),
            day(3, 5),
            "I63.900",
            Fen::yuan(1_000),
        ),
        stay(
            "A2",
            "pk-a",
            H1,
            day(3, 20),
            day(3, 22),
            "I63.800",
            Fen::yuan(800),
        ),
    ]);
    assert_eq!(only(&at15, RuleCode::SplitHospitalisation).len(), 1);
    let at16 = run_planted(vec![
        stay(
            "B1",
            "pk-b",
            H1,
            day(3, 1),
            day(3, 5),
            "I63.900",
            Fen::yuan(1_000),
        ),
        stay(
            "B2",
            "pk-b",
            H1,
            day(3, 21),
            day(3, 22),
            "I63.800",
            Fen::yuan(800),
        ),
    ]);
    assert_eq!(at16, Vec::new());
}

#[test]
fn readmission_elsewhere_for_another_category_or_planned_chemotherapy_is_not_split() {
    let findings = run_planted(vec![
        // another institution
        stay(
            "C1",
            "pk-c",
            H1,
            day(3, 1),
            day(3, 5),
            "J18.900",
            Fen::yuan(1_000),
        ),
        stay(
            "C2",
            "pk-c",
            H2,
            day(3, 10),
            day(3, 12),
            "J18.900",
            Fen::yuan(1_000),
        ),
        // another category
        stay(
            "D1",
            "pk-d",
            H1,
            day(3, 1),
            day(3, 5),
            "J18.900",
            Fen::yuan(1_000),
        ),
        stay(
            "D2",
            "pk-d",
            H1,
            day(3, 10),
            day(3, 12),
            "K35.800",
            Fen::yuan(1_000),
        ),
        // planned chemotherapy cycles (Z51.1) are exempt as data
        stay(
            "E1",
            "pk-e",
            H1,
            day(3, 1),
            day(3, 3),
            "Z51.100",
            Fen::yuan(1_000),
        ),
        stay(
            "E2",
            "pk-e",
            H1,
            day(3, 22),
            day(3, 24),
            "Z51.100",
            Fen::yuan(1_000),
        ),
    ]);
    assert_eq!(findings, Vec::new());
}

#[test]
fn split_hospitalisation_is_found_when_the_earlier_stay_arrives_last() {
    let mut later = stay(
        "F2",
        "pk-f",
        H1,
        day(3, 20),
        day(3, 25),
        "J18.900",
        Fen::yuan(2_000),
    );
    later.settled_at = at(3, 25, 9);
    let mut earlier = stay(
        "F1",
        "pk-f",
        H1,
        day(3, 1),
        day(3, 10),
        "J18.900",
        Fen::yuan(3_000),
    );
    earlier.settled_at = at(3, 26, 9); // settled late
    let findings = run_planted(vec![later, earlier]);
    assert_eq!(findings.len(), 1);
    assert_eq!(ids(&findings[0]), ["F1", "F2"]);
    assert_eq!(findings[0].amount_at_risk, Fen::yuan(2_000));
}

#[test]
fn overlapping_stays_at_two_hospitals_put_the_overlapping_nights_at_risk() {
    // A: Mar 1–10 (9 nights) at H1; B: Mar 5–12 (7 nights) at H2; 5 nights (Mar 5–9) overlap.
    let a = stay(
        "O1",
        "pk-o",
        H1,
        day(3, 1),
        day(3, 10),
        "J18.900",
        Fen::yuan(9_000),
    );
    let b = stay(
        "O2",
        "pk-o",
        H2,
        day(3, 5),
        day(3, 12),
        "S72.000",
        Fen::yuan(7_000),
    );
    let findings = run_planted(vec![a, b]);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.rule, RuleCode::OverlappingStay);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(ids(f), ["O1", "O2"]);
    assert_eq!(f.evidence.dates, [day(3, 5), day(3, 10)]);
    assert_eq!(f.institution, inst(H2));
    assert_eq!(f.amount_at_risk, Fen::yuan(5_000)); // 7,000 × 5/7
}

#[test]
fn pharmacy_purchase_during_a_stay_is_a_phantom_stay_of_the_hospital() {
    // Stay Mar 1–11 (10 nights), 5,000 yuan; the patient buys drugs at a pharmacy on Mar 5.
    let s = stay(
        "G1",
        "pk-g",
        H1,
        day(3, 1),
        day(3, 11),
        "J18.900",
        Fen::yuan(5_000),
    );
    let p = visit(
        "G2",
        "pk-g",
        ClaimKind::Pharmacy,
        P1,
        day(3, 5),
        Fen::yuan(80),
    );
    let findings = run_planted(vec![p, s]); // the pharmacy claim settles first
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.rule, RuleCode::OverlappingStay);
    assert_eq!(f.institution, inst(H1));
    assert_eq!(ids(f), ["G1", "G2"]);
    assert_eq!(f.evidence.dates, [day(3, 1), day(3, 5), day(3, 11)]);
    assert_eq!(f.amount_at_risk, Fen::yuan(500)); // one night of ten
    assert!(f.explanation.contains("挂床"));
}

#[test]
fn outpatient_visit_after_a_settled_stay_is_found_and_a_second_visit_the_same_day_adds_no_amount() {
    let s = stay(
        "G3",
        "pk-g2",
        H1,
        day(3, 1),
        day(3, 11),
        "J18.900",
        Fen::yuan(5_000),
    );
    let mut v1 = visit(
        "G4",
        "pk-g2",
        ClaimKind::Outpatient,
        H2,
        day(3, 7),
        Fen::yuan(60),
    );
    v1.settled_at = at(3, 12, 9);
    let mut v2 = visit(
        "G5",
        "pk-g2",
        ClaimKind::Pharmacy,
        P1,
        day(3, 7),
        Fen::yuan(40),
    );
    v2.settled_at = at(3, 12, 11);
    let findings = run_planted(vec![s, v1, v2]);
    let amounts: Vec<Fen> = findings.iter().map(|f| f.amount_at_risk).collect();
    assert_eq!(amounts, [Fen::yuan(500), Fen::ZERO]);
    assert_eq!(ids(&findings[1]), ["G3", "G5"]);
}

#[test]
fn visits_on_the_admission_or_discharge_day_or_at_the_same_hospital_are_not_evidence() {
    let findings = run_planted(vec![
        visit(
            "H0",
            "pk-h",
            ClaimKind::Outpatient,
            H2,
            day(3, 1),
            Fen::yuan(50),
        ),
        visit(
            "H2",
            "pk-h",
            ClaimKind::Pharmacy,
            P1,
            day(3, 11),
            Fen::yuan(50),
        ),
        visit(
            "H3",
            "pk-h",
            ClaimKind::Outpatient,
            H1,
            day(3, 5),
            Fen::yuan(50),
        ),
        stay(
            "H1",
            "pk-h",
            H1,
            day(3, 1),
            day(3, 11),
            "J18.900",
            Fen::yuan(5_000),
        ),
    ]);
    assert_eq!(findings, Vec::new());
}

#[test]
fn long_term_care_billed_during_a_stay_is_found_prorated() {
    let care = SupervisionEvent::Ltc(LtcEvent {
        event_id: "ev-L1".into(),
        claim_id: "L1".into(),
        settled_at: at(4, 2, 10),
        person: pk("pk-ltc"),
        home_region: region("341522"),
        institution: inst("H34152200009"),
        period_start: day(3, 1),
        period_end: day(3, 31),
        amount: Fen::yuan(3_500),
        fund_paid: Fen::yuan(3_100),
        enrolment_end: None,
        death_date: None,
    });
    let s = SupervisionEvent::Claim(stay(
        "L2",
        "pk-ltc",
        H1,
        day(3, 10),
        day(3, 15),
        "J18.900",
        Fen::yuan(2_000),
    ));
    let findings = run_events(vec![s, care]);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.rule, RuleCode::OverlappingStay);
    assert_eq!(f.institution, inst("H34152200009"));
    assert_eq!(ids(f), ["L2", "L1"]);
    assert_eq!(f.evidence.dates, [day(3, 11), day(3, 14)]);
    assert_eq!(f.amount_at_risk, Fen::yuan(400)); // 3,100 × 4/31
}

#[test]
fn care_after_death_is_found_whole_for_a_visit_and_prorated_for_a_stay() {
    let mut dead = visit(
        "X1",
        "pk-dead",
        ClaimKind::Pharmacy,
        P1,
        day(4, 3),
        Fen::yuan(120),
    );
    dead.death_date = Some(day(4, 2));
    // Another person's death is learned from an earlier claim (a visit on the admission day,
    // settled late) and applies to a stay of 4 nights, 2 of them after death.
    let mut before = visit(
        "X0",
        "pk-dead2",
        ClaimKind::Outpatient,
        H2,
        day(4, 1),
        Fen::yuan(30),
    );
    before.settled_at = at(4, 4, 9);
    before.death_date = Some(day(4, 2));
    let s = stay(
        "X2",
        "pk-dead2",
        H1,
        day(4, 1),
        day(4, 5),
        "J18.900",
        Fen(333_333),
    );
    let findings = run_planted(vec![dead, before, s]);
    let got: Vec<(RuleCode, Vec<&str>, Fen)> = findings
        .iter()
        .map(|f| (f.rule, ids(f), f.amount_at_risk))
        .collect();
    assert_eq!(
        got,
        [
            (RuleCode::ServiceAfterDeath, vec!["X1"], Fen::yuan(120)),
            (RuleCode::ServiceAfterDeath, vec!["X2"], Fen(166_667)), // 3,333.33 × 2/4, half-up
        ]
    );
    assert_eq!(
        findings[0].evidence.dates,
        [day(4, 2), day(4, 3), day(4, 3)]
    );
}

#[test]
fn dying_in_hospital_on_the_discharge_day_is_not_care_after_death() {
    let mut s = stay(
        "X3",
        "pk-dead2",
        H1,
        day(4, 1),
        day(4, 5),
        "I63.900",
        Fen::yuan(3_000),
    );
    s.death_date = Some(day(4, 5));
    assert_eq!(run_planted(vec![s]), Vec::new());
}

#[test]
fn claims_after_the_enrolment_end_are_found_and_on_the_last_day_are_not() {
    let mut on_last_day = visit(
        "Y1",
        "pk-left",
        ClaimKind::Outpatient,
        H1,
        day(6, 30),
        Fen::yuan(90),
    );
    on_last_day.enrolment_end = Some(day(6, 30));
    let mut after = visit(
        "Y2",
        "pk-left",
        ClaimKind::Outpatient,
        H1,
        day(7, 1),
        Fen::yuan(95),
    );
    after.enrolment_end = Some(day(6, 30));
    let findings = run_planted(vec![on_last_day, after]);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, RuleCode::ServiceOutsideEnrolment);
    assert_eq!(ids(&findings[0]), ["Y2"]);
    assert_eq!(findings[0].amount_at_risk, Fen::yuan(95));
}

#[test]
fn long_term_care_after_death_is_prorated_over_care_days() {
    let care = SupervisionEvent::Ltc(LtcEvent {
        event_id: "ev-L9".into(),
        claim_id: "L9".into(),
        settled_at: at(5, 2, 10),
        person: pk("pk-ltc-dead"),
        home_region: region("341522"),
        institution: inst("H34152200009"),
        period_start: day(4, 1),
        period_end: day(4, 30),
        amount: Fen::yuan(3_450),
        fund_paid: Fen::yuan(3_000),
        enrolment_end: None,
        death_date: Some(day(4, 20)),
    });
    let findings = run_events(vec![care]);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, RuleCode::ServiceAfterDeath);
    assert_eq!(findings[0].amount_at_risk, Fen::yuan(1_000)); // 10 of 30 days
}

#[test]
fn chronic_prescriptions_over_90_days_in_90_days_put_the_excess_days_at_risk() {
    let drug = "XC08CAA059A001010101445";
    let mut c1 = visit(
        "R1",
        "pk-rx",
        ClaimKind::Chronic,
        H1,
        day(3, 1),
        Fen::yuan(150),
    );
    c1.chronic_disease = Some("M03900".into());
    c1.items = vec![item(drug, 60, Fen(333), 60)];
    let mut c2 = visit(
        "R2",
        "pk-rx",
        ClaimKind::Chronic,
        H2,
        day(4, 10),
        Fen::yuan(150),
    );
    c2.chronic_disease = Some("M03900".into());
    c2.items = vec![item(drug, 60, Fen(333), 60)];
    let findings = run_planted(vec![c1, c2]);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.rule, RuleCode::OverPrescription);
    assert_eq!(ids(f), ["R1", "R2"]);
    assert_eq!(f.evidence.item_codes, [drug]);
    assert_eq!(f.evidence.dates, [day(3, 1), day(4, 10)]);
    assert_eq!(f.amount_at_risk, Fen(9_990)); // 199.80 × 30/60
    assert!(f.explanation.contains("120 days"), "{}", f.explanation);
}

#[test]
fn ordinary_prescriptions_over_7_days_in_7_days_are_over_prescription() {
    let drug = "XJ01CAA040A001010101445";
    let mut p1 = visit(
        "R3",
        "pk-rx2",
        ClaimKind::Pharmacy,
        P1,
        day(3, 1),
        Fen::yuan(20),
    );
    p1.items = vec![item(drug, 5, Fen(400), 5)];
    let mut p2 = visit(
        "R4",
        "pk-rx2",
        ClaimKind::Pharmacy,
        "P34152200002",
        day(3, 4),
        Fen::yuan(20),
    );
    p2.items = vec![item(drug, 5, Fen(400), 5)];
    // a third purchase 7 days after the first is clean again (window Mar 5–11 holds only it)
    let mut p3 = visit(
        "R5",
        "pk-rx2",
        ClaimKind::Pharmacy,
        P1,
        day(3, 11),
        Fen::yuan(20),
    );
    p3.items = vec![item(drug, 5, Fen(400), 5)];
    let findings = run_planted(vec![p1, p2, p3]);
    assert_eq!(findings.len(), 1);
    assert_eq!(ids(&findings[0]), ["R3", "R4"]);
    assert_eq!(findings[0].amount_at_risk, Fen(1_200)); // 20.00 × 3/5
}

#[test]
fn a_1_per_day_item_billed_beyond_the_nights_of_a_stay_is_over_frequency() {
    let mut s = stay(
        "Q1",
        "pk-q",
        H1,
        day(3, 1),
        day(3, 6),
        "J18.900",
        Fen::yuan(3_000),
    );
    s.items = vec![
        item("001101000010000", 7, Fen::yuan(50), 0),
        item("001102000010000", 5, Fen::yuan(20), 0),
    ];
    let findings = run_planted(vec![s]);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.rule, RuleCode::OverFrequency);
    assert_eq!(f.evidence.item_codes, ["001101000010000"]);
    assert_eq!(f.amount_at_risk, Fen::yuan(100)); // 2 excess bed-days × 50
}

#[test]
fn the_same_1_per_day_item_billed_twice_on_one_day_is_a_repeated_charge() {
    let mut v1 = visit(
        "Q2",
        "pk-q2",
        ClaimKind::Outpatient,
        H1,
        day(3, 3),
        Fen::yuan(30),
    );
    v1.items = vec![item("001202000010000", 1, Fen::yuan(30), 0)];
    let mut v2 = visit(
        "Q3",
        "pk-q2",
        ClaimKind::Outpatient,
        H1,
        day(3, 3),
        Fen::yuan(30),
    );
    v2.items = vec![item("001202000010000", 1, Fen::yuan(30), 0)];
    v2.settled_at = at(3, 3, 15);
    let findings = run_planted(vec![v1, v2]);
    assert_eq!(findings.len(), 1);
    assert_eq!(ids(&findings[0]), ["Q2", "Q3"]);
    assert_eq!(findings[0].amount_at_risk, Fen::yuan(30));
}

#[test]
fn items_for_the_other_sex_or_another_age_band_are_found_with_their_amounts() {
    let mut woman = visit(
        "K1",
        "pk-woman",
        ClaimKind::Outpatient,
        H1,
        day(3, 2),
        Fen::yuan(300),
    );
    woman.sex = Sex::Female;
    woman.items = vec![
        item("002101030290000", 1, Fen::yuan(260), 0),
        item("002503010010000", 1, Fen::yuan(25), 0),
    ];
    let mut adult = visit(
        "K2",
        "pk-adult",
        ClaimKind::Outpatient,
        H1,
        day(3, 2),
        Fen::yuan(80),
    );
    adult.items = vec![item("001302000010000", 2, Fen::yuan(35), 0)];
    let mut child = visit(
        "K3",
        "pk-child",
        ClaimKind::Outpatient,
        H1,
        day(3, 2),
        Fen::yuan(80),
    );
    child.birth_date = NaiveDate::from_ymd_opt(2011, 3, 2).unwrap();
    child.items = vec![item("001302000010000", 2, Fen::yuan(35), 0)];
    let findings = run_planted(vec![woman, adult, child]);
    let got: Vec<(RuleCode, Vec<&str>, Vec<String>, Fen)> = findings
        .iter()
        .map(|f| {
            (
                f.rule,
                ids(f),
                f.evidence.item_codes.clone(),
                f.amount_at_risk,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                RuleCode::SexLimit,
                vec!["K1"],
                vec!["002101030290000".to_string()],
                Fen::yuan(260)
            ),
            (
                RuleCode::AgeLimit,
                vec!["K2"],
                vec!["001302000010000".to_string()],
                Fen::yuan(70)
            ),
        ]
    );
}

#[test]
fn receipts_over_10000_yuan_need_a_check_record_and_over_50000_a_phone_or_on_site_check() {
    let r = |id: &str, total: Fen| {
        let mut e = stay(
            id,
            &format!("pk-{id}"),
            H1,
            day(3, 1),
            day(3, 20),
            "S72.000",
            Fen(total.0 * 7 / 10),
        );
        e.total = total;
        e
    };
    let findings = run_planted(vec![
        r("T1", Fen::yuan(10_000)),
        r("T2", Fen(1_000_001)),
        r("T3", Fen::yuan(50_000)),
        r("T4", Fen(5_000_001)),
    ]);
    let got: Vec<(Vec<&str>, Option<VerificationKind>, Fen)> = findings
        .iter()
        .map(|f| (ids(f), f.verification, f.amount_at_risk))
        .collect();
    assert_eq!(
        got,
        [
            (
                vec!["T2"],
                Some(VerificationKind::CheckRecord),
                Fen(700_000)
            ),
            (
                vec!["T3"],
                Some(VerificationKind::CheckRecord),
                Fen(3_500_000)
            ),
            (
                vec!["T4"],
                Some(VerificationKind::PhoneOrOnSite),
                Fen(3_500_000)
            ),
        ]
    );
    assert!(
        findings
            .iter()
            .all(|f| f.rule == RuleCode::LargeReceipt && f.severity == Severity::Low)
    );
}

#[test]
fn a_changed_chronic_disease_must_be_explained() {
    let mut c1 = visit(
        "M1",
        "pk-chronic",
        ClaimKind::Chronic,
        H1,
        day(3, 1),
        Fen::yuan(200),
    );
    c1.chronic_disease = Some("M03900".into());
    let mut c2 = visit(
        "M2",
        "pk-chronic",
        ClaimKind::Chronic,
        H1,
        day(4, 1),
        Fen::yuan(260),
    );
    c2.chronic_disease = Some("M03900".into());
    let mut c3 = visit(
        "M3",
        "pk-chronic",
        ClaimKind::Chronic,
        H1,
        day(5, 1),
        Fen::yuan(410),
    );
    c3.chronic_disease = Some("M01600".into());
    let findings = run_planted(vec![c1, c2, c3]);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.rule, RuleCode::ChronicDiagnosisChange);
    assert_eq!(ids(f), ["M2", "M3"]);
    assert_eq!(f.evidence.diagnoses, ["M03900", "M01600"]);
    assert_eq!(f.evidence.dates, [day(4, 1), day(5, 1)]);
    assert_eq!(f.amount_at_risk, Fen::yuan(410));
}

fn far_visit(n: u32, at_: NaiveDateTime) -> ClaimEvent {
    // Huoqiu (341522) poor households' identities used at a Lu'an city hospital (341502).
    let mut e = visit(
        &format!("V{n}"),
        &format!("pk-village-{n}"),
        ClaimKind::Outpatient,
        LUAN,
        at_.date(),
        Fen::yuan(100 + i64::from(n)),
    );
    e.settled_at = at_;
    e
}

#[test]
fn five_villagers_billed_far_from_home_within_48_hours_are_an_identity_cluster() {
    let events: Vec<ClaimEvent> = (1..=6)
        .map(|n| far_visit(n, at(6, 1, 9) + chrono::Duration::hours(i64::from(n) * 9)))
        .collect();
    let findings = run_planted(events);
    assert_eq!(findings.len(), 1, "one finding per cluster episode");
    let f = &findings[0];
    assert_eq!(f.rule, RuleCode::IdentityCluster);
    assert_eq!(f.event_id, "ev-V5");
    assert_eq!(f.institution, inst(LUAN));
    assert_eq!(f.person, None);
    assert_eq!(ids(f), ["V1", "V2", "V3", "V4", "V5"]);
    assert_eq!(
        f.evidence.persons,
        (1..=5)
            .map(|n| pk(&format!("pk-village-{n}")))
            .collect::<Vec<_>>()
    );
    assert_eq!(f.amount_at_risk, Fen::yuan(515)); // 101 + 102 + 103 + 104 + 105
}

#[test]
fn four_villagers_or_five_spread_over_more_than_48_hours_are_not_a_cluster() {
    let four: Vec<ClaimEvent> = (1..=4)
        .map(|n| far_visit(n, at(6, 1, 9) + chrono::Duration::hours(i64::from(n))))
        .collect();
    assert_eq!(run_planted(four), Vec::new());
    let spread: Vec<ClaimEvent> = (1..=5)
        .map(|n| far_visit(n, at(6, 1, 9) + chrono::Duration::hours(i64::from(n) * 13)))
        .collect();
    assert_eq!(run_planted(spread), Vec::new());
}

#[test]
fn a_sale_above_the_purchase_price_is_a_mark_up() {
    let sale = |id: &str, purchase: Fen, sale: Fen| {
        SupervisionEvent::Inventory(InventoryEvent {
            event_id: format!("ev-{id}"),
            record_no: id.into(),
            recorded_at: at(3, 9, 10),
            institution: inst("H34152200012"),
            item_code: "XJ01CAA040A001010101445".into(),
            quantity: 10,
            purchase_unit_price: purchase,
            sale_unit_price: sale,
        })
    };
    let findings = run_events(vec![
        sale("I1", Fen(1_000), Fen(1_000)),
        sale("I2", Fen(1_000), Fen(1_200)),
    ]);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.rule, RuleCode::MarkUp);
    assert_eq!(ids(f), ["I2"]);
    assert_eq!(f.amount_at_risk, Fen::yuan(20));
    assert_eq!(f.institution, inst("H34152200012"));
}

#[test]
fn observing_an_event_twice_yields_no_second_finding_and_no_self_overlap() {
    let s = SupervisionEvent::Claim(stay(
        "Z1",
        "pk-z",
        H1,
        day(3, 1),
        day(3, 9),
        "J18.900",
        Fen::yuan(60_000),
    ));
    let mut d = Detector::new(rules()).unwrap();
    let first = d.observe(&s).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].rule, RuleCode::LargeReceipt);
    assert_eq!(d.observe(&s).unwrap(), Vec::new());
    assert_eq!(d.events_observed(), 1);
}

#[test]
fn a_reversed_stay_no_longer_counts_for_split_hospitalisation() {
    let s1 = stay(
        "W1",
        "pk-w",
        H1,
        day(3, 1),
        day(3, 8),
        "J18.900",
        Fen::yuan(1_000),
    );
    let mut rev = s1.clone();
    rev.event_id = "ev-W1-reversal".into();
    rev.action = ClaimAction::Reversed;
    rev.settled_at = at(3, 9, 9);
    let s2 = stay(
        "W2",
        "pk-w",
        H1,
        day(3, 12),
        day(3, 15),
        "J18.900",
        Fen::yuan(1_000),
    );
    assert_eq!(run_planted(vec![s1, rev, s2]), Vec::new());
}

#[test]
fn invalid_events_are_refused_with_the_field_and_not_remembered() {
    let mut d = Detector::new(rules()).unwrap();
    let mut e = visit(
        "N1",
        "pk-n",
        ClaimKind::Outpatient,
        H1,
        day(3, 1),
        Fen::yuan(10),
    );
    e.total = Fen::yuan(5);
    let err = d.observe(&SupervisionEvent::Claim(e.clone())).unwrap_err();
    assert_eq!(err, EventError::FundAboveTotal);
    e.total = Fen::yuan(10);
    e.end_date = day(2, 28);
    assert_eq!(
        d.observe(&SupervisionEvent::Claim(e)).unwrap_err(),
        EventError::DateOrder("end_date")
    );
    assert_eq!(d.events_observed(), 0);
}

#[test]
fn a_clear_id_number_is_refused_as_person_key() {
    assert!(PersonKey::parse("11010519491231002X").is_err());
    assert!(PersonKey::parse("110105491231002").is_err());
    assert!(PersonKey::parse("").is_err());
    assert!(PersonKey::parse("pk-9f2c").is_ok());
}

#[test]
fn a_switched_off_rule_finds_nothing_and_its_backfill_finds_the_history() {
    let off = rules()
        .update(&RuleUpdate {
            code: RuleCode::SplitHospitalisation,
            enabled: Some(false),
            severity: None,
            params: None,
        })
        .unwrap();
    assert_eq!(off.version, 2);
    let history: Vec<SupervisionEvent> = vec![
        stay(
            "B1",
            "pk-bf",
            H1,
            day(3, 1),
            day(3, 5),
            "J18.900",
            Fen::yuan(1_000),
        ),
        stay(
            "B2",
            "pk-bf",
            H1,
            day(3, 9),
            day(3, 12),
            "J18.900",
            Fen::yuan(900),
        ),
        {
            let mut big = stay(
                "B3",
                "pk-bf2",
                H2,
                day(3, 1),
                day(3, 30),
                "S72.000",
                Fen::yuan(9_000),
            );
            big.total = Fen::yuan(12_000);
            big
        },
    ]
    .into_iter()
    .map(SupervisionEvent::Claim)
    .collect();
    let mut live = Detector::new(off).unwrap();
    let live_findings: Vec<Finding> = history
        .iter()
        .flat_map(|e| live.observe(e).unwrap())
        .collect();
    assert_eq!(
        live_findings.iter().map(|f| f.rule).collect::<Vec<_>>(),
        [RuleCode::LargeReceipt]
    );

    let report = live.backfill(RuleCode::SplitHospitalisation, &history);
    assert_eq!(report.events_seen, 3);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].rule, RuleCode::SplitHospitalisation);
    assert_eq!(report.findings[0].rule_version, 2);
    assert_eq!(report.findings[0].amount_at_risk, Fen::yuan(900));
    assert_eq!(live.events_observed(), 3, "the live detector is unchanged");
}

#[test]
fn tuning_a_rule_makes_a_new_version_that_its_findings_carry() {
    let tuned = rules()
        .update(&RuleUpdate {
            code: RuleCode::SplitHospitalisation,
            enabled: None,
            severity: Some(Severity::High),
            params: Some(RuleParams::SplitHospitalisation {
                window_days: 30,
                planned_diagnosis_prefixes: vec![],
            }),
        })
        .unwrap();
    assert_eq!(tuned.version, 2);
    let mut d = Detector::new(tuned).unwrap();
    d.observe(&SupervisionEvent::Claim(stay(
        "U1",
        "pk-u",
        H1,
        day(3, 1),
        day(3, 5),
        "J18.900",
        Fen::yuan(1),
    )))
    .unwrap();
    let f = d
        .observe(&SupervisionEvent::Claim(stay(
            "U2",
            "pk-u",
            H1,
            day(3, 30),
            day(4, 2),
            "J18.900",
            Fen::yuan(2),
        )))
        .unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].rule_version, f[0].severity), (2, Severity::High));
}

#[test]
fn rule_changes_with_wrong_or_invalid_parameters_are_refused() {
    let wrong = rules().update(&RuleUpdate {
        code: RuleCode::SplitHospitalisation,
        enabled: None,
        severity: None,
        params: Some(RuleParams::MarkUp {
            tolerance: yibao_core::Bp(100),
        }),
    });
    assert_eq!(
        wrong,
        Err(RuleError::ParamsMismatch {
            code: RuleCode::SplitHospitalisation,
            given: RuleCode::MarkUp
        })
    );
    let invalid = rules().update(&RuleUpdate {
        code: RuleCode::IdentityCluster,
        enabled: None,
        severity: None,
        params: Some(RuleParams::IdentityCluster {
            min_persons: 1,
            window_hours: 48,
        }),
    });
    assert!(matches!(
        invalid,
        Err(RuleError::InvalidParams {
            code: RuleCode::IdentityCluster,
            ..
        })
    ));
    let tiers = rules().update(&RuleUpdate {
        code: RuleCode::LargeReceipt,
        enabled: None,
        severity: None,
        params: Some(RuleParams::LargeReceipt {
            tiers: vec![
                ReceiptTier {
                    above: Fen::yuan(50_000),
                    verification: VerificationKind::PhoneOrOnSite,
                },
                ReceiptTier {
                    above: Fen::yuan(10_000),
                    verification: VerificationKind::CheckRecord,
                },
            ],
        }),
    });
    assert!(matches!(
        tiers,
        Err(RuleError::InvalidParams {
            code: RuleCode::LargeReceipt,
            ..
        })
    ));
    assert_eq!(
        RuleCode::parse("NOPE"),
        Err(RuleError::UnknownRule("NOPE".into()))
    );
    for code in RuleCode::ALL {
        assert_eq!(RuleCode::parse(code.as_str()), Ok(code));
    }
}

#[test]
fn the_rule_set_round_trips_through_json() {
    let set = rules();
    let json = serde_json::to_string(&set).unwrap();
    let back: RuleSet = serde_json::from_str(&json).unwrap();
    assert_eq!(back, set);
    assert!(json.contains("\"SPLIT_HOSPITALISATION\""));
}

#[test]
fn prorate_rounds_half_up() {
    assert_eq!(prorate(Fen(333_333), 2, 4), Fen(166_667));
    assert_eq!(prorate(Fen(100), 1, 3), Fen(33));
    assert_eq!(prorate(Fen(100), 2, 3), Fen(67));
    assert_eq!(prorate(Fen(100), 0, 3), Fen::ZERO);
    assert_eq!(prorate(Fen(100), 5, 3), Fen(100));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    /// Replaying any events again (duplicates anywhere later in the stream) changes nothing.
    #[test]
    fn duplicates_never_change_the_findings(dups in proptest::collection::vec((0usize..400, 0usize..400), 0..60)) {
        let mut events = clean_stream(400);
        events.push(SupervisionEvent::Claim(stay("P1", "pk-prop", H1, day(3, 1), day(3, 5), "J18.900", Fen::yuan(1_000))));
        events.push(SupervisionEvent::Claim(stay("P2", "pk-prop", H1, day(3, 9), day(3, 12), "J18.900", Fen::yuan(900))));
        let mut d1 = Detector::new(rules()).unwrap();
        let once: Vec<Finding> = events.iter().flat_map(|e| d1.observe(e).unwrap()).collect();
        let mut replayed = events.clone();
        for (from, to) in dups {
            let e = events[from].clone();
            // Somewhere after the first occurrence.
            let first = replayed.iter().position(|x| x.event_id() == e.event_id()).unwrap();
            let pos = first + 1 + to % (replayed.len() - first);
            replayed.insert(pos, e);
        }
        let mut d2 = Detector::new(rules()).unwrap();
        let twice: Vec<Finding> = replayed.iter().flat_map(|e| d2.observe(e).unwrap()).collect();
        prop_assert_eq!(once.len(), 1);
        prop_assert_eq!(once, twice);
    }
}
