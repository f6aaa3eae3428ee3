//! The policy document's published format through the gateway (issue 14 item 9): the JSON
//! Schema is served at `/schemas/policy.json` without a token, is settlement's schema (which
//! `services/settlement/tests/policy_schema.rs` keeps in step with the parser), is listed in the
//! OpenAPI document, and an upload that breaks its shape is refused naming the field path
//! under `document_json.`, writing nothing.

use http::Method;
use serde_json::{Value, json};
use yibao_integration_tests::{Suite, s};

const HUOQIU: &str = "341522";

#[tokio::test]
async fn the_gateway_serves_the_policy_schema_and_uploads_name_the_field_path() {
    let suite = Suite::start().await;
    let resp = suite
        .http
        .get(format!("{}/schemas/policy.json", suite.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/schema+json")
    );
    let served = resp.text().await.unwrap_or_default();
    assert_eq!(served, yibao_settlement::domain::policy::POLICY_SCHEMA_JSON);
    let schema: Value = serde_json::from_str(&served).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let openapi = suite.get_ok("/openapi.json", "").await;
    assert_eq!(
        openapi["paths"]["/schemas/policy.json"]["get"]["operationId"],
        "PolicySchema"
    );

    // The seeded Huoqiu policy is the example of docs/policy-format.md; break its shape.
    let op = suite.operator(HUOQIU);
    let seeded = suite
        .get_ok(
            &format!("/v1/policies/341522-2018-resident?region_code={HUOQIU}"),
            &op,
        )
        .await;
    let doc: Value = serde_json::from_str(s(&seeded["document_json"])).unwrap_or(Value::Null);
    let mut wrong_level = doc.clone();
    wrong_level["version"] = json!(2);
    wrong_level["basic"]["rates"][1]["level"] = json!("capital");
    let mut no_threshold = doc.clone();
    no_threshold["version"] = json!(2);
    if let Some(ci) = no_threshold["critical_illness"].as_object_mut() {
        ci.remove("threshold");
    }
    let mut unknown = doc.clone();
    unknown["version"] = json!(2);
    unknown["backstop"]["tier_caps"][0]["ceiling"] = json!(1);
    for (bad, field, says) in [
        (wrong_level, "document_json.basic.rates[1].level", "capital"),
        (no_threshold, "document_json.critical_illness", "threshold"),
        (
            unknown,
            "document_json.backstop.tier_caps[0].ceiling",
            "ceiling",
        ),
    ] {
        let (status, problem) = suite
            .call(
                Method::POST,
                "/v1/policies",
                Some(&op),
                Some(json!({"region_code": HUOQIU, "document_json": bad.to_string()})),
            )
            .await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["code"], "SETTLEMENT_POLICY_PARSE", "{problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        assert!(
            s(&problem["errors"][0]["detail"]).contains(says),
            "{problem}"
        );
    }
    // Nothing was stored: version 1 is still the only one.
    let got = suite
        .get_ok(
            &format!("/v1/policies/341522-2018-resident?region_code={HUOQIU}"),
            &op,
        )
        .await;
    assert_eq!(got["policy"]["version"], json!(1), "{got}");
    suite.stop().await;
}
