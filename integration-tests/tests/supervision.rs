//! Supervision through the gateway of the whole suite (`yibao::start`), on whichever backend the
//! run uses: tips, cases, recoveries and rewards (retries by request id), budgets and policies,
//! the settlement gate, random inspections, backfills, tenancy and bad input. The stream parts
//! (findings from claim events, their review, a kill-and-restart) need a bus the test controls
//! and live in `services/supervision/tests/e2e.rs`, behind the same gateway code.

use http::Method;
use serde_json::json;
use yibao_integration_tests::{Suite, n, s};
use yibao_runtime::Role;

const HUOQIU: &str = "341522";
const H1: &str = "H34152200001";
const H2: &str = "H34152200002";
const H3: &str = "H34152200003";

#[tokio::test]
async fn a_tip_becomes_a_case_with_recoveries_and_a_reward_and_retries_change_nothing() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let tip = suite
        .ok("/v1/supervision/tips", &op, json!({"region_code": HUOQIU, "institution_code": H1, "description": "village clinic bills absent patients", "whistleblower_contact": "tel 138-0000-0000", "open_case": true}))
        .await;
    let case_id = s(&tip["case"]["case_id"]).to_string();
    assert!(!case_id.is_empty(), "{tip}");
    assert_eq!(
        tip["case"]["opened"]["role"], "operator",
        "the case records who opened it and in which role"
    );
    assert_eq!(tip["case"]["tip_id"], tip["tip_id"]);
    assert!(
        !tip.to_string().contains("138-0000"),
        "the whistle-blower's contact is never returned"
    );

    // Recovery: a retry with the same request id returns the first answer and records nothing.
    let path = format!("/v1/supervision/cases/{case_id}/recoveries");
    let body = json!({"region_code": HUOQIU, "amount_fen": 10_000_000, "note": "bank receipt 55", "request_id": "recovery-1"});
    let first = suite.ok(&path, &op, body.clone()).await;
    let again = suite.ok(&path, &op, body).await;
    assert_eq!(first, again);
    assert_eq!(n(&again["case"]["recovered_fen"]), 10_000_000);
    assert_eq!(
        again["case"]["recoveries"][0]["recorded"]["role"],
        "operator"
    );
    // 5% of 100,000 yuan = 5,000 yuan due to the whistle-blower.
    assert_eq!(n(&again["case"]["reward_due_fen"]), 500_000);
    let (status, problem) = suite
        .call(
            Method::POST,
            &path,
            Some(&op),
            Some(json!({"region_code": HUOQIU, "amount_fen": 1, "request_id": "recovery-1"})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (409, "SUPERVISION_REQUEST_ID_REUSED"),
        "{problem}"
    );
    let (status, problem) = suite
        .call(
            Method::POST,
            &path,
            Some(&op),
            Some(json!({"region_code": HUOQIU, "amount_fen": 0})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "amount_fen"),
        "{problem}"
    );

    // Reward: at most what is due; idempotent by request id.
    let reward = format!("/v1/supervision/cases/{case_id}:payReward");
    let (status, problem) = suite
        .call(
            Method::POST,
            &reward,
            Some(&op),
            Some(json!({"region_code": HUOQIU, "amount_fen": 500_001})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "CASE_REWARD_ABOVE_DUE"),
        "{problem}"
    );
    let paid = suite
        .ok(
            &reward,
            &op,
            json!({"region_code": HUOQIU, "amount_fen": 300_000, "request_id": "reward-1"}),
        )
        .await;
    let paid_again = suite
        .ok(
            &reward,
            &op,
            json!({"region_code": HUOQIU, "amount_fen": 300_000, "request_id": "reward-1"}),
        )
        .await;
    assert_eq!(paid, paid_again);
    assert_eq!(
        n(&paid_again["case"]["reward_paid_fen"]),
        300_000,
        "paid once"
    );
    let rest = suite
        .ok(
            &reward,
            &op,
            json!({"region_code": HUOQIU, "amount_fen": 200_000, "request_id": "reward-2"}),
        )
        .await;
    assert_eq!(n(&rest["case"]["reward_paid_fen"]), 500_000);
    let (status, _) = suite
        .call(
            Method::POST,
            &reward,
            Some(&op),
            Some(json!({"region_code": HUOQIU, "amount_fen": 1})),
        )
        .await;
    assert_eq!(status, 400, "nothing more is due");

    // Closing with the last recovery; a closed case takes no more.
    let closed = suite.ok(&path, &op, json!({"region_code": HUOQIU, "amount_fen": 50_000, "close_case": true, "request_id": "recovery-2"})).await;
    assert_eq!(closed["case"]["status"], "CASE_STATUS_CLOSED");
    let (status, problem) = suite
        .call(
            Method::POST,
            &path,
            Some(&op),
            Some(json!({"region_code": HUOQIU, "amount_fen": 1})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "CASE_CLOSED"),
        "{problem}"
    );

    // An anonymous tip's case earns no reward.
    let anon = suite
        .ok(
            "/v1/supervision/tips",
            &op,
            json!({"region_code": HUOQIU, "description": "anonymous letter", "open_case": false}),
        )
        .await;
    let anon_case = suite
        .ok(
            "/v1/supervision/cases",
            &op,
            json!({"region_code": HUOQIU, "tip_id": anon["tip_id"]}),
        )
        .await;
    let anon_id = s(&anon_case["case"]["case_id"]).to_string();
    suite
        .ok(
            &format!("/v1/supervision/cases/{anon_id}/recoveries"),
            &op,
            json!({"region_code": HUOQIU, "amount_fen": 100_000}),
        )
        .await;
    let (status, problem) = suite
        .call(
            Method::POST,
            &format!("/v1/supervision/cases/{anon_id}:payReward"),
            Some(&op),
            Some(json!({"region_code": HUOQIU, "amount_fen": 1})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "CASE_NO_REWARD"),
        "{problem}"
    );
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/supervision/cases",
            Some(&op),
            Some(json!({"region_code": HUOQIU, "tip_id": anon["tip_id"]})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "CASE_TIP_ALREADY_IN_CASE"),
        "{problem}"
    );

    let cases = suite
        .get_ok("/v1/supervision/cases?region_code=341522", &op)
        .await;
    assert_eq!(cases["cases"].as_array().map(Vec::len), Some(2));
    let closed_only = suite
        .get_ok(
            "/v1/supervision/cases?region_code=341522&status=CASE_STATUS_CLOSED",
            &op,
        )
        .await;
    assert_eq!(closed_only["cases"].as_array().map(Vec::len), Some(1));
    // Another region sees none of it.
    let lu_an = suite.operator("341502");
    let (status, _) = suite
        .call(
            Method::GET,
            "/v1/supervision/cases?region_code=341522",
            Some(&lu_an),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, problem) = suite
        .call(
            Method::POST,
            &path,
            Some(&lu_an),
            Some(json!({"region_code": "341502", "amount_fen": 1})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (403, "OUTSIDE_REGION"),
        "{problem}"
    );
    suite.stop().await;
}

#[tokio::test]
async fn budgets_policies_and_the_settlement_gate() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let set = suite
        .call(
            Method::PUT,
            &format!("/v1/supervision/budgets/{H1}/2018"),
            Some(&op),
            Some(json!({"region_code": HUOQIU, "annual_budget_fen": 1_200_000_000})),
        )
        .await;
    assert_eq!(set.0, 200, "{}", set.1);
    assert_eq!(n(&set.1["status"]["annual_budget_fen"]), 1_200_000_000);
    assert_eq!(n(&set.1["status"]["spent_to_date_fen"]), 0);
    let (status, problem) = suite
        .call(
            Method::PUT,
            &format!("/v1/supervision/budgets/{H1}/2018"),
            Some(&op),
            Some(json!({"region_code": HUOQIU, "annual_budget_fen": 0})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "annual_budget_fen")
    );
    let status_march = suite
        .get_ok(
            &format!("/v1/supervision/budgets/{H1}/2018/3?region_code={HUOQIU}"),
            &op,
        )
        .await;
    assert_eq!(n(&status_march["status"]["time_progress_bp"]), 2_500);
    let (status, problem) = suite
        .call(
            Method::GET,
            &format!("/v1/supervision/budgets/{H2}/2018/3?region_code={HUOQIU}"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (404, "BUDGET_NOT_SET"),
        "{problem}"
    );
    let (status, problem) = suite
        .call(
            Method::GET,
            &format!("/v1/supervision/budgets/{H1}/2018/13?region_code={HUOQIU}"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "month"),
        "{problem}"
    );
    // The hospital reads its own budget, not another's.
    let h1 = suite.hospital(H1);
    suite
        .get_ok(
            &format!("/v1/supervision/budgets/{H1}/2018/3?institution_code={H1}"),
            &h1,
        )
        .await;
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/supervision/budgets/{H2}/2018/3"),
            Some(&h1),
            None,
        )
        .await;
    assert_eq!(status, 403);

    // Policy thresholds must ascend; a good one is stored as data.
    let bad = json!({"policy": {"yellow_over_pace_bp": 2000, "orange_over_pace_bp": 1000, "red_over_pace_bp": 3000, "insufficient_below_months": 3, "reasonable_from_months": 6, "reasonable_to_months": 9, "excessive_above_months": 15}});
    let (status, problem) = suite
        .call(
            Method::PUT,
            "/v1/supervision/budget-policies/341522",
            Some(&op),
            Some(bad),
        )
        .await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "policy"),
        "{problem}"
    );
    let good = json!({"policy": {"yellow_over_pace_bp": 500, "orange_over_pace_bp": 1500, "red_over_pace_bp": 2500, "hold_on_red": true, "insufficient_below_months": 3, "reasonable_from_months": 6, "reasonable_to_months": 9, "excessive_above_months": 15}});
    let (status, stored) = suite
        .call(
            Method::PUT,
            "/v1/supervision/budget-policies/341522",
            Some(&op),
            Some(good),
        )
        .await;
    assert_eq!(
        (status, n(&stored["policy"]["red_over_pace_bp"])),
        (200, 2500),
        "{stored}"
    );

    // Without violations or warnings, settlement may pay.
    let gate = suite
        .get_ok(
            &format!(
                "/v1/supervision/settlement-holds/{H1}?institution_code={H1}&year=2018&month=4"
            ),
            &h1,
        )
        .await;
    assert_eq!(
        (
            s(&gate["decision"]),
            n(&gate["credit_score"]),
            gate["budget_hold"].as_bool()
        ),
        ("SETTLEMENT_DECISION_SETTLE", 100, Some(false))
    );
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/supervision/settlement-holds/{H2}?year=2018&month=4"),
            Some(&h1),
            None,
        )
        .await;
    assert_eq!(status, 403, "a hospital asks only about itself");
    let warnings = suite
        .get_ok(
            "/v1/supervision/warnings?region_code=341522&year=2018&month=3",
            &op,
        )
        .await;
    assert!(warnings["warnings"].as_array().is_none_or(Vec::is_empty));
    let summary = suite
        .get_ok("/v1/supervision/fund-summaries/341522/2018/3", &op)
        .await;
    assert_eq!(
        summary["balance_status"], "FUND_BALANCE_STATUS_UNKNOWN",
        "no spending yet: {summary}"
    );
    let credit = suite.get_ok(&format!("/v1/supervision/credit/{H1}?region_code={HUOQIU}&subject_kind=CREDIT_SUBJECT_KIND_INSTITUTION"), &op).await;
    assert_eq!(n(&credit["credit"]["score"]), 100);
    let (status, problem) = suite.call(Method::GET, &format!("/v1/supervision/credit/D123?region_code={HUOQIU}&subject_kind=CREDIT_SUBJECT_KIND_PHYSICIAN"), Some(&op), None).await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "subject_code"),
        "{problem}"
    );
    let blacklist = suite
        .get_ok("/v1/supervision/blacklist?region_code=341522", &op)
        .await;
    assert!(blacklist["entries"].as_array().is_none_or(Vec::is_empty));
    suite.stop().await;
}

#[tokio::test]
async fn random_inspections_are_reproducible_and_published_and_backfills_run_over_history() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let request = json!({
        "region_code": HUOQIU, "seed": 20180815u64,
        "institution_codes": [H1, H2, H3, "H34152200004", "H34152200005"],
        "inspector_ids": ["insp-1", "insp-2", "insp-3", "insp-4"],
        "institutions_to_draw": 2, "inspectors_to_draw": 2,
        "conflicts": [{"inspector_id": "insp-1", "institution_code": H1}]
    });
    let first = suite
        .ok("/v1/supervision/inspections", &op, request.clone())
        .await;
    let second = suite.ok("/v1/supervision/inspections", &op, request).await;
    assert_eq!(
        first["draw"]["institution_codes"], second["draw"]["institution_codes"],
        "the same seed draws the same institutions"
    );
    assert_eq!(
        first["draw"]["inspector_ids"],
        second["draw"]["inspector_ids"]
    );
    assert_eq!(
        first["draw"]["algorithm"],
        "splitmix64+partial-fisher-yates/v1"
    );
    let draw_id = s(&first["draw"]["draw_id"]).to_string();
    let published = suite
        .get_ok(
            &format!("/v1/supervision/inspections/{draw_id}?region_code={HUOQIU}"),
            &suite.token(Role::Auditor, "", HUOQIU),
        )
        .await;
    assert_eq!(
        published["verified"], true,
        "anyone can re-run the draw from the record"
    );
    assert_eq!(
        published["draw"]["institution_codes"],
        first["draw"]["institution_codes"]
    );
    let (status, problem) = suite.call(Method::POST, "/v1/supervision/inspections", Some(&op), Some(json!({"region_code": HUOQIU, "seed": 1, "institution_codes": [H1, "H34150200001"], "inspector_ids": ["a"], "institutions_to_draw": 1, "inspectors_to_draw": 1}))).await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "INSPECTION_OUTSIDE_REGION"),
        "{problem}"
    );
    let (status, problem) = suite.call(Method::POST, "/v1/supervision/inspections", Some(&op), Some(json!({"region_code": HUOQIU, "seed": 1, "institution_codes": [H1], "inspector_ids": ["a"], "institutions_to_draw": 2, "inspectors_to_draw": 1}))).await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "institutions_to_draw"),
        "{problem}"
    );
    let (status, _) = suite
        .call(
            Method::POST,
            "/v1/supervision/inspections",
            Some(&suite.token(Role::Auditor, "", HUOQIU)),
            Some(json!({"region_code": HUOQIU})),
        )
        .await;
    assert_eq!(status, 403, "auditors read draws, operators make them");

    // A backfill over the (empty) history of the suite counts and stores nothing.
    let run = suite.ok("/v1/supervision/backfills", &op, json!({"region_code": HUOQIU, "rule_code": "RULE_CODE_SPLIT_HOSPITALISATION", "from_date": "2018-01-01", "to_date": "2018-12-31"})).await;
    assert_eq!(
        (
            n(&run["events_seen"]),
            n(&run["findings_raised"]),
            n(&run["rule_version"])
        ),
        (0, 0, 1)
    );
    let (status, problem) = suite.call(Method::POST, "/v1/supervision/backfills", Some(&op), Some(json!({"region_code": HUOQIU, "rule_code": "RULE_CODE_SPLIT_HOSPITALISATION", "from_date": "2018-12-31", "to_date": "2018-01-01"}))).await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "to_date"),
        "{problem}"
    );
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/supervision/backfills",
            Some(&op),
            Some(
                json!({"region_code": HUOQIU, "from_date": "2018-01-01", "to_date": "2018-12-31"}),
            ),
        )
        .await;
    assert_eq!(
        (status, s(&problem["errors"][0]["field"])),
        (400, "rule_code"),
        "{problem}"
    );

    // No findings yet; a hospital must name itself.
    let h1 = suite.hospital(H1);
    let mine = suite
        .get_ok(
            &format!("/v1/supervision/findings?institution_code={H1}"),
            &h1,
        )
        .await;
    assert!(mine["findings"].as_array().is_none_or(Vec::is_empty));
    let (status, _) = suite
        .call(Method::GET, "/v1/supervision/findings", Some(&h1), None)
        .await;
    assert_eq!(status, 403);
    let (status, problem) = suite
        .call(
            Method::GET,
            &format!("/v1/supervision/findings/nope?institution_code={H1}"),
            Some(&h1),
            None,
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (404, "SUPERVISION_FINDING_NOT_FOUND"),
        "{problem}"
    );
    suite.stop().await;
}
