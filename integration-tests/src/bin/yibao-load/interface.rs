//! `yibao-load interface`: settlements through the national interface's envelope (2304 on
//! `POST /fsi/api/rsfComIfsService/callService`, signed with the `x-tif-*` headers, each on an
//! admitted encounter with its fee lines uploaded), beside the native one-shot settle path
//! (`POST /v1/claims:settle`, JSON through the same gateway) in the same run, on the same
//! people and items, at the same concurrency. Each phase settles `--settlements` claims once.

use super::*;
use crate::settle::settle_claim;
use std::sync::atomic::AtomicU64;

const HOSPITAL: &str = "H34152200001";

/// Runs `call(i)` for `i` in `0..count` from `concurrency` tasks; latencies of the calls that
/// returned true.
async fn drive_n<F, Fut>(label: &str, concurrency: u64, count: u64, call: F) -> Stats
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let call = Arc::new(call);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, call) = (next.clone(), call.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let t = Instant::now();
                if call(i).await {
                    ok += 1;
                    lat.push(t.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
            }
            (ok, errors, lat)
        }));
    }
    let mut stats = Stats {
        label: label.to_string(),
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for t in tasks {
        if let Ok((ok, errors, lat)) = t.await {
            stats.ok += ok;
            stats.errors += errors;
            stats.latencies_us.extend(lat);
        }
    }
    stats.elapsed = started.elapsed();
    stats
}

/// Yuan with two decimals from fen.
fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// An interface envelope around `input`.
fn envelope(
    infno: &str,
    msgid: &str,
    sign_no: &str,
    input: serde_json::Value,
) -> serde_json::Value {
    json!({
        "infno": infno, "msgid": msgid, "mdtrtarea_admvs": "341522", "insuplc_admdvs": "341522",
        "recer_sys_code": "YBXT", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "SM3",
        "infver": "V1.0", "opter_type": "1", "opter": "load", "opter_name": "load",
        "inf_time": chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        "fixmedins_code": HOSPITAL, "fixmedins_name": "load", "sign_no": sign_no, "input": input
    })
}

/// The `n`th message id of this run: the institution, a time 14 and a sequence 4 (a new
/// second every 10,000 messages).
fn msgid(base: chrono::NaiveDateTime, n: u64) -> String {
    let t = base + chrono::Duration::seconds((n / 10_000) as i64);
    format!("{HOSPITAL}{}{:04}", t.format("%Y%m%d%H%M%S"), n % 10_000)
}

/// Signs and posts an envelope; the response's `infcode` 0, or the refusal.
async fn call_interface(
    http: &reqwest::Client,
    url: &str,
    cred: &(String, String),
    body: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let ts = chrono::Utc::now().timestamp().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let sig = yibao_fsi::signature::signature(&ts, &cred.1, &nonce);
    let r = http
        .post(url)
        .header("x-tif-paasid", &cred.0)
        .header("x-tif-timestamp", &ts)
        .header("x-tif-nonce", &nonce)
        .header("x-tif-signature", sig)
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    if v["infcode"] == json!(0) {
        Ok(v)
    } else {
        Err(v["err_msg"].to_string())
    }
}

pub(crate) async fn interface() {
    let concurrency = arg("--concurrency", 64);
    let count = arg("--settlements", 2_000);
    let people = arg("--people", 2_000);
    let items = arg("--items", 10);
    let suite = Suite::start_with(|o| o.gateway.rate_limit_per_minute = u32::MAX).await;
    let op = suite.operator("341522");
    if let Err(e) = yibao::demo::carry_policy(suite.running.grpc_addr, &op).await {
        return eprintln!("policy: {e}");
    }
    if let Err(e) = yibao::demo::load_registry(suite.running.grpc_addr, &op).await {
        return eprintln!("registry: {e}");
    }
    println!(
        "backend: {}; seeding {people} people…",
        yibao_integration_tests::backend()
    );
    let ids = Arc::new(seed_people(&suite, &op, people).await);
    let h = suite.hospital(HOSPITAL);
    let base = suite.base.clone();
    let http = reqwest::Client::new();
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    println!("concurrency {concurrency}, {count} settlements per path, {items} items per claim\n");

    // The native path: one-shot claims through the gateway's REST.
    let native = {
        let (http, base, h, ids, run) = (
            http.clone(),
            base.clone(),
            h.clone(),
            ids.clone(),
            run.clone(),
        );
        drive_n(
            "settle, REST through the gateway",
            concurrency,
            count,
            move |i| {
                let claim =
                    settle_claim(format!("n{run}-{i}"), &ids[(i as usize) % ids.len()], items);
                let body = json!({"claim": prost_json(&claim)});
                let req = http
                    .post(format!("{base}/v1/claims:settle"))
                    .bearer_auth(&h)
                    .json(&body);
                async move {
                    match req.send().await {
                        Ok(r) if r.status().is_success() => true,
                        Ok(r) => {
                            eprintln!(
                                "settle: {} {}",
                                r.status(),
                                r.text().await.unwrap_or_default()
                            );
                            false
                        }
                        Err(e) => {
                            eprintln!("settle: {e}");
                            false
                        }
                    }
                }
            },
        )
        .await
    };

    // The interface: credentials, admissions with their fee lines (not timed), sign-in.
    let cred = suite
        .ok(
            &format!("/v1/institutions/{HOSPITAL}:issueInterfaceCredential"),
            &op,
            json!({}),
        )
        .await;
    let cred = Arc::new((
        cred["credential"]["paasid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        cred["credential"]["paas_token"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ));
    println!("admitting {count} encounters and uploading their lines…");
    let prepared = Arc::new(std::sync::Mutex::new(vec![None; count as usize]));
    {
        let (http, base, h, ids, run, op, prepared) = (
            http.clone(),
            base.clone(),
            h.clone(),
            ids.clone(),
            run.clone(),
            op.clone(),
            prepared.clone(),
        );
        let admitted = drive_n("admit + upload (REST, not compared)", concurrency, count, move |i| {
            let id = ids[(i as usize) % ids.len()].clone();
            let claim = settle_claim(format!("i{run}-{i}"), &id, items);
            let (http, base, h, op, prepared) = (http.clone(), base.clone(), h.clone(), op.clone(), prepared.clone());
            async move {
                let open = json!({"institution_code": HOSPITAL, "encounter_no": claim.encounter_no,
                    "id_number": id, "insured_region_code": "341522", "kind": "ENCOUNTER_KIND_INPATIENT",
                    "start_date": claim.start_date, "diagnoses": claim.diagnoses,
                    "attending_physician_code": claim.attending_physician_code});
                let post = |path: String, token: &str, body: serde_json::Value| {
                    http.post(format!("{base}{path}")).bearer_auth(token).json(&body).send()
                };
                let Ok(r) = post("/v1/encounters".into(), &h, open).await else { return false };
                let Ok(v) = r.json::<serde_json::Value>().await else { return false };
                let enc = v["encounter"]["encounter_id"].as_str().unwrap_or_default().to_string();
                let lines: Vec<serde_json::Value> = claim.items.iter().enumerate().map(|(n, it)| json!({
                    "feedetl_sn": format!("{n}"), "fee_time": claim.end_date,
                    "item": {"national_code": it.national_code, "name": it.name, "quantity": it.quantity,
                        "unit_price_fen": it.unit_price_fen, "amount_fen": it.amount_fen}})).collect();
                let total: i64 = claim.items.iter().map(|it| it.amount_fen).sum();
                let Ok(r) = post(format!("/v1/encounters/{enc}/fees:upload"), &h, json!({"lines": lines})).await else { return false };
                if !r.status().is_success() {
                    eprintln!("upload: {}", r.text().await.unwrap_or_default());
                    return false;
                }
                let Ok(r) = post("/v1/eligibility:check".into(), &op, json!({"id_number": id, "date": claim.end_date})).await else { return false };
                let person = r.json::<serde_json::Value>().await.ok().and_then(|v| v["person_id"].as_str().map(str::to_string)).unwrap_or_default();
                let (Ok(psn_no), Ok(mdtrt_id)) = (yibao_fsi::ids::from_uuid(&person), yibao_fsi::ids::from_uuid(&enc)) else { return false };
                if let Ok(mut p) = prepared.lock() {
                    p[i as usize] = Some((psn_no, mdtrt_id, id, total, claim.end_date.clone()));
                }
                true
            }
        })
        .await;
        admitted.clone_print();
    }
    let url = format!("{base}/fsi/api/rsfComIfsService/callService");
    let stamp = chrono::Local::now().naive_local();
    let signed = call_interface(
        &http,
        &url,
        &cred,
        &envelope(
            "9001",
            &msgid(stamp, 0),
            "",
            json!({"signIn": {"opter_no": "load", "mac": "", "ip": "127.0.0.1"}}),
        ),
    )
    .await;
    let sign_no = match signed {
        Ok(v) => v["output"]["signinoutb"]["sign_no"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        Err(e) => return eprintln!("9001 refused: {e}"),
    };
    let stamp = stamp + chrono::Duration::seconds(1);
    let prepared: Arc<Vec<_>> = Arc::new(prepared.lock().map(|p| p.clone()).unwrap_or_default());
    let mut through = {
        let (http, url, cred, sign_no, prepared) = (
            http.clone(),
            url.clone(),
            cred.clone(),
            sign_no.clone(),
            prepared.clone(),
        );
        drive_n("2304 through the interface's envelope", concurrency, count, move |i| {
            let (http, url, cred) = (http.clone(), url.clone(), cred.clone());
            let body = prepared[i as usize].as_ref().map(|(psn_no, mdtrt_id, id, total, end)| {
                envelope("2304", &msgid(stamp, i), &sign_no, json!({"data": {
                    "psn_no": psn_no, "mdtrt_id": mdtrt_id, "mdtrt_cert_type": "02", "mdtrt_cert_no": id,
                    "med_type": "21", "medfee_sumamt": yuan(*total), "psn_setlway": "01", "insutype": "390",
                    "acct_used_flag": "0", "mid_setl_flag": "0", "dscg_time": format!("{end} 12:00:00")}}))
            });
            async move {
                let Some(body) = body else { return false };
                match call_interface(&http, &url, &cred, &body).await {
                    Ok(_) => true,
                    Err(e) => {
                        eprintln!("2304: {e}");
                        false
                    }
                }
            }
        })
        .await
    };
    let mut native = native;
    native.print();
    through.print();
    let rate = |s: &Stats| s.ok as f64 / s.elapsed.as_secs_f64();
    println!(
        "2304 through the envelope = {:.0}% of the native settle path (aim: at least 80%)",
        100.0 * rate(&through) / rate(&native).max(f64::MIN_POSITIVE)
    );
    suite.stop().await;
}

/// A claim as the REST body's JSON (field names as in the contract).
fn prost_json(c: &yibao_proto::settlement::v1::Claim) -> serde_json::Value {
    json!({
        "institution_code": c.institution_code, "encounter_no": c.encounter_no, "id_number": c.id_number,
        "insured_region_code": c.insured_region_code, "kind": "ENCOUNTER_KIND_INPATIENT",
        "attending_physician_code": c.attending_physician_code, "start_date": c.start_date,
        "end_date": c.end_date, "diagnoses": c.diagnoses,
        "items": c.items.iter().map(|it| json!({"national_code": it.national_code, "name": it.name,
            "quantity": it.quantity, "unit_price_fen": it.unit_price_fen, "amount_fen": it.amount_fen})).collect::<Vec<_>>()
    })
}

impl Stats {
    fn clone_print(mut self) {
        self.print();
    }
}
