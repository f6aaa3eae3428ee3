//! Record-level tenancy of claims, counters and rounds (issue 14, item 6): who reads a claim,
//! a person-year's accumulators or a round's bids, and that auditors never write and insurers
//! never resolve disputes. Each refusal is made twice, through the gateway's REST and straight
//! at the services' gRPC port, and the services' databases hold exactly what they held before.
//! These cases were closed by the contracts' roles and the services' checks already; the tests
//! keep them closed.

#[path = "support/refusals.rs"]
mod refusals;

use refusals::{Refusal, authed, grpc, refused_at_both_ports, settled, wrote_nothing};
use serde_json::{Value, json};
use yibao_integration_tests::{
    Suite, enrolled_person, id_number, physician_of, register_institution, s, this_year,
};
use yibao_runtime::Role;

const HUOQIU: &str = "341522";
const HEFEI: &str = "340100";
const ANHUI: &str = "340000";
const H1: &str = "H34152200001";
const H2: &str = "H34152200002";
const SETTLEMENT: &str = "yibao.settlement.v1.SettlementService";

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
    // contract lists none of them. A hospital reads the counters of its own patients only.
    for token in [
        suite.token(Role::Insurer, "INS0001", ""),
        suite.token(Role::CareInstitution, H2, ""),
        suite.token(Role::Manufacturer, "M0001", ""),
    ] {
        let own = format!("institution_code={H1}");
        refusals.push(list(&token, &own, json!({"institution_code": H1})));
        refusals.push(counters(&token));
    }
    refusals.push(counters(&suite.hospital(H2)).because("OTHER_ORGANISATION", "id_number"));
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
    let counted = suite
        .ok("/v1/accumulators:lookup", &auditor, lookup.clone())
        .await;
    assert!(counted["accumulators"].is_object(), "{counted}");
    let own = suite
        .ok("/v1/accumulators:lookup", &suite.hospital(H1), lookup)
        .await;
    assert_eq!(
        own, counted,
        "the hospital of the claim reads its patient's counters"
    );
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
