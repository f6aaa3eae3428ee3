//! Enrollment's rules end to end, through the gateway, on whichever backend the run uses.

use http::Method;
use serde_json::{Value, json};
use yibao_integration_tests::{Suite, enrolled_person, id_number, s, this_year};

const HUOQIU: &str = "341522";
const LU_AN: &str = "341502";

async fn eligibility(suite: &Suite, id: &str, date: &str) -> Value {
    suite
        .ok(
            "/v1/eligibility:check",
            &suite.hospital("H34152200001"),
            json!({"id_number": id, "date": date}),
        )
        .await
}

#[tokio::test]
async fn death_mid_year_ends_cover_after_the_day_and_the_cache_follows_every_change() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let id = id_number("34152219550807001");
    let (pid, _) = enrolled_person(&suite, &op, &id, HUOQIU, true).await;
    let y = this_year();
    // Warm the cache, then change the person: the next answer must reflect the change.
    assert_eq!(
        eligibility(&suite, &id, &format!("{y}-07-01")).await["eligible"],
        true
    );
    suite
        .ok(
            &format!("/v1/persons/{pid}/events"),
            &op,
            json!({"kind": "STATUS_EVENT_KIND_DEATH", "effective_on": format!("{y}-06-15")}),
        )
        .await;
    let after = eligibility(&suite, &id, &format!("{y}-07-01")).await;
    assert_eq!(after["eligible"], false);
    assert_eq!(after["reason"], "INELIGIBLE_REASON_DECEASED");
    assert_eq!(
        eligibility(&suite, &id, &format!("{y}-06-15")).await["eligible"],
        true,
        "the day of death is still covered"
    );
    assert_eq!(
        eligibility(&suite, &id, &format!("{y}-03-01")).await["eligible"],
        true,
        "the past is answered as it was"
    );
    let (status, problem) = suite.call(Method::POST, &format!("/v1/persons/{pid}/events"), Some(&op), Some(json!({"kind": "STATUS_EVENT_KIND_SUSPENSION", "effective_on": format!("{y}-08-01")}))).await;
    assert_eq!(status, 400, "{problem}");
    // The history keeps who did what, when.
    let history = suite
        .get_ok(&format!("/v1/persons/{pid}/history"), &op)
        .await;
    let kinds: Vec<&str> = history["entries"]
        .as_array()
        .map(|a| a.iter().map(|e| s(&e["kind"])).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds,
        [
            "person.registered",
            "enrolment.created",
            "contribution.recorded",
            "status.death"
        ]
    );
    assert_eq!(history["entries"][3]["audit"]["role"], "operator");
    suite.stop().await;
}

#[tokio::test]
async fn a_move_between_regions_transfers_cover_without_a_gap() {
    let suite = Suite::start().await;
    let op = suite.operator("341500");
    let id = id_number("34152219800101001");
    let (pid, _) = enrolled_person(&suite, &op, &id, HUOQIU, true).await;
    let y = this_year();
    let out = suite.ok(&format!("/v1/persons/{pid}/events"), &op, json!({"kind": "STATUS_EVENT_KIND_TRANSFER", "effective_on": format!("{y}-07-01"), "to_region_code": LU_AN})).await;
    assert_eq!(out["enrolments"].as_array().map(Vec::len), Some(2));
    let before = eligibility(&suite, &id, &format!("{y}-06-30")).await;
    let after = eligibility(&suite, &id, &format!("{y}-07-01")).await;
    assert_eq!(
        (s(&before["region_code"]), s(&after["region_code"])),
        (HUOQIU, LU_AN)
    );
    assert_eq!(after["insured_since"], format!("{y}-01-01"));
    suite.stop().await;
}

#[tokio::test]
async fn waiting_period_unpaid_and_unknown_people_are_told_apart() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let y = this_year();
    let id = id_number("34152219900615002");
    suite.ok("/v1/contribution-standards", &op, json!({"region_code": HUOQIU, "year": y, "scheme": "SCHEME_RESIDENT", "individual_amount_fen": 38000, "waiting_days": 30})).await;
    let p = suite
        .ok(
            "/v1/persons",
            &op,
            json!({"id_number": id, "name": "赵敏", "region_code": HUOQIU}),
        )
        .await;
    let pid = s(&p["person"]["person_id"]).to_string();
    let e = suite.ok("/v1/enrolments", &op, json!({"person_id": pid, "year": y, "scheme": "SCHEME_RESIDENT", "region_code": HUOQIU, "enrolled_on": format!("{y}-03-01")})).await;
    assert_eq!(e["enrolment"]["effective_from"], format!("{y}-03-31"));
    let eid = s(&e["enrolment"]["enrolment_id"]).to_string();
    suite.ok(&format!("/v1/enrolments/{eid}/contributions"), &op, json!({"kind": "CONTRIBUTION_KIND_PAYMENT", "amount_fen": 38000, "paid_on": format!("{y}-03-01"), "reference": "r1"})).await;
    assert_eq!(
        eligibility(&suite, &id, &format!("{y}-03-15")).await["reason"],
        "INELIGIBLE_REASON_WAITING_PERIOD"
    );
    assert_eq!(
        eligibility(&suite, &id, &format!("{y}-03-31")).await["eligible"],
        true
    );
    let unknown = eligibility(
        &suite,
        &id_number("34152219900615010"),
        &format!("{y}-03-31"),
    )
    .await;
    assert_eq!(unknown["reason"], "INELIGIBLE_REASON_UNKNOWN_PERSON");
    suite.stop().await;
}

#[tokio::test]
async fn contributions_are_idempotent_by_reference_and_never_exceed_what_is_due() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let (_, eid) =
        enrolled_person(&suite, &op, &id_number("34152219750320005"), HUOQIU, false).await;
    let path = format!("/v1/enrolments/{eid}/contributions");
    let pay = json!({"kind": "CONTRIBUTION_KIND_PAYMENT", "amount_fen": 30000, "paid_on": "2025-12-01", "reference": "receipt-7"});
    let first = suite.ok(&path, &op, pay.clone()).await;
    let retry = suite.ok(&path, &op, pay).await;
    assert_eq!(
        first, retry,
        "a retry with the same reference changes nothing"
    );
    assert_eq!(retry["enrolment"]["paid_fen"], 30000);
    let (status, problem) = suite.call(Method::POST, &path, Some(&op), Some(json!({"kind": "CONTRIBUTION_KIND_SUBSIDY", "amount_fen": 9000, "paid_on": "2025-12-01", "reference": "sub-1"}))).await;
    assert_eq!(
        status, 400,
        "8,000 fen are outstanding, 9,000 is too much: {problem}"
    );
    assert_eq!(problem["errors"][0]["field"], "amount_fen");
    let (status, _) = suite.call(Method::POST, &path, Some(&op), Some(json!({"kind": "CONTRIBUTION_KIND_PAYMENT", "amount_fen": 100, "paid_on": "2025-12-01", "reference": "receipt-7"}))).await;
    assert_eq!(
        status, 409,
        "a reused reference with a different amount is a conflict"
    );
    let done = suite.ok(&path, &op, json!({"kind": "CONTRIBUTION_KIND_SUBSIDY", "amount_fen": 8000, "paid_on": "2025-12-03", "reference": "sub-1"})).await;
    assert_eq!(done["enrolment"]["status"], "ENROLMENT_STATUS_ACTIVE");
    assert_eq!(done["enrolment"]["paid_on"], "2025-12-03");
    suite.stop().await;
}

#[tokio::test]
async fn duplicates_across_regions_are_found_kept_by_rule_and_worked_to_resolution() {
    let suite = Suite::start().await;
    let province = suite.operator("340000");
    let y = this_year();
    for region in [HUOQIU, LU_AN] {
        suite.ok("/v1/contribution-standards", &province, json!({"region_code": region, "year": y, "scheme": "SCHEME_RESIDENT", "individual_amount_fen": 38000})).await;
    }
    suite.ok("/v1/contribution-standards", &province, json!({"region_code": LU_AN, "year": y, "scheme": "SCHEME_EMPLOYEE", "individual_amount_fen": 0})).await;
    let id = id_number("34152219800101001");
    let p = suite
        .ok(
            "/v1/persons",
            &province,
            json!({"id_number": id, "name": "王建国", "region_code": HUOQIU}),
        )
        .await;
    let pid = s(&p["person"]["person_id"]).to_string();
    let mut ids = Vec::new();
    for (region, scheme, paid_on) in [
        (HUOQIU, "SCHEME_RESIDENT", "2025-12-20"),
        (LU_AN, "SCHEME_RESIDENT", "2025-11-05"),
    ] {
        let e = suite.ok("/v1/enrolments", &province, json!({"person_id": pid, "year": y, "scheme": scheme, "region_code": region, "enrolled_on": "2025-11-01"})).await;
        let eid = s(&e["enrolment"]["enrolment_id"]).to_string();
        suite.ok(&format!("/v1/enrolments/{eid}/contributions"), &province, json!({"kind": "CONTRIBUTION_KIND_PAYMENT", "amount_fen": 38000, "paid_on": paid_on, "reference": "r"})).await;
        ids.push(eid);
    }
    let scan = suite
        .ok("/v1/duplicates:scan", &province, json!({"year": y}))
        .await;
    assert_eq!(
        (
            scan["enrolments_scanned"].as_i64(),
            scan["tasks_opened"].as_i64()
        ),
        (Some(2), Some(1))
    );
    let again = suite
        .ok("/v1/duplicates:scan", &province, json!({"year": y}))
        .await;
    assert_eq!(
        (
            again["tasks_opened"].as_i64(),
            again["already_known"].as_i64()
        ),
        (Some(0), Some(1)),
        "a re-scan opens nothing new"
    );
    let tasks = suite
        .get_ok(
            "/v1/duplicates?state=DUPLICATE_TASK_STATE_FLAGGED",
            &province,
        )
        .await;
    let task = &tasks["tasks"][0];
    assert_eq!(task["kind"], "DUPLICATE_KIND_SAME_SYSTEM_MULTI_REGION");
    assert_eq!(
        task["keep_enrolment_id"],
        ids[1].as_str(),
        "the earlier paid enrolment stays"
    );
    let tid = s(&task["task_id"]).to_string();
    let (status, _) = suite
        .call(
            Method::POST,
            &format!("/v1/duplicates/{tid}:transition"),
            Some(&province),
            Some(json!({"to_state": "DUPLICATE_TASK_STATE_RESOLVED"})),
        )
        .await;
    assert_eq!(
        status, 400,
        "flagged tasks are verified before they are resolved"
    );
    suite.ok(&format!("/v1/duplicates/{tid}:transition"), &province, json!({"to_state": "DUPLICATE_TASK_STATE_VERIFIED", "note": "checked with both bureaus"})).await;
    let done = suite
        .ok(
            &format!("/v1/duplicates/{tid}:transition"),
            &province,
            json!({"to_state": "DUPLICATE_TASK_STATE_RESOLVED"}),
        )
        .await;
    assert_eq!(done["task"]["steps"].as_array().map(Vec::len), Some(3));
    let e = eligibility(&suite, &id, &format!("{y}-06-01")).await;
    assert_eq!(e["region_code"], LU_AN);
    // A county operator elsewhere sees none of these tasks.
    let other = suite.operator("370200");
    let none = suite.get_ok("/v1/duplicates", &other).await;
    assert_eq!(none["tasks"], json!([]));
    suite.stop().await;
}

#[tokio::test]
async fn employee_enrolment_is_kept_over_resident() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let y = this_year();
    suite.ok("/v1/contribution-standards", &op, json!({"region_code": HUOQIU, "year": y, "scheme": "SCHEME_EMPLOYEE", "individual_amount_fen": 0})).await;
    let id = id_number("34152219900615002");
    let (pid, resident) = enrolled_person(&suite, &op, &id, HUOQIU, true).await;
    let e = suite.ok("/v1/enrolments", &op, json!({"person_id": pid, "year": y, "scheme": "SCHEME_EMPLOYEE", "region_code": HUOQIU, "enrolled_on": "2025-12-15"})).await;
    suite
        .ok(
            "/v1/duplicates:scan",
            &op,
            json!({"year": y, "region_code": HUOQIU}),
        )
        .await;
    let tasks = suite.get_ok("/v1/duplicates", &op).await;
    assert_eq!(tasks["tasks"][0]["kind"], "DUPLICATE_KIND_CROSS_SYSTEM");
    assert_eq!(
        tasks["tasks"][0]["keep_enrolment_id"],
        e["enrolment"]["enrolment_id"]
    );
    assert_eq!(tasks["tasks"][0]["drop_enrolment_id"], resident.as_str());
    suite.stop().await;
}

#[tokio::test]
async fn roster_reconciliation_gives_every_reason() {
    let suite = Suite::start().await;
    let op = suite.operator("340000");
    let y = this_year();
    let enrolled = id_number("34152219580312002");
    enrolled_person(&suite, &op, &enrolled, HUOQIU, true).await;
    let dead = id_number("34152219550807001");
    let (dead_pid, _) = enrolled_person(&suite, &op, &dead, HUOQIU, false).await;
    suite
        .ok(
            &format!("/v1/persons/{dead_pid}/events"),
            &op,
            json!({"kind": "STATUS_EVENT_KIND_DEATH", "effective_on": "2025-10-01"}),
        )
        .await;
    let moved = id_number("34152220120519003");
    let p = suite
        .ok(
            "/v1/persons",
            &op,
            json!({"id_number": moved, "name": "李小明", "region_code": HUOQIU}),
        )
        .await;
    suite.ok(&format!("/v1/persons/{}/events", s(&p["person"]["person_id"])), &op, json!({"kind": "STATUS_EVENT_KIND_MOVED_OUT_OF_PROVINCE", "effective_on": "2025-08-01"})).await;
    let elsewhere = id_number("34152219800101001");
    let shandong = suite.operator("370000");
    enrolled_person(&suite, &shandong, &elsewhere, "370281", true).await;
    let unknown = id_number("34152219991231001");
    // Enrolled and paid for this year, then died in it: deceased, not enrolled.
    let died_insured = id_number("34152219600101004");
    let (died_pid, _) = enrolled_person(&suite, &op, &died_insured, HUOQIU, true).await;
    suite
        .ok(
            &format!("/v1/persons/{died_pid}/events"),
            &op,
            json!({"kind": "STATUS_EVENT_KIND_DEATH", "effective_on": format!("{y}-01-01")}),
        )
        .await;
    let csv = format!(
        "name,id_number\n甲,{enrolled}\n乙,{dead}\n丙,{moved}\n丁,{elsewhere}\n戊,110101199001011234\n己,{unknown}\n庚,{died_insured}\n"
    );
    let out = suite
        .ok(
            "/v1/rosters:reconcile",
            &op,
            json!({"csv": csv, "year": y, "region_code": "340000"}),
        )
        .await;
    let outcomes: Vec<&str> = out["rows"]
        .as_array()
        .map(|a| a.iter().map(|r| s(&r["outcome"])).collect())
        .unwrap_or_default();
    assert_eq!(
        outcomes,
        [
            "ROSTER_OUTCOME_ENROLLED",
            "ROSTER_OUTCOME_DECEASED",
            "ROSTER_OUTCOME_MOVED_OUT_OF_PROVINCE",
            "ROSTER_OUTCOME_ENROLLED_ELSEWHERE",
            "ROSTER_OUTCOME_ID_INVALID",
            "ROSTER_OUTCOME_NOT_FOUND",
            "ROSTER_OUTCOME_DECEASED"
        ]
    );
    assert_eq!(
        out["rows"][6]["detail"],
        format!("died on {y}-01-01; enrolled in region 341522 until then")
    );
    assert_eq!(out["rows"][1]["line"], 3);
    assert_eq!(out["totals"]["enrolled"], 1);
    assert!(
        out["rows"].as_array().is_some_and(|rows| rows
            .iter()
            .all(|r| !s(&r["id_number_masked"]).contains(&enrolled[6..14]))),
        "no clear ID numbers in the report"
    );
    suite.stop().await;
}

#[tokio::test]
async fn poverty_coverage_is_complete_or_lists_who_is_missing() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let y = this_year();
    let mut pids = Vec::new();
    for (seq, pay) in [
        ("34152219580312002", true),
        ("34152219550807001", true),
        ("34152220120519003", false),
    ] {
        let (pid, _) = enrolled_person(&suite, &op, &id_number(seq), HUOQIU, pay).await;
        suite.ok(&format!("/v1/persons/{pid}/categories"), &op, json!({"category": "PERSON_CATEGORY_POVERTY_REGISTERED", "valid_from": "2016-01-01"})).await;
        pids.push(pid);
    }
    let cov = suite.get_ok(&format!("/v1/coverage?region_code={HUOQIU}&year={y}&category=PERSON_CATEGORY_POVERTY_REGISTERED"), &op).await;
    assert_eq!(
        (
            cov["enrolled"].as_i64(),
            cov["target"].as_i64(),
            cov["coverage_bp"].as_i64()
        ),
        (Some(2), Some(3), Some(6666))
    );
    assert_eq!(cov["missing_person_ids"], json!([pids[2]]));
    suite
        .ok(
            "/v1/coverage-targets",
            &op,
            json!({"region_code": HUOQIU, "year": y, "target": 4}),
        )
        .await;
    let all = suite
        .get_ok(&format!("/v1/coverage?region_code={HUOQIU}&year={y}"), &op)
        .await;
    assert_eq!(
        (all["enrolled"].as_i64(), all["coverage_bp"].as_i64()),
        (Some(2), Some(5000))
    );
    suite.stop().await;
}

#[tokio::test]
async fn bulk_import_commits_good_rows_reports_bad_ones_and_is_idempotent() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let y = this_year();
    suite.ok("/v1/contribution-standards", &op, json!({"region_code": HUOQIU, "year": y, "scheme": "SCHEME_RESIDENT", "individual_amount_fen": 18000})).await;
    let a = id_number("34152219580312002");
    let b = id_number("34152219550807001");
    let csv = format!(
        "id_number,name,region_code,year,scheme,contribution_fen,subsidy_fen\n{a},张桂兰,{HUOQIU},{y},resident,0,18000\n{b},李德胜,{HUOQIU},{y},resident,18000,0\n110101199001011234,错号,{HUOQIU},{y},resident,0,18000\n{},超额,{HUOQIU},{y},resident,20000,0\n",
        id_number("34152219800101001")
    );
    let first = suite
        .ok(
            "/v1/imports",
            &op,
            json!({"format": "IMPORT_FORMAT_CSV", "content": csv, "region_code": HUOQIU}),
        )
        .await;
    assert_eq!(first["committed"], 2);
    let errors: Vec<(i64, &str)> = first["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| (e["line"].as_i64().unwrap_or(0), s(&e["field"])))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(errors, [(4, "id_number"), (5, "amount_fen")]);
    let again = suite
        .ok(
            "/v1/imports",
            &op,
            json!({"format": "IMPORT_FORMAT_CSV", "content": csv, "region_code": HUOQIU}),
        )
        .await;
    assert_eq!(
        (again["committed"].as_i64(), again["unchanged"].as_i64()),
        (Some(0), Some(2)),
        "{again}"
    );
    assert_eq!(
        eligibility(&suite, &a, &format!("{y}-05-01")).await["eligible"],
        true
    );
    let jl = format!(
        "{{\"id_number\":\"{}\",\"name\":\"李小明\",\"region_code\":\"{HUOQIU}\",\"year\":{y},\"scheme\":\"resident\",\"subsidy_fen\":18000}}\n",
        id_number("34152220120519003")
    );
    // The same new person twice in one file: registered once, the repeat changes nothing.
    let third = suite.ok("/v1/imports", &op, json!({"format": "IMPORT_FORMAT_JSON_LINES", "content": format!("{jl}{jl}"), "region_code": HUOQIU})).await;
    assert_eq!(
        (third["committed"].as_i64(), third["unchanged"].as_i64()),
        (Some(1), Some(1)),
        "{third}"
    );
    // The over-paying row wrote nothing: its person was not registered.
    let lookup = suite
        .call(
            Method::POST,
            "/v1/persons:lookup",
            Some(&op),
            Some(json!({"id_number": id_number("34152219800101001")})),
        )
        .await;
    assert_eq!(lookup.0, 404, "{}", lookup.1);
    suite.stop().await;
}

#[tokio::test]
async fn an_import_of_several_batches_written_at_once_registers_each_person_once() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let y = this_year();
    suite.ok("/v1/contribution-standards", &op, json!({"region_code": HUOQIU, "year": y, "scheme": "SCHEME_RESIDENT", "individual_amount_fen": 18000})).await;
    // 4,100 people: three bulk batches, written while the next is prepared.
    let person = |i: usize| {
        id_number(&format!(
            "341522{}{:02}{:02}001",
            1940 + i % 50,
            1 + (i / 50) % 12,
            1 + i / 600
        ))
    };
    let mut csv =
        String::from("id_number,name,region_code,year,scheme,contribution_fen,subsidy_fen\n");
    for i in 0..4_100 {
        csv.push_str(&format!("{},甲,{HUOQIU},{y},resident,0,18000\n", person(i)));
    }
    // The first person again in the last batch, and a bad row there too.
    csv.push_str(&format!("{},甲,{HUOQIU},{y},resident,0,18000\n", person(0)));
    csv.push_str(&format!(
        "{},乙,{HUOQIU},{y},resident,30000,0\n",
        person(4_101)
    ));
    let first = suite
        .ok(
            "/v1/imports",
            &op,
            json!({"format": "IMPORT_FORMAT_CSV", "content": csv, "region_code": HUOQIU}),
        )
        .await;
    assert_eq!(
        (first["committed"].as_i64(), first["unchanged"].as_i64()),
        (Some(4_100), Some(1)),
        "{}",
        first["errors"]
    );
    let errors: Vec<(i64, &str)> = first["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| (e["line"].as_i64().unwrap_or(0), s(&e["field"])))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(errors, [(4_103, "amount_fen")]);
    // Rows of each batch again: nothing changes.
    let tail: String = csv
        .lines()
        .enumerate()
        .filter(|(n, _)| [0, 1, 2_000, 2_001, 4_100].contains(n))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let again = suite
        .ok(
            "/v1/imports",
            &op,
            json!({"format": "IMPORT_FORMAT_CSV", "content": tail, "region_code": HUOQIU}),
        )
        .await;
    assert_eq!(
        (again["committed"].as_i64(), again["unchanged"].as_i64()),
        (Some(0), Some(4)),
        "{again}"
    );
    for i in [0, 1_999, 2_000, 4_099] {
        assert_eq!(
            eligibility(&suite, &person(i), &format!("{y}-05-01")).await["eligible"],
            true,
            "person {i}"
        );
    }
    // An imported person's journal: one entry for the import row, with what it did.
    let found = suite
        .ok(
            "/v1/persons:lookup",
            &op,
            json!({"id_number": person(2_000)}),
        )
        .await;
    let history = suite
        .get_ok(
            &format!("/v1/persons/{}/history", s(&found["person"]["person_id"])),
            &op,
        )
        .await;
    let kinds: Vec<&str> = history["entries"]
        .as_array()
        .map(|a| a.iter().map(|e| s(&e["kind"])).collect())
        .unwrap_or_default();
    assert_eq!(kinds, ["person.imported"]);
    let detail: serde_json::Value =
        serde_json::from_str(s(&history["entries"][0]["detail_json"])).unwrap_or_default();
    assert_eq!(detail["enrolment"]["year"], y);
    assert_eq!(detail["contributions"][0]["kind"], "subsidy");
    assert_eq!(detail["contributions"][0]["amount_fen"], 18_000);
    assert_eq!(detail["contributions"][0]["effective"], true);
    assert_eq!(history["entries"][0]["audit"]["role"], "operator");
    suite.stop().await;
}

#[tokio::test]
async fn vouchers_resolve_once_valid_and_are_refused_when_tampered_revoked_or_expired() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let (pid, _) =
        enrolled_person(&suite, &op, &id_number("34152219580312002"), HUOQIU, true).await;
    let hospital = suite.hospital("H34152200001");
    let v = suite
        .ok(
            &format!("/v1/persons/{pid}/vouchers"),
            &op,
            json!({"ttl_seconds": 300}),
        )
        .await;
    let qr = s(&v["qr_payload"]).to_string();
    let scan = suite
        .ok("/v1/vouchers:resolve", &hospital, json!({"qr_payload": qr}))
        .await;
    assert_eq!(scan["person_id"], pid.as_str());
    assert_eq!(scan["eligibility"]["eligible"], true);
    // Change the signature's first character (its last one may only carry padding bits).
    let (body, mac) = qr.rsplit_once('.').unwrap_or_default();
    let tampered = format!(
        "{body}.{}{}",
        if mac.starts_with('A') { 'B' } else { 'A' },
        &mac[1..]
    );
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/vouchers:resolve",
            Some(&hospital),
            Some(json!({"qr_payload": tampered})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "ENROLLMENT_VOUCHER_TAMPERED")
    );
    suite
        .ok(
            &format!("/v1/vouchers/{}:revoke", s(&v["voucher_id"])),
            &op,
            json!({"reason": "phone lost"}),
        )
        .await;
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/vouchers:resolve",
            Some(&hospital),
            Some(json!({"qr_payload": qr})),
        )
        .await;
    assert_eq!(
        (status, s(&problem["code"])),
        (400, "ENROLLMENT_VOUCHER_REVOKED")
    );
    assert!(s(&problem["detail"]).contains("phone lost"));
    let short = suite
        .ok(
            &format!("/v1/persons/{pid}/vouchers"),
            &op,
            json!({"ttl_seconds": 10}),
        )
        .await;
    let (status, _) = suite
        .call(
            Method::POST,
            "/v1/persons/x/vouchers",
            Some(&op),
            Some(json!({"ttl_seconds": 5})),
        )
        .await;
    assert_eq!(status, 400, "lifetimes under 10 s are refused");
    let _ = short;
    suite.stop().await;
}
