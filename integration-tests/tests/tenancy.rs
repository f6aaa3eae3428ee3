//! Record-level tenancy (issue 14, item 6): every RPC that reads or changes a person, an
//! enrolment, a claim, a household or a round's bids checks the stored record's region or
//! organisation against the caller, not only the request's own fields. Each refusal is made
//! twice, through the gateway's REST and straight at the services' gRPC port, and the services'
//! databases hold exactly what they held before (every row of every table, not only counts).
//! Each test also shows the owner of the record still reaching it, so nothing is refused
//! wholesale.

use http::Method;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tonic_types::StatusExt as _;
use yibao_integration_tests::{
    Suite, enrolled_person, id_number, physician_of, register_institution, s, this_year,
};
use yibao_runtime::Role;

const HUOQIU: &str = "341522";
const HEFEI: &str = "340100";
const ANHUI: &str = "340000";
const H1: &str = "H34152200001";
const H2: &str = "H34152200002";

/// A refusal to prove at both ports.
struct Refusal {
    /// The caller's token.
    token: String,
    /// The REST call.
    method: Method,
    rest: String,
    body: Option<Value>,
    /// The same call as a gRPC method (`package.Service/Method`) and its request (proto JSON).
    rpc: String,
    request: Value,
    /// The expected `ErrorInfo` reason / problem code.
    reason: &'static str,
    /// Text the message must contain (the field it names), empty for a role refusal.
    names: &'static str,
}

impl Refusal {
    fn post(token: &str, rest: &str, rpc: &str, body: Value) -> Refusal {
        Refusal {
            token: token.to_string(),
            method: Method::POST,
            rest: rest.to_string(),
            body: Some(body.clone()),
            rpc: rpc.to_string(),
            request: body,
            reason: "ROLE_NOT_ALLOWED",
            names: "",
        }
    }

    fn get(token: &str, rest: &str, rpc: &str, request: Value) -> Refusal {
        Refusal {
            method: Method::GET,
            body: None,
            ..Refusal::post(token, rest, rpc, request)
        }
    }

    /// The gRPC request differs from the REST body (path parameters).
    fn with_request(mut self, request: Value) -> Refusal {
        self.request = request;
        self
    }

    fn because(mut self, reason: &'static str, names: &'static str) -> Refusal {
        self.reason = reason;
        self.names = names;
        self
    }
}

/// The services' gRPC port.
async fn grpc(suite: &Suite) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", suite.running.grpc_addr))
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("services: {e}"))
}

/// A request carrying `token`.
fn authed<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    let bearer = format!("Bearer {token}")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    req.metadata_mut().insert("authorization", bearer);
    req
}

/// Sends a dynamic request and drops the answer: only refusals are looked at.
#[derive(Debug, Clone, Copy, Default)]
struct Refusals;

impl tonic::codec::Codec for Refusals {
    type Encode = DynamicMessage;
    type Decode = ();
    type Encoder = Refusals;
    type Decoder = Refusals;
    fn encoder(&mut self) -> Refusals {
        Refusals
    }
    fn decoder(&mut self) -> Refusals {
        Refusals
    }
}

impl tonic::codec::Encoder for Refusals {
    type Item = DynamicMessage;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: DynamicMessage,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        prost::Message::encode(&item, dst).map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl tonic::codec::Decoder for Refusals {
    type Item = ();
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<()>, tonic::Status> {
        use bytes::Buf as _;
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

/// Calls `rpc` at the services' port with `request` (proto JSON); the refusal, or `None`.
async fn grpc_call(
    channel: &tonic::transport::Channel,
    rpc: &str,
    token: &str,
    request: &Value,
) -> Option<tonic::Status> {
    let pool =
        DescriptorPool::decode(yibao_proto::FILE_DESCRIPTOR_SET).unwrap_or_else(|e| panic!("{e}"));
    let (service, method) = rpc.split_once('/').unwrap_or_else(|| panic!("{rpc}"));
    let input = pool
        .get_service_by_name(service)
        .and_then(|s| s.methods().find(|m| m.name() == method))
        .unwrap_or_else(|| panic!("{rpc} is not in the contracts"))
        .input();
    let msg = DynamicMessage::deserialize(input, request.clone())
        .unwrap_or_else(|e| panic!("{rpc}: {request}: {e}"));
    let mut client = tonic::client::Grpc::new(channel.clone());
    client
        .ready()
        .await
        .unwrap_or_else(|e| panic!("{rpc}: {e}"));
    let path = format!("/{rpc}").parse().unwrap_or_else(|e| panic!("{e}"));
    client.unary(authed(msg, token), path, Refusals).await.err()
}

/// Makes every refusal through the gateway and at the service port, checking the answer.
async fn refused_at_both_ports(suite: &Suite, refusals: &[Refusal]) {
    let channel = grpc(suite).await;
    for r in refusals {
        let (status, problem) = suite
            .call(r.method.clone(), &r.rest, Some(&r.token), r.body.clone())
            .await;
        assert_eq!(
            (status, s(&problem["code"])),
            (403, r.reason),
            "REST {} {}: {problem}",
            r.method,
            r.rest
        );
        assert!(
            s(&problem["detail"]).contains(r.names),
            "REST {}: the refusal names `{}`: {problem}",
            r.rest,
            r.names
        );
        let refused = grpc_call(&channel, &r.rpc, &r.token, &r.request)
            .await
            .unwrap_or_else(|| panic!("gRPC {} was answered", r.rpc));
        let reason = refused
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default();
        assert_eq!(
            (refused.code(), reason.as_str()),
            (tonic::Code::PermissionDenied, r.reason),
            "gRPC {}: {refused:?}",
            r.rpc
        );
        assert!(
            refused.message().contains(r.names),
            "gRPC {}: the refusal names `{}`: {}",
            r.rpc,
            r.names,
            refused.message()
        );
    }
}

/// Every row of every table of every service database, as text per table. Tables the
/// consumers' background lease keeping writes are left out.
async fn snapshot(suite: &Suite) -> BTreeMap<String, String> {
    use yibao_runtime::sql::{all, one, text};
    let mut out = BTreeMap::new();
    for (service, url) in &suite.running.databases {
        let db = sea_orm::Database::connect(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("{service}: {e}"));
        let pg = url.starts_with("postgres");
        let list = if pg {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        };
        let names = all(&db, list, vec![])
            .await
            .unwrap_or_else(|e| panic!("{service}: {e}"));
        for t in names {
            let name = text(&t, "name").unwrap_or_default();
            if name == "event_lease" || name == "event_member" {
                continue;
            }
            let q = if pg {
                format!(
                    "SELECT COALESCE(string_agg(t::text, '|' ORDER BY t::text), '') AS v FROM \"{name}\" t"
                )
            } else {
                let cols = all(
                    &db,
                    &format!("SELECT name FROM pragma_table_info('{name}')"),
                    vec![],
                )
                .await
                .unwrap_or_else(|e| panic!("{service}.{name}: {e}"));
                let row: Vec<String> = cols
                    .iter()
                    .map(|c| format!("quote(\"{}\")", text(c, "name").unwrap_or_default()))
                    .collect();
                format!(
                    "SELECT COALESCE(group_concat(r, '|'), '') AS v FROM (SELECT {} AS r FROM \"{name}\" ORDER BY 1)",
                    row.join(" || ',' || ")
                )
            };
            let v = one(&db, &q, vec![])
                .await
                .unwrap_or_else(|e| panic!("{service}.{name}: {e}"))
                .and_then(|r| text(&r, "v").ok())
                .unwrap_or_default();
            out.insert(format!("{service}.{name}"), v);
        }
        let _ = db.close().await;
    }
    out
}

/// The snapshot once the background work of earlier calls (relays, consumers) has settled.
async fn settled(suite: &Suite) -> BTreeMap<String, String> {
    let mut last = snapshot(suite).await;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = snapshot(suite).await;
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the databases kept changing with no call made");
}

/// Asserts that the refusals changed no row anywhere.
async fn wrote_nothing(suite: &Suite, before: &BTreeMap<String, String>) {
    let after = settled(suite).await;
    let changed: Vec<&String> = after
        .iter()
        .filter(|(t, v)| before.get(*t) != Some(*v))
        .map(|(t, _)| t)
        .collect();
    assert!(changed.is_empty(), "refused calls changed {changed:?}");
}

const ENROLLMENT: &str = "yibao.enrollment.v1.EnrollmentService";
const SETTLEMENT: &str = "yibao.settlement.v1.SettlementService";

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
async fn eligibility_and_vouchers_answer_a_region_scoped_caller_only_for_its_region() {
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
    suite.stop().await;
}

/// This year's version of Huoqiu's seeded resident policy, uploaded by Anhui's operator;
/// returns its document.
async fn this_years_policy(suite: &Suite, op: &str) -> String {
    let y = this_year();
    let got = suite
        .get_ok(
            &format!("/v1/policies/341522-2018-resident?region_code={HUOQIU}"),
            op,
        )
        .await;
    let mut doc: Value = serde_json::from_str(s(&got["document_json"])).unwrap_or(Value::Null);
    doc["id"] = json!(format!("{HUOQIU}-{y}-resident"));
    doc["year"] = json!(y);
    doc["version"] = json!(1);
    doc["effective_from"] = json!(format!("{y}-01-01"));
    let doc = doc.to_string();
    suite
        .ok(
            "/v1/policies",
            op,
            json!({"region_code": HUOQIU, "document_json": doc}),
        )
        .await;
    doc
}

/// A one-item inpatient stay of the Huoqiu resident `id` at [`H1`].
fn stay(id: &str, encounter: &str) -> Value {
    let y = this_year();
    json!({"claim": {
        "institution_code": H1, "encounter_no": encounter, "id_number": id, "insured_region_code": HUOQIU,
        "kind": "ENCOUNTER_KIND_INPATIENT", "attending_physician_code": physician_of(H1),
        "start_date": format!("{y}-06-10"), "end_date": format!("{y}-06-12"), "diagnoses": ["I10.x00x002"],
        "items": [{"national_code": "C-OUT", "name": "床位", "item_class": "ITEM_CLASS_C", "quantity": 1, "unit_price_fen": 50000, "amount_fen": 50000}]
    }})
}

/// `request` with extra fields (a REST call's path parameters).
fn plus(mut request: Value, extra: Value) -> Value {
    if let (Some(r), Some(e)) = (request.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    request
}

/// The claim ids a caller lists.
async fn listed(suite: &Suite, token: &str, query: &str) -> Vec<String> {
    let out = suite.get_ok(&format!("/v1/claims?{query}"), token).await;
    out["claims"]
        .as_array()
        .map(|a| a.iter().map(|c| s(&c["claim_id"]).to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn claims_and_accumulators_are_seen_only_by_their_tenants_and_auditors_never_write() {
    let suite = Suite::start().await;
    let op = suite.operator(ANHUI);
    register_institution(&suite, H1, "2", "county").await;
    let policy = this_years_policy(&suite, &op).await;
    let id = id_number("34152219800101004");
    enrolled_person(&suite, &suite.operator(HUOQIU), &id, HUOQIU, true).await;
    let done = suite
        .ok("/v1/claims:settle", &suite.hospital(H1), stay(&id, "ZY-T1"))
        .await;
    let claim_id = s(&done["claim_id"]).to_string();
    let lookup = json!({"id_number": id, "region_code": HUOQIU, "year": this_year()});
    let rpc = |m: &str| format!("{SETTLEMENT}/{m}");
    let list = |token: &str, query: &str, request: Value| {
        Refusal::get(
            token,
            &format!("/v1/claims?{query}"),
            &rpc("ListClaims"),
            request,
        )
    };
    let counters = |token: &str| {
        Refusal::post(
            token,
            "/v1/accumulators:lookup",
            &rpc("GetAccumulators"),
            lookup.clone(),
        )
    };
    let mut refusals = Vec::new();
    // Insurers, care institutions and manufacturers have no business with hospitals' claims or
    // a person's counters (an insurer reads its own layers with ListInsurerClaims): the
    // contract lists none of them. Hospitals read claims, not counters.
    for token in [
        suite.token(Role::Insurer, "INS0001", ""),
        suite.token(Role::CareInstitution, H2, ""),
        suite.token(Role::Manufacturer, "M0001", ""),
    ] {
        let own = format!("institution_code={H1}");
        refusals.push(list(&token, &own, json!({"institution_code": H1})));
        refusals.push(counters(&token));
    }
    refusals.push(counters(&suite.hospital(H1)));
    // Another hospital's claims, another region's claims and counters.
    refusals.push(
        list(
            &suite.hospital(H2),
            &format!("institution_code={H1}"),
            json!({"institution_code": H1}),
        )
        .because("OTHER_ORGANISATION", "institution_code"),
    );
    let hefei = suite.operator(HEFEI);
    refusals.push(
        list(
            &hefei,
            &format!("region_code={HUOQIU}"),
            json!({"region_code": HUOQIU}),
        )
        .because("OUTSIDE_REGION", "region_code"),
    );
    refusals.push(counters(&hefei).because("OUTSIDE_REGION", "region_code"));
    // Auditors read; they never pre-settle, settle, reverse, re-settle or upload a policy.
    let auditor = suite.token(Role::Auditor, "", HUOQIU);
    let reverse = json!({"institution_code": H1, "insured_region_code": HUOQIU, "reversal_no": "R-T1", "reason": "审计"});
    let resettle = json!({"claim": stay(&id, "ZY-T1")["claim"], "reason": "审计"});
    let on_claim = json!({"claim_id": claim_id});
    refusals.extend([
        Refusal::post(
            &auditor,
            "/v1/claims:presettle",
            &rpc("PreSettle"),
            stay(&id, "ZY-T2"),
        ),
        Refusal::post(
            &auditor,
            "/v1/claims:settle",
            &rpc("Settle"),
            stay(&id, "ZY-T2"),
        ),
        Refusal::post(
            &auditor,
            &format!("/v1/claims/{claim_id}:reverse"),
            &rpc("Reverse"),
            reverse.clone(),
        )
        .with_request(plus(reverse, on_claim.clone())),
        Refusal::post(
            &auditor,
            &format!("/v1/claims/{claim_id}:resettle"),
            &rpc("Resettle"),
            resettle.clone(),
        )
        .with_request(plus(resettle, on_claim.clone())),
        Refusal::post(
            &auditor,
            "/v1/policies",
            &rpc("UploadPolicy"),
            json!({"region_code": HUOQIU, "document_json": policy}),
        ),
    ]);
    // An insurer never resolves a dispute, its own or another's (operators decide), and lists
    // only its own layers.
    let insurer = suite.token(Role::Insurer, "INS0001", "");
    let resolve = json!({"product_code": "HMB", "region_code": HUOQIU, "upheld": true, "resolution": "自己裁决"});
    refusals.push(
        Refusal::post(
            &insurer,
            &format!("/v1/insurers/INS0001/claims/{claim_id}:resolve"),
            &rpc("ResolveInsurerDispute"),
            resolve.clone(),
        )
        .with_request(plus(
            resolve,
            plus(on_claim, json!({"insurer_code": "INS0001"})),
        )),
    );
    refusals.push(
        Refusal::get(
            &insurer,
            "/v1/insurers/INS0002/claims",
            &rpc("ListInsurerClaims"),
            json!({"insurer_code": "INS0002"}),
        )
        .because("OTHER_ORGANISATION", "insurer_code"),
    );
    let before = settled(&suite).await;
    refused_at_both_ports(&suite, &refusals).await;
    wrote_nothing(&suite, &before).await;
    // Who sees the claim: its hospital, the region's operators and auditors; another hospital
    // and another region's operator list nothing.
    let own = format!("institution_code={H1}");
    for (token, query) in [
        (suite.hospital(H1), own.as_str()),
        (suite.operator(HUOQIU), ""),
        (op.clone(), own.as_str()),
        (auditor.clone(), ""),
    ] {
        assert_eq!(listed(&suite, &token, query).await, vec![claim_id.clone()]);
    }
    let h2 = format!("institution_code={H2}");
    assert!(listed(&suite, &suite.hospital(H2), &h2).await.is_empty());
    assert!(listed(&suite, &hefei, "").await.is_empty());
    let counted = suite.ok("/v1/accumulators:lookup", &auditor, lookup).await;
    assert!(counted["accumulators"].is_object(), "{counted}");
    let claim = suite
        .get_ok(&format!("/v1/claims/{claim_id}"), &auditor)
        .await;
    assert_eq!(
        s(&claim["claim"]["status"]),
        "CLAIM_STATUS_SETTLED",
        "{claim}"
    );
    suite.stop().await;
}

/// A drug of the round's group, in Anhui's catalogue.
fn drug(n: u32) -> String {
    format!("XC10AAA123A{n:012}")
}

#[tokio::test]
async fn a_manufacturer_sees_only_its_own_bids_beside_the_public_outcome() {
    let suite = Suite::start().await;
    let op = suite.operator(ANHUI);
    let mut csv = String::from(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,negotiated,valid_from,valid_to\n",
    );
    for n in 1..=3 {
        csv.push_str(&format!(
            "{},drug,阿托伐他汀钙片,片剂,20mg,药企{n},乙,false,2025-01-01,\n",
            drug(n)
        ));
    }
    suite
        .ok(
            "/v1/procurement/catalogue:import",
            &op,
            json!({"region_code": ANHUI, "csv_text": csv}),
        )
        .await;
    let rules = json!({"max_ratio_to_lowest_bp": 18000, "winners_by_qualified": [{"min_qualified": 1, "max_winners": 1}, {"min_qualified": 2, "max_winners": 2}], "agreed_share_by_winners": [{"min_winners": 1, "share_bp": 5000}, {"min_winners": 2, "share_bp": 6000}]});
    let round = suite.ok("/v1/procurement/rounds", &op, json!({"round": {"region_code": ANHUI, "name": "第十批", "rules": rules, "contract_start_date": "2026-01-01", "contract_end_date": "2026-12-31"}})).await;
    let round = s(&round["round"]["round_id"]).to_string();
    suite.ok(&format!("/v1/procurement/rounds/{round}/groups"), &op, json!({"group": {"group_id": "g1", "generic_name": "阿托伐他汀钙片", "specification": "20mg", "highest_valid_price_fen": 100, "category": "drug"}})).await;
    for (n, org, unit) in [(1, "M1", 50), (2, "M2", 60), (3, "M3", 95)] {
        let bid = json!({"group_id": "g1", "manufacturer_code": org, "item_code": drug(n), "unit_price_fen": unit, "declared_price_fen": unit * 28});
        let token = suite.token(Role::Manufacturer, org, "");
        suite
            .ok(&format!("/v1/procurement/rounds/{round}/bids"), &token, bid)
            .await;
    }
    suite
        .ok(
            &format!("/v1/procurement/rounds/{round}/demands"),
            &suite.hospital(H1),
            json!({"institution_code": H1, "lines": [{"group_id": "g1", "quantity": 1000}]}),
        )
        .await;
    suite
        .ok(
            &format!("/v1/procurement/rounds/{round}:select"),
            &op,
            json!({}),
        )
        .await;
    let path = format!("/v1/procurement/rounds/{round}/outcome");
    let bidders = |outcome: &Value| -> Vec<String> {
        outcome["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["bids"].as_array().cloned().unwrap_or_default())
            .map(|b| s(&b["manufacturer_code"]).to_string())
            .collect()
    };
    // Operators and the province's auditors see every bid.
    for token in [op.clone(), suite.token(Role::Auditor, "", ANHUI)] {
        let all = suite.get_ok(&path, &token).await["outcome"].clone();
        assert_eq!(bidders(&all), ["M1", "M2", "M3"], "{all}");
    }
    // M3 (not selected) sees its own bid and the public winners, through the gateway and at the
    // service port alike; no other bid, no hospital's allocation.
    let m3 = suite.token(Role::Manufacturer, "M3", "");
    let rest = suite.get_ok(&path, &m3).await["outcome"].clone();
    assert_eq!(bidders(&rest), ["M3"], "{rest}");
    let group = &rest["groups"][0];
    let winners: Vec<&str> = group["winners"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| s(&w["manufacturer_code"]))
        .collect();
    assert_eq!(winners, ["M1", "M2"], "{rest}");
    assert!(group["allocations"].as_array().is_none_or(Vec::is_empty));
    use yibao_proto::procurement::v1 as pr;
    let mut client =
        pr::procurement_service_client::ProcurementServiceClient::new(grpc(&suite).await);
    let direct = client
        .get_round_outcome(authed(
            pr::GetRoundOutcomeRequest {
                round_id: round.clone(),
                group_id: String::new(),
            },
            &m3,
        ))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner()
        .outcome
        .unwrap_or_default();
    let g = direct.groups.first().cloned().unwrap_or_default();
    let seen: Vec<&str> = g
        .bids
        .iter()
        .map(|b| b.manufacturer_code.as_str())
        .collect();
    assert_eq!(
        (seen, g.winners.len(), g.allocations.len()),
        (vec!["M3"], 2, 0)
    );
    // A manufacturer that did not bid sees no group.
    let none = suite
        .get_ok(&path, &suite.token(Role::Manufacturer, "M9", ""))
        .await["outcome"]
        .clone();
    assert!(
        none["groups"].as_array().is_none_or(Vec::is_empty),
        "{none}"
    );
    suite.stop().await;
}
