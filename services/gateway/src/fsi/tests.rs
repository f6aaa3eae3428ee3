//! The endpoint's refusals, driven through the router with no service behind it: the
//! credential of the test institution is primed in the gateway's cache (as enrollment would
//! resolve it), and a call that passes every check reaches an upstream that is not there.

use super::*;
use tower::ServiceExt as _;
use yibao_fsi::signature;

const ORG: &str = "H34152200001";
const PAASID: &str = "paas-h34152200001";
const TOKEN: &str = "s3cr3t-token-of-the-test-hospital";

struct Test {
    g: Gateway,
    dir: std::path::PathBuf,
}

impl Drop for Test {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn gateway(configured: bool) -> Test {
    let dir = std::env::temp_dir().join(format!("yibao-gw-fsi-{}", uuid::Uuid::new_v4().simple()));
    let keys = yibao_runtime::auth::DevKeys::load_or_create(&dir).unwrap_or_else(|e| panic!("{e}"));
    let verifier = keys
        .verifier("yibao", "yibao-api")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut settings = crate::GatewaySettings {
        request_timeout_ms: 300,
        ..Default::default()
    };
    if configured {
        settings.interface.signing_key_dir = dir.display().to_string();
        settings.interface.region = "341522".into();
    }
    let nowhere = "http://127.0.0.1:1".to_string();
    let upstreams = yibao_runtime::config::Upstreams {
        enrollment: nowhere.clone(),
        settlement: nowhere.clone(),
        ltc: nowhere.clone(),
        procurement: nowhere.clone(),
        supervision: nowhere,
    };
    let cache = std::sync::Arc::new(yibao_runtime::cache::MemoryCache::new(1000));
    let g = Gateway::new(&upstreams, verifier, cache, settings)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    g.interface.caches.prime(PAASID, TOKEN, ORG, true);
    g.interface
        .caches
        .prime("paas-suspended", TOKEN, "H34152200002", false);
    Test { g, dir }
}

fn msgid(seq: u32) -> String {
    format!(
        "{ORG}{}{seq:04}",
        chrono::Local::now().format("%Y%m%d%H%M%S")
    )
}

fn envelope(
    infno: &str,
    msgid: &str,
    sign_no: &str,
    input: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "infno": infno, "msgid": msgid, "mdtrtarea_admvs": "341522", "insuplc_admdvs": "341522",
        "recer_sys_code": "YBXT", "infver": "V1.0", "opter_type": "1", "opter": "001",
        "opter_name": "收费员", "inf_time": chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        "fixmedins_code": ORG, "fixmedins_name": "霍邱县第一人民医院", "sign_no": sign_no, "input": input
    })
}

/// Signed headers: (paasid, timestamp, nonce) with the test token.
fn signed(paasid: &str, ts: i64, nonce: &str) -> Vec<(&'static str, String)> {
    let t = ts.to_string();
    vec![
        ("x-tif-paasid", paasid.to_string()),
        ("x-tif-timestamp", t.clone()),
        ("x-tif-nonce", nonce.to_string()),
        ("x-tif-signature", signature::signature(&t, TOKEN, nonce)),
    ]
}

fn fresh() -> Vec<(&'static str, String)> {
    signed(
        PAASID,
        chrono::Utc::now().timestamp(),
        &uuid::Uuid::new_v4().simple().to_string(),
    )
}

async fn post(t: &Test, path: &str, headers: &[(&str, String)], body: &str) -> serde_json::Value {
    let mut req = http::Request::post(path).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let req = req
        .body(axum::body::Body::from(body.to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    let resp =
        t.g.clone()
            .router()
            .oneshot(req)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        resp.status(),
        http::StatusCode::OK,
        "every answer is HTTP 200"
    );
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

async fn call(t: &Test, headers: &[(&str, String)], env: &serde_json::Value) -> serde_json::Value {
    post(t, PATH, headers, &env.to_string()).await
}

fn refused(v: &serde_json::Value, starts: &str) {
    assert_eq!(v["infcode"], -1, "{v}");
    let m = v["err_msg"].as_str().unwrap_or_default();
    assert!(
        m.starts_with(starts),
        "err_msg `{m}` should start with `{starts}`"
    );
    assert!(v["output"].is_null(), "{v}");
    let refmsgid = v["inf_refmsgid"].as_str().unwrap_or_default();
    assert_eq!(refmsgid.len(), 30, "{v}");
}

async fn sign_in(t: &Test) -> String {
    let v = call(
        t,
        &fresh(),
        &envelope(
            "9001",
            &msgid(1),
            "",
            serde_json::json!({"signIn": {"opter_no": "001", "mac": "00-00", "ip": "127.0.0.1"}}),
        ),
    )
    .await;
    assert_eq!(v["infcode"], 0, "{v}");
    let no = v["output"]["signinoutb"]["sign_no"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(no.len(), 30, "{v}");
    no
}

#[tokio::test]
async fn without_a_signing_key_the_endpoint_says_it_is_not_configured() {
    let t = gateway(false).await;
    let v = call(
        &t,
        &fresh(),
        &envelope(
            "9001",
            &msgid(1),
            "",
            serde_json::json!({"signIn": {"opter_no": "001"}}),
        ),
    )
    .await;
    refused(&v, NOT_CONFIGURED);
}

#[tokio::test]
async fn bad_envelopes_name_their_field() {
    let t = gateway(true).await;
    let h = fresh();
    refused(
        &post(&t, PATH, &h, "[1]").await,
        "body: must be a JSON object",
    );
    let mut e = envelope("2304", &msgid(2), "", serde_json::json!({"data": {}}));
    e.as_object_mut().map(|o| o.remove("msgid"));
    refused(&call(&t, &h, &e).await, "msgid: is required");
    refused(
        &call(
            &t,
            &h,
            &envelope("9999", &msgid(2), "", serde_json::json!({})),
        )
        .await,
        "infno: `9999` is not a transaction",
    );
    refused(
        &call(
            &t,
            &h,
            &envelope("3101", &msgid(2), "", serde_json::json!({})),
        )
        .await,
        "infno: `3101`",
    );
    refused(
        &post(
            &t,
            &format!("{PATH}/2207"),
            &h,
            &envelope("2304", &msgid(2), "", serde_json::json!({})).to_string(),
        )
        .await,
        "infno: `2304` differs from the path's `2207`",
    );
    let mut e = envelope("2304", &msgid(2), "", serde_json::json!({"data": {}}));
    e["insuplc_admdvs"] = serde_json::json!("");
    refused(
        &call(&t, &h, &e).await,
        "insuplc_admdvs: is required for 2304",
    );
    e["input"] = serde_json::json!("text");
    refused(&call(&t, &h, &e).await, "input: must be an object");
}

#[tokio::test]
async fn credentials_are_checked_header_by_header() {
    let t = gateway(true).await;
    let e = envelope(
        "9001",
        &msgid(3),
        "",
        serde_json::json!({"signIn": {"opter_no": "001"}}),
    );
    refused(&call(&t, &[], &e).await, "x-tif-paasid: is required");
    let now = chrono::Utc::now().timestamp();
    let mut bad = signed(PAASID, now, "n-1");
    bad[3].1 = signature::signature(&now.to_string(), "another-token", "n-1");
    refused(&call(&t, &bad, &e).await, "x-tif-signature: does not match");
    refused(
        &call(&t, &signed(PAASID, now - 301, "n-2"), &e).await,
        "x-tif-timestamp: -301 s",
    );
    let mut other = e.clone();
    other["fixmedins_code"] = serde_json::json!("H34152200009");
    other["msgid"] = serde_json::json!(msgid(3).replace(ORG, "H34152200009"));
    refused(
        &call(&t, &signed(PAASID, now, "n-3"), &other).await,
        "fixmedins_code: `H34152200009` is not the institution of x-tif-paasid",
    );
    refused(
        &call(&t, &signed("paas-suspended", now, "n-4"), &e).await,
        "x-tif-paasid: institution H34152200002 is not an active",
    );
    let once = signed(PAASID, now, "n-5");
    assert_eq!(call(&t, &once, &e).await["infcode"], 0);
    refused(&call(&t, &once, &e).await, "x-tif-nonce: already used");
}

#[tokio::test]
async fn sign_in_msgid_and_the_upstream_are_checked_in_turn() {
    let t = gateway(true).await;
    let input =
        serde_json::json!({"data": {"psn_no": "00000000000000000000000000", "cum_ym": "202606"}});
    refused(
        &call(
            &t,
            &fresh(),
            &envelope("5206", &msgid(4), "", input.clone()),
        )
        .await,
        "sign_no: is required",
    );
    refused(
        &call(
            &t,
            &fresh(),
            &envelope("5206", &msgid(4), "2026X", input.clone()),
        )
        .await,
        "sign_no: unknown or expired",
    );
    let sign_no = sign_in(&t).await;
    // Every check passed: the call reaches settlement, which is not there.
    let v = call(
        &t,
        &fresh(),
        &envelope("5206", &msgid(5), &sign_no, input.clone()),
    )
    .await;
    refused(&v, "settlement did not answer GetAccumulators");
    // The same msgid for the same request goes on (to the services' own keys); for another
    // request it is refused.
    refused(
        &call(
            &t,
            &fresh(),
            &envelope("5206", &msgid(5), &sign_no, input.clone()),
        )
        .await,
        "settlement did not answer",
    );
    let other =
        serde_json::json!({"data": {"psn_no": "00000000000000000000000000", "cum_ym": "202605"}});
    refused(
        &call(&t, &fresh(), &envelope("5206", &msgid(5), &sign_no, other)).await,
        "msgid: already used for another request",
    );
    // Input is read field by field before any call: a third decimal, a bad id.
    let e = envelope(
        "2304",
        &msgid(6),
        &sign_no,
        serde_json::json!({"data": {"psn_no": "00000000000000000000000000", "mdtrt_id": "00000000000000000000000000", "medfee_sumamt": "10.005"}}),
    );
    refused(
        &call(&t, &fresh(), &e).await,
        "input.data.medfee_sumamt: `10.005` has more than 2 decimals",
    );
    let e = envelope(
        "2304",
        &msgid(7),
        &sign_no,
        serde_json::json!({"data": {"psn_no": "ABC", "mdtrt_id": "00000000000000000000000000", "medfee_sumamt": "10.00"}}),
    );
    refused(
        &call(&t, &fresh(), &e).await,
        "input.data.psn_no: must be 26 characters",
    );
    // Sign-out ends the sign-in.
    let v = call(
        &t,
        &fresh(),
        &envelope(
            "9002",
            &msgid(8),
            &sign_no,
            serde_json::json!({"signOut": {"sign_no": sign_no, "opter_no": "001"}}),
        ),
    )
    .await;
    assert_eq!(v["infcode"], 0, "{v}");
    refused(
        &call(&t, &fresh(), &envelope("5206", &msgid(9), &sign_no, input)).await,
        "sign_no: unknown or expired",
    );
}

#[tokio::test]
async fn interface_calls_are_counted_by_infno() {
    let t = gateway(true).await;
    let before = t.g.metrics.render();
    let _ = sign_in(&t).await;
    let text = t.g.metrics.render();
    let series = "yibao_rpc_requests_total{component=\"gateway\",side=\"server\",service=\"fsi\",method=\"fsi.9001\",code=\"OK\"}";
    let count = |s: &str| {
        s.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(count(&text) > count(&before), "{text}");
}

#[test]
fn a_minted_token_verifies_with_the_directory_s_keys() {
    let dir = std::env::temp_dir().join(format!("yibao-gw-fsi-{}", uuid::Uuid::new_v4().simple()));
    let keys = yibao_runtime::auth::DevKeys::load_or_create(&dir).unwrap_or_else(|e| panic!("{e}"));
    let signer = auth::Signer::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let settings = InterfaceSettings::default();
    let token = signer
        .mint(
            &settings,
            yibao_runtime::Role::Hospital,
            ORG,
            "fsi/paas/001",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let caller = keys
        .verifier("yibao", "yibao-api")
        .and_then(|v| v.verify(&token))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(caller.org, ORG);
    assert_eq!(caller.role, yibao_runtime::Role::Hospital);
    assert_eq!(caller.subject, "fsi/paas/001");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        auth::Signer::load(&dir).is_err(),
        "a missing key is reported"
    );
}
