//! The supervision service end to end: its own gRPC server with real authentication, the real
//! gateway in front of it (REST ⇄ gRPC), a bus this test controls (in-process, or Redis Streams
//! under a unique prefix when `YIBAO_TEST_REDIS_URL` is set) and its database (SQLite, or a
//! fresh PostgreSQL database when `YIBAO_TEST_DATABASE_URL` is set). Claim events are published
//! as settlement publishes them; findings, the review workflow, verification tasks, credit,
//! tenancy refusals and a kill-and-restart are checked through REST.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use prost::Message;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use yibao_core::{Fen, InstitutionCode, RegionCode, Sex};
use yibao_runtime::Role;
use yibao_runtime::auth::DevKeys;
use yibao_runtime::bus::{Bus, MemoryBus, RedisBus};
use yibao_runtime::config::{DatabaseConfig, Upstreams};
use yibao_runtime::server::ServiceDeps;
use yibao_supervision::domain::{ClaimAction, ClaimEvent, ClaimItem, ClaimKind, PersonKey};
use yibao_supervision::events::ConsumerConfig;
use yibao_supervision::events::decode as convert;

const H1: &str = "H34152200001";
const H2: &str = "H34152200002";
const HUOQIU: &str = "341522";

struct Env {
    keys: DevKeys,
    bus: Arc<dyn Bus>,
    cfg: ConsumerConfig,
    database: DatabaseConfig,
    http: reqwest::Client,
    dir: std::path::PathBuf,
}

/// One running service instance and its gateway.
struct Instance {
    base: String,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Instance {
    /// Stops the gateway and the service; the service's consumer stops with it.
    async fn kill(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        // The consumer notices the service is gone at its next turn.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

impl Env {
    async fn new() -> Env {
        let dir =
            std::env::temp_dir().join(format!("yibao-sup-e2e-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let database = match std::env::var("YIBAO_TEST_DATABASE_URL") {
            Ok(base) => DatabaseConfig {
                url: yibao_runtime::db::create_fresh_postgres(&base, "yibao_supervision_e2e")
                    .await
                    .unwrap(),
                max_connections: 8,
            },
            Err(_) => DatabaseConfig::sqlite(&dir.join("supervision.db")),
        };
        let (bus, cfg): (Arc<dyn Bus>, ConsumerConfig) = match std::env::var("YIBAO_TEST_REDIS_URL")
        {
            Ok(url) => (
                Arc::new(RedisBus::connect(&url).await.unwrap()),
                ConsumerConfig::with_prefix(&format!("test-{}:", uuid::Uuid::new_v4().simple())),
            ),
            Err(_) => (Arc::new(MemoryBus::new()), ConsumerConfig::default()),
        };
        let keys = DevKeys::load_or_create(&dir).unwrap();
        Env {
            keys,
            bus,
            cfg: ConsumerConfig {
                block: Duration::from_millis(20),
                ..cfg
            },
            database,
            http: reqwest::Client::new(),
            dir,
        }
    }

    fn token(&self, role: Role, org: &str, region: &str, subject: &str) -> String {
        self.keys
            .mint(role, org, region, subject, 3600, "yibao", "yibao-api")
            .unwrap()
    }

    async fn start(&self) -> Instance {
        let verifier = self.keys.verifier("yibao", "yibao-api").unwrap();
        let cache: Arc<dyn yibao_runtime::cache::Cache> =
            yibao_runtime::cache::from_config(&yibao_runtime::config::RedisConfig {
                url: String::new(),
            })
            .await
            .unwrap();
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc_addr = grpc.local_addr().unwrap();
        let upstreams = Upstreams {
            enrollment: format!("http://{grpc_addr}"),
            settlement: format!("http://{grpc_addr}"),
            ltc: format!("http://{grpc_addr}"),
            procurement: format!("http://{grpc_addr}"),
            supervision: format!("http://{grpc_addr}"),
        };
        let deps = ServiceDeps {
            database: self.database.clone(),
            cache: Arc::clone(&cache),
            bus: Arc::clone(&self.bus),
            upstreams: upstreams.clone(),
            secrets: Default::default(),
            relay: Default::default(),
        };
        let svc = yibao_supervision::build_with(deps, self.cfg.clone())
            .await
            .unwrap();
        let mut routes = tonic::service::RoutesBuilder::default();
        routes.add_service(svc);
        let routes = yibao_runtime::server::with_health_and_reflection(
            routes,
            &[yibao_supervision::SERVICE_NAME],
        )
        .await
        .unwrap();
        let (stop, rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        let grpc_task = tokio::spawn({
            let verifier = verifier.clone();
            let stop = stopped(rx.clone());
            async move {
                yibao_runtime::server::serve(grpc, routes, verifier, stop)
                    .await
                    .unwrap();
            }
        });
        let gateway = yibao_gateway::Gateway::new(
            &upstreams,
            verifier,
            cache,
            yibao_gateway::GatewaySettings {
                key_prefix: format!("t{}", uuid::Uuid::new_v4().simple()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", http.local_addr().unwrap());
        let http_task = tokio::spawn({
            let stop = stopped(rx);
            async move {
                gateway.serve(http, stop).await.unwrap();
            }
        });
        Instance {
            base,
            stop,
            tasks: vec![grpc_task, http_task],
        }
    }

    async fn publish(&self, e: &ClaimEvent) {
        self.bus
            .publish(
                &self.cfg.claims_stream,
                &e.event_id,
                &convert::claim_to_proto(e).encode_to_vec(),
            )
            .await
            .unwrap();
    }

    async fn call(
        &self,
        i: &Instance,
        method: http::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", i.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn ok(
        &self,
        i: &Instance,
        method: http::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, json) = self.call(i, method.clone(), path, token, body).await;
        assert_eq!(status, 200, "{method} {path}: {json}");
        json
    }

    /// Waits until the region's findings number `n` (or fails after 15 s).
    async fn findings(&self, i: &Instance, n: usize) -> Vec<Value> {
        let op = self.token(Role::Operator, "", HUOQIU, "operator-1");
        for _ in 0..300 {
            let list = self
                .ok(
                    i,
                    http::Method::GET,
                    "/v1/supervision/findings?region_code=341522",
                    &op,
                    None,
                )
                .await;
            let found = list["findings"].as_array().cloned().unwrap_or_default();
            if found.len() >= n {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("fewer than {n} findings after 15 s");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, m, d).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn stay(
    id: &str,
    person: &str,
    institution: &str,
    adm: NaiveDate,
    dis: NaiveDate,
    dx: &str,
    fund: i64,
    total: i64,
) -> ClaimEvent {
    ClaimEvent {
        event_id: format!("ev-{id}"),
        claim_id: id.to_string(),
        action: ClaimAction::Settled,
        settled_at: dis.and_hms_opt(10, 0, 0).unwrap(),
        person: PersonKey::parse(person).unwrap(),
        sex: Sex::Female,
        birth_date: NaiveDate::from_ymd_opt(1958, 2, 1).unwrap(),
        home_region: RegionCode::parse(HUOQIU).unwrap(),
        institution: InstitutionCode::parse(institution).unwrap(),
        physician: Some("D341522000101".into()),
        kind: ClaimKind::Inpatient,
        start_date: adm,
        end_date: dis,
        principal_diagnosis: Some(dx.into()),
        chronic_disease: None,
        items: vec![ClaimItem {
            code: "001101000010000".into(),
            quantity: 1,
            unit_price: Fen(5_000),
            amount: Fen(5_000),
            days_supply: 0,
        }],
        total: Fen(total),
        fund_paid: Fen(fund),
        enrolment_end: None,
        death_date: None,
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_split_hospitalisation_is_caught_and_worked_through_review_via_the_gateway() {
    let env = Env::new().await;
    let i = env.start().await;
    env.publish(&stay(
        "c1",
        "p-wang",
        H1,
        day(3, 1),
        day(3, 10),
        "J18.900",
        800_000,
        1_000_000,
    ))
    .await;
    env.publish(&stay(
        "c2",
        "p-wang",
        H1,
        day(3, 15),
        day(3, 25),
        "J18.100",
        600_000,
        750_000,
    ))
    .await;
    // A 60,000-yuan receipt at another hospital: phone or on-site verification.
    env.publish(&stay(
        "c3",
        "p-li",
        H2,
        day(3, 2),
        day(3, 20),
        "I63.900",
        4_500_000,
        6_000_000,
    ))
    .await;
    let found = env.findings(&i, 2).await;
    assert_eq!(found.len(), 2);
    let split = found
        .iter()
        .find(|f| f["rule_code"] == "RULE_CODE_SPLIT_HOSPITALISATION")
        .unwrap();
    let id = s(&split["finding_id"]).to_string();
    assert_eq!(split["institution_code"], H1);
    assert_eq!(split["amount_at_risk_fen"], 600000);
    assert_eq!(split["evidence"]["claim_ids"], json!(["c1", "c2"]));
    assert_eq!(split["state"], "REVIEW_STATE_AWAITING_FEEDBACK");

    let op = env.token(Role::Operator, "", HUOQIU, "reviewer-zhang");
    let auditor = env.token(Role::Auditor, "", HUOQIU, "auditor-zhao");
    let h1 = env.token(Role::Hospital, H1, "", "his-h1");
    let h2 = env.token(Role::Hospital, H2, "", "his-h2");
    let lu_an = env.token(Role::Operator, "", "341502", "operator-luan");
    let enc = |s: &str| s.replace('/', "%2F");
    let fpath = format!("/v1/supervision/findings/{}", enc(&id));

    // Tenancy: the hospital sees only its own findings; another region sees nothing.
    let own = env
        .ok(
            &i,
            http::Method::GET,
            &format!("/v1/supervision/findings?institution_code={H1}"),
            &h1,
            None,
        )
        .await;
    assert_eq!(own["findings"].as_array().map(Vec::len), Some(1));
    let (status, body) = env
        .call(
            &i,
            http::Method::GET,
            &format!("/v1/supervision/findings?institution_code={H1}"),
            &h2,
            None,
        )
        .await;
    assert_eq!((status, s(&body["code"])), (403, "OTHER_ORGANISATION"));
    let (status, body) = env
        .call(
            &i,
            http::Method::GET,
            &format!("{fpath}?institution_code={H2}"),
            &h2,
            None,
        )
        .await;
    assert_eq!(
        (status, s(&body["code"])),
        (403, "OTHER_ORGANISATION"),
        "{body}"
    );
    let (status, body) = env
        .call(
            &i,
            http::Method::GET,
            &format!("{fpath}?region_code=341502"),
            &lu_an,
            None,
        )
        .await;
    assert_eq!(
        (status, s(&body["code"])),
        (403, "OUTSIDE_REGION"),
        "{body}"
    );
    let (status, _) = env
        .call(
            &i,
            http::Method::GET,
            "/v1/supervision/findings?region_code=341522",
            &lu_an,
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = env
        .call(
            &i,
            http::Method::POST,
            &format!("{fpath}:feedback"),
            &h2,
            Some(json!({"institution_code": H2, "kind": "FEEDBACK_KIND_ACCEPT"})),
        )
        .await;
    assert_eq!(status, 403, "another hospital may not answer");

    // Bad input names the field and writes nothing.
    let (status, body) = env
        .call(
            &i,
            http::Method::POST,
            &format!("{fpath}:feedback"),
            &h1,
            Some(json!({"institution_code": H1})),
        )
        .await;
    assert_eq!(
        (status, s(&body["errors"][0]["field"])),
        (400, "kind"),
        "{body}"
    );
    // The reviewer may not conclude while the institution may still answer.
    let (status, body) = env.call(&i, http::Method::POST, &format!("{fpath}:review"), &op, Some(json!({"region_code": HUOQIU, "conclusion": "CONCLUSION_UPHOLD", "amount_fen": 600000}))).await;
    assert_eq!(
        (status, s(&body["code"])),
        (400, "REVIEW_FEEDBACK_WINDOW_OPEN"),
        "{body}"
    );

    // The workflow: appeal → review upholds → the hospital asks for a third party → the third
    // party upholds less → the final decision follows it.
    let f = env.ok(&i, http::Method::POST, &format!("{fpath}:feedback"), &h1, Some(json!({"institution_code": H1, "kind": "FEEDBACK_KIND_APPEAL", "note": "the second stay was a complication", "attachment_ids": ["emr-77"]}))).await;
    assert_eq!(f["finding"]["state"], "REVIEW_STATE_FEEDBACK_RECEIVED");
    let (status, body) = env.call(&i, http::Method::POST, &format!("{fpath}:review"), &op, Some(json!({"region_code": HUOQIU, "conclusion": "CONCLUSION_UPHOLD", "amount_fen": 600001}))).await;
    assert_eq!(
        (status, s(&body["errors"][0]["field"])),
        (400, "amount_fen"),
        "above the amount at risk: {body}"
    );
    let f = env.ok(&i, http::Method::POST, &format!("{fpath}:review"), &op, Some(json!({"region_code": HUOQIU, "conclusion": "CONCLUSION_UPHOLD", "amount_fen": 600000, "note": "no complication in the record"}))).await;
    assert_eq!(f["finding"]["state"], "REVIEW_STATE_REVIEWED");
    let f = env
        .ok(
            &i,
            http::Method::POST,
            &format!("{fpath}:requestThirdPartyReview"),
            &h1,
            Some(json!({"institution_code": H1, "note": "we appeal"})),
        )
        .await;
    assert_eq!(f["finding"]["state"], "REVIEW_STATE_THIRD_PARTY_PENDING");
    let f = env.ok(&i, http::Method::POST, &format!("{fpath}:recordThirdPartyReview"), &auditor, Some(json!({"region_code": HUOQIU, "conclusion": "CONCLUSION_UPHOLD", "amount_fen": 400000, "third_party": "Anhui Medical Review Centre", "note": "opinion 2018-17"}))).await;
    assert_eq!(f["finding"]["state"], "REVIEW_STATE_THIRD_PARTY_REVIEWED");
    let (status, body) = env.call(&i, http::Method::POST, &format!("{fpath}:decide"), &op, Some(json!({"region_code": HUOQIU, "conclusion": "CONCLUSION_UPHOLD", "amount_fen": 400000}))).await;
    assert_eq!(
        (status, s(&body["code"])),
        (400, "REVIEW_SAME_PERSON"),
        "four eyes: {body}"
    );
    let (status, body) = env.call(&i, http::Method::POST, &format!("{fpath}:decide"), &auditor, Some(json!({"region_code": HUOQIU, "conclusion": "CONCLUSION_UPHOLD", "amount_fen": 500000}))).await;
    assert_eq!(
        (status, s(&body["code"])),
        (400, "REVIEW_BOUND_BY_THIRD_PARTY"),
        "{body}"
    );
    let d = env.ok(&i, http::Method::POST, &format!("{fpath}:decide"), &auditor, Some(json!({"region_code": HUOQIU, "conclusion": "CONCLUSION_UPHOLD", "amount_fen": 400000, "note": "recover"}))).await;
    assert_eq!(d["finding"]["state"], "REVIEW_STATE_CONFIRMED");
    assert_eq!(d["finding"]["amount_to_recover_fen"], 400000);
    assert_eq!(d["credit_score"], 95, "a medium violation costs 5 points");
    let (status, body) = env
        .call(
            &i,
            http::Method::POST,
            &format!("{fpath}:decide"),
            &auditor,
            Some(json!({"region_code": HUOQIU, "conclusion": "CONCLUSION_DISMISS"})),
        )
        .await;
    assert_eq!(
        (status, s(&body["code"])),
        (400, "REVIEW_ILLEGAL_TRANSITION"),
        "a decision is final: {body}"
    );

    // Every step with who, in which role, when.
    let g = env
        .ok(
            &i,
            http::Method::GET,
            &format!("{fpath}?institution_code={H1}"),
            &h1,
            None,
        )
        .await;
    let steps: Vec<(String, String, String)> = g["finding"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            (
                s(&st["action"]).to_string(),
                s(&st["audit"]["actor"]).to_string(),
                s(&st["audit"]["role"]).to_string(),
            )
        })
        .collect();
    let expected = [
        ("automatic_review", "system", "system"),
        ("submit_feedback", "his-h1", "hospital"),
        ("review", "reviewer-zhang", "operator"),
        ("request_a_third-party_review", "his-h1", "hospital"),
        ("record_a_third-party_review", "auditor-zhao", "auditor"),
        ("decide", "auditor-zhao", "auditor"),
    ];
    assert_eq!(
        steps,
        expected.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    assert!(
        g["finding"]["steps"][1]["note"]
            .as_str()
            .unwrap()
            .contains("emr-77")
    );

    // Credit of the institution and the physician; settlement may still pay (95 ≥ 80).
    let c = env.ok(&i, http::Method::GET, &format!("/v1/supervision/credit/{H1}?region_code={HUOQIU}&subject_kind=CREDIT_SUBJECT_KIND_INSTITUTION"), &op, None).await;
    assert_eq!(
        (
            c["credit"]["score"].as_u64(),
            s(&c["credit"]["deductions"][0]["violation_id"])
        ),
        (Some(95), id.as_str())
    );
    let c = env.ok(&i, http::Method::GET, &format!("/v1/supervision/credit/D341522000101?region_code={HUOQIU}&subject_kind=CREDIT_SUBJECT_KIND_PHYSICIAN"), &op, None).await;
    assert_eq!(c["credit"]["score"], 95);
    let hold = env
        .ok(
            &i,
            http::Method::GET,
            &format!("/v1/supervision/settlement-holds/{H1}?year=2018&month=4"),
            &h1,
            None,
        )
        .await;
    assert_eq!(
        (s(&hold["decision"]), hold["credit_score"].as_u64()),
        ("SETTLEMENT_DECISION_SETTLE", Some(95))
    );

    // The large receipt's task: a check record does not satisfy a phone-or-on-site task.
    let tasks = env
        .ok(
            &i,
            http::Method::GET,
            "/v1/supervision/verification-tasks?region_code=341522",
            &op,
            None,
        )
        .await;
    let task = &tasks["tasks"][0];
    assert_eq!(
        (s(&task["claim_id"]), s(&task["kind"])),
        ("c3", "VERIFICATION_KIND_PHONE_OR_ON_SITE")
    );
    let tpath = format!(
        "/v1/supervision/verification-tasks/{}:complete",
        enc(s(&task["task_id"]))
    );
    let (status, body) = env.call(&i, http::Method::POST, &tpath, &op, Some(json!({"region_code": HUOQIU, "method": "VERIFICATION_METHOD_CHECK_RECORD", "outcome": "VERIFICATION_OUTCOME_GENUINE"}))).await;
    assert_eq!(
        (status, s(&body["errors"][0]["field"])),
        (400, "method"),
        "{body}"
    );
    let done = env.ok(&i, http::Method::POST, &tpath, &op, Some(json!({"region_code": HUOQIU, "method": "VERIFICATION_METHOD_PHONE", "outcome": "VERIFICATION_OUTCOME_GENUINE", "note": "called the daughter"}))).await;
    assert_eq!(done["task"]["outcome"], "VERIFICATION_OUTCOME_GENUINE");
    let (status, _) = env.call(&i, http::Method::POST, &tpath, &op, Some(json!({"region_code": HUOQIU, "method": "VERIFICATION_METHOD_PHONE", "outcome": "VERIFICATION_OUTCOME_GENUINE"}))).await;
    assert_eq!(status, 400, "completed once");
    let open = env
        .ok(
            &i,
            http::Method::GET,
            "/v1/supervision/verification-tasks?region_code=341522",
            &op,
            None,
        )
        .await;
    assert!(open["tasks"].as_array().is_none_or(Vec::is_empty));

    // A case from the confirmed finding, recovered funds idempotent by request id.
    let case = env
        .ok(
            &i,
            http::Method::POST,
            "/v1/supervision/cases",
            &op,
            Some(json!({"region_code": HUOQIU, "finding_ids": [id]})),
        )
        .await;
    let case_id = s(&case["case"]["case_id"]).to_string();
    assert_eq!(case["case"]["amount_suspected_fen"], 600000);
    let (status, body) = env
        .call(
            &i,
            http::Method::POST,
            "/v1/supervision/cases",
            &op,
            Some(json!({"region_code": HUOQIU, "finding_ids": [id]})),
        )
        .await;
    assert_eq!(
        (status, s(&body["code"])),
        (400, "CASE_FINDING_ALREADY_IN_CASE")
    );
    let rec = json!({"region_code": HUOQIU, "amount_fen": 400000, "note": "bank receipt 991", "request_id": "rec-1"});
    let first = env
        .ok(
            &i,
            http::Method::POST,
            &format!("/v1/supervision/cases/{case_id}/recoveries"),
            &op,
            Some(rec.clone()),
        )
        .await;
    let retry = env
        .ok(
            &i,
            http::Method::POST,
            &format!("/v1/supervision/cases/{case_id}/recoveries"),
            &op,
            Some(rec),
        )
        .await;
    assert_eq!(first, retry);
    assert_eq!(retry["case"]["recovered_fen"], 400000, "recorded once");
    i.kill().await;
}

#[tokio::test]
async fn kill_and_restart_loses_no_event_and_counts_none_twice() {
    let env = Env::new().await;
    let a = env.start().await;
    let first = stay(
        "k1",
        "p-chen",
        H1,
        day(5, 1),
        day(5, 6),
        "K35.800",
        300_000,
        300_000,
    );
    let large = stay(
        "k0",
        "p-sun",
        H2,
        day(5, 1),
        day(5, 8),
        "S72.000",
        1_500_000,
        1_600_000,
    );
    env.publish(&first).await;
    env.publish(&large).await;
    // The large receipt's finding shows both events were processed (in order).
    assert_eq!(env.findings(&a, 1).await.len(), 1);
    a.kill().await;

    // While down: the readmission arrives, and the producer re-publishes what was sent before.
    let readmission = stay(
        "k2",
        "p-chen",
        H1,
        day(5, 12),
        day(5, 16),
        "K35.200",
        200_000,
        200_000,
    );
    env.publish(&readmission).await;
    env.publish(&first).await;
    env.publish(&large).await;
    let b = env.start().await;
    let found = env.findings(&b, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let found_later = env.findings(&b, 2).await;
    assert_eq!(found.len(), 2);
    assert_eq!(
        found_later.len(),
        2,
        "the re-published events raise nothing"
    );
    let split = found
        .iter()
        .find(|f| f["rule_code"] == "RULE_CODE_SPLIT_HOSPITALISATION")
        .expect("the window spans the restart");
    assert_eq!(split["evidence"]["claim_ids"], json!(["k1", "k2"]));
    // Spending counted once each: 300,000 + 1,500,000 + 200,000 in May.
    let op = env.token(Role::Operator, "", HUOQIU, "operator-1");
    let mut summary = Value::Null;
    for _ in 0..100 {
        summary = env
            .ok(
                &b,
                http::Method::GET,
                "/v1/supervision/fund-summaries/341522/2018/5",
                &op,
                None,
            )
            .await;
        if summary["stream_lag_events"] == 0 && summary["spending_fen"] == 2000000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(summary["spending_fen"], 2000000, "{summary}");
    assert_eq!(summary["stream_lag_events"], 0, "{summary}");
    b.kill().await;
}

#[tokio::test]
async fn rules_are_listed_tuned_as_new_versions_and_guarded_against_stale_changes() {
    let env = Env::new().await;
    let i = env.start().await;
    let op = env.token(Role::Operator, "", HUOQIU, "operator-1");
    let list = env
        .ok(
            &i,
            http::Method::GET,
            "/v1/supervision/rules?region_code=341522",
            &op,
            None,
        )
        .await;
    assert_eq!(list["rule_set"]["version"], 1);
    // The twelve rules judged on settled claims and the three judged during a stay.
    assert_eq!(list["rule_set"]["rules"].as_array().map(Vec::len), Some(15));
    let split = &list["rule_set"]["rules"][0];
    assert_eq!(split["params"]["split_hospitalisation"]["window_days"], 15);
    let change = json!({"region_code": HUOQIU, "expected_version": 1, "params": {"split_hospitalisation": {"window_days": 30, "planned_diagnosis_prefixes": ["Z51.1"]}}, "reason": "provincial notice 2018-3"});
    let v2 = env
        .ok(
            &i,
            http::Method::PATCH,
            "/v1/supervision/rules/RULE_CODE_SPLIT_HOSPITALISATION",
            &op,
            Some(change.clone()),
        )
        .await;
    assert_eq!(
        (
            v2["rule_set"]["version"].as_u64(),
            s(&v2["rule_set"]["updated"]["actor"])
        ),
        (Some(2), "operator-1")
    );
    let (status, body) = env
        .call(
            &i,
            http::Method::PATCH,
            "/v1/supervision/rules/RULE_CODE_SPLIT_HOSPITALISATION",
            &op,
            Some(change),
        )
        .await;
    assert_eq!(
        (status, s(&body["code"])),
        (409, "RULE_VERSION_CONFLICT"),
        "{body}"
    );
    let bad = json!({"region_code": HUOQIU, "expected_version": 2, "params": {"mark_up": {"tolerance_bp": 100}}, "reason": "x"});
    let (status, body) = env
        .call(
            &i,
            http::Method::PATCH,
            "/v1/supervision/rules/RULE_CODE_SPLIT_HOSPITALISATION",
            &op,
            Some(bad),
        )
        .await;
    assert_eq!(
        (status, s(&body["errors"][0]["field"])),
        (400, "params"),
        "{body}"
    );
    let zero = json!({"region_code": HUOQIU, "expected_version": 2, "params": {"split_hospitalisation": {"window_days": 0}}, "reason": "x"});
    let (status, body) = env
        .call(
            &i,
            http::Method::PATCH,
            "/v1/supervision/rules/RULE_CODE_SPLIT_HOSPITALISATION",
            &op,
            Some(zero),
        )
        .await;
    assert_eq!(
        (status, s(&body["code"])),
        (400, "RULE_PARAMS_INVALID"),
        "{body}"
    );
    let v1 = env
        .ok(
            &i,
            http::Method::GET,
            "/v1/supervision/rules?region_code=341522&version=1",
            &op,
            None,
        )
        .await;
    assert_eq!(
        v1["rule_set"]["rules"][0]["params"]["split_hospitalisation"]["window_days"], 15,
        "old versions stay readable"
    );
    let now = env
        .ok(
            &i,
            http::Method::GET,
            "/v1/supervision/rules?region_code=341522",
            &op,
            None,
        )
        .await;
    assert_eq!(now["rule_set"]["version"], 2);
    let h1 = env.token(Role::Hospital, H1, "", "his-h1");
    let (status, _) = env
        .call(
            &i,
            http::Method::GET,
            "/v1/supervision/rules?region_code=341522",
            &h1,
            None,
        )
        .await;
    assert_eq!(status, 403, "hospitals do not read the rule library");
    i.kill().await;
}

/// Two supervision processes on one database and bus, as the manifests run them: they share
/// the partitions by lease, and window rules see every event of a region because all of a
/// region's events reach the replica that owns its partition, in the producer's order.
#[tokio::test]
async fn two_replicas_share_the_partitions_and_miss_no_split_hospitalisation() {
    use yibao_runtime::outbox::{self, OutboxEvent};
    let mut env = Env::new().await;
    env.cfg.lease_ttl = Duration::from_millis(600);
    env.cfg.consumer = "replica-a".into();
    let a = env.start().await;
    env.cfg.consumer = "replica-b".into();
    let b = env.start().await;
    // Long enough for replica-a to give half its partitions to replica-b.
    tokio::time::sleep(Duration::from_millis(2_000)).await;

    // A producer's outbox (as settlement's), keyed by the institution's region.
    let producer = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let manager = sea_orm_migration::SchemaManager::new(&producer);
    use sea_orm_migration::MigrationTrait as _;
    outbox::MIGRATION.up(&manager).await.unwrap();
    outbox::SEQUENCE_MIGRATION.up(&manager).await.unwrap();
    outbox::TRACE_MIGRATION.up(&manager).await.unwrap();
    let producer = yibao_runtime::db::StoreBase::new(producer);
    let stream: &'static str = Box::leak(env.cfg.claims_stream.clone().into_boxed_str());
    let regions = [
        "341502", "341503", "341504", "341522", "341523", "341524", "341525", "341526",
    ];
    let mut events = Vec::new();
    for region in regions {
        let inst = format!("H{region}00001");
        for p in 0..4 {
            let person = format!("p-{region}-{p}");
            for (n, (adm, dis, dx)) in [
                (day(5, 1), day(5, 6), "K35.800"),
                (day(5, 12), day(5, 16), "K35.200"),
            ]
            .into_iter()
            .enumerate()
            {
                let mut e = stay(
                    &format!("{region}-{p}-{n}"),
                    &person,
                    &inst,
                    adm,
                    dis,
                    dx,
                    200_000,
                    200_000,
                );
                e.home_region = RegionCode::parse(region).unwrap();
                let payload = convert::claim_to_proto(&e).encode_to_vec();
                events.push(
                    OutboxEvent::new(stream, e.event_id.clone(), payload).for_institution(&inst),
                );
            }
        }
    }
    outbox::enqueue(producer.db(), &events).await.unwrap();
    while outbox::publish_pending(&producer, env.bus.as_ref(), 1_000)
        .await
        .unwrap()
        > 0
    {}

    let province = env.token(Role::Operator, "", "340000", "operator-province");
    for region in regions {
        let mut splits = 0;
        for _ in 0..300 {
            let list = env
                .ok(
                    &a,
                    http::Method::GET,
                    &format!("/v1/supervision/findings?region_code={region}"),
                    &province,
                    None,
                )
                .await;
            splits = list["findings"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter(|f| f["rule_code"] == "RULE_CODE_SPLIT_HOSPITALISATION")
                        .count()
                })
                .unwrap_or(0);
            if splits >= 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(splits, 4, "region {region}: every pair found once");
    }
    // Both replicas held partitions.
    let db = yibao_runtime::db::connect(&env.database).await.unwrap();
    let owners = yibao_runtime::sql::all(
        &db,
        "SELECT DISTINCT owner FROM event_lease WHERE grp = ? AND expires_ms > ?",
        vec![
            yibao_runtime::sql::t(env.cfg.group.clone()),
            yibao_runtime::sql::i(chrono::Utc::now().timestamp_millis()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(owners.len(), 2, "both replicas own partitions");
    a.kill().await;
    b.kill().await;
}
