//! Load generator for the benchmarks behind `scripts/load.sh`. It prints figures; it asserts
//! nothing (speed targets live here, never in tests).
//!
//! ```text
//! yibao-load eligibility [--concurrency 64] [--seconds 10] [--people 2000]
//! yibao-load import      [--rows 100000] [--per-request 50000]
//! yibao-load dupscan     [--enrolments 10000000]
//! yibao-load settle      [--concurrency 64] [--seconds 10] [--people 2000] [--items 10]
//! yibao-load interface   [--concurrency 64] [--settlements 2000] [--people 2000] [--items 10]
//! yibao-load faults      [--short] …   (the fault suite against a dev cluster: scripts/faults.sh)
//! ```
//! Storage: SQLite in a temporary directory, or PostgreSQL and Redis when
//! `YIBAO_TEST_DATABASE_URL` / `YIBAO_TEST_REDIS_URL` are set.

use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use yibao_integration_tests::{Suite, id_number, this_year};
use yibao_proto::enrollment::v1 as pb;

mod faults;
mod interface;
mod settle;
use settle::settle;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Stats {
    label: String,
    ok: u64,
    errors: u64,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Stats {
    fn print(&mut self) {
        self.latencies_us.sort_unstable();
        let pct = |p: f64| -> f64 {
            let n = self.latencies_us.len();
            if n == 0 {
                return 0.0;
            }
            let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
            self.latencies_us[i] as f64 / 1000.0
        };
        let per_sec = self.ok as f64 / self.elapsed.as_secs_f64();
        println!(
            "{:<44} {:>10.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}",
            self.label,
            per_sec,
            pct(0.50),
            pct(0.99),
            self.errors
        );
    }
}

/// Runs `make_call` from `concurrency` tasks for `seconds`, collecting latencies.
async fn drive<F, Fut>(label: &str, concurrency: u64, seconds: u64, make_call: F) -> Stats
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let call = Arc::new(make_call);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let stop = stop.clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::with_capacity(100_000));
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if call(i).await {
                    ok += 1;
                    lat.push(t.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
                i += concurrency;
            }
            (ok, errors, lat)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
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

fn person_id_number(i: u64) -> String {
    // Region 341522, birth dates spread over 1940–1999, sequence from i.
    let year = 1940 + (i % 60);
    let month = 1 + (i / 60) % 12;
    let day = 1 + (i / 720) % 28;
    let seq = (i / 20_160) % 1000;
    id_number(&format!("341522{year:04}{month:02}{day:02}{seq:03}"))
}

/// Where requests go: the in-process suite or a cluster's gateway.
trait Api {
    /// POST, expecting 200; the JSON answer.
    async fn post_ok(&self, path: &str, token: &str, body: serde_json::Value) -> serde_json::Value;
}

impl Api for Suite {
    async fn post_ok(&self, path: &str, token: &str, body: serde_json::Value) -> serde_json::Value {
        self.ok(path, token, body).await
    }
}

impl Api for yibao_integration_tests::cluster::Cluster {
    async fn post_ok(&self, path: &str, token: &str, body: serde_json::Value) -> serde_json::Value {
        self.ok(path, token, body).await
    }
}

/// Enrols `n` people of Huoqiu (341522) for this year by CSV import, their contribution paid;
/// returns their ID numbers.
async fn seed_people(suite: &impl Api, op: &str, n: u64) -> Vec<String> {
    let y = this_year();
    suite.post_ok("/v1/contribution-standards", op, json!({"region_code": "341522", "year": y, "scheme": "SCHEME_RESIDENT", "individual_amount_fen": 38000})).await;
    let ids: Vec<String> = (0..n).map(person_id_number).collect();
    for chunk in ids.chunks(2_000) {
        let mut csv =
            String::from("id_number,name,region_code,year,scheme,contribution_fen,subsidy_fen\n");
        for id in chunk {
            csv.push_str(&format!("{id},测试,341522,{y},resident,38000,0\n"));
        }
        let out = suite
            .post_ok(
                "/v1/imports",
                op,
                json!({"format": "IMPORT_FORMAT_CSV", "content": csv, "region_code": "341522"}),
            )
            .await;
        if out["errors"].as_array().is_some_and(|e| !e.is_empty()) {
            eprintln!("seed errors: {}", out["errors"]);
        }
    }
    ids
}

async fn eligibility() {
    let concurrency = arg("--concurrency", 64);
    let seconds = arg("--seconds", 10);
    let people = arg("--people", 2_000);
    // Capacity is measured here; the per-caller rate limit (tested elsewhere) would cap it.
    let suite = Suite::start_with(|o| o.gateway.rate_limit_per_minute = u32::MAX).await;
    let op = suite.operator("341522");
    println!(
        "backend: {}; seeding {people} people…",
        yibao_integration_tests::backend()
    );
    let ids = Arc::new(seed_people(&suite, &op, people).await);
    let token = suite.hospital("H34152200001");
    println!("concurrency {concurrency}, {seconds} s per phase\n");

    // Ceiling: the cheapest gRPC round trip the machine does (grpc.health.v1/Check) against the
    // services' port, no auth, no storage.
    let services =
        tonic::transport::Channel::from_shared(format!("http://{}", suite.running.grpc_addr))
            .unwrap_or_else(|e| panic!("{e}"))
            .connect_lazy();
    let mut s = drive(
        "raw gRPC echo (health Check, services port)",
        concurrency,
        seconds,
        move |_| {
            let mut c = tonic_health_client(services.clone());
            async move { c.check(tonic_health_req()).await.is_ok() }
        },
    )
    .await;
    s.print();

    let gateway = tonic::transport::Channel::from_shared(suite.base.clone())
        .unwrap_or_else(|e| panic!("{e}"))
        .connect_lazy();
    let (ids2, tok2) = (ids.clone(), token.clone());
    let mut s = drive(
        "eligibility, gRPC through the gateway",
        concurrency,
        seconds,
        move |i| {
            let mut c =
                pb::enrollment_service_client::EnrollmentServiceClient::new(gateway.clone());
            let mut req = tonic::Request::new(pb::CheckEligibilityRequest {
                id_number: ids2[(i as usize) % ids2.len()].clone(),
                date: String::new(),
            });
            if let Ok(v) = format!("Bearer {tok2}").parse() {
                req.metadata_mut().insert("authorization", v);
            }
            async move {
                c.check_eligibility(req)
                    .await
                    .map(|r| r.into_inner().eligible)
                    .unwrap_or(false)
            }
        },
    )
    .await;
    s.print();

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .build()
        .unwrap_or_default();
    let url = format!("{}/v1/eligibility:check", suite.base);
    let mut s = drive(
        "eligibility, REST/JSON through the gateway",
        concurrency,
        seconds,
        move |i| {
            let req = http
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"id_number": ids[(i as usize) % ids.len()]}));
            async move { matches!(req.send().await, Ok(r) if r.status().is_success()) }
        },
    )
    .await;
    s.print();
    suite.stop().await;
}

fn tonic_health_client(
    ch: tonic::transport::Channel,
) -> tonic_health::pb::health_client::HealthClient<tonic::transport::Channel> {
    tonic_health::pb::health_client::HealthClient::new(ch)
}

fn tonic_health_req() -> tonic_health::pb::HealthCheckRequest {
    tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    }
}

async fn import() {
    let rows = arg("--rows", 100_000);
    // On PostgreSQL the databases are our own, so that the ceiling below can be measured in
    // the enrollment database afterwards.
    let urls = match std::env::var("YIBAO_TEST_DATABASE_URL") {
        Ok(base) => match own_databases(&base).await {
            Ok(u) => Some(u),
            Err(e) => return eprintln!("create database: {e}"),
        },
        Err(_) => None,
    };
    let enrollment_url = urls.as_ref().and_then(|u| u.get("enrollment").cloned());
    // Capacity is measured here; the per-caller rate limit (tested elsewhere) would cap it.
    let suite = Suite::start_with(|o| {
        o.gateway.rate_limit_per_minute = u32::MAX;
        if let Some(urls) = urls {
            o.storage = yibao::Storage::Urls(urls);
        }
    })
    .await;
    let op = suite.operator("341522");
    let y = this_year();
    suite.ok("/v1/contribution-standards", &op, json!({"region_code": "341522", "year": y, "scheme": "SCHEME_RESIDENT", "individual_amount_fen": 38000})).await;
    let ids: Vec<String> = (0..rows).map(person_id_number).collect();
    let started = Instant::now();
    let mut committed = 0;
    // A county's roster per request (50,000 rows ≈ 2.8 MB, under the gateway's 4 MiB body limit).
    let per_request = arg("--per-request", 50_000).max(1) as usize;
    for chunk in ids.chunks(per_request) {
        let mut csv =
            String::from("id_number,name,region_code,year,scheme,contribution_fen,subsidy_fen\n");
        for id in chunk {
            csv.push_str(&format!("{id},测试,341522,{y},resident,0,38000\n"));
        }
        let out = suite
            .ok(
                "/v1/imports",
                &op,
                json!({"format": "IMPORT_FORMAT_CSV", "content": csv, "region_code": "341522"}),
            )
            .await;
        committed += out["committed"].as_i64().unwrap_or(0);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "backend: {}; imported {committed} of {rows} rows in {secs:.1} s: {:.0} rows/s",
        yibao_integration_tests::backend(),
        committed as f64 / secs
    );
    suite.stop().await;
    if let Some(url) = enrollment_url {
        match copy_ceiling(&url, committed).await {
            Ok(()) => {}
            Err(e) => eprintln!("COPY ceiling: {e}"),
        }
    }
}

/// A fresh PostgreSQL database per service next to `base`, by service name.
async fn own_databases(base: &str) -> Result<std::collections::HashMap<String, String>, String> {
    let mut urls = std::collections::HashMap::new();
    for service in yibao_runtime::upstream::SERVICES.map(|s| s.key) {
        urls.insert(
            service.to_string(),
            yibao_runtime::db::create_fresh_postgres(base, &format!("yibao_load_{service}"))
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(urls)
}

/// The database's ceiling for what an import writes: every row the import wrote (people, their
/// versions, enrolments, contributions, journal), copied out and then `COPY`-ed into empty
/// tables of the same definition (indexes and keys included) in one transaction per table —
/// the most favourable way PostgreSQL can take these rows, with no service in front.
async fn copy_ceiling(url: &str, imported: i64) -> Result<(), String> {
    let db = sea_orm::Database::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let pool = db.get_postgres_connection_pool().clone();
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    let tables = [
        "persons",
        "person_versions",
        "enrolments",
        "contributions",
        "history",
    ];
    let mut dumps = Vec::new();
    for table in tables {
        sea_orm::ConnectionTrait::execute_unprepared(
            &db,
            &format!("CREATE TABLE ceiling_{table} (LIKE {table} INCLUDING ALL)"),
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        {
            use futures::TryStreamExt;
            let mut stream = conn
                .copy_out_raw(&format!("COPY {table} TO STDOUT"))
                .await
                .map_err(|e| e.to_string())?;
            while let Some(chunk) = stream.try_next().await.map_err(|e| e.to_string())? {
                out.extend_from_slice(&chunk);
            }
        }
        dumps.push((table, out));
    }
    let started = Instant::now();
    let mut written = 0usize;
    for (table, data) in dumps {
        written += data.iter().filter(|b| **b == b'\n').count();
        let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
        let mut copy = tx
            .copy_in_raw(&format!("COPY ceiling_{table} FROM STDIN"))
            .await
            .map_err(|e| e.to_string())?;
        copy.send(data).await.map_err(|e| e.to_string())?;
        copy.finish().await.map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "PostgreSQL COPY ceiling: the {written} table rows of those {imported} import rows, COPY-ed into empty copies of the tables, took {secs:.1} s: {:.0} import rows/s",
        imported as f64 / secs
    );
    Ok(())
}

/// Duplicate scan over generated enrolments (PostgreSQL only: `YIBAO_TEST_DATABASE_URL`).
/// The year's enrolments are generated inside the database by one `INSERT … SELECT` over
/// `generate_series` (one in 500 people also enrolled in a second region, one in 1,000 in the
/// employee scheme too), then the scan runs as the service runs it.
async fn dupscan() {
    use sea_orm::ConnectionTrait;
    let n = arg("--enrolments", 10_000_000);
    let Ok(base) = std::env::var("YIBAO_TEST_DATABASE_URL") else {
        eprintln!("dupscan needs PostgreSQL: set YIBAO_TEST_DATABASE_URL (scripts/load.sh does)");
        return;
    };
    let url = match yibao_runtime::db::create_fresh_postgres(&base, "yibao_dupscan").await {
        Ok(u) => u,
        Err(e) => return eprintln!("create database: {e}"),
    };
    let cfg = yibao_runtime::config::DatabaseConfig {
        url,
        max_connections: 4,
    };
    let db = match yibao_runtime::db::connect_and_migrate::<
        yibao_enrollment::store::migration::Migrator,
    >(&cfg)
    .await
    {
        Ok(db) => db,
        Err(e) => return eprintln!("migrate: {e}"),
    };
    let y = this_year();
    let people = n * 1000 / 1003; // so that people + second enrolments ≈ n
    let generate = format!(
        "INSERT INTO enrolments (id, person_id, year, scheme, region_code, enrolled_on, effective_from, effective_to, due_fen, paid_fen, subsidised_fen, paid_on, end_reason, created_at) \
         SELECT 'e' || lpad(g::text, 9, '0') || '-' || k, 'p' || lpad(g::text, 9, '0'), {y}, \
                CASE WHEN k = 2 AND g % 1000 = 0 THEN 'employee' ELSE 'resident' END, \
                CASE WHEN k = 1 THEN '341522' ELSE '341523' END, \
                '{py}-12-{d}', '{y}-01-01', '{y}-12-31', 38000, 38000, 0, '{py}-12-{d}', NULL, '{py}-12-31T00:00:00Z' \
         FROM generate_series(1, {people}) g CROSS JOIN (VALUES (1), (2)) AS v(k) \
         WHERE k = 1 OR g % 500 = 0 OR g % 1000 = 0",
        py = y - 1,
        d = 20
    );
    let started = Instant::now();
    if let Err(e) = db
        .execute_unprepared("SET synchronous_commit = off")
        .await
        .and(db.execute_unprepared(&generate).await)
    {
        return eprintln!("generate: {e}");
    }
    let _ = db.execute_unprepared("ANALYZE enrolments").await;
    let rows = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) FROM enrolments",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0);
    println!(
        "generated {rows} enrolments of {people} people in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let store = yibao_enrollment::store::Store::new(db);
    let actor = yibao_runtime::Actor {
        subject: "yibao-load".into(),
        role: "operator".into(),
    };
    let started = Instant::now();
    match yibao_enrollment::app::duplicates::scan_duplicates(&store, y, "", &actor).await {
        Ok(r) => println!(
            "duplicate scan over {rows} enrolments: {:.1} s; {} enrolments of candidates examined, {} tasks opened; peak resident memory of this process {} MiB",
            started.elapsed().as_secs_f64(),
            r.scanned,
            r.opened,
            peak_rss_kib() / 1024
        ),
        Err(e) => eprintln!("scan: {e}"),
    }
}

/// Peak resident set size of this process (VmHWM), KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("eligibility") => eligibility().await,
        Some("import") => import().await,
        Some("dupscan") => dupscan().await,
        Some("settle") => settle().await,
        Some("interface") => interface::interface().await,
        Some("faults") => std::process::exit(faults::run().await),
        _ => eprintln!(
            "usage: yibao-load eligibility|import|dupscan|settle|interface|faults [options]"
        ),
    }
}
