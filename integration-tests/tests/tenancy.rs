//! Record-level tenancy of people (issue 14, item 6): the enrollment RPCs that read or change a
//! person, an enrolment or a household check the stored record's region against the caller,
//! not only the request's own fields. Each refusal is made twice, through the gateway's REST
//! and straight at the services' gRPC port, and the services' databases hold exactly what they
//! held before (every row of every table, not only counts). Each test also shows the owner of
//! the record still reaching it, so nothing is refused wholesale. Claims and rounds:
//! `tenancy_claims.rs`.

#[path = "support/refusals.rs"]
mod refusals;

use http::Method;
use refusals::{Refusal, refused_at_both_ports, settled, wrote_nothing};
use serde_json::{Value, json};
use yibao_integration_tests::{Suite, enrolled_person, id_number, s, this_year};
use yibao_runtime::Role;

const HUOQIU: &str = "341522";
const HEFEI: &str = "340100";
const ANHUI: &str = "340000";
const H1: &str = "H34152200001";
const H2: &str = "H34152200002";

const ENROLLMENT: &str = "yibao.enrollment.v1.EnrollmentService";

/// Registers a person of `region` (no enrolment); returns (person id, the person's JSON).
async fn person(suite: &Suite, region: &str, first17: &str, name: &str) -> (String, Value) {
    let p = suite
        .ok(
            "/v1/persons",
            &suite.operator(region),
            json!({"id_number": id_number(first17), "name": name, "region_code": region, "contact": "13900001111"}),
        )
        .await["person"]
        .clone();
    (s(&p["person_id"]).to_string(), p)
}

#[tokio::test]
async fn a_person_of_another_region_is_neither_made_a_household_head_nor_enrolled() {
    let suite = Suite::start().await;
    let huoqiu = suite.operator(HUOQIU);
    let (hefei_person, clear) = person(&suite, HEFEI, "34010019800101001", "合肥居民").await;
    let (own_person, _) = person(&suite, HUOQIU, "34152219800101002", "霍邱居民").await;
    let year = this_year();
    suite.ok("/v1/contribution-standards", &huoqiu, json!({"region_code": HUOQIU, "year": year, "scheme": "SCHEME_RESIDENT", "individual_amount_fen": 38000, "waiting_days": 30})).await;
    let household = json!({"region_code": HUOQIU, "address": "霍邱县城关镇 1 号", "head_person_id": hefei_person});
    let enrol = json!({"person_id": hefei_person, "year": year, "scheme": "SCHEME_RESIDENT", "region_code": HUOQIU, "enrolled_on": format!("{year}-01-05")});
    let before = settled(&suite).await;
    refused_at_both_ports(
        &suite,
        &[
            Refusal::post(
                &huoqiu,
                "/v1/households",
                &format!("{ENROLLMENT}/CreateHousehold"),
                household.clone(),
            )
            .because("OUTSIDE_REGION", "head_person_id"),
            Refusal::post(
                &huoqiu,
                "/v1/enrolments",
                &format!("{ENROLLMENT}/Enroll"),
                enrol.clone(),
            )
            .because("OUTSIDE_REGION", "person_id"),
        ],
    )
    .await;
    wrote_nothing(&suite, &before).await;
    // The refusal shows nothing of the person: not their ID number, name or contact.
    let (_, problem) = suite
        .call(
            Method::POST,
            "/v1/households",
            Some(&huoqiu),
            Some(household),
        )
        .await;
    for secret in ["id_number", "name", "contact"] {
        let value = s(&clear[secret]);
        assert!(
            !value.is_empty() && !problem.to_string().contains(value),
            "{secret}: {problem}"
        );
    }
    // Hefei still has its resident, in no household and not enrolled.
    let hefei = suite.operator(HEFEI);
    let got = suite
        .get_ok(&format!("/v1/persons/{hefei_person}"), &hefei)
        .await;
    assert_eq!(s(&got["person"]["household_id"]), "", "{got}");
    let enrolments = suite
        .get_ok(&format!("/v1/persons/{hefei_person}/enrolments"), &hefei)
        .await;
    assert!(
        enrolments["enrolments"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    // Huoqiu's own resident is made a head and enrolled.
    let h = suite.ok("/v1/households", &huoqiu, json!({"region_code": HUOQIU, "address": "霍邱县城关镇 2 号", "head_person_id": own_person})).await;
    assert_eq!(s(&h["household"]["members"][0]["person_id"]), own_person);
    let mut own = enrol;
    own["person_id"] = json!(own_person);
    suite.ok("/v1/enrolments", &huoqiu, own).await;
    suite.stop().await;
}

#[tokio::test]
async fn eligibility_vouchers_and_the_person_answer_a_region_scoped_caller_only_for_its_region() {
    let suite = Suite::start().await;
    let hefei = suite.operator(HEFEI);
    let id = id_number("34010019800101003");
    let (pid, _) = enrolled_person(&suite, &hefei, &id, HEFEI, true).await;
    let qr = s(&suite
        .ok(&format!("/v1/persons/{pid}/vouchers"), &hefei, json!({}))
        .await["qr_payload"])
    .to_string();
    let check = json!({"id_number": id});
    let scan = json!({"qr_payload": qr});
    let huoqiu_auditor = suite.token(Role::Auditor, "", HUOQIU);
    let refusals = || {
        let mut all = Vec::new();
        for token in [suite.operator(HUOQIU), huoqiu_auditor.clone()] {
            all.push(
                Refusal::post(
                    &token,
                    "/v1/eligibility:check",
                    &format!("{ENROLLMENT}/CheckEligibility"),
                    check.clone(),
                )
                .because("OUTSIDE_REGION", "id_number"),
            );
        }
        all.push(
            Refusal::post(
                &suite.operator(HUOQIU),
                "/v1/vouchers:resolve",
                &format!("{ENROLLMENT}/ResolveVoucher"),
                scan.clone(),
            )
            .because("OUTSIDE_REGION", "qr_payload"),
        );
        // Auditors do not scan vouchers at all: the contract does not list them.
        all.push(Refusal::post(
            &huoqiu_auditor,
            "/v1/vouchers:resolve",
            &format!("{ENROLLMENT}/ResolveVoucher"),
            scan.clone(),
        ));
        all
    };
    let before = settled(&suite).await;
    // Refused before the person's file is cached, and again once it is (Redis runs).
    refused_at_both_ports(&suite, &refusals()).await;
    for token in [
        hefei.clone(),
        suite.token(Role::Auditor, "", ANHUI),
        suite.hospital(H1),
        suite.token(Role::CareInstitution, H2, ""),
    ] {
        let answer = suite
            .ok("/v1/eligibility:check", &token, check.clone())
            .await;
        assert_eq!(answer["eligible"], json!(true), "{answer}");
    }
    refused_at_both_ports(&suite, &refusals()).await;
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/eligibility:check",
            Some(&huoqiu_auditor),
            Some(check),
        )
        .await;
    assert!(
        status == 403 && !problem.to_string().contains(&id),
        "the refusal shows the masked ID number only: {problem}"
    );
    wrote_nothing(&suite, &before).await;
    for token in [hefei.clone(), suite.hospital(H1)] {
        let v = suite.ok("/v1/vouchers:resolve", &token, scan.clone()).await;
        assert_eq!(s(&v["person_id"]), pid);
    }
    // Insured in Huoqiu after a transfer in, the Hefei resident is answered to Huoqiu too.
    let y = this_year();
    let moved = json!({"kind": "STATUS_EVENT_KIND_TRANSFER", "effective_on": format!("{y}-07-01"), "to_region_code": HUOQIU});
    suite
        .ok(&format!("/v1/persons/{pid}/events"), &hefei, moved)
        .await;
    let date = format!("{y}-08-01");
    for (rpc, body) in [
        (
            "/v1/eligibility:check",
            json!({"id_number": id, "date": date}),
        ),
        ("/v1/vouchers:resolve", scan),
    ] {
        let answer = suite.ok(rpc, &suite.operator(HUOQIU), body).await;
        let answer = answer.get("eligibility").unwrap_or(&answer);
        assert_eq!(s(&answer["person_id"]), pid, "{answer}");
    }
    // Huoqiu now administers the person too: reads the record, its enrolments and history,
    // and corrects the contact. A third region still reaches nothing, at either port.
    let huoqiu = suite.operator(HUOQIU);
    let got = suite.get_ok(&format!("/v1/persons/{pid}"), &huoqiu).await;
    assert_eq!(s(&got["person"]["person_id"]), pid, "{got}");
    for part in ["enrolments", "history"] {
        suite
            .get_ok(&format!("/v1/persons/{pid}/{part}"), &huoqiu)
            .await;
    }
    let correct = json!({"contact": "13900000000", "reason": "转入后更新联系方式"});
    let fixed = suite
        .ok(
            &format!("/v1/persons/{pid}:correct"),
            &huoqiu,
            correct.clone(),
        )
        .await;
    assert_eq!(s(&fixed["person"]["contact"]), "13900000000", "{fixed}");
    let beijing = suite.operator("110000");
    let by_id = json!({"person_id": pid});
    let mut request = correct.clone();
    request["person_id"] = json!(pid);
    let before = settled(&suite).await;
    refused_at_both_ports(
        &suite,
        &[
            Refusal::get(
                &beijing,
                &format!("/v1/persons/{pid}"),
                &format!("{ENROLLMENT}/GetPerson"),
                by_id.clone(),
            )
            .because("OUTSIDE_REGION", "110000"),
            Refusal::get(
                &beijing,
                &format!("/v1/persons/{pid}/enrolments"),
                &format!("{ENROLLMENT}/ListEnrolments"),
                by_id,
            )
            .because("OUTSIDE_REGION", "110000"),
            Refusal::post(
                &beijing,
                &format!("/v1/persons/{pid}:correct"),
                &format!("{ENROLLMENT}/CorrectPerson"),
                correct,
            )
            .with_request(request)
            .because("OUTSIDE_REGION", "110000"),
        ],
    )
    .await;
    wrote_nothing(&suite, &before).await;
    suite.stop().await;
}
