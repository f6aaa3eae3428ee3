//! `yibao interface-credentials`: on the data directory of a running `yibao up --demo`, the demo
//! county hospital's credentials are printed as one JSON object, the same ones every time, and
//! the running suite resolves them; `--rotate` replaces them; an institution outside the
//! registry exits non-zero naming it, printing nothing on stdout; and with `yibao up` stopped
//! the same credentials are still printed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const HOSPITAL: &str = "H34152200001";

struct Up {
    child: Child,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn yibao() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_yibao"));
    for (k, _) in std::env::vars() {
        if k.starts_with("YIBAO__") || k == "YIBAO_CONFIG" {
            c.env_remove(k);
        }
    }
    c
}

/// `yibao up --demo` on `dir`, once its banner is printed; the gateway's port.
fn up(dir: &Path) -> (Up, u16) {
    let port = free_port();
    let mut child = yibao()
        .args(["up", "--demo", "--data-dir"])
        .arg(dir)
        .env("YIBAO__GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
        .env("YIBAO__GRPC__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let running = Up { child };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with("Yibao is up")) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("not up: {lines:?}"));
        lines.push(line);
    }
    (running, port)
}

fn credentials(dir: &Path, org: &str, rotate: bool) -> Output {
    let mut c = yibao();
    c.args(["interface-credentials", "--org", org, "--data-dir"])
        .arg(dir);
    if rotate {
        c.arg("--rotate");
    }
    c.output().unwrap_or_else(|e| panic!("{e}"))
}

/// The printed (paasid, paas_token): stdout is exactly one JSON object with those two keys.
fn printed(out: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "one line on stdout: {stdout:?}");
    let v: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{stdout:?}: {e}"));
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["paas_token", "paasid"], "{v}");
    let paasid = v["paasid"].as_str().unwrap_or_default().to_string();
    let token = v["paas_token"].as_str().unwrap_or_default().to_string();
    assert!(paasid.starts_with(&format!("{HOSPITAL}-")), "{paasid}");
    assert_eq!(token.len(), 64, "{token}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{token}"
    );
    (paasid, token)
}

/// What the running suite resolves `paasid` to, as an admin through the gateway: (status,
/// body).
async fn resolved(dir: &Path, port: u16, paasid: &str) -> (u16, serde_json::Value) {
    let admin = yibao::dev_token(dir, "admin", "", "", "", 600).unwrap_or_else(|e| panic!("{e}"));
    let r = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/v1/interface-credentials:resolve"
        ))
        .bearer_auth(admin)
        .json(&serde_json::json!({ "paasid": paasid }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_demo_hospital_gets_the_same_credentials_every_time_whether_or_not_yibao_up_runs() {
    let dir = Dir(std::env::temp_dir().join(format!(
        "yibao-interface-credentials-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    )));
    let (running, port) = up(&dir.0);

    let first = printed(&credentials(&dir.0, HOSPITAL, false));
    let second = printed(&credentials(&dir.0, HOSPITAL, false));
    assert_eq!(first, second, "the credentials in force, again");
    let (status, body) = resolved(&dir.0, port, &first.0).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["credential"]["paas_token"].as_str(),
            body["credential"]["institution_code"].as_str(),
            body["institution_status"].as_str()
        ),
        (
            Some(first.1.as_str()),
            Some(HOSPITAL),
            Some("INSTITUTION_STATUS_ACTIVE")
        ),
        "the running suite sees what the command issued: {body}"
    );

    // An institution outside the registry, or no code at all: a message on stderr, nothing on
    // stdout, a failing exit.
    for org in ["H34152200999", "X1"] {
        let out = credentials(&dir.0, org, false);
        assert!(!out.status.success(), "{org}");
        assert!(out.stdout.is_empty(), "{org}: {:?}", out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(org), "{org}: {err}");
    }
    let out = credentials(&dir.0, "H34152200999", false);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not in the registry"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Rotated: new ones, the old paasid resolves no more, and the new ones are kept.
    let rotated = printed(&credentials(&dir.0, HOSPITAL, true));
    assert_ne!(rotated.0, first.0);
    assert_ne!(rotated.1, first.1);
    let (status, body) = resolved(&dir.0, port, &first.0).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("ENROLLMENT_INTERFACE_CREDENTIAL_NOT_FOUND")),
        "{body}"
    );
    assert_eq!(printed(&credentials(&dir.0, HOSPITAL, false)), rotated);

    // With `yibao up` stopped, the same data directory answers the same.
    drop(running);
    assert_eq!(printed(&credentials(&dir.0, HOSPITAL, false)), rotated);
}

#[test]
fn a_data_directory_without_an_enrollment_database_is_refused_and_left_alone() {
    let dir = Dir(std::env::temp_dir().join(format!(
        "yibao-interface-credentials-empty-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    )));
    let out = credentials(&dir.0, HOSPITAL, false);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no enrollment database"), "{err}");
    assert!(!dir.0.exists(), "nothing is created");
}

/// The production form, `--database-url`: the enrollment database of a suite started in this
/// process with the demo (a fresh PostgreSQL database with `YIBAO_TEST_DATABASE_URL`, else the
/// SQLite file by its URL).
#[tokio::test]
async fn a_database_url_names_the_enrollment_database_directly() {
    let dir = Dir(std::env::temp_dir().join(format!(
        "yibao-interface-credentials-url-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    )));
    let mut opts = yibao::Options::new(dir.0.clone());
    opts.http_listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    opts.demo = true;
    if let Ok(url) = std::env::var("YIBAO_TEST_DATABASE_URL") {
        opts.storage = yibao::Storage::FreshPostgres(url);
    }
    let running = yibao::start(opts)
        .await
        .unwrap_or_else(|e| panic!("suite: {e}"));
    let url = running
        .databases
        .get("enrollment")
        .cloned()
        .unwrap_or_else(|| panic!("no enrollment database"));
    let run = |org: &str| {
        yibao()
            .args([
                "interface-credentials",
                "--org",
                org,
                "--database-url",
                &url,
            ])
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let first = printed(&run(HOSPITAL));
    assert_eq!(printed(&run(HOSPITAL)), first);
    let out = run("H34152200999");
    assert!(!out.status.success() && out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not in the registry"), "{err}");
    assert!(
        !err.contains("postgres://postgres@"),
        "the URL's credentials are not shown: {err}"
    );
    running.stop().await;
}
