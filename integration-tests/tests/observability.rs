//! Observability end to end, shaped like production: the five services each on their own gRPC
//! port with their own metrics endpoint (`yibao_runtime::server::serve_service`, what every
//! service binary runs), the gateway in front, all exporting to a small in-process OTLP/gRPC
//! receiver (opentelemetry-proto's `TraceService` and `MetricsService`), JSON logs captured.
//!
//! - A REST settle carrying a W3C `traceparent` is one trace: the caller's span → the gateway's
//!   server span → its client span → settlement's server span → settlement's client spans →
//!   enrollment's and procurement's server spans, each the child of the one before, with the
//!   database statements below settlement's span and the outbox's producer span; supervision's
//!   and ltc's consumer spans of the claim event link back to that producer span. A request
//!   without a `traceparent` starts a trace of its own; health checks are not traced.
//! - Every service's metrics endpoint parses with a strict Prometheus text-format parser and
//!   has the RED series (server and client side) and the outbox, lag and dead-letter gauges;
//!   OTLP metrics arrive at the receiver.
//! - The request log lines name the trace, the caller's role and organisation, and the code;
//!   no log line of the run holds an ID number or a name in clear.
//!
//! The services share one process here, so one registry: every endpoint serves every
//! component's series (a service binary's endpoint serves its own), and the test checks each
//! endpoint for the series of its own component. On PostgreSQL and the Redis cache when
//! `YIBAO_TEST_DATABASE_URL` / `YIBAO_TEST_REDIS_URL` are set, else SQLite and in-process; the
//! bus is in-process either way (see `MiniCluster::start`).

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use yibao_integration_tests::cluster::Cluster;
use yibao_integration_tests::{TempDir, id_number, physician_of, s, this_year};
use yibao_runtime::Role;
use yibao_runtime::config::{DatabaseConfig, Upstreams};
use yibao_runtime::server::ServiceDeps;

/// What the receiver was sent.
#[derive(Debug, Default)]
struct Received {
    spans: Vec<Span>,
    metric_names: std::collections::BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
struct Receiver(Arc<Mutex<Received>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut got = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for rs in request.into_inner().resource_spans {
            for ss in rs.scope_spans {
                got.spans.extend(ss.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut got = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for rm in request.into_inner().resource_metrics {
            for sm in rm.scope_metrics {
                got.metric_names
                    .extend(sm.metrics.into_iter().map(|m| m.name));
            }
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// The captured log output.
#[derive(Debug, Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {l}"))
            })
            .collect()
    }
}

/// The receiver and the telemetry of this process, set up once.
fn telemetry() -> &'static (Receiver, Logs, SocketAddr) {
    static T: OnceLock<(Receiver, Logs, SocketAddr)> = OnceLock::new();
    T.get_or_init(|| {
        let receiver = Receiver::default();
        let logs = Logs::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let serving = receiver.clone();
        // Its own runtime and thread: the receiver outlives every test's runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
                let _ = tx.send(addr);
                let _ = tonic::transport::Server::builder()
                    .add_service(TraceServiceServer::new(serving.clone()))
                    .add_service(MetricsServiceServer::new(serving))
                    .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                    .await;
            });
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("OTLP receiver: {e}"));
        (receiver, logs, addr)
    })
}

/// Telemetry guard of the process (spans flush on drop; kept for the process's life).
static GUARD: OnceLock<Mutex<Option<yibao_runtime::telemetry::TelemetryGuard>>> = OnceLock::new();

fn init_telemetry() -> (Receiver, Logs) {
    let (receiver, logs, addr) = telemetry().clone();
    GUARD.get_or_init(|| {
        let cfg = yibao_runtime::config::TelemetryConfig {
            otlp_endpoint: format!("http://{addr}"),
            log_format: "json".into(),
            log_level: "info".into(),
        };
        let writer = logs.clone();
        let opts = yibao_runtime::telemetry::Options {
            metrics_interval: Duration::from_millis(500),
            span_batch_delay: Duration::from_millis(100),
            ..Default::default()
        }
        .with_writer(move || writer.clone());
        let guard = yibao_runtime::telemetry::init_with("yibao-observability-test", &cfg, opts)
            .unwrap_or_else(|e| panic!("telemetry: {e}"));
        Mutex::new(Some(guard))
    });
    (receiver, logs)
}

/// The five services and the gateway, each service on its own ports.
struct MiniCluster {
    client: Cluster,
    metrics: Vec<(&'static str, SocketAddr)>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dir: TempDir,
}

async fn database(dir: &std::path::Path, service: &str) -> DatabaseConfig {
    match std::env::var("YIBAO_TEST_DATABASE_URL") {
        Ok(base) => DatabaseConfig {
            url: yibao_runtime::db::create_fresh_postgres(&base, &format!("yibao_obs_{service}"))
                .await
                .unwrap_or_else(|e| panic!("{service} database: {e}")),
            max_connections: 8,
        },
        Err(_) => DatabaseConfig::sqlite(&dir.join(format!("{service}.db"))),
    }
}

async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"))
}

fn addr(l: &tokio::net::TcpListener) -> SocketAddr {
    l.local_addr().unwrap_or_else(|e| panic!("{e}"))
}

impl MiniCluster {
    async fn start() -> MiniCluster {
        let dir = std::env::temp_dir().join(format!("yibao-obs-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let keys =
            yibao_runtime::auth::DevKeys::load_or_create(&dir).unwrap_or_else(|e| panic!("{e}"));
        let verifier = keys
            .verifier(yibao::ISSUER, yibao::AUDIENCE)
            .unwrap_or_else(|e| panic!("{e}"));
        let redis = yibao_runtime::config::RedisConfig {
            url: std::env::var("YIBAO_TEST_REDIS_URL").unwrap_or_default(),
        };
        let cache = yibao_runtime::cache::from_config(&redis)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // The bus is in-process even on a Redis run: the stream and group names are fixed, so
        // on the Redis the other suites share this run's consumers would meet their events and
        // sequence numbers. (The trace context's field on Redis: bus.rs's tests.)
        let bus: Arc<dyn yibao_runtime::bus::Bus> = Arc::new(yibao_runtime::bus::MemoryBus::new());
        let keys_in_order = [
            "enrollment",
            "settlement",
            "ltc",
            "procurement",
            "supervision",
        ];
        let mut grpc = BTreeMap::new();
        let mut metrics_listeners = BTreeMap::new();
        for k in keys_in_order {
            grpc.insert(k, listener().await);
            metrics_listeners.insert(k, listener().await);
        }
        let url = |k: &str| format!("http://{}", addr(&grpc[k]));
        let upstreams = Upstreams {
            enrollment: url("enrollment"),
            settlement: url("settlement"),
            ltc: url("ltc"),
            procurement: url("procurement"),
            supervision: url("supervision"),
        };
        let metrics: Vec<(&'static str, SocketAddr)> = keys_in_order
            .iter()
            .map(|k| (*k, addr(&metrics_listeners[k])))
            .collect();
        let mut deps = BTreeMap::new();
        for k in keys_in_order {
            deps.insert(
                k,
                ServiceDeps {
                    database: database(&dir, k).await,
                    cache: yibao_runtime::metrics::counted_cache(k, Arc::clone(&cache)),
                    bus: Arc::clone(&bus),
                    upstreams: upstreams.clone(),
                    secrets: Default::default(),
                    relay: Default::default(),
                },
            );
        }
        let mut take = |k: &str| deps.remove(k).unwrap_or_else(|| panic!("{k}"));
        let mut enrollment = take("enrollment");
        enrollment.secrets.insert(
            yibao_enrollment::VOUCHER_SECRET_KEY.into(),
            "0123456789abcdef0123456789abcdef".into(),
        );
        let (stop, rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        let mut tasks = Vec::new();
        macro_rules! serve {
            ($key:literal, $name:expr, $svc:expr) => {{
                let svc = $svc.await.unwrap_or_else(|e| panic!("{}: {e}", $key));
                let g = grpc.remove($key).unwrap_or_else(|| panic!("{}", $key));
                let m = metrics_listeners.remove($key);
                let v = verifier.clone();
                let stop = stopped(rx.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(e) =
                        yibao_runtime::server::serve_service(svc, $name, g, m, v, stop).await
                    {
                        panic!("{}: {e}", $key);
                    }
                }));
            }};
        }
        serve!(
            "enrollment",
            yibao_enrollment::SERVICE_NAME,
            yibao_enrollment::build(enrollment)
        );
        serve!(
            "settlement",
            yibao_settlement::SERVICE_NAME,
            yibao_settlement::build(take("settlement"))
        );
        serve!(
            "ltc",
            yibao_ltc::SERVICE_NAME,
            yibao_ltc::build(take("ltc"))
        );
        serve!(
            "procurement",
            yibao_procurement::SERVICE_NAME,
            yibao_procurement::build(take("procurement"))
        );
        serve!(
            "supervision",
            yibao_supervision::SERVICE_NAME,
            yibao_supervision::build(take("supervision"))
        );
        let http = listener().await;
        let base = format!("http://{}", addr(&http));
        let settings = yibao_gateway::GatewaySettings {
            listen: addr(&http).to_string(),
            key_prefix: format!("yibao-obs-{}", uuid::Uuid::new_v4().simple()),
            ..Default::default()
        };
        let gateway = yibao_gateway::Gateway::new(&upstreams, verifier, cache, settings)
            .await
            .unwrap_or_else(|e| panic!("gateway: {e}"));
        let stop_gateway = stopped(rx);
        tasks.push(tokio::spawn(async move {
            let _ = gateway.serve(http, stop_gateway).await;
        }));
        let client =
            Cluster::new(&base, &dir, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
        MiniCluster {
            client,
            metrics,
            stop,
            tasks,
            _dir: TempDir(dir),
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

const HUOQIU: &str = "341522";
const ANHUI: &str = "340000";
const CITY_HOSPITAL: &str = "H34150200001";
const PATIENT_NAME: &str = "观测甲";

/// A poor resident of Huoqiu, enrolled and paid this year, under this year's policy, and the
/// city hospital in the registry with its physician; returns the ID number.
async fn poor_resident(c: &Cluster, first17: &str) -> String {
    let y = this_year();
    let op = c.token(Role::Operator, "", ANHUI);
    let roster = format!(
        "institution_code,name,kind,grade,tier,effective_from,agreement_no,agreement_from,agreement_to,schemes,service_kinds\n\
         {CITY_HOSPITAL},六安市人民医院,hospital,3,city,2000-01-01,LA-1,2000-01-01,2099-12-31,resident,inpatient\n"
    );
    c.ok(
        "/v1/institutions:import",
        &op,
        json!({"region_code": ANHUI, "csv": roster}),
    )
    .await;
    let physicians = format!(
        "physician_code,name,institution_code\n{},观测医师,{CITY_HOSPITAL}\n",
        physician_of(CITY_HOSPITAL)
    );
    c.ok(
        "/v1/physicians:import",
        &op,
        json!({"region_code": ANHUI, "csv": physicians}),
    )
    .await;
    let got = c
        .get_ok(
            &format!("/v1/policies/341522-2018-resident?region_code={HUOQIU}"),
            &op,
        )
        .await;
    let mut doc: Value = serde_json::from_str(s(&got["document_json"])).unwrap_or(Value::Null);
    let scheme = s(&doc["scheme"]).to_string();
    doc["id"] = json!(format!("{HUOQIU}-{y}-{scheme}"));
    doc["version"] = json!(1);
    doc["year"] = json!(y);
    doc["effective_from"] = json!(format!("{y}-01-01"));
    c.ok(
        "/v1/policies",
        &op,
        json!({"region_code": HUOQIU, "document_json": doc.to_string()}),
    )
    .await;
    let _ = c
        .post(
            "/v1/contribution-standards",
            &op,
            json!({"region_code": HUOQIU, "year": y, "scheme": "SCHEME_RESIDENT", "individual_amount_fen": 38000, "waiting_days": 30}),
            None,
        )
        .await;
    let id = id_number(first17);
    let p = c
        .ok(
            "/v1/persons",
            &op,
            json!({"id_number": id, "name": PATIENT_NAME, "region_code": HUOQIU}),
        )
        .await;
    let pid = s(&p["person"]["person_id"]).to_string();
    let e = c.ok("/v1/enrolments", &op, json!({"person_id": pid, "year": y, "scheme": "SCHEME_RESIDENT", "region_code": HUOQIU, "enrolled_on": format!("{}-12-01", y - 1)})).await;
    let eid = s(&e["enrolment"]["enrolment_id"]).to_string();
    c.ok(&format!("/v1/enrolments/{eid}/contributions"), &op, json!({"kind": "CONTRIBUTION_KIND_PAYMENT", "amount_fen": 38000, "paid_on": format!("{}-12-02", y - 1), "reference": format!("obs-{eid}")})).await;
    c.ok(
        &format!("/v1/persons/{pid}/categories"),
        &op,
        json!({"category": "PERSON_CATEGORY_POVERTY_REGISTERED", "valid_from": "2016-01-01"}),
    )
    .await;
    id
}

fn inpatient(encounter: &str, id: &str) -> Value {
    let y = this_year();
    let item = |code: &str, class: &str, fen: i64| json!({"national_code": code, "name": code, "item_class": class, "quantity": 1, "unit_price_fen": fen, "amount_fen": fen});
    json!({"claim": {
        "institution_code": CITY_HOSPITAL, "encounter_no": encounter, "id_number": id, "insured_region_code": HUOQIU,
        "kind": "ENCOUNTER_KIND_INPATIENT", "attending_physician_code": physician_of(CITY_HOSPITAL),
        "start_date": format!("{y}-06-10"), "end_date": format!("{y}-06-15"), "diagnoses": ["I10.x00x002"],
        "items": [item("B-DRUGS", "ITEM_CLASS_B", 4_000_000), item("A-SERVICES", "ITEM_CLASS_A", 10_000_000)]
    }})
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn attr_str(span: &Span, key: &str) -> String {
    match attr(span, key) {
        Some(AnyValue::StringValue(v)) => v.clone(),
        Some(AnyValue::IntValue(v)) => v.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// The spans of `trace` received so far.
fn spans_of(receiver: &Receiver, trace: &str) -> Vec<Span> {
    receiver
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .spans
        .iter()
        .filter(|s| hex(&s.trace_id) == trace)
        .cloned()
        .collect()
}

/// The spans as an indented tree of `name (kind)`, children below their parent.
fn tree(spans: &[Span]) -> String {
    fn walk(spans: &[Span], parent: &[u8], depth: usize, out: &mut String) {
        let mut children: Vec<&Span> = spans
            .iter()
            .filter(|s| s.parent_span_id == parent)
            .collect();
        children.sort_by_key(|s| s.start_time_unix_nano);
        for c in children {
            let kind = SpanKind::try_from(c.kind).map_or("?", |k| k.as_str_name());
            out.push_str(&format!("{}{} ({kind})\n", "  ".repeat(depth), c.name));
            walk(spans, &c.span_id, depth + 1, out);
        }
    }
    let ids: std::collections::BTreeSet<&[u8]> =
        spans.iter().map(|s| s.span_id.as_slice()).collect();
    let mut out = String::new();
    let mut roots: Vec<&[u8]> = spans
        .iter()
        .filter(|s| !ids.contains(s.parent_span_id.as_slice()))
        .map(|s| s.parent_span_id.as_slice())
        .collect();
    roots.sort();
    roots.dedup();
    for r in roots {
        out.push_str(&format!("(caller {})\n", hex(r)));
        walk(spans, r, 1, &mut out);
    }
    out
}

/// The one span named `name` of `kind` among `spans`.
fn one<'a>(spans: &'a [Span], name: &str, kind: SpanKind) -> &'a Span {
    let found: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == name && s.kind == kind as i32)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {kind:?} span {name}; the trace has: {:?}",
        spans.iter().map(|s| (&s.name, s.kind)).collect::<Vec<_>>()
    );
    found[0]
}

/// Waits until `done` holds for what the receiver got, or panics after 20 s with `what`.
async fn eventually(receiver: &Receiver, what: &str, done: impl Fn(&Received) -> bool) {
    let started = Instant::now();
    loop {
        if done(&receiver.0.lock().unwrap_or_else(|p| p.into_inner())) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A series: the family's name and its labels other than `le`.
type Series = (String, Vec<(String, String)>);

/// A strict parser of the Prometheus text exposition format 0.0.4: `# HELP` and `# TYPE`
/// before a family's samples, types `counter`/`gauge`/`histogram`, metric and label names by
/// the format's grammar, quoted and escaped label values, no duplicate label, float values,
/// every sample belonging to the family last typed (histograms: `_bucket` with `le`, `_sum`,
/// `_count`, buckets ascending and cumulative, `+Inf` equal to `_count`).
fn parse_prometheus(text: &str) -> Result<Vec<Sample>, String> {
    fn name_ok(n: &str, label: bool) -> bool {
        let mut chars = n.chars();
        let first = chars.next();
        let head = |c: char| c.is_ascii_alphabetic() || c == '_' || (!label && c == ':');
        first.is_some_and(head) && chars.all(|c| head(c) || c.is_ascii_digit())
    }
    fn value(v: &str) -> Result<f64, String> {
        match v {
            "+Inf" => Ok(f64::INFINITY),
            "-Inf" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            _ => v.parse::<f64>().map_err(|e| format!("value `{v}`: {e}")),
        }
    }
    let mut out = Vec::new();
    let mut family: Option<(String, String)> = None;
    let mut helped: Option<String> = None;
    let mut seen_families = std::collections::BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').unwrap_or((rest, ""));
            if !name_ok(name, false) {
                return Err(at("bad metric name".into()));
            }
            helped = Some(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without type".into()))?;
            if !matches!(
                kind,
                "counter" | "gauge" | "histogram" | "summary" | "untyped"
            ) {
                return Err(at(format!("unknown type {kind}")));
            }
            if helped.as_deref() != Some(name) {
                return Err(at("TYPE without its HELP".into()));
            }
            if !seen_families.insert(name.to_string()) {
                return Err(at("family typed twice".into()));
            }
            family = Some((name.to_string(), kind.to_string()));
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (head, val) = line.rsplit_once(' ').ok_or_else(|| at("no value".into()))?;
        let (name, labels_text) = match head.split_once('{') {
            Some((n, rest)) => (
                n,
                rest.strip_suffix('}')
                    .ok_or_else(|| at("unclosed labels".into()))?,
            ),
            None => (head, ""),
        };
        if !name_ok(name, false) {
            return Err(at("bad metric name".into()));
        }
        let mut labels = BTreeMap::new();
        let mut rest = labels_text;
        while !rest.is_empty() {
            let (lname, after) = rest
                .split_once("=\"")
                .ok_or_else(|| at("label without =\"".into()))?;
            if !name_ok(lname, true) {
                return Err(at(format!("bad label name {lname}")));
            }
            let mut v = String::new();
            let mut chars = after.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => v.push('\n'),
                        Some((_, '\\')) => v.push('\\'),
                        Some((_, '"')) => v.push('"'),
                        _ => return Err(at("bad escape".into())),
                    },
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => v.push(c),
                }
            }
            let end = end.ok_or_else(|| at("unterminated label value".into()))?;
            if labels.insert(lname.to_string(), v).is_some() {
                return Err(at(format!("label {lname} twice")));
            }
            rest = &after[end + 1..];
            rest = match rest.strip_prefix(',') {
                Some(r) => r,
                None if rest.is_empty() => rest,
                None => return Err(at("labels not separated by ,".into())),
            };
        }
        let value = value(val).map_err(at)?;
        let (fam, kind) = family
            .as_ref()
            .ok_or_else(|| at("sample before any TYPE".into()))?;
        let belongs = match kind.as_str() {
            "histogram" => {
                name == format!("{fam}_sum")
                    || name == format!("{fam}_count")
                    || (name == format!("{fam}_bucket") && labels.contains_key("le"))
            }
            _ => name == fam,
        };
        if !belongs {
            return Err(at(format!("sample outside its family {fam}")));
        }
        if kind == "counter" && value < 0.0 {
            return Err(at("negative counter".into()));
        }
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    // Histograms: per series, buckets ascending and cumulative, +Inf = _count.
    let mut buckets: BTreeMap<Series, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for smp in &out {
        let mut key: Vec<(String, String)> = smp
            .labels
            .iter()
            .filter(|(k, _)| *k != "le")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        key.sort();
        if let Some(base) = smp.name.strip_suffix("_bucket") {
            let le = value(&smp.labels["le"])?;
            buckets
                .entry((base.to_string(), key))
                .or_default()
                .push((le, smp.value));
        } else if let Some(base) = smp.name.strip_suffix("_count") {
            counts.insert((base.to_string(), key), smp.value);
        }
    }
    for (series, bs) in &buckets {
        if !bs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1) {
            return Err(format!("{series:?}: buckets not ascending and cumulative"));
        }
        match (bs.last(), counts.get(series)) {
            (Some((le, n)), Some(count)) if le.is_infinite() && n == count => {}
            _ => {
                return Err(format!(
                    "{series:?}: +Inf bucket missing or not equal to _count"
                ));
            }
        }
    }
    Ok(out)
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

async fn scrape(addr: SocketAddr) -> String {
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap_or_else(|e| panic!("metrics at {addr}: {e}"));
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        resp.headers()
    );
    resp.text().await.unwrap_or_default()
}

/// 18-character ID numbers (17 digits and a digit or X) with a valid GB 11643 check character,
/// standing alone (not inside a longer run of digits or hex).
fn id_numbers_in(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    for i in 0..b.len().saturating_sub(17) {
        let w = &b[i..i + 18];
        let digits =
            w[..17].iter().all(u8::is_ascii_digit) && (w[17].is_ascii_digit() || w[17] == b'X');
        let alone = (i == 0 || !alnum(b[i - 1])) && b.get(i + 18).is_none_or(|c| !alnum(*c));
        if digits && alone {
            let cand = String::from_utf8_lossy(w).into_owned();
            if id_number(&cand[..17]) == cand {
                found.push(cand);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_settlement_is_one_trace_every_service_exposes_red_metrics_and_logs_hold_no_id_numbers()
{
    let (receiver, logs) = init_telemetry();
    let mini = MiniCluster::start().await;
    let c = &mini.client;
    // A fresh valid ID number of Huoqiu (a PostgreSQL run's databases are fresh, but be safe).
    let n = uuid::Uuid::new_v4().as_u128();
    let first17 = format!(
        "3415221958{:02}{:02}{:03}",
        1 + n % 12,
        1 + n / 12 % 28,
        n / 336 % 1000
    );
    let id = poor_resident(c, &first17).await;

    // The caller's trace: a REST settle carrying its traceparent.
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let caller_span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let h = c.token(Role::Hospital, CITY_HOSPITAL, "");
    let encounter = format!("OBS-{}", &trace[..8]);
    let resp = c
        .http
        .post(format!("{}/v1/claims:settle", c.base))
        .bearer_auth(&h)
        .header("traceparent", format!("00-{trace}-{caller_span}-01"))
        .header("idempotency-key", &encounter)
        .json(&inpatient(&encounter, &id))
        .send()
        .await
        .unwrap_or_else(|e| panic!("settle: {e}"));
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{body}");
    // Then a call without one, and the gateway's health probe of every service.
    let (status, _) = c
        .post("/v1/eligibility:check", &h, json!({"id_number": id}), None)
        .await;
    assert_eq!(status, 200);
    // Every service serves a call of its own (ltc's and supervision's dead letters).
    let admin = c.token(Role::Admin, "", "");
    for path in ["/v1/ltc/dead-letters", "/v1/supervision/dead-letters"] {
        c.get_ok(path, &admin).await;
    }
    let ready = c
        .http
        .get(format!("{}/readyz", c.base))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(ready, 200);

    // The trace, hop by hop.
    let settle = "yibao.settlement.v1.SettlementService/Settle";
    let eligibility = "yibao.enrollment.v1.EnrollmentService/GetSettlementFacts";
    let catalogue = "yibao.procurement.v1.ProcurementService/ResolveCatalogue";
    let produce = "create yibao.settlement.claims";
    let consume = "process yibao.settlement.claims";
    eventually(&receiver, "the settlement's spans", |r| {
        let spans: Vec<&Span> = r
            .spans
            .iter()
            .filter(|s| hex(&s.trace_id) == trace)
            .collect();
        [settle, eligibility, catalogue, produce]
            .iter()
            .all(|n| spans.iter().filter(|s| s.name == *n).count() >= 1)
            && spans.iter().filter(|s| s.name == eligibility).count() >= 2
            && spans.iter().filter(|s| s.name == catalogue).count() >= 2
            && spans.iter().any(|s| s.name == "POST /v1/claims:settle")
    })
    .await;
    let spans = spans_of(&receiver, &trace);
    eprintln!("the settlement's trace {trace}:\n{}", tree(&spans));
    let gw = one(&spans, "POST /v1/claims:settle", SpanKind::Server);
    assert_eq!(
        hex(&gw.parent_span_id),
        caller_span,
        "the gateway continues the caller's span"
    );
    assert_eq!(attr_str(gw, "http.route"), "/v1/claims:settle");
    assert_eq!(attr_str(gw, "http.request.method"), "POST");
    assert_eq!(attr_str(gw, "http.response.status_code"), "200");
    let gw_client = one(&spans, settle, SpanKind::Client);
    assert_eq!(gw_client.parent_span_id, gw.span_id);
    let settlement = one(&spans, settle, SpanKind::Server);
    assert_eq!(settlement.parent_span_id, gw_client.span_id);
    assert_eq!(attr_str(settlement, "rpc.system"), "grpc");
    assert_eq!(
        attr_str(settlement, "rpc.service"),
        "yibao.settlement.v1.SettlementService"
    );
    assert_eq!(attr_str(settlement, "rpc.method"), "Settle");
    assert_eq!(attr_str(settlement, "rpc.grpc.status_code"), "0");
    // The gateway's span covers the whole request.
    assert!(gw.start_time_unix_nano <= settlement.start_time_unix_nano);
    assert!(gw.end_time_unix_nano >= settlement.end_time_unix_nano);
    for (rpc, service) in [(eligibility, "enrollment"), (catalogue, "procurement")] {
        let client = one(&spans, rpc, SpanKind::Client);
        assert_eq!(
            client.parent_span_id, settlement.span_id,
            "{service}: settlement's client span"
        );
        let server = one(&spans, rpc, SpanKind::Server);
        assert_eq!(
            server.parent_span_id, client.span_id,
            "{service} continues the client span"
        );
    }
    let db: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id == settlement.span_id && !attr_str(s, "db.system").is_empty())
        .collect();
    assert!(
        !db.is_empty(),
        "settlement's database statements are spans below its own"
    );
    assert!(db.iter().all(|s| s.kind == SpanKind::Client as i32));
    if std::env::var("YIBAO_TEST_REDIS_URL").is_ok() {
        // The gateway's Idempotency-Key claim is a Redis command below its span.
        let redis: Vec<&Span> = spans
            .iter()
            .filter(|s| attr_str(s, "db.system") == "redis")
            .collect();
        assert!(
            redis
                .iter()
                .any(|s| s.name == "SET" && s.parent_span_id == gw.span_id),
            "the gateway's Redis calls are client spans below its own:\n{}",
            tree(&spans)
        );
        assert!(redis.iter().all(
            |s| s.kind == SpanKind::Client as i32 && attr_str(s, "db.operation.name") == s.name
        ));
    }
    let producer = one(&spans, produce, SpanKind::Producer);
    assert_eq!(producer.parent_span_id, settlement.span_id);
    // No health check was traced, and the call without a traceparent is a trace of its own.
    eventually(&receiver, "the eligibility check's spans", |r| {
        r.spans
            .iter()
            .any(|s| s.name == "POST /v1/eligibility:check")
    })
    .await;
    {
        let got = receiver.0.lock().unwrap_or_else(|p| p.into_inner());
        assert!(
            !got.spans.iter().any(|s| s.name.starts_with("grpc.health")),
            "health checks are not traced"
        );
        let check = got
            .spans
            .iter()
            .find(|s| s.name == "POST /v1/eligibility:check")
            .unwrap_or_else(|| panic!("eligibility span"));
        assert!(
            check.parent_span_id.is_empty(),
            "a request without traceparent is a root"
        );
        assert_ne!(hex(&check.trace_id), trace);
    }
    // Supervision's and ltc's processing of the claim event link back to the settlement.
    eventually(
        &receiver,
        "the consumers' spans linked to the settlement",
        |r| {
            let linked: std::collections::BTreeSet<String> = r
                .spans
                .iter()
                .filter(|s| s.name == consume && s.links.iter().any(|l| hex(&l.trace_id) == trace))
                .map(|s| attr_str(s, "messaging.consumer.group.name"))
                .collect();
            linked.contains("supervision") && linked.contains("ltc-hospital-stays")
        },
    )
    .await;
    {
        let got = receiver.0.lock().unwrap_or_else(|p| p.into_inner());
        for s in got
            .spans
            .iter()
            .filter(|s| s.name == consume && s.links.iter().any(|l| hex(&l.trace_id) == trace))
        {
            assert_eq!(s.kind, SpanKind::Consumer as i32);
            assert_ne!(
                hex(&s.trace_id),
                trace,
                "the consumer's span is a trace of its own"
            );
            assert!(
                s.links.iter().any(|l| l.span_id == producer.span_id),
                "linked to the producer span"
            );
        }
        // Supervision's processing of the event is below its consumer span: the batch's
        // database statements are its children.
        let supervision = got
            .spans
            .iter()
            .find(|s| {
                s.name == consume
                    && attr_str(s, "messaging.consumer.group.name") == "supervision"
                    && s.links.iter().any(|l| hex(&l.trace_id) == trace)
            })
            .unwrap_or_else(|| panic!("supervision's consumer span"));
        assert!(
            got.spans
                .iter()
                .any(|s| s.parent_span_id == supervision.span_id
                    && s.trace_id == supervision.trace_id
                    && !attr_str(s, "db.system").is_empty()),
            "supervision's statements are below its consumer span"
        );
    }

    // Every service's metrics endpoint: strict text format, RED series, the gauges.
    tokio::time::sleep(Duration::from_secs(6)).await; // the gauges are sampled every 5 s
    for (component, addr) in &mini.metrics {
        let text = scrape(*addr).await;
        let samples = parse_prometheus(&text).unwrap_or_else(|e| panic!("{component}: {e}"));
        let server = [
            ("component", *component),
            ("side", "server"),
            ("service", *component),
        ];
        let requests = find(&samples, "yibao_rpc_requests_total", &server);
        assert!(!requests.is_empty(), "{component}: server-side requests");
        assert!(
            requests
                .iter()
                .all(|s| s.labels.contains_key("method") && s.labels.contains_key("code"))
        );
        assert!(
            !find(&samples, "yibao_rpc_duration_seconds_bucket", &server).is_empty(),
            "{component}: server-side latency"
        );
        assert!(
            !find(
                &samples,
                "yibao_db_pool_connections",
                &[("component", *component)]
            )
            .is_empty()
                || *component == "enrollment",
            "{component}: database pool"
        );
    }
    let text = scrape(mini.metrics[0].1).await;
    let all = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e}"));
    let settled = find(
        &all,
        "yibao_rpc_requests_total",
        &[
            ("component", "settlement"),
            ("side", "server"),
            ("method", "Settle"),
            ("code", "OK"),
        ],
    );
    assert!(settled.iter().any(|s| s.value >= 1.0), "{settled:?}");
    for (service, method) in [
        ("enrollment", "GetSettlementFacts"),
        ("procurement", "ResolveCatalogue"),
    ] {
        let client = [
            ("component", "settlement"),
            ("side", "client"),
            ("service", service),
            ("method", method),
        ];
        assert!(
            find(
                &all,
                "yibao_rpc_requests_total",
                &[client[0], client[1], client[2], client[3], ("code", "OK")]
            )
            .iter()
            .any(|s| s.value >= 1.0),
            "settlement's calls to {service} are counted"
        );
        assert!(!find(&all, "yibao_rpc_duration_seconds_count", &client).is_empty());
    }
    assert!(
        !find(
            &all,
            "yibao_rpc_requests_total",
            &[
                ("component", "gateway"),
                ("side", "server"),
                ("service", "settlement"),
                ("method", "Settle")
            ]
        )
        .is_empty()
    );
    for p in ["settlement", "ltc", "procurement", "supervision"] {
        assert_eq!(
            find(&all, "yibao_outbox_backlog", &[("component", p)]).len(),
            1,
            "{p} backlog"
        );
        assert_eq!(
            find(&all, "yibao_outbox_oldest_age_seconds", &[("component", p)]).len(),
            1,
            "{p} age"
        );
    }
    for (group, stream) in [
        ("supervision", "yibao.settlement.claims"),
        ("supervision", "yibao.ltc.claims"),
        ("supervision", "yibao.procurement.inventory"),
        ("ltc-hospital-stays", "yibao.settlement.claims"),
        ("enrollment-sanctions", "yibao.supervision.sanctions"),
    ] {
        assert_eq!(
            find(
                &all,
                "yibao_stream_lag",
                &[("group", group), ("stream", stream)]
            )
            .len(),
            1,
            "lag of {group} on {stream}"
        );
    }
    for group in ["supervision", "ltc-hospital-stays"] {
        let dead = find(&all, "yibao_dead_letters", &[("group", group)]);
        assert_eq!(dead.len(), 1, "dead letters of {group}");
        assert_eq!(dead[0].value, 0.0);
        assert!(
            find(
                &all,
                "yibao_events_handled_total",
                &[("group", group), ("outcome", "acked")]
            )
            .iter()
            .any(|s| s.value >= 1.0),
            "{group} handled the claim event"
        );
    }
    assert!(
        !find(
            &all,
            "yibao_cache_requests_total",
            &[("component", "enrollment")]
        )
        .is_empty(),
        "enrollment's cache reads are counted"
    );
    // The same metrics went out over OTLP.
    eventually(&receiver, "OTLP metrics", |r| {
        [
            "yibao_rpc_requests_total",
            "yibao_rpc_duration_seconds",
            "yibao_outbox_backlog",
            "yibao_stream_lag",
        ]
        .iter()
        .all(|n| r.metric_names.contains(*n))
    })
    .await;

    // The request log: one line per request per hop, in the trace, with the caller; and no
    // ID number or name in clear anywhere in the run's logs.
    let lines = logs.lines();
    if std::env::var_os("YIBAO_OBS_DUMP_LOGS").is_some() {
        for l in &lines {
            eprintln!("{l}");
        }
    }
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "yibao::request" && l["trace_id"] == trace.as_str())
        .collect();
    for component in ["gateway", "settlement", "enrollment", "procurement"] {
        let mine: Vec<&&Value> = requests
            .iter()
            .filter(|l| l["component"] == component)
            .collect();
        assert!(
            !mine.is_empty(),
            "{component} logged the settlement's request: {requests:?}"
        );
        for l in mine {
            assert_eq!(l["level"], "INFO");
            assert_eq!(l["role"], "hospital", "{l}");
            assert_eq!(l["org"], CITY_HOSPITAL, "{l}");
            assert_eq!(l["code"], "OK", "{l}");
            assert_eq!(s(&l["span_id"]).len(), 16, "{l}");
            assert!(l["duration_ms"].as_f64().is_some(), "{l}");
            assert!(s(&l["method"]).starts_with("yibao."), "{l}");
        }
    }
    let gateway_line = requests
        .iter()
        .find(|l| l["component"] == "gateway")
        .unwrap_or_else(|| panic!("gateway line"));
    assert_eq!(gateway_line["http_route"], "/v1/claims:settle");
    assert_eq!(gateway_line["http_status"], 200);
    assert_eq!(gateway_line["span_id"], hex(&gw.span_id).as_str());
    let raw =
        String::from_utf8_lossy(&logs.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(!raw.contains(&id), "the patient's ID number is in the logs");
    assert!(
        !raw.contains(PATIENT_NAME),
        "the patient's name is in the logs"
    );
    let mut leaked = Vec::new();
    for l in &lines {
        let mut l = l.clone();
        if let Some(o) = l.as_object_mut() {
            o.remove("trace_id");
            o.remove("span_id");
        }
        leaked.extend(id_numbers_in(&l.to_string()));
    }
    assert!(
        leaked.is_empty(),
        "ID numbers in clear in the logs: {leaked:?}"
    );
    assert!(lines.len() > 20, "the run logged: {}", lines.len());

    mini.stop().await;
}

#[test]
fn the_parser_refuses_what_prometheus_refuses() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"a\\\"b\"} 3\n";
    assert_eq!(parse_prometheus(ok).map(|s| s.len()), Ok(1));
    for bad in [
        "a_total 1\n",
        "# HELP a A.\n# TYPE a counter\nb 1\n",
        "# HELP a A.\n# TYPE a counter\na{x=\"1\",x=\"2\"} 1\n",
        "# HELP a A.\n# TYPE a counter\na{x=1} 1\n",
        "# HELP a A.\n# TYPE a counter\na one\n",
        "# HELP a A.\n# TYPE a gauge\na{1x=\"v\"} 1\n",
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n",
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nh_sum 1\n",
    ] {
        assert!(parse_prometheus(bad).is_err(), "{bad}");
    }
    assert_eq!(
        id_numbers_in(&format!("x {} y", id_number("34152219580312002"))).len(),
        1
    );
    assert!(id_numbers_in("4bf92f3577b34da6a3ce929d0e0e4736").is_empty());
}
