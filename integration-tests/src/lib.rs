//! Harness for the integration tests: starts the whole suite in-process on free ports —
//! on SQLite, or on fresh PostgreSQL databases and Redis when `YIBAO_TEST_DATABASE_URL` and
//! `YIBAO_TEST_REDIS_URL` are set (as `scripts/test.sh` does) — and calls it over real HTTP
//! and gRPC.

use serde_json::Value;
use std::net::SocketAddr;

pub mod cluster;
use yibao_runtime::Role;

/// A running suite and an HTTP client for it.
#[derive(Debug)]
pub struct Suite {
    /// The suite.
    pub running: yibao::Running,
    /// HTTP client.
    pub http: reqwest::Client,
    /// Gateway base URL.
    pub base: String,
    /// The suite's own Redis database, when it runs on Redis.
    pub redis: Option<RedisDb>,
    _dir: TempDir,
}

/// A Redis logical database (1–15) held by one suite of this process, emptied when taken and
/// given back when the suite is dropped.
#[derive(Debug)]
pub struct RedisDb {
    /// Its URL (`redis://host:port/<n>`).
    pub url: String,
    index: usize,
}

static REDIS_DBS: std::sync::Mutex<[bool; 16]> = std::sync::Mutex::new([false; 16]);

impl RedisDb {
    async fn take(url: &str) -> RedisDb {
        let index = {
            let mut used = REDIS_DBS.lock().unwrap_or_else(|p| p.into_inner());
            let Some(i) = (1..16).find(|i| !used[*i]) else {
                panic!("more than 15 suites at once on one Redis");
            };
            used[i] = true;
            i
        };
        let base = match url.rsplit_once('/') {
            Some((head, db)) if !db.is_empty() && db.bytes().all(|b| b.is_ascii_digit()) => head,
            _ => url.trim_end_matches('/'),
        };
        let url = format!("{base}/{index}");
        let client = redis::Client::open(url.as_str()).unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut c = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let _: () = redis::cmd("FLUSHDB")
            .query_async(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{url}: FLUSHDB: {e}"));
        RedisDb { url, index }
    }
}

impl Drop for RedisDb {
    fn drop(&mut self) {
        let mut used = REDIS_DBS.lock().unwrap_or_else(|p| p.into_inner());
        used[self.index] = false;
    }
}

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Which backends this run uses, for messages.
pub fn backend() -> &'static str {
    if std::env::var("YIBAO_TEST_DATABASE_URL").is_ok() {
        "postgres+redis"
    } else {
        "sqlite+memory"
    }
}

impl Suite {
    /// Starts a fresh suite (its own databases, keys and cache namespace).
    pub async fn start() -> Suite {
        Self::start_with(|_| {}).await
    }

    /// Starts a fresh suite after adjusting its options.
    pub async fn start_with(adjust: impl FnOnce(&mut yibao::Options)) -> Suite {
        let dir = std::env::temp_dir().join(format!("yibao-it-{}", uuid::Uuid::new_v4().simple()));
        let mut opts = yibao::Options::new(dir.clone());
        // Suites share one Redis: each gets its own key namespace.
        opts.gateway.key_prefix = format!("yibao-test-{}", uuid::Uuid::new_v4().simple());
        opts.http_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        opts.grpc_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        if let Ok(url) = std::env::var("YIBAO_TEST_DATABASE_URL") {
            opts.storage = yibao::Storage::FreshPostgres(url);
        }
        if let Ok(url) = std::env::var("YIBAO_TEST_REDIS_URL") {
            opts.redis_url = url;
        }
        adjust(&mut opts);
        // Suites of one test binary run at once on one Redis: each gets a logical database of
        // its own, emptied first, because a producer's sequence numbers are per stream (decision
        // 0008) and two suites' settlements would otherwise number into the same streams.
        let redis_db = if opts.redis_url.is_empty() {
            None
        } else {
            let db = RedisDb::take(&opts.redis_url).await;
            opts.redis_url = db.url.clone();
            Some(db)
        };
        let running = yibao::start(opts)
            .await
            .unwrap_or_else(|e| panic!("suite did not start on {}: {e}", backend()));
        let base = format!("http://{}", running.http_addr);
        Suite {
            running,
            http: reqwest::Client::new(),
            base,
            redis: redis_db,
            _dir: TempDir(dir),
        }
    }

    /// A token.
    pub fn token(&self, role: Role, org: &str, region: &str) -> String {
        self.running.token(role, org, region)
    }

    /// An operator of a region.
    pub fn operator(&self, region: &str) -> String {
        self.token(Role::Operator, "", region)
    }

    /// A hospital.
    pub fn hospital(&self, code: &str) -> String {
        self.token(Role::Hospital, code, "")
    }

    /// A REST call: (status, JSON body).
    pub async fn call(
        &self,
        method: http::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call_with(method, path, token, body, &[]).await.0
    }

    /// A REST call with extra headers: ((status, body), response headers).
    pub async fn call_with(
        &self,
        method: http::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> ((u16, Value), reqwest::header::HeaderMap) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        ((status, json), headers)
    }

    /// POST with a token, expecting 200.
    pub async fn ok(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, json) = self
            .call(http::Method::POST, path, Some(token), Some(body))
            .await;
        assert_eq!(status, 200, "POST {path} answered {status}: {json}");
        json
    }

    /// GET with a token, expecting 200.
    pub async fn get_ok(&self, path: &str, token: &str) -> Value {
        let (status, json) = self.call(http::Method::GET, path, Some(token), None).await;
        assert_eq!(status, 200, "GET {path} answered {status}: {json}");
        json
    }

    /// Stops the suite.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// Completes 17 digits with a GB 11643 check character.
pub fn id_number(first17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(W)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first17}{check}")
}

/// This year.
pub fn this_year() -> i32 {
    use chrono::Datelike;
    chrono::Utc::now().year()
}

/// Registers, enrols and (optionally) pays for a person in `region` for this year;
/// returns (person_id, enrolment_id).
pub async fn enrolled_person(
    s: &Suite,
    op: &str,
    id: &str,
    region: &str,
    pay: bool,
) -> (String, String) {
    let year = this_year();
    let _ = s.call(http::Method::POST, "/v1/contribution-standards", Some(op), Some(serde_json::json!({"region_code": region, "year": year, "scheme": "SCHEME_RESIDENT", "individual_amount_fen": 38000, "waiting_days": 30}))).await;
    let p = s
        .ok(
            "/v1/persons",
            op,
            serde_json::json!({"id_number": id, "name": "测试", "region_code": region}),
        )
        .await;
    let person_id = p["person"]["person_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let e = s.ok("/v1/enrolments", op, serde_json::json!({"person_id": person_id, "year": year, "scheme": "SCHEME_RESIDENT", "region_code": region, "enrolled_on": format!("{}-12-01", year - 1)})).await;
    let enrolment_id = e["enrolment"]["enrolment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if pay {
        s.ok(&format!("/v1/enrolments/{enrolment_id}/contributions"), op, serde_json::json!({"kind": "CONTRIBUTION_KIND_PAYMENT", "amount_fen": 38000, "paid_on": format!("{}-12-02", year - 1), "reference": format!("r-{id}")})).await;
    }
    (person_id, enrolment_id)
}

/// Value as str or "".
pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// An int64 of canonical proto JSON (a string) or a plain number; 0 when absent.
pub fn n(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_default()
}

/// Whole yuan in fen.
pub const fn yuan(y: i64) -> i64 {
    y * 100
}

/// The insurance physician [`register_institution`] registers at `institution`: `D`, the
/// institution's region and a sequence made of its own (`H34152200001` → `D341522000001`).
pub fn physician_of(institution: &str) -> String {
    let region = institution.get(1..7).unwrap_or("000000");
    let seq = institution.get(7..12).unwrap_or("00000");
    format!("D{region}0{seq}")
}

/// Registers `institution` (`H…` a hospital, `P…` a pharmacy) in enrollment's registry with
/// `grade` (`1`, `2`, `3`, `ungraded`) and `tier` (`township` … `province`) from 2000, an
/// agreement from 2000 to 2099 covering both schemes and every medical service (a pharmacy's:
/// pharmacy purchases), and its physician [`physician_of`], through the gateway as an operator
/// of the institution's region. Safe to call again.
pub async fn register_institution(s: &Suite, institution: &str, grade: &str, tier: &str) {
    let (kind, services) = if institution.starts_with('P') {
        ("pharmacy", "pharmacy")
    } else {
        ("hospital", "inpatient;outpatient;chronic")
    };
    register(s, institution, kind, grade, tier, services).await;
}

/// Registers `institution` as a care institution (护理院, ungraded, county tier) with an
/// agreement from 2000 to 2099 covering long-term care (`ltc`) only, and a physician, as
/// [`register_institution`] does: long-term care admits only the registry's designated
/// providers. Safe to call again.
pub async fn register_care_institution(s: &Suite, institution: &str) {
    register(
        s,
        institution,
        "care_institution",
        "ungraded",
        "county",
        "ltc",
    )
    .await;
}

async fn register(
    s: &Suite,
    institution: &str,
    kind: &str,
    grade: &str,
    tier: &str,
    services: &str,
) {
    let region = institution.get(1..7).unwrap_or("000000");
    let op = s.operator(region);
    let csv = format!(
        "institution_code,name,kind,grade,tier,effective_from,agreement_no,agreement_from,agreement_to,schemes,service_kinds\n\
         {institution},测试机构 {institution},{kind},{grade},{tier},2000-01-01,A-{institution},2000-01-01,2099-12-31,resident;employee,{services}\n"
    );
    let out = s
        .ok(
            "/v1/institutions:import",
            &op,
            serde_json::json!({"region_code": region, "csv": csv}),
        )
        .await;
    assert_eq!(
        out["stored"],
        serde_json::json!(true),
        "roster of {institution}: {out}"
    );
    let csv = format!(
        "physician_code,name,institution_code\n{},测试医师,{institution}\n",
        physician_of(institution)
    );
    let out = s
        .ok(
            "/v1/physicians:import",
            &op,
            serde_json::json!({"region_code": region, "csv": csv}),
        )
        .await;
    assert_eq!(
        out["stored"],
        serde_json::json!(true),
        "physician of {institution}: {out}"
    );
}
