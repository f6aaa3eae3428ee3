//! Re-sent writes through the gateway (issue 14 item 10), on whichever backend the run uses:
//! a re-sent settlement answers the claim's state now — the settlement as it stands, marked
//! replayed in body and header alike over REST and gRPC, or, once the claim is fully
//! reversed, 409 `SETTLEMENT_CLAIM_REVERSED` naming the encounter, with an `Idempotency-Key`
//! (the gateway's record) or without one (settlement's encounter key) — and concurrent
//! requests under one key get one answer and 409 `IDEMPOTENCY_IN_PROGRESS`.

use http::Method;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Value, json};
use yibao_integration_tests::{
    Suite, enrolled_person, id_number, physician_of, register_institution, s, this_year,
};
use yibao_proto::settlement::v1 as st;

const HUOQIU: &str = "341522";
const ANHUI: &str = "340000";
const HOSPITAL: &str = "H34150200001";
/// 住院诊查费, 甲类 in the catalogue [`ready`] imports.
const A_SERVICES: &str = "001102000050000";

/// The registry entry of the hospital, a one-line catalogue, this year's Huoqiu policy and an
/// enrolled, paid Huoqiu resident; returns the resident's ID number.
async fn ready(suite: &Suite, first17: &str) -> String {
    register_institution(suite, HOSPITAL, "3", "city").await;
    let op = suite.operator(ANHUI);
    let csv = format!(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,valid_from\n\
         {A_SERVICES},service_item,住院诊查费,,日,,甲,2000-01-01\n"
    );
    let out = suite
        .ok(
            "/v1/procurement/catalogue:import",
            &op,
            json!({"region_code": ANHUI, "csv_text": csv}),
        )
        .await;
    assert_eq!(out["stored"], true, "{out}");
    let seeded = suite
        .get_ok(
            &format!("/v1/policies/341522-2018-resident?region_code={HUOQIU}"),
            &op,
        )
        .await;
    let mut doc: Value = serde_json::from_str(s(&seeded["document_json"])).unwrap_or(Value::Null);
    let y = this_year();
    doc["id"] = json!(format!("{HUOQIU}-{y}-replays"));
    doc["year"] = json!(y);
    doc["effective_from"] = json!(format!("{y}-01-01"));
    suite
        .ok(
            "/v1/policies",
            &op,
            json!({"region_code": HUOQIU, "document_json": doc.to_string()}),
        )
        .await;
    let id = id_number(first17);
    enrolled_person(suite, &op, &id, HUOQIU, true).await;
    id
}

/// An inpatient claim of one 20,000-yuan 甲类 item.
fn claim(encounter: &str, id: &str) -> Value {
    let y = this_year();
    json!({"claim": {
        "institution_code": HOSPITAL, "encounter_no": encounter, "id_number": id, "insured_region_code": HUOQIU,
        "kind": "ENCOUNTER_KIND_INPATIENT", "attending_physician_code": physician_of(HOSPITAL),
        "start_date": format!("{y}-06-10"), "end_date": format!("{y}-06-15"), "diagnoses": ["I10.x00x002"],
        "items": [{"national_code": A_SERVICES, "name": "诊查", "quantity": 1, "unit_price_fen": 2_000_000, "amount_fen": 2_000_000}]
    }})
}

/// POST /v1/claims:settle with optional `Idempotency-Key`: (status, body, header value).
async fn settle(suite: &Suite, body: &Value, key: Option<&str>) -> (u16, Value, Option<String>) {
    let h = suite.hospital(HOSPITAL);
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    let ((status, json), hdrs) = suite
        .call_with(
            Method::POST,
            "/v1/claims:settle",
            Some(&h),
            Some(body.clone()),
            &headers,
        )
        .await;
    let replayed = hdrs
        .get("idempotency-replayed")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, json, replayed)
}

/// `Settle` over the gateway's gRPC with optional `idempotency-key`: the reply and whether
/// the `idempotency-replayed` metadata says true, or the status.
async fn settle_grpc(
    suite: &Suite,
    body: &Value,
    key: Option<&str>,
) -> Result<(st::SettleResponse, bool), tonic::Status> {
    let pool =
        DescriptorPool::decode(yibao_proto::FILE_DESCRIPTOR_SET).unwrap_or_else(|e| panic!("{e}"));
    let desc = pool
        .get_message_by_name("yibao.settlement.v1.SettleRequest")
        .unwrap_or_else(|| panic!("no SettleRequest"));
    let msg = DynamicMessage::deserialize(desc, body).unwrap_or_else(|e| panic!("{e}"));
    let typed: st::SettleRequest =
        prost::Message::decode(prost::Message::encode_to_vec(&msg).as_slice())
            .unwrap_or_else(|e| panic!("{e}"));
    let channel = tonic::transport::Endpoint::from_shared(suite.base.clone())
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("gateway: {e}"));
    let mut req = tonic::Request::new(typed);
    let bearer = format!("Bearer {}", suite.hospital(HOSPITAL));
    req.metadata_mut().insert(
        "authorization",
        bearer.parse().unwrap_or_else(|e| panic!("{e}")),
    );
    if let Some(k) = key {
        req.metadata_mut().insert(
            "idempotency-key",
            k.parse().unwrap_or_else(|e| panic!("{e}")),
        );
    }
    let resp = st::settlement_service_client::SettlementServiceClient::new(channel)
        .settle(req)
        .await?;
    let marked = resp
        .metadata()
        .get("idempotency-replayed")
        .is_some_and(|v| v == "true");
    Ok((resp.into_inner(), marked))
}

fn fund(v: &Value) -> String {
    v["settlement"]["breakdown"]["fund_pay_sumamt_fen"].to_string()
}

#[tokio::test]
async fn a_replay_says_replayed_in_body_and_header_over_rest_and_grpc() {
    let suite = Suite::start().await;
    let id = ready(&suite, "34152219800101101").await;
    let body = claim("ZY-R-1", &id);
    let (s1, first, h1) = settle(&suite, &body, Some("settle-r-1")).await;
    assert_eq!(s1, 200, "{first}");
    assert_ne!(first["replayed"], true, "{first}");
    assert_eq!(h1, None);
    // REST, the gateway's record: the body says what the header says.
    let (s2, again, h2) = settle(&suite, &body, Some("settle-r-1")).await;
    assert_eq!(s2, 200, "{again}");
    assert_eq!(h2.as_deref(), Some("true"));
    assert_eq!(again["replayed"], true, "{again}");
    assert_eq!(again["claim_id"], first["claim_id"]);
    assert_eq!(fund(&again), fund(&first));
    // gRPC with the same key, and without a key (settlement's encounter key).
    let (reply, marked) = settle_grpc(&suite, &body, Some("settle-r-1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(reply.replayed && marked, "{reply:?} marked={marked}");
    assert_eq!(reply.claim_id, s(&first["claim_id"]));
    let (reply, marked) = settle_grpc(&suite, &body, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(reply.replayed && !marked, "{reply:?}");
    // REST without a key: settlement's encounter key marks the body; no gateway record, so
    // no header.
    let (s3, plain, h3) = settle(&suite, &body, None).await;
    assert_eq!(
        (s3, &plain["replayed"], h3),
        (200, &json!(true), None),
        "{plain}"
    );
    suite.stop().await;
}

#[tokio::test]
async fn a_re_sent_reversed_encounter_is_refused_as_reversed_not_answered_as_paid() {
    let suite = Suite::start().await;
    let id = ready(&suite, "34152219800101102").await;
    let h = suite.hospital(HOSPITAL);
    let body = claim("ZY-R-2", &id);
    let (s1, first, _) = settle(&suite, &body, Some("settle-rev-1")).await;
    assert_eq!(s1, 200, "{first}");
    assert_ne!(fund(&first), "\"0\"", "the claim pays something: {first}");
    let claim_id = s(&first["claim_id"]).to_string();
    let full = suite
        .ok(
            &format!("/v1/claims/{claim_id}:reverse"),
            &h,
            json!({"institution_code": HOSPITAL, "reversal_no": "CX-R-2", "reason": "patient left"}),
        )
        .await;
    assert_eq!(full["status"], "CLAIM_STATUS_REVERSED", "{full}");
    // The same key (the gateway forwards: the service answers from its encounter key), no key
    // (the encounter key itself, as when Redis is down) and a new key: each is refused.
    for key in [Some("settle-rev-1"), None, Some("settle-rev-2")] {
        let (status, problem, replayed) = settle(&suite, &body, key).await;
        assert_eq!(status, 409, "{key:?}: {problem}");
        assert_eq!(problem["code"], "SETTLEMENT_CLAIM_REVERSED", "{problem}");
        let detail = s(&problem["detail"]);
        assert!(
            detail.contains("ZY-R-2") && detail.contains(&claim_id) && detail.contains("CX-R-2"),
            "{detail}"
        );
        assert_eq!(replayed, None, "a refusal is not marked as a replay");
    }
    let refused = settle_grpc(&suite, &body, Some("settle-rev-1"))
        .await
        .map(|(r, _)| r)
        .expect_err("a reversed encounter is refused over gRPC");
    assert_eq!(refused.code(), tonic::Code::AlreadyExists, "{refused:?}");
    assert!(refused.message().contains("ZY-R-2"), "{refused:?}");
    // The claim stays reversed; the care is settled again under a new encounter number.
    let got = suite.get_ok(&format!("/v1/claims/{claim_id}"), &h).await;
    assert_eq!(got["claim"]["status"], "CLAIM_STATUS_REVERSED", "{got}");
    let (s2, anew, _) = settle(&suite, &claim("ZY-R-2-A", &id), Some("settle-rev-3")).await;
    assert_eq!(s2, 200, "{anew}");
    assert_ne!(anew["claim_id"], first["claim_id"]);
    assert_eq!(fund(&anew), fund(&first), "the counters were restored");
    suite.stop().await;
}

#[tokio::test]
async fn concurrent_requests_with_one_key_get_one_answer_and_409_in_progress() {
    let suite = Suite::start().await;
    let id = ready(&suite, "34152219800101103").await;
    let body = claim("ZY-R-3", &id);
    let answers = futures::future::join_all(
        (0..4).map(|_| settle(&suite, &body, Some("settle-concurrent-1"))),
    )
    .await;
    let fresh: Vec<_> = answers
        .iter()
        .filter(|(st, _, h)| *st == 200 && h.is_none())
        .collect();
    let in_progress: Vec<_> = answers
        .iter()
        .filter(|(st, b, _)| *st == 409 && b["code"] == "IDEMPOTENCY_IN_PROGRESS")
        .collect();
    assert_eq!(fresh.len(), 1, "{answers:?}");
    assert!(!in_progress.is_empty(), "{answers:?}");
    // Every other answer is the 409, or (had the first finished already) a replay of it.
    for (status, b, h) in &answers {
        assert!(
            (*status == 200 && (h.is_none() || b["claim_id"] == fresh[0].1["claim_id"]))
                || (*status == 409 && b["code"] == "IDEMPOTENCY_IN_PROGRESS"),
            "{status} {b} {h:?}"
        );
    }
    // Once the first is answered, the retry gets it.
    let (status, again, h) = settle(&suite, &body, Some("settle-concurrent-1")).await;
    assert_eq!((status, h.as_deref()), (200, Some("true")), "{again}");
    assert_eq!(again["claim_id"], fresh[0].1["claim_id"]);
    suite.stop().await;
}

/// Every key and value of the suite's Redis database.
async fn redis_dump(url: &str) -> Vec<(String, Vec<u8>)> {
    let client = redis::Client::open(url).unwrap_or_else(|e| panic!("{e}"));
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut con)
        .await
        .unwrap_or_default();
    let mut out = Vec::new();
    for k in keys {
        // Streams and hashes are not idempotency records; only plain values are read.
        let v: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&k)
            .query_async(&mut con)
            .await
            .unwrap_or(None);
        out.push((k, v.unwrap_or_default()));
    }
    out
}

#[tokio::test]
async fn an_idempotency_record_holds_no_clear_personal_data_and_still_replays() {
    let suite = Suite::start().await;
    let op = suite.operator("341522");
    let id = yibao_integration_tests::id_number("34152219800101102");
    let body = json!({"id_number": id, "name": "钱多多", "region_code": "341522", "contact": "13800000000"});
    let register = || {
        suite.call_with(
            http::Method::POST,
            "/v1/persons",
            Some(&op),
            Some(body.clone()),
            &[("Idempotency-Key", "register-qdd-13800000000")],
        )
    };
    let ((s1, first), _) = register().await;
    assert_eq!(s1, 200, "{first}");
    assert_eq!(
        s(&first["person"]["name"]),
        "钱多多",
        "the answer carries the name"
    );
    let ((s2, again), headers) = register().await;
    assert_eq!(
        (s2, &again),
        (200, &first),
        "the replay is the first answer"
    );
    assert_eq!(
        headers
            .get("idempotency-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    // What the store holds: on Redis runs, read from outside.
    if let Some(db) = &suite.redis {
        let dump = redis_dump(&db.url).await;
        let records: Vec<&(String, Vec<u8>)> =
            dump.iter().filter(|(k, _)| k.contains(":idem:")).collect();
        assert!(
            !records.is_empty(),
            "the record is in Redis: {:?}",
            dump.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
        for (k, v) in &records {
            assert!(
                serde_json::from_slice::<Value>(v).is_err(),
                "the record {k} is sealed, not readable JSON (whose base64 reply would decode)"
            );
        }
        for (k, v) in &dump {
            for clear in [id.as_str(), "钱多多", "13800000000", "register-qdd"] {
                assert!(!k.contains(clear), "key {k} holds {clear}");
                assert!(
                    !v.windows(clear.len()).any(|w| w == clear.as_bytes()),
                    "the value of {k} holds {clear} in clear"
                );
            }
        }
    }
    suite.stop().await;
}
