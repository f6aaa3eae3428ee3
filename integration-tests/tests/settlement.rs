//! Settlement end to end through the gateway's REST, on whichever backend the run uses:
//! policies uploaded and listed as data, DOMAIN §1.7's poor patient settled to the fen through
//! every layer, retries that write nothing, reversal restoring the counters, the backstop cap
//! across claims, tenancy, field-named refusals, cross-region pricing, the insurer layer and
//! the outbox event on the bus (Redis runs). Items are classified only by procurement's
//! catalogue (decision 0009): the tests import one, and the classes the claims declare are not
//! used (a code in no catalogue is 丙 whatever is declared).

#[path = "support/huoqiu.rs"]
mod huoqiu;

use http::Method;
use huoqiu::*;
use serde_json::{Value, json};
use yibao_integration_tests::{
    Suite, enrolled_person, id_number, n, physician_of, s, this_year, yuan,
};
use yibao_runtime::Role;

const BAK_INSURER: &str = "INS442000001";

/// The national code the tests' short names stand for.
fn code_of(name: &str) -> &str {
    match name {
        "A-SERVICES" => A_SERVICES,
        "B-DRUGS" => B_DRUGS,
        "A" => A_BED,
        other => other,
    }
}

/// An item of one unit; the declared class is sent as hospitals do, and not used.
fn item(code: &str, class: &str, yuan_amount: i64) -> Value {
    json!({"national_code": code_of(code), "name": code, "item_class": class, "quantity": 1, "unit_price_fen": yuan(yuan_amount), "amount_fen": yuan(yuan_amount)})
}

/// DOMAIN §1.7's bill: 10,000 out of catalogue + 40,000 乙类 + 100,000 甲类.
fn worked_items() -> Value {
    json!([
        item("C-OUT", "ITEM_CLASS_C", 10_000),
        item("B-DRUGS", "ITEM_CLASS_B", 40_000),
        item("A-SERVICES", "ITEM_CLASS_A", 100_000)
    ])
}

/// An inpatient claim naming the institution's registered physician; its grade and tier are
/// the registry's ([`registry`]).
fn inpatient(institution: &str, encounter: &str, id: &str, region: &str, items: Value) -> Value {
    let y = this_year();
    json!({"claim": {
        "institution_code": institution, "encounter_no": encounter, "id_number": id, "insured_region_code": region,
        "kind": "ENCOUNTER_KIND_INPATIENT", "attending_physician_code": physician_of(institution),
        "start_date": format!("{y}-06-10"), "end_date": format!("{y}-06-15"), "diagnoses": ["I10.x00x002"], "items": items
    }})
}

#[tokio::test]
async fn policies_are_data_seeded_listed_uploaded_and_checked_field_by_field() {
    let suite = Suite::start().await;
    let op = suite.operator(ANHUI);
    let listed = suite
        .get_ok(&format!("/v1/policies?region_code={ANHUI}"), &op)
        .await;
    let ids: Vec<&str> = listed["policies"]
        .as_array()
        .map(|a| a.iter().map(|p| s(&p["policy_id"])).collect())
        .unwrap_or_default();
    assert_eq!(
        ids,
        ["341522-2018-resident"],
        "Anhui sees its own seeded policy only"
    );
    upload_this_years(&suite, &op, "341522-2018-resident", HUOQIU).await;
    let listed = suite
        .get_ok(
            &format!("/v1/policies?region_code={HUOQIU}&year={}", this_year()),
            &op,
        )
        .await;
    assert_eq!(listed["policies"].as_array().map(Vec::len), Some(1));
    // The same version again is refused; a broken document names the path inside it.
    let got = suite
        .get_ok(
            &format!(
                "/v1/policies/341522-{}-resident?region_code={HUOQIU}",
                this_year()
            ),
            &op,
        )
        .await;
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/policies",
            Some(&op),
            Some(json!({"region_code": HUOQIU, "document_json": got["document_json"]})),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "document_json.version");
    let mut doc: Value = serde_json::from_str(s(&got["document_json"])).unwrap_or(Value::Null);
    doc["version"] = json!(2);
    doc["basic"]["rates"][0]["rate"] = json!(20_000);
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/policies",
            Some(&op),
            Some(json!({"region_code": HUOQIU, "document_json": doc.to_string()})),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    let field = s(&problem["errors"][0]["field"]);
    assert!(
        field.starts_with("document_json.basic.rates[0]"),
        "{problem}"
    );
    // An operator of another province may not upload here.
    let (status, _) = suite
        .call(
            Method::POST,
            "/v1/policies",
            Some(&suite.operator("440000")),
            Some(json!({"region_code": HUOQIU, "document_json": "{}"})),
        )
        .await;
    assert_eq!(status, 403);
    suite.stop().await;
}

#[tokio::test]
async fn poor_patient_is_settled_through_every_layer_to_the_fen_and_a_retry_writes_nothing() {
    let suite = Suite::start().await;
    let (op, id) = huoqiu(&suite, "34152219800101011").await;
    let h = suite.hospital(CITY_HOSPITAL);
    let body = inpatient(CITY_HOSPITAL, "ZY-0001", &id, HUOQIU, worked_items());
    // Pre-settlement writes nothing.
    let pre = suite.ok("/v1/claims:presettle", &h, body.clone()).await;
    assert_eq!(
        n(&pre["settlement"]["breakdown"]["fund_pay_sumamt_fen"]),
        yuan(131_000)
    );
    assert_eq!(
        n(&accumulators(&suite, &op, &id, HUOQIU).await["deductible_used_fen"]),
        0
    );
    let done = suite.ok("/v1/claims:settle", &h, body.clone()).await;
    let b = &done["settlement"]["breakdown"];
    assert_eq!(n(&b["medfee_sumamt_fen"]), yuan(150_000));
    assert_eq!(n(&b["fulamt_ownpay_amt_fen"]), yuan(10_000));
    assert_eq!(n(&b["preselfpay_amt_fen"]), yuan(4_000));
    assert_eq!(n(&b["inscp_scp_amt_fen"]), yuan(136_000));
    assert_eq!(n(&b["hifp_pay_fen"]), yuan(87_750));
    assert_eq!(n(&b["hifmi_pay_fen"]), 2_811_250, "(48,250 − 5,000) × 65%");
    assert_eq!(n(&b["maf_pay_fen"]), 1_409_625, "20,137.50 × 70%");
    assert_eq!(n(&b["backstop_pay_fen"]), 104_125, "6,041.25 − 5,000");
    assert_eq!(n(&b["fund_pay_sumamt_fen"]), yuan(131_000));
    assert_eq!(n(&b["psn_part_amt_fen"]), yuan(19_000));
    assert_eq!(
        done["settlement"]["policy_id"],
        format!("341522-{}-resident", this_year())
    );
    let explained: Vec<&str> = done["settlement"]["explanations"]
        .as_array()
        .map(|a| a.iter().map(|e| s(&e["field"])).collect())
        .unwrap_or_default();
    for field in [
        "hifp_pay",
        "hifmi_pay",
        "maf_pay",
        "backstop_pay",
        "psn_part_amt",
    ] {
        assert!(
            explained.contains(&field),
            "{field} is explained: {explained:?}"
        );
    }
    let pool = done["settlement"]["explanations"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["field"] == "hifp_pay"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(pool["rule"], "basic_pool_rate");
    assert!(
        s(&pool["text"]).contains("(136000.00 policy range − 1000.00 deductible) × 65.00%"),
        "{pool}"
    );
    let claim_id = s(&done["claim_id"]).to_string();
    let acc = accumulators(&suite, &op, &id, HUOQIU).await;
    assert_eq!(n(&acc["backstop_oop_fen"]), yuan(5_000));
    // The same encounter again: the first result, nothing written.
    let again = suite.ok("/v1/claims:settle", &h, body).await;
    assert_eq!(again["replayed"], true);
    assert_eq!(s(&again["claim_id"]), claim_id);
    assert_eq!(again["settlement"], done["settlement"]);
    assert_eq!(accumulators(&suite, &op, &id, HUOQIU).await, acc);
    let listed = suite
        .get_ok(&format!("/v1/claims?institution_code={CITY_HOSPITAL}"), &h)
        .await;
    assert_eq!(listed["claims"].as_array().map(Vec::len), Some(1));
    let got = suite.get_ok(&format!("/v1/claims/{claim_id}"), &h).await;
    assert_eq!(got["claim"]["status"], "CLAIM_STATUS_SETTLED");
    assert!(
        s(&got["claim"]["claim"]["id_number"]).contains('*'),
        "the ID number is masked"
    );
    // The event reaches the bus (observable from outside on Redis runs).
    if let Some(db) = &suite.redis {
        assert!(
            event_on_bus(&db.url, &claim_id, &id).await,
            "a ClaimEvent for {claim_id} is on yibao.settlement.claims"
        );
    }
    suite.stop().await;
}

/// Reads the claims stream in a fresh consumer group until an event of `claim_id` appears.
async fn event_on_bus(url: &str, claim_id: &str, id_number: &str) -> bool {
    let bus = match yibao_runtime::bus::RedisBus::connect(url).await {
        Ok(b) => b,
        Err(_) => return false,
    };
    use yibao_runtime::bus::Bus;
    let group = format!("settlement-it-{}", uuid::Uuid::new_v4().simple());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let partitions = yibao_runtime::streams::all_partitions("yibao.settlement.claims");
    while std::time::Instant::now() < deadline {
        let got = bus
            .read_many(
                &partitions,
                &group,
                "c",
                1000,
                std::time::Duration::from_millis(200),
            )
            .await
            .unwrap_or_default();
        for (stream, m) in &got {
            let _ = bus.ack(stream, &group, std::slice::from_ref(&m.id)).await;
        }
        let got: Vec<_> = got.into_iter().map(|(_, m)| m).collect();
        if let Some(m) = got.iter().find(|m| {
            m.payload
                .windows(claim_id.len())
                .any(|w| w == claim_id.as_bytes())
        }) {
            assert!(
                !m.payload
                    .windows(id_number.len())
                    .any(|w| w == id_number.as_bytes()),
                "the event carries no ID number"
            );
            assert!(!m.event_id.is_empty());
            let physician = yibao_integration_tests::physician_of(CITY_HOSPITAL);
            assert!(
                m.payload
                    .windows(physician.len())
                    .any(|w| w == physician.as_bytes()),
                "the event names the attending physician, for supervision's physician points"
            );
            return true;
        }
    }
    false
}

#[tokio::test]
async fn reversal_restores_the_counters_and_the_ledger_reconciles() {
    let suite = Suite::start().await;
    let (op, id) = huoqiu(&suite, "34152219800101012").await;
    let h = suite.hospital(CITY_HOSPITAL);
    let empty = accumulators(&suite, &op, &id, HUOQIU).await;
    let done = suite
        .ok(
            "/v1/claims:settle",
            &h,
            inpatient(CITY_HOSPITAL, "ZY-0002", &id, HUOQIU, worked_items()),
        )
        .await;
    let claim_id = s(&done["claim_id"]).to_string();
    // Refund the out-of-catalogue item: only the patient's money comes back.
    let part = suite.ok(&format!("/v1/claims/{claim_id}:reverse"), &h, json!({"institution_code": CITY_HOSPITAL, "reversal_no": "CX-1", "item_indexes": [0], "reason": "not dispensed"})).await;
    assert_eq!(part["status"], "CLAIM_STATUS_PARTIALLY_REFUNDED");
    assert_eq!(n(&part["refund"]["psn_part_amt_fen"]), yuan(10_000));
    assert_eq!(n(&part["refund"]["fund_pay_sumamt_fen"]), 0);
    let full = suite.ok(&format!("/v1/claims/{claim_id}:reverse"), &h, json!({"institution_code": CITY_HOSPITAL, "reversal_no": "CX-2", "reason": "patient left"})).await;
    assert_eq!(full["status"], "CLAIM_STATUS_REVERSED");
    assert_eq!(n(&full["refund"]["fund_pay_sumamt_fen"]), yuan(131_000));
    assert_eq!(
        accumulators(&suite, &op, &id, HUOQIU).await,
        empty,
        "the counters are restored exactly"
    );
    // The same reversal number replays; a new one on a reversed claim is refused with a reason.
    let replay = suite
        .ok(
            &format!("/v1/claims/{claim_id}:reverse"),
            &h,
            json!({"institution_code": CITY_HOSPITAL, "reversal_no": "CX-2"}),
        )
        .await;
    assert_eq!(replay["refund"], full["refund"]);
    let (status, problem) = suite
        .call(
            Method::POST,
            &format!("/v1/claims/{claim_id}:reverse"),
            Some(&h),
            Some(json!({"institution_code": CITY_HOSPITAL, "reversal_no": "CX-3"})),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["code"], "SETTLEMENT_CLAIM_CLOSED");
    let got = suite.get_ok(&format!("/v1/claims/{claim_id}"), &h).await;
    assert_eq!(got["claim"]["reversals"].as_array().map(Vec::len), Some(2));
    let y = this_year();
    for month in [
        format!("{y}-06"),
        chrono::Utc::now().format("%Y-%m").to_string(),
    ] {
        let rec = suite
            .ok(
                "/v1/ledger:reconcile",
                &op,
                json!({"region_code": HUOQIU, "month": month}),
            )
            .await;
        assert_eq!(rec["balanced"], true, "{month}: {rec}");
    }
    let st = suite
        .get_ok(
            &format!("/v1/institutions/{CITY_HOSPITAL}/statements/{y}-06"),
            &h,
        )
        .await;
    assert_eq!(
        n(&st["lines"][0]["fund_pay_sumamt_fen"]),
        yuan(131_000),
        "settled in June; the reversal is posted in its own month"
    );
    suite.stop().await;
}

#[tokio::test]
async fn the_backstop_cap_holds_across_claims_of_the_year() {
    let suite = Suite::start().await;
    let (op, id) = huoqiu(&suite, "34152219800101013").await;
    let h = suite.hospital(CITY_HOSPITAL);
    suite
        .ok(
            "/v1/claims:settle",
            &h,
            inpatient(CITY_HOSPITAL, "ZY-0003", &id, HUOQIU, worked_items()),
        )
        .await;
    // The city tier's 5,000 out-of-pocket is used up: the backstop pays every compliant fen.
    let second = suite
        .ok(
            "/v1/claims:settle",
            &h,
            inpatient(
                CITY_HOSPITAL,
                "ZY-0004",
                &id,
                HUOQIU,
                json!([item("A-SERVICES", "ITEM_CLASS_A", 10_000)]),
            ),
        )
        .await;
    let b = &second["settlement"]["breakdown"];
    assert_eq!(n(&b["psn_part_amt_fen"]), 0, "{b}");
    assert!(n(&b["backstop_pay_fen"]) > 0);
    assert_eq!(n(&b["fund_pay_sumamt_fen"]), yuan(10_000));
    let acc = accumulators(&suite, &op, &id, HUOQIU).await;
    assert_eq!(n(&acc["backstop_oop_fen"]), yuan(5_000));
    assert_eq!(n(&acc["admissions"]), 2);
    suite.stop().await;
}

#[tokio::test]
async fn tenancy_and_bad_input_are_refused_with_reasons_and_write_nothing() {
    let suite = Suite::start().await;
    let (op, id) = huoqiu(&suite, "34152219800101014").await;
    let h = suite.hospital(CITY_HOSPITAL);
    let other = suite.hospital(OTHER_HOSPITAL);
    // Bad input names the field and writes nothing.
    let mut bad = inpatient(CITY_HOSPITAL, "ZY-BAD", &id, HUOQIU, worked_items());
    bad["claim"]["items"][1]["amount_fen"] = json!(1);
    let (status, problem) = suite
        .call(Method::POST, "/v1/claims:settle", Some(&h), Some(bad))
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "claim.items[1].amount_fen");
    let mut bad = inpatient(CITY_HOSPITAL, "ZY-BAD", &id, HUOQIU, worked_items());
    bad["claim"]["id_number"] = json!("341522198001010000");
    bad["claim"]["kind"] = json!("ENCOUNTER_KIND_UNSPECIFIED");
    let (status, problem) = suite
        .call(Method::POST, "/v1/claims:settle", Some(&h), Some(bad))
        .await;
    assert_eq!(status, 400, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| s(&e["field"])).collect())
        .unwrap_or_default();
    assert!(
        fields.contains(&"claim.id_number") && fields.contains(&"claim.kind"),
        "{fields:?}"
    );
    let mut wrong_region = inpatient(CITY_HOSPITAL, "ZY-BAD", &id, "341502", worked_items());
    wrong_region["claim"]["insured_region_code"] = json!("341502");
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/claims:settle",
            Some(&h),
            Some(wrong_region),
        )
        .await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "claim.insured_region_code"),
        "{problem}"
    );
    assert_eq!(
        n(&accumulators(&suite, &op, &id, HUOQIU).await["admissions"]),
        0
    );
    let listed = suite
        .get_ok(&format!("/v1/claims?institution_code={CITY_HOSPITAL}"), &h)
        .await;
    assert_eq!(
        listed["claims"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "nothing was written"
    );
    // Another hospital may neither settle in this hospital's name nor read or reverse its claim.
    let (status, _) = suite
        .call(
            Method::POST,
            "/v1/claims:settle",
            Some(&other),
            Some(inpatient(
                CITY_HOSPITAL,
                "ZY-X",
                &id,
                HUOQIU,
                worked_items(),
            )),
        )
        .await;
    assert_eq!(status, 403);
    let done = suite
        .ok(
            "/v1/claims:settle",
            &h,
            inpatient(CITY_HOSPITAL, "ZY-0005", &id, HUOQIU, worked_items()),
        )
        .await;
    let claim_id = s(&done["claim_id"]);
    let (status, problem) = suite
        .call(
            Method::GET,
            &format!("/v1/claims/{claim_id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        s(&problem["detail"]).contains("not your organisation"),
        "{problem}"
    );
    let (status, _) = suite
        .call(
            Method::POST,
            &format!("/v1/claims/{claim_id}:reverse"),
            Some(&other),
            Some(json!({"institution_code": OTHER_HOSPITAL, "reversal_no": "X"})),
        )
        .await;
    assert_eq!(status, 403);
    let listed = suite
        .get_ok(
            &format!("/v1/claims?institution_code={OTHER_HOSPITAL}"),
            &other,
        )
        .await;
    assert_eq!(listed["claims"].as_array().map(Vec::len).unwrap_or(0), 0);
    // Operators see their region only.
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/claims/{claim_id}"),
            Some(&suite.operator("440000")),
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        suite.get_ok(&format!("/v1/claims/{claim_id}"), &op).await["claim"]["claim_id"],
        claim_id
    );
    suite.stop().await;
}

#[tokio::test]
async fn cross_region_care_is_priced_by_the_treatment_catalogue_under_the_insured_policy() {
    let suite = Suite::start().await;
    let (op, id) = huoqiu(&suite, "34152219800101015").await;
    // A Hefei hospital: its catalogue lists the drug as 乙类 with a payment standard of 80 yuan.
    let hefei_hospital = "H34010000001";
    let y = this_year();
    let hefei_drug = "XC10AAA123A000000000021";
    let cat = suite.call(Method::PUT, &format!("/v1/procurement/catalogue/{hefei_drug}"), Some(&suite.operator("340100")), Some(json!({"region_code": "340100", "item": {"code": hefei_drug, "kind": "ITEM_KIND_WESTERN_DRUG", "generic_name": "drug", "dosage_form": "片剂", "specification": "1mg", "manufacturer": "药企", "insurance_class": "INSURANCE_CLASS_B", "payment_standard_fen": 8_000, "valid_from_date": format!("{y}-01-01")}}))).await;
    assert_eq!((cat.0, &cat.1["created"]), (200, &json!(true)), "{}", cat.1);
    let h = suite.hospital(hefei_hospital);
    let mut body = inpatient(
        hefei_hospital,
        "HF-1",
        &id,
        HUOQIU,
        json!([{"national_code": hefei_drug, "name": "drug", "quantity": 10, "unit_price_fen": 10_000, "amount_fen": 100_000}, item("UNLISTED", "ITEM_CLASS_UNSPECIFIED", 500)]),
    );
    // The referral is the person's filing (异地就医备案) to Hefei; the claim's declaration of it
    // only has to agree.
    let person = suite
        .ok("/v1/persons:lookup", &op, json!({"id_number": id}))
        .await;
    let pid = s(&person["person"]["person_id"]).to_string();
    suite.ok(&format!("/v1/persons/{pid}/cross-region-filings"), &op, json!({"kind": "FILING_KIND_REFERRAL", "destination_region_code": "340100", "valid_from": format!("{y}-01-01")})).await;
    body["claim"]["cross_region_filing"] = json!("CROSS_REGION_FILING_REFERRAL");
    let done = suite.ok("/v1/claims:settle", &h, body).await;
    let st = &done["settlement"];
    assert_eq!(st["cross_region"], true);
    assert_eq!(st["treatment_region_code"], "340100");
    assert_eq!(
        st["policy_id"],
        format!("341522-{y}-resident"),
        "the insured region's policy"
    );
    let b = &st["breakdown"];
    assert_eq!(
        n(&b["overlmt_selfpay_fen"]),
        20_000,
        "(100 − 80) yuan × 10 above the Hefei standard"
    );
    assert_eq!(
        n(&b["fulamt_ownpay_amt_fen"]),
        yuan(500),
        "an item the catalogue does not list is out of catalogue"
    );
    assert_eq!(
        n(&b["preselfpay_amt_fen"]),
        8_000,
        "乙类 800 yuan within the standard × 10%"
    );
    suite.stop().await;
}

#[tokio::test]
async fn procurement_payment_standards_cap_what_counts_and_follow_the_claim_date() {
    let suite = Suite::start().await;
    let (op, id) = huoqiu(&suite, "34152219800101023").await;
    let y = this_year();
    // A centrally procured drug: the catalogue says 乙类 at 90 yuan; Anhui's payment standard
    // from procurement is 80 yuan from 1 January, then 60 yuan from 12 June.
    let drug = "XC10AAA123A000000000001";
    let (status, cat) = suite.call(Method::PUT, &format!("/v1/procurement/catalogue/{drug}"), Some(&op), Some(json!({"region_code": ANHUI, "item": {"code": drug, "kind": "ITEM_KIND_WESTERN_DRUG", "generic_name": "atorvastatin", "dosage_form": "片剂", "specification": "20mg", "manufacturer": "药企", "insurance_class": "INSURANCE_CLASS_B", "payment_standard_fen": 9_000, "valid_from_date": format!("{y}-01-01")}}))).await;
    assert_eq!(status, 200, "{cat}");
    let standard = |amount: i64, from: String| json!({"standard": {"item_code": drug, "region_code": ANHUI, "amount_fen": amount, "valid_from_date": from, "basis": "集采中选价"}});
    suite
        .ok(
            "/v1/procurement/payment-standards",
            &op,
            standard(8_000, format!("{y}-01-01")),
        )
        .await;
    let h = suite.hospital(OTHER_HOSPITAL);
    let drugs = json!([{"national_code": drug, "name": "atorvastatin", "quantity": 10, "unit_price_fen": 10_000, "amount_fen": 100_000}, item("A-SERVICES", "ITEM_CLASS_A", 5_000)]);
    // Claims end on 15 June: priced by the standard in force that day.
    let pre = suite
        .ok(
            "/v1/claims:presettle",
            &h,
            inpatient(OTHER_HOSPITAL, "PS-1", &id, HUOQIU, drugs.clone()),
        )
        .await;
    let b = &pre["settlement"]["breakdown"];
    assert_eq!(
        n(&b["overlmt_selfpay_fen"]),
        20_000,
        "(100 − 80) yuan × 10 above procurement's standard, not the catalogue's 90"
    );
    assert_eq!(
        n(&b["preselfpay_amt_fen"]),
        8_000,
        "10% of the 800 yuan within the standard"
    );
    suite
        .ok(
            "/v1/procurement/payment-standards",
            &op,
            standard(6_000, format!("{y}-06-12")),
        )
        .await;
    let done = suite
        .ok(
            "/v1/claims:settle",
            &h,
            inpatient(OTHER_HOSPITAL, "PS-1", &id, HUOQIU, drugs),
        )
        .await;
    let b = &done["settlement"]["breakdown"];
    assert_eq!(
        n(&b["overlmt_selfpay_fen"]),
        40_000,
        "the 60-yuan standard in force on 15 June"
    );
    assert_eq!(n(&b["preselfpay_amt_fen"]), 6_000);
    let total = n(&b["medfee_sumamt_fen"]);
    let paid: i64 = ["fund_pay_sumamt_fen", "psn_part_amt_fen"]
        .iter()
        .map(|k| n(&b[*k]))
        .sum();
    assert_eq!(paid, total, "the layers add up to the total: {b}");
    suite.stop().await;
}

#[tokio::test]
async fn a_red_budget_warning_from_supervision_holds_the_statement_of_the_month() {
    let suite = Suite::start().await;
    let (op, id) = huoqiu(&suite, "34152219800101031").await;
    let today = chrono::Utc::now().date_naive();
    let month = today.format("%Y-%m").to_string();
    let statement =
        format!("/v1/institutions/{OTHER_HOSPITAL}/statements/{month}?region_code={HUOQIU}");
    let before = suite.get_ok(&statement, &op).await;
    assert_eq!(
        before["payment_decision"], "PAYMENT_DECISION_PAY",
        "{before}"
    );
    assert_eq!(before["credit_score"], 100);
    // A yearly budget of 1,000 yuan, then one stay this month that the basic pool pays far more.
    let (status, budget) = suite
        .call(
            Method::PUT,
            &format!("/v1/supervision/budgets/{OTHER_HOSPITAL}/{}", this_year()),
            Some(&op),
            Some(json!({"region_code": HUOQIU, "annual_budget_fen": yuan(1_000)})),
        )
        .await;
    assert_eq!(status, 200, "{budget}");
    let mut body = inpatient(OTHER_HOSPITAL, "HOLD-1", &id, HUOQIU, worked_items());
    let start = chrono::Datelike::with_day(&today, 1).unwrap_or(today);
    body["claim"]["start_date"] = json!(start.to_string());
    body["claim"]["end_date"] = json!(today.to_string());
    let done = suite
        .ok("/v1/claims:settle", &suite.hospital(OTHER_HOSPITAL), body)
        .await;
    let pool = n(&done["settlement"]["breakdown"]["hifp_pay_fen"]);
    assert!(pool > yuan(1_000), "{done}");
    // Supervision takes the spending from the settlement event (through the bus), raises a red
    // warning and flags next month's payment, which is the one that pays this statement.
    let mut held = Value::Null;
    for _ in 0..300 {
        held = suite.get_ok(&statement, &op).await;
        if held["payment_decision"] == "PAYMENT_DECISION_HOLD" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(held["payment_decision"], "PAYMENT_DECISION_HOLD", "{held}");
    assert!(
        held["payment_reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("red budget warning")),
        "{held}"
    );
    assert_eq!(
        n(&held["lines"][0]["hifp_pay_fen"]),
        pool,
        "the statement itself is unchanged by the hold"
    );
    // The hospital reads the same answer for its own statement.
    let own = suite
        .get_ok(
            &format!("/v1/institutions/{OTHER_HOSPITAL}/statements/{month}"),
            &suite.hospital(OTHER_HOSPITAL),
        )
        .await;
    assert_eq!(own["payment_decision"], "PAYMENT_DECISION_HOLD");
    suite.stop().await;
}

#[tokio::test]
async fn the_insurer_layer_is_paid_in_the_same_settlement_and_the_insurer_sees_only_its_own() {
    let suite = Suite::start().await;
    let op = suite.operator(ZHONGSHAN);
    catalogue(&suite).await;
    registry(&suite).await;
    upload_this_years(&suite, &op, "442000-2022-resident", ZHONGSHAN).await;
    let id = id_number("44200019800101016");
    enrolled_person(&suite, &op, &id, ZHONGSHAN, true).await;
    let insurer = suite.token(Role::Insurer, BAK_INSURER, "");
    let y = this_year();
    let member = suite.ok(&format!("/v1/insurers/{BAK_INSURER}/members"), &insurer, json!({"product_code": "BAK-2022", "id_number": id, "year": y, "region_code": ZHONGSHAN})).await;
    assert_eq!(member["created"], true);
    let (status, problem) = suite.call(Method::POST, "/v1/insurers/INS999/members", Some(&suite.token(Role::Insurer, "INS999", "")), Some(json!({"product_code": "BAK-2022", "id_number": id, "year": y, "region_code": ZHONGSHAN}))).await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "product_code"),
        "{problem}"
    );
    let h = suite.hospital(ZS_HOSPITAL);
    let done = suite
        .ok(
            "/v1/claims:settle",
            &h,
            inpatient(
                ZS_HOSPITAL,
                "ZS-1",
                &id,
                ZHONGSHAN,
                json!([item("A", "ITEM_CLASS_A", 300_000)]),
            ),
        )
        .await;
    let b = &done["settlement"]["breakdown"];
    assert_eq!(n(&b["hifp_pay_fen"]), yuan(208_950));
    assert_eq!(n(&b["hifmi_pay_fen"]), yuan(42_630));
    assert_eq!(
        n(&b["insurer_pay_fen"]),
        yuan(19_894),
        "(48,420 − 20,000) × 70%"
    );
    assert_eq!(n(&b["psn_cash_pay_fen"]), yuan(28_526));
    let claim_id = s(&done["claim_id"]).to_string();
    let listed = suite
        .get_ok(
            &format!("/v1/insurers/{BAK_INSURER}/claims?month={y}-06"),
            &insurer,
        )
        .await;
    assert_eq!(listed["claims"][0]["claim_id"], claim_id.as_str());
    assert_eq!(n(&listed["claims"][0]["insurer_pay_fen"]), yuan(19_894));
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/insurers/{BAK_INSURER}/claims"),
            Some(&suite.token(Role::Insurer, "INS999", "")),
            None,
        )
        .await;
    assert_eq!(status, 403, "another insurer may not list these claims");
    let disputed = suite.ok(&format!("/v1/insurers/{BAK_INSURER}/claims/{claim_id}:dispute"), &insurer, json!({"product_code": "BAK-2022", "disputed_amount_fen": yuan(1_000), "reason": "item not covered"})).await;
    assert_eq!(disputed["claim"]["status"], "INSURER_CLAIM_STATUS_DISPUTED");
    let (status, problem) = suite.call(Method::POST, &format!("/v1/insurers/{BAK_INSURER}/claims/{claim_id}:dispute"), Some(&insurer), Some(json!({"product_code": "BAK-2022", "disputed_amount_fen": yuan(100_000), "reason": "x"}))).await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "disputed_amount_fen"),
        "{problem}"
    );
    let rec = suite
        .ok(
            &format!("/v1/insurers/{BAK_INSURER}:reconcile"),
            &insurer,
            json!({"month": format!("{y}-06")}),
        )
        .await;
    assert_eq!(n(&rec["disputed_fen"]), yuan(1_000));
    assert_eq!(n(&rec["payable_fen"]), yuan(18_894));
    // The operator rejects the dispute: the insurer owes its layer in full.
    let (status, _) = suite
        .call(
            Method::POST,
            &format!("/v1/insurers/{BAK_INSURER}/claims/{claim_id}:resolve"),
            Some(&insurer),
            Some(json!({"product_code": "BAK-2022", "region_code": ZHONGSHAN, "resolution": "x"})),
        )
        .await;
    assert_eq!(status, 403, "an insurer does not judge its own dispute");
    let resolved = suite.ok(&format!("/v1/insurers/{BAK_INSURER}/claims/{claim_id}:resolve"), &op, json!({"product_code": "BAK-2022", "region_code": ZHONGSHAN, "upheld": false, "resolution": "the item is covered by the product"})).await;
    assert_eq!(resolved["claim"]["status"], "INSURER_CLAIM_STATUS_RESOLVED");
    let (status, problem) = suite.call(Method::POST, &format!("/v1/insurers/{BAK_INSURER}/claims/{claim_id}:resolve"), Some(&op), Some(json!({"product_code": "BAK-2022", "region_code": ZHONGSHAN, "resolution": "again"}))).await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "SETTLEMENT_NOT_DISPUTED"),
        "{problem}"
    );
    let rec = suite
        .ok(
            &format!("/v1/insurers/{BAK_INSURER}:reconcile"),
            &insurer,
            json!({"month": format!("{y}-06")}),
        )
        .await;
    assert_eq!(
        (n(&rec["disputed_fen"]), n(&rec["payable_fen"])),
        (0, yuan(19_894))
    );
    suite.stop().await;
}

/// A county-hospital inpatient claim (the demo county hospital H34152200001, 二级, county tier).
fn county_claim(encounter: &str, id: &str, items: Value) -> Value {
    let mut body = inpatient(OTHER_HOSPITAL, encounter, id, HUOQIU, items);
    body["claim"]["hospital_grade"] = json!("HOSPITAL_GRADE_SECONDARY");
    body["claim"]["institution_tier"] = json!("INSTITUTION_TIER_COUNTY");
    body
}

#[tokio::test]
async fn a_code_in_no_catalogue_is_c_whatever_the_hospital_declares_and_restrictions_decide_the_line()
 {
    let suite = Suite::start().await;
    let op = suite.operator(ANHUI);
    catalogue(&suite).await;
    registry(&suite).await;
    upload_this_years(&suite, &op, "341522-2018-resident", HUOQIU).await;
    // A self-paid (not poor) resident of the county; the 17th digit is even: a woman.
    let id = id_number("34152219800101040");
    enrolled_person(&suite, &op, &id, HUOQIU, true).await;
    let h = suite.hospital(OTHER_HOSPITAL);

    // The case: 10,000 yuan of a code in no catalogue, declared 甲类 by the hospital.
    let claim = county_claim(
        "ZZZ-1",
        &id,
        json!([item("ZZZ-NOT-IN-ANY-CATALOGUE", "ITEM_CLASS_A", 10_000)]),
    );
    let done = suite.ok("/v1/claims:settle", &h, claim).await;
    let b = &done["settlement"]["breakdown"];
    assert_eq!(n(&b["medfee_sumamt_fen"]), yuan(10_000), "{b}");
    assert_eq!(
        n(&b["fulamt_ownpay_amt_fen"]),
        yuan(10_000),
        "the whole amount is 丙"
    );
    assert_eq!(n(&b["inscp_scp_amt_fen"]), 0);
    assert_eq!(
        n(&b["hifp_pay_fen"]),
        0,
        "the basic pool pays nothing for it"
    );
    assert_eq!(n(&b["fund_pay_sumamt_fen"]), 0);
    assert_eq!(n(&b["psn_part_amt_fen"]), yuan(10_000));
    let claim_id = s(&done["claim_id"]).to_string();
    let got = suite.get_ok(&format!("/v1/claims/{claim_id}"), &h).await;
    assert_eq!(
        got["claim"]["claim"]["items"][0]["item_class"], "ITEM_CLASS_C",
        "the stored claim shows the class paid, not the one declared"
    );

    // The same amount on a code the catalogue lists as 甲类, declared 丙 by the hospital: in the
    // policy range, and the pool pays.
    let listed = suite
        .ok(
            "/v1/claims:presettle",
            &h,
            county_claim(
                "ZZZ-2",
                &id,
                json!([item("A-SERVICES", "ITEM_CLASS_C", 10_000)]),
            ),
        )
        .await;
    let b = &listed["settlement"]["breakdown"];
    assert_eq!(n(&b["inscp_scp_amt_fen"]), yuan(10_000), "{b}");
    assert_eq!(n(&b["fulamt_ownpay_amt_fen"]), 0);
    assert!(n(&b["hifp_pay_fen"]) > 0, "{b}");

    // Payment restrictions (限定支付) decide the line: a male-only drug for this woman, and a
    // 7-day drug without (then with) its days of supply.
    let male_only = "XL02BBA326A001010102180";
    let seven_days = "XC10AAA123A000000000031";
    let restricted = format!(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,valid_from,sex,max_days_supply\n\
         {male_only},drug,阿帕他胺片,片剂,60mg,药企,乙,2000-01-01,男,\n\
         {seven_days},drug,阿托伐他汀钙片,片剂,20mg,药企,乙,2000-01-01,,7\n"
    );
    let out = suite
        .ok(
            "/v1/procurement/catalogue:import",
            &op,
            json!({"region_code": ANHUI, "csv_text": restricted}),
        )
        .await;
    assert_eq!(out["stored"], true, "{out}");
    let line = |code: &str, days: Option<u32>| {
        let mut it = item(code, "ITEM_CLASS_B", 1_000);
        if let Some(d) = days {
            it["days_supply"] = json!(d);
        }
        it
    };
    let own_pay = |body: Value| {
        let suite = &suite;
        let h = h.clone();
        async move {
            let r = suite.ok("/v1/claims:presettle", &h, body).await;
            let b = &r["settlement"]["breakdown"];
            (n(&b["fulamt_ownpay_amt_fen"]), n(&b["preselfpay_amt_fen"]))
        }
    };
    assert_eq!(
        own_pay(county_claim("R-1", &id, json!([line(male_only, None)]))).await,
        (yuan(1_000), 0),
        "限男性: paid as 丙 for a woman"
    );
    assert_eq!(
        own_pay(county_claim("R-2", &id, json!([line(seven_days, None)]))).await,
        (yuan(1_000), 0),
        "a days' limit without days of supply cannot be met"
    );
    assert_eq!(
        own_pay(county_claim("R-3", &id, json!([line(seven_days, Some(8))]))).await,
        (yuan(1_000), 0),
        "8 days above the 7 paid"
    );
    let (own, first_self_pay) =
        own_pay(county_claim("R-4", &id, json!([line(seven_days, Some(7))]))).await;
    assert_eq!(own, 0, "within the limit: 乙类");
    assert!(first_self_pay > 0);
    suite.stop().await;
}
