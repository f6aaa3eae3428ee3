//! Logs, traces and the metrics push: `tracing` to stdout (text, or JSON lines carrying the
//! trace and span ids), spans built as OpenTelemetry spans always (so the W3C trace context
//! `traceparent` travels through every hop and every log line can name its trace) and exported
//! over OTLP/gRPC when `telemetry.otlp_endpoint` is set, together with the process's metrics
//! ([`crate::metrics::push_otlp`]).
//!
//! The spans Yibao makes, named and attributed after the OpenTelemetry semantic conventions:
//! - the gateway's server span per request, `POST /v1/claims:settle` (HTTP route) or
//!   `yibao.settlement.v1.SettlementService/Settle` (gRPC), and its client span per call to a
//!   service;
//! - each service's server span per call ([`crate::server`]) and client span per call it makes
//!   to another service ([`crate::upstream::Channel`]): `rpc.system`, `rpc.service`,
//!   `rpc.method`, `rpc.grpc.status_code`, an error status for the server-side codes;
//! - the database statements and transactions as client spans with `db.system` (sea-orm's
//!   `sea_orm.query_all`, `sea_orm.execute`, `sea_orm.begin`, `sea_orm.commit` …) below the
//!   span that ran them (statements outside any request — the relay's, the consumers' — start no
//!   trace of their own);
//! - each Redis command of the cache (`GET`, `SET`, `DEL`, `INCR`) as a client span with
//!   `db.system` `redis` and `db.operation.name`, below the span that issued it (none outside
//!   one);
//! - the outbox's producer span `create <stream>` when a use case writes events, whose context
//!   each event carries ([`current_traceparent`]), and a consumer's span `process <stream>` per
//!   delivery, linked to the spans of the events' producers ([`crate::inbox`]).
//!
//! Health checks and reflection are not traced.

use crate::config::{ConfigError, TelemetryConfig};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

/// How often metrics are pushed over OTLP when an endpoint is configured.
pub const METRICS_PUSH_INTERVAL: Duration = Duration::from_secs(15);

/// Flushes spans when dropped at shutdown.
#[derive(Debug)]
pub struct TelemetryGuard(Option<SdkTracerProvider>);

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = p.force_flush();
            let _ = p.shutdown();
        }
    }
}

/// Where logs go and how often metrics are pushed ([`init_with`]).
#[derive(Debug)]
pub struct Options {
    /// The log writer (stdout).
    pub writer: BoxMakeWriter,
    /// OTLP metrics push interval ([`METRICS_PUSH_INTERVAL`]).
    pub metrics_interval: Duration,
    /// How long the span exporter waits between batches (the SDK's default: 5 s).
    pub span_batch_delay: Duration,
}

impl Options {
    /// These options with logs written to the writers `make` returns (one per event).
    pub fn with_writer<W: std::io::Write + 'static>(
        mut self,
        make: impl Fn() -> W + Send + Sync + 'static,
    ) -> Options {
        self.writer = BoxMakeWriter::new(make);
        self
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            writer: BoxMakeWriter::new(std::io::stdout),
            metrics_interval: METRICS_PUSH_INTERVAL,
            span_batch_delay: Duration::from_secs(5),
        }
    }
}

/// Installs the global subscriber and propagator, and starts the OTLP exports when an endpoint
/// is configured. Call once per process, inside the Tokio runtime.
pub fn init(service_name: &str, cfg: &TelemetryConfig) -> Result<TelemetryGuard, ConfigError> {
    init_with(service_name, cfg, Options::default())
}

/// [`init`] with the log writer and intervals given (tests capture the logs this way).
pub fn init_with(
    service_name: &str,
    cfg: &TelemetryConfig,
    opts: Options,
) -> Result<TelemetryGuard, ConfigError> {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let filter = EnvFilter::try_new(&cfg.log_level)
        .map_err(|e| ConfigError::invalid("telemetry.log_level", e.to_string()))?;
    let fmt = match cfg.log_format.as_str() {
        "json" => tracing_subscriber::fmt::layer()
            .event_format(JsonLines)
            .with_writer(opts.writer)
            .boxed(),
        "text" | "" => tracing_subscriber::fmt::layer()
            .compact()
            .with_writer(opts.writer)
            .boxed(),
        other => {
            return Err(ConfigError::invalid(
                "telemetry.log_format",
                format!("`{other}`: must be `text` or `json`"),
            ));
        }
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_string())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if !cfg.otlp_endpoint.is_empty() {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(cfg.otlp_endpoint.clone())
            .build()
            .map_err(|e| ConfigError::invalid("telemetry.otlp_endpoint", e.to_string()))?;
        let processor = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                opentelemetry_sdk::trace::BatchConfigBuilder::default()
                    .with_scheduled_delay(opts.span_batch_delay)
                    .build(),
            )
            .build();
        builder = builder.with_span_processor(processor);
        crate::metrics::push_otlp(&cfg.otlp_endpoint, service_name, opts.metrics_interval)?;
    }
    // Spans are built even without an exporter: their ids are the trace context passed on to
    // the next hop and written in the logs.
    let provider = builder.build();
    let tracer = provider.tracer(service_name.to_string());
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_threads(false)
        .with_location(false)
        .with_filter(tracing_subscriber::filter::DynFilterFn::new(|meta, cx| {
            // A database statement or Redis call outside any span (a background loop's)
            // starts no trace.
            !(meta.is_span()
                && (meta.target().starts_with("sea_orm")
                    || meta.target() == crate::cache::REDIS_SPAN_TARGET)
                && cx.lookup_current().is_none())
        }));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|e| {
            ConfigError::invalid("telemetry", format!("a logger is already installed: {e}"))
        })?;
    Ok(TelemetryGuard(Some(provider)))
}

/// One JSON object per line: `timestamp`, `level`, `target`, the event's fields (`message`
/// first) and, inside a span, its `trace_id` and `span_id`.
struct JsonLines;

struct JsonVisitor(serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for JsonVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            serde_json::Value::String(format!("{value:?}")),
        );
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = serde_json::Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        let mut fields = JsonVisitor(serde_json::Map::new());
        event.record(&mut fields);
        if let Some(m) = fields.0.remove("message") {
            line.insert("message".into(), m);
        }
        line.extend(fields.0);
        if !line.contains_key("trace_id")
            && let Some(span) = ctx.lookup_current()
            && let Some((trace_id, span_id)) = tracing::dispatcher::get_default(|d| {
                tracing_opentelemetry::get_otel_context(&span.id(), d).and_then(|cx| ids(&cx))
            })
        {
            line.insert("trace_id".into(), trace_id.into());
            line.insert("span_id".into(), span_id.into());
        }
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

/// The trace and span id (hex) of a context, when it has a valid span.
fn ids(cx: &opentelemetry::Context) -> Option<(String, String)> {
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}

/// The trace and span id (hex) of `span`; empty strings when it has none.
pub fn span_ids(span: &tracing::Span) -> (String, String) {
    ids(&span.context()).unwrap_or_default()
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// Makes `span` a child of the trace context found in `headers`, if any. Call before the span
/// is first entered.
pub fn extract(headers: &http::HeaderMap, span: &tracing::Span) {
    let cx =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// Writes the current span's trace context into outgoing `headers`.
pub fn inject(headers: &mut http::HeaderMap) {
    inject_span(&tracing::Span::current(), headers);
}

/// Writes `span`'s trace context into outgoing `headers`.
pub fn inject_span(span: &tracing::Span, headers: &mut http::HeaderMap) {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return;
    }
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeaderInjector(headers))
    });
}

/// The W3C `traceparent` of `span`; empty when it has no trace context.
pub fn traceparent(span: &tracing::Span) -> String {
    let mut headers = http::HeaderMap::new();
    inject_span(span, &mut headers);
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The W3C `traceparent` of the current span; empty outside any span.
pub fn current_traceparent() -> String {
    traceparent(&tracing::Span::current())
}

/// The span context named by a W3C `traceparent` (for a span link); `None` when it does not
/// parse.
pub fn parse_traceparent(traceparent: &str) -> Option<opentelemetry::trace::SpanContext> {
    if traceparent.is_empty() {
        return None;
    }
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        http::HeaderValue::from_str(traceparent).ok()?,
    );
    let cx =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(&headers)));
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

/// The service and method of a gRPC path `/pkg.Service/Method`.
pub fn split_grpc_path(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches('/');
    path.split_once('/').unwrap_or((path, ""))
}

/// The gRPC codes that are the server's fault (the span gets an error status): the others are
/// the caller's (OpenTelemetry's RPC conventions).
pub fn is_server_error(code: tonic::Code) -> bool {
    use tonic::Code as C;
    matches!(
        code,
        C::Unknown
            | C::DeadlineExceeded
            | C::Unimplemented
            | C::Internal
            | C::Unavailable
            | C::DataLoss
    )
}

/// Records a finished call's gRPC code on its span: `rpc.grpc.status_code`, and an error
/// status (described by the code's name only: a status message may quote the request) when
/// `error` says the code is an error for this side of the call.
pub fn record_grpc_code(span: &tracing::Span, code: tonic::Code, error: bool) {
    span.record("rpc.grpc.status_code", code as i64);
    if error {
        set_error(span, crate::metrics::code_label(code));
    }
}

/// Marks `span` as failed, described by `description` (a code or status, never a message that
/// may quote the request).
pub fn set_error(span: &tracing::Span, description: &str) {
    span.set_status(opentelemetry::trace::Status::error(description.to_string()));
}

/// What the one request log line of a call says ([`log_request`]).
#[derive(Debug, Clone, Copy)]
pub struct RequestLog<'a> {
    /// Which part of Yibao served it (`gateway`, `settlement`, …).
    pub component: &'a str,
    /// The RPC, `yibao.settlement.v1.SettlementService/Settle`.
    pub method: &'a str,
    /// The caller's role (empty when unauthenticated).
    pub role: &'a str,
    /// The caller's organisation code (empty for unscoped roles).
    pub org: &'a str,
    /// The outcome.
    pub code: tonic::Code,
    /// How long it took.
    pub elapsed: Duration,
    /// The HTTP route and status, for a REST call at the gateway.
    pub http: Option<(&'a str, u16)>,
}

/// Writes the one info line of a finished request, in `span`'s trace: trace and span id,
/// component, method, caller role and organisation, outcome and duration. Nothing the caller
/// sent is in it (no ID numbers, names or paths with values in them).
pub fn log_request(span: &tracing::Span, r: &RequestLog<'_>) {
    let (trace_id, span_id) = span_ids(span);
    let code = crate::metrics::code_label(r.code);
    // Milliseconds to the microsecond.
    let duration_ms = r.elapsed.as_micros() as f64 / 1000.0;
    span.in_scope(|| match r.http {
        Some((route, status)) => tracing::info!(
            target: "yibao::request",
            trace_id, span_id, component = r.component, method = r.method, role = r.role,
            org = r.org, code, duration_ms, http_route = route, http_status = status,
            "request"
        ),
        None => tracing::info!(
            target: "yibao::request",
            trace_id, span_id, component = r.component, method = r.method, role = r.role,
            org = r.org, code, duration_ms,
            "request"
        ),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_paths_split_into_service_and_method() {
        assert_eq!(
            split_grpc_path("/yibao.settlement.v1.SettlementService/Settle"),
            ("yibao.settlement.v1.SettlementService", "Settle")
        );
        assert_eq!(split_grpc_path("/odd"), ("odd", ""));
    }

    #[test]
    fn a_traceparent_parses_into_a_span_context_and_rubbish_does_not() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let sc = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap_or_else(|| panic!("a valid traceparent"));
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(parse_traceparent("").is_none());
        assert!(parse_traceparent("00-zz-yy-01").is_none());
    }

    #[test]
    fn only_the_servers_codes_are_errors() {
        assert!(is_server_error(tonic::Code::Internal));
        assert!(is_server_error(tonic::Code::Unavailable));
        assert!(!is_server_error(tonic::Code::InvalidArgument));
        assert!(!is_server_error(tonic::Code::NotFound));
        assert!(!is_server_error(tonic::Code::Ok));
    }
}
