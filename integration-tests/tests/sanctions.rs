//! Supervision's blacklist acts through enrollment's institution registry (decision 0014), on
//! whichever backend the run uses (SQLite; a fresh PostgreSQL database and Redis with
//! `YIBAO_TEST_DATABASE_URL` / `YIBAO_TEST_REDIS_URL`). Confirmed findings take a county
//! hospital's credit below the blacklist threshold: supervision publishes the blacklisting on
//! `yibao.supervision.sanctions` from its outbox, enrollment's consumer suspends the hospital
//! in the registry from that day with supervision's reason and audit, and settlement refuses
//! its claims by the registry, writing nothing. A credit restoration back above the threshold
//! lifts it: the hospital is active again and settles. A suspension an operator made is
//! neither doubled by a blacklisting nor lifted by a restoration.

#[path = "support/huoqiu.rs"]
mod huoqiu;
#[path = "support/refusals.rs"]
mod refusals;

use http::Method;
use huoqiu::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use yibao_integration_tests::{
    Suite, backend, enrolled_person, id_number, n, physician_of, register_institution, s,
    this_year, yuan,
};

/// The second county hospital, suspended by an operator.
const SECOND_HOSPITAL: &str = "H34152200002";

fn day(d: &str) -> String {
    format!("{}-{d}", this_year())
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

/// Raises five high-severity findings at `institution`: the county makes the daily-fee rule
/// high (10 points each), and one stay bills five days of 60,000 yuan each (each day 10,000
/// above the 50,000 limit). Returns the findings' ids.
async fn five_findings(suite: &Suite, institution: &str, patient: &str, no: &str) -> Vec<String> {
    let county = suite.operator(HUOQIU);
    let rules = suite
        .get_ok(
            &format!("/v1/supervision/rules?region_code={HUOQIU}"),
            &county,
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
    if daily["severity"] != "SEVERITY_HIGH" {
        let (status, body) = suite
            .call(
                Method::PATCH,
                "/v1/supervision/rules/RULE_CODE_DAILY_FEES_ABOVE_LIMIT",
                Some(&county),
                Some(json!({"region_code": HUOQIU, "expected_version": n(&rules["rule_set"]["version"]),
                    "severity": "SEVERITY_HIGH", "reason": "county notice on costly days"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let hosp = suite.hospital(institution);
    let opened = suite
        .ok(
            "/v1/encounters",
            &hosp,
            json!({"institution_code": institution, "encounter_no": no, "id_number": patient,
                "insured_region_code": HUOQIU, "kind": "ENCOUNTER_KIND_INPATIENT",
                "start_date": day("06-10"), "diagnoses": ["J18.900"],
                "attending_physician_code": physician_of(institution),
                "request_ref": format!("MSG-{no}")}),
        )
        .await;
    let enc = s(&opened["encounter"]["encounter_id"]).to_string();
    let lines: Vec<Value> = (11..=15)
        .map(|d| {
            json!({"feedetl_sn": d.to_string(), "fee_time": format!("{} 09:30:00", day(&format!("06-{d}"))),
                "item": {"national_code": "C-OUT", "name": "C-OUT", "quantity": 1,
                    "unit_price_fen": yuan(60_000), "amount_fen": yuan(60_000)}})
        })
        .collect();
    suite
        .ok(
            &format!("/v1/encounters/{enc}/fees:upload"),
            &hosp,
            json!({"lines": lines, "request_ref": format!("MSG-{no}-FEE")}),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found: Vec<String> = suite
            .get_ok(
                &format!("/v1/supervision/findings?institution_code={institution}"),
                &hosp,
            )
            .await["findings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|f| {
                        f["rule_code"] == "RULE_CODE_DAILY_FEES_ABOVE_LIMIT"
                            && f["severity"] == "SEVERITY_HIGH"
                    })
                    .map(|f| s(&f["finding_id"]).to_string())
                    .collect()
            })
            .unwrap_or_default();
        if found.len() == 5 {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{} of 5 findings at {institution} within 30 s on {}",
            found.len(),
            backend()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Takes a finding through the workflow to a confirmed violation: the hospital accepts, the
/// county's reviewer upholds, the province's operator decides (four eyes). Returns the
/// institution's credit score after the deduction.
async fn confirm(suite: &Suite, institution: &str, finding_id: &str) -> i64 {
    // Finding ids carry `/` (event, rule, number): escaped in the path.
    let finding = finding_id.replace('/', "%2F");
    let f = suite
        .get_ok(
            &format!("/v1/supervision/findings/{finding}?institution_code={institution}"),
            &suite.hospital(institution),
        )
        .await;
    let amount = n(&f["finding"]["amount_at_risk_fen"]);
    assert_eq!(amount, yuan(10_000), "{f}");
    suite
        .ok(
            &format!("/v1/supervision/findings/{finding}:feedback"),
            &suite.hospital(institution),
            json!({"institution_code": institution, "kind": "FEEDBACK_KIND_ACCEPT", "note": "accepted"}),
        )
        .await;
    suite
        .ok(
            &format!("/v1/supervision/findings/{finding}:review"),
            &suite.operator(HUOQIU),
            json!({"region_code": HUOQIU, "conclusion": "CONCLUSION_UPHOLD", "amount_fen": amount, "note": "bills checked"}),
        )
        .await;
    let decided = suite
        .ok(
            &format!("/v1/supervision/findings/{finding}:decide"),
            &suite.operator(ANHUI),
            json!({"region_code": HUOQIU, "conclusion": "CONCLUSION_UPHOLD", "amount_fen": amount, "note": "upheld"}),
        )
        .await;
    assert_eq!(
        decided["finding"]["state"], "REVIEW_STATE_CONFIRMED",
        "{decided}"
    );
    n(&decided["credit_score"])
}

/// The institution as the county's operator reads it today.
async fn institution(suite: &Suite, code: &str) -> Value {
    suite
        .get_ok(&format!("/v1/institutions/{code}"), &suite.operator(HUOQIU))
        .await["institution"]
        .clone()
}

/// Waits (bounded) until the registry shows `status` for the institution today.
async fn status_becomes(suite: &Suite, code: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let inst = institution(suite, code).await;
        if inst["status"] == status {
            return inst;
        }
        assert!(
            Instant::now() < deadline,
            "{code} not {status} within 30 s on {}: {inst}",
            backend()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An inpatient claim at `institution` ending today, one 甲 service of 1,000 yuan.
fn claim_today(institution: &str, encounter: &str, id: &str) -> Value {
    json!({"claim": {
        "institution_code": institution, "encounter_no": encounter, "id_number": id,
        "insured_region_code": HUOQIU, "kind": "ENCOUNTER_KIND_INPATIENT",
        "attending_physician_code": physician_of(institution),
        "start_date": today(), "end_date": today(), "diagnoses": ["I10.x00x002"],
        "items": [{"national_code": A_SERVICES, "name": "诊查", "quantity": 1,
            "unit_price_fen": yuan(1_000), "amount_fen": yuan(1_000)}]
    }})
}

async fn restore(suite: &Suite, code: &str, points: u32, reference: &str) -> Value {
    suite
        .ok(
            &format!("/v1/supervision/credit/{code}:restore"),
            &suite.operator(HUOQIU),
            json!({"region_code": HUOQIU, "subject_kind": "CREDIT_SUBJECT_KIND_INSTITUTION",
                "points": points, "reference": reference, "reason": "rectification accepted on site"}),
        )
        .await["credit"]
        .clone()
}

#[tokio::test]
async fn the_blacklist_suspends_in_the_registry_and_a_restoration_reinstates_only_its_own_suspension()
 {
    let suite = Suite::start().await;
    let (anhui, patient) = huoqiu(&suite, "34152219500101061").await;
    let other_patient = poor_huoqiu_resident(&suite, &anhui, "34152219600202062").await;
    register_institution(&suite, SECOND_HOSPITAL, "2", "county").await;
    let county = suite.operator(HUOQIU);
    // The resident whose claims the hospitals settle today.
    let settling = id_number("34152219700303063");
    enrolled_person(&suite, &anhui, &settling, HUOQIU, true).await;

    // The second hospital's stay is found; then an operator suspends it from today, for a
    // reason of their own.
    let second = five_findings(&suite, SECOND_HOSPITAL, &other_patient, "ZY-S2").await;
    suite
        .ok(
            &format!("/v1/institutions/{SECOND_HOSPITAL}:changeStatus"),
            &county,
            json!({"status": "INSTITUTION_STATUS_SUSPENDED", "effective_on": today(),
                "reason": "agreement breach found by inspection"}),
        )
        .await;

    // Five confirmed violations each: 100 → 50, below the blacklist threshold of 60. The
    // second hospital's come first, on the same region's partition.
    for f in &second {
        confirm(&suite, SECOND_HOSPITAL, f).await;
    }
    let first = five_findings(&suite, OTHER_HOSPITAL, &patient, "ZY-S1").await;
    let mut scores = Vec::new();
    for f in &first {
        scores.push(confirm(&suite, OTHER_HOSPITAL, f).await);
    }
    assert_eq!(scores, [90, 80, 70, 60, 50]);
    let blacklist = suite
        .get_ok(
            &format!("/v1/supervision/blacklist?region_code={HUOQIU}&subject_kind=CREDIT_SUBJECT_KIND_INSTITUTION"),
            &county,
        )
        .await;
    assert_eq!(
        blacklist["entries"].as_array().map(Vec::len),
        Some(2),
        "{blacklist}"
    );

    // The registry suspends the county hospital from today, with supervision's reason and
    // audit, in its status history and its journal.
    let suspended = status_becomes(&suite, OTHER_HOSPITAL, "INSTITUTION_STATUS_SUSPENDED").await;
    let reason = s(&suspended["status_reason"]).to_string();
    assert!(
        reason.starts_with(
            "supervision: blacklisted, credit score 50: credit score 50 below 60 after"
        ),
        "{reason}"
    );
    assert!(reason.contains(&first[4]), "names the finding: {reason}");
    let history = suspended["status_history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(history.len(), 1, "{suspended}");
    assert_eq!(history[0]["status"], "INSTITUTION_STATUS_SUSPENDED");
    assert_eq!(history[0]["effective_on"], json!(today()));
    assert_eq!(history[0]["audit"]["actor"], "supervision");
    assert_eq!(history[0]["audit"]["role"], "system");
    let journal = suite
        .get_ok(
            &format!("/v1/institutions/{OTHER_HOSPITAL}/history"),
            &county,
        )
        .await;
    let last = journal["entries"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        (
            s(&last["kind"]),
            s(&last["audit"]["actor"]),
            s(&last["audit"]["role"])
        ),
        ("status.changed", "supervision", "system"),
        "{journal}"
    );
    assert!(
        s(&last["detail_json"]).contains("supervision: blacklisted"),
        "{last}"
    );

    // The operator's suspension of the second hospital stands alone: no second suspension.
    let held = institution(&suite, SECOND_HOSPITAL).await;
    assert_eq!(held["status"], "INSTITUTION_STATUS_SUSPENDED", "{held}");
    assert_eq!(
        held["status_history"].as_array().map(Vec::len),
        Some(1),
        "{held}"
    );
    assert_eq!(
        held["status_reason"],
        "agreement breach found by inspection"
    );

    // Settlement refuses the county hospital's claim by the registry, naming supervision's
    // reason, and writes nothing.
    let hosp = suite.hospital(OTHER_HOSPITAL);
    let before = refusals::settled(&suite).await;
    let (status, p) = suite
        .call(
            Method::POST,
            "/v1/claims:settle",
            Some(&hosp),
            Some(claim_today(OTHER_HOSPITAL, "S-1", &settling)),
        )
        .await;
    assert_eq!(
        (status, s(&p["code"])),
        (400, "SETTLEMENT_INSTITUTION_NOT_ACTIVE"),
        "{p}"
    );
    assert!(
        s(&p["errors"][0]["detail"]).contains("supervision: blacklisted"),
        "{p}"
    );
    refusals::wrote_nothing(&suite, &before).await;

    // Another region's operator restores nothing, at either port, and writes nothing.
    // (It names the region it sends, or the Huoqiu institution when it sends its own.)
    let hefei = suite.operator("340100");
    let refusal = |region: &str, names: &'static str| {
        let body = json!({"region_code": region, "subject_kind": "CREDIT_SUBJECT_KIND_INSTITUTION",
            "points": 30, "reference": "RECT-X", "reason": "rectification accepted on site"});
        let mut request = body.clone();
        request["subject_code"] = json!(OTHER_HOSPITAL);
        refusals::Refusal::post(
            &hefei,
            &format!("/v1/supervision/credit/{OTHER_HOSPITAL}:restore"),
            "yibao.supervision.v1.SupervisionService/RestoreCredit",
            body,
        )
        .with_request(request)
        .because("OUTSIDE_REGION", names)
    };
    let before = refusals::settled(&suite).await;
    refusals::refused_at_both_ports(
        &suite,
        &[
            refusal(HUOQIU, "region_code"),
            refusal("340100", "subject_code"),
        ],
    )
    .await;
    refusals::wrote_nothing(&suite, &before).await;

    // Restorations: the second hospital's first, then the county hospital's (same partition,
    // so once the county hospital is active again the second's lifting was handled too).
    let again = restore(&suite, SECOND_HOSPITAL, 30, "RECT-2").await;
    assert_eq!(n(&again["score"]), 80, "{again}");
    assert_ne!(again["blacklisted"], json!(true), "{again}");
    let restored = restore(&suite, OTHER_HOSPITAL, 30, "RECT-1").await;
    assert_eq!(n(&restored["score"]), 80, "{restored}");
    // A retried restoration restores nothing more.
    let retried = restore(&suite, OTHER_HOSPITAL, 30, "RECT-1").await;
    assert_eq!(n(&retried["score"]), 80, "{retried}");
    let active = status_becomes(&suite, OTHER_HOSPITAL, "INSTITUTION_STATUS_ACTIVE").await;
    assert!(
        s(&active["status_reason"]).starts_with("supervision: blacklist lifted, credit score 80"),
        "{active}"
    );
    let history = active["status_history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(history.len(), 2, "{active}");
    assert_eq!(history[1]["effective_on"], json!(today()));
    assert_eq!(history[1]["audit"]["actor"], "supervision");

    // Active again: the county hospital settles today.
    let done = suite
        .ok(
            "/v1/claims:settle",
            &hosp,
            claim_today(OTHER_HOSPITAL, "S-2", &settling),
        )
        .await;
    assert_eq!(
        n(&done["settlement"]["breakdown"]["medfee_sumamt_fen"]),
        yuan(1_000),
        "{done}"
    );

    // The operator's suspension of the second hospital is not lifted by its restoration.
    let held = institution(&suite, SECOND_HOSPITAL).await;
    assert_eq!(held["status"], "INSTITUTION_STATUS_SUSPENDED", "{held}");
    assert_eq!(
        held["status_history"].as_array().map(Vec::len),
        Some(1),
        "{held}"
    );
    let (status, p) = suite
        .call(
            Method::POST,
            "/v1/claims:settle",
            Some(&suite.hospital(SECOND_HOSPITAL)),
            Some(claim_today(SECOND_HOSPITAL, "S-3", &settling)),
        )
        .await;
    assert_eq!(
        (status, s(&p["code"])),
        (400, "SETTLEMENT_INSTITUTION_NOT_ACTIVE"),
        "{p}"
    );
    assert!(
        s(&p["errors"][0]["detail"]).contains("agreement breach"),
        "{p}"
    );
    suite.stop().await;
}
