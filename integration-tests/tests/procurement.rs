//! Procurement end to end through the gateway's REST routes, on whichever backend the run
//! uses: catalogue import (all or nothing, every bad row named), a round from bids to outcome under the national
//! rules, price governance, payment standards by date, inventory findings on the bus, volume
//! completion and retained savings, tenancy refusals and retried writes.

use http::Method;
use serde_json::{Value, json};
use std::time::Duration;
use yibao_integration_tests::{Suite, s};
use yibao_runtime::Role;
use yibao_runtime::bus::Bus;

const ANHUI: &str = "340000";
const H1: &str = "H34152200001";
const H2: &str = "H34150200002";

/// A western-drug code (23 chars) numbered `n`.
fn x(n: u32) -> String {
    format!("XC10AAA123A{n:012}")
}

const C1: &str = "C0101010010000000001";

/// int64/uint64 fields arrive as JSON strings (proto3 canonical JSON) or numbers; absent is 0.
fn num(v: &Value) -> i64 {
    match v {
        Value::String(t) => t.parse().unwrap_or_else(|_| panic!("not a number: {t}")),
        Value::Number(n) => n.as_i64().unwrap_or_else(|| panic!("not an integer: {n}")),
        Value::Null => 0,
        other => panic!("not a number: {other}"),
    }
}

fn flag(v: &Value) -> bool {
    v.as_bool().unwrap_or(false)
}

fn list(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn manufacturer(suite: &Suite, org: &str) -> String {
    suite.token(Role::Manufacturer, org, "")
}

/// A fresh institution code in `region` (streams on a shared Redis outlive a suite).
fn fresh_institution(region: &str) -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 100_000;
    format!("H{region}{n:05}")
}

fn catalogue_csv() -> String {
    let mut csv = String::from(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,negotiated,valid_from,valid_to\n",
    );
    for n in 1..=5 {
        csv.push_str(&format!(
            "{},drug,阿托伐他汀钙片,片剂,20mg,药企{n},乙,false,2025-01-01,\n",
            x(n)
        ));
    }
    for n in 11..=13 {
        csv.push_str(&format!(
            "{},drug,氨氯地平片,片剂,5mg,药企{n},甲,false,2025-01-01,\n",
            x(n)
        ));
    }
    csv.push_str(&format!(
        "{C1},consumable,人工髋关节,,1套,器械一,乙,false,2025-01-01,\n"
    ));
    csv
}

async fn import_catalogue(suite: &Suite, op: &str) {
    let out = suite
        .ok(
            "/v1/procurement/catalogue:import",
            op,
            json!({"region_code": ANHUI, "csv_text": catalogue_csv()}),
        )
        .await;
    assert_eq!(num(&out["imported_count"]), 9, "{out}");
}

async fn post(suite: &Suite, path: &str, token: &str, body: Value) -> (u16, Value) {
    suite
        .call(Method::POST, path, Some(token), Some(body))
        .await
}

fn national_rules() -> Value {
    json!({
        "max_ratio_to_lowest_bp": 18000,
        "min_cut_alternative_bp": 5000,
        "low_price_alternative_fen": 10,
        "winners_by_qualified": [
            {"min_qualified": 1, "max_winners": 1}, {"min_qualified": 2, "max_winners": 2}, {"min_qualified": 4, "max_winners": 3},
            {"min_qualified": 5, "max_winners": 4}, {"min_qualified": 7, "max_winners": 5}
        ],
        "agreed_share_by_winners": [
            {"min_winners": 1, "share_bp": 5000}, {"min_winners": 2, "share_bp": 6000}, {"min_winners": 3, "share_bp": 7000}, {"min_winners": 4, "share_bp": 8000}
        ]
    })
}

async fn create_round(suite: &Suite, op: &str) -> String {
    let round = suite
        .ok("/v1/procurement/rounds", op, json!({"round": {"region_code": ANHUI, "name": "第十批国家组织药品集中采购", "rules": national_rules(), "contract_start_date": "2026-01-01", "contract_end_date": "2026-12-31"}}))
        .await;
    assert_eq!(round["round"]["status"], "ROUND_STATUS_OPEN");
    s(&round["round"]["round_id"]).to_string()
}

async fn add_group(suite: &Suite, op: &str, round: &str, id: &str, generic: &str, highest: i64) {
    suite.ok(&format!("/v1/procurement/rounds/{round}/groups"), op, json!({"group": {"group_id": id, "generic_name": generic, "specification": "20mg", "highest_valid_price_fen": highest, "category": "drug"}})).await;
}

async fn bid(suite: &Suite, round: &str, group: &str, org: &str, item: &str, unit: i64) -> Value {
    let body = json!({"group_id": group, "manufacturer_code": org, "item_code": item, "unit_price_fen": unit, "declared_price_fen": unit * 28});
    suite
        .ok(
            &format!("/v1/procurement/rounds/{round}/bids"),
            &manufacturer(suite, org),
            body,
        )
        .await
}

async fn demand(suite: &Suite, round: &str, inst: &str, lines: Value) {
    suite
        .ok(
            &format!("/v1/procurement/rounds/{round}/demands"),
            &suite.hospital(inst),
            json!({"institution_code": inst, "lines": lines}),
        )
        .await;
}

fn group_of<'a>(outcome: &'a Value, id: &str) -> &'a Value {
    outcome["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["group"]["group_id"] == id))
        .unwrap_or_else(|| panic!("group {id} in {outcome}"))
}

fn bid_of<'a>(group: &'a Value, org: &str) -> &'a Value {
    group["bids"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["manufacturer_code"] == org))
        .unwrap_or_else(|| panic!("bid of {org} in {group}"))
}

#[tokio::test]
async fn a_catalogue_file_with_a_bad_row_stores_nothing_and_names_the_bad_one() {
    let suite = Suite::start().await;
    let op = suite.operator(ANHUI);
    let header = "code,kind,generic_name,dosage_form,specification,manufacturer,class,negotiated,valid_from,valid_to\n";
    let good = format!(
        "{},drug,阿托伐他汀钙片,片剂,20mg,药企1,乙,false,2025-01-01,\n\
         {C1},consumable,人工髋关节,,1套,器械一,乙,false,2025-01-01,2025-12-31\n",
        x(1)
    );
    let csv = format!(
        "{header}{}XC10AAA123A00000000000,drug,阿托伐他汀钙片,片剂,20mg,药企2,乙,false,2025-01-01,\n",
        good
    );
    let out = suite
        .ok(
            "/v1/procurement/catalogue:import",
            &op,
            json!({"region_code": ANHUI, "csv_text": csv}),
        )
        .await;
    assert_eq!(num(&out["imported_count"]), 0);
    assert!(!flag(&out["stored"]), "{out}");
    let errors = list(&out["errors"]);
    assert_eq!(errors.len(), 1, "{out}");
    assert_eq!(
        (num(&errors[0]["line"]), s(&errors[0]["field"])),
        (4, "code")
    );
    assert_eq!(s(&errors[0]["reason"]), "must be 23 characters, got 22");
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/procurement/catalogue/{}?region_code={ANHUI}", x(1)),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(
        status, 404,
        "a file with a bad row stores nothing, not even its good rows"
    );

    let good_file = format!("{header}{good}");
    let dry = suite
        .ok(
            "/v1/procurement/catalogue:import",
            &op,
            json!({"region_code": ANHUI, "csv_text": good_file, "dry_run": true}),
        )
        .await;
    assert_eq!(num(&dry["imported_count"]), 2);
    assert!(!flag(&dry["stored"]));
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/procurement/catalogue/{}?region_code={ANHUI}", x(1)),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(status, 404, "a dry run stores nothing");
    let out = suite
        .ok(
            "/v1/procurement/catalogue:import",
            &op,
            json!({"region_code": ANHUI, "csv_text": good_file}),
        )
        .await;
    assert_eq!(num(&out["imported_count"]), 2);
    assert!(flag(&out["stored"]), "{out}");

    // The good rows are there, with their validity; anyone in the trade can read them.
    let hosp = suite.hospital(H1);
    let item = suite
        .get_ok(
            &format!("/v1/procurement/catalogue/{}?region_code={ANHUI}", x(1)),
            &hosp,
        )
        .await;
    assert_eq!(item["item"]["kind"], "ITEM_KIND_WESTERN_DRUG");
    assert_eq!(item["item"]["updated"]["role"], "operator");
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/procurement/catalogue/{C1}?region_code={ANHUI}&on_date=2026-01-01"),
            Some(&hosp),
            None,
        )
        .await;
    assert_eq!(status, 404, "the consumable's validity ended on 2025-12-31");
    let listed = suite
        .get_ok(
            &format!("/v1/procurement/catalogue?region_code={ANHUI}&kind=ITEM_KIND_CONSUMABLE"),
            &op,
        )
        .await;
    assert_eq!(list(&listed["items"]).len(), 1);

    // A single entry with a code that does not fit its kind is refused, naming the field.
    let body = json!({"region_code": ANHUI, "item": {"code": C1, "kind": "ITEM_KIND_WESTERN_DRUG", "generic_name": "x", "dosage_form": "片剂", "specification": "1", "manufacturer": "m", "insurance_class": "INSURANCE_CLASS_A", "valid_from_date": "2025-01-01"}});
    let (status, problem) = suite
        .call(
            Method::PUT,
            &format!("/v1/procurement/catalogue/{C1}"),
            Some(&op),
            Some(body),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "item.code");

    // Tenancy: hospitals do not write the catalogue; operators only their own province's.
    let (status, _) = post(
        &suite,
        "/v1/procurement/catalogue:import",
        &hosp,
        json!({"region_code": ANHUI, "csv_text": csv}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post(
        &suite,
        "/v1/procurement/catalogue:import",
        &suite.operator("320000"),
        json!({"region_code": ANHUI, "csv_text": csv}),
    )
    .await;
    assert_eq!(status, 403);
    suite.stop().await;
}

#[tokio::test]
async fn a_provincial_file_of_816_consumables_is_refused_whole_for_its_bad_rows_then_imports_and_pages()
 {
    let suite = Suite::start().await;
    let op = suite.operator(ANHUI);
    let mut csv =
        String::from("code,kind,generic_name,specification,manufacturer,class,valid_from\n");
    for n in 0..816 {
        csv.push_str(&format!(
            "C{:019},consumable,医用耗材{n},1个,器械{},乙,2025-01-01\n",
            1_000_000 + n,
            n % 7
        ));
    }
    let good = csv.clone();
    csv.push_str("C0000000000002000000,consumable,冠脉支架,1个,器械,丁,2025-01-01\n");
    csv.push_str("C0000000000002000001,consumable,人工晶体,1个,器械,甲,2025-02-30\n");
    let out = suite
        .ok(
            "/v1/procurement/catalogue:import",
            &op,
            json!({"region_code": ANHUI, "csv_text": csv}),
        )
        .await;
    assert_eq!(num(&out["imported_count"]), 0);
    assert!(!flag(&out["stored"]));
    let errors: Vec<(i64, String)> = list(&out["errors"])
        .iter()
        .map(|e| (num(&e["line"]), s(&e["field"]).to_string()))
        .collect();
    assert_eq!(
        errors,
        [(818, "class".to_string()), (819, "valid_from".to_string())]
    );
    let out = suite
        .ok(
            "/v1/procurement/catalogue:import",
            &op,
            json!({"region_code": ANHUI, "csv_text": good}),
        )
        .await;
    assert_eq!(num(&out["imported_count"]), 816);
    assert!(flag(&out["stored"]));
    let mut seen = 0;
    let mut token = String::new();
    loop {
        let page = suite.get_ok(&format!("/v1/procurement/catalogue?region_code={ANHUI}&page.page_size=500&page.page_token={token}"), &op).await;
        seen += list(&page["items"]).len();
        token = s(&page["page"]["next_page_token"]).to_string();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, 816);
    suite.stop().await;
}

#[tokio::test]
async fn the_catalogue_resolves_claim_lines_with_their_restrictions_and_auditors_read_its_trail() {
    let suite = Suite::start().await;
    let op = suite.operator(ANHUI);
    // A male-only, grade-2 drug for prostate cancer, at most 30 days a line.
    let apalutamide = "XL02BBA326A001010102180";
    let csv = format!(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,negotiated,valid_from,\
         preselfpay_share_bp,payment_standard_fen,sex,min_institution_grade,indication,indication_diagnoses,max_days_supply\n\
         {apalutamide},drug,阿帕他胺片,片剂,60mg,药企,乙,true,2025-01-01,1000,19800,男,2,限前列腺癌,C61,30\n"
    );
    let out = suite
        .ok(
            "/v1/procurement/catalogue:import",
            &op,
            json!({"region_code": ANHUI, "csv_text": csv}),
        )
        .await;
    assert!(flag(&out["stored"]), "{out}");
    let hosp = suite.hospital(H1);
    let ask = |sex: &str, grade: u32| {
        json!({"institution_code": H1, "on_date": "2026-03-01", "institution_grade": grade,
               "person_sex": sex, "person_age_years": 70, "diagnoses": ["C61.x00"],
               "lines": [{"code": apalutamide, "days_supply": 30}, {"code": "ZZZ-NOT-IN-ANY-CATALOGUE"}]})
    };
    let r = suite
        .ok(
            "/v1/procurement/catalogue:resolve",
            &hosp,
            ask("SEX_MALE", 2),
        )
        .await;
    let lines = list(&r["lines"]);
    assert_eq!(lines[0]["insurance_class"], "INSURANCE_CLASS_B", "{r}");
    assert!(flag(&lines[0]["negotiated"]));
    assert_eq!(num(&lines[0]["payment_standard_fen"]), 19800);
    assert_eq!(num(&lines[0]["preselfpay_share_bp"]), 1000);
    assert!(list(&lines[0]["violations"]).is_empty());
    assert!(!flag(&lines[1]["in_catalogue"]));
    assert_eq!(lines[1]["insurance_class"], "INSURANCE_CLASS_C");
    let r = suite
        .ok(
            "/v1/procurement/catalogue:resolve",
            &hosp,
            ask("SEX_FEMALE", 1),
        )
        .await;
    let kinds: Vec<Value> = list(&list(&r["lines"])[0]["violations"])
        .iter()
        .map(|v| v["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            json!("RESTRICTION_KIND_SEX"),
            json!("RESTRICTION_KIND_INSTITUTION_GRADE")
        ]
    );

    // A hospital resolves for itself only; auditors read, never write.
    let (status, problem) = post(
        &suite,
        "/v1/procurement/catalogue:resolve",
        &suite.hospital(H2),
        ask("SEX_MALE", 2),
    )
    .await;
    assert_eq!((status, s(&problem["code"])), (403, "OTHER_ORGANISATION"));
    let audit = suite.token(Role::Auditor, "", "341522");
    let (status, problem) = post(
        &suite,
        "/v1/procurement/catalogue:import",
        &audit,
        json!({"region_code": "341522", "csv_text": csv}),
    )
    .await;
    assert_eq!((status, s(&problem["code"])), (403, "ROLE_NOT_ALLOWED"));
    let trail = suite
        .get_ok(
            &format!("/v1/procurement/catalogue-changes?region_code=341522&code={apalutamide}"),
            &audit,
        )
        .await;
    let changes = list(&trail["changes"]);
    assert_eq!(changes.len(), 1, "{trail}");
    assert_eq!(changes[0]["kind"], "CATALOGUE_CHANGE_KIND_CREATED");
    assert_eq!(changes[0]["changed"]["role"], "operator");
    assert_eq!(
        s(&changes[0]["source"]),
        format!("ImportCatalogue {}", s(&out["import_id"]))
    );
    suite.stop().await;
}

#[tokio::test]
async fn a_round_runs_from_bids_to_outcome_by_the_national_rules_and_derives_payment_standards() {
    let suite = Suite::start().await;
    let op = suite.operator(ANHUI);
    import_catalogue(&suite, &op).await;
    // A retried creation with the same Idempotency-Key answers the first round.
    let body = json!({"round": {"region_code": ANHUI, "name": "第十批", "rules": national_rules(), "contract_start_date": "2026-01-01", "contract_end_date": "2026-12-31"}});
    let ((_, first), _) = suite
        .call_with(
            Method::POST,
            "/v1/procurement/rounds",
            Some(&op),
            Some(body.clone()),
            &[("Idempotency-Key", "round-create-1")],
        )
        .await;
    let ((_, again), _) = suite
        .call_with(
            Method::POST,
            "/v1/procurement/rounds",
            Some(&op),
            Some(body),
            &[("Idempotency-Key", "round-create-1")],
        )
        .await;
    let round = s(&first["round"]["round_id"]).to_string();
    assert!(!round.is_empty(), "{first}");
    assert_eq!(again["round"]["round_id"], first["round"]["round_id"]);

    // Group 1 (anchor 0.50 yuan, highest valid 1.00): 0.90 sits exactly on the 1.8× line,
    // 0.91 is one fen above it, 1.20 is above the highest valid price.
    add_group(&suite, &op, &round, "g1", "阿托伐他汀钙片", 100).await;
    // Group 2 (highest valid 10.00): 4.50 is 4.5× the anchor but cuts 55% (≥ 50%); 6.00 cuts 40%.
    add_group(&suite, &op, &round, "g2", "氨氯地平片", 1000).await;
    let first_bid = bid(&suite, &round, "g1", "M1", &x(1), 50).await;
    bid(&suite, &round, "g1", "M2", &x(2), 90).await;
    bid(&suite, &round, "g1", "M3", &x(3), 91).await;
    bid(&suite, &round, "g1", "M4", &x(4), 120).await;
    bid(&suite, &round, "g2", "M1", &x(11), 100).await;
    bid(&suite, &round, "g2", "M5", &x(12), 450).await;
    bid(&suite, &round, "g2", "M6", &x(13), 600).await;
    // Retried bid: same id, nothing replaced.
    let retried = bid(&suite, &round, "g1", "M1", &x(1), 50).await;
    assert_eq!(retried["bid_id"], first_bid["bid_id"]);
    assert!(!flag(&retried["replaced"]));
    demand(
        &suite,
        &round,
        H1,
        json!([{"group_id": "g1", "quantity": 1000}, {"group_id": "g2", "quantity": 300}]),
    )
    .await;
    demand(
        &suite,
        &round,
        H2,
        json!([{"group_id": "g1", "quantity": 400}]),
    )
    .await;
    demand(
        &suite,
        &round,
        H2,
        json!([{"group_id": "g1", "quantity": 501}]),
    )
    .await; // replaces 400

    // Tenancy of bids and demand: own organisation only.
    let (status, _) = post(&suite, &format!("/v1/procurement/rounds/{round}/bids"), &manufacturer(&suite, "M1"), json!({"group_id": "g1", "manufacturer_code": "M2", "item_code": x(2), "unit_price_fen": 10, "declared_price_fen": 10})).await;
    assert_eq!(status, 403);
    let (status, _) = post(
        &suite,
        &format!("/v1/procurement/rounds/{round}/demands"),
        &suite.hospital(H1),
        json!({"institution_code": H2, "lines": [{"group_id": "g1", "quantity": 1}]}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post(
        &suite,
        &format!("/v1/procurement/rounds/{round}:select"),
        &suite.operator("320000"),
        json!({}),
    )
    .await;
    assert_eq!(
        status, 403,
        "an operator of another province cannot run this round"
    );
    // Bad input names its field and writes nothing.
    let (status, problem) = post(&suite, &format!("/v1/procurement/rounds/{round}/bids"), &manufacturer(&suite, "M7"), json!({"group_id": "g1", "manufacturer_code": "M7", "item_code": x(5), "unit_price_fen": 0, "declared_price_fen": 10})).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].clone()),
        (400, json!("unit_price_fen"))
    );

    let outcome = suite
        .ok(
            &format!("/v1/procurement/rounds/{round}:select"),
            &op,
            json!({}),
        )
        .await["outcome"]
        .clone();
    let g1 = group_of(&outcome, "g1");
    assert_eq!(num(&g1["lowest_unit_price_fen"]), 50);
    assert_eq!(
        list(&g1["winners"])
            .iter()
            .map(|w| s(&w["manufacturer_code"]).to_string())
            .collect::<Vec<_>>(),
        ["M1", "M2"]
    );
    let m2 = bid_of(g1, "M2");
    assert_eq!(
        (s(&m2["status"]), s(&m2["qualified_by"])),
        ("BID_STATUS_WON", "QUALIFIED_BY_PRICE_RATIO")
    );
    assert_eq!(m2["explanation"][0], "qualified: 0.90 ≤ 1.8 × 0.50 = 0.90");
    let m3 = bid_of(g1, "M3");
    assert_eq!(m3["status"], "BID_STATUS_NOT_QUALIFIED");
    assert_eq!(
        m3["explanation"][0],
        "not qualified: 0.91 > 1.8 × 0.50 = 0.90"
    );
    assert_eq!(bid_of(g1, "M4")["status"], "BID_STATUS_INVALID");
    // 2 winners → 60% of 1,501 = 900.6 → 901, split 600 / 301 by largest remainder.
    assert_eq!(
        (
            num(&g1["total_demand"]),
            num(&g1["agreed_share_bp"]),
            num(&g1["agreed_volume"])
        ),
        (1501, 6000, 901)
    );
    let allocations: Vec<(String, i64)> = list(&g1["allocations"])
        .iter()
        .map(|a| {
            (
                s(&a["institution_code"]).to_string(),
                num(&a["agreed_volume"]),
            )
        })
        .collect();
    assert_eq!(
        allocations,
        [(H2.to_string(), 301), (H1.to_string(), 600)],
        "in institution-code order"
    );
    let g2 = group_of(&outcome, "g2");
    assert_eq!(bid_of(g2, "M5")["qualified_by"], "QUALIFIED_BY_DEEP_CUT");
    assert_eq!(bid_of(g2, "M6")["status"], "BID_STATUS_NOT_QUALIFIED");
    assert_eq!(num(&g2["agreed_volume"]), 180, "2 winners: 60% of 300");

    // Reproducible: running again answers the stored outcome, identical.
    let rerun = suite
        .ok(
            &format!("/v1/procurement/rounds/{round}:select"),
            &op,
            json!({}),
        )
        .await["outcome"]
        .clone();
    assert_eq!(rerun, outcome);
    let (status, problem) = post(&suite, &format!("/v1/procurement/rounds/{round}/bids"), &manufacturer(&suite, "M7"), json!({"group_id": "g1", "manufacturer_code": "M7", "item_code": x(5), "unit_price_fen": 40, "declared_price_fen": 1000})).await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "PROCUREMENT_ROUND_NOT_OPEN")
    );

    // Organisation-scoped views: a manufacturer its bids, a hospital its allocations.
    let m3_view = suite
        .get_ok(
            &format!("/v1/procurement/rounds/{round}/outcome"),
            &manufacturer(&suite, "M3"),
        )
        .await["outcome"]
        .clone();
    assert_eq!(list(&m3_view["groups"]).len(), 1);
    assert_eq!(list(&m3_view["groups"][0]["bids"]).len(), 1);
    assert!(list(&m3_view["groups"][0]["allocations"]).is_empty());
    let h2_view = suite
        .get_ok(
            &format!("/v1/procurement/rounds/{round}/outcome"),
            &suite.hospital(H2),
        )
        .await["outcome"]
        .clone();
    assert_eq!(
        list(&h2_view["groups"]).len(),
        1,
        "H2 reported demand in g1 only"
    );
    assert_eq!(list(&h2_view["groups"][0]["allocations"]).len(), 1);
    assert_eq!(list(&h2_view["groups"][0]["winners"]).len(), 2);

    // Price cuts per category against the highest valid declared price.
    let cuts = suite
        .get_ok(&format!("/v1/procurement/rounds/{round}/price-cuts"), &op)
        .await;
    let drug = &cuts["categories"][0];
    assert_eq!(
        (s(&drug["category"]), num(&drug["item_count"])),
        ("drug", 4)
    );
    // Cuts: 50%, 10%, 90%, 55% → mean 51.25%.
    assert_eq!(num(&drug["average_cut_bp"]), 5125);

    // Payment standards from the round: winners at their price; a non-winner above 2× the
    // highest winning price keeps its price less 30%, never below the winning price.
    let derive = json!({"region_code": ANHUI, "effective_from_date": "2026-01-01", "non_winners": [{"item_code": x(3), "generic_name": "阿托伐他汀钙片", "unit_price_fen": 200}, {"item_code": x(5), "generic_name": "阿托伐他汀钙片", "unit_price_fen": 150}], "dry_run": true});
    let dry = suite
        .ok(
            &format!("/v1/procurement/rounds/{round}:derive-payment-standards"),
            &op,
            derive.clone(),
        )
        .await;
    let mut derive = derive;
    derive["dry_run"] = json!(false);
    let stored = suite
        .ok(
            &format!("/v1/procurement/rounds/{round}:derive-payment-standards"),
            &op,
            derive,
        )
        .await;
    let amounts = |v: &Value| {
        list(&v["standards"])
            .iter()
            .map(|d| {
                (
                    s(&d["standard"]["item_code"]).to_string(),
                    num(&d["standard"]["amount_fen"]),
                    flag(&d["winner"]),
                )
            })
            .collect::<Vec<_>>()
    };
    let expected = vec![
        (x(1), 50, true),
        (x(2), 90, true),
        (x(3), 140, false),
        (x(5), 90, false),
        (x(11), 100, true),
        (x(12), 450, true),
    ];
    assert_eq!(amounts(&dry), expected);
    assert_eq!(amounts(&stored), expected);
    let lookup = suite
        .ok(
            "/v1/procurement/payment-standards:batchGet",
            &suite.hospital(H1),
            json!({"region_code": "341522", "item_codes": [x(3), x(4)], "on_date": "2026-05-01"}),
        )
        .await;
    assert_eq!(num(&lookup["results"][0]["standard"]["amount_fen"]), 140);
    assert!(!flag(&lookup["results"][1]["found"]));
    suite.stop().await;
}

#[tokio::test]
async fn a_listing_above_the_guide_price_is_refused_naming_it_and_a_cut_guide_price_flags_old_listings()
 {
    let suite = Suite::start().await;
    let op = suite.operator(ANHUI);
    import_catalogue(&suite, &op).await;
    let reference = |price: i64, from: &str| json!({"reference": {"item_code": C1, "region_code": ANHUI, "kind": "REFERENCE_KIND_GUIDE", "price_fen": price, "valid_from_date": from}});
    suite
        .ok(
            "/v1/procurement/reference-prices",
            &op,
            reference(20_000, "2025-01-01"),
        )
        .await;
    let m = manufacturer(&suite, "M9");
    let listing = |price: i64, from: &str| json!({"listing": {"item_code": C1, "region_code": ANHUI, "manufacturer_code": "M9", "price_fen": price, "valid_from_date": from}});
    suite
        .ok(
            "/v1/procurement/listed-prices",
            &m,
            listing(18_000, "2025-03-01"),
        )
        .await;

    // The guide price goes from 200 to 120 yuan: the 200 ends the day before, and the
    // 180-yuan listing is reported as now above it.
    let cut = suite
        .ok(
            "/v1/procurement/reference-prices",
            &op,
            reference(12_000, "2026-01-01"),
        )
        .await;
    assert_eq!(cut["previous"]["valid_to_date"], "2025-12-31");
    assert_eq!(list(&cut["listings_above"]).len(), 1);
    assert_eq!(num(&cut["listings_above"][0]["price_fen"]), 18_000);
    let retried = suite
        .ok(
            "/v1/procurement/reference-prices",
            &op,
            reference(12_000, "2026-01-01"),
        )
        .await;
    assert_eq!(
        retried, cut,
        "a retried reference answers as the first time and writes nothing"
    );

    let (status, problem) = post(
        &suite,
        "/v1/procurement/listed-prices",
        &m,
        listing(15_000, "2026-02-01"),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["code"], "PROCUREMENT_PRICE_ABOVE_REFERENCE");
    assert_eq!(problem["errors"][0]["field"], "listing.price_fen");
    let detail = s(&problem["errors"][0]["detail"]);
    assert!(
        detail.contains("guide price (指导价) 120.00") && detail.contains("from 2026-01-01"),
        "{detail}"
    );
    suite
        .ok(
            "/v1/procurement/listed-prices",
            &m,
            listing(12_000, "2026-02-01"),
        )
        .await;

    // A manufacturer lists only its own products; operators their own province.
    let (status, _) = post(
        &suite,
        "/v1/procurement/listed-prices",
        &manufacturer(&suite, "M8"),
        listing(10_000, "2026-03-01"),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post(
        &suite,
        "/v1/procurement/reference-prices",
        &suite.operator("320000"),
        reference(9_000, "2026-06-01"),
    )
    .await;
    assert_eq!(status, 403);
    suite.stop().await;
}

#[tokio::test]
async fn a_claim_date_gets_the_payment_standard_of_its_own_date_through_the_cache() {
    let suite = Suite::start().await;
    let op = suite.operator(ANHUI);
    let set = |amount: i64, from: &str| json!({"standard": {"item_code": x(1), "region_code": ANHUI, "amount_fen": amount, "valid_from_date": from, "basis": "省医保局文件"}});
    suite
        .ok(
            "/v1/procurement/payment-standards",
            &op,
            set(10_000, "2025-01-01"),
        )
        .await;
    let hosp = suite.hospital(H1);
    let lookup =
        |date: &str| json!({"region_code": "341522", "item_codes": [x(1), x(2)], "on_date": date});
    // Warm the cache with the old history, then change it: the next answer must follow.
    let before = suite
        .ok(
            "/v1/procurement/payment-standards:batchGet",
            &hosp,
            lookup("2026-03-01"),
        )
        .await;
    assert_eq!(num(&before["results"][0]["standard"]["amount_fen"]), 10_000);
    let second = suite
        .ok(
            "/v1/procurement/payment-standards",
            &op,
            set(7_000, "2026-01-01"),
        )
        .await;
    assert_eq!(second["previous"]["valid_to_date"], "2025-12-31");
    let retried = suite
        .ok(
            "/v1/procurement/payment-standards",
            &op,
            set(7_000, "2026-01-01"),
        )
        .await;
    assert_eq!(
        retried, second,
        "a retried standard answers as the first time and writes nothing"
    );

    let now = suite
        .ok(
            "/v1/procurement/payment-standards:batchGet",
            &hosp,
            lookup("2026-03-01"),
        )
        .await;
    assert_eq!(num(&now["results"][0]["standard"]["amount_fen"]), 7_000);
    assert_eq!(
        now["results"][0]["standard"]["region_code"], ANHUI,
        "a county is priced by its province's standard"
    );
    assert!(!flag(&now["results"][1]["found"]));
    let past = suite
        .ok(
            "/v1/procurement/payment-standards:batchGet",
            &hosp,
            lookup("2025-12-31"),
        )
        .await;
    assert_eq!(
        num(&past["results"][0]["standard"]["amount_fen"]),
        10_000,
        "a 2025 claim keeps the 2025 standard"
    );
    assert_eq!(
        past["results"][0]["standard"]["valid_to_date"],
        "2025-12-31"
    );

    // A closed period cannot be rewritten; bad codes are named.
    let overlap = json!({"standard": {"item_code": x(1), "region_code": ANHUI, "amount_fen": 9_000, "valid_from_date": "2025-06-01", "valid_to_date": "2025-06-30"}});
    let (status, problem) = post(&suite, "/v1/procurement/payment-standards", &op, overlap).await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "PROCUREMENT_PERIOD_OVERLAP")
    );
    let (status, problem) = post(
        &suite,
        "/v1/procurement/payment-standards:batchGet",
        &hosp,
        json!({"region_code": ANHUI, "item_codes": [x(1), "X123"], "on_date": "2026-01-01"}),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].clone()),
        (400, json!("item_codes[1]"))
    );
    // Settlement prices claims that also carry local codes: asked to, it answers them not found.
    let lenient = suite.ok("/v1/procurement/payment-standards:batchGet", &hosp, json!({"region_code": ANHUI, "item_codes": ["X123", x(1)], "on_date": "2026-01-01", "skip_non_national_codes": true})).await;
    assert!(!flag(&lenient["results"][0]["found"]));
    assert_eq!(num(&lenient["results"][1]["standard"]["amount_fen"]), 7_000);
    // Standards are published: an operator of another province reads Anhui's (异地 pricing).
    let elsewhere = suite
        .ok(
            "/v1/procurement/payment-standards:batchGet",
            &suite.operator("320000"),
            lookup("2026-03-01"),
        )
        .await;
    assert_eq!(
        num(&elsewhere["results"][0]["standard"]["amount_fen"]),
        7_000
    );
    let (status, _) = post(
        &suite,
        "/v1/procurement/payment-standards",
        &suite.operator("320000"),
        set(1, "2027-01-01"),
    )
    .await;
    assert_eq!(status, 403);
    suite.stop().await;
}

/// Every event of `stream` on Redis whose id starts with `prefix`, read by a fresh group.
async fn events_on_bus(
    url: &str,
    stream: &str,
    prefix: &str,
) -> Vec<yibao_runtime::bus::BusMessage> {
    let bus = yibao_runtime::bus::RedisBus::connect(url)
        .await
        .unwrap_or_else(|e| panic!("redis bus: {e}"));
    let group = format!("test-{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::new();
    // Producers write the partitions `<stream>.p<n>`; the bare stream is read too.
    let mut streams = yibao_runtime::streams::all_partitions(stream);
    streams.push(stream.to_string());
    for stream in &streams {
        loop {
            let batch = bus
                .read(stream, &group, "reader", 1000, Duration::from_millis(50))
                .await
                .unwrap_or_else(|e| panic!("read: {e}"));
            if batch.is_empty() {
                break;
            }
            let ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
            bus.ack(stream, &group, &ids)
                .await
                .unwrap_or_else(|e| panic!("ack: {e}"));
            out.extend(batch.into_iter().filter(|m| m.event_id.starts_with(prefix)));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_mark_up_and_a_sale_without_stock_are_findings_published_once_for_supervision() {
    // The bus must be one the test can read: Redis, the real part of production.
    let redis =
        std::env::var("YIBAO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let suite = Suite::start_with(|o| o.redis_url = redis.clone()).await;
    let op = suite.operator(ANHUI);
    import_catalogue(&suite, &op).await;
    suite.ok("/v1/procurement/listed-prices", &manufacturer(&suite, "M9"), json!({"listing": {"item_code": C1, "region_code": ANHUI, "manufacturer_code": "M9", "price_fen": 1_000, "valid_from_date": "2025-01-01"}})).await;
    let inst = fresh_institution("341522");
    let path = format!("/v1/procurement/institutions/{inst}/inventory-records");
    let record = |no: &str, item: &str, date: &str, movement: &str, q: u64, price: i64| json!({"record_no": no, "item_code": item, "date": date, "movement": movement, "quantity": q, "unit_price_fen": price});
    let body = json!({"institution_code": inst, "records": [
        record("P1", C1, "2026-01-05", "MOVEMENT_PURCHASE", 10, 1_000),
        record("S1", C1, "2026-01-06", "MOVEMENT_SALE", 4, 1_100),
        record("S2", C1, "2026-01-07", "MOVEMENT_SALE", 8, 1_000),
        record("P2", &x(1), "2026-01-08", "MOVEMENT_PURCHASE", 5, 300)
    ]});
    let hosp = suite.hospital(&inst);
    let out = suite.ok(&path, &hosp, body.clone()).await;
    assert_eq!(num(&out["accepted_count"]), 4);
    let findings: Vec<(String, String, i64, i64)> = list(&out["findings"])
        .iter()
        .map(|f| {
            (
                s(&f["code"]).to_string(),
                s(&f["record_no"]).to_string(),
                num(&f["quantity"]),
                num(&f["amount_fen"]),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [
            ("PROCUREMENT_MARK_UP".to_string(), "S1".to_string(), 4, 400),
            (
                "PROCUREMENT_SALE_WITHOUT_STOCK".to_string(),
                "S2".to_string(),
                2,
                2_000
            ),
            (
                "PROCUREMENT_UNLISTED_PURCHASE".to_string(),
                "P2".to_string(),
                5,
                1_500
            ),
        ],
        "{out}"
    );
    let retried = suite.ok(&path, &hosp, body).await;
    assert_eq!(
        retried, out,
        "a retried upload answers the same and stores nothing new"
    );

    let stream = "yibao.procurement.inventory";
    let redis = suite.redis.as_ref().map(|d| d.url.clone()).unwrap_or(redis);
    let events = events_on_bus(&redis, stream, &format!("procurement-inventory:{inst}:")).await;
    assert_eq!(
        events.len(),
        2,
        "mark-up and stock findings, each once: {events:?}"
    );
    let markup = events
        .iter()
        .find(|e| e.event_id.contains(":S1:"))
        .expect("mark-up event");
    assert!(
        contains(&markup.payload, &inst)
            && contains(&markup.payload, C1)
            && contains(&markup.payload, "2026-01-06T00:00:00")
    );

    // Reusing a record number for other content is refused; others' records are not ours.
    let reuse = json!({"institution_code": inst, "records": [record("S1", C1, "2026-01-06", "MOVEMENT_SALE", 5, 1_100)]});
    let (status, problem) = post(&suite, &path, &hosp, reuse).await;
    assert_eq!(
        (status, s(&problem["code"])),
        (409, "PROCUREMENT_RECORD_NO_REUSED")
    );
    let (status, _) = post(
        &suite,
        &path,
        &suite.hospital(H2),
        json!({"institution_code": inst, "records": []}),
    )
    .await;
    assert_eq!(status, 403);
    let bad = json!({"institution_code": inst, "records": [record("P9", C1, "2026-13-01", "MOVEMENT_PURCHASE", 1, 1)]});
    let (status, problem) = post(&suite, &path, &hosp, bad).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].clone()),
        (400, json!("records[0].date"))
    );
    suite.stop().await;
}

#[tokio::test]
async fn only_institutions_that_completed_their_agreed_volume_retain_savings() {
    let suite = Suite::start().await;
    let op = suite.operator(ANHUI);
    import_catalogue(&suite, &op).await;
    let round = create_round(&suite, &op).await;
    add_group(
        &suite,
        &op,
        &round,
        "atorvastatin-20mg",
        "阿托伐他汀钙片",
        400,
    )
    .await;
    bid(&suite, &round, "atorvastatin-20mg", "M1", &x(1), 12).await;
    // One winner → 50% of 220,000: 100,000 for H1 and 10,000 for H2.
    demand(
        &suite,
        &round,
        H1,
        json!([{"group_id": "atorvastatin-20mg", "quantity": 200000}]),
    )
    .await;
    demand(
        &suite,
        &round,
        H2,
        json!([{"group_id": "atorvastatin-20mg", "quantity": 20000}]),
    )
    .await;
    suite
        .ok(
            &format!("/v1/procurement/rounds/{round}:select"),
            &op,
            json!({}),
        )
        .await;

    let purchase = |no: &str, item: &str, date: &str, q: u64, price: i64| json!({"record_no": no, "item_code": item, "date": date, "movement": "MOVEMENT_PURCHASE", "quantity": q, "unit_price_fen": price});
    // H1: 110,000 winning units at 0.12 and 5,000 of a non-winning same-generic product at 2.50.
    suite.ok(&format!("/v1/procurement/institutions/{H1}/inventory-records"), &suite.hospital(H1), json!({"institution_code": H1, "records": [purchase("P1", &x(1), "2026-02-01", 110_000, 12), purchase("P2", &x(2), "2026-03-01", 5_000, 250)]})).await;
    // H2: half of its agreed volume.
    suite.ok(&format!("/v1/procurement/institutions/{H2}/inventory-records"), &suite.hospital(H2), json!({"institution_code": H2, "records": [purchase("P1", &x(1), "2026-02-01", 5_000, 12)]})).await;

    let completion = suite
        .get_ok(
            &format!("/v1/procurement/rounds/{round}/completion?as_of_date=2026-07-01"),
            &op,
        )
        .await;
    let rows: Vec<(String, i64, i64, String)> = list(&completion["completions"])
        .iter()
        .map(|c| {
            (
                s(&c["institution_code"]).to_string(),
                num(&c["completion_bp"]),
                num(&c["time_progress_bp"]),
                s(&c["status"]).to_string(),
            )
        })
        .collect();
    // In institution-code order: H341502… before H341522….
    assert_eq!(
        rows,
        [
            (
                H2.to_string(),
                5_000,
                4_986,
                "COMPLETION_STATUS_ON_PACE".to_string()
            ),
            (
                H1.to_string(),
                11_000,
                4_986,
                "COMPLETION_STATUS_COMPLETED".to_string()
            )
        ]
    );
    let late = suite.get_ok(&format!("/v1/procurement/rounds/{round}/completion?institution_code={H2}&as_of_date=2026-12-31"), &suite.hospital(H2)).await;
    assert_eq!(late["completions"][0]["status"], "COMPLETION_STATUS_BEHIND");
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/procurement/rounds/{round}/completion?institution_code={H1}"),
            Some(&suite.hospital(H2)),
            None,
        )
        .await;
    assert_eq!(status, 403);

    let body = json!({
        "retention_rate_bp": 5000, "require_completion": true,
        "pre_procurement_prices": [{"group_id": "atorvastatin-20mg", "unit_price_fen": 300}],
        "institutions": [
            {"institution_code": H2, "fund_payment_rate_bp": 7000, "assessment_coefficient_bp": 10000},
            {"institution_code": H1, "fund_payment_rate_bp": 7000, "assessment_coefficient_bp": 9500}
        ]
    });
    let path = format!("/v1/procurement/rounds/{round}:compute-retained-savings");
    let savings = suite.ok(&path, &op, body.clone()).await;
    // H1: budget 100,000 × 3.00 × 70% = 210,000.00; actual (13,200 + 12,500) × 70% = 17,990.00;
    // saving 192,010.00; retained × 50% × 95% = 91,204.75. H2 did not complete: 0.
    let h1 = &savings["institutions"][1];
    assert_eq!(s(&h1["institution_code"]), H1);
    assert_eq!(
        (
            num(&h1["budget_fen"]),
            num(&h1["actual_fen"]),
            num(&h1["saving_fen"]),
            num(&h1["retained_fen"])
        ),
        (21_000_000, 1_799_000, 19_201_000, 9_120_475)
    );
    assert_eq!(
        s(&h1["explanation"][4]),
        "retained = 192010.00 × 50.00% × 95.00% = 91204.75"
    );
    let h2 = &savings["institutions"][0];
    assert_eq!(s(&h2["institution_code"]), H2);
    assert!(!flag(&h2["completed"]));
    assert_eq!(
        (num(&h2["saving_fen"]), num(&h2["retained_fen"])),
        (2_058_000, 0)
    );
    assert_eq!(num(&savings["total_retained_fen"]), 9_120_475);
    assert_eq!(
        suite.ok(&path, &op, body).await,
        savings,
        "recomputing gives the same figures"
    );

    let (status, problem) = post(&suite, &path, &op, json!({"retention_rate_bp": 12000, "institutions": [{"institution_code": H1, "fund_payment_rate_bp": 7000, "assessment_coefficient_bp": 9500}]})).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].clone()),
        (400, json!("retention_rate_bp"))
    );
    let (status, _) = post(
        &suite,
        &path,
        &suite.hospital(H1),
        json!({"retention_rate_bp": 5000}),
    )
    .await;
    assert_eq!(status, 403);
    suite.stop().await;
}
