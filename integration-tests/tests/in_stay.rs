//! Supervision's in-stay rules through the whole suite (issue 15, item 4), on whichever backend
//! the run uses: settlement publishes each encounter's steps (admission, fee uploads, discharge)
//! on `yibao.settlement.encounters`, and supervision judges them while the patient is still in
//! care, before any settlement. A day's fees above the default limit of 50,000.00 yuan is
//! found on the upload; a person admitted at a second hospital while a stay at the first is
//! open is found on the admission (同一时间段多家住院), naming both encounters; a normal stay, and
//! a transfer on the discharge day, raise nothing. A county that lowers its limit has the next
//! upload judged by the new version.

#[path = "support/huoqiu.rs"]
mod huoqiu;

use http::Method;
use huoqiu::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use yibao_integration_tests::{Suite, backend, n, physician_of, s, this_year, yuan};

fn day(d: &str) -> String {
    format!("{}-{d}", this_year())
}

fn line(sn: &str, code: &str, yuan_amount: i64, date: &str) -> Value {
    json!({"feedetl_sn": sn, "fee_time": format!("{} 09:30:00", day(date)), "item": {
        "national_code": code, "name": code, "quantity": 1,
        "unit_price_fen": yuan(yuan_amount), "amount_fen": yuan(yuan_amount)}})
}

/// Admits the person at `institution` on `start`; returns the encounter id.
async fn admit(suite: &Suite, institution: &str, id: &str, no: &str, start: &str) -> String {
    let opened = suite
        .ok(
            "/v1/encounters",
            &suite.hospital(institution),
            json!({"institution_code": institution, "encounter_no": no, "id_number": id,
                "insured_region_code": HUOQIU, "kind": "ENCOUNTER_KIND_INPATIENT",
                "start_date": day(start), "diagnoses": ["J18.900"],
                "attending_physician_code": physician_of(institution),
                "request_ref": format!("MSG-{no}")}),
        )
        .await;
    assert_eq!(
        opened["encounter"]["status"], "ENCOUNTER_STATUS_OPEN",
        "{opened}"
    );
    s(&opened["encounter"]["encounter_id"]).to_string()
}

async fn upload(suite: &Suite, institution: &str, enc: &str, lines: Value, msg: &str) {
    suite
        .ok(
            &format!("/v1/encounters/{enc}/fees:upload"),
            &suite.hospital(institution),
            json!({"lines": lines, "request_ref": msg}),
        )
        .await;
}

/// The hospital's findings, as it reads them.
async fn findings(suite: &Suite, institution: &str) -> Vec<Value> {
    suite
        .get_ok(
            &format!("/v1/supervision/findings?institution_code={institution}"),
            &suite.hospital(institution),
        )
        .await["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits (bounded) for a finding of `rule` at the hospital.
async fn finding_of(suite: &Suite, institution: &str, rule: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(f) = findings(suite, institution)
            .await
            .into_iter()
            .find(|f| f["rule_code"] == rule)
        {
            return f;
        }
        assert!(
            Instant::now() < deadline,
            "no {rule} finding at {institution} within 30 s on {}",
            backend()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn encounters_of(f: &Value) -> Vec<String> {
    f["evidence"]["encounter_ids"]
        .as_array()
        .map(|a| a.iter().map(|v| s(v).to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn in_stay_rules_find_a_costly_day_and_a_second_admission_while_the_stays_are_open() {
    let suite = Suite::start().await;
    let (op, patient) = huoqiu(&suite, "34152219500101051").await;
    let other = poor_huoqiu_resident(&suite, &op, "34152219600202052").await;

    // A normal stay at the city hospital: admitted, two modest days, discharged on the 15th.
    let normal = admit(&suite, CITY_HOSPITAL, &other, "ZY-N1", "06-10").await;
    upload(
        &suite,
        CITY_HOSPITAL,
        &normal,
        json!([
            line("1", A_BED, 80, "06-10"),
            line("2", B_DRUGS, 900, "06-11")
        ]),
        "MSG-N-FEE",
    )
    .await;
    suite
        .ok(
            &format!("/v1/encounters/{normal}:discharge"),
            &suite.hospital(CITY_HOSPITAL),
            json!({"end_date": day("06-15")}),
        )
        .await;

    // The patient's stay at the city hospital: 60,000 yuan billed for the 11th, 500 for the
    // 12th. The upload is found: the day is 10,000 yuan above the limit.
    let first = admit(&suite, CITY_HOSPITAL, &patient, "ZY-P1", "06-10").await;
    upload(
        &suite,
        CITY_HOSPITAL,
        &first,
        json!([
            line("1", "C-OUT", 60_000, "06-11"),
            line("2", A_BED, 500, "06-12")
        ]),
        "MSG-P-FEE",
    )
    .await;
    let costly = finding_of(&suite, CITY_HOSPITAL, "RULE_CODE_DAILY_FEES_ABOVE_LIMIT").await;
    assert_eq!(encounters_of(&costly), [first.as_str()], "{costly}");
    assert_eq!(
        costly["evidence"]["dates"],
        json!([day("06-11")]),
        "{costly}"
    );
    assert_eq!(n(&costly["amount_at_risk_fen"]), yuan(10_000), "{costly}");
    assert_eq!(costly["severity"], "SEVERITY_LOW", "{costly}");
    assert_eq!(
        costly["state"], "REVIEW_STATE_AWAITING_FEEDBACK",
        "{costly}"
    );
    assert!(
        costly["evidence"]["claim_ids"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "no claim exists yet: {costly}"
    );
    // The normal stay's steps came before on the same hospital's partition: they raised nothing.
    let city = findings(&suite, CITY_HOSPITAL).await;
    assert_eq!(city.len(), 1, "{city:#?}");

    // The other person is transferred to the county hospital on the day of their discharge:
    // not an overlap. Then the patient is admitted there on the 12th while the city stay is
    // open: found at once, naming both encounters.
    let transferred = admit(&suite, OTHER_HOSPITAL, &other, "ZY-N2", "06-15").await;
    let second = admit(&suite, OTHER_HOSPITAL, &patient, "ZY-P2", "06-12").await;
    let both = finding_of(&suite, OTHER_HOSPITAL, "RULE_CODE_CONCURRENT_ADMISSION").await;
    assert_eq!(
        encounters_of(&both),
        [first.clone(), second.clone()],
        "{both}"
    );
    assert_eq!(both["severity"], "SEVERITY_HIGH", "{both}");
    assert_eq!(both["region_code"], HUOQIU, "{both}");
    assert_eq!(n(&both["amount_at_risk_fen"]), 0, "nothing is paid yet");
    assert!(s(&both["explanation"]).contains(CITY_HOSPITAL), "{both}");
    let county = findings(&suite, OTHER_HOSPITAL).await;
    assert_eq!(
        county.len(),
        1,
        "the transfer ({transferred}) raised nothing: {county:#?}"
    );
    // Both stays are still open: the rules ran during the stay, before any settlement.
    for (h, enc) in [(CITY_HOSPITAL, &first), (OTHER_HOSPITAL, &second)] {
        let got = suite
            .get_ok(&format!("/v1/encounters/{enc}"), &suite.hospital(h))
            .await;
        assert_eq!(got["encounter"]["status"], "ENCOUNTER_STATUS_OPEN", "{got}");
    }
    // The rules are in the region's rule library with the daily limit as a parameter.
    let rules = suite
        .get_ok(
            &format!("/v1/supervision/rules?region_code={HUOQIU}"),
            &suite.operator(HUOQIU),
        )
        .await;
    let daily = rules["rule_set"]["rules"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|r| r["code"] == "RULE_CODE_DAILY_FEES_ABOVE_LIMIT")
        })
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        n(&daily["params"]["daily_fees_above_limit"]["above_fen"]),
        yuan(50_000),
        "{rules}"
    );

    // The county lowers its daily limit to 30,000 yuan (a new version; a limit of 0 is
    // refused): the running consumer judges the next upload by it.
    let version = n(&rules["rule_set"]["version"]);
    let path = "/v1/supervision/rules/RULE_CODE_DAILY_FEES_ABOVE_LIMIT";
    let (status, problem) = suite
        .call(
            Method::PATCH,
            path,
            Some(&suite.operator(HUOQIU)),
            Some(json!({"region_code": HUOQIU, "expected_version": version,
                "params": {"daily_fees_above_limit": {"above_fen": 0}}, "reason": "x"})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "RULE_PARAMS_INVALID"),
        "{problem}"
    );
    let tuned = suite
        .call(
            Method::PATCH,
            path,
            Some(&suite.operator(HUOQIU)),
            Some(json!({"region_code": HUOQIU, "expected_version": version,
                "params": {"daily_fees_above_limit": {"above_fen": yuan(30_000)}},
                "reason": "county notice"})),
        )
        .await;
    assert_eq!(tuned.0, 200, "{}", tuned.1);
    upload(
        &suite,
        OTHER_HOSPITAL,
        &second,
        json!([line("1", "C-OUT", 40_000, "06-13")]),
        "MSG-P2-FEE",
    )
    .await;
    let county_day = finding_of(&suite, OTHER_HOSPITAL, "RULE_CODE_DAILY_FEES_ABOVE_LIMIT").await;
    assert_eq!(
        (
            n(&county_day["amount_at_risk_fen"]),
            n(&county_day["rule_version"])
        ),
        (yuan(10_000), version + 1),
        "{county_day}"
    );
    assert_eq!(encounters_of(&county_day), [second.as_str()]);
    suite.stop().await;
}
