//! Long-term care end to end, through the gateway (REST ⇄ gRPC), beside the real enrollment:
//! one person from application to a settled month, and tenancy at the edge.

#[path = "support/ltc.rs"]
mod ltc;

use http::Method;
use ltc::{items, policy};
use serde_json::{Value, json};
use yibao_integration_tests::{
    Suite, enrolled_person, id_number, n, register_care_institution, s, this_year,
};
use yibao_runtime::Role;

const CITY: &str = "370200";
const COUNTY: &str = "370281";
const INST: &str = "H37028100001";

#[tokio::test]
async fn one_person_from_application_to_a_settled_month_through_the_gateway() {
    let suite = Suite::start().await;
    let y = this_year();
    let op = suite.operator(CITY);
    let ci = suite.token(Role::CareInstitution, INST, "");
    let id = id_number("37028119500101011");
    enrolled_person(&suite, &op, &id, COUNTY, true).await;
    // Long-term care admits only the registry's designated providers (`ltc_registry.rs`).
    register_care_institution(&suite, INST).await;

    let policy = policy();
    suite
        .ok(
            "/v1/ltc/policies",
            &op,
            json!({"region_code": CITY, "year": y, "document_json": policy.to_string()}),
        )
        .await;

    let app = suite
        .ok("/v1/ltc/applications", &ci, json!({"institution_code": INST, "application_no": "JZ-1", "id_number": id, "name": "孙宗德", "region_code": COUNTY, "kind": "APPLICATION_KIND_INITIAL", "medical_records": ["病历"], "applied_on": format!("{y}-07-01")}))
        .await;
    let app_id = s(&app["application"]["application_id"]).to_string();
    assert_eq!(app["application"]["status"], "APPLICATION_STATUS_RECEIVED");
    assert!(s(&app["application"]["id_number_masked"]).contains("**********"));

    let sch = suite
        .ok(
            &format!("/v1/ltc/applications/{app_id}:schedule"),
            &op,
            json!({"assessor_codes": ["A001", "A002"], "scheduled_on": format!("{y}-07-01")}),
        )
        .await;
    let assessment_id = s(&sch["assessment"]["assessment_id"]).to_string();
    // An assessor who is not assigned is refused; the assigned ones submit.
    let stranger = suite.token(Role::Assessor, "A999", "");
    let (status, _) = suite
        .call(
            Method::POST,
            &format!("/v1/ltc/assessments/{assessment_id}:submit"),
            Some(&stranger),
            Some(json!({"items": items(15, 10)})),
        )
        .await;
    assert_eq!(status, 403);
    for code in ["A001", "A002"] {
        let t = suite.token(Role::Assessor, code, "");
        suite
            .ok(
                &format!("/v1/ltc/assessments/{assessment_id}:submit"),
                &t,
                json!({"items": items(15, 10)}),
            )
            .await;
    }
    let d = suite
        .ok(
            &format!("/v1/ltc/applications/{app_id}:decide"),
            &op,
            json!({"approve": true, "decided_on": format!("{y}-07-01")}),
        )
        .await;
    assert_eq!(d["application"]["level"], "DISABILITY_LEVEL_SEVERE_2");
    let ben = s(&d["beneficiary"]["beneficiary_id"]).to_string();
    suite.ok("/v1/ltc/care-plans", &ci, json!({"beneficiary_id": ben, "institution_code": INST, "care_type": "CARE_TYPE_INSTITUTIONAL", "start_date": format!("{y}-07-01")})).await;

    let records: Vec<Value> = (1..=28)
        .map(|d| json!({"record_no": format!("R{d:02}"), "beneficiary_id": ben, "care_type": "CARE_TYPE_INSTITUTIONAL", "service_date": format!("{y}-07-{d:02}"), "units": 1, "amount_fen": 15000}))
        .collect();
    let up = suite
        .ok(
            &format!("/v1/ltc/institutions/{INST}/service-records"),
            &ci,
            json!({"records": records}),
        )
        .await;
    assert_eq!(n(&up["accepted"]), 28, "{up}");

    // The run is sent with an `Idempotency-Key` too (its retry is checked after a reversal).
    let settle = format!("/v1/ltc/institutions/{INST}/settlements:settle");
    let jul = json!({"month": format!("{y}-07"), "request_id": "jul-1"});
    let key = [("idempotency-key", "ltc-jul-1")];
    let ((status, run), _) = suite
        .call_with(Method::POST, &settle, Some(&op), Some(jul.clone()), &key)
        .await;
    assert_eq!(status, 200, "{run}");
    let line = &run["settlement"]["lines"][0];
    // 28 × min(135, 130) = 3,640 → capped at 3,450; the person pays 4,200 − 3,450.
    assert_eq!(
        (
            n(&line["billed_fen"]),
            n(&line["fund_fen"]),
            n(&line["person_fen"]),
            n(&line["capped_fen"])
        ),
        (420_000, 345_000, 75_000, 19_000)
    );
    let again = suite
        .ok(
            &format!("/v1/ltc/institutions/{INST}/settlements:settle"),
            &op,
            json!({"month": format!("{y}-07"), "request_id": "jul-1"}),
        )
        .await;
    assert_eq!(again["replayed"], true);
    assert_eq!(
        again["settlement"]["settlement_id"],
        run["settlement"]["settlement_id"]
    );

    let sid = s(&run["settlement"]["settlement_id"]).to_string();
    let got = suite
        .get_ok(&format!("/v1/ltc/settlements/{sid}"), &ci)
        .await;
    assert_eq!(n(&got["settlement"]["fund_fen"]), 345_000);
    let stats = suite
        .get_ok(
            &format!("/v1/ltc/statistics?region_code={CITY}&month={y}-07"),
            &op,
        )
        .await;
    assert_eq!(n(&stats["beneficiaries"]), 1);
    assert_eq!(n(&stats["fund_paid_fen"]), 345_000);

    // The run is reversed in full; a retry of the run with its `Idempotency-Key` is answered by
    // the service from its `request_id` with the run as it is now (reversed), never the
    // recorded first answer that said it stood.
    let rev = suite
        .ok(
            &format!("/v1/ltc/settlements/{sid}:reverse"),
            &op,
            json!({"request_id": "jul-1-rev", "reason": "billed to the wrong institution"}),
        )
        .await;
    assert_eq!(n(&rev["reversal"]["fund_fen"]), -345_000, "{rev}");
    let ((status, retry), headers) = suite
        .call_with(Method::POST, &settle, Some(&op), Some(jul), &key)
        .await;
    assert_eq!(status, 200, "{retry}");
    assert_eq!(
        (
            s(&retry["settlement"]["settlement_id"]),
            &retry["settlement"]["reversed"],
            &retry["replayed"],
            headers
                .get("idempotency-replayed")
                .and_then(|v| v.to_str().ok())
        ),
        (sid.as_str(), &json!(true), &json!(true), Some("true")),
        "{retry}"
    );

    // Another institution and another region's operator are refused at the edge or by the service.
    let other = suite.token(Role::CareInstitution, "H37028100002", "");
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/ltc/applications/{app_id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let far = suite.operator("110000");
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/ltc/statistics?region_code={CITY}&month={y}-07"),
            Some(&far),
            None,
        )
        .await;
    assert_eq!(status, 403);
    // Bad input is a problem naming the field.
    let (status, problem) = suite
        .call(
            Method::POST,
            &format!("/v1/ltc/institutions/{INST}/settlements:settle"),
            Some(&op),
            Some(json!({"month": format!("{y}-13"), "request_id": "x"})),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "month");
    suite.stop().await;
}
