//! The catalogue through its RPC handlers (parsing, tenancy, use cases, store, cache) on a
//! fresh SQLite file, or PostgreSQL with `YIBAO_TEST_DATABASE_URL` (and Redis as the cache with
//! `YIBAO_TEST_REDIS_URL`): generated files of Zhongshan's size (5,429 drugs, 275 negotiated) and
//! Qinghai's consumables (816) imported through `ImportCatalogue`, resolution by region and
//! period, an unknown code as 丙, every restriction, a bad file that stores nothing with its rows
//! named, the trail of changes, and the tenancy refusals.

use super::ProcurementApi;
use crate::app::Procurement;
use crate::store::tests::TempDb;
use std::collections::BTreeMap;
use std::sync::Arc;
use tonic::{Request, Status};
use yibao_core::RegionCode;
use yibao_proto::procurement::v1 as pb;
use yibao_proto::procurement::v1::procurement_service_server::ProcurementService as _;
use yibao_runtime::cache::Cache;
use yibao_runtime::{Caller, Role};

const PROVINCE: &str = "340000";
const COUNTY: &str = "341522";
const OTHER_COUNTY: &str = "341502";
const HOSPITAL: &str = "H34152200001";

async fn api() -> (ProcurementApi, Option<TempDb>) {
    let (store, guard) = crate::store::tests::store().await;
    let cache: Arc<dyn Cache> = match std::env::var("YIBAO_TEST_REDIS_URL") {
        Ok(url) => Arc::new(
            yibao_runtime::cache::RedisCache::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("redis: {e}")),
        ),
        Err(_) => Arc::new(yibao_runtime::cache::MemoryCache::new(100_000)),
    };
    let app = Procurement::new(store.db().clone(), cache, None)
        .await
        .unwrap_or_else(|e| panic!("app: {e}"));
    (ProcurementApi::new(app), guard)
}

fn caller(role: Role, subject: &str, org: &str, region: &str) -> Caller {
    Caller {
        subject: subject.into(),
        role,
        org: org.into(),
        region: (!region.is_empty())
            .then(|| RegionCode::parse(region).unwrap_or_else(|e| panic!("{region}: {e}"))),
    }
}

fn operator(region: &str) -> Caller {
    caller(Role::Operator, &format!("op-{region}"), "", region)
}

fn auditor(region: &str) -> Caller {
    caller(Role::Auditor, &format!("audit-{region}"), "", region)
}

fn hospital(org: &str) -> Caller {
    caller(Role::Hospital, &format!("his-{org}"), org, "")
}

fn req<T>(c: &Caller, msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.extensions_mut().insert(c.clone());
    r
}

/// The stable code and the first field of a refusal.
fn refusal(s: &Status) -> (String, String) {
    let (_, body) = yibao_runtime::error::problem_from_status(s, "");
    (
        body["code"].as_str().unwrap_or_default().to_string(),
        body["errors"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// What the generated drug file says of one code.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    class: pb::InsuranceClass,
    negotiated: bool,
    restricted: bool,
}

/// A generated Zhongshan-sized drug list: 5,429 drugs (every fifth a Chinese patent medicine),
/// 275 of them negotiated (乙类 with a share and a payment standard), some with restrictions.
fn drug_file() -> (String, BTreeMap<String, Expected>) {
    let mut csv = String::from(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,negotiated,valid_from,valid_to,\
         preselfpay_share_bp,payment_standard_fen,sex,min_age,max_age,min_institution_grade,indication,\
         indication_diagnoses,max_days_supply\n",
    );
    let mut expected = BTreeMap::new();
    for n in 0..5429u32 {
        let (code, kind) = if n % 5 == 4 {
            (format!("ZA04CAE{n:013}"), "中成药")
        } else {
            (format!("XB05BAA001A{n:012}"), "drug")
        };
        // n ↦ 275·n mod 5429 is a permutation (gcd 1): exactly 275 rows fall below 275.
        let negotiated = (u64::from(n) * 275) % 5429 < 275;
        let class = if negotiated || n % 3 != 0 {
            "乙"
        } else {
            "甲"
        };
        let (share, standard) = if negotiated {
            ("1000".to_string(), (1000 + n).to_string())
        } else {
            (String::new(), String::new())
        };
        let sex = if n % 97 == 1 { "M" } else { "" };
        let max_age = if n % 89 == 2 { "17" } else { "" };
        let grade = if n % 83 == 3 { "2" } else { "" };
        let days = if n % 71 == 4 { "14" } else { "" };
        let (indication, diagnoses) = if n % 101 == 5 {
            ("\"限恶性肿瘤, 二线用药\"", "C;D0")
        } else {
            ("", "")
        };
        let restricted = [sex, max_age, grade, days, diagnoses]
            .iter()
            .any(|v| !v.is_empty());
        csv.push_str(&format!(
            "{code},{kind},通用名{n},片剂,{}mg,药企{},{class},{negotiated},2025-01-01,,{share},{standard},{sex},,{max_age},{grade},{indication},{diagnoses},{days}\n",
            n % 50 + 1,
            n % 37,
        ));
        expected.insert(
            code,
            Expected {
                class: if class == "甲" {
                    pb::InsuranceClass::A
                } else {
                    pb::InsuranceClass::B
                },
                negotiated,
                restricted,
            },
        );
    }
    (csv, expected)
}

/// Qinghai's consumables catalogue, generated: 816 entries, a quarter 甲, a quarter 丙.
fn consumable_file() -> (String, BTreeMap<String, pb::InsuranceClass>) {
    let mut csv =
        String::from("code,kind,generic_name,specification,manufacturer,class,valid_from\n");
    let mut expected = BTreeMap::new();
    for n in 0..816u32 {
        let code = format!("C{:019}", 1_000_000 + n);
        let (class, pb_class) = match n % 4 {
            0 => ("甲", pb::InsuranceClass::A),
            3 => ("丙", pb::InsuranceClass::C),
            _ => ("乙", pb::InsuranceClass::B),
        };
        csv.push_str(&format!(
            "{code},consumable,医用耗材{n},1个,器械{},{class},2025-01-01\n",
            n % 7
        ));
        expected.insert(code, pb_class);
    }
    (csv, expected)
}

async fn import(
    api: &ProcurementApi,
    c: &Caller,
    region: &str,
    csv: &str,
    dry_run: bool,
) -> pb::ImportCatalogueResponse {
    api.import_catalogue(req(
        c,
        pb::ImportCatalogueRequest {
            region_code: region.into(),
            csv_text: csv.into(),
            dry_run,
        },
    ))
    .await
    .unwrap_or_else(|e| panic!("import: {e:?}"))
    .into_inner()
}

fn line(code: &str) -> pb::ResolveLine {
    pb::ResolveLine {
        code: code.into(),
        days_supply: None,
    }
}

async fn resolve(
    api: &ProcurementApi,
    c: &Caller,
    ask: pb::ResolveCatalogueRequest,
) -> Vec<pb::ResolvedLine> {
    api.resolve_catalogue(req(c, ask))
        .await
        .unwrap_or_else(|e| panic!("resolve: {e:?}"))
        .into_inner()
        .lines
}

/// The hospital's resolution of `codes` on `on` (no facts).
async fn resolve_at_hospital(
    api: &ProcurementApi,
    codes: &[&str],
    on: &str,
) -> Vec<pb::ResolvedLine> {
    resolve(
        api,
        &hospital(HOSPITAL),
        pb::ResolveCatalogueRequest {
            institution_code: HOSPITAL.into(),
            on_date: on.into(),
            lines: codes.iter().map(|c| line(c)).collect(),
            ..Default::default()
        },
    )
    .await
}

fn class(l: &pb::ResolvedLine) -> pb::InsuranceClass {
    pb::InsuranceClass::try_from(l.insurance_class).unwrap_or(pb::InsuranceClass::Unspecified)
}

fn item(code: &str, class: pb::InsuranceClass, from: &str) -> pb::CatalogueItem {
    pb::CatalogueItem {
        code: code.into(),
        kind: pb::ItemKind::WesternDrug as i32,
        generic_name: "阿托伐他汀钙片".into(),
        dosage_form: "片剂".into(),
        specification: "20mg".into(),
        manufacturer: "药企".into(),
        insurance_class: class as i32,
        valid_from_date: from.into(),
        ..Default::default()
    }
}

async fn upsert(
    api: &ProcurementApi,
    c: &Caller,
    region: &str,
    item: pb::CatalogueItem,
) -> Result<pb::UpsertCatalogueItemResponse, Status> {
    api.upsert_catalogue_item(req(
        c,
        pb::UpsertCatalogueItemRequest {
            region_code: region.into(),
            item: Some(item),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn zhongshans_5429_drugs_and_qinghais_816_consumables_import_whole_and_resolve_as_listed() {
    let (api, _g) = api().await;
    let op = operator(PROVINCE);
    let (drugs, expected) = drug_file();
    assert_eq!(expected.len(), 5429);
    assert_eq!(expected.values().filter(|e| e.negotiated).count(), 275);

    let dry = import(&api, &op, PROVINCE, &drugs, true).await;
    assert_eq!(
        (dry.imported_count, dry.stored, dry.errors.len()),
        (5429, false, 0)
    );
    let out = import(&api, &op, PROVINCE, &drugs, false).await;
    assert_eq!(
        (out.imported_count, out.stored, out.closed_count),
        (5429, true, 0),
        "{:?}",
        out.errors.first()
    );
    assert!(!out.import_id.is_empty());
    let (consumables, consumable_classes) = consumable_file();
    let out = import(&api, &op, PROVINCE, &consumables, false).await;
    assert_eq!((out.imported_count, out.stored), (816, true));

    // Every drug resolves at the county hospital as the file lists it (1,000 lines a call).
    let codes: Vec<&str> = expected.keys().map(String::as_str).collect();
    let mut negotiated = 0;
    for chunk in codes.chunks(1000) {
        let lines = resolve_at_hospital(&api, chunk, "2026-03-01").await;
        assert_eq!(lines.len(), chunk.len());
        for l in &lines {
            let e = &expected[&l.code];
            assert!(l.in_catalogue, "{}", l.code);
            assert_eq!(
                (class(l), l.negotiated),
                (e.class, e.negotiated),
                "{}",
                l.code
            );
            assert_eq!(l.entry_region_code, PROVINCE);
            assert_eq!(
                !l.unchecked.is_empty(),
                e.restricted,
                "{}: a restriction without the facts is reported unchecked",
                l.code
            );
            if l.negotiated {
                negotiated += 1;
                assert_eq!(l.preselfpay_share_bp, Some(1000));
                assert_eq!(
                    l.payment_standard_source,
                    pb::StandardSource::Catalogue as i32
                );
                assert!(l.payment_standard_fen.is_some_and(|f| f >= 1000));
            }
        }
    }
    assert_eq!(negotiated, 275);
    let consumable_codes: Vec<&str> = consumable_classes.keys().map(String::as_str).collect();
    for l in resolve_at_hospital(&api, &consumable_codes, "2026-03-01").await {
        assert!(l.in_catalogue);
        assert_eq!(class(&l), consumable_classes[&l.code], "{}", l.code);
    }

    // The same file again changes nothing.
    let again = import(&api, &op, PROVINCE, &drugs, false).await;
    assert_eq!(
        (again.imported_count, again.unchanged_count, again.stored),
        (0, 5429, true)
    );

    // Listed page by page: 6,245 versions in the province's catalogue.
    let mut seen = 0;
    let mut token = String::new();
    loop {
        let page = api
            .list_catalogue(req(
                &auditor(PROVINCE),
                pb::ListCatalogueRequest {
                    region_code: PROVINCE.into(),
                    page: Some(yibao_proto::common::v1::PageRequest {
                        page_size: 1000,
                        page_token: token.clone(),
                    }),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_or_else(|e| panic!("list: {e:?}"))
            .into_inner();
        seen += page.items.len();
        token = page.page.map(|p| p.next_page_token).unwrap_or_default();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, 5429 + 816);
}

#[tokio::test]
async fn resolution_follows_region_and_period_an_unknown_code_is_c_and_changes_are_seen_at_once() {
    let (api, _g) = api().await;
    let province = operator(PROVINCE);
    let x = "XC10AAA123A000000000001";
    let first = upsert(
        &api,
        &province,
        PROVINCE,
        pb::CatalogueItem {
            preselfpay_share_bp: Some(1000),
            payment_standard_fen: Some(500),
            ..item(x, pb::InsuranceClass::B, "2025-01-01")
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(first.created);
    let r = &resolve_at_hospital(&api, &[x], "2026-03-01").await[0];
    assert_eq!(
        (
            class(r),
            r.preselfpay_share_bp,
            r.payment_standard_fen,
            r.entry_region_code.as_str()
        ),
        (pb::InsuranceClass::B, Some(1000), Some(500), PROVINCE)
    );

    // The county's own version (imported by the county's operator) wins in the county from
    // its first day; the look-up sees it at once (the cached versions were deleted).
    let county_file = format!(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,valid_from\n\
         {x},drug,阿托伐他汀钙片,片剂,20mg,药企,甲,2026-01-01\n"
    );
    let out = import(&api, &operator(COUNTY), COUNTY, &county_file, false).await;
    assert!(out.stored, "{:?}", out.errors);
    let r = &resolve_at_hospital(&api, &[x], "2026-03-01").await[0];
    assert_eq!(
        (class(r), r.entry_region_code.as_str()),
        (pb::InsuranceClass::A, COUNTY)
    );
    let r = &resolve_at_hospital(&api, &[x], "2025-12-31").await[0];
    assert_eq!(
        class(r),
        pb::InsuranceClass::B,
        "before the county's version"
    );

    // A new provincial version from 2026-07-01 ends the first the day before.
    let second = upsert(
        &api,
        &province,
        PROVINCE,
        pb::CatalogueItem {
            negotiated: true,
            ..item(x, pb::InsuranceClass::B, "2026-07-01")
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(second.created);
    assert_eq!(
        second
            .previous
            .map(|p| (p.valid_from_date, p.valid_to_date)),
        Some(("2025-01-01".to_string(), String::new())),
        "the version it closed, as it was"
    );
    let elsewhere = |on: &str| pb::ResolveCatalogueRequest {
        region_code: OTHER_COUNTY.into(),
        on_date: on.into(),
        lines: vec![line(x)],
        ..Default::default()
    };
    let op = operator(PROVINCE);
    let before = &resolve(&api, &op, elsewhere("2026-06-30")).await[0];
    assert_eq!(
        (before.negotiated, before.payment_standard_fen),
        (false, Some(500))
    );
    let after = &resolve(&api, &op, elsewhere("2026-07-01")).await[0];
    assert_eq!(
        (
            after.negotiated,
            after.payment_standard_fen,
            after.entry_valid_from_date.as_str()
        ),
        (true, None, "2026-07-01")
    );

    // Procurement's own payment standard in force wins over the version's.
    api.set_payment_standard(req(
        &province,
        pb::SetPaymentStandardRequest {
            standard: Some(pb::PaymentStandard {
                item_code: x.into(),
                region_code: PROVINCE.into(),
                amount_fen: 450,
                valid_from_date: "2026-01-01".into(),
                basis: "集采中选价".into(),
                ..Default::default()
            }),
        },
    ))
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let r = &resolve(&api, &op, elsewhere("2026-03-01")).await[0];
    assert_eq!(
        (r.payment_standard_fen, r.payment_standard_source),
        (Some(450), pb::StandardSource::PaymentStandard as i32)
    );

    // Codes in no catalogue are 丙 whatever they look like; so is a date before any version.
    let lines = resolve_at_hospital(
        &api,
        &["ZZZ-NOT-IN-ANY-CATALOGUE", "XC10AAA123A000000000099", x],
        "2024-06-01",
    )
    .await;
    for l in &lines {
        assert_eq!(
            (l.in_catalogue, class(l), l.payment_standard_fen),
            (false, pb::InsuranceClass::C, None),
            "{l:?}"
        );
        assert!(l.explanation.contains("paid by the patient in full"));
    }

    // A version overlapping another is refused naming the field; nothing changes.
    let overlapping = pb::CatalogueItem {
        valid_to_date: "2026-08-01".into(),
        ..item(x, pb::InsuranceClass::A, "2026-06-01")
    };
    let e = upsert(&api, &province, PROVINCE, overlapping)
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&e),
        (
            "PROCUREMENT_PERIOD_OVERLAP".into(),
            "item.valid_from_date".into()
        )
    );
    let got = api
        .get_catalogue_item(req(
            &auditor(PROVINCE),
            pb::GetCatalogueItemRequest {
                region_code: PROVINCE.into(),
                code: x.into(),
                on_date: "2026-06-15".into(),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner();
    assert_eq!(
        got.item.map(|i| (i.valid_from_date, i.valid_to_date)),
        Some(("2025-01-01".to_string(), "2026-06-30".to_string()))
    );
    assert_eq!(got.history.len(), 2);
}

#[tokio::test]
async fn each_restriction_is_applied_by_the_facts_of_the_claim() {
    let (api, _g) = api().await;
    let code = "XL02BBA326A001010102180";
    let restricted = pb::CatalogueItem {
        restrictions: Some(pb::PaymentRestrictions {
            sex: pb::Sex::Male as i32,
            min_age_years: Some(18),
            max_age_years: Some(85),
            min_institution_grade: 2,
            indication: "限前列腺癌".into(),
            indication_diagnoses: vec!["C61".into()],
            max_days_supply: Some(30),
        }),
        ..item(code, pb::InsuranceClass::B, "2025-01-01")
    };
    upsert(&api, &operator(PROVINCE), PROVINCE, restricted)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let ask = |sex: pb::Sex, age: u32, grade: u32, diagnosis: &str, days: u32| {
        pb::ResolveCatalogueRequest {
            institution_code: HOSPITAL.into(),
            on_date: "2026-03-01".into(),
            institution_grade: grade,
            person_sex: sex as i32,
            person_age_years: Some(age),
            diagnoses: vec![diagnosis.into()],
            lines: vec![pb::ResolveLine {
                code: code.into(),
                days_supply: Some(days),
            }],
            ..Default::default()
        }
    };
    let h = hospital(HOSPITAL);
    let ok = &resolve(&api, &h, ask(pb::Sex::Male, 70, 2, "C61.x00", 30)).await[0];
    assert!(
        ok.violations.is_empty() && ok.unchecked.is_empty(),
        "{ok:?}"
    );
    assert_eq!(ok.indication, "限前列腺癌");
    let cases = [
        (
            ask(pb::Sex::Female, 70, 2, "C61.x00", 30),
            pb::RestrictionKind::Sex,
        ),
        (
            ask(pb::Sex::Male, 17, 2, "C61.x00", 30),
            pb::RestrictionKind::Age,
        ),
        (
            ask(pb::Sex::Male, 86, 2, "C61.x00", 30),
            pb::RestrictionKind::Age,
        ),
        (
            ask(pb::Sex::Male, 70, 1, "C61.x00", 30),
            pb::RestrictionKind::InstitutionGrade,
        ),
        (
            ask(pb::Sex::Male, 70, 2, "I10.x00x002", 30),
            pb::RestrictionKind::Indication,
        ),
        (
            ask(pb::Sex::Male, 70, 2, "C61.x00", 31),
            pb::RestrictionKind::DaysSupply,
        ),
    ];
    for (request, kind) in cases {
        let l = &resolve(&api, &h, request).await[0];
        assert_eq!(
            l.violations.iter().map(|v| v.kind).collect::<Vec<_>>(),
            [kind as i32],
            "{l:?}"
        );
        assert!(!l.violations[0].reason.is_empty());
    }
    // Without facts nothing passes: every restriction is unchecked.
    let bare = &resolve_at_hospital(&api, &[code], "2026-03-01").await[0];
    assert_eq!(bare.unchecked.len(), 5);
}

#[tokio::test]
async fn a_file_with_a_bad_row_stores_nothing_and_names_every_bad_row_by_line_and_column() {
    let (api, _g) = api().await;
    let op = operator(PROVINCE);
    let stored = "XC10AAA123A000000000001";
    upsert(
        &api,
        &op,
        PROVINCE,
        item(stored, pb::InsuranceClass::B, "2025-01-01"),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let good = "XC10AAA123A000000000002";
    let file = format!(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,valid_from,valid_to,region_code,preselfpay_share_bp\n\
         {good},drug,阿托伐他汀钙片,片剂,20mg,药企,乙,2025-01-01,,,1000\n\
         XC10AAA123A000000000003,drug,阿托伐他汀钙片,片剂,20mg,药企,丁,2025-01-01,,,\n\
         XC10AAA123A000000000004,drug,阿托伐他汀钙片,片剂,20mg,药企,甲,2025-01-01,,,1000\n\
         XC10AAA123A000000000005,drug,阿托伐他汀钙片,片剂,20mg,药企,乙,2025-02-30,,,\n\
         {stored},drug,阿托伐他汀钙片,片剂,20mg,药企,甲,2024-06-01,2025-06-30,,\n\
         XC10AAA123A000000000006,drug,阿托伐他汀钙片,片剂,20mg,药企,乙,2025-01-01,,320000,\n"
    );
    let out = import(&api, &op, PROVINCE, &file, false).await;
    let named: Vec<(u32, &str)> = out
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            (3, "class"),
            (4, "preselfpay_share_bp"),
            (5, "valid_from"),
            (6, "valid_from"),
            (7, "region_code")
        ],
        "{:#?}",
        out.errors
    );
    assert_eq!(
        out.errors[3].reason,
        "2024-06-01–2025-06-30 overlaps the version valid 2025-01-01–open-ended"
    );
    assert_eq!(
        (out.stored, out.imported_count, out.import_id.as_str()),
        (false, 0, "")
    );
    // Nothing of the file is there: not the good first row, not a change in the trail.
    let e = api
        .get_catalogue_item(req(
            &op,
            pb::GetCatalogueItemRequest {
                region_code: PROVINCE.into(),
                code: good.into(),
                on_date: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refusal(&e).0, "PROCUREMENT_ITEM_NOT_FOUND");
    let trail = api
        .list_catalogue_changes(req(
            &auditor(PROVINCE),
            pb::ListCatalogueChangesRequest {
                region_code: PROVINCE.into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner();
    assert_eq!(trail.changes.len(), 1, "only the upsert before the import");
}

#[tokio::test]
async fn auditors_read_who_changed_which_version_and_operators_write_only_in_their_region() {
    let (api, _g) = api().await;
    let x = "XC10AAA123A000000000001";
    let province = operator(PROVINCE);
    upsert(
        &api,
        &province,
        PROVINCE,
        item(x, pb::InsuranceClass::B, "2025-01-01"),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    // A correction of the same first day, then a new version closing it.
    upsert(
        &api,
        &province,
        PROVINCE,
        pb::CatalogueItem {
            preselfpay_share_bp: Some(1500),
            ..item(x, pb::InsuranceClass::B, "2025-01-01")
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let file = format!(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,valid_from\n\
         {x},drug,阿托伐他汀钙片,片剂,20mg,药企,甲,2026-01-01\n"
    );
    let imported = import(&api, &province, PROVINCE, &file, false).await;
    assert!(imported.stored);

    // The county's auditor reads the province's changes (they apply in the county), newest
    // first, page by page.
    let list = |token: String| pb::ListCatalogueChangesRequest {
        region_code: COUNTY.into(),
        code: x.into(),
        page: Some(yibao_proto::common::v1::PageRequest {
            page_size: 2,
            page_token: token,
        }),
    };
    let audit = auditor(COUNTY);
    let first = api
        .list_catalogue_changes(req(&audit, list(String::new())))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner();
    let token = first
        .page
        .clone()
        .map(|p| p.next_page_token)
        .unwrap_or_default();
    assert!(!token.is_empty());
    let second = api
        .list_catalogue_changes(req(&audit, list(token)))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner();
    let changes: Vec<pb::CatalogueChange> =
        first.changes.into_iter().chain(second.changes).collect();
    let kinds: Vec<i32> = changes.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            pb::CatalogueChangeKind::Created as i32,
            pb::CatalogueChangeKind::Closed as i32,
            pb::CatalogueChangeKind::Replaced as i32,
            pb::CatalogueChangeKind::Created as i32,
        ]
    );
    for c in &changes {
        let who = c.changed.clone().unwrap_or_default();
        assert_eq!(
            (who.actor.as_str(), who.role.as_str()),
            ("op-340000", "operator")
        );
        assert!(!who.at.is_empty());
    }
    assert_eq!(
        changes[0].source,
        format!("ImportCatalogue {}", imported.import_id)
    );
    assert_eq!(changes[2].source, "UpsertCatalogueItem");
    let replaced = &changes[2];
    assert_eq!(
        (
            replaced.before.as_ref().and_then(|b| b.preselfpay_share_bp),
            replaced.after.as_ref().and_then(|a| a.preselfpay_share_bp)
        ),
        (None, Some(1500))
    );
    let closed = &changes[1];
    assert_eq!(
        closed.after.as_ref().map(|a| a.valid_to_date.as_str()),
        Some("2025-12-31")
    );

    // Tenancy: another province's auditor and operator are refused; the county's operator
    // writes its county's versions only.
    let e = api
        .list_catalogue_changes(req(
            &auditor("320000"),
            pb::ListCatalogueChangesRequest {
                region_code: PROVINCE.into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refusal(&e).0, "OUTSIDE_REGION");
    let e = upsert(
        &api,
        &operator("320000"),
        PROVINCE,
        item(x, pb::InsuranceClass::A, "2027-01-01"),
    )
    .await
    .unwrap_err();
    assert_eq!(refusal(&e).0, "OUTSIDE_REGION");
    let e = api
        .import_catalogue(req(
            &operator(COUNTY),
            pb::ImportCatalogueRequest {
                region_code: PROVINCE.into(),
                csv_text: file.clone(),
                dry_run: false,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refusal(&e).0, "OUTSIDE_REGION");
    let provincial_row = format!(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,valid_from,region_code\n\
         {x},drug,阿托伐他汀钙片,片剂,20mg,药企,甲,2027-01-01,340000\n"
    );
    let out = import(&api, &operator(COUNTY), COUNTY, &provincial_row, false).await;
    assert_eq!(
        out.errors
            .iter()
            .map(|e| (e.line, e.field.as_str()))
            .collect::<Vec<_>>(),
        [(2, "region_code")]
    );
    assert!(!out.stored);

    // A hospital resolves for itself only, at its own place of treatment.
    let e = api
        .resolve_catalogue(req(
            &hospital(HOSPITAL),
            pb::ResolveCatalogueRequest {
                institution_code: "H34152200002".into(),
                on_date: "2026-03-01".into(),
                lines: vec![line(x)],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refusal(&e).0, "OTHER_ORGANISATION");
    let e = api
        .resolve_catalogue(req(
            &hospital(HOSPITAL),
            pb::ResolveCatalogueRequest {
                institution_code: HOSPITAL.into(),
                region_code: "320000".into(),
                on_date: "2026-03-01".into(),
                lines: vec![line(x)],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&e),
        ("PROCUREMENT_INVALID_ARGUMENT".into(), "region_code".into())
    );
}
