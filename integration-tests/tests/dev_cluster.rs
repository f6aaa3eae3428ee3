//! The production-shaped local run, end to end: every service as its own process on its own
//! PostgreSQL database and Redis, the gateway in front (`scripts/dev-cluster.sh up`). Ignored by
//! default because it needs that cluster running; `scripts/test.sh` starts it and runs this
//! with `--ignored`. Base URL and keys: `YIBAO_DEV_CLUSTER_URL` (default
//! `http://127.0.0.1:8088`) and `YIBAO_DEV_CLUSTER_DIR` (default `data/dev-cluster` under the
//! repository root), whose signing key the cluster trusts.

use serde_json::{Value, json};
use yibao_integration_tests::cluster::Cluster;
use yibao_integration_tests::{id_number, s, this_year};
use yibao_runtime::Role;

/// A fresh valid ID number of Huoqiu for this run (the cluster's databases may hold others).
fn fresh_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    let (day, seq) = (1 + (n % 28) as u32, (n / 28 % 1000) as u32);
    let year = 1940 + (n / 28_000 % 60) as u32;
    id_number(&format!(
        "341522{year}{:02}{day:02}{seq:03}",
        1 + (n / 1_680_000 % 12) as u32
    ))
}

#[tokio::test]
#[ignore = "needs `scripts/dev-cluster.sh up`; scripts/test.sh runs it"]
async fn five_processes_behind_the_gateway_enrol_check_settle_and_reverse() {
    let c = Cluster::from_env().unwrap_or_else(|e| panic!("{e}"));
    let ready = c
        .http
        .get(format!("{}/readyz", c.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("gateway reachable: {e}"));
    assert_eq!(
        ready.status().as_u16(),
        200,
        "{}",
        ready.text().await.unwrap_or_default()
    );

    let y = this_year();
    let op = c.token(Role::Operator, "", "341522");
    let hospital = c.token(Role::Hospital, "H34152200001", "");
    // Enrollment (its own process and database): a person enrolled and paid by the subsidy.
    c.ok("/v1/contribution-standards", &op, json!({"region_code": "341522", "year": y, "scheme": "SCHEME_RESIDENT", "individual_amount_fen": 18000})).await;
    let id = fresh_id();
    let person = c
        .ok(
            "/v1/persons",
            &op,
            json!({"id_number": id, "name": "集群测试", "region_code": "341522"}),
        )
        .await;
    let pid = s(&person["person"]["person_id"]).to_string();
    let enrolment = c.ok("/v1/enrolments", &op, json!({"person_id": pid, "year": y, "scheme": "SCHEME_RESIDENT", "region_code": "341522", "enrolled_on": format!("{}-11-20", y - 1)})).await;
    let eid = s(&enrolment["enrolment"]["enrolment_id"]).to_string();
    c.ok(&format!("/v1/enrolments/{eid}/contributions"), &op, json!({"kind": "CONTRIBUTION_KIND_SUBSIDY", "amount_fen": 18000, "paid_on": format!("{}-12-01", y - 1), "reference": "dev-cluster"})).await;
    let elig = c
        .ok("/v1/eligibility:check", &hospital, json!({"id_number": id}))
        .await;
    assert_eq!(elig["eligible"], true, "{elig}");

    // The demo county's designated institutions and physicians (idempotent imports).
    let roster = c
        .ok(
            "/v1/institutions:import",
            &op,
            json!({"region_code": "341522", "csv": yibao::demo::roster(y)}),
        )
        .await;
    assert_eq!(roster["stored"], true, "{roster}");
    let physicians = c
        .ok(
            "/v1/physicians:import",
            &op,
            json!({"region_code": "341522", "csv": yibao::demo::physicians()}),
        )
        .await;
    assert_eq!(physicians["stored"], true, "{physicians}");

    // Settlement (another process) asks enrollment over the network, then writes its own database.
    let (status, _) = c
        .get(
            &format!("/v1/policies/341522-{y}-resident?region_code=341522"),
            &op,
        )
        .await;
    if status == 404 {
        let (_, seeded) = c
            .get("/v1/policies/341522-2018-resident?region_code=341522", &op)
            .await;
        let mut doc: Value =
            serde_json::from_str(s(&seeded["document_json"])).expect("seeded policy document");
        doc["id"] = json!(format!("341522-{y}-resident"));
        doc["version"] = json!(1);
        doc["year"] = json!(y);
        doc["effective_from"] = json!(format!("{y}-01-01"));
        let (status, body) = c
            .post(
                "/v1/policies",
                &op,
                json!({"region_code": "341522", "document_json": doc.to_string()}),
                None,
            )
            .await;
        assert!(status == 200 || status == 409, "{body}");
    }
    // Items are classified by procurement's catalogue: the province's demo catalogue (a second
    // import changes nothing, so the test reruns on the same cluster).
    let province = c.token(Role::Operator, "", yibao_procurement::demo::REGION);
    let (status, body) = c
        .post(
            "/v1/procurement/catalogue:import",
            &province,
            json!({"region_code": yibao_procurement::demo::REGION, "csv_text": yibao_procurement::demo::CATALOGUE_CSV}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let encounter = format!("DC-{}", uuid::Uuid::new_v4().simple());
    let claim = json!({"claim": {
        "institution_code": "H34152200001", "encounter_no": encounter, "id_number": id, "insured_region_code": "341522",
        "kind": "ENCOUNTER_KIND_INPATIENT", "attending_physician_code": yibao::demo::PHYSICIAN,
        "start_date": format!("{y}-06-10"), "end_date": format!("{y}-06-15"), "diagnoses": ["I10.x00x002"],
        "items": [{"national_code": "001109000010300", "name": "普通病房床位费", "quantity": 1, "unit_price_fen": 1_000_000, "amount_fen": 1_000_000}]
    }});
    let (status, first) = c
        .post(
            "/v1/claims:settle",
            &hospital,
            claim.clone(),
            Some(&encounter),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let b = &first["settlement"]["breakdown"];
    let total = b["medfee_sumamt_fen"].as_i64().unwrap_or(0);
    assert_eq!(total, 1_000_000);
    assert_eq!(
        b["fund_pay_sumamt_fen"].as_i64().unwrap_or(0)
            + b["psn_part_amt_fen"].as_i64().unwrap_or(0),
        total,
        "the layers add up to the total: {b}"
    );
    assert!(b["hifp_pay_fen"].as_i64().unwrap_or(0) > 0, "{b}");
    // A retry (the gateway's idempotency store is Redis here) returns the first claim.
    let (status, again) = c
        .post("/v1/claims:settle", &hospital, claim, Some(&encounter))
        .await;
    assert_eq!((status, &again["claim_id"]), (200, &first["claim_id"]));
    let acc = c
        .ok(
            "/v1/accumulators:lookup",
            &op,
            json!({"id_number": id, "region_code": "341522", "year": y}),
        )
        .await;
    assert_eq!(
        acc["accumulators"]["pool_paid_fen"], b["hifp_pay_fen"],
        "one claim counted once: {acc}"
    );
    let claim_id = s(&first["claim_id"]).to_string();
    let reversed = c.ok(&format!("/v1/claims/{claim_id}:reverse"), &hospital, json!({"institution_code": "H34152200001", "reversal_no": format!("R-{encounter}"), "reason": "test"})).await;
    assert_eq!(reversed["status"], "CLAIM_STATUS_REVERSED");
    let acc = c
        .ok(
            "/v1/accumulators:lookup",
            &op,
            json!({"id_number": id, "region_code": "341522", "year": y}),
        )
        .await;
    assert_eq!(acc["accumulators"]["pool_paid_fen"], 0, "{acc}");

    // Tenancy holds across processes: another hospital cannot read the claim.
    let (status, _) = c
        .get(
            &format!("/v1/claims/{claim_id}"),
            &c.token(Role::Hospital, "H34152200002", ""),
        )
        .await;
    assert!(status == 403 || status == 404, "another hospital: {status}");
}
