//! The foundation's vertical slice and the edge's guarantees, over real HTTP and gRPC.

use http::Method;
use serde_json::json;
use yibao_integration_tests::{Suite, enrolled_person, id_number, s, this_year};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::Role;

const HUOQIU: &str = "341522";

#[tokio::test]
async fn register_enrol_subsidise_then_eligible_over_rest_and_grpc() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let year = this_year();
    suite.ok("/v1/contribution-standards", &op, json!({"region_code": HUOQIU, "year": year, "scheme": "SCHEME_RESIDENT", "individual_amount_fen": 18000, "waiting_days": 30})).await;
    let id = id_number("34152219580312002");
    let person = suite
        .ok(
            "/v1/persons",
            &op,
            json!({"id_number": id, "name": "张桂兰", "region_code": HUOQIU}),
        )
        .await;
    assert_eq!(person["person"]["sex"], "female");
    assert_eq!(person["person"]["birth_date"], "1958-03-12");
    let pid = s(&person["person"]["person_id"]).to_string();
    suite
        .ok(
            &format!("/v1/persons/{pid}/categories"),
            &op,
            json!({"category": "PERSON_CATEGORY_POVERTY_REGISTERED", "valid_from": "2016-01-01"}),
        )
        .await;
    let e = suite.ok("/v1/enrolments", &op, json!({"person_id": pid, "year": year, "scheme": "SCHEME_RESIDENT", "region_code": HUOQIU, "enrolled_on": format!("{}-11-20", year - 1)})).await;
    assert_eq!(e["enrolment"]["status"], "ENROLMENT_STATUS_PENDING_PAYMENT");
    let eid = s(&e["enrolment"]["enrolment_id"]).to_string();

    let hospital = suite.hospital("H34152200001");
    let before = suite
        .ok("/v1/eligibility:check", &hospital, json!({"id_number": id}))
        .await;
    assert_eq!(before["eligible"], false);
    assert_eq!(before["reason"], "INELIGIBLE_REASON_UNPAID");

    // Seed 000: the county pays the whole 180-yuan share of poverty-registered people.
    let paid = suite.ok(&format!("/v1/enrolments/{eid}/contributions"), &op, json!({"kind": "CONTRIBUTION_KIND_SUBSIDY", "amount_fen": 18000, "paid_on": format!("{}-12-01", year - 1), "reference": "county-poverty-subsidy"})).await;
    assert_eq!(paid["enrolment"]["subsidised_fen"], 18000);
    assert_eq!(paid["enrolment"]["status"], "ENROLMENT_STATUS_ACTIVE");

    let rest = suite
        .ok("/v1/eligibility:check", &hospital, json!({"id_number": id}))
        .await;
    assert_eq!(rest["eligible"], true, "{rest}");
    assert_eq!(rest["scheme"], "SCHEME_RESIDENT");
    assert_eq!(rest["region_code"], HUOQIU);
    assert_eq!(
        rest["categories"],
        json!(["PERSON_CATEGORY_POVERTY_REGISTERED"])
    );
    assert_eq!(rest["id_number_masked"], "3415**********0020");
    assert!(
        rest.get("id_number").is_none(),
        "hospitals never get the clear ID number back"
    );

    // The same question over gRPC through the gateway, with a real tonic client.
    let channel = tonic::transport::Channel::from_shared(suite.base.clone())
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut client = pb::enrollment_service_client::EnrollmentServiceClient::new(channel);
    let mut req = tonic::Request::new(pb::CheckEligibilityRequest {
        id_number: id.clone(),
        date: String::new(),
    });
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {hospital}")
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let grpc = client
        .check_eligibility(req)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert!(grpc.eligible);
    assert_eq!(grpc.person_id, pid);

    // Without a token over gRPC: UNAUTHENTICATED.
    let denied = client
        .check_eligibility(pb::CheckEligibilityRequest {
            id_number: id,
            date: String::new(),
        })
        .await
        .err()
        .map(|e| e.code());
    assert_eq!(denied, Some(tonic::Code::Unauthenticated));
    suite.stop().await;
}

#[tokio::test]
async fn no_token_is_401_and_a_wrong_role_is_403() {
    let suite = Suite::start().await;
    let body = json!({"id_number": id_number("34152219580312002")});
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/eligibility:check",
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(problem["code"], "UNAUTHENTICATED");
    let (status, _) = suite
        .call(
            Method::POST,
            "/v1/eligibility:check",
            Some("not-a-jwt"),
            Some(body),
        )
        .await;
    assert_eq!(status, 401);
    let hospital = suite.hospital("H34152200001");
    let (status, problem) = suite.call(Method::POST, "/v1/persons", Some(&hospital), Some(json!({"id_number": id_number("34152219580312002"), "name": "x", "region_code": HUOQIU}))).await;
    assert_eq!(status, 403);
    assert_eq!(problem["code"], "ROLE_NOT_ALLOWED");
    // An insurer may not check eligibility (not among the method's roles).
    let insurer = suite.token(Role::Insurer, "INS0001", "");
    let (status, _) = suite
        .call(
            Method::POST,
            "/v1/eligibility:check",
            Some(&insurer),
            Some(json!({"id_number": id_number("34152219580312002")})),
        )
        .await;
    assert_eq!(status, 403);
    // A token signed by another key is refused.
    let other = Suite::start().await;
    let foreign = other.operator(HUOQIU);
    let (status, _) = suite
        .call(Method::GET, "/v1/coverage?year=2026", Some(&foreign), None)
        .await;
    assert_eq!(status, 401);
    other.stop().await;
    suite.stop().await;
}

#[tokio::test]
async fn operators_reach_only_their_region_and_hospitals_no_person_records() {
    let suite = Suite::start().await;
    let huoqiu = suite.operator(HUOQIU);
    let (pid, _) = enrolled_person(
        &suite,
        &huoqiu,
        &id_number("34152219800101001"),
        HUOQIU,
        true,
    )
    .await;
    let qingdao = suite.operator("370200");
    let (status, problem) = suite
        .call(
            Method::GET,
            &format!("/v1/persons/{pid}"),
            Some(&qingdao),
            None,
        )
        .await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["code"], "OUTSIDE_REGION");
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/persons/{pid}"),
            Some(&huoqiu),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // A province-level operator covers the county.
    let anhui = suite.operator("340000");
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/persons/{pid}"),
            Some(&anhui),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let hospital = suite.hospital("H34152200001");
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/persons/{pid}"),
            Some(&hospital),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = suite
        .call(
            Method::GET,
            "/v1/persons/no-such-person",
            Some(&huoqiu),
            None,
        )
        .await;
    assert_eq!(status, 404);
    suite.stop().await;
}

#[tokio::test]
async fn an_invalid_id_number_is_400_with_the_field_path_and_writes_nothing() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/persons",
            Some(&op),
            Some(json!({"id_number": "110101199001011234", "name": "李四", "region_code": HUOQIU})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "id_number");
    assert!(s(&problem["errors"][0]["detail"]).contains("GB 11643"));
    // Several bad fields are all named, and nothing is written.
    let valid = id_number("34152219900615002");
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/persons",
            Some(&op),
            Some(json!({"id_number": valid, "name": "", "region_code": "34152"})),
        )
        .await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| s(&e["field"])).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["name", "region_code"]);
    let (status, _) = suite
        .call(
            Method::POST,
            "/v1/persons:lookup",
            Some(&op),
            Some(json!({"id_number": valid})),
        )
        .await;
    assert_eq!(status, 404, "the refused registration wrote nothing");
    // Malformed JSON names the body.
    let (status, problem) = suite
        .call(
            Method::POST,
            "/v1/persons",
            Some(&op),
            Some(json!({"id_number": 12})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "body");
    suite.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_refuses_a_different_body() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let (_, eid) =
        enrolled_person(&suite, &op, &id_number("34152219750320005"), HUOQIU, false).await;
    let path = format!("/v1/enrolments/{eid}/contributions");
    let body = json!({"kind": "CONTRIBUTION_KIND_PAYMENT", "amount_fen": 10000, "paid_on": "2025-12-01", "reference": "receipt-1"});
    let key = [("Idempotency-Key", "pay-once-1")];
    let ((s1, first), h1) = suite
        .call_with(Method::POST, &path, Some(&op), Some(body.clone()), &key)
        .await;
    assert_eq!(s1, 200, "{first}");
    assert!(h1.get("idempotency-replayed").is_none());
    let ((s2, second), h2) = suite
        .call_with(Method::POST, &path, Some(&op), Some(body), &key)
        .await;
    assert_eq!((s2, &second), (200, &first));
    assert_eq!(
        h2.get("idempotency-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let other = json!({"kind": "CONTRIBUTION_KIND_PAYMENT", "amount_fen": 20000, "paid_on": "2025-12-01", "reference": "receipt-2"});
    let ((s3, problem), _) = suite
        .call_with(Method::POST, &path, Some(&op), Some(other), &key)
        .await;
    assert_eq!(s3, 400);
    assert_eq!(problem["code"], "IDEMPOTENCY_KEY_REUSED");
    // Exactly one payment was booked.
    let list = suite
        .get_ok(
            &format!(
                "/v1/persons/{}/enrolments",
                s(&first["enrolment"]["person_id"])
            ),
            &op,
        )
        .await;
    assert_eq!(list["enrolments"][0]["paid_fen"], 10000);
    suite.stop().await;
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let suite = Suite::start_with(|o| o.gateway.rate_limit_per_minute = 3).await;
    let hospital = suite.hospital("H34152200001");
    let body = json!({"id_number": id_number("34152219580312002")});
    for _ in 0..3 {
        let (status, _) = suite
            .call(
                Method::POST,
                "/v1/eligibility:check",
                Some(&hospital),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 200);
    }
    let ((status, problem), headers) = suite
        .call_with(
            Method::POST,
            "/v1/eligibility:check",
            Some(&hospital),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(status, 429);
    assert_eq!(problem["code"], "RATE_LIMITED");
    assert!(headers.get("retry-after").is_some());
    // Another caller has its own budget.
    let other = suite.hospital("H34152200002");
    let (status, _) = suite
        .call(
            Method::POST,
            "/v1/eligibility:check",
            Some(&other),
            Some(body),
        )
        .await;
    assert_eq!(status, 200);
    suite.stop().await;
}

#[tokio::test]
async fn health_readiness_openapi_metrics_and_request_ids() {
    let suite = Suite::start().await;
    let ((status, body), _) = suite
        .call_with(Method::GET, "/healthz", None, None, &[])
        .await;
    assert_eq!((status, body), (200, json!("ok")));
    let (status, ready) = suite.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["enrollment"], "serving");
    let (status, doc) = suite.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/v1/eligibility:check"]["post"].is_object());
    assert!(doc["paths"]["/v1/persons/{person_id}"]["get"]["parameters"].is_array());
    let ((_, _), headers) = suite
        .call_with(
            Method::GET,
            "/v1/coverage",
            None,
            None,
            &[("x-request-id", "req-123")],
        )
        .await;
    assert_eq!(
        headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        Some("req-123")
    );
    let ((_, _), headers) = suite
        .call_with(Method::GET, "/v1/coverage", None, None, &[])
        .await;
    assert!(
        headers.get("x-request-id").is_some(),
        "a request id is assigned when the caller sends none"
    );
    let metrics = suite
        .http
        .get(format!("{}/metrics", suite.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(metrics.contains("yibao_rpc_requests_total{component=\"gateway\",side=\"server\",service=\"enrollment\",method=\"GetCoverage\",code=\"UNAUTHENTICATED\"} 2"), "{metrics}");
    let (status, _) = suite.call(Method::GET, "/v1/nowhere", None, None).await;
    assert_eq!(status, 404);
    suite.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let huge = "x".repeat(5 * 1024 * 1024);
    let (status, _) = suite
        .call(
            Method::POST,
            "/v1/rosters:reconcile",
            Some(&op),
            Some(json!({"csv": huge, "year": 2026, "region_code": HUOQIU})),
        )
        .await;
    assert_eq!(status, 413);
    suite.stop().await;
}

/// Reflection lists every service the port answers, health included, at the service port and
/// through the gateway (so `grpcurl list` shows `grpc.health.v1.Health` too).
#[tokio::test]
async fn reflection_lists_the_services_and_health() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let suite = Suite::start().await;
    for url in [
        format!("http://{}", suite.running.grpc_addr),
        suite.base.clone(),
    ] {
        let channel = tonic::transport::Endpoint::from_shared(url.clone())
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut client = ServerReflectionClient::new(channel);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut replies = client
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .into_inner();
        let reply = replies
            .message()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .unwrap_or_else(|| panic!("{url}: no reply"));
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("{url}: not a list of services");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for want in [
            "grpc.health.v1.Health",
            "yibao.enrollment.v1.EnrollmentService",
            "yibao.settlement.v1.SettlementService",
            "yibao.supervision.v1.SupervisionService",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{url}: {want} in {names:?}"
            );
        }
    }
    suite.stop().await;
}
