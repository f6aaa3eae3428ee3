//! The encounter lifecycle through the gateway's REST (issue 15, item 4), on whichever backend
//! the run uses: an admission, fee lines uploaded over two days (a retry writes nothing, a
//! used number with another line is refused naming the field), a line cancelled, pre-settled,
//! discharged, settled once to DOMAIN §1.7's fen (equal to the one-shot pre-settlement of the
//! same lines), a retry answering the settlement in force, a reversal by request reference
//! restoring the counters, settled again, and requests undone or answered as never committed.
//! Another hospital's calls on the encounter are refused at both ports and write nothing.

#[path = "support/huoqiu.rs"]
mod huoqiu;
#[path = "support/refusals.rs"]
mod refusals;

use http::Method;
use huoqiu::*;
use refusals::{Refusal, refused_at_both_ports, settled, wrote_nothing};
use serde_json::{Value, json};
use yibao_integration_tests::{Suite, n, physician_of, s, this_year, yuan};

fn day(d: &str) -> String {
    format!("{}-{d}", this_year())
}

fn line(sn: &str, code: &str, yuan_amount: i64, date: &str) -> Value {
    json!({"feedetl_sn": sn, "fee_time": format!("{} 09:30:00", day(date)), "item": {
        "national_code": code, "name": code, "quantity": 1,
        "unit_price_fen": yuan(yuan_amount), "amount_fen": yuan(yuan_amount)}})
}

fn admission(id: &str, no: &str, start: &str) -> Value {
    json!({"institution_code": CITY_HOSPITAL, "encounter_no": no, "id_number": id,
        "insured_region_code": HUOQIU, "kind": "ENCOUNTER_KIND_INPATIENT",
        "start_date": day(start), "diagnoses": ["I10.x00x002"],
        "attending_physician_code": physician_of(CITY_HOSPITAL), "request_ref": "MSG-OPEN"})
}

async fn upload(suite: &Suite, h: &str, enc: &str, lines: Value, msg: &str) -> (u16, Value) {
    suite
        .call(
            Method::POST,
            &format!("/v1/encounters/{enc}/fees:upload"),
            Some(h),
            Some(json!({"lines": lines, "request_ref": msg})),
        )
        .await
}

async fn encounter(suite: &Suite, h: &str, enc: &str) -> Value {
    suite.get_ok(&format!("/v1/encounters/{enc}"), h).await["encounter"].clone()
}

#[tokio::test]
async fn an_admission_is_billed_over_days_settled_once_reversed_by_reference_and_settled_again() {
    let suite = Suite::start().await;
    let (op, id) = huoqiu(&suite, "34152219800101051").await;
    let h = suite.hospital(CITY_HOSPITAL);
    let opened = suite
        .ok("/v1/encounters", &h, admission(&id, "ZY-E1", "06-10"))
        .await;
    let enc = s(&opened["encounter"]["encounter_id"]).to_string();
    assert_eq!(opened["encounter"]["status"], "ENCOUNTER_STATUS_OPEN");
    assert!(
        s(&opened["encounter"]["id_number"]).contains('*'),
        "{opened}"
    );
    // The same admission again is the same encounter; another under its number is refused.
    let again = suite
        .ok("/v1/encounters", &h, admission(&id, "ZY-E1", "06-10"))
        .await;
    assert_eq!(
        (
            again["replayed"].clone(),
            s(&again["encounter"]["encounter_id"])
        ),
        (json!(true), enc.as_str())
    );
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/encounters",
            Some(&h),
            Some(admission(&id, "ZY-E1", "06-11")),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (409, "SETTLEMENT_ENCOUNTER_MISMATCH"),
        "{problem}"
    );
    assert!(s(&problem["detail"]).contains("start_date"), "{problem}");

    // Day one: the out-of-catalogue line and the 乙 drug, priced at once.
    let (status, day1) = upload(
        &suite,
        &h,
        &enc,
        json!([
            line("1", "C-OUT", 10_000, "06-10"),
            line("2", B_DRUGS, 40_000, "06-11")
        ]),
        "MSG-FEE-1",
    )
    .await;
    assert_eq!(status, 200, "{day1}");
    assert_eq!(day1["lines"][0]["item_class"], "ITEM_CLASS_C");
    assert_eq!(
        n(&day1["lines"][0]["split"]["fulamt_ownpay_amt_fen"]),
        yuan(10_000)
    );
    assert_eq!(day1["lines"][1]["item_class"], "ITEM_CLASS_B");
    assert_eq!(
        n(&day1["lines"][1]["split"]["preselfpay_amt_fen"]),
        yuan(4_000)
    );
    // Day two, sent twice (a retry), and a line to be cancelled.
    let part2 = json!([
        line("3", A_SERVICES, 100_000, "06-12"),
        line("4", A_BED, 500, "06-12")
    ]);
    let (_, day2) = upload(&suite, &h, &enc, part2.clone(), "MSG-FEE-2").await;
    let (status, retry) = upload(&suite, &h, &enc, part2, "MSG-FEE-2").await;
    assert_eq!((status, &retry), (200, &day2));
    assert_eq!(
        encounter(&suite, &h, &enc).await["lines"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    let (status, problem) = upload(
        &suite,
        &h,
        &enc,
        json!([line("3", A_SERVICES, 90_000, "06-12")]),
        "MSG-X",
    )
    .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (409, "SETTLEMENT_FEE_LINE_CONFLICT"),
        "{problem}"
    );
    assert!(
        s(&problem["detail"]).contains("lines[0].item.unit_price_fen"),
        "{problem}"
    );
    let (status, problem) = upload(&suite, &h, &enc, json!([{"feedetl_sn": "9", "fee_time": "yesterday", "item": {"national_code": A_BED, "quantity": 1, "unit_price_fen": 1, "amount_fen": 1}}]), "MSG-Y").await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        problem["errors"][0]["field"], "lines[0].fee_time",
        "{problem}"
    );
    let cancelled = suite
        .ok(
            &format!("/v1/encounters/{enc}/fees:cancel"),
            &h,
            json!({"feedetl_sns": ["4"]}),
        )
        .await;
    assert_eq!(n(&cancelled["cancelled"]), 1);

    // Pre-settled: DOMAIN §1.7 to the fen, the same as the one-shot pre-settlement of the
    // lines, and nothing moves.
    let pre = suite
        .ok(
            &format!("/v1/encounters/{enc}:presettle"),
            &h,
            json!({"end_date": day("06-15")}),
        )
        .await;
    let native = suite
        .ok("/v1/claims:presettle", &h, json!({"claim": {
            "institution_code": CITY_HOSPITAL, "encounter_no": "ONE-SHOT", "id_number": id,
            "insured_region_code": HUOQIU, "kind": "ENCOUNTER_KIND_INPATIENT",
            "attending_physician_code": physician_of(CITY_HOSPITAL), "start_date": day("06-10"),
            "end_date": day("06-15"), "diagnoses": ["I10.x00x002"], "items": [
                {"national_code": "C-OUT", "quantity": 1, "unit_price_fen": yuan(10_000), "amount_fen": yuan(10_000)},
                {"national_code": B_DRUGS, "quantity": 1, "unit_price_fen": yuan(40_000), "amount_fen": yuan(40_000)},
                {"national_code": A_SERVICES, "quantity": 1, "unit_price_fen": yuan(100_000), "amount_fen": yuan(100_000)}]}}))
        .await;
    assert_eq!(
        pre["settlement"]["breakdown"],
        native["settlement"]["breakdown"]
    );
    assert_eq!(
        n(&pre["settlement"]["breakdown"]["fund_pay_sumamt_fen"]),
        yuan(131_000)
    );
    assert_eq!(
        n(&accumulators(&suite, &op, &id, HUOQIU).await["deductible_used_fen"]),
        0
    );

    // Discharged; a fee after the discharge date is refused naming it.
    let out = suite
        .ok(
            &format!("/v1/encounters/{enc}:discharge"),
            &h,
            json!({"end_date": day("06-15")}),
        )
        .await;
    assert_eq!(out["encounter"]["status"], "ENCOUNTER_STATUS_DISCHARGED");
    let (status, problem) = upload(
        &suite,
        &h,
        &enc,
        json!([line("5", A_BED, 100, "06-16")]),
        "MSG-Z",
    )
    .await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "lines[0].fee_time"),
        "{problem}"
    );

    // Settled once; again (or by the same request) it is the settlement in force.
    let body = json!({"request_ref": "MSG-SETTLE-1"});
    let done = suite
        .ok(&format!("/v1/encounters/{enc}:settle"), &h, body.clone())
        .await;
    let b = &done["settlement"]["breakdown"];
    assert_eq!(n(&b["fund_pay_sumamt_fen"]), yuan(131_000), "{done}");
    assert_eq!(n(&b["psn_part_amt_fen"]), yuan(19_000));
    assert_eq!(done["replayed"], false);
    let claim1 = s(&done["claim_id"]).to_string();
    let acc = accumulators(&suite, &op, &id, HUOQIU).await;
    assert_eq!(n(&acc["backstop_oop_fen"]), yuan(5_000));
    let again = suite
        .ok(
            &format!("/v1/encounters/{enc}:settle"),
            &h,
            json!({"request_ref": "MSG-OTHER"}),
        )
        .await;
    assert_eq!(
        (again["replayed"].clone(), s(&again["claim_id"])),
        (json!(true), claim1.as_str())
    );
    assert_eq!(accumulators(&suite, &op, &id, HUOQIU).await, acc);
    let got = encounter(&suite, &h, &enc).await;
    assert_eq!(got["status"], "ENCOUNTER_STATUS_SETTLED");
    // A settled encounter takes no more lines, and its lines' request is not undone.
    let (status, problem) = upload(
        &suite,
        &h,
        &enc,
        json!([line("6", A_BED, 100, "06-13")]),
        "MSG-W",
    )
    .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "SETTLEMENT_ENCOUNTER_CLOSED"),
        "{problem}"
    );
    let undo = |request: &str, reversal: &str| json!({"institution_code": CITY_HOSPITAL, "request_ref": request, "reversal_ref": reversal});
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/encounters:reverse-by-request",
            Some(&h),
            Some(undo("MSG-FEE-2", "MSG-R0")),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "SETTLEMENT_ENCOUNTER_CLOSED"),
        "{problem}"
    );

    // 2601: the settlement's request undone reverses it, and the counters are as before.
    let r = suite
        .ok(
            "/v1/encounters:reverse-by-request",
            &h,
            undo("MSG-SETTLE-1", "MSG-R1"),
        )
        .await;
    assert_eq!(r["undone"], "REQUEST_UNDONE_SETTLEMENT_REVERSED", "{r}");
    assert_eq!(
        (s(&r["claim_id"]), n(&r["refund"]["fund_pay_sumamt_fen"])),
        (claim1.as_str(), yuan(131_000))
    );
    let r2 = suite
        .ok(
            "/v1/encounters:reverse-by-request",
            &h,
            undo("MSG-SETTLE-1", "MSG-R1"),
        )
        .await;
    assert_eq!(r2, r, "the same reversal again answers the same");
    assert_eq!(
        n(&accumulators(&suite, &op, &id, HUOQIU).await["backstop_oop_fen"]),
        0
    );
    let got = encounter(&suite, &h, &enc).await;
    assert_eq!(got["status"], "ENCOUNTER_STATUS_DISCHARGED");
    assert_eq!(got["settlements"][0]["status"], "CLAIM_STATUS_REVERSED");
    // The reversed settlement's request is never answered as a payment.
    let (status, problem) = suite
        .call(
            Method::POST,
            &format!("/v1/encounters/{enc}:settle"),
            Some(&h),
            Some(body),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (409, "SETTLEMENT_CLAIM_REVERSED"),
        "{problem}"
    );
    assert!(
        s(&problem["detail"]).starts_with("request_ref:"),
        "{problem}"
    );
    // A request that committed nothing is answered so.
    let none = suite
        .ok(
            "/v1/encounters:reverse-by-request",
            &h,
            undo("MSG-NEVER", "MSG-R2"),
        )
        .await;
    assert_eq!(none["undone"], "REQUEST_UNDONE_NOTHING_COMMITTED");

    // Settled again under a new request: a new claim over the same lines.
    let second = suite
        .ok(
            &format!("/v1/encounters/{enc}:settle"),
            &h,
            json!({"request_ref": "MSG-SETTLE-2"}),
        )
        .await;
    assert_eq!(
        n(&second["settlement"]["breakdown"]["fund_pay_sumamt_fen"]),
        yuan(131_000)
    );
    let claim2 = s(&second["claim_id"]).to_string();
    assert_ne!(claim2, claim1);
    assert_eq!(s(&second["settlement"]["encounter_no"]), "ZY-E1#2");

    // Another hospital may not read, bill, settle or undo it: refused at both ports, nothing
    // written.
    let other = suite.hospital(OTHER_HOSPITAL);
    let rpc = |m: &str| format!("yibao.settlement.v1.SettlementService/{m}");
    let on = json!({"encounter_id": enc});
    let refusals = vec![
        Refusal::get(
            &other,
            &format!("/v1/encounters/{enc}"),
            &rpc("GetEncounter"),
            on.clone(),
        )
        .because("OTHER_ORGANISATION", "institution_code"),
        Refusal::post(
            &other,
            &format!("/v1/encounters/{enc}/fees:upload"),
            &rpc("UploadFees"),
            json!({"lines": [line("7", A_BED, 100, "06-12")]}),
        )
        .with_request(json!({"encounter_id": enc, "lines": [line("7", A_BED, 100, "06-12")]}))
        .because("OTHER_ORGANISATION", "institution_code"),
        Refusal::post(
            &other,
            &format!("/v1/encounters/{enc}:cancel"),
            &rpc("CancelEncounter"),
            json!({}),
        )
        .with_request(on.clone())
        .because("OTHER_ORGANISATION", "institution_code"),
        Refusal::post(
            &other,
            "/v1/encounters:reverse-by-request",
            &rpc("ReverseByRequest"),
            undo("MSG-SETTLE-2", "MSG-R9"),
        )
        .because("OTHER_ORGANISATION", "institution_code"),
    ];
    let before = settled(&suite).await;
    refused_at_both_ports(&suite, &refusals).await;
    wrote_nothing(&suite, &before).await;

    // The reversal of the second settlement by its claim (2305), then the second day's upload
    // undone: its lines are cancelled.
    suite
        .ok(
            &format!("/v1/claims/{claim2}:reverse"),
            &h,
            json!({"institution_code": CITY_HOSPITAL, "reversal_no": "MSG-R3", "reason": "2305"}),
        )
        .await;
    let r = suite
        .ok(
            "/v1/encounters:reverse-by-request",
            &h,
            undo("MSG-FEE-2", "MSG-R4"),
        )
        .await;
    assert_eq!(r["undone"], "REQUEST_UNDONE_FEES_CANCELLED", "{r}");
    let lines = encounter(&suite, &h, &enc).await["lines"].clone();
    let cancelled: Vec<bool> = lines
        .as_array()
        .map(|a| a.iter().map(|l| l["cancelled"] == true).collect())
        .unwrap_or_default();
    assert_eq!(cancelled, [false, false, true, true]);
    suite.stop().await;
}

#[tokio::test]
async fn an_outpatient_registration_is_cancelled_with_its_lines_and_bad_requests_name_their_field()
{
    let suite = Suite::start().await;
    let (_, id) = huoqiu(&suite, "34152219800101052").await;
    let h = suite.hospital(CITY_HOSPITAL);
    let mut visit = admission(&id, "MZ-1", "03-01");
    visit["kind"] = json!("ENCOUNTER_KIND_GENERAL_OUTPATIENT");
    visit["request_ref"] = json!("MSG-REG");
    let enc =
        s(&suite.ok("/v1/encounters", &h, visit).await["encounter"]["encounter_id"]).to_string();
    let (status, _) = upload(
        &suite,
        &h,
        &enc,
        json!([line("1", A_SERVICES, 50, "03-01")]),
        "MSG-F",
    )
    .await;
    assert_eq!(status, 200);
    // Outpatient visits are not discharged.
    let (status, problem) = suite
        .call(
            Method::POST,
            &format!("/v1/encounters/{enc}:discharge"),
            Some(&h),
            Some(json!({"end_date": day("03-01")})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "SETTLEMENT_ENCOUNTER_CLOSED"),
        "{problem}"
    );
    // 2601 on the registration's request cancels it and its lines.
    let r = suite
        .ok("/v1/encounters:reverse-by-request", &h, json!({"institution_code": CITY_HOSPITAL, "request_ref": "MSG-REG", "reversal_ref": "MSG-U"}))
        .await;
    assert_eq!(r["undone"], "REQUEST_UNDONE_ENCOUNTER_CANCELLED", "{r}");
    let got = encounter(&suite, &h, &enc).await;
    assert_eq!(got["status"], "ENCOUNTER_STATUS_CANCELLED");
    assert_eq!(got["lines"][0]["cancelled"], true);
    let (status, problem) = suite
        .call(
            Method::POST,
            &format!("/v1/encounters/{enc}:settle"),
            Some(&h),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "SETTLEMENT_ENCOUNTER_CLOSED"),
        "{problem}"
    );
    // A cancelled registration's number is not opened again.
    let mut again = admission(&id, "MZ-1", "03-01");
    again["kind"] = json!("ENCOUNTER_KIND_GENERAL_OUTPATIENT");
    let (status, problem) = suite
        .call(Method::POST, "/v1/encounters", Some(&h), Some(again))
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "SETTLEMENT_ENCOUNTER_CLOSED"),
        "{problem}"
    );
    assert!(
        s(&problem["detail"]).starts_with("encounter_no:"),
        "{problem}"
    );
    // Bad opening requests name every bad field and write nothing.
    let before = settled(&suite).await;
    let (status, problem) = suite
        .call(Method::POST, "/v1/encounters", Some(&h), Some(json!({"institution_code": CITY_HOSPITAL, "encounter_no": "", "id_number": "123", "insured_region_code": HUOQIU, "start_date": "June"})))
        .await;
    assert_eq!(status, 400, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| s(&e["field"])).collect())
        .unwrap_or_default();
    for f in ["encounter_no", "id_number", "kind", "start_date"] {
        assert!(fields.contains(&f), "{f} named: {problem}");
    }
    // A person of another region is refused by the registries, naming the region.
    let (status, problem) = suite
        .call(Method::POST, "/v1/encounters", Some(&h), Some(json!({"institution_code": CITY_HOSPITAL, "encounter_no": "MZ-2", "id_number": id, "insured_region_code": "341502", "kind": "ENCOUNTER_KIND_GENERAL_OUTPATIENT", "start_date": day("03-01"), "attending_physician_code": physician_of(CITY_HOSPITAL)})))
        .await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        s(&problem["detail"]).contains("insured_region_code"),
        "{problem}"
    );
    wrote_nothing(&suite, &before).await;
    suite.stop().await;
}
