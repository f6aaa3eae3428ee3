//! `yibao up` reads the same configuration layers as every standalone binary: the file named by
//! `YIBAO_CONFIG` and the `YIBAO__…` environment (flags on top), and exits 64 on a bad one.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Up {
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn data_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("yibao-up-config-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn uuid_like() -> String {
    format!("{}-{}", std::process::id(), rand::random::<u64>())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn yibao(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_yibao"));
    c.arg("up").arg("--data-dir").arg(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("YIBAO__") || k == "YIBAO_CONFIG" {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn a_missing_config_file_or_a_bad_value_exits_64_naming_it() {
    let dir = data_dir();
    let out = yibao(&dir)
        .env("YIBAO_CONFIG", "/nonexistent/yibao.toml")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/yibao.toml"));
    let out = yibao(&dir)
        .env("YIBAO__TELEMETRY__LOG_FORMAT", "xml")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("telemetry.log_format"));
    for (key, value, named) in [
        (
            "YIBAO__EVENTS__RETENTION_HOURS",
            "0",
            "events.retention_hours",
        ),
        (
            "YIBAO__SETTLEMENT__MAX_CLAIM_FEN",
            "0",
            "settlement.max_claim_fen",
        ),
    ] {
        let out = yibao(&dir)
            .env(key, value)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.status.code(), Some(64), "{key}={value}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(named),
            "{key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_environment_and_the_file_set_the_gateway_and_the_log_format() {
    let dir = data_dir();
    let port = free_port();
    let file = dir.join("yibao.toml");
    std::fs::write(
        &file,
        "[gateway]\nrate_limit_per_minute = 3\nmax_body_bytes = 100\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut child = yibao(&dir)
        .env("YIBAO_CONFIG", &file)
        .env("YIBAO__GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
        .env("YIBAO__GRPC__LISTEN", "127.0.0.1:0")
        .env("YIBAO__TELEMETRY__LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let up = Up {
        child,
        dir: dir.clone(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with("Yibao is up")) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("not up: {lines:?}"));
        lines.push(line);
    }
    let logs: Vec<_> = lines.iter().filter(|l| l.starts_with('{')).collect();
    assert!(
        !logs.is_empty(),
        "no JSON log line before the banner: {lines:?}"
    );
    for l in &logs {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
    }
    let token =
        yibao::dev_token(&dir, "operator", "", "341522", "", 600).unwrap_or_else(|e| panic!("{e}"));
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/policies?region_code=341522");
    let mut codes = Vec::new();
    for _ in 0..4 {
        let r = http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        codes.push(r.status().as_u16());
    }
    assert_eq!(
        codes,
        [200, 200, 200, 429],
        "rate_limit_per_minute = 3 from the file"
    );
    let big = format!("{{\"id_number\":\"{}\"}}", "1".repeat(300));
    let r = http
        .post(format!("http://127.0.0.1:{port}/v1/eligibility:check"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.status().as_u16(),
        413,
        "max_body_bytes = 100 from the file"
    );
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(ct, "application/problem+json");
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(body["code"], "BODY_TOO_LARGE");
    // The refusal is observed like any answer: its request log line and the gateway's count.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = |l: &String| {
        serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| {
            v["message"] == "request"
                && v["http_status"] == 413
                && v["method"] == "yibao.enrollment.v1.EnrollmentService/CheckEligibility"
                && v["code"] == "RESOURCE_EXHAUSTED"
        })
    };
    while !lines.iter().any(refused) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => panic!("no request log line for the 413: {lines:?}"),
        }
    }
    let metrics = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("yibao_rpc_requests_total{")
                && l.contains(r#"component="gateway""#)
                && l.contains(r#"method="CheckEligibility""#)
                && l.contains(r#"code="RESOURCE_EXHAUSTED""#)),
        "the 413 is counted: {metrics}"
    );
    drop(up);
}
