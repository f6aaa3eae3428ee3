use super::*;
use prost_reflect::ReflectMessage as _;

const SCORE_SHEET: &str = "/yibao.ltc.v1.LtcService/SubmitScoreSheet";

struct TestGateway {
    g: Gateway,
    keys: yibao_runtime::auth::DevKeys,
    dir: std::path::PathBuf,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn gateway(cache: std::sync::Arc<dyn yibao_runtime::cache::Cache>) -> TestGateway {
    let dir = std::env::temp_dir().join(format!("yibao-gw-idem-{}", uuid::Uuid::new_v4().simple()));
    let keys = yibao_runtime::auth::DevKeys::load_or_create(&dir).unwrap_or_else(|e| panic!("{e}"));
    let verifier = keys
        .verifier("yibao", "yibao-api")
        .unwrap_or_else(|e| panic!("{e}"));
    let settings = crate::GatewaySettings {
        request_timeout_ms: 300,
        ..Default::default()
    };
    // Port 1: nothing listens there, so a forwarded call answers UNAVAILABLE.
    let nowhere = "http://127.0.0.1:1".to_string();
    let upstreams = yibao_runtime::config::Upstreams {
        enrollment: nowhere.clone(),
        settlement: nowhere.clone(),
        ltc: nowhere.clone(),
        procurement: nowhere.clone(),
        supervision: nowhere,
    };
    let g = Gateway::new(&upstreams, verifier, cache, settings)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    TestGateway { g, keys, dir }
}

fn memory() -> std::sync::Arc<dyn yibao_runtime::cache::Cache> {
    std::sync::Arc::new(yibao_runtime::cache::MemoryCache::new(100))
}

fn route(g: &Gateway, path: &str) -> Route {
    g.catalog.by_path[path].clone()
}

fn caller() -> Caller {
    Caller {
        subject: "assessor-1".into(),
        role: yibao_runtime::Role::Assessor,
        org: "A0001".into(),
        region: None,
    }
}

fn keyed(key: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(
        "idempotency-key",
        http::HeaderValue::from_str(key).unwrap_or_else(|e| panic!("{e}")),
    );
    h
}

/// Score-sheet item names.
fn item_names() -> Vec<String> {
    (0..40).map(|i| format!("adl.item{i}")).collect()
}

/// The score given to an item in these tests.
fn score(name: &str) -> u32 {
    name.bytes().map(u32::from).sum::<u32>() % 7
}

/// A SubmitScoreSheet request as a REST body, its map's keys in the order given.
fn rest_score_sheet(route: &Route, names: &[String]) -> DynamicMessage {
    let items: Vec<String> = names
        .iter()
        .map(|n| format!("\"{n}\": {}", score(n)))
        .collect();
    let body = format!(
        "{{\"assessment_id\": \"a-1\", \"items\": {{{}}}}}",
        items.join(", ")
    );
    let whole_body = crate::catalog::HttpBinding {
        verb: http::Method::POST,
        template: String::new(),
        segments: Vec::new(),
        custom_verb: None,
        body: "*".into(),
    };
    transcode::bind_request(
        route.method.input(),
        &whole_body,
        &[],
        None,
        body.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("{}: {}", e.field, e.reason))
}

/// The same request as gRPC bytes, its map entries on the wire in the order given (each
/// entry encoded on its own and the encodings concatenated, as protobuf merges them).
fn grpc_score_sheet(route: &Route, names: &[String]) -> (Bytes, DynamicMessage) {
    let input = route.method.input();
    let mut wire = Vec::new();
    let mut head = DynamicMessage::new(input.clone());
    head.set_field_by_name("assessment_id", prost_reflect::Value::String("a-1".into()));
    wire.extend(head.encode_to_vec());
    for n in names {
        let mut one = DynamicMessage::new(input.clone());
        let mut map = std::collections::HashMap::new();
        map.insert(
            prost_reflect::MapKey::String(n.clone()),
            prost_reflect::Value::U32(score(n)),
        );
        one.set_field_by_name("items", prost_reflect::Value::Map(map));
        wire.extend(one.encode_to_vec());
    }
    let wire = Bytes::from(wire);
    let msg = DynamicMessage::decode(input, wire.clone()).unwrap_or_else(|e| panic!("{e}"));
    (wire, msg)
}

#[tokio::test]
async fn a_retried_request_is_the_same_request_whatever_the_order_of_its_map_entries() {
    let t = gateway(memory()).await;
    let r = route(&t.g, SCORE_SHEET);
    let forward = item_names();
    let mut backward = forward.clone();
    backward.reverse();
    let (wire_f, grpc_f) = grpc_score_sheet(&r, &forward);
    let (wire_b, grpc_b) = grpc_score_sheet(&r, &backward);
    assert_ne!(wire_f, wire_b, "the two encodings must differ on the wire");
    let rest_f = rest_score_sheet(&r, &forward);
    let rest_b = rest_score_sheet(&r, &backward);
    let digests: Vec<String> = [&rest_f, &rest_b, &grpc_f, &grpc_b]
        .iter()
        .map(|m| request_digest(SCORE_SHEET, m))
        .collect();
    assert!(digests.iter().all(|d| *d == digests[0]), "{digests:?}");
    let mut other = rest_f.clone();
    other.set_field_by_name("assessment_id", prost_reflect::Value::String("a-2".into()));
    assert_ne!(request_digest(SCORE_SHEET, &other), digests[0]);
    assert_eq!(
        rest_f.descriptor().full_name(),
        "yibao.ltc.v1.SubmitScoreSheetRequest"
    );

    // Over REST: the first request claims the key, a retry listing the map the other way
    // round gets the first answer, not IDEMPOTENCY_KEY_REUSED.
    let c = caller();
    let key = begin_idempotent(&t.g, &r, &c, &keyed("sheet-1"), &rest_f)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .unwrap_or_else(|| panic!("not claimed"));
    let first: Answer = Ok(Bytes::from_static(b"\x0a\x03a-1"));
    record_idempotency(&t.g, &key, &first).await;
    for retry in [&rest_b, &grpc_f, &grpc_b] {
        match begin_idempotent(&t.g, &r, &c, &keyed("sheet-1"), retry).await {
            Err(Claimed::Replay(Ok(b))) => assert_eq!(b, Bytes::from_static(b"\x0a\x03a-1")),
            other => panic!("{other:?}"),
        }
    }
    // Over gRPC: the same, the first request arriving as bytes.
    let key = begin_idempotent(&t.g, &r, &c, &keyed("sheet-2"), &grpc_b)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .unwrap_or_else(|| panic!("not claimed"));
    let refused: Answer = Err(tonic::Status::invalid_argument("items: unknown item"));
    record_idempotency(&t.g, &key, &refused).await;
    match begin_idempotent(&t.g, &r, &c, &keyed("sheet-2"), &grpc_f).await {
        Err(Claimed::Replay(Err(s))) => {
            assert_eq!(s.code(), tonic::Code::InvalidArgument);
            assert_eq!(s.message(), "items: unknown item");
        }
        other => panic!("{other:?}"),
    }
    // A different request under a used key is refused.
    match begin_idempotent(&t.g, &r, &c, &keyed("sheet-2"), &other).await {
        Err(Claimed::Refused(s)) => assert_eq!(s.code(), tonic::Code::FailedPrecondition),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_key_left_in_progress_by_a_lost_request_frees_itself_after_twice_the_deadline() {
    let t = gateway(memory()).await;
    let g = &t.g;
    let k = RecordKeys::new("", "t", "", "", "k");
    let k2 = RecordKeys::new("", "t", "", "", "k2");
    assert_eq!(pending_ttl(&g.settings), Duration::from_secs(1));
    assert!(matches!(claim_idempotency(g, &k, "d1").await, Claim::Fresh));
    // The first request is still running (or its gateway died): a retry waits.
    assert!(
        matches!(claim_idempotency(g, &k, "d1").await, Claim::Refused(s) if s.code() == tonic::Code::Aborted)
    );
    tokio::time::sleep(pending_ttl(&g.settings) + Duration::from_millis(100)).await;
    assert!(matches!(claim_idempotency(g, &k, "d1").await, Claim::Fresh));
    // An answer once recorded is kept for the day, not for the pending marker's lifetime.
    let key = IdempotencyKey {
        keys: k.clone(),
        digest: "d1".into(),
    };
    record_idempotency(g, &key, &Ok(Bytes::from_static(b"\x08\x01"))).await;
    tokio::time::sleep(pending_ttl(&g.settings) + Duration::from_millis(100)).await;
    assert!(matches!(
        claim_idempotency(g, &k, "d1").await,
        Claim::Replay(Ok(_))
    ));
    // An answer that may change on retry releases the key at once.
    assert!(matches!(
        claim_idempotency(g, &k2, "d2").await,
        Claim::Fresh
    ));
    let key = IdempotencyKey {
        keys: k2.clone(),
        digest: "d2".into(),
    };
    record_idempotency(g, &key, &Err(tonic::Status::unavailable("down"))).await;
    assert!(matches!(
        claim_idempotency(g, &k2, "d2").await,
        Claim::Fresh
    ));
}

#[test]
fn the_pending_marker_lives_twice_the_upstream_deadline_and_at_least_a_second() {
    let with = |ms| crate::GatewaySettings {
        request_timeout_ms: ms,
        ..Default::default()
    };
    assert_eq!(
        pending_ttl(&crate::GatewaySettings::default()),
        Duration::from_secs(20)
    );
    assert_eq!(pending_ttl(&with(100)), Duration::from_secs(1));
    assert_eq!(
        pending_ttl(&with(u64::MAX)),
        Duration::from_millis(u64::MAX)
    );
}

/// A Redis server of this test's own, on a free port, so that the test can stop it.
struct OwnRedis {
    child: std::process::Child,
    url: String,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("free port: {e}"));
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server (apt-get install redis-server): {e}"));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnRedis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn with_the_idempotency_store_down_a_settlement_is_still_forwarded() {
    let mut redis = OwnRedis::start();
    let cache = yibao_runtime::cache::RedisCache::connect(&redis.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let t = gateway(std::sync::Arc::new(cache)).await;
    let hospital = t
        .keys
        .mint(
            yibao_runtime::Role::Hospital,
            "H34152200001",
            "",
            "his-1",
            600,
            "yibao",
            "yibao-api",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let settle = |key: &str| {
        http::Request::builder()
            .method("POST")
            .uri("/v1/claims:settle")
            .header("authorization", format!("Bearer {hospital}"))
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"claim":{"institution_code":"H34152200001","encounter_no":"E-1"}}"#,
            ))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let problem_code = |resp: Response| async move {
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default()["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    use tower::ServiceExt as _;
    // Redis up: the key is claimed, the call goes to settlement (down here: UNAVAILABLE),
    // and the retryable answer releases the key.
    let resp =
        t.g.clone()
            .router()
            .oneshot(settle("s-1"))
            .await
            .unwrap_or_else(|e| match e {});
    assert_eq!(resp.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem_code(resp).await, "UNAVAILABLE");
    // Redis down: the settlement is still forwarded, not refused by the gateway.
    redis.stop();
    let r = route(&t.g, "/yibao.settlement.v1.SettlementService/Settle");
    let c = Caller {
        subject: "his-1".into(),
        role: yibao_runtime::Role::Hospital,
        org: "H34152200001".into(),
        region: None,
    };
    let msg = DynamicMessage::new(r.method.input());
    assert!(matches!(
        begin_idempotent(&t.g, &r, &c, &keyed("s-2"), &msg).await,
        Ok(None)
    ));
    let started = Instant::now();
    let resp =
        t.g.clone()
            .router()
            .oneshot(settle("s-2"))
            .await
            .unwrap_or_else(|e| match e {});
    assert_eq!(resp.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        problem_code(resp).await,
        "UNAVAILABLE",
        "the gateway forwarded the call; settlement's own answer came back"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}
