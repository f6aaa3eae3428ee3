//! Specification tests of the procurement domain: one behaviour each, exact amounts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use proptest::prelude::*;
use yibao_core::{Bp, Fen, InstitutionCode};

use super::*;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn inst(n: u32) -> InstitutionCode {
    InstitutionCode::parse(&format!("H442000{n:05}")).unwrap()
}

/// A valid western-drug code whose company segment is `n`.
fn drug(n: u32) -> ItemCode {
    ItemCode::parse(ItemKind::WesternDrug, &format!("XC10AAA001A0010101{n:05}")).unwrap()
}

fn service(code: &str) -> ItemCode {
    ItemCode::parse(ItemKind::ServiceItem, code).unwrap()
}

fn group(id: &str, ceiling: i64) -> Group {
    Group {
        id: id.into(),
        generic_name: format!("generic-{id}"),
        specification: "20mg".into(),
        highest_valid_price: Fen(ceiling),
    }
}

fn bid(group_id: &str, manufacturer: u32, unit_price: i64) -> Bid {
    Bid {
        group_id: group_id.into(),
        manufacturer: format!("M{manufacturer:03}"),
        item_code: drug(manufacturer),
        unit_price: Fen(unit_price),
        declared_price: Fen(unit_price * 28),
    }
}

fn demand(group_id: &str, institution: u32, quantity: u64) -> Demand {
    Demand {
        group_id: group_id.into(),
        institution: inst(institution),
        quantity,
    }
}

fn round(groups: Vec<Group>, bids: Vec<Bid>, demands: Vec<Demand>) -> Round {
    Round {
        id: "R10".into(),
        rules: RoundRules::national_default(),
        groups,
        bids,
        demands,
    }
}

fn result_of(g: &GroupOutcome, manufacturer: u32) -> &BidResult {
    g.bids
        .iter()
        .find(|b| b.manufacturer == format!("M{manufacturer:03}"))
        .unwrap()
}

// ---------------------------------------------------------------- catalogue

#[test]
fn domain_example_codes_of_each_kind_are_accepted() {
    assert!(ItemCode::parse(ItemKind::WesternDrug, "XA01ABD075A002010100483").is_ok());
    assert!(ItemCode::parse(ItemKind::ChinesePatentMedicine, "ZA04CAE0023010100166").is_ok());
    assert!(ItemCode::parse(ItemKind::ServiceItem, "001102000050000").is_ok());
    assert!(ItemCode::parse(ItemKind::Consumable, "C0301010010000012345").is_ok());
    assert!(ItemCode::parse(ItemKind::Reagent, "C14010105000000501500000063").is_ok());
    let (kind, code) = ItemCode::parse_any(" XA01ABD075A002010100483 ").unwrap();
    assert_eq!(
        (kind, code.drug_company_segment()),
        (ItemKind::WesternDrug, Some("00483"))
    );
}

#[test]
fn drug_code_with_a_letter_where_a_digit_belongs_names_the_position() {
    // Position 10 is the last digit of the generic-name segment `D075`.
    assert_eq!(
        ItemCode::parse(ItemKind::WesternDrug, "XA01ABD07AA002010100483"),
        Err(CodeError::Character { position: 10 })
    );
    assert_eq!(
        ItemCode::parse(ItemKind::ChinesePatentMedicine, "ZA04CA10023010100166"),
        Err(CodeError::Character { position: 7 })
    );
}

#[test]
fn codes_of_the_wrong_length_are_refused_with_the_lengths_allowed() {
    assert_eq!(
        ItemCode::parse(ItemKind::WesternDrug, "XA01ABD075A00201010048"),
        Err(CodeError::Length {
            expected: vec![23],
            got: 22
        })
    );
    assert_eq!(
        ItemCode::parse(ItemKind::Consumable, "C123"),
        Err(CodeError::Length {
            expected: vec![20, 27],
            got: 4
        })
    );
    assert_eq!(
        ItemCode::parse(ItemKind::ServiceItem, "00110200005000A"),
        Err(CodeError::Character { position: 15 })
    );
}

const CATALOGUE_CSV: &str = "\
code,kind,generic_name,dosage_form,specification,manufacturer,class,negotiated,valid_from,valid_to
XA01ABD075A002010100483,drug,地喹氯铵含片,含片,\"0.25mg, 24片/盒\",Maker A,甲,false,2020-01-01,
ZA04CAE0023010100166,中成药,儿童清肺口服液,口服液,10ml,Maker B,乙,否,2020-01-01,2022-12-31
XA01ABD075A00201010048,drug,bad code,片剂,1mg,Maker C,甲,false,2020-01-01,
002504030100000,service_item,病原体核糖核酸扩增定性检测,,项,,丁,false,2020-13-01,
C0301010010000012345,consumable,人工髋关节,,套,Maker D,乙,false,2021-01-01,2020-12-31
XA01ABD075A002010100483,drug,duplicate,含片,1mg,Maker A,甲,false,2020-01-01,
C0301010010000012346,reagent,核酸检测试剂盒,,人份,Maker E,乙,false,2020-01-01
";

#[test]
fn catalogue_import_keeps_good_rows_and_reports_each_bad_field_with_its_line() {
    let import = parse_catalogue_csv(CATALOGUE_CSV);
    let codes: Vec<&str> = import.entries.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["XA01ABD075A002010100483", "ZA04CAE0023010100166"]);
    assert_eq!(import.entries[0].specification, "0.25mg, 24片/盒");
    assert_eq!(import.entries[1].kind, ItemKind::ChinesePatentMedicine);
    assert_eq!(import.entries[1].valid_to, Some(date("2022-12-31")));
    let errors: Vec<(usize, &str)> = import
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (4, "code"),
            (5, "class"),
            (5, "valid_from"),
            (6, "valid_to"),
            (7, "code"),
            (8, "")
        ],
        "{:#?}",
        import.errors
    );
    assert_eq!(import.errors[0].reason, "must be 23 characters, got 22");
    assert_eq!(
        import.errors[4].reason,
        "duplicate of line 2 (same code, region and valid_from)"
    );
    assert_eq!(import.errors[5].reason, "has 9 fields, the header has 10");
}

#[test]
fn catalogue_file_without_a_required_column_is_refused_as_a_whole() {
    let import = parse_catalogue_csv("code,kind,generic_name\nXA01ABD075A002010100483,drug,x\n");
    assert!(import.entries.is_empty());
    let fields: Vec<&str> = import.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["specification", "class", "valid_from"]);
    assert!(import.errors.iter().all(|e| e.line == 1));
}

#[test]
fn a_quoted_field_may_span_lines_and_line_numbers_follow_the_file() {
    let csv = "code,kind,generic_name,specification,class,valid_from\n\
               001102000050000,service_item,\"住院\n诊查费\",日,甲,2020-01-01\n\
               00110200005000,service_item,x,日,甲,2020-01-01\n";
    let import = parse_catalogue_csv(csv);
    assert_eq!(import.entries[0].generic_name, "住院\n诊查费");
    assert_eq!(
        (import.errors[0].line, import.errors[0].field.as_str()),
        (4, "code")
    );
}

#[test]
fn catalogue_entry_validity_and_upsert() {
    let import = parse_catalogue_csv(CATALOGUE_CSV);
    let mut catalogue = Catalogue::new();
    for e in import.entries {
        assert_eq!(catalogue.upsert(e), Ok(None));
    }
    let z = ItemCode::parse(ItemKind::ChinesePatentMedicine, "ZA04CAE0023010100166").unwrap();
    assert!(catalogue.get_on(&z, date("2022-12-31")).is_some());
    assert!(catalogue.get_on(&z, date("2023-01-01")).is_none());
    let mut negotiated_consumable = catalogue.get(&z).unwrap().clone();
    negotiated_consumable.kind = ItemKind::Consumable;
    negotiated_consumable.negotiated = true;
    let problems = catalogue.upsert(negotiated_consumable).unwrap_err();
    assert_eq!(problems[0].field, "negotiated");
}

/// County, city and province of a county code.
fn chain_of(county: &str) -> Vec<String> {
    vec![
        county.to_string(),
        format!("{}00", &county[..4]),
        format!("{}0000", &county[..2]),
    ]
}

/// A version of a drug in force from `from` (open-ended).
fn version(code: &ItemCode, class: InsuranceClass, from: &str) -> CatalogueEntry {
    CatalogueEntry {
        code: code.clone(),
        kind: ItemKind::WesternDrug,
        generic_name: "阿帕他胺片".into(),
        dosage_form: "片剂".into(),
        specification: "60mg".into(),
        manufacturer: "药企".into(),
        class,
        negotiated: false,
        valid_from: date(from),
        valid_to: None,
        preselfpay_share: None,
        payment_standard: None,
        restrictions: Restrictions::default(),
    }
}

#[test]
fn the_restriction_columns_are_parsed_and_each_bad_one_is_named() {
    let csv = "code,kind,generic_name,dosage_form,specification,manufacturer,class,negotiated,valid_from,region_code,preselfpay_share_bp,payment_standard_fen,sex,min_age,max_age,min_institution_grade,indication,indication_diagnoses,max_days_supply\n\
XL02BBA326A001010102180,drug,阿帕他胺片,片剂,60mg,M,乙,true,2025-01-01,,1000,9900,男,18,,二级,限前列腺癌,C61;D07.5,30\n\
XL02BBA326A001010102181,drug,阿帕他胺片,片剂,60mg,M,甲,false,2025-01-01,341522,500,0,X,-1,200,4,,i10,0\n\
XL02BBA326A001010102182,drug,阿帕他胺片,片剂,60mg,M,丙,false,2025-01-01,34152,,,F,,,,,,\n";
    let import = parse_catalogue_csv(csv);
    assert_eq!(import.entries.len(), 1, "{:#?}", import.errors);
    let e = &import.entries[0];
    assert_eq!(e.preselfpay_share, Some(Bp(1000)));
    assert_eq!(e.payment_standard, Some(Fen(9900)));
    assert!(e.negotiated);
    assert_eq!(
        e.restrictions,
        Restrictions {
            sex: Some(yibao_core::Sex::Male),
            min_age: Some(18),
            max_age: None,
            min_institution_grade: Some(2),
            indication: "限前列腺癌".into(),
            indication_diagnoses: vec!["C61".into(), "D07.5".into()],
            max_days_supply: Some(30),
        }
    );
    assert_eq!(
        import.origins[0],
        RowOrigin {
            line: 2,
            region: None
        }
    );
    let errors: Vec<(usize, &str)> = import
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (3, "sex"),
            (3, "min_age"),
            (3, "min_institution_grade"),
            (4, "region_code"),
        ],
        "{:#?}",
        import.errors
    );
    // With the unparsable columns fixed, the coherence checks name theirs.
    let csv = "code,kind,generic_name,dosage_form,specification,manufacturer,class,valid_from,preselfpay_share_bp,payment_standard_fen,min_age,max_age,min_institution_grade,indication_diagnoses,max_days_supply\n\
XL02BBA326A001010102181,drug,x,片剂,60mg,M,甲,2025-01-01,500,0,20,10,,i10,0\n\
XL02BBA326A001010102182,drug,x,片剂,60mg,M,丙,2025-01-01,,,,,2,,\n\
XL02BBA326A001010102183,drug,x,片剂,60mg,M,乙,2025-01-01,10001,,,151,,,\n";
    let import = parse_catalogue_csv(csv);
    assert!(import.entries.is_empty());
    let errors: Vec<(usize, &str)> = import
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (2, "preselfpay_share_bp"),
            (2, "payment_standard_fen"),
            (2, "max_age"),
            (2, "indication_diagnoses"),
            (2, "max_days_supply"),
            (3, "min_institution_grade"),
            (4, "preselfpay_share_bp"),
            (4, "max_age"),
        ],
        "{:#?}",
        import.errors
    );
    assert_eq!(
        import.errors[0].reason,
        "only 乙类 entries have a first self-pay share"
    );
    assert_eq!(
        import.errors[5].reason,
        "a 丙类 entry is paid by the patient in full and has no payment restrictions"
    );
}

#[test]
fn the_example_of_the_published_format_parses_as_documented() {
    let doc = include_str!("../../../../docs/catalogue-format.md");
    let start = doc.find("```csv\n").expect("a csv example") + "```csv\n".len();
    let csv = &doc[start..start + doc[start..].find("```").expect("its end")];
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header, CATALOGUE_COLUMNS,
        "the example names every column in order"
    );
    for col in CATALOGUE_COLUMNS {
        assert!(
            doc.contains(&format!("| `{col}` |")),
            "column {col} is explained"
        );
    }
    let import = parse_catalogue_csv(csv);
    assert!(import.errors.is_empty(), "{:#?}", import.errors);
    assert_eq!(import.entries.len(), 4);
    assert!(import.entries[0].negotiated);
    assert_eq!(import.entries[0].restrictions.max_days_supply, Some(30));
    assert_eq!(import.entries[1].restrictions.max_age, Some(17));
    assert_eq!(import.origins[3].region.as_deref(), Some("341522"));
    assert_eq!(import.entries[3].preselfpay_share, Some(Bp(500)));
}

#[test]
fn one_code_may_have_several_versions_in_a_file_but_not_two_from_the_same_day() {
    let csv = "code,kind,generic_name,specification,class,valid_from,valid_to,region_code\n\
001102000050000,service_item,住院诊查费,日,甲,2025-01-01,2025-12-31,\n\
001102000050000,service_item,住院诊查费,日,乙,2026-01-01,,\n\
001102000050000,service_item,住院诊查费,日,甲,2026-01-01,,341522\n\
001102000050000,service_item,住院诊查费,日,甲,2026-01-01,,\n";
    let import = parse_catalogue_csv(csv);
    assert_eq!(import.entries.len(), 3);
    assert_eq!(import.origins[2].region.as_deref(), Some("341522"));
    assert_eq!(
        (import.errors[0].line, import.errors[0].field.as_str()),
        (5, "code")
    );
}

#[test]
fn a_later_version_ends_the_open_one_a_same_day_version_replaces_and_overlaps_are_refused() {
    let code = drug(1);
    let mut history = Vec::new();
    let v2025 = version(&code, InsuranceClass::B, "2025-01-01");
    assert_eq!(
        apply_version(&mut history, v2025.clone()),
        Ok(VersionChange::Created { closed: None })
    );
    assert_eq!(
        apply_version(&mut history, v2025.clone()),
        Ok(VersionChange::Unchanged),
        "an identical repeat changes nothing"
    );
    let v2026 = version(&code, InsuranceClass::A, "2026-07-01");
    assert_eq!(
        apply_version(&mut history, v2026.clone()),
        Ok(VersionChange::Created {
            closed: Some(v2025.clone())
        })
    );
    assert_eq!(history[0].valid_to, Some(date("2026-06-30")));
    let corrected = CatalogueEntry {
        preselfpay_share: None,
        generic_name: "阿帕他胺片(更正)".into(),
        ..v2026.clone()
    };
    assert_eq!(
        apply_version(&mut history, corrected.clone()),
        Ok(VersionChange::Replaced {
            before: v2026.clone()
        })
    );
    // Between two versions, a version must fit the gap.
    let inside = CatalogueEntry {
        valid_to: Some(date("2027-01-01")),
        ..version(&code, InsuranceClass::A, "2026-03-01")
    };
    let err = apply_version(&mut history, inside).unwrap_err();
    assert_eq!(err.existing_from, date("2026-07-01"));
    assert_eq!(
        err.to_string(),
        "2026-03-01–2027-01-01 overlaps the version valid 2026-07-01–open-ended"
    );
    let inside_2025 = CatalogueEntry {
        valid_to: Some(date("2026-01-31")),
        ..version(&code, InsuranceClass::A, "2025-06-01")
    };
    assert_eq!(
        apply_version(&mut history, inside_2025)
            .unwrap_err()
            .to_string(),
        "2025-06-01–2026-01-31 overlaps the version valid 2025-01-01–2026-06-30"
    );
    let before_all = version(&code, InsuranceClass::A, "2024-01-01");
    assert!(
        apply_version(&mut history, before_all).is_err(),
        "an open-ended version before an existing one overlaps it"
    );
    let fits = CatalogueEntry {
        valid_to: Some(date("2024-12-31")),
        ..version(&code, InsuranceClass::A, "2024-01-01")
    };
    assert_eq!(
        apply_version(&mut history, fits),
        Ok(VersionChange::Created { closed: None })
    );
    assert_eq!(history.len(), 3);
    assert_eq!(history[2], corrected);
}

#[test]
fn resolution_takes_the_most_specific_region_in_force_and_an_unknown_code_is_c() {
    let code = drug(2);
    let versions = vec![
        RegionVersion {
            region: "340000".into(),
            entry: CatalogueEntry {
                valid_to: Some(date("2025-12-31")),
                preselfpay_share: Some(Bp(1000)),
                payment_standard: Some(Fen(500)),
                ..version(&code, InsuranceClass::B, "2025-01-01")
            },
        },
        RegionVersion {
            region: "340000".into(),
            entry: CatalogueEntry {
                negotiated: true,
                ..version(&code, InsuranceClass::B, "2026-01-01")
            },
        },
        RegionVersion {
            region: "341522".into(),
            entry: version(&code, InsuranceClass::A, "2026-07-01"),
        },
    ];
    let county = chain_of("341522");
    let other_county = chain_of("341502");
    let ctx = ResolveContext::default();
    let line = LineQuery {
        code: code.as_str(),
        days_supply: None,
    };
    let r = resolve_line(&versions, &county, date("2025-06-01"), &ctx, &line, None);
    assert_eq!(
        (r.class, r.preselfpay_share, r.payment_standard),
        (
            InsuranceClass::B,
            Some(Bp(1000)),
            Some((Fen(500), StandardSource::Catalogue))
        )
    );
    let r = resolve_line(
        &versions,
        &county,
        date("2025-06-01"),
        &ctx,
        &line,
        Some(Fen(450)),
    );
    assert_eq!(
        r.payment_standard,
        Some((Fen(450), StandardSource::PaymentStandard)),
        "procurement's standard in force wins over the version's"
    );
    let r = resolve_line(&versions, &county, date("2026-03-01"), &ctx, &line, None);
    assert_eq!((r.class, r.negotiated), (InsuranceClass::B, true));
    let r = resolve_line(&versions, &county, date("2026-07-01"), &ctx, &line, None);
    assert_eq!(r.class, InsuranceClass::A, "the county's own version wins");
    assert_eq!(r.version.unwrap().region, "341522");
    let r = resolve_line(
        &versions,
        &other_county,
        date("2026-07-01"),
        &ctx,
        &line,
        None,
    );
    assert_eq!(
        r.class,
        InsuranceClass::B,
        "another county keeps the province's"
    );
    let r = resolve_line(&versions, &county, date("2024-12-31"), &ctx, &line, None);
    assert_eq!((r.class, r.version), (InsuranceClass::C, None));
    let unknown = LineQuery {
        code: "ZZZ-NOT-IN-ANY-CATALOGUE",
        days_supply: None,
    };
    let r = resolve_line(
        &[],
        &county,
        date("2026-03-01"),
        &ctx,
        &unknown,
        Some(Fen(1)),
    );
    assert_eq!(
        (r.class, r.payment_standard, r.violations.len()),
        (InsuranceClass::C, None, 0)
    );
    assert_eq!(
        r.explanation,
        "`ZZZ-NOT-IN-ANY-CATALOGUE` is in no catalogue in force on 2026-03-01 in 341522, 341500, 340000: 丙类, paid by the patient in full"
    );
}

#[test]
fn each_restriction_is_violated_met_or_unchecked_by_the_facts_given() {
    let code = drug(3);
    let restricted = Restrictions {
        sex: Some(yibao_core::Sex::Male),
        min_age: Some(18),
        max_age: Some(80),
        min_institution_grade: Some(2),
        indication: "限前列腺癌".into(),
        indication_diagnoses: vec!["C61".into()],
        max_days_supply: Some(30),
    };
    let versions = vec![RegionVersion {
        region: "340000".into(),
        entry: CatalogueEntry {
            restrictions: restricted,
            ..version(&code, InsuranceClass::B, "2025-01-01")
        },
    }];
    let chain = chain_of("341522");
    let on = date("2026-01-01");
    let line = |days| LineQuery {
        code: code.as_str(),
        days_supply: days,
    };
    let kinds = |r: &Resolved| r.violations.iter().map(|v| v.kind).collect::<Vec<_>>();
    // Nothing given: nothing violated, everything unchecked.
    let r = resolve_line(
        &versions,
        &chain,
        on,
        &ResolveContext::default(),
        &line(None),
        None,
    );
    assert!(r.violations.is_empty());
    assert_eq!(
        r.unchecked,
        [
            RestrictionKind::Sex,
            RestrictionKind::Age,
            RestrictionKind::InstitutionGrade,
            RestrictionKind::Indication,
            RestrictionKind::DaysSupply
        ]
    );
    // Every fact meeting its restriction.
    let fits = ResolveContext {
        institution_grade: Some(2),
        sex: Some(yibao_core::Sex::Male),
        age: Some(18),
        diagnoses: vec!["I10.x00x002".into(), "C61.x00".into()],
    };
    let r = resolve_line(&versions, &chain, on, &fits, &line(Some(30)), None);
    assert_eq!((r.violations.len(), r.unchecked.len()), (0, 0), "{r:?}");
    // Each fact on the wrong side of its restriction.
    let cases: Vec<(ResolveContext, Option<u32>, RestrictionKind, &str)> = vec![
        (
            ResolveContext {
                sex: Some(yibao_core::Sex::Female),
                ..fits.clone()
            },
            Some(30),
            RestrictionKind::Sex,
            "paid for male (男) patients only (限定性别); the person is female (女)",
        ),
        (
            ResolveContext {
                age: Some(17),
                ..fits.clone()
            },
            Some(30),
            RestrictionKind::Age,
            "paid from age 18 (限定年龄); the person is 17",
        ),
        (
            ResolveContext {
                age: Some(81),
                ..fits.clone()
            },
            Some(30),
            RestrictionKind::Age,
            "paid up to age 80 (限定年龄); the person is 81",
        ),
        (
            ResolveContext {
                institution_grade: Some(1),
                ..fits.clone()
            },
            Some(30),
            RestrictionKind::InstitutionGrade,
            "paid at grade-2 institutions and above (限定机构等级); the institution is grade 1",
        ),
        (
            ResolveContext {
                diagnoses: vec!["I10.x00x002".into()],
                ..fits.clone()
            },
            Some(30),
            RestrictionKind::Indication,
            "paid for diagnoses C61 only (限定支付范围: 限前列腺癌); the claim's diagnoses are I10.x00x002",
        ),
        (
            fits.clone(),
            Some(31),
            RestrictionKind::DaysSupply,
            "paid for at most 30 days' supply (限定支付疗程); the line supplies 31",
        ),
    ];
    for (ctx, days, kind, reason) in cases {
        let r = resolve_line(&versions, &chain, on, &ctx, &line(days), None);
        assert_eq!(kinds(&r), [kind]);
        assert_eq!(r.violations[0].reason, reason);
        assert_eq!(
            r.class,
            InsuranceClass::B,
            "the class stays; the payer decides"
        );
        assert!(r.explanation.ends_with(reason), "{}", r.explanation);
    }
    // An indication in words only is always for a person to judge.
    let words = vec![RegionVersion {
        region: "340000".into(),
        entry: CatalogueEntry {
            restrictions: Restrictions {
                indication: "限二线用药".into(),
                ..Restrictions::default()
            },
            ..version(&code, InsuranceClass::B, "2025-01-01")
        },
    }];
    let r = resolve_line(&words, &chain, on, &fits, &line(Some(30)), None);
    assert_eq!(r.unchecked, [RestrictionKind::Indication]);
}

// ---------------------------------------------------------------- selection

#[test]
fn the_brief_example_qualifies_with_its_line() {
    let r = round(
        vec![group("G1", 500)],
        vec![bid("G1", 1, 70), bid("G1", 2, 120)],
        vec![],
    );
    let out = select(&r).unwrap();
    let g = out.group("G1").unwrap();
    assert_eq!(
        result_of(g, 2).explanation,
        ["qualified: 1.20 ≤ 1.8 × 0.70 = 1.26", "won slot 2 of 2"]
    );
    assert_eq!(
        result_of(g, 1).explanation,
        ["qualified: 0.70 ≤ 1.8 × 0.70 = 1.26", "won slot 1 of 2"]
    );
}

#[test]
fn a_price_exactly_on_the_1_8_line_qualifies() {
    let out = select(&round(
        vec![group("G1", 200)],
        vec![bid("G1", 1, 70), bid("G1", 2, 126)],
        vec![],
    ))
    .unwrap();
    let b = result_of(out.group("G1").unwrap(), 2);
    assert_eq!(b.explanation[0], "qualified: 1.26 ≤ 1.8 × 0.70 = 1.26");
    assert!(matches!(
        b.status,
        BidStatus::Won {
            by: QualifiedBy::PriceRatio,
            slot: 2,
            of: 2
        }
    ));
}

#[test]
fn one_fen_above_the_1_8_line_does_not_qualify() {
    // Ceiling 2.00: a cut to 1.27 is 36.50%, short of 50%; 1.27 is above 0.10.
    let out = select(&round(
        vec![group("G1", 200)],
        vec![bid("G1", 1, 70), bid("G1", 2, 127)],
        vec![],
    ))
    .unwrap();
    let b = result_of(out.group("G1").unwrap(), 2);
    assert_eq!(b.status, BidStatus::NotQualified);
    assert_eq!(
        b.explanation,
        [
            "not qualified: 1.27 > 1.8 × 0.70 = 1.26",
            "not qualified by cut: 1.27 is 36.50% below the highest valid declared price 2.00 (< 50.00%)",
            "not qualified as low-price: 1.27 > 0.10",
        ]
    );
}

#[test]
fn the_line_is_compared_exactly_not_after_rounding() {
    // 1.8 × 0.71 = 1.278: 1.28 is above the line even though the line rounds to 1.28.
    let out = select(&round(
        vec![group("G1", 200)],
        vec![bid("G1", 1, 71), bid("G1", 2, 128)],
        vec![],
    ))
    .unwrap();
    let b = result_of(out.group("G1").unwrap(), 2);
    assert_eq!(b.explanation[0], "not qualified: 1.28 > 1.8 × 0.71 = 1.278");
}

#[test]
fn a_cut_of_half_the_highest_valid_declared_price_qualifies_above_the_line() {
    // Anchor 0.20, line 0.36; ceiling 10.00: 5.00 is a 50% cut, 5.01 is not.
    let r = round(
        vec![group("G1", 1_000)],
        vec![bid("G1", 1, 20), bid("G1", 2, 500), bid("G1", 3, 501)],
        vec![],
    );
    let g = select(&r).unwrap().groups.remove(0);
    let two = result_of(&g, 2);
    assert!(matches!(
        two.status,
        BidStatus::Won {
            by: QualifiedBy::DeepCut,
            ..
        }
    ));
    assert_eq!(
        two.explanation[1],
        "qualified by cut: 5.00 is 50.00% below the highest valid declared price 10.00 (≥ 50.00%)"
    );
    assert_eq!(result_of(&g, 3).status, BidStatus::NotQualified);
}

#[test]
fn a_unit_price_of_at_most_ten_fen_qualifies_as_low_price() {
    // Anchor 0.04, line 0.072; ceiling 0.15: 0.10 is a 33% cut only.
    let r = round(
        vec![group("G1", 15)],
        vec![bid("G1", 1, 4), bid("G1", 2, 10), bid("G1", 3, 11)],
        vec![],
    );
    let g = select(&r).unwrap().groups.remove(0);
    let two = result_of(&g, 2);
    assert!(matches!(
        two.status,
        BidStatus::Won {
            by: QualifiedBy::LowPrice,
            ..
        }
    ));
    assert_eq!(two.explanation.last().unwrap(), "won slot 2 of 2");
    assert_eq!(two.explanation[2], "qualified as low-price: 0.10 ≤ 0.10");
    assert_eq!(result_of(&g, 3).status, BidStatus::NotQualified);
}

#[test]
fn a_single_bidder_wins_the_only_slot_with_half_the_demand() {
    let r = round(
        vec![group("G1", 500)],
        vec![bid("G1", 7, 300)],
        vec![demand("G1", 1, 1_001)],
    );
    let g = select(&r).unwrap().groups.remove(0);
    assert_eq!(g.winners.len(), 1);
    assert_eq!(
        result_of(&g, 7).explanation,
        ["qualified: 3.00 ≤ 1.8 × 3.00 = 5.40", "won slot 1 of 1"]
    );
    assert_eq!(g.agreed_share, Bp(5_000));
    // 1001 × 50% = 500.5 → 501 (half-up).
    assert_eq!(g.agreed_volume, 501);
}

#[test]
fn equal_prices_are_ranked_by_declared_price_then_manufacturer_code() {
    let mut rules = RoundRules::national_default();
    rules.winners_by_qualified = vec![WinnersBand {
        min_qualified: 1,
        max_winners: 1,
    }];
    let mut a = bid("G1", 2, 100);
    let mut b = bid("G1", 1, 100);
    a.declared_price = Fen(2_700);
    b.declared_price = Fen(2_800);
    let r = Round {
        rules: rules.clone(),
        ..round(vec![group("G1", 500)], vec![b.clone(), a.clone()], vec![])
    };
    let g = select(&r).unwrap().groups.remove(0);
    assert_eq!(
        g.winners[0].manufacturer, "M002",
        "lower declared price wins the tie"
    );
    assert_eq!(
        result_of(&g, 1).explanation[1],
        "not selected: ranked 2 of 2 qualified, 1 slots"
    );

    b.declared_price = a.declared_price;
    let r = Round {
        rules,
        ..round(vec![group("G1", 500)], vec![a, b], vec![])
    };
    let g = select(&r).unwrap().groups.remove(0);
    assert_eq!(
        g.winners[0].manufacturer, "M001",
        "then the manufacturer code that sorts first"
    );
}

#[test]
fn the_winners_table_caps_slots_and_sets_the_agreed_share() {
    // Five qualified bidders → at most 4 winners → 80% of the demand.
    let bids = (1..=5).map(|m| bid("G1", m, 100 + i64::from(m))).collect();
    let r = round(vec![group("G1", 500)], bids, vec![demand("G1", 1, 1_000)]);
    let g = select(&r).unwrap().groups.remove(0);
    assert_eq!((g.qualified, g.winners.len()), (5, 4));
    assert_eq!(g.agreed_share, Bp(8_000));
    assert_eq!(g.agreed_volume, 800);
    assert_eq!(
        result_of(&g, 5).status,
        BidStatus::NotSelected {
            by: QualifiedBy::PriceRatio,
            rank: 5
        }
    );
}

#[test]
fn agreed_share_follows_the_number_of_winners() {
    let rules = RoundRules::national_default();
    let shares: Vec<u32> = (0..=6).map(|w| rules.agreed_share(w).0).collect();
    assert_eq!(shares, [0, 5_000, 6_000, 7_000, 8_000, 8_000, 8_000]);
    let winners: Vec<u32> = (0..=12).map(|q| rules.max_winners(q)).collect();
    assert_eq!(winners, [0, 1, 2, 2, 3, 4, 4, 5, 5, 6, 6, 8, 8]);
}

#[test]
fn bids_above_the_ceiling_or_without_price_are_invalid_and_do_not_anchor() {
    let r = round(
        vec![group("G1", 500)],
        vec![bid("G1", 1, 501), bid("G1", 2, 0), bid("G1", 3, 300)],
        vec![],
    );
    let g = select(&r).unwrap().groups.remove(0);
    assert_eq!(g.lowest_unit_price, Some(Fen(300)));
    assert_eq!(
        result_of(&g, 1).explanation,
        ["invalid: 5.01 is above the highest valid declared price 5.00"]
    );
    assert_eq!(result_of(&g, 2).status, BidStatus::Invalid);
    assert_eq!(g.winners.len(), 1);
}

#[test]
fn agreed_volumes_are_allocated_in_proportion_and_sum_exactly() {
    // Four qualified → three winners → 70% of 1000 = 700; quotas 233.1, 233.1, 233.8 → the
    // largest remainder takes the unit left over.
    let bids = (1..=4).map(|m| bid("G1", m, 100)).collect();
    let demands = vec![
        demand("G1", 3, 334),
        demand("G1", 1, 333),
        demand("G1", 2, 333),
    ];
    let g = select(&round(vec![group("G1", 500)], bids, demands))
        .unwrap()
        .groups
        .remove(0);
    let agreed: Vec<u64> = g.allocations.iter().map(|a| a.agreed_volume).collect();
    assert_eq!(g.agreed_volume, 700);
    assert_eq!(agreed, [233, 233, 234]);
}

#[test]
fn equal_remainders_go_to_the_institution_that_sorts_first() {
    assert_eq!(allocate_largest_remainder(2, &[1, 1, 1]), [1, 1, 0]);
    assert_eq!(allocate_largest_remainder(0, &[0, 0]), [0, 0]);
}

#[test]
fn demand_reports_of_one_institution_add_up() {
    let r = round(
        vec![group("G1", 500)],
        vec![bid("G1", 1, 100)],
        vec![
            demand("G1", 1, 100),
            demand("G1", 1, 50),
            demand("G1", 2, 50),
        ],
    );
    let g = select(&r).unwrap().groups.remove(0);
    let got: Vec<(u64, u64)> = g
        .allocations
        .iter()
        .map(|a| (a.demand, a.agreed_volume))
        .collect();
    assert_eq!(got, [(150, 75), (50, 25)]);
}

#[test]
fn an_inconsistent_round_is_refused_with_a_stable_code() {
    let dup = round(
        vec![group("G1", 500)],
        vec![bid("G1", 1, 100), bid("G1", 1, 90)],
        vec![],
    );
    assert_eq!(
        select(&dup).unwrap_err().code(),
        "PROCUREMENT_DUPLICATE_BID"
    );
    let unknown = round(vec![group("G1", 500)], vec![bid("G2", 1, 100)], vec![]);
    assert_eq!(
        select(&unknown).unwrap_err(),
        SelectionError::UnknownGroup {
            group_id: "G2".into()
        }
    );
    let mut bad_rules = round(vec![], vec![], vec![]);
    bad_rules.rules.agreed_share_by_winners.clear();
    assert_eq!(
        select(&bad_rules).unwrap_err().code(),
        "PROCUREMENT_INVALID_ROUND_RULES"
    );
}

fn sample_round() -> Round {
    let groups = (0..6).map(|g| group(&format!("G{g}"), 1_000)).collect();
    let mut bids = Vec::new();
    let mut demands = Vec::new();
    for g in 0..6u32 {
        for m in 0..(g + 1) * 2 {
            // Prices with ties, some above the line, one above the ceiling.
            bids.push(bid(
                &format!("G{g}"),
                m,
                100 + i64::from((m * 37 + g * 11) % 150) + i64::from(m % 3) * 400,
            ));
        }
        for i in 0..5 {
            demands.push(demand(&format!("G{g}"), i, u64::from(100 + i * 17 + g)));
        }
    }
    round(groups, bids, demands)
}

#[test]
fn the_outcome_does_not_depend_on_input_order() {
    let r = sample_round();
    let expected = select(&r).unwrap();
    let mut reversed = r.clone();
    reversed.groups.reverse();
    reversed.bids.reverse();
    reversed.demands.reverse();
    assert_eq!(select(&reversed).unwrap(), expected);
}

proptest! {
    #[test]
    fn any_permutation_of_the_input_gives_the_same_outcome(
        bids in Just(sample_round().bids).prop_shuffle(),
        demands in Just(sample_round().demands).prop_shuffle(),
    ) {
        let r = sample_round();
        let expected = select(&r).unwrap();
        let shuffled = Round { bids, demands, ..r };
        prop_assert_eq!(select(&shuffled).unwrap(), expected);
    }

    #[test]
    fn largest_remainder_sums_exactly_and_stays_within_one_of_the_quota(
        total in 0u64..1_000_000,
        weights in proptest::collection::vec(0u64..100_000, 1..40),
    ) {
        prop_assume!(weights.iter().any(|w| *w > 0));
        let shares = allocate_largest_remainder(total, &weights);
        prop_assert_eq!(shares.iter().sum::<u64>(), total);
        let sum: u128 = weights.iter().map(|w| u128::from(*w)).sum();
        for (s, w) in shares.iter().zip(&weights) {
            let floor = u128::from(total) * u128::from(*w) / sum;
            prop_assert!(u128::from(*s) == floor || u128::from(*s) == floor + 1);
        }
    }
}

// ---------------------------------------------------------------- pricing

/// The seed's nucleic-acid test (病原体核糖核酸扩增定性检测): guide price 200 yuan, then 120.
fn nucleic_acid_test() -> ItemCode {
    service("002504030100000")
}

fn guide(price_yuan: i64, from: &str) -> ReferencePrice {
    ReferencePrice {
        item_code: nucleic_acid_test(),
        kind: ReferenceKind::Guide,
        price: Fen::yuan(price_yuan),
        period: Period::from(date(from)),
    }
}

fn seed_price_book() -> PriceBook {
    let mut book = PriceBook::new();
    book.set_reference(guide(200, "2020-01-01")).unwrap();
    book.set_reference(guide(120, "2020-12-01")).unwrap();
    book
}

#[test]
fn a_new_guide_price_closes_the_previous_one_the_day_before() {
    let book = seed_price_book();
    let history = book.reference_history(&nucleic_acid_test(), ReferenceKind::Guide);
    assert_eq!(
        history[0].period,
        Period::between(date("2020-01-01"), date("2020-11-30")).unwrap()
    );
    let on = |d| {
        book.reference_on(&nucleic_acid_test(), ReferenceKind::Guide, date(d))
            .map(|r| r.price)
    };
    assert_eq!(on("2020-11-30"), Some(Fen::yuan(200)));
    assert_eq!(on("2020-12-01"), Some(Fen::yuan(120)));
}

#[test]
fn a_listing_above_the_guide_price_is_refused_naming_the_reference() {
    let mut book = seed_price_book();
    let err = book
        .list(ListedPrice {
            item_code: nucleic_acid_test(),
            price: Fen::yuan(130),
            period: Period::from(date("2020-12-01")),
        })
        .unwrap_err();
    assert_eq!(err.code(), "PROCUREMENT_PRICE_ABOVE_REFERENCE");
    assert_eq!(
        err.to_string(),
        "listed price 130.00 of 002504030100000 is above the guide price (指导价) 120.00 effective from 2020-12-01"
    );
}

#[test]
fn a_listing_spanning_the_cut_is_refused_but_one_before_it_passes() {
    let mut book = seed_price_book();
    let listing = |price, period| ListedPrice {
        item_code: nucleic_acid_test(),
        price: Fen::yuan(price),
        period,
    };
    assert!(matches!(
        book.list(listing(150, Period::from(date("2020-06-01")))),
        Err(PricingError::AboveReference { reference, .. }) if reference == Fen::yuan(120)
    ));
    book.list(listing(
        150,
        Period::between(date("2020-06-01"), date("2020-11-30")).unwrap(),
    ))
    .unwrap();
    book.list(listing(120, Period::from(date("2020-12-01"))))
        .unwrap();
    assert_eq!(
        book.listed_on(&nucleic_acid_test(), date("2021-03-01"))
            .map(|l| l.price),
        Some(Fen::yuan(120))
    );
    assert!(book.listings_above_references().is_empty());
}

#[test]
fn a_listing_undercut_by_a_later_guide_price_is_reported() {
    let mut book = PriceBook::new();
    book.set_reference(guide(200, "2020-01-01")).unwrap();
    book.list(ListedPrice {
        item_code: nucleic_acid_test(),
        price: Fen::yuan(180),
        period: Period::from(date("2020-03-01")),
    })
    .unwrap();
    book.set_reference(guide(120, "2020-12-01")).unwrap();
    let above = book.listings_above_references();
    assert_eq!(above.len(), 1);
    assert_eq!(above[0].1.price, Fen::yuan(120));
}

fn standard(item: &ItemCode, fen: i64, period: Period) -> PaymentStandard {
    PaymentStandard {
        item_code: item.clone(),
        amount: Fen(fen),
        period,
        basis: "set".into(),
    }
}

#[test]
fn a_claim_date_is_priced_by_the_standard_of_its_own_date() {
    let item = drug(1);
    let mut index = PaymentStandardIndex::new();
    index
        .set(standard(&item, 300, Period::from(date("2021-01-01"))))
        .unwrap();
    index
        .set(standard(&item, 12, Period::from(date("2021-09-01"))))
        .unwrap();
    let on = |d| index.standard_on(item.as_str(), date(d)).map(|s| s.amount);
    assert_eq!(on("2020-12-31"), None);
    assert_eq!(on("2021-08-31"), Some(Fen(300)));
    assert_eq!(on("2021-09-01"), Some(Fen(12)));
    assert_eq!(
        index.history(item.as_str())[0].period.to,
        Some(date("2021-08-31"))
    );
    let batch = index.standards_on(&[item.as_str(), "unknown"], date("2021-05-01"));
    assert_eq!(
        batch
            .iter()
            .map(|s| s.map(|s| s.amount))
            .collect::<Vec<_>>(),
        [Some(Fen(300)), None]
    );
}

#[test]
fn a_standard_overlapping_a_closed_period_is_refused() {
    let item = drug(1);
    let mut index = PaymentStandardIndex::new();
    index
        .set(standard(
            &item,
            300,
            Period::between(date("2021-01-01"), date("2021-06-30")).unwrap(),
        ))
        .unwrap();
    let err = index
        .set(standard(&item, 200, Period::from(date("2021-06-01"))))
        .unwrap_err();
    assert_eq!(err.code(), "PROCUREMENT_PERIOD_OVERLAP");
    // A gap may be filled.
    index
        .set(standard(
            &item,
            250,
            Period::between(date("2020-01-01"), date("2020-12-31")).unwrap(),
        ))
        .unwrap();
    assert_eq!(
        index
            .standard_on(item.as_str(), date("2020-07-01"))
            .map(|s| s.amount),
        Some(Fen(250))
    );
}

#[test]
fn standards_are_derived_from_the_outcome_by_the_2x_and_minus_30_percent_rules() {
    // Two winners at 0.20 and 0.25: the reference is the highest, 0.25; 2 × 0.25 = 0.50.
    let r = round(
        vec![group("G1", 500)],
        vec![bid("G1", 1, 20), bid("G1", 2, 25)],
        vec![],
    );
    let outcome = select(&r).unwrap();
    let generic = "generic-G1".to_string();
    let nw = |m, price| NonWinningProduct {
        item_code: drug(m),
        generic_name: generic.clone(),
        unit_price: Fen(price),
    };
    let mut previous = PaymentStandardIndex::new();
    previous
        .set(standard(&drug(10), 80, Period::from(date("2020-01-01"))))
        .unwrap();
    previous
        .set(standard(&drug(13), 30, Period::from(date("2020-01-01"))))
        .unwrap();
    let derived = derive_standards(
        &outcome,
        &[
            nw(10, 60),
            nw(11, 50),
            nw(12, 51),
            nw(13, 100),
            NonWinningProduct {
                generic_name: "other".into(),
                ..nw(14, 90)
            },
        ],
        &previous,
        date("2021-01-01"),
        &StandardRules::national_default(),
    )
    .unwrap();
    let amounts: Vec<(String, i64, bool)> = derived
        .iter()
        .map(|d| {
            (
                d.standard.item_code.as_str()[18..].to_string(),
                d.standard.amount.0,
                d.winner,
            )
        })
        .collect();
    assert_eq!(
        amounts,
        [
            ("00001".into(), 20, true),
            ("00002".into(), 25, true),
            ("00010".into(), 56, false), // 0.60 > 0.50: previous 0.80 − 30%
            ("00011".into(), 25, false), // 0.50 ≤ 0.50: the winning price
            ("00012".into(), 36, false), // no previous standard: 0.51 − 0.15 (0.153 rounded)
            ("00013".into(), 25, false), // previous 0.30 − 30% = 0.21, floored at the winning price
        ]
    );
    assert_eq!(
        derived[2].standard.basis,
        "non-winner priced 0.60 > 2 × 0.25 = 0.50: previous standard 0.80 less 30.00% = 0.56"
    );
    assert_eq!(
        derived[3].standard.basis,
        "non-winner priced 0.50 ≤ 2 × 0.25 = 0.50: winning price 0.25"
    );
}

#[test]
fn joints_prices_fell_82_percent_on_average() {
    let cut = |category: &str, item, before, after, quantity| PriceCutInput {
        round_id: "joints-2021".into(),
        category: category.into(),
        item_code: ItemCode::parse(ItemKind::Consumable, item).unwrap(),
        before: Fen::yuan(before),
        after: Fen::yuan(after),
        quantity,
    };
    let stats = price_cut_statistics(&[
        // 人工髋关节 about 7,000 yuan, 人工膝关节 about 5,000 yuan after the round.
        cut("joint", "C0301010010000000001", 38_889, 7_000, 300),
        cut("joint", "C0301010010000000002", 27_778, 5_000, 500),
        cut("stent", "C0301010010000000003", 13_000, 700, 100),
    ])
    .unwrap();
    let joints = &stats[0];
    assert_eq!((joints.category.as_str(), joints.items), ("joint", 2));
    assert_eq!(joints.average_cut_bp, 8_200);
    assert_eq!(joints.weighted_cut_bp, 8_200);
    assert_eq!(joints.before_total, Fen::yuan(38_889 * 300 + 27_778 * 500));
    assert_eq!(stats[1].average_cut_bp, 9_462);
}

// ---------------------------------------------------------------- inventory

fn record(
    no: &str,
    item: &ItemCode,
    d: &str,
    movement: Movement,
    quantity: u64,
    price: i64,
) -> InventoryRecord {
    InventoryRecord {
        institution: inst(1),
        item_code: item.clone(),
        date: date(d),
        movement,
        quantity,
        unit_price: Fen(price),
        record_no: no.into(),
    }
}

fn listed_book(item: &ItemCode, price: i64) -> PriceBook {
    let mut book = PriceBook::new();
    book.list(ListedPrice {
        item_code: item.clone(),
        price: Fen(price),
        period: Period::from(date("2021-01-01")),
    })
    .unwrap();
    book
}

#[test]
fn a_sale_above_the_purchase_price_is_a_mark_up_finding() {
    let item = drug(1);
    let records = [
        record("S1", &item, "2021-03-05", Movement::Sale, 30, 1_150),
        record("P1", &item, "2021-03-01", Movement::Purchase, 100, 1_000),
    ];
    let check = check_inventory(
        &records,
        &[],
        &listed_book(&item, 1_000),
        &InventoryRules::default(),
    )
    .unwrap();
    assert_eq!(check.findings.len(), 1);
    let f = &check.findings[0];
    assert_eq!(
        (f.kind, f.record_no.as_str(), f.date, f.purchase_date),
        (
            FindingKind::MarkUp,
            "S1",
            date("2021-03-05"),
            Some(date("2021-03-01"))
        )
    );
    assert_eq!(
        (f.institution.clone(), f.quantity, f.amount),
        (inst(1), 30, Fen(4_500))
    );
    assert_eq!(
        f.explanation,
        "sold on 2021-03-05 at 11.50 above the purchase price 10.00 of 2021-03-01 (allowed mark-up 0.00%): 1.50 × 30 = 45.00"
    );
    assert_eq!(check.closing[0].quantity, 70);
    assert_eq!(check.closing[0].value, Fen(70_000));
}

#[test]
fn sales_draw_on_purchase_lots_first_in_first_out() {
    let item = drug(1);
    let records = [
        record("P1", &item, "2021-03-01", Movement::Purchase, 100, 1_000),
        record("P2", &item, "2021-03-02", Movement::Purchase, 100, 1_100),
        record("S1", &item, "2021-03-03", Movement::Sale, 150, 1_100),
    ];
    let check = check_inventory(
        &records,
        &[],
        &listed_book(&item, 1_100),
        &InventoryRules::default(),
    )
    .unwrap();
    assert_eq!(
        check.findings.len(),
        1,
        "only the 100 units bought at 10.00 are marked up"
    );
    assert_eq!(
        (check.findings[0].quantity, check.findings[0].amount),
        (100, Fen(10_000))
    );
}

#[test]
fn an_allowed_mark_up_is_not_a_finding() {
    let item = drug(1);
    let records = [
        record("P1", &item, "2021-03-01", Movement::Purchase, 10, 1_000),
        record("S1", &item, "2021-03-03", Movement::Sale, 10, 1_150),
    ];
    let rules = InventoryRules {
        allowed_markup: Bp(1_500),
    };
    let check = check_inventory(&records, &[], &listed_book(&item, 1_000), &rules).unwrap();
    assert!(check.findings.is_empty());
}

#[test]
fn a_sale_without_stock_is_a_finding_for_the_shortfall() {
    let item = drug(1);
    let opening = [OpeningStock {
        institution: inst(1),
        item_code: item.clone(),
        quantity: 5,
        unit_cost: Fen(1_000),
        as_of: date("2021-02-28"),
    }];
    let records = [record("S1", &item, "2021-03-03", Movement::Sale, 20, 1_000)];
    let check = check_inventory(
        &records,
        &opening,
        &listed_book(&item, 1_000),
        &InventoryRules::default(),
    )
    .unwrap();
    let f = &check.findings[0];
    assert_eq!(
        (f.kind, f.quantity, f.amount, f.sale_price),
        (
            FindingKind::SaleWithoutStock,
            15,
            Fen(15_000),
            Some(Fen(1_000))
        )
    );
    assert_eq!(
        f.explanation,
        "sold 20 on 2021-03-03 with 5 in stock: 15 without stock, 150.00"
    );
}

#[test]
fn a_purchase_must_match_a_listed_product_at_no_more_than_its_price() {
    let item = drug(1);
    let unlisted = drug(2);
    let records = [
        record("P1", &unlisted, "2021-03-01", Movement::Purchase, 10, 500),
        record("P2", &item, "2020-12-31", Movement::Purchase, 10, 1_000),
        record("P3", &item, "2021-03-01", Movement::Purchase, 10, 1_020),
    ];
    let check = check_inventory(
        &records,
        &[],
        &listed_book(&item, 1_000),
        &InventoryRules::default(),
    )
    .unwrap();
    let kinds: Vec<(FindingKind, &str, Fen)> = check
        .findings
        .iter()
        .map(|f| (f.kind, f.record_no.as_str(), f.amount))
        .collect();
    assert_eq!(
        kinds,
        [
            (FindingKind::UnlistedPurchase, "P2", Fen(10_000)), // before the listing started
            (FindingKind::PurchaseAboveListedPrice, "P3", Fen(200)),
            (FindingKind::UnlistedPurchase, "P1", Fen(5_000)),
        ]
    );
}

#[test]
fn on_one_day_purchases_come_before_sales_whatever_the_input_order() {
    let item = drug(1);
    let records = [
        record("S1", &item, "2021-03-01", Movement::Sale, 10, 1_000),
        record("P1", &item, "2021-03-01", Movement::Purchase, 10, 1_000),
    ];
    let check = check_inventory(
        &records,
        &[],
        &listed_book(&item, 1_000),
        &InventoryRules::default(),
    )
    .unwrap();
    assert!(check.findings.is_empty());
}

// ---------------------------------------------------------------- savings

fn worked_example() -> InstitutionSavingsInput {
    InstitutionSavingsInput {
        institution: inst(1),
        fund_payment_rate: Bp(7_000),
        assessment_coefficient: Bp(9_500),
        lines: vec![SavingsLine {
            group_id: "atorvastatin-20mg".into(),
            agreed_volume: 100_000,
            pre_procurement_price: Fen(300),
            purchases: vec![
                SavingsPurchase {
                    quantity: 110_000,
                    unit_price: Fen(12),
                    winning: true,
                },
                SavingsPurchase {
                    quantity: 5_000,
                    unit_price: Fen(250),
                    winning: false,
                },
            ],
        }],
    }
}

const HALF_RETAINED: SavingsRules = SavingsRules {
    retention_rate: Bp(5_000),
    require_completion: true,
};

#[test]
fn retained_savings_worked_example_to_the_fen() {
    // budget   = 100,000 × 3.00 = 300,000.00 × 70% = 210,000.00
    // actual   = 110,000 × 0.12 + 5,000 × 2.50 = 25,700.00 × 70% = 17,990.00
    // saving   = 192,010.00
    // retained = 192,010.00 × 50% × 95% = 91,204.75
    let r = retained_savings(&worked_example(), &HALF_RETAINED).unwrap();
    assert_eq!(r.budget, Fen::yuan(210_000));
    assert_eq!(r.actual, Fen::yuan(17_990));
    assert_eq!(r.saving, Fen::yuan(192_010));
    assert!(r.completed);
    assert_eq!(r.retained, Fen(9_120_475));
    assert_eq!(
        r.explanation.last().unwrap(),
        "retained = 192010.00 × 50.00% × 95.00% = 91204.75"
    );
}

#[test]
fn each_rate_application_rounds_half_up_to_the_fen() {
    let mut input = worked_example();
    input.fund_payment_rate = Bp(6_667);
    input.assessment_coefficient = Bp(9_333);
    let r = retained_savings(
        &input,
        &SavingsRules {
            retention_rate: Bp(3_333),
            ..HALF_RETAINED
        },
    )
    .unwrap();
    // 30,000,000 × 0.6667 = 20,001,000; 2,570,000 × 0.6667 = 1,713,419
    assert_eq!(
        (r.budget, r.actual, r.saving),
        (Fen(20_001_000), Fen(1_713_419), Fen(18_287_581))
    );
    // 18,287,581 × 0.3333 = 6,095,250.7473 → 6,095,251; × 0.9333 = 5,688,697.7583 → 5,688,698
    assert_eq!(r.retained, Fen(5_688_698));
}

#[test]
fn an_institution_that_did_not_complete_its_agreed_volume_retains_nothing() {
    let mut input = worked_example();
    input.lines[0].purchases[0].quantity = 99_999;
    let r = retained_savings(&input, &HALF_RETAINED).unwrap();
    assert!(!r.completed);
    assert!(r.saving > Fen::ZERO);
    assert_eq!(r.retained, Fen::ZERO);
    assert_eq!(
        r.explanation.last().unwrap(),
        "retained = 0: agreed volume not completed"
    );
}

#[test]
fn spending_above_the_budget_saves_nothing() {
    let mut input = worked_example();
    input.lines[0].purchases[1].quantity = 200_000;
    let r = retained_savings(&input, &HALF_RETAINED).unwrap();
    assert_eq!((r.saving, r.retained), (Fen::ZERO, Fen::ZERO));
}

#[test]
fn fifty_one_institutions_retain_26_35_million_yuan_in_total() {
    let rules = SavingsRules {
        retention_rate: Bp::FULL,
        require_completion: true,
    };
    let results: Vec<RetainedSavings> = (0..51)
        .map(|i| {
            let diff = if i == 50 { 516_650 } else { 516_667 };
            let input = InstitutionSavingsInput {
                institution: inst(i),
                fund_payment_rate: Bp::FULL,
                assessment_coefficient: Bp::FULL,
                lines: vec![SavingsLine {
                    group_id: "G1".into(),
                    agreed_volume: 100,
                    pre_procurement_price: Fen(600_000),
                    purchases: vec![SavingsPurchase {
                        quantity: 100,
                        unit_price: Fen(600_000 - diff),
                        winning: true,
                    }],
                }],
            };
            retained_savings(&input, &rules).unwrap()
        })
        .collect();
    assert_eq!(total_retained(&results).unwrap(), Fen::yuan(26_350_000));
}

#[test]
fn a_rate_above_full_is_refused() {
    let mut input = worked_example();
    input.assessment_coefficient = Bp(10_001);
    assert_eq!(
        retained_savings(&input, &HALF_RETAINED).unwrap_err().code(),
        "PROCUREMENT_RATE_ABOVE_FULL"
    );
}

#[test]
fn completion_is_compared_with_time_progress() {
    // 2021: 365 days; on 1 July 182 have elapsed → 49.86%; the alert line is 80% of it.
    let (from, to, on) = (date("2021-01-01"), date("2021-12-31"), date("2021-07-01"));
    assert_eq!(time_progress(from, to, on), Bp(4_986));
    let input = |i, purchased| CompletionInput {
        institution: inst(i),
        group_id: "G1".into(),
        agreed_volume: 10_000,
        purchased_volume: purchased,
    };
    let got = volume_completion(
        &[input(3, 10_000), input(2, 3_989), input(1, 3_988)],
        from,
        to,
        on,
        &CompletionRules::default(),
    );
    let statuses: Vec<(CompletionStatus, Bp)> =
        got.iter().map(|c| (c.status, c.completion)).collect();
    assert_eq!(
        statuses,
        [
            (CompletionStatus::Behind, Bp(3_988)),
            (CompletionStatus::OnPace, Bp(3_989)),
            (CompletionStatus::Completed, Bp(10_000)),
        ]
    );
    assert_eq!(
        got[0].explanation,
        "completion 39.88% (3988 of 10000) vs time progress 49.86% (alert below 39.88%): behind"
    );
}

#[test]
fn time_progress_is_clamped_to_the_period() {
    let (from, to) = (date("2021-01-01"), date("2021-12-31"));
    assert_eq!(time_progress(from, to, date("2020-12-31")), Bp::ZERO);
    assert_eq!(time_progress(from, to, date("2022-06-01")), Bp::FULL);
}

// ---------------------------------------------------------------- helpers

#[test]
fn figures_are_shown_exactly() {
    assert_eq!(decimal(1_260_000, 6), "1.26");
    assert_eq!(decimal(1_278_000, 6), "1.278");
    assert_eq!(multiplier(Bp(18_000)), "1.8");
    assert_eq!(multiplier(Bp(20_000)), "2");
    assert_eq!(percent(-1_250), "-12.50%");
    assert_eq!(ratio_bp(1, 3), 3_333);
    assert_eq!(ratio_bp(2, 3), 6_667);
}

#[test]
fn periods_overlap_when_they_share_a_day() {
    let a = Period::between(date("2021-01-01"), date("2021-06-30")).unwrap();
    assert!(a.overlaps(&Period::from(date("2021-06-30"))));
    assert!(!a.overlaps(&Period::from(date("2021-07-01"))));
    assert!(Period::between(date("2021-02-01"), date("2021-01-01")).is_none());
}

#[test]
fn an_item_code_cannot_be_deserialised_unchecked() {
    let ok: ItemCode = serde_json::from_str("\"XA01ABD075A002010100483\"").unwrap();
    assert_eq!(ok.as_str(), "XA01ABD075A002010100483");
    assert!(serde_json::from_str::<ItemCode>("\"X1\"").is_err());
    assert_eq!(
        serde_json::to_string(&ok).unwrap(),
        "\"XA01ABD075A002010100483\""
    );
}
