//! Specification tests of the LTC rules: the national standard's bands at every boundary and
//! its combination table, score-sheet refusals naming the item, two assessors, the workflow
//! with appeal, policies, levels over time, record checks and the monthly settlement to the fen.

use super::application::{ApplicationStatus as S, Step, transition};
use super::assessment::{DisabilityLevel as L, Impairment as I, Item, ScoreSheet, combine_sheets};
use super::care::{CarePlan, LevelPeriod, effective_from, level_on, place, reassessment_due};
use super::policy::{BenefitPolicy, CareType, OverlapAction};
use super::record::{
    Eligibility, HospitalStay, MonthSoFar, RecordContext, RecordIn, Verdict, check,
};
use super::settlement::{BillableRecord, record_fund_share, settle_line};
use super::stats::growth_bp;
use super::{DomainError, Month};
use chrono::NaiveDate;
use proptest::prelude::*;
use std::collections::BTreeMap;
use yibao_core::Fen;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Raw item scores with the given indicator totals (ADL a multiple of 5), filled greedily in an
/// order that keeps the sheet consistent (transfer before walking before stairs).
fn raw(adl: u32, cognition: u32, perception: u32) -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    let mut rem = adl;
    let order = [
        (Item::Transfer, 15),
        (Item::Walking, 15),
        (Item::Feeding, 10),
        (Item::Dressing, 10),
        (Item::Grooming, 5),
        (Item::Bowel, 10),
        (Item::Bladder, 10),
        (Item::Toilet, 10),
        (Item::Bathing, 5),
        (Item::Stairs, 10),
    ];
    for (item, max) in order {
        let v = rem.min(max);
        rem -= v;
        m.insert(item.code().to_string(), v);
    }
    assert_eq!(rem, 0, "ADL {adl} not reachable");
    for (items, total) in [
        (
            &[
                Item::TimeOrientation,
                Item::PersonOrientation,
                Item::PlaceOrientation,
                Item::Memory,
            ][..],
            cognition,
        ),
        (
            &[Item::Vision, Item::Hearing, Item::Communication][..],
            perception,
        ),
    ] {
        let mut rem = total;
        for item in items {
            let v = rem.min(4);
            rem -= v;
            m.insert(item.code().to_string(), v);
        }
        assert_eq!(rem, 0);
    }
    m
}

fn sheet(adl: u32, cognition: u32, perception: u32) -> ScoreSheet {
    ScoreSheet::parse("items", &raw(adl, cognition, perception), false)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn level(adl: u32, cognition: u32, perception: u32) -> L {
    sheet(adl, cognition, perception).result().level
}

fn fields(e: &DomainError) -> Vec<String> {
    match e {
        DomainError::InvalidFields { violations, .. } => {
            violations.iter().map(|(f, _)| f.clone()).collect()
        }
        DomainError::Precondition { .. } => vec![],
    }
}

// ---- the standard ----------------------------------------------------------------------

#[test]
fn worked_example_adl_25_cognition_10_perception_9_is_severe_ii() {
    // DOMAIN 4.2: ADL 25 (重度), 认知 10 (中度), 感知 9 (轻度) → worse = 中度 → 重度失能Ⅱ级.
    let r = sheet(25, 10, 9).result();
    assert_eq!(
        (r.adl_score, r.cognition_score, r.perception_score),
        (25, 10, 9)
    );
    assert_eq!(
        (r.adl, r.cognition, r.perception),
        (I::Severe, I::Moderate, I::Mild)
    );
    assert_eq!(r.level, L::Severe2);
    assert_eq!(r.level.number(), 4);
}

#[test]
fn adl_bands_at_every_boundary() {
    assert_eq!(I::of_adl(100), I::Intact);
    assert_eq!(I::of_adl(95), I::Mild);
    assert_eq!(I::of_adl(65), I::Mild);
    assert_eq!(I::of_adl(60), I::Moderate);
    assert_eq!(I::of_adl(45), I::Moderate);
    assert_eq!(I::of_adl(40), I::Severe);
    assert_eq!(I::of_adl(0), I::Severe);
}

#[test]
fn cognition_bands_at_every_boundary() {
    assert_eq!(I::of_cognition(16), I::Intact);
    assert_eq!(I::of_cognition(15), I::Mild);
    assert_eq!(I::of_cognition(12), I::Mild);
    assert_eq!(I::of_cognition(11), I::Moderate);
    assert_eq!(I::of_cognition(4), I::Moderate);
    assert_eq!(I::of_cognition(3), I::Severe);
    assert_eq!(I::of_cognition(0), I::Severe);
}

#[test]
fn perception_bands_at_every_boundary() {
    assert_eq!(I::of_perception(12), I::Intact);
    assert_eq!(I::of_perception(11), I::Mild);
    assert_eq!(I::of_perception(8), I::Mild);
    assert_eq!(I::of_perception(7), I::Moderate);
    assert_eq!(I::of_perception(4), I::Moderate);
    assert_eq!(I::of_perception(3), I::Severe);
    assert_eq!(I::of_perception(0), I::Severe);
}

#[test]
fn combination_table_every_cell() {
    // Rows ADL, columns the worse of cognition/perception: the table of DOMAIN 4.2.
    let table = [
        (I::Intact, [L::Normal, L::Normal, L::Mild, L::Mild]),
        (I::Mild, [L::Mild, L::Mild, L::Mild, L::Moderate]),
        (
            I::Moderate,
            [L::Moderate, L::Moderate, L::Moderate, L::Severe1],
        ),
        (I::Severe, [L::Severe1, L::Severe1, L::Severe2, L::Severe3]),
    ];
    let cols = [I::Intact, I::Mild, I::Moderate, I::Severe];
    for (adl, row) in table {
        for (col, want) in cols.iter().zip(row) {
            assert_eq!(
                L::combine(adl, *col, I::Intact),
                want,
                "{adl:?} × cognition {col:?}"
            );
            assert_eq!(
                L::combine(adl, I::Intact, *col),
                want,
                "{adl:?} × perception {col:?}"
            );
        }
    }
}

#[test]
fn the_worse_of_cognition_and_perception_counts() {
    // Cognition mild, perception severe → the severe column.
    assert_eq!(L::combine(I::Mild, I::Mild, I::Severe), L::Moderate);
    assert_eq!(L::combine(I::Severe, I::Severe, I::Mild), L::Severe3);
}

#[test]
fn levels_from_item_scores_at_the_band_edges() {
    // Each ADL boundary with intact other indicators.
    assert_eq!(level(100, 16, 12), L::Normal);
    assert_eq!(level(95, 16, 12), L::Mild);
    assert_eq!(level(65, 16, 12), L::Mild);
    assert_eq!(level(60, 16, 12), L::Moderate);
    assert_eq!(level(45, 16, 12), L::Moderate);
    assert_eq!(level(40, 16, 12), L::Severe1);
    // With ADL severe, the other indicators separate Ⅰ, Ⅱ and Ⅲ.
    assert_eq!(level(40, 12, 8), L::Severe1);
    assert_eq!(level(40, 11, 12), L::Severe2);
    assert_eq!(level(40, 16, 7), L::Severe2);
    assert_eq!(level(40, 4, 4), L::Severe2);
    assert_eq!(level(40, 3, 12), L::Severe3);
    assert_eq!(level(0, 16, 3), L::Severe3);
    // Intact ADL with moderate cognition is mild disability; with mild cognition normal.
    assert_eq!(level(100, 11, 12), L::Mild);
    assert_eq!(level(100, 12, 12), L::Normal);
    assert_eq!(level(100, 16, 8), L::Normal);
    // ADL mild: only a severe other indicator lifts to moderate.
    assert_eq!(level(65, 4, 12), L::Mild);
    assert_eq!(level(65, 3, 12), L::Moderate);
    // ADL moderate: only a severe other indicator lifts to severe Ⅰ.
    assert_eq!(level(45, 4, 4), L::Moderate);
    assert_eq!(level(45, 16, 3), L::Severe1);
}

#[test]
fn an_incomplete_sheet_is_refused_naming_the_missing_item() {
    let mut m = raw(25, 10, 9);
    m.remove("cognition.memory");
    let e = ScoreSheet::parse("items", &m, false)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(fields(&e), vec!["items[cognition.memory]"]);
    assert!(e.to_string().contains("missing"), "{e}");
}

#[test]
fn a_score_the_standard_does_not_allow_is_refused_naming_the_item() {
    let mut m = raw(25, 10, 9);
    m.insert("adl.grooming".into(), 10); // grooming is 0 or 5
    m.insert("perception.vision".into(), 5); // 0–4
    let e = ScoreSheet::parse("items", &m, false)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(
        fields(&e),
        vec!["items[adl.grooming]", "items[perception.vision]"]
    );
}

#[test]
fn an_unknown_item_code_is_refused() {
    let mut m = raw(25, 10, 9);
    m.insert("adl.cooking".into(), 5);
    let e = ScoreSheet::parse("items", &m, false)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(fields(&e), vec!["items[adl.cooking]"]);
}

#[test]
fn walking_while_unable_to_sit_is_inconsistent() {
    let mut m = raw(0, 16, 12);
    m.insert("adl.walking".into(), 10);
    let e = ScoreSheet::parse("items", &m, false)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(fields(&e), vec!["items[adl.walking]"]);
    assert!(e.to_string().contains("inconsistent"));
}

#[test]
fn stairs_while_bedridden_is_inconsistent() {
    let mut m = raw(15, 16, 12); // transfer 15, walking 0
    m.insert("adl.stairs".into(), 5);
    let e = ScoreSheet::parse("items", &m, false)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(fields(&e), vec!["items[adl.stairs]"]);
}

#[test]
fn two_assessors_who_agree_on_the_level_give_one_result() {
    // Different items, same level (both ADL severe, cognition moderate).
    let a = sheet(25, 10, 9);
    let b = sheet(30, 8, 9);
    let r = combine_sheets("items", &[a, b]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.level, L::Severe2);
    assert_eq!(r.adl_score, 25);
}

#[test]
fn two_assessors_who_disagree_are_refused_naming_the_items() {
    let a = sheet(25, 10, 9); // severe Ⅱ
    let b = sheet(25, 12, 9); // cognition mild → severe Ⅰ
    let e = combine_sheets("items", &[a, b])
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(matches!(
        e,
        DomainError::InvalidFields {
            code: "LTC_ASSESSORS_DISAGREE",
            ..
        }
    ));
    assert_eq!(fields(&e), vec!["items[cognition.place]"]);
}

#[test]
fn assessors_must_agree_on_dementia() {
    let a = sheet(25, 10, 9);
    let mut b = a.clone();
    b.dementia = true;
    let e = combine_sheets("items", &[a, b])
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(fields(&e), vec!["dementia"]);
}

#[test]
fn dementia_is_recorded_separately_from_the_level() {
    let s = ScoreSheet::parse("items", &raw(80, 2, 12), true).unwrap_or_else(|e| panic!("{e}"));
    let r = s.result();
    assert!(r.dementia);
    assert_eq!(r.level, L::Moderate); // ADL mild × cognition severe
}

// ---- workflow ----------------------------------------------------------------------------

#[test]
fn the_workflow_runs_received_to_approved() {
    let mut s = S::Received;
    for (step, want) in [
        (Step::Schedule, S::AssessmentScheduled),
        (Step::Assess, S::Assessed),
        (Step::Approve, S::Approved),
    ] {
        s = transition(s, &step, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s, want);
    }
}

#[test]
fn a_rejection_is_appealed_reassessed_and_re_decided() {
    let s = transition(S::Assessed, &Step::Reject, 0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s, S::Rejected);
    let s = transition(s, &Step::Appeal, 0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s, S::Appealed);
    let s = transition(s, &Step::Schedule, 1).unwrap_or_else(|e| panic!("{e}"));
    let s = transition(s, &Step::Assess, 1).unwrap_or_else(|e| panic!("{e}"));
    let s = transition(s, &Step::Approve, 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s, S::Approved);
}

#[test]
fn a_second_appeal_is_refused() {
    let e = transition(S::Approved, &Step::Appeal, 1)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(matches!(
        e,
        DomainError::Precondition {
            code: "LTC_APPEAL_ALREADY_MADE",
            ..
        }
    ));
}

#[test]
fn steps_out_of_order_are_refused() {
    for (from, step) in [
        (S::Received, Step::Approve),
        (S::Received, Step::Assess),
        (S::AssessmentScheduled, Step::Approve),
        (S::Assessed, Step::Schedule),
        (S::Received, Step::Appeal),
        (S::Approved, Step::Approve),
    ] {
        let e = transition(from, &step, 0)
            .err()
            .unwrap_or_else(|| panic!("{from:?} {step:?} accepted"));
        assert!(
            matches!(
                e,
                DomainError::Precondition {
                    code: "LTC_APPLICATION_WRONG_STATE",
                    ..
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn statuses_round_trip_their_stored_text() {
    for s in S::ALL {
        assert_eq!(S::parse(s.as_str()), Some(s));
    }
}

// ---- policy --------------------------------------------------------------------------------

#[test]
fn qingdao_default_is_valid_and_caps_at_3450_yuan() {
    let p = BenefitPolicy::qingdao_default();
    assert_eq!(p.validate(), Ok(()));
    assert_eq!(p.monthly_cap(L::Severe3), Fen::yuan(3_450));
    assert!(p.qualifies(L::Severe1, false));
    assert!(!p.qualifies(L::Moderate, false));
    assert!(
        p.qualifies(L::Moderate, true),
        "重度失智 qualifies on its own"
    );
    let text = serde_json::to_string(&p).unwrap_or_default();
    assert_eq!(BenefitPolicy::from_json(&text), Ok(p));
}

#[test]
fn a_bad_policy_names_each_path() {
    let text = r#"{"qualifying_levels":[3,7],"care_types":[{"care_type":"home","rate_bp":12000,"unit":"visit"},{"care_type":"home","rate_bp":9000,"unit":"visit"}],
        "monthly_cap_fen":0,"monthly_cap_by_level":{"9":100},"reassessment_months":0}"#;
    let e = BenefitPolicy::from_json(text)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(
        fields(&e),
        vec![
            "qualifying_levels[1]",
            "care_types[0].rate_bp",
            "care_types[1].care_type",
            "monthly_cap_fen",
            "monthly_cap_by_level.9",
            "reassessment_months"
        ]
    );
}

#[test]
fn unknown_policy_keys_are_refused() {
    let e = BenefitPolicy::from_json(r#"{"qualifying_levels":[3],"care_types":[],"monthly_cap_fen":1,"reassessment_months":12,"deductible":5}"#).err();
    assert!(matches!(e, Some(DomainError::InvalidFields { .. })));
}

// ---- levels and plans ----------------------------------------------------------------------

#[test]
fn a_lower_level_changes_the_benefit_from_the_next_month() {
    assert_eq!(
        effective_from(Some(L::Severe3), L::Severe1, d("2026-03-17")),
        d("2026-04-01")
    );
    assert_eq!(
        effective_from(Some(L::Severe3), L::Severe1, d("2026-12-31")),
        d("2027-01-01")
    );
}

#[test]
fn a_first_or_higher_level_applies_from_the_decision() {
    assert_eq!(
        effective_from(None, L::Severe1, d("2026-03-17")),
        d("2026-03-17")
    );
    assert_eq!(
        effective_from(Some(L::Severe1), L::Severe3, d("2026-03-17")),
        d("2026-03-17")
    );
}

#[test]
fn the_level_on_a_date_is_the_latest_in_force() {
    let periods = vec![
        LevelPeriod {
            level: L::Severe3,
            dementia: false,
            effective_from: d("2026-01-10"),
        },
        LevelPeriod {
            level: L::Severe1,
            dementia: false,
            effective_from: d("2026-04-01"),
        },
    ];
    assert_eq!(level_on(&periods, d("2026-01-09")), None);
    assert_eq!(
        level_on(&periods, d("2026-03-31")).map(|p| p.level),
        Some(L::Severe3)
    );
    assert_eq!(
        level_on(&periods, d("2026-04-01")).map(|p| p.level),
        Some(L::Severe1)
    );
}

#[test]
fn reassessment_falls_due_after_the_interval() {
    assert_eq!(reassessment_due(d("2026-01-31"), 12), d("2027-01-31"));
    assert_eq!(reassessment_due(d("2026-08-31"), 6), d("2027-02-28"));
}

#[test]
fn a_new_placement_ends_the_open_plan() {
    let plans = vec![CarePlan {
        id: "p1".into(),
        institution: "H37028100001".into(),
        care_type: CareType::Institutional,
        start: d("2026-01-01"),
        end: None,
    }];
    assert_eq!(place(&plans, d("2026-03-01")), Ok(Some("p1".into())));
    let e = place(&plans, d("2026-01-01"))
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(fields(&e), vec!["start_date"]);
    assert_eq!(place(&[], d("2026-01-01")), Ok(None));
}

// ---- record checks -------------------------------------------------------------------------

const INST: &str = "H37028100001";

struct Fixture {
    policy: BenefitPolicy,
    plans: Vec<CarePlan>,
    levels: Vec<LevelPeriod>,
    stays: Vec<HospitalStay>,
    eligibility: Eligibility,
    so_far: MonthSoFar,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            policy: BenefitPolicy::qingdao_default(),
            plans: vec![CarePlan {
                id: "p1".into(),
                institution: INST.into(),
                care_type: CareType::Institutional,
                start: d("2026-03-01"),
                end: None,
            }],
            levels: vec![LevelPeriod {
                level: L::Severe2,
                dementia: false,
                effective_from: d("2026-02-20"),
            }],
            stays: vec![],
            eligibility: Eligibility::Eligible,
            so_far: MonthSoFar::default(),
        }
    }

    fn check(&self, r: &RecordIn) -> Verdict {
        let cx = RecordContext {
            institution: INST,
            plans: &self.plans,
            levels: &self.levels,
            policy: Some(&self.policy),
            eligibility: &self.eligibility,
            stays: &self.stays,
            so_far: self.so_far,
        };
        check(r, &cx)
    }
}

fn day(date: &str) -> RecordIn {
    RecordIn {
        care_type: CareType::Institutional,
        service_date: d(date),
        units: 1,
        amount: Fen::yuan(150),
    }
}

fn code(v: &Verdict) -> &'static str {
    match v {
        Verdict::Accept => "ACCEPT",
        Verdict::Flag { code, .. } | Verdict::Refuse { code, .. } => code,
    }
}

#[test]
fn a_bed_day_within_the_plan_is_accepted() {
    assert_eq!(Fixture::new().check(&day("2026-03-05")), Verdict::Accept);
}

#[test]
fn a_record_after_death_is_refused() {
    let f = Fixture {
        eligibility: Eligibility::Deceased,
        ..Fixture::new()
    };
    assert_eq!(code(&f.check(&day("2026-03-05"))), "LTC_RECORD_AFTER_DEATH");
}

#[test]
fn a_record_while_not_insured_is_refused() {
    let f = Fixture {
        eligibility: Eligibility::NotCovered("contribution unpaid".into()),
        ..Fixture::new()
    };
    assert_eq!(
        code(&f.check(&day("2026-03-05"))),
        "LTC_RECORD_NOT_ENROLLED"
    );
}

#[test]
fn a_record_during_a_hospital_stay_is_refused() {
    let f = Fixture {
        stays: vec![HospitalStay {
            admitted: d("2026-03-10"),
            discharged: d("2026-03-15"),
        }],
        ..Fixture::new()
    };
    assert_eq!(
        code(&f.check(&day("2026-03-12"))),
        "LTC_RECORD_DURING_HOSPITAL_STAY"
    );
    // Admission and discharge days are shared with care.
    assert_eq!(f.check(&day("2026-03-10")), Verdict::Accept);
    assert_eq!(f.check(&day("2026-03-15")), Verdict::Accept);
}

#[test]
fn a_record_during_a_hospital_stay_is_flagged_when_policy_says_so() {
    let mut f = Fixture {
        stays: vec![HospitalStay {
            admitted: d("2026-03-10"),
            discharged: d("2026-03-15"),
        }],
        ..Fixture::new()
    };
    f.policy.inpatient_overlap = OverlapAction::Flag;
    assert!(matches!(
        f.check(&day("2026-03-11")),
        Verdict::Flag {
            code: "LTC_RECORD_DURING_HOSPITAL_STAY",
            ..
        }
    ));
}

#[test]
fn records_outside_the_plan_are_refused() {
    let f = Fixture::new();
    assert_eq!(
        code(&f.check(&day("2026-02-25"))),
        "LTC_RECORD_OUTSIDE_PLAN"
    );
    let home = RecordIn {
        care_type: CareType::Home,
        ..day("2026-03-05")
    };
    assert_eq!(code(&f.check(&home)), "LTC_RECORD_WRONG_CARE_TYPE");
    let mut other = Fixture::new();
    other.plans[0].institution = "H37028100002".into();
    assert_eq!(
        code(&other.check(&day("2026-03-05"))),
        "LTC_RECORD_OTHER_INSTITUTION"
    );
}

#[test]
fn a_record_before_approval_or_under_a_non_qualifying_level_is_refused() {
    let f = Fixture {
        levels: vec![],
        ..Fixture::new()
    };
    assert_eq!(
        code(&f.check(&day("2026-03-05"))),
        "LTC_RECORD_BEFORE_APPROVAL"
    );
    let f = Fixture {
        levels: vec![LevelPeriod {
            level: L::Moderate,
            dementia: false,
            effective_from: d("2026-01-01"),
        }],
        ..Fixture::new()
    };
    assert_eq!(
        code(&f.check(&day("2026-03-05"))),
        "LTC_LEVEL_DOES_NOT_QUALIFY"
    );
}

#[test]
fn a_second_bed_day_on_the_same_date_is_refused() {
    let f = Fixture {
        so_far: MonthSoFar {
            units: 4,
            day_taken: true,
        },
        ..Fixture::new()
    };
    assert_eq!(code(&f.check(&day("2026-03-05"))), "LTC_DAY_ALREADY_BILLED");
    let two = RecordIn {
        units: 2,
        ..day("2026-03-05")
    };
    assert_eq!(code(&Fixture::new().check(&two)), "LTC_RECORD_UNITS");
}

#[test]
fn visits_above_the_monthly_limit_are_refused() {
    let mut f = Fixture::new();
    f.plans[0].care_type = CareType::Visiting;
    if let Some(t) = f
        .policy
        .care_types
        .iter_mut()
        .find(|t| t.care_type == CareType::Visiting)
    {
        t.max_units_per_month = 8;
    }
    f.so_far = MonthSoFar {
        units: 7,
        day_taken: false,
    };
    let visit = RecordIn {
        care_type: CareType::Visiting,
        units: 1,
        ..day("2026-03-05")
    };
    assert_eq!(f.check(&visit), Verdict::Accept);
    let two = RecordIn { units: 2, ..visit };
    assert_eq!(code(&f.check(&two)), "LTC_UNITS_ABOVE_MONTHLY_LIMIT");
}

#[test]
fn a_dementia_unit_needs_dementia() {
    let mut f = Fixture::new();
    f.plans[0].care_type = CareType::DementiaUnit;
    let r = RecordIn {
        care_type: CareType::DementiaUnit,
        ..day("2026-03-05")
    };
    assert_eq!(code(&f.check(&r)), "LTC_DEMENTIA_UNIT_WITHOUT_DEMENTIA");
    f.levels[0].dementia = true;
    assert_eq!(f.check(&r), Verdict::Accept);
}

// ---- settlement ----------------------------------------------------------------------------

fn bed_days(n: u32, yuan_per_day: i64) -> Vec<BillableRecord> {
    (1..=n)
        .map(|i| {
            BillableRecord::one(
                CareType::Institutional,
                d(&format!("2026-03-{i:02}")),
                1,
                Fen::yuan(yuan_per_day),
            )
        })
        .collect()
}

#[test]
fn bed_days_under_the_standard_pay_90_percent() {
    // 10 days at 100 yuan: 90 yuan a day (below the 120-yuan standard) → 900 / 100.
    let p = BenefitPolicy::qingdao_default();
    let line = settle_line(&p, L::Severe2, &bed_days(10, 100), Fen::ZERO)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line.billed, Fen::yuan(1_000));
    assert_eq!(line.fund, Fen::yuan(900));
    assert_eq!(line.person, Fen::yuan(100));
    assert_eq!(line.capped, Fen::ZERO);
    assert_eq!(
        (line.period_start, line.period_end),
        (d("2026-03-01"), d("2026-03-10"))
    );
}

#[test]
fn the_daily_fee_standard_limits_each_bed_day() {
    // 200 yuan a day: 90% = 180, limited to the 120-yuan standard.
    let p = BenefitPolicy::qingdao_default();
    let r = &bed_days(1, 200)[0];
    assert_eq!(record_fund_share(&p, r), Ok(Fen::yuan(120)));
}

#[test]
fn a_full_month_is_capped_at_3450_yuan() {
    // 31 days at 150 yuan = 4,650; 31 × min(135, 120) = 3,720 before the cap → 3,450 fund.
    let p = BenefitPolicy::qingdao_default();
    let line = settle_line(&p, L::Severe3, &bed_days(31, 150), Fen::ZERO)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line.billed, Fen::yuan(4_650));
    assert_eq!(line.fund_before_cap, Fen::yuan(3_720));
    assert_eq!(line.fund, Fen::yuan(3_450));
    assert_eq!(line.capped, Fen::yuan(270));
    assert_eq!(line.person, Fen::yuan(1_200));
}

#[test]
fn the_cap_counts_what_other_institutions_were_paid_this_month() {
    let p = BenefitPolicy::qingdao_default();
    let line = settle_line(&p, L::Severe3, &bed_days(10, 100), Fen::yuan(3_000))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line.fund, Fen::yuan(450));
    assert_eq!(line.person, Fen::yuan(550));
    let none_left = settle_line(&p, L::Severe3, &bed_days(1, 100), Fen::yuan(3_450))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none_left.fund, Fen::ZERO);
    assert_eq!(none_left.person, Fen::yuan(100));
}

#[test]
fn the_cap_of_the_level_applies() {
    let mut p = BenefitPolicy::qingdao_default();
    p.monthly_cap_by_level
        .insert("3".into(), Fen::yuan(2_000).get());
    let line = settle_line(&p, L::Severe1, &bed_days(31, 150), Fen::ZERO)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line.fund, Fen::yuan(2_000));
    let line = settle_line(&p, L::Severe3, &bed_days(31, 150), Fen::ZERO)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line.fund, Fen::yuan(3_450));
}

#[test]
fn rates_round_half_up_per_record_to_the_fen() {
    // Visiting at 80% of 0.63 yuan = 0.504 → 0.50; of 0.69 = 0.552 → 0.55; home 90% of 0.05 = 0.045 → 0.05.
    let p = BenefitPolicy::qingdao_default();
    let rec = |care_type, fen| BillableRecord::one(care_type, d("2026-03-02"), 1, Fen(fen));
    assert_eq!(
        record_fund_share(&p, &rec(CareType::Visiting, 63)),
        Ok(Fen(50))
    );
    assert_eq!(
        record_fund_share(&p, &rec(CareType::Visiting, 69)),
        Ok(Fen(55))
    );
    assert_eq!(record_fund_share(&p, &rec(CareType::Home, 5)), Ok(Fen(5)));
    let line = settle_line(
        &p,
        L::Severe1,
        &[rec(CareType::Visiting, 63), rec(CareType::Visiting, 69)],
        Fen::ZERO,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((line.fund, line.person), (Fen(105), Fen(27)));
}

#[test]
fn a_reversal_negates_every_figure() {
    let p = BenefitPolicy::qingdao_default();
    let line = settle_line(&p, L::Severe3, &bed_days(31, 150), Fen::ZERO)
        .unwrap_or_else(|e| panic!("{e}"));
    let r = line.reversal();
    assert_eq!(r.fund.get() + line.fund.get(), 0);
    assert_eq!(r.person.get() + line.person.get(), 0);
    assert_eq!(r.billed.get() + line.billed.get(), 0);
    assert_eq!(r.units + line.units, 0);
}

#[test]
fn nothing_to_settle_is_refused() {
    let p = BenefitPolicy::qingdao_default();
    assert!(matches!(
        settle_line(&p, L::Severe3, &[], Fen::ZERO),
        Err(DomainError::Precondition {
            code: "LTC_NOTHING_TO_SETTLE",
            ..
        })
    ));
}

// ---- statistics and months ---------------------------------------------------------------

#[test]
fn seed_growth_of_516_beneficiaries_is_100_percent() {
    assert_eq!(growth_bp(258, 516), 10_000);
    assert_eq!(growth_bp(516, 516), 0);
    assert_eq!(growth_bp(3, 2), -3_333);
    assert_eq!(growth_bp(3, 4), 3_333);
    assert_eq!(growth_bp(0, 29), 0);
}

#[test]
fn months_parse_and_step() {
    let m = Month::parse("month", "2026-12").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.next().to_string(), "2027-01");
    assert_eq!(m.previous().to_string(), "2026-11");
    assert_eq!(Month::parse("month", "2026-02").map(|m| m.days()), Ok(28));
    assert!(Month::parse("month", "2026-13").is_err());
    assert!(Month::parse("month", "26-01").is_err());
}

#[test]
fn a_group_of_identical_records_settles_as_the_records_one_by_one() {
    let p = BenefitPolicy::qingdao_default();
    let singles: Vec<BillableRecord> = (1..=9)
        .map(|i| {
            BillableRecord::one(
                CareType::Visiting,
                d(&format!("2026-03-{i:02}")),
                1,
                Fen(6_301),
            )
        })
        .collect();
    let group = BillableRecord {
        care_type: CareType::Visiting,
        service_date: d("2026-03-01"),
        last_date: d("2026-03-09"),
        units: 1,
        amount: Fen(6_301),
        count: 9,
    };
    let a = settle_line(&p, L::Severe3, &singles, Fen::ZERO).unwrap_or_else(|e| panic!("{e}"));
    let b = settle_line(&p, L::Severe3, &[group], Fen::ZERO).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
    assert_eq!(
        a.fund,
        Fen(9 * 5_000),
        "80% of 63.01 = 50.41, limited to the 50-yuan visit standard"
    );
}

proptest! {
    #[test]
    fn fund_plus_person_equals_billed(
        amounts in proptest::collection::vec((0i64..50_000, 0usize..4, 1u32..4), 1..40),
        paid_elsewhere in 0i64..400_000,
        level in 3u8..6,
    ) {
        let p = BenefitPolicy::qingdao_default();
        let records: Vec<BillableRecord> = amounts.iter().enumerate().map(|(i, (a, t, u))| {
            let care_type = CareType::ALL[*t];
            let units = if matches!(care_type, CareType::Institutional | CareType::DementiaUnit) { 1 } else { *u };
            BillableRecord::one(care_type, d("2026-03-01") + chrono::Days::new((i % 31) as u64), units, Fen(*a))
        }).collect();
        let level = L::from_number(level).unwrap_or(L::Severe3);
        let line = settle_line(&p, level, &records, Fen(paid_elsewhere)).unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(line.fund.get() + line.person.get(), line.billed.get());
        prop_assert_eq!(line.fund.get() + line.capped.get(), line.fund_before_cap.get());
        prop_assert!(line.fund.get() >= 0 && line.person.get() >= 0 && line.capped.get() >= 0);
        prop_assert!(line.fund.get() + paid_elsewhere.min(p.monthly_cap(level).get()) <= p.monthly_cap(level).get());
        let r = line.reversal();
        prop_assert_eq!(r.fund.get() + r.person.get(), r.billed.get());
    }

    #[test]
    fn every_complete_sheet_gets_a_level_and_agrees_with_the_table(adl in 0u32..=20, cognition in 0u32..=16, perception in 0u32..=12) {
        let s = sheet(adl * 5, cognition, perception);
        let r = s.result();
        prop_assert_eq!(r.level, L::combine(I::of_adl(adl * 5), I::of_cognition(cognition), I::of_perception(perception)));
        prop_assert_eq!(r.adl_score + r.cognition_score + r.perception_score, adl * 5 + cognition + perception);
    }
}
