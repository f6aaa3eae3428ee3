//! Metrics: one registry per process ([`global`]) that the gateway and every service record
//! into, exposed in the Prometheus text format ([`Registry::render`]; a service binary serves it
//! on `metrics.listen` with [`serve`], the gateway on `/metrics`) and pushed as OTLP metrics
//! when `telemetry.otlp_endpoint` is set ([`push_otlp`]).
//!
//! Every series says which part of Yibao recorded it in its `component` label (`gateway`,
//! `enrollment`, `settlement`, `ltc`, `procurement`, `supervision`), so the one process of
//! `yibao up` serves all of them apart. The families:
//!
//! | family | type | labels |
//! | --- | --- | --- |
//! | `yibao_rpc_requests_total` | counter | `component`, `side` (`server`/`client`), `service`, `method`, `code` |
//! | `yibao_rpc_duration_seconds` | histogram | `component`, `side`, `service`, `method` |
//! | `yibao_outbox_backlog` | gauge | `component` |
//! | `yibao_outbox_oldest_age_seconds` | gauge | `component` |
//! | `yibao_outbox_published_total` | counter | `component` |
//! | `yibao_stream_lag` | gauge | `group`, `stream` |
//! | `yibao_dead_letters` | gauge | `group` |
//! | `yibao_events_handled_total` | counter | `group`, `stream`, `outcome` |
//! | `yibao_db_pool_connections` | gauge | `component`, `state` (`in_use`/`idle`/`max`) |
//! | `yibao_cache_requests_total` | counter | `component`, `result` (`hit`/`miss`/`error`) |

use crate::cache::{Cache, CacheError};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Upper bounds of the latency histograms, in seconds.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What a family counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Set to the current value.
    Gauge,
    /// Observations in buckets with these upper bounds.
    Histogram(&'static [f64]),
}

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Counter(u64),
    Gauge(f64),
    Histogram {
        /// Per bucket, not cumulative.
        buckets: Vec<u64>,
        count: u64,
        sum: f64,
    },
}

/// One metric with its series, one per combination of label values.
#[derive(Debug)]
pub struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    series: Mutex<BTreeMap<Vec<String>, Cell>>,
}

impl Family {
    fn key(&self, values: &[&str]) -> Vec<String> {
        debug_assert_eq!(values.len(), self.labels.len(), "{}", self.name);
        let mut key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        key.resize(self.labels.len(), String::new());
        key
    }

    fn with(&self, values: &[&str], f: impl FnOnce(&mut Cell)) {
        let key = self.key(values);
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let cell = series.entry(key).or_insert_with(|| match self.kind {
            Kind::Counter => Cell::Counter(0),
            Kind::Gauge => Cell::Gauge(0.0),
            Kind::Histogram(bounds) => Cell::Histogram {
                buckets: vec![0; bounds.len()],
                count: 0,
                sum: 0.0,
            },
        });
        f(cell);
    }

    /// The family's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Adds one to a counter.
    pub fn inc(&self, values: &[&str]) {
        self.add(values, 1);
    }

    /// Adds `n` to a counter.
    pub fn add(&self, values: &[&str], n: u64) {
        self.with(values, |c| {
            if let Cell::Counter(v) = c {
                *v = v.saturating_add(n);
            }
        });
    }

    /// Sets a gauge.
    pub fn set(&self, values: &[&str], v: f64) {
        self.with(values, |c| {
            if let Cell::Gauge(g) = c {
                *g = v;
            }
        });
    }

    /// Records one observation in a histogram.
    pub fn observe(&self, values: &[&str], v: f64) {
        let Kind::Histogram(bounds) = self.kind else {
            return;
        };
        self.with(values, |c| {
            if let Cell::Histogram {
                buckets,
                count,
                sum,
            } = c
            {
                if let Some(i) = bounds.iter().position(|b| v <= *b) {
                    buckets[i] += 1;
                }
                *count += 1;
                *sum += v;
            }
        });
    }

    /// The current value of a counter or gauge series (tests, and the gauges' readers).
    pub fn value(&self, values: &[&str]) -> Option<f64> {
        let key = self.key(values);
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        match series.get(&key)? {
            Cell::Counter(v) => Some(*v as f64),
            Cell::Gauge(v) => Some(*v),
            Cell::Histogram { count, .. } => Some(*count as f64),
        }
    }

    fn snapshot(&self) -> Vec<(Vec<String>, Cell)> {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        series.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// The families of a process.
#[derive(Debug, Default)]
pub struct Registry {
    families: Mutex<Vec<Arc<Family>>>,
}

/// The process's registry.
pub fn global() -> &'static Registry {
    static GLOBAL: LazyLock<Registry> = LazyLock::new(Registry::default);
    &GLOBAL
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels_text(names: &[&str], values: &[String], extra: Option<(&str, &str)>) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect();
    if let Some((n, v)) = extra {
        parts.push(format!("{n}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

impl Registry {
    /// A registry of its own (tests); processes use [`global`].
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The family `name`, created on first use. A second call with the same name returns the
    /// first family whatever the other arguments.
    pub fn family(
        &self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &'static [&'static str],
    ) -> Arc<Family> {
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = families.iter().find(|f| f.name == name) {
            return Arc::clone(f);
        }
        let f = Arc::new(Family {
            name,
            help,
            kind,
            labels,
            series: Mutex::new(BTreeMap::new()),
        });
        families.push(Arc::clone(&f));
        f
    }

    fn families(&self) -> Vec<Arc<Family>> {
        let mut families = self
            .families
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        families.sort_by_key(|f| f.name);
        families
    }

    /// The Prometheus text exposition format (version 0.0.4) of every family.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in self.families() {
            let kind = match f.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram(_) => "histogram",
            };
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help.replace('\n', " "));
            let _ = writeln!(out, "# TYPE {} {kind}", f.name);
            for (values, cell) in f.snapshot() {
                match cell {
                    Cell::Counter(v) => {
                        let _ = writeln!(
                            out,
                            "{}{} {v}",
                            f.name,
                            labels_text(f.labels, &values, None)
                        );
                    }
                    Cell::Gauge(v) => {
                        let _ = writeln!(
                            out,
                            "{}{} {}",
                            f.name,
                            labels_text(f.labels, &values, None),
                            float(v)
                        );
                    }
                    Cell::Histogram {
                        buckets,
                        count,
                        sum,
                    } => {
                        let Kind::Histogram(bounds) = f.kind else {
                            continue;
                        };
                        let mut cumulative = 0;
                        for (b, n) in bounds.iter().zip(&buckets) {
                            cumulative += n;
                            let le = float(*b);
                            let _ = writeln!(
                                out,
                                "{}_bucket{} {cumulative}",
                                f.name,
                                labels_text(f.labels, &values, Some(("le", &le)))
                            );
                        }
                        let _ = writeln!(
                            out,
                            "{}_bucket{} {count}",
                            f.name,
                            labels_text(f.labels, &values, Some(("le", "+Inf")))
                        );
                        let plain = labels_text(f.labels, &values, None);
                        let _ = writeln!(out, "{}_sum{plain} {}", f.name, float(sum));
                        let _ = writeln!(out, "{}_count{plain} {count}", f.name);
                    }
                }
            }
        }
        out
    }
}

macro_rules! family {
    ($(#[$doc:meta])* $fn:ident, $name:literal, $help:literal, $kind:expr, [$($label:literal),*]) => {
        $(#[$doc])*
        pub fn $fn() -> &'static Family {
            static F: LazyLock<Arc<Family>> =
                LazyLock::new(|| global().family($name, $help, $kind, &[$($label),*]));
            &F
        }
    };
}

family!(
    /// `yibao_rpc_requests_total`: calls by who recorded them, side, RPC and gRPC code.
    rpc_requests,
    "yibao_rpc_requests_total",
    "gRPC calls (REST calls through the gateway count as the RPC they map to) by recording component, side (server: calls received, client: calls made), called service, method and gRPC status code.",
    Kind::Counter,
    ["component", "side", "service", "method", "code"]
);
family!(
    /// `yibao_rpc_duration_seconds`: latency of the calls counted by [`rpc_requests`].
    rpc_duration,
    "yibao_rpc_duration_seconds",
    "Latency of gRPC calls, from the request's arrival (server) or sending (client) to the end of the response.",
    Kind::Histogram(DURATION_BUCKETS),
    ["component", "side", "service", "method"]
);
family!(
    /// `yibao_outbox_backlog`.
    outbox_backlog,
    "yibao_outbox_backlog",
    "Outbox rows written but not yet published to the bus.",
    Kind::Gauge,
    ["component"]
);
family!(
    /// `yibao_outbox_oldest_age_seconds`.
    outbox_oldest_age,
    "yibao_outbox_oldest_age_seconds",
    "Age of the oldest outbox row not yet published (0 when none is waiting).",
    Kind::Gauge,
    ["component"]
);
family!(
    /// `yibao_outbox_published_total`.
    outbox_published,
    "yibao_outbox_published_total",
    "Outbox rows the relay published to the bus (replays of lost ranges not included).",
    Kind::Counter,
    ["component"]
);
family!(
    /// `yibao_stream_lag`.
    stream_lag,
    "yibao_stream_lag",
    "Events of a stream this replica's consumer group has still to handle over the partitions it owns: undelivered, unacknowledged, and announced by the producer's heartbeat but not yet arrived.",
    Kind::Gauge,
    ["group", "stream"]
);
family!(
    /// `yibao_dead_letters`.
    dead_letters,
    "yibao_dead_letters",
    "Events a consumer group set aside as dead letters and that were not yet replayed successfully.",
    Kind::Gauge,
    ["group"]
);
family!(
    /// `yibao_events_handled_total`.
    events_handled,
    "yibao_events_handled_total",
    "Events delivered to a consumer group by outcome: acked (handled), failed (to be delivered again), dead_lettered (set aside).",
    Kind::Counter,
    ["group", "stream", "outcome"]
);
family!(
    /// `yibao_db_pool_connections`.
    db_pool,
    "yibao_db_pool_connections",
    "Database pool connections by state: in_use, idle, and the pool's max.",
    Kind::Gauge,
    ["component", "state"]
);
family!(
    /// `yibao_cache_requests_total`.
    cache_requests,
    "yibao_cache_requests_total",
    "Cache reads by result: hit, miss, error (an error is served from the database like a miss).",
    Kind::Counter,
    ["component", "result"]
);

/// Name of a gRPC code as a label (`OK`, `INVALID_ARGUMENT`, …).
pub fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Which end of a call recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The call was received.
    Server,
    /// The call was made.
    Client,
}

impl Side {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

/// Records one finished call in [`rpc_requests`] and [`rpc_duration`].
pub fn record_rpc(
    component: &str,
    side: Side,
    service: &str,
    method: &str,
    code: tonic::Code,
    elapsed: Duration,
) {
    let side = side.as_str();
    rpc_requests().inc(&[component, side, service, method, code_label(code)]);
    rpc_duration().observe(&[component, side, service, method], elapsed.as_secs_f64());
}

/// The key of a service (`settlement`) from its gRPC name
/// (`yibao.settlement.v1.SettlementService`); other names as they are.
pub fn service_key(grpc_service: &str) -> &str {
    crate::upstream::SERVICES
        .iter()
        .find(|s| s.grpc_name == grpc_service)
        .map_or(grpc_service, |s| s.key)
}

/// Samples the pool of `db` into [`db_pool`] under `component` every `every`, for the life of
/// the process (until the connection is closed). A component already watched is not watched
/// twice (a service's relay and inbox share its pool).
pub fn watch_pool(component: &str, db: sea_orm::DatabaseConnection, every: Duration) {
    static WATCHED: LazyLock<Mutex<std::collections::BTreeSet<String>>> =
        LazyLock::new(Default::default);
    let fresh = WATCHED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(component.to_string());
    if !fresh {
        return;
    }
    let component = component.to_string();
    tokio::spawn(async move {
        loop {
            if !sample_pool(&component, &db) {
                WATCHED
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&component);
                return;
            }
            tokio::time::sleep(every).await;
        }
    });
}

/// Samples the pool once; false when the connection is closed.
fn sample_pool(component: &str, db: &sea_orm::DatabaseConnection) -> bool {
    use sea_orm::DbBackend;
    // A connection made by a pool (never `Disconnected`, whose backend would panic): a clone
    // of a closed connection still names its pool, which says it is closed.
    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let p = db.get_postgres_connection_pool();
            if p.is_closed() {
                return false;
            }
            (p.size(), p.num_idle(), p.options().get_max_connections())
        }
        DbBackend::Sqlite => {
            let p = db.get_sqlite_connection_pool();
            if p.is_closed() {
                return false;
            }
            (p.size(), p.num_idle(), p.options().get_max_connections())
        }
        _ => return false,
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    let pool = db_pool();
    pool.set(&[component, "in_use"], f64::from(size.saturating_sub(idle)));
    pool.set(&[component, "idle"], f64::from(idle));
    pool.set(&[component, "max"], f64::from(max));
    true
}

/// A cache that counts its reads in [`cache_requests`] under `component` and passes
/// everything to the cache it wraps.
#[derive(Debug, Clone)]
pub struct CountedCache {
    component: &'static str,
    inner: Arc<dyn Cache>,
}

/// `inner`, its reads counted under `component`.
pub fn counted_cache(component: &'static str, inner: Arc<dyn Cache>) -> Arc<dyn Cache> {
    Arc::new(CountedCache { component, inner })
}

impl Cache for CountedCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        Box::pin(async move {
            let got = self.inner.get(key).await;
            let result = match &got {
                Ok(Some(_)) => "hit",
                Ok(None) => "miss",
                Err(_) => "error",
            };
            cache_requests().inc(&[self.component, result]);
            got
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        self.inner.set(key, value, ttl)
    }

    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), CacheError>> {
        self.inner.delete(keys)
    }

    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, CacheError>> {
        self.inner.set_if_absent(key, value, ttl)
    }

    fn incr<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<i64, CacheError>> {
        self.inner.incr(key, ttl)
    }
}

/// Serves [`global`]'s exposition on `GET /metrics` (HTTP/1.1, one request per connection)
/// from `listener` until `shutdown` resolves. Anything else is answered 404.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(answer(stream));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Reads one request head (at most 8 KiB, within 5 s) and answers it.
async fn answer(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut words = line.split(|b| *b == b' ');
    let method = words.next().unwrap_or_default();
    let target = words.next().unwrap_or_default();
    let path = target.split(|b| *b == b'?').next().unwrap_or_default();
    let (status, ctype, body) = if (method == b"GET" || method == b"HEAD") && path == b"/metrics" {
        (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            global().render(),
        )
    } else {
        (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "metrics are at GET /metrics\n".to_string(),
        )
    };
    let mut resp = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != b"HEAD" {
        resp.extend_from_slice(body.as_bytes());
    }
    let _ = stream.write_all(&resp).await;
    let _ = stream.shutdown().await;
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The registry as one OTLP export request, cumulative since `start`, under the resource
/// `service.name` = `service_name`.
pub fn otlp_request(
    registry: &Registry,
    service_name: &str,
    start: SystemTime,
) -> opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, InstrumentationScope, KeyValue, any_value,
    };
    use opentelemetry_proto::tonic::metrics::v1 as pm;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    let kv = |k: &str, v: &str| KeyValue {
        key: k.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_string())),
        }),
        ..Default::default()
    };
    let (start, now) = (unix_nanos(start), unix_nanos(SystemTime::now()));
    let cumulative = pm::AggregationTemporality::Cumulative as i32;
    let mut metrics = Vec::new();
    for f in registry.families() {
        let series = f.snapshot();
        let attrs = |values: &[String]| -> Vec<KeyValue> {
            f.labels.iter().zip(values).map(|(k, v)| kv(k, v)).collect()
        };
        let number = |values: &[String], v: pm::number_data_point::Value| pm::NumberDataPoint {
            attributes: attrs(values),
            start_time_unix_nano: start,
            time_unix_nano: now,
            value: Some(v),
            ..Default::default()
        };
        let data = match f.kind {
            Kind::Counter => pm::metric::Data::Sum(pm::Sum {
                data_points: series
                    .iter()
                    .filter_map(|(k, c)| match c {
                        Cell::Counter(v) => Some(number(
                            k,
                            pm::number_data_point::Value::AsInt(
                                i64::try_from(*v).unwrap_or(i64::MAX),
                            ),
                        )),
                        _ => None,
                    })
                    .collect(),
                aggregation_temporality: cumulative,
                is_monotonic: true,
            }),
            Kind::Gauge => pm::metric::Data::Gauge(pm::Gauge {
                data_points: series
                    .iter()
                    .filter_map(|(k, c)| match c {
                        Cell::Gauge(v) => {
                            Some(number(k, pm::number_data_point::Value::AsDouble(*v)))
                        }
                        _ => None,
                    })
                    .collect(),
            }),
            Kind::Histogram(bounds) => pm::metric::Data::Histogram(pm::Histogram {
                data_points: series
                    .iter()
                    .filter_map(|(k, c)| match c {
                        Cell::Histogram {
                            buckets,
                            count,
                            sum,
                        } => {
                            // OTLP has one more bucket than bounds: the one above the last.
                            let mut counts = buckets.clone();
                            counts.push(count.saturating_sub(buckets.iter().sum::<u64>()));
                            Some(pm::HistogramDataPoint {
                                attributes: attrs(k),
                                start_time_unix_nano: start,
                                time_unix_nano: now,
                                count: *count,
                                sum: Some(*sum),
                                bucket_counts: counts,
                                explicit_bounds: bounds.to_vec(),
                                ..Default::default()
                            })
                        }
                        _ => None,
                    })
                    .collect(),
                aggregation_temporality: cumulative,
            }),
        };
        metrics.push(pm::Metric {
            name: f.name.to_string(),
            description: f.help.to_string(),
            unit: if f.name.ends_with("_seconds") {
                "s".into()
            } else {
                String::new()
            },
            data: Some(data),
            ..Default::default()
        });
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![pm::ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service_name)],
                ..Default::default()
            }),
            scope_metrics: vec![pm::ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "yibao".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Pushes [`global`] to the OTLP/gRPC collector at `endpoint` every `every`, for the life of
/// the process. A failed export is logged (at most once a minute) and the next one tried.
pub fn push_otlp(
    endpoint: &str,
    service_name: &str,
    every: Duration,
) -> Result<(), crate::config::ConfigError> {
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| crate::config::ConfigError::invalid("telemetry.otlp_endpoint", e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect_lazy();
    let service_name = service_name.to_string();
    let start = SystemTime::now();
    tokio::spawn(async move {
        let mut client = MetricsServiceClient::new(channel);
        let mut last_warning: Option<Instant> = None;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let req = otlp_request(global(), &service_name, start);
            if let Err(e) = client.export(req).await
                && last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(60))
            {
                last_warning = Some(Instant::now());
                tracing::warn!(code = ?e.code(), "OTLP metrics export failed; retrying at the next interval");
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_histograms_are_rendered_in_the_text_format() {
        let r = Registry::new();
        let c = r.family(
            "t_requests_total",
            "Calls.",
            Kind::Counter,
            &["service", "code"],
        );
        c.inc(&["enrollment", "OK"]);
        c.inc(&["enrollment", "OK"]);
        c.inc(&["enrollment", "NOT_FOUND"]);
        let g = r.family("t_backlog", "Rows.", Kind::Gauge, &["component"]);
        g.set(&["settlement"], 3.0);
        g.set(&["settlement"], 2.0);
        let h = r.family(
            "t_duration_seconds",
            "Latency.",
            Kind::Histogram(&[0.01, 0.1]),
            &["method"],
        );
        h.observe(&["Settle"], 0.003);
        h.observe(&["Settle"], 0.05);
        h.observe(&["Settle"], 7.0);
        let text = r.render();
        let expected = "\
# HELP t_backlog Rows.
# TYPE t_backlog gauge
t_backlog{component=\"settlement\"} 2
# HELP t_duration_seconds Latency.
# TYPE t_duration_seconds histogram
t_duration_seconds_bucket{method=\"Settle\",le=\"0.01\"} 1
t_duration_seconds_bucket{method=\"Settle\",le=\"0.1\"} 2
t_duration_seconds_bucket{method=\"Settle\",le=\"+Inf\"} 3
t_duration_seconds_sum{method=\"Settle\"} 7.053
t_duration_seconds_count{method=\"Settle\"} 3
# HELP t_requests_total Calls.
# TYPE t_requests_total counter
t_requests_total{service=\"enrollment\",code=\"NOT_FOUND\"} 1
t_requests_total{service=\"enrollment\",code=\"OK\"} 2
";
        assert_eq!(text, expected);
        // The same family twice is one family.
        let again = r.family("t_backlog", "other", Kind::Counter, &[]);
        assert_eq!(again.value(&["settlement"]), Some(2.0));
    }

    #[test]
    fn label_values_are_escaped() {
        let r = Registry::new();
        let g = r.family("t_g", "G.", Kind::Gauge, &["k"]);
        g.set(&["a\"b\\c\nd"], 1.0);
        assert!(r.render().contains("t_g{k=\"a\\\"b\\\\c\\nd\"} 1\n"));
    }

    #[test]
    fn the_otlp_request_carries_every_series_cumulatively() {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;
        let r = Registry::new();
        let h = r.family("t_d_seconds", "D.", Kind::Histogram(&[0.1]), &["m"]);
        h.observe(&["x"], 0.05);
        h.observe(&["x"], 5.0);
        r.family("t_c_total", "C.", Kind::Counter, &["m"])
            .add(&["x"], 4);
        let req = otlp_request(&r, "settlement", SystemTime::now());
        let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 2);
        match &metrics[0].data {
            Some(Data::Sum(s)) => {
                assert!(s.is_monotonic);
                assert_eq!(
                    s.data_points[0].value,
                    Some(
                        opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(4)
                    )
                );
            }
            other => panic!("{other:?}"),
        }
        match &metrics[1].data {
            Some(Data::Histogram(h)) => {
                assert_eq!(h.data_points[0].bucket_counts, vec![1, 1]);
                assert_eq!(h.data_points[0].explicit_bounds, vec![0.1]);
                assert_eq!(h.data_points[0].count, 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_listener_answers_get_metrics_and_nothing_else() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        rpc_requests().inc(&["test", "server", "enrollment", "CheckEligibility", "OK"]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, async {
            let _ = rx.await;
        }));
        let get = |path: &'static str| async move {
            let mut s = tokio::net::TcpStream::connect(addr)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let mut out = String::new();
            s.read_to_string(&mut out)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            out
        };
        let ok = get("/metrics").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("yibao_rpc_requests_total{component=\"test\",side=\"server\",service=\"enrollment\",method=\"CheckEligibility\",code=\"OK\"}"));
        assert!(get("/other").await.starts_with("HTTP/1.1 404"));
        let _ = tx.send(());
        let _ = server.await;
    }
}
