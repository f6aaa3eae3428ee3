//! Specifications of the settlement domain: DOMAIN §1.7 and the "180" example to the fen, every
//! layer's cap, deductibles across claims, cross-region care, reversal and refunds, and
//! property tests of the accounting identities.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::engine::Reason;
use super::policy::{DeductibleBasis, PolicyBundle};
use super::*;
use chrono::NaiveDate;
use yibao_core::{Bp, Fen, IdNumber, InstitutionCode, MoneyOverflow, RegionCode};

// ---- helpers ------------------------------------------------------------------------------

/// Yuan and fen: `yf(28_112, 50)` is 28,112.50 yuan.
fn yf(yuan: i64, fen: i64) -> Fen {
    Fen(yuan * 100 + fen)
}

fn y(yuan: i64) -> Fen {
    Fen::yuan(yuan)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn region(s: &str) -> RegionCode {
    RegionCode::parse(s).unwrap()
}

fn bundle() -> PolicyBundle {
    default_bundle().expect("the default bundle parses and validates")
}

fn policy(id: &str) -> PolicyDocument {
    bundle()
        .policies
        .into_iter()
        .find(|p| p.id == id)
        .expect("policy in the default bundle")
}

fn huoqiu() -> PolicyDocument {
    policy("341522-2018-resident")
}

fn item(code: &str, class: ItemClass, quantity: i64, unit_price: Fen) -> ClaimItem {
    ClaimItem {
        national_code: code.into(),
        name: String::new(),
        class,
        quantity,
        unit_price,
        amount: Fen(unit_price.0 * quantity),
        payment_standard: None,
        preselfpay_share: None,
    }
}

fn claim(
    institution: &str,
    kind: EncounterKind,
    tier: InstitutionTier,
    grade: HospitalGrade,
    on: &str,
    items: Vec<ClaimItem>,
) -> Claim {
    Claim {
        institution_code: InstitutionCode::parse(institution).unwrap(),
        encounter_no: format!("E-{on}-{}", items.len()),
        id_number: IdNumber::with_check_digit("34152219800101123").unwrap(),
        kind,
        disease_code: None,
        grade,
        tier,
        start_date: date(on),
        end_date: date(on),
        diagnoses: vec!["I10.x00x002".into()],
        items,
    }
}

/// An inpatient claim in Huoqiu's year 2018.
fn huoqiu_inpatient(
    institution: &str,
    tier: InstitutionTier,
    on: &str,
    items: Vec<ClaimItem>,
) -> Claim {
    claim(
        institution,
        EncounterKind::Inpatient,
        tier,
        HospitalGrade::Grade3,
        on,
        items,
    )
}

/// DOMAIN 1.7's bill: 150,000 = 10,000 out of catalogue + 40,000 乙类 + 100,000 甲类.
fn worked_example_items() -> Vec<ClaimItem> {
    vec![
        item("C-OUT-OF-CATALOGUE", ItemClass::C, 1, y(10_000)),
        item("B-CLASS-DRUGS", ItemClass::B, 1, y(40_000)),
        item("A-CLASS-SERVICES", ItemClass::A, 1, y(100_000)),
    ]
}

const CITY_HOSPITAL: &str = "H34150200001"; // Lu'an city, inside Huoqiu's city-level pooling
const COUNTY_HOSPITAL: &str = "H34152200001"; // Huoqiu county hospital
const TOWNSHIP_CLINIC: &str = "H34152200002";
const HUOQIU_PHARMACY: &str = "P34152200001";

fn elig(insured: &str, categories: &[PersonCategory]) -> EligibilitySnapshot {
    EligibilitySnapshot {
        scheme: Scheme::Resident,
        insured_region: region(insured),
        categories: categories.to_vec(),
        chronic_registrations: vec![],
        supplement_products: vec![],
        cross_region_filing: None,
    }
}

fn poor() -> EligibilitySnapshot {
    elig("341522", &[PersonCategory::PovertyRegistered])
}

fn ordinary() -> EligibilitySnapshot {
    elig("341522", &[])
}

fn acc(year: i32, insured: &str) -> Accumulators {
    Accumulators::new(year, region(insured))
}

fn huoqiu_acc() -> Accumulators {
    acc(2018, "341522")
}

fn explanation(s: &Settlement, field: Field) -> &Explanation {
    s.explanations
        .iter()
        .find(|e| e.field == field)
        .expect("every amount is explained")
}

// ---- DOMAIN 1.7 worked example -----------------------------------------------------------

#[test]
fn worked_example_poor_patient_reproduces_domain_1_7_to_the_fen() {
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(&c, &poor(), &huoqiu_acc(), &huoqiu()).unwrap();
    let b = s.breakdown;
    assert_eq!(b.medfee_sumamt, y(150_000));
    assert_eq!(b.fulamt_ownpay_amt, y(10_000));
    assert_eq!(b.preselfpay_amt, y(4_000));
    assert_eq!(b.overlmt_selfpay, Fen::ZERO);
    assert_eq!(b.inscp_scp_amt, y(136_000));
    assert_eq!(b.act_pay_dedc, y(1_000));
    assert_eq!(b.hifp_pay, y(87_750));
    assert_eq!(b.pool_prop_selfpay, Bp(6_500));
    assert_eq!(b.hifmi_pay, yf(28_112, 50));
    assert_eq!(b.maf_pay, yf(14_096, 25));
    assert_eq!(b.backstop_pay, yf(1_041, 25));
    assert_eq!(b.supplement_pay, Fen::ZERO);
    assert_eq!(b.oth_pay, yf(1_041, 25));
    assert_eq!(b.fund_pay_sumamt, y(131_000));
    assert_eq!(b.psn_part_amt, y(19_000));
    assert_eq!(b.psn_cash_pay, y(19_000));
    assert!(!s.cross_region);
    let a = &s.accumulators_after;
    assert_eq!(a.critical_base, y(48_250));
    assert_eq!(
        a.backstop_oop,
        y(5_000),
        "the patient's compliant share is capped at the city tier's 5,000"
    );
    assert_eq!(a.highest_tier(), Some(InstitutionTier::City));
}

#[test]
fn worked_example_ordinary_resident_gets_no_assistance_or_backstop() {
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(&c, &ordinary(), &huoqiu_acc(), &huoqiu()).unwrap();
    let b = s.breakdown;
    assert_eq!(b.hifp_pay, y(87_750));
    assert_eq!(b.hifmi_pay, y(22_950));
    assert_eq!(b.maf_pay, Fen::ZERO);
    assert_eq!(b.oth_pay, Fen::ZERO);
    assert_eq!(b.fund_pay_sumamt, y(110_700));
    assert_eq!(b.psn_part_amt, y(39_300));
    assert_eq!(
        explanation(&s, Field::MafPay).rule,
        Rule::NotApplied(Reason::CategoryNotEligible)
    );
    assert_eq!(
        explanation(&s, Field::BackstopPay).rule,
        Rule::NotApplied(Reason::CategoryNotEligible)
    );
}

#[test]
fn every_breakdown_amount_has_an_explanation_in_words() {
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(&c, &poor(), &huoqiu_acc(), &huoqiu()).unwrap();
    let fields = [
        Field::MedfeeSumamt,
        Field::FulamtOwnpayAmt,
        Field::OverlmtSelfpay,
        Field::PreselfpayAmt,
        Field::InscpScpAmt,
        Field::ActPayDedc,
        Field::HifpPay,
        Field::CvlservPay,
        Field::HifesPay,
        Field::HifmiPay,
        Field::HifobPay,
        Field::MafPay,
        Field::HifdmPay,
        Field::OthPay,
        Field::BackstopPay,
        Field::SupplementPay,
        Field::FundPaySumamt,
        Field::HospPartAmt,
        Field::PsnPartAmt,
        Field::InsurerPay,
        Field::AcctPay,
        Field::AcctMulaidPay,
        Field::PsnCashPay,
    ];
    for f in fields {
        assert_eq!(
            s.explanations.iter().filter(|e| e.field == f).count(),
            1,
            "{f:?}"
        );
    }
    assert_eq!(
        explanation(&s, Field::HifpPay).words(),
        "hifp_pay 87750.00: basic pool: (136000.00 policy range − 1000.00 deductible) × 65.00% by level"
    );
    assert_eq!(explanation(&s, Field::HifmiPay).rate, Some(Bp(6_500)));
    assert!(
        explanation(&s, Field::BackstopPay)
            .words()
            .contains("5000.00 still open")
    );
    let lines: Vec<_> = s
        .layers
        .iter()
        .map(|l| (l.fund_pay_type.code(), l.amount))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("390100", y(87_750)),
            ("390200", yf(28_112, 50)),
            ("610100", yf(14_096, 25)),
            ("990101", yf(1_041, 25)),
        ]
    );
}

// ---- "180" ----------------------------------------------------------------------------------

fn chronic_claim(institution: &str, disease: &str, on: &str, items: Vec<ClaimItem>) -> Claim {
    let mut c = claim(
        institution,
        EncounterKind::OutpatientChronic,
        InstitutionTier::County,
        HospitalGrade::Grade2,
        on,
        items,
    );
    c.disease_code = Some(disease.into());
    c
}

fn registered(mut e: EligibilitySnapshot, disease: &str) -> EligibilitySnapshot {
    e.chronic_registrations.push(disease.into());
    e
}

#[test]
fn chronic_supplement_180_pays_80_percent_of_what_the_chronic_pool_leaves() {
    let c = chronic_claim(
        COUNTY_HOSPITAL,
        "M07900",
        "2018-09-01",
        vec![item("A-DIALYSIS", ItemClass::A, 20, y(1_000))],
    );
    let s = settle(&c, &registered(poor(), "M07900"), &huoqiu_acc(), &huoqiu()).unwrap();
    let b = s.breakdown;
    assert_eq!(b.inscp_scp_amt, y(20_000));
    assert_eq!(
        b.act_pay_dedc,
        Fen::ZERO,
        "no deductible for chronic/special diseases"
    );
    assert_eq!(b.hifp_pay, y(12_000));
    assert_eq!(b.hifmi_pay, Fen::ZERO);
    assert_eq!(b.maf_pay, Fen::ZERO);
    assert_eq!(b.backstop_pay, Fen::ZERO);
    assert_eq!(b.supplement_pay, y(6_400));
    assert_eq!(b.psn_part_amt, y(1_600));
    assert_eq!(
        s.accumulators_after.chronic_used.get("M07900"),
        Some(&y(12_000))
    );
}

#[test]
fn backstop_extended_to_chronic_outpatient_runs_before_the_180_supplement() {
    let mut p = huoqiu();
    if let Some(b) = p.backstop.as_mut() {
        b.encounter_kinds.push(EncounterKind::OutpatientChronic);
    }
    let c = chronic_claim(
        COUNTY_HOSPITAL,
        "M07900",
        "2018-09-01",
        vec![item("A-DIALYSIS", ItemClass::A, 20, y(1_000))],
    );
    let s = settle(&c, &registered(poor(), "M07900"), &huoqiu_acc(), &p).unwrap();
    // 8,000 left; county cap 3,000 → backstop 5,000; "180" 80% of 3,000 = 2,400; patient 600.
    assert_eq!(s.breakdown.backstop_pay, y(5_000));
    assert_eq!(s.breakdown.supplement_pay, y(2_400));
    assert_eq!(s.breakdown.psn_part_amt, y(600));
    assert_eq!(
        s.accumulators_after.backstop_oop,
        y(600),
        "the cap counts what the person finally pays"
    );
}

#[test]
fn chronic_claim_without_registration_is_refused() {
    let c = chronic_claim(
        COUNTY_HOSPITAL,
        "M07900",
        "2018-09-01",
        vec![item("A", ItemClass::A, 1, y(100))],
    );
    let e = settle(&c, &poor(), &huoqiu_acc(), &huoqiu()).unwrap_err();
    assert_eq!(e.code(), "SETTLEMENT_CHRONIC_NOT_REGISTERED");
    let c = chronic_claim(
        COUNTY_HOSPITAL,
        "M99999",
        "2018-09-01",
        vec![item("A", ItemClass::A, 1, y(100))],
    );
    let e = settle(&c, &registered(poor(), "M99999"), &huoqiu_acc(), &huoqiu()).unwrap_err();
    assert_eq!(e.code(), "SETTLEMENT_UNKNOWN_DISEASE");
}

// ---- caps -------------------------------------------------------------------------------------

#[test]
fn basic_pool_stops_at_the_annual_cap_and_the_rest_flows_to_critical_illness() {
    let mut a = huoqiu_acc();
    a.pool_paid = y(299_000);
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(&c, &ordinary(), &a, &huoqiu()).unwrap();
    assert_eq!(s.breakdown.hifp_pay, y(1_000));
    assert_eq!(explanation(&s, Field::HifpPay).limit, Some(y(1_000)));
    assert_eq!(s.layers[0].limit_remaining, Some(Fen::ZERO));
    // 135,000 compliant self-pay, threshold 10,000: 50,000 × 60% + 50,000 × 70% + 25,000 × 80%.
    assert_eq!(s.breakdown.hifmi_pay, y(30_000 + 35_000 + 20_000));
}

#[test]
fn critical_illness_stops_at_its_cap_for_ordinary_residents() {
    let mut a = huoqiu_acc();
    a.critical_base = y(400_000);
    a.critical_paid = y(299_000);
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(&c, &ordinary(), &a, &huoqiu()).unwrap();
    assert_eq!(s.breakdown.hifmi_pay, y(1_000));
    assert_eq!(explanation(&s, Field::HifmiPay).limit, Some(y(1_000)));
}

#[test]
fn critical_illness_has_no_cap_for_the_poor() {
    let mut a = huoqiu_acc();
    a.critical_base = y(400_000);
    a.critical_paid = y(299_000);
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(&c, &poor(), &a, &huoqiu()).unwrap();
    // All 48,250 lie in the top band (above 100,000 over the threshold): 80% + 5 points.
    assert_eq!(s.breakdown.hifmi_pay, Fen(4_825_000).at_rate(Bp(8_500)));
    assert_eq!(s.breakdown.hifmi_pay, yf(41_012, 50));
}

#[test]
fn jiaozhou_halves_the_threshold_and_adds_five_points_but_keeps_the_cap() {
    let p = policy("370281-2019-resident");
    let e = elig("370281", &[PersonCategory::PovertyRegistered]);
    let c = claim(
        "H37028100001",
        EncounterKind::Inpatient,
        InstitutionTier::County,
        HospitalGrade::Grade2,
        "2019-05-05",
        vec![item("A", ItemClass::A, 1, y(60_500))],
    );
    let s = settle(&c, &e, &acc(2019, "370281"), &p).unwrap();
    // deductible 500; rate 80% + 5 (category tilt) = 85% → 51,000; self-pay 9,500.
    assert_eq!(s.breakdown.hifp_pay, y(51_000));
    // threshold 16,000 halved = 8,000: (9,500 − 8,000) × (60% + 5) = 975.
    assert_eq!(s.breakdown.hifmi_pay, y(975));
    let mut a = acc(2019, "370281");
    a.critical_base = y(100_000);
    a.critical_paid = y(399_500);
    let s = settle(&c, &e, &a, &p).unwrap();
    assert_eq!(
        s.breakdown.hifmi_pay,
        y(500),
        "Jiaozhou keeps the 400,000 cap for the poor"
    );
}

#[test]
fn assistance_stops_at_its_annual_limit_and_the_backstop_takes_the_rest() {
    let mut a = huoqiu_acc();
    a.assistance_paid = y(45_000);
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(&c, &poor(), &a, &huoqiu()).unwrap();
    assert_eq!(s.breakdown.maf_pay, y(5_000));
    assert_eq!(s.breakdown.backstop_pay, yf(10_137, 50));
    assert_eq!(s.breakdown.psn_part_amt, y(19_000));
}

#[test]
fn low_income_assistance_has_an_annual_deductible() {
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(
        &c,
        &elig("341522", &[PersonCategory::LowIncome]),
        &huoqiu_acc(),
        &huoqiu(),
    )
    .unwrap();
    // 48,250 − 22,950 = 25,300 left; (25,300 − 2,000) × 50% = 11,650.
    assert_eq!(s.breakdown.maf_pay, y(11_650));
    assert_eq!(s.accumulators_after.assistance_deductible_used, y(2_000));
}

#[test]
fn backstop_cap_follows_the_highest_tier_visited_in_the_year() {
    let p = huoqiu();
    let e = poor();
    // County hospital: cap 3,000.
    let c1 = huoqiu_inpatient(
        COUNTY_HOSPITAL,
        InstitutionTier::County,
        "2018-03-01",
        vec![item("A", ItemClass::A, 1, y(100_000))],
    );
    let s1 = settle(&c1, &e, &huoqiu_acc(), &p).unwrap();
    assert_eq!(s1.breakdown.backstop_pay, yf(639, 37));
    assert_eq!(s1.breakdown.psn_part_amt, y(3_000));
    // City hospital: the cap rises to 5,000, so 2,000 more is the patient's.
    let c2 = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-05-01",
        vec![item("A", ItemClass::A, 1, y(60_000))],
    );
    let s2 = settle(&c2, &e, &s1.accumulators_after, &p).unwrap();
    assert_eq!(s2.breakdown.backstop_pay, yf(239, 12));
    assert_eq!(s2.breakdown.psn_part_amt, y(2_000));
    // Back at the county hospital: the city cap still applies and is used up.
    let c3 = huoqiu_inpatient(
        COUNTY_HOSPITAL,
        InstitutionTier::County,
        "2018-07-01",
        vec![item("A", ItemClass::A, 1, y(10_000))],
    );
    let s3 = settle(&c3, &e, &s2.accumulators_after, &p).unwrap();
    assert_eq!(
        s3.breakdown.act_pay_dedc,
        y(250),
        "third admission: repeat-admission deductible"
    );
    assert_eq!(s3.breakdown.backstop_pay, yf(282, 19));
    assert_eq!(s3.breakdown.psn_part_amt, Fen::ZERO);
    assert_eq!(s3.accumulators_after.backstop_oop, y(5_000));
    assert_eq!(
        s3.accumulators_after.highest_tier(),
        Some(InstitutionTier::City)
    );
}

#[test]
fn poor_household_outpatient_pool_is_the_210_policy_300_yuan_of_cost_at_70_percent() {
    let p = huoqiu();
    let visit = |inst: &str, kind, amount: i64| {
        claim(
            inst,
            kind,
            InstitutionTier::Township,
            HospitalGrade::Grade1,
            "2018-04-04",
            vec![item("A", ItemClass::A, 1, y(amount))],
        )
    };
    // One visit of 500 yuan: 70% would be 350, but the year's 300 yuan of eligible cost at
    // 70% is 210, all the pool ever pays.
    let big = settle(
        &visit(TOWNSHIP_CLINIC, EncounterKind::GeneralOutpatient, 500),
        &poor(),
        &huoqiu_acc(),
        &p,
    )
    .unwrap();
    assert_eq!(big.breakdown.hifp_pay, y(210));
    assert_eq!(big.breakdown.psn_part_amt, y(290));
    assert_eq!(big.layers[0].limit_remaining, Some(Fen::ZERO));
    let s1 = settle(
        &visit(TOWNSHIP_CLINIC, EncounterKind::GeneralOutpatient, 200),
        &poor(),
        &huoqiu_acc(),
        &p,
    )
    .unwrap();
    assert_eq!(s1.breakdown.hifp_pay, y(140));
    let s2 = settle(
        &visit(HUOQIU_PHARMACY, EncounterKind::Pharmacy, 400),
        &poor(),
        &s1.accumulators_after,
        &p,
    )
    .unwrap();
    assert_eq!(s2.breakdown.hifp_pay, y(70), "only 70 of the 210 is left");
    assert_eq!(s2.layers[0].limit_remaining, Some(Fen::ZERO));
    let s3 = settle(
        &visit(TOWNSHIP_CLINIC, EncounterKind::GeneralOutpatient, 100),
        &poor(),
        &s2.accumulators_after,
        &p,
    )
    .unwrap();
    assert_eq!(s3.breakdown.hifp_pay, Fen::ZERO);
    assert_eq!(s3.breakdown.psn_part_amt, y(100));
    assert_eq!(
        s1.breakdown.hifp_pay.0 + s2.breakdown.hifp_pay.0 + s3.breakdown.hifp_pay.0,
        y(210).0,
        "300 yuan of cost at 70% in the year"
    );
    let s4 = settle(
        &visit(TOWNSHIP_CLINIC, EncounterKind::GeneralOutpatient, 100),
        &ordinary(),
        &huoqiu_acc(),
        &p,
    )
    .unwrap();
    assert_eq!(s4.breakdown.hifp_pay, Fen::ZERO);
    assert_eq!(
        explanation(&s4, Field::HifpPay).rule,
        Rule::NotApplied(Reason::CategoryNotEligible)
    );
}

#[test]
fn qinghai_lists_its_26_unified_chronic_and_special_diseases_with_caps_of_3000_to_20000_or_100000_as_inpatient()
 {
    let p = policy("630000-2021-resident");
    assert_eq!(p.chronic_diseases.len(), 26);
    let (inpatient, outpatient): (Vec<_>, Vec<_>) = p
        .chronic_diseases
        .iter()
        .partition(|d| d.settle_as_inpatient);
    assert_eq!(
        inpatient.len(),
        4,
        "haemophilia and the other major diseases"
    );
    assert!(inpatient.iter().all(|d| d.annual_cap == y(100_000)));
    assert!(inpatient.iter().any(|d| d.code == "M02200"));
    assert_eq!(outpatient.len(), 22);
    assert!(
        outpatient
            .iter()
            .all(|d| (y(3_000)..=y(20_000)).contains(&d.annual_cap))
    );
    assert_eq!(
        outpatient.iter().map(|d| d.annual_cap).min(),
        Some(y(3_000))
    );
    assert_eq!(
        outpatient.iter().map(|d| d.annual_cap).max(),
        Some(y(20_000))
    );
    let mut codes: Vec<&str> = p.chronic_diseases.iter().map(|d| d.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), 26);
}

#[test]
fn qinghai_chronic_disease_stops_at_its_annual_cap() {
    let p = policy("630000-2021-resident");
    let e = registered(elig("630102", &[]), "M03900");
    let c = chronic_claim(
        "H63010200001",
        "M03900",
        "2021-03-03",
        vec![item("A", ItemClass::A, 1, y(5_000))],
    );
    let s1 = settle(&c, &e, &acc(2021, "630102"), &p).unwrap();
    assert_eq!(
        s1.breakdown.hifp_pay,
        y(3_000),
        "70% of 5,000 is 3,500, capped at 3,000"
    );
    let s2 = settle(&c, &e, &s1.accumulators_after, &p).unwrap();
    assert_eq!(s2.breakdown.hifp_pay, Fen::ZERO);
    assert_eq!(s2.breakdown.psn_part_amt, y(5_000));
}

#[test]
fn qinghai_haemophilia_is_settled_as_inpatient_with_a_100000_cap() {
    let p = policy("630000-2021-resident");
    let e = registered(elig("630102", &[]), "M02200");
    let mut c = chronic_claim(
        "H63010200001",
        "M02200",
        "2021-03-03",
        vec![item("A-FACTOR-VIII", ItemClass::A, 100, y(2_000))],
    );
    c.grade = HospitalGrade::Grade3;
    let s = settle(&c, &e, &acc(2021, "630102"), &p).unwrap();
    assert_eq!(s.breakdown.act_pay_dedc, Fen::ZERO);
    assert_eq!(
        s.breakdown.hifp_pay,
        y(100_000),
        "65% of 200,000 is 130,000, capped at 100,000"
    );
    // Critical illness as for inpatients: 91,000 above the 9,000 threshold, two bands.
    assert_eq!(s.breakdown.hifmi_pay, y(30_000 + 28_700));
}

#[test]
fn commercial_supplement_pays_after_its_deductible_and_stops_at_its_cap() {
    let p = policy("442000-2022-resident");
    let mut e = elig("442000", &[]);
    e.supplement_products.push("BAK-2022".into());
    let c = claim(
        "H44200000001",
        EncounterKind::Inpatient,
        InstitutionTier::City,
        HospitalGrade::Grade3,
        "2022-04-04",
        vec![item("A", ItemClass::A, 1, y(300_000))],
    );
    let s = settle(&c, &e, &acc(2022, "442000"), &p).unwrap();
    let b = s.breakdown;
    assert_eq!(b.hifp_pay, y(208_950));
    assert_eq!(b.hifmi_pay, y(42_630));
    assert_eq!(b.psn_part_amt, y(48_420));
    assert_eq!(b.insurer_pay, y(19_894), "(48,420 − 20,000) × 70%");
    assert_eq!(b.psn_cash_pay, y(28_526));
    assert_eq!(b.fund_pay_sumamt, y(251_580), "the insurer is not a fund");
    let line = s
        .layers
        .iter()
        .find(|l| l.layer == Layer::Commercial)
        .unwrap();
    assert_eq!(line.fund_pay_type.code(), "990201");
    let mut a = acc(2022, "442000");
    a.supplements.insert(
        "BAK-2022".into(),
        SupplementUse {
            deductible_used: y(20_000),
            paid: y(995_000),
        },
    );
    let s = settle(&c, &e, &a, &p).unwrap();
    assert_eq!(s.breakdown.insurer_pay, y(5_000));
    let e2 = elig("442000", &[]);
    let s = settle(&c, &e2, &acc(2022, "442000"), &p).unwrap();
    assert_eq!(s.breakdown.insurer_pay, Fen::ZERO, "not purchased");
}

#[test]
fn employees_critical_layer_is_the_large_amount_subsidy() {
    let p = policy("442000-2022-employee");
    let mut e = elig("442000", &[]);
    e.scheme = Scheme::Employee;
    let c = claim(
        "H44200000001",
        EncounterKind::Inpatient,
        InstitutionTier::City,
        HospitalGrade::Grade3,
        "2022-04-04",
        vec![item("A", ItemClass::A, 1, y(300_000))],
    );
    let s = settle(&c, &e, &acc(2022, "442000"), &p).unwrap();
    // (300,000 − 1,500) × 85% = 253,725; self-pay 46,275; (46,275 − 30,000) × 90% = 14,647.50.
    assert_eq!(s.breakdown.hifp_pay, y(253_725));
    assert_eq!(s.breakdown.hifob_pay, yf(14_647, 50));
    assert_eq!(s.breakdown.hifmi_pay, Fen::ZERO);
    assert_eq!(s.layers[0].fund_pay_type.code(), "310100");
    assert_eq!(s.layers[1].fund_pay_type.code(), "330100");
}

// ---- deductibles ------------------------------------------------------------------------------

#[test]
fn annual_deductible_is_consumed_once_across_two_claims() {
    let mut p = huoqiu();
    p.basic.deductible_basis = DeductibleBasis::Annual;
    for d in &mut p.basic.deductibles {
        d.repeat_admission = None;
    }
    p.validate().unwrap();
    let c1 = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-02-01",
        vec![item("A", ItemClass::A, 1, y(600))],
    );
    let s1 = settle(&c1, &ordinary(), &huoqiu_acc(), &p).unwrap();
    assert_eq!(s1.breakdown.act_pay_dedc, y(600));
    assert_eq!(s1.breakdown.hifp_pay, Fen::ZERO);
    let c2 = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-08-01",
        vec![item("A", ItemClass::A, 1, y(10_000))],
    );
    let s2 = settle(&c2, &ordinary(), &s1.accumulators_after, &p).unwrap();
    assert_eq!(
        s2.breakdown.act_pay_dedc,
        y(400),
        "only what is left of the 1,000"
    );
    assert_eq!(s2.breakdown.hifp_pay, y(6_240));
    let s3 = settle(&c2, &ordinary(), &s2.accumulators_after, &p).unwrap();
    assert_eq!(s3.breakdown.act_pay_dedc, Fen::ZERO);
}

#[test]
fn repeat_admissions_pay_the_lower_deductible() {
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-02-01",
        vec![item("A", ItemClass::A, 1, y(10_000))],
    );
    let s1 = settle(&c, &ordinary(), &huoqiu_acc(), &huoqiu()).unwrap();
    assert_eq!(s1.breakdown.act_pay_dedc, y(1_000));
    let s2 = settle(&c, &ordinary(), &s1.accumulators_after, &huoqiu()).unwrap();
    assert_eq!(s2.breakdown.act_pay_dedc, y(500));
}

#[test]
fn extreme_poverty_pays_no_deductible_in_jiaozhou() {
    let p = policy("370281-2019-resident");
    let c = claim(
        "H37028100001",
        EncounterKind::Inpatient,
        InstitutionTier::County,
        HospitalGrade::Grade2,
        "2019-05-05",
        vec![item("A", ItemClass::A, 1, y(10_000))],
    );
    let s = settle(
        &c,
        &elig("370281", &[PersonCategory::ExtremePoverty]),
        &acc(2019, "370281"),
        &p,
    )
    .unwrap();
    assert_eq!(s.breakdown.act_pay_dedc, Fen::ZERO);
    assert_eq!(s.breakdown.hifp_pay, y(8_000));
}

// ---- cross-region -----------------------------------------------------------------------------

#[test]
fn cross_region_uses_treatment_catalogue_and_insured_region_policy() {
    let b = bundle();
    let insured = region("341522");
    let p = b
        .find(&insured, Scheme::Resident, date("2018-10-10"))
        .unwrap();
    assert_eq!(p.id, "341522-2018-resident");
    let mut qingdao = Catalogue::new(region("370200"));
    qingdao.upsert(CatalogueEntry {
        national_code: "XB0001".into(),
        class: ItemClass::B,
        payment_standard: Some(y(80)),
        preselfpay_share: None,
    });
    qingdao.upsert(CatalogueEntry {
        national_code: "XA0001".into(),
        class: ItemClass::A,
        payment_standard: None,
        preselfpay_share: None,
    });
    let mut anhui = Catalogue::new(region("340000"));
    anhui.upsert(CatalogueEntry {
        national_code: "XA0001".into(),
        class: ItemClass::A,
        payment_standard: None,
        preselfpay_share: None,
    });
    let raw = huoqiu_inpatient(
        "H37020200001",
        InstitutionTier::City,
        "2018-10-10",
        vec![
            item("XB0001", ItemClass::C, 10, y(100)),
            item("XA0001", ItemClass::C, 1, y(50_000)),
        ],
    );
    let mut e = poor();
    e.cross_region_filing = Some(CrossRegionFiling::OtherTemporary);
    let s = settle(&apply_catalogue(&raw, &qingdao), &e, &huoqiu_acc(), p).unwrap();
    assert!(s.cross_region);
    assert_eq!(s.treatment_region, region("370202"));
    assert_eq!(s.policy_id, "341522-2018-resident");
    // Qingdao's catalogue: XB0001 乙类 with a standard of 80: 200 above standard, 80 first self-pay.
    assert_eq!(s.breakdown.overlmt_selfpay, y(200));
    assert_eq!(s.breakdown.preselfpay_amt, y(80));
    assert_eq!(s.breakdown.inscp_scp_amt, y(50_720));
    // Huoqiu's policy: city deductible 1,000, 65% less 10 points for temporary care elsewhere.
    assert_eq!(s.breakdown.act_pay_dedc, y(1_000));
    assert_eq!(s.breakdown.pool_prop_selfpay, Bp(5_500));
    assert_eq!(s.breakdown.hifp_pay, y(27_346));
    assert_eq!(s.breakdown.backstop_pay, Fen::ZERO);
    assert_eq!(
        explanation(&s, Field::BackstopPay).rule,
        Rule::NotApplied(Reason::OutOfProvince)
    );
    // The same bill under the insured region's catalogue would put XB0001 out of catalogue.
    let home = settle(&apply_catalogue(&raw, &anhui), &e, &huoqiu_acc(), p).unwrap();
    assert_eq!(home.breakdown.fulamt_ownpay_amt, y(1_000));
}

#[test]
fn bundle_finds_the_most_specific_policy_in_force() {
    let b = bundle();
    let p = b
        .find(&region("630102"), Scheme::Resident, date("2021-06-01"))
        .unwrap();
    assert_eq!(p.id, "630000-2021-resident");
    assert!(
        b.find(&region("630102"), Scheme::Resident, date("2022-06-01"))
            .is_none()
    );
    assert!(
        b.find(&region("341522"), Scheme::Employee, date("2018-06-01"))
            .is_none()
    );
}

// ---- reversal and refunds -----------------------------------------------------------------------

#[test]
fn full_reversal_restores_accumulators_exactly() {
    let mut before = huoqiu_acc();
    before.pool_paid = y(12_345);
    before.critical_base = y(3_000);
    before.tier_visits.insert(InstitutionTier::County, 1);
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(&c, &poor(), &before, &huoqiu()).unwrap();
    assert_ne!(s.accumulators_after, before);
    let restored = apply_delta(&s.accumulators_after, &reverse(&s).unwrap()).unwrap();
    assert_eq!(restored, before);
}

#[test]
fn reversal_after_a_later_claim_leaves_only_the_later_claims_counters() {
    let p = huoqiu();
    let a0 = huoqiu_acc();
    let first = settle(
        &huoqiu_inpatient(
            CITY_HOSPITAL,
            InstitutionTier::City,
            "2018-03-01",
            worked_example_items(),
        ),
        &poor(),
        &a0,
        &p,
    )
    .unwrap();
    let later = settle(
        &huoqiu_inpatient(
            COUNTY_HOSPITAL,
            InstitutionTier::County,
            "2018-04-01",
            vec![item("A", ItemClass::A, 1, y(8_000))],
        ),
        &poor(),
        &first.accumulators_after,
        &p,
    )
    .unwrap();
    let after_reversal = apply_delta(&later.accumulators_after, &reverse(&first).unwrap()).unwrap();
    assert_eq!(after_reversal, apply_delta(&a0, &later.delta).unwrap());
    assert_eq!(after_reversal.highest_tier(), Some(InstitutionTier::County));
}

#[test]
fn reversing_twice_is_refused() {
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(&c, &poor(), &huoqiu_acc(), &huoqiu()).unwrap();
    let once = apply_delta(&s.accumulators_after, &reverse(&s).unwrap()).unwrap();
    let e = apply_delta(&once, &reverse(&s).unwrap()).unwrap_err();
    assert_eq!(e.code(), "SETTLEMENT_ACCUMULATOR_UNDERFLOW");
}

#[test]
fn refunding_an_out_of_catalogue_item_gives_back_only_the_patients_money() {
    let p = huoqiu();
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(&c, &poor(), &huoqiu_acc(), &p).unwrap();
    let r = refund_items(&s, &c, &[0], &poor(), &s.accumulators_after, &p).unwrap();
    assert_eq!(r.refund.psn_part_amt, y(10_000));
    assert_eq!(r.refund.fund_pay_sumamt, Fen::ZERO);
    assert_eq!(r.accumulators_after, s.accumulators_after);
}

#[test]
fn refunding_an_item_resettles_the_rest_against_the_counters_before_the_claim() {
    let p = huoqiu();
    let a0 = huoqiu_acc();
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let s = settle(&c, &poor(), &a0, &p).unwrap();
    let r = refund_items(&s, &c, &[1], &poor(), &s.accumulators_after, &p).unwrap();
    let mut rest = c.clone();
    rest.items.remove(1);
    let direct = settle(&rest, &poor(), &a0, &p).unwrap();
    assert_eq!(
        r.settlement.as_ref().map(|x| x.breakdown),
        Some(direct.breakdown)
    );
    assert_eq!(r.accumulators_after, direct.accumulators_after);
    assert_eq!(r.refund.medfee_sumamt, y(40_000));
    let full = refund_items(&s, &c, &[0, 1, 2], &poor(), &s.accumulators_after, &p).unwrap();
    assert!(full.settlement.is_none());
    assert_eq!(full.accumulators_after, a0);
    let bad = refund_items(&s, &c, &[7], &poor(), &s.accumulators_after, &p).unwrap_err();
    assert_eq!(
        bad,
        EngineError::InvalidClaim(vec![FieldError::new("items[7]", "no such item")])
    );
}

// ---- validation ---------------------------------------------------------------------------------

#[test]
fn icd10_medical_insurance_codes_follow_the_domain_pattern() {
    for ok in [
        "I10.x00x002",
        "E14.900x001",
        "R68.800x001",
        "K75.000",
        "N19.x03",
        "J98.414",
        "A00.000",
        "A00.0",
    ] {
        assert!(is_icd10_medical_insurance_code(ok), "{ok}");
    }
    for bad in [
        "I10",
        "i10.x00",
        "I10.",
        "I10.x0000",
        "I1O.000",
        "I10.000x01",
        "I10.000y001",
        "96.7201",
    ] {
        assert!(!is_icd10_medical_insurance_code(bad), "{bad}");
    }
}

#[test]
fn claim_errors_name_the_field_path() {
    let mut c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    c.items[1].quantity = 0;
    c.items[2].amount = y(1);
    c.diagnoses = vec!["I10.x00x002".into(), "hypertension".into()];
    let e = settle(&c, &poor(), &huoqiu_acc(), &huoqiu()).unwrap_err();
    let EngineError::InvalidClaim(errors) = &e else {
        panic!("{e:?}")
    };
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["diagnoses[1]", "items[1].quantity", "items[2].amount"]
    );
    assert_eq!(e.code(), "SETTLEMENT_CLAIM_INVALID");
}

#[test]
fn amounts_above_the_claim_limit_are_refused_naming_each_field() {
    let limits = ClaimLimits::new(y(1_000_000), 1_000, ("max", "qty")).unwrap();
    let mut c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    // At the limit is fine, and the defaults take DOMAIN §1.7's bill.
    c.items[2] = item("A-CLASS-SERVICES", ItemClass::A, 1, y(1_000_000));
    c.items[0] = item("C-OUT-OF-CATALOGUE", ItemClass::C, 1, Fen::ZERO);
    c.items[1] = item("B-CLASS-DRUGS", ItemClass::B, 1, Fen::ZERO);
    assert_eq!(validate_claim_within(&c, &limits), Ok(()));
    let worked = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    assert_eq!(
        validate_claim_within(&worked, &ClaimLimits::default()),
        Ok(())
    );
    // One fen above on a line, a unit price, a quantity, a payment standard.
    c.items[2] = item("A-CLASS-SERVICES", ItemClass::A, 1, Fen(y(1_000_000).0 + 1));
    c.items[0] = item("C-OUT-OF-CATALOGUE", ItemClass::C, 1_001, Fen(1));
    c.items[1].payment_standard = Some(Fen(y(1_000_000).0 + 1));
    let Err(ClaimError::Invalid(errors)) = validate_claim_within(&c, &limits) else {
        panic!("accepted")
    };
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "items[0].quantity",
            "items[1].payment_standard",
            "items[2].unit_price",
            "items[2].amount",
            "items",
        ]
    );
    assert!(errors[3].message.contains("1000000.00 yuan"), "{errors:?}");
    // Lines each within the limit whose total is not.
    let half = item("A-CLASS-SERVICES", ItemClass::A, 1, y(600_000));
    c.items = vec![half.clone(), half];
    let Err(ClaimError::Invalid(errors)) = validate_claim_within(&c, &limits) else {
        panic!("accepted")
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "items");
    assert!(errors[0].message.contains("1200000.00 yuan"), "{errors:?}");
    // Lines near i64::MAX whose sum overflows: refused as above the limit, never wrapped.
    let huge = ClaimItem {
        amount: Fen(i64::MAX / 2 + 1),
        unit_price: Fen(i64::MAX / 2 + 1),
        ..item("A-CLASS-SERVICES", ItemClass::A, 1, Fen(1))
    };
    c.items = vec![huge.clone(), huge];
    let Err(ClaimError::Invalid(errors)) = validate_claim_within(&c, &ClaimLimits::default())
    else {
        panic!("accepted")
    };
    let total = errors.iter().find(|e| e.path == "items").unwrap();
    assert!(total.message.contains("more than i64 fen"), "{total:?}");
    // The engine alone (no limits) still refuses what would overflow, with its own error.
    assert_eq!(
        settle(&c, &poor(), &huoqiu_acc(), &huoqiu()).unwrap_err(),
        EngineError::Overflow
    );
}

#[test]
fn claim_limits_must_be_positive_and_keep_price_times_quantity_inside_i64() {
    let keys = ("settlement.max_claim_fen", "settlement.max_item_quantity");
    assert_eq!(
        ClaimLimits::new(Fen(10_000_000_000), 1_000_000, keys),
        Ok(ClaimLimits::DEFAULT)
    );
    assert_eq!(
        ClaimLimits::new(Fen(0), 1, keys).unwrap_err().path,
        "settlement.max_claim_fen"
    );
    assert_eq!(
        ClaimLimits::new(Fen(1), -1, keys).unwrap_err().path,
        "settlement.max_item_quantity"
    );
    let e = ClaimLimits::new(Fen(i64::MAX / 10), 11, keys).unwrap_err();
    assert_eq!(e.path, "settlement.max_item_quantity");
    assert!(e.message.contains("overflows"), "{e:?}");
}

#[test]
fn policy_errors_name_the_field_path() {
    let mut p = huoqiu();
    if let Some(ci) = p.critical_illness.as_mut() {
        ci.bands[0].rate = Bp(12_000);
        ci.bands[2].up_to = Some(y(1));
    }
    p.basic.rates[1].rate = Bp(10_001);
    p.chronic_diseases[1].code = "M03900".into();
    let Err(PolicyError::Invalid(errors)) = p.validate() else {
        panic!("must be invalid")
    };
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "basic.rates[1].rate",
            "chronic_diseases[1].code",
            "critical_illness.bands[0].rate",
            "critical_illness.bands[2].up_to",
        ]
    );
}

#[test]
fn bundle_errors_are_prefixed_with_the_document() {
    let mut b = bundle();
    b.policies[2].preselfpay_share = Bp(20_000);
    let text = serde_json::to_string(&b).unwrap();
    let Err(PolicyError::Invalid(errors)) = PolicyBundle::from_json(&text) else {
        panic!("must be invalid")
    };
    assert_eq!(errors[0].path, "policies[2].preselfpay_share");
    let e = PolicyBundle::from_json(r#"{"policies":[{"id":"x","surprise":1}]}"#).unwrap_err();
    assert_eq!(e.code(), "SETTLEMENT_POLICY_PARSE");
}

#[test]
fn policy_documents_round_trip_through_json() {
    for p in bundle().policies {
        let again = PolicyDocument::from_json(&p.to_json().unwrap()).unwrap();
        assert_eq!(again, p);
    }
}

#[test]
fn settlement_refuses_a_policy_or_accumulators_of_another_person_year() {
    let c = huoqiu_inpatient(
        CITY_HOSPITAL,
        InstitutionTier::City,
        "2018-06-15",
        worked_example_items(),
    );
    let e = settle(&c, &poor(), &acc(2019, "341522"), &huoqiu()).unwrap_err();
    assert_eq!(e, EngineError::AccumulatorMismatch("year"));
    let e = settle(&c, &elig("370281", &[]), &acc(2018, "370281"), &huoqiu()).unwrap_err();
    assert_eq!(e.code(), "SETTLEMENT_POLICY_MISMATCH");
    let mut emp = poor();
    emp.scheme = Scheme::Employee;
    assert!(matches!(
        settle(&c, &emp, &huoqiu_acc(), &huoqiu()),
        Err(EngineError::PolicyMismatch {
            field: "scheme",
            ..
        })
    ));
}

#[test]
fn above_standard_price_is_paid_by_the_patient() {
    let mut it = item("DRUG-NON-WINNING", ItemClass::A, 3, y(50));
    it.payment_standard = Some(y(20));
    let s = split_item(&it, Bp(1_000)).unwrap();
    assert_eq!(s.overlmt_selfpay, y(90));
    assert_eq!(s.inscp_scp_amt, y(60));
    let mut b = item("DRUG-B", ItemClass::B, 1, yf(0, 15));
    b.preselfpay_share = Some(Bp(5_000));
    let s = split_item(&b, Bp(1_000)).unwrap();
    assert_eq!(
        (s.preselfpay_amt, s.inscp_scp_amt),
        (Fen(8), Fen(7)),
        "half-up: 7.5 fen → 8"
    );
}

// ---- properties ---------------------------------------------------------------------------------

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arb_item() -> impl Strategy<Value = ClaimItem> {
        (
            0u8..3,
            1i64..50,
            0i64..2_000_000,
            proptest::option::of(0i64..2_000_000),
            proptest::option::of(0u32..=10_000),
        )
            .prop_map(|(class, qty, price, std, share)| {
                let class = [ItemClass::A, ItemClass::B, ItemClass::C][usize::from(class)];
                let mut it = item("X", class, qty, Fen(price));
                it.payment_standard = std.map(Fen);
                it.preselfpay_share = share.map(Bp);
                it
            })
    }

    fn arb_categories() -> impl Strategy<Value = Vec<PersonCategory>> {
        proptest::sample::subsequence(
            vec![
                PersonCategory::PovertyRegistered,
                PersonCategory::MinimumLiving,
                PersonCategory::ExtremePoverty,
                PersonCategory::LowIncome,
            ],
            0..=3,
        )
    }

    /// One of the default policies with its numbers perturbed.
    fn arb_policy() -> impl Strategy<Value = PolicyDocument> {
        (
            0usize..5,
            0u32..=10_000,
            0i64..5_000_000,
            0u32..=10_000,
            0i64..3_000_000,
            0u32..=10_000,
            0i64..20_000_000,
        )
            .prop_map(|(i, rate, threshold, band, cap, supp_rate, pool_cap)| {
                let mut p = bundle().policies.swap_remove(i);
                for r in &mut p.basic.rates {
                    r.rate = Bp(rate);
                }
                if pool_cap > 0 {
                    p.basic.annual_cap = Some(Fen(pool_cap));
                }
                if let Some(ci) = p.critical_illness.as_mut() {
                    ci.threshold = Fen(threshold);
                    ci.bands[0].rate = Bp(band);
                }
                if let Some(b) = p.backstop.as_mut() {
                    for t in &mut b.tier_caps {
                        t.cap = Fen(cap);
                    }
                    b.encounter_kinds.push(EncounterKind::OutpatientChronic);
                }
                for s in &mut p.supplements {
                    s.rate = Bp(supp_rate);
                    s.covers_out_of_catalogue = supp_rate % 2 == 0;
                }
                for d in &mut p.chronic_diseases {
                    d.annual_cap = Fen(cap.max(1));
                }
                p
            })
    }

    fn arb_case()
    -> impl Strategy<Value = (Claim, EligibilitySnapshot, Accumulators, PolicyDocument)> {
        (
            arb_policy(),
            proptest::collection::vec(arb_item(), 1..30),
            arb_categories(),
            0u8..5,
            0usize..4,
            0i64..50_000_000,
            0i64..5_000_000,
            any::<bool>(),
        )
            .prop_map(
                |(p, items, categories, kind, tier, used_base, used_paid, cross)| {
                    let kind = [
                        EncounterKind::Inpatient,
                        EncounterKind::GeneralOutpatient,
                        EncounterKind::OutpatientChronic,
                        EncounterKind::Maternity,
                        EncounterKind::Inpatient,
                    ][usize::from(kind)];
                    let insured = p.region.clone();
                    let on = NaiveDate::from_ymd_opt(p.year, 6, 15).unwrap_or_default();
                    let inst = if cross {
                        "H11010100001".to_string()
                    } else {
                        format!("H{}00001", insured.as_str())
                    };
                    let level_tier = InstitutionTier::ALL[tier];
                    let grade = [
                        HospitalGrade::Grade1,
                        HospitalGrade::Grade2,
                        HospitalGrade::Grade3,
                        HospitalGrade::Grade3,
                    ][tier];
                    let disease = p.chronic_diseases.first().map(|d| d.code.clone());
                    let kind = if kind == EncounterKind::OutpatientChronic && disease.is_none() {
                        EncounterKind::Inpatient
                    } else {
                        kind
                    };
                    let mut c = claim(
                        &inst,
                        kind,
                        level_tier,
                        grade,
                        &on.format("%Y-%m-%d").to_string(),
                        items,
                    );
                    c.disease_code = disease.clone();
                    let mut e = elig(insured.as_str(), &categories);
                    e.scheme = p.scheme;
                    e.chronic_registrations = disease.into_iter().collect();
                    e.supplement_products = p.supplements.iter().map(|s| s.code.clone()).collect();
                    e.cross_region_filing = if cross {
                        Some(CrossRegionFiling::OtherTemporary)
                    } else {
                        None
                    };
                    let mut a = Accumulators::new(p.year, insured);
                    a.critical_base = Fen(used_base);
                    a.critical_paid = Fen(used_paid);
                    a.pool_paid = Fen(used_paid);
                    a.backstop_oop = Fen(used_paid / 3);
                    (c, e, a, p)
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn layers_add_up_to_the_total_and_nothing_is_negative((c, e, a, p) in arb_case()) {
            let s = settle(&c, &e, &a, &p).unwrap();
            let b = s.breakdown;
            let payers = Fen::sum([b.hifp_pay, b.hifmi_pay, b.hifob_pay, b.maf_pay, b.backstop_pay, b.supplement_pay, b.insurer_pay, b.psn_cash_pay]).unwrap();
            prop_assert_eq!(payers, b.medfee_sumamt);
            prop_assert_eq!(
                Fen::sum([b.fulamt_ownpay_amt, b.overlmt_selfpay, b.preselfpay_amt, b.inscp_scp_amt]).unwrap(),
                b.medfee_sumamt
            );
            for f in [b.fulamt_ownpay_amt, b.overlmt_selfpay, b.preselfpay_amt, b.inscp_scp_amt, b.act_pay_dedc, b.hifp_pay,
                      b.hifmi_pay, b.hifob_pay, b.maf_pay, b.oth_pay, b.fund_pay_sumamt, b.psn_part_amt, b.insurer_pay, b.psn_cash_pay] {
                prop_assert!(!f.is_negative());
            }
            for l in &s.layers {
                prop_assert!(!l.amount.is_negative() && !l.base.is_negative());
            }
            prop_assert!(b.fund_pay_sumamt <= b.inscp_scp_amt);
            let restored = apply_delta(&s.accumulators_after, &reverse(&s).unwrap()).unwrap();
            prop_assert_eq!(restored, a);
        }

        #[test]
        fn settlement_is_deterministic((c, e, a, p) in arb_case()) {
            prop_assert_eq!(settle(&c, &e, &a, &p).unwrap(), settle(&c, &e, &a, &p).unwrap());
        }
    }
}

// ---- a month's sums ---------------------------------------------------------------------

#[test]
fn two_claims_near_half_of_i64_do_not_wrap_an_institutions_statement() {
    let big = Breakdown {
        medfee_sumamt: Fen(5_000_000_000_000_000_000),
        fulamt_ownpay_amt: Fen(5_000_000_000_000_000_000),
        psn_part_amt: Fen(5_000_000_000_000_000_000),
        psn_cash_pay: Fen(5_000_000_000_000_000_000),
        ..Breakdown::default()
    };
    let mut st = StatementTotals::default();
    st.add_settlement(&big, true).unwrap();
    assert_eq!(st.net.medfee_sumamt, Fen(5_000_000_000_000_000_000));
    let before = st.clone();
    assert_eq!(st.add_settlement(&big, true), Err(MoneyOverflow));
    // A refund of one and the second claim again: back inside i64, the figure is exact.
    let mut st = before;
    st.add_refund(&big).unwrap();
    st.add_settlement(&big, true).unwrap();
    assert_eq!(
        (st.claims, st.reversals, st.net.medfee_sumamt),
        (2, 1, Fen(5_000_000_000_000_000_000))
    );
    // Taking off more than i64 can go below zero is refused too.
    let mut st = StatementTotals::default();
    st.add_refund(&big).unwrap();
    assert_eq!(st.add_refund(&big), Err(MoneyOverflow));
}

#[test]
fn the_ledger_fold_refuses_sums_beyond_i64_and_reports_discrepancies() {
    let lines = |v: &[(&str, i64)]| -> std::collections::BTreeMap<String, i64> {
        v.iter().map(|(k, x)| (k.to_string(), *x)).collect()
    };
    let near = 5_000_000_000_000_000_000;
    let mut fold = LedgerFold::default();
    fold.claim(
        "c1",
        &lines(&[("390100", near)]),
        &lines(&[("390100", near)]),
    )
    .unwrap();
    fold.line(near, 0).unwrap();
    fold.line(0, near).unwrap();
    assert_eq!(
        fold.claim(
            "c2",
            &lines(&[("390100", near)]),
            &lines(&[("390100", near)])
        ),
        Err(MoneyOverflow)
    );
    assert_eq!(fold.line(near, 0), Err(MoneyOverflow));
    // A claims' total far below the ledger's: the difference itself is out of range.
    let mut fold = LedgerFold::default();
    fold.claim(
        "c1",
        &lines(&[("390100", -near)]),
        &lines(&[("390100", near)]),
    )
    .unwrap();
    assert_eq!(fold.finish(), Err(MoneyOverflow));
    // A fold that stays in range: fund totals, a missing ledger line and a line without a
    // settlement are discrepancies; unequal debits and credits unbalance the double entry.
    let mut fold = LedgerFold::default();
    fold.claim(
        "c1",
        &lines(&[("390100", 700), ("610100", 50)]),
        &lines(&[("390100", 700)]),
    )
    .unwrap();
    fold.claim("c2", &lines(&[]), &lines(&[("390200", 9)]))
        .unwrap();
    fold.line(709, 700).unwrap();
    assert_eq!(fold.discrepancies_found(), 2);
    let (funds, discrepancies, balanced) = fold.finish().unwrap();
    let fund = |code: &str, claims_total, ledger_total, difference| FundTotal {
        fund_pay_type: code.into(),
        claims_total,
        ledger_total,
        difference,
    };
    assert_eq!(
        funds,
        vec![
            fund("390100", 700, 700, 0),
            fund("390200", 0, 9, 9),
            fund("610100", 50, 0, -50),
        ]
    );
    assert_eq!(
        discrepancies,
        vec![
            Discrepancy {
                claim_id: "c1".into(),
                fund_pay_type: "610100".into(),
                expected: 50,
                recorded: 0
            },
            Discrepancy {
                claim_id: "c2".into(),
                fund_pay_type: "390200".into(),
                expected: 0,
                recorded: 9
            },
        ]
    );
    assert!(!balanced);
    // Fund lines of a breakdown added with a sign are checked too.
    let mut into = std::collections::BTreeMap::new();
    let b = Breakdown {
        hifp_pay: Fen(i64::MAX),
        ..Breakdown::default()
    };
    month::add_fund_lines(&mut into, Scheme::Resident, &b, 1).unwrap();
    assert_eq!(
        month::add_fund_lines(&mut into, Scheme::Resident, &b, 1),
        Err(MoneyOverflow)
    );
    let min = Breakdown {
        hifp_pay: Fen(i64::MIN),
        ..Breakdown::default()
    };
    assert_eq!(
        month::add_fund_lines(
            &mut std::collections::BTreeMap::new(),
            Scheme::Resident,
            &min,
            -1
        ),
        Err(MoneyOverflow)
    );
}

#[test]
fn an_insurers_month_is_summed_checked_and_payable_is_paid_less_disputed() {
    let mut fold = InsurerFold::default();
    fold.layer("BAK", 1_000, 200).unwrap();
    fold.layer("BAK", 500, 0).unwrap();
    fold.layer("ZS", 70, 70).unwrap();
    let t = fold.finish().unwrap();
    assert_eq!((t.paid, t.disputed, t.payable), (1_570, 270, 1_300));
    assert_eq!(
        t.products
            .iter()
            .map(|p| (p.product_code.as_str(), p.claims))
            .collect::<Vec<_>>(),
        vec![("BAK", 2), ("ZS", 1)]
    );
    let near = 5_000_000_000_000_000_000;
    let mut fold = InsurerFold::default();
    fold.layer("BAK", near, 0).unwrap();
    assert_eq!(fold.layer("BAK", near, 0), Err(MoneyOverflow));
    // Each product within i64, their total beyond it.
    let mut fold = InsurerFold::default();
    fold.layer("A", near, 0).unwrap();
    fold.layer("B", near, 0).unwrap();
    assert_eq!(fold.finish(), Err(MoneyOverflow));
}
