//! The in-stay rules on encounter steps: concurrent admissions, a day's fees above the limit,
//! fee lines outside the stay; each positive and negative, and the book they keep.

use super::*;
use crate::domain::{EncounterAction, EncounterEvent, EncounterFeeLine, StayBook, StayStatus};

fn step(
    event: &str,
    encounter: &str,
    action: EncounterAction,
    institution: &str,
    start: NaiveDate,
    end: Option<NaiveDate>,
) -> EncounterEvent {
    EncounterEvent {
        event_id: event.to_string(),
        encounter_id: encounter.to_string(),
        action,
        occurred_at: at(3, 20, 9),
        person: pk("p-1"),
        home_region: region("341522"),
        institution: inst(institution),
        physician: Some("D341522000101".into()),
        kind: ClaimKind::Inpatient,
        start_date: start,
        end_date: end,
        principal_diagnosis: Some("J18.900".into()),
        lines: Vec::new(),
    }
}

fn opened(event: &str, encounter: &str, institution: &str, start: NaiveDate) -> EncounterEvent {
    step(
        event,
        encounter,
        EncounterAction::Opened,
        institution,
        start,
        None,
    )
}

fn fee(sn: &str, code: &str, on: NaiveDate, yuan: i64) -> EncounterFeeLine {
    EncounterFeeLine {
        feedetl_sn: sn.to_string(),
        fee_date: on,
        item: item(code, 1, Fen::yuan(yuan), 0),
    }
}

fn upload(
    event: &str,
    encounter: &str,
    institution: &str,
    start: NaiveDate,
    lines: Vec<EncounterFeeLine>,
) -> EncounterEvent {
    let mut e = step(
        event,
        encounter,
        EncounterAction::FeesUploaded,
        institution,
        start,
        None,
    );
    e.lines = lines;
    e
}

fn detector() -> Detector {
    Detector::new(rules()).unwrap()
}

fn run(book: &mut StayBook, steps: &[EncounterEvent]) -> Vec<Finding> {
    let d = detector();
    steps
        .iter()
        .flat_map(|s| d.observe_encounter(book, s).unwrap())
        .collect()
}

#[test]
fn an_admission_while_a_stay_elsewhere_is_open_is_a_concurrent_admission_at_once() {
    let mut book = StayBook::default();
    let found = run(
        &mut book,
        &[
            opened("e1", "enc-a", H1, day(3, 10)),
            opened("e2", "enc-b", LUAN, day(3, 12)),
        ],
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.rule, RuleCode::ConcurrentAdmission);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.finding_id, "e2/CONCURRENT_ADMISSION/1");
    assert_eq!(
        f.institution,
        inst(LUAN),
        "the stay observed second answers"
    );
    assert_eq!(f.evidence.encounter_ids, ["enc-a", "enc-b"]);
    assert!(f.evidence.claim_ids.is_empty(), "no claim exists yet");
    assert_eq!(f.evidence.dates, [day(3, 10), day(3, 12)]);
    assert_eq!(
        f.amount_at_risk,
        Fen::ZERO,
        "nothing is paid during the stay"
    );
    assert_eq!(f.person, Some(pk("p-1")));
    assert_eq!(book.stays.len(), 2);
    assert!(book.stays.values().all(|s| s.status == StayStatus::Open));
}

#[test]
fn a_transfer_the_same_day_a_cancelled_stay_another_person_or_the_same_hospital_is_no_concurrent_admission()
 {
    let mut book = StayBook::default();
    let mut discharged = step(
        "e2",
        "enc-a",
        EncounterAction::Discharged,
        H1,
        day(3, 10),
        Some(day(3, 12)),
    );
    discharged.occurred_at = at(3, 12, 8);
    let mut cancelled = opened("e4", "enc-c", H2, day(3, 13));
    let mut other_person = opened("e6", "enc-e", H2, day(3, 13));
    other_person.person = pk("p-2");
    cancelled.action = EncounterAction::Cancelled;
    let found = run(
        &mut book,
        &[
            opened("e1", "enc-a", H1, day(3, 10)),
            discharged,
            // Admitted elsewhere on the discharge day: a transfer.
            opened("e3", "enc-b", LUAN, day(3, 12)),
            // Admitted at H2 while enc-b is open at LUAN: found. Then that stay is cancelled.
            opened("e4a", "enc-c", H2, day(3, 13)),
            cancelled,
            // Another person at H2.
            other_person,
            // At LUAN again while LUAN's own enc-b is open (the same hospital: not this rule),
            // enc-c cancelled and enc-a discharged before.
            opened("e7", "enc-f", LUAN, day(3, 14)),
        ],
    );
    let rules: Vec<&str> = found.iter().map(|f| f.finding_id.as_str()).collect();
    // enc-c at H2 was admitted while enc-b at LUAN was open: that one is found; nothing else.
    assert_eq!(rules, ["e4a/CONCURRENT_ADMISSION/1"], "{found:#?}");
    assert_eq!(book.stays["enc-c"].status, StayStatus::Cancelled);
    assert_eq!(book.stays["enc-a"].end, Some(day(3, 12)));
}

#[test]
fn a_stay_first_seen_on_its_fees_is_judged_for_concurrency_too_and_a_switched_off_rule_finds_nothing()
 {
    let mut book = StayBook::default();
    let steps = [
        opened("e1", "enc-a", H1, day(3, 10)),
        upload(
            "e2",
            "enc-b",
            LUAN,
            day(3, 11),
            vec![fee("1", "001109000010300", day(3, 11), 80)],
        ),
    ];
    let found = run(&mut book, &steps);
    assert_eq!(
        found.iter().map(|f| f.rule).collect::<Vec<_>>(),
        [RuleCode::ConcurrentAdmission]
    );
    let off = rules()
        .update(&RuleUpdate {
            code: RuleCode::ConcurrentAdmission,
            enabled: Some(false),
            severity: None,
            params: None,
        })
        .unwrap();
    let d = Detector::new(off).unwrap();
    let mut book = StayBook::default();
    let found: Vec<Finding> = steps
        .iter()
        .flat_map(|s| d.observe_encounter(&mut book, s).unwrap())
        .collect();
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn a_day_of_fees_above_the_limit_is_found_by_the_upload_that_crosses_it_once() {
    let mut book = StayBook::default();
    let found = run(
        &mut book,
        &[
            opened("e1", "enc-a", H1, day(3, 10)),
            upload(
                "e2",
                "enc-a",
                H1,
                day(3, 10),
                vec![
                    fee("1", "A", day(3, 10), 30_000),
                    fee("2", "B", day(3, 11), 49_000),
                ],
            ),
            // 30,000 + 20,000 = 50,000.00 exactly: not above the limit.
            upload(
                "e3",
                "enc-a",
                H1,
                day(3, 10),
                vec![fee("3", "C", day(3, 10), 20_000)],
            ),
            // One fen more takes the day above it.
            upload(
                "e4",
                "enc-a",
                H1,
                day(3, 10),
                vec![EncounterFeeLine {
                    feedetl_sn: "4".into(),
                    fee_date: day(3, 10),
                    item: item("D", 1, Fen(1), 0),
                }],
            ),
            // More on a day already found raises nothing new.
            upload(
                "e5",
                "enc-a",
                H1,
                day(3, 10),
                vec![fee("5", "E", day(3, 10), 9_000)],
            ),
        ],
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.rule, RuleCode::DailyFeesAboveLimit);
    assert_eq!(f.finding_id, "e4/DAILY_FEES_ABOVE_LIMIT/1");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.evidence.encounter_ids, ["enc-a"]);
    assert_eq!(f.evidence.dates, [day(3, 10)]);
    assert_eq!(f.evidence.item_codes, ["D"]);
    assert_eq!(f.amount_at_risk, Fen(1), "the day's fees above the limit");
    assert_eq!(
        book.day_total("enc-a", day(3, 10)),
        Fen(Fen::yuan(59_000).0 + 1)
    );
    assert_eq!(book.day_total("enc-a", day(3, 11)), Fen::yuan(49_000));
    assert_eq!(book.changed_days.len(), 2);
}

#[test]
fn the_daily_limit_is_a_parameter_of_the_rule_set() {
    let tuned = rules()
        .update(&RuleUpdate {
            code: RuleCode::DailyFeesAboveLimit,
            enabled: None,
            severity: Some(Severity::Medium),
            params: Some(RuleParams::DailyFeesAboveLimit {
                above: Fen::yuan(1_000),
            }),
        })
        .unwrap();
    let d = Detector::new(tuned).unwrap();
    let mut book = StayBook::default();
    let found = d
        .observe_encounter(
            &mut book,
            &upload(
                "e1",
                "enc-a",
                H1,
                day(3, 10),
                vec![fee("1", "A", day(3, 10), 1_200)],
            ),
        )
        .unwrap();
    assert_eq!(
        found
            .iter()
            .map(|f| (f.rule, f.severity, f.amount_at_risk, f.rule_version))
            .collect::<Vec<_>>(),
        [(
            RuleCode::DailyFeesAboveLimit,
            Severity::Medium,
            Fen::yuan(200),
            2
        )]
    );
    assert!(
        rules()
            .update(&RuleUpdate {
                code: RuleCode::DailyFeesAboveLimit,
                enabled: None,
                severity: None,
                params: Some(RuleParams::DailyFeesAboveLimit { above: Fen::ZERO }),
            })
            .is_err(),
        "a limit must be positive"
    );
}

#[test]
fn a_fee_line_before_the_admission_or_after_the_discharge_is_found_and_lines_inside_are_not() {
    let mut book = StayBook::default();
    let mut late = upload(
        "e3",
        "enc-a",
        H1,
        day(3, 10),
        vec![
            fee("3", "A", day(3, 15), 100),
            fee("4", "B", day(3, 16), 250),
        ],
    );
    late.end_date = Some(day(3, 15));
    let found = run(
        &mut book,
        &[
            opened("e1", "enc-a", H1, day(3, 10)),
            upload(
                "e2",
                "enc-a",
                H1,
                day(3, 10),
                vec![
                    fee("1", "A", day(3, 9), 300),
                    fee("2", "A", day(3, 10), 500),
                ],
            ),
            late,
        ],
    );
    let got: Vec<(&str, Vec<NaiveDate>, Fen)> = found
        .iter()
        .map(|f| {
            (
                f.finding_id.as_str(),
                f.evidence.dates.clone(),
                f.amount_at_risk,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("e2/FEE_OUTSIDE_STAY/1", vec![day(3, 9)], Fen::yuan(300)),
            ("e3/FEE_OUTSIDE_STAY/1", vec![day(3, 16)], Fen::yuan(250)),
        ]
    );
    assert!(found.iter().all(|f| f.severity == Severity::Medium));
    assert_eq!(book.stays["enc-a"].status, StayStatus::Discharged);
}

#[test]
fn outpatient_encounters_and_steps_of_cancelled_stays_change_nothing() {
    let mut book = StayBook::default();
    let mut visit = upload(
        "e1",
        "enc-o",
        H1,
        day(3, 10),
        vec![fee("1", "A", day(3, 10), 90_000)],
    );
    visit.kind = ClaimKind::Outpatient;
    let mut cancel = opened("e3", "enc-a", H1, day(3, 10));
    cancel.action = EncounterAction::Cancelled;
    let found = run(
        &mut book,
        &[
            visit,
            opened("e2", "enc-a", H1, day(3, 10)),
            cancel,
            upload(
                "e4",
                "enc-a",
                H1,
                day(3, 10),
                vec![fee("1", "A", day(3, 10), 90_000)],
            ),
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
    assert_eq!(book.stays.len(), 1);
    assert_eq!(book.stays["enc-a"].status, StayStatus::Cancelled);
    assert!(book.fee_days.is_empty());
}

#[test]
fn an_invalid_step_is_refused_naming_the_field_and_changes_nothing() {
    let mut book = StayBook::default();
    let mut bad = opened("e1", "enc-a", H1, day(3, 10));
    bad.end_date = Some(day(3, 9));
    let err = detector().observe_encounter(&mut book, &bad).unwrap_err();
    assert!(err.to_string().starts_with("end_date"), "{err}");
    assert_eq!(book, StayBook::default());
}

#[test]
fn a_rule_set_stored_before_the_in_stay_rules_is_completed_with_their_defaults() {
    let mut old = rules();
    old.rules.retain(|r| !RuleCode::IN_STAY.contains(&r.code()));
    assert!(old.validate().is_err());
    let done = old.completed();
    done.validate().unwrap();
    assert_eq!(done.version, 1);
    assert_eq!(
        done.rule(RuleCode::DailyFeesAboveLimit).map(|r| &r.params),
        Some(&RuleParams::DailyFeesAboveLimit {
            above: Fen::yuan(50_000)
        })
    );
    assert_eq!(rules().completed(), rules(), "a complete set is unchanged");
}

#[test]
fn cancelled_lines_no_longer_count_towards_their_day() {
    let mut book = StayBook::default();
    let start = day(3, 10);
    let mut cancelled = step(
        "e3",
        "enc-a",
        EncounterAction::FeesCancelled,
        H1,
        start,
        None,
    );
    cancelled.lines = vec![fee("2", "X2", day(3, 11), 30_000)];
    let found = run(
        &mut book,
        &[
            opened("e1", "enc-a", H1, start),
            upload(
                "e2",
                "enc-a",
                H1,
                start,
                vec![
                    fee("1", "X1", day(3, 11), 20_000),
                    fee("2", "X2", day(3, 11), 30_000),
                ],
            ),
            cancelled,
            upload(
                "e4",
                "enc-a",
                H1,
                start,
                vec![fee("3", "X3", day(3, 11), 25_000)],
            ),
        ],
    );
    assert!(
        found.is_empty(),
        "50,000 then 20,000 + 25,000: never above the limit: {found:#?}"
    );
    assert_eq!(book.day_total("enc-a", day(3, 11)), Fen::yuan(45_000));
    // Without the cancellation the third upload would have crossed it.
    let mut book = StayBook::default();
    let found = run(
        &mut book,
        &[
            opened("e1", "enc-a", H1, start),
            upload(
                "e2",
                "enc-a",
                H1,
                start,
                vec![
                    fee("1", "X1", day(3, 11), 20_000),
                    fee("2", "X2", day(3, 11), 30_000),
                ],
            ),
            upload(
                "e4",
                "enc-a",
                H1,
                start,
                vec![fee("3", "X3", day(3, 11), 25_000)],
            ),
        ],
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule, RuleCode::DailyFeesAboveLimit);
}
