//! The Yibao API gateway: the one door for hospitals, insurers and operators.
//!
//! - REST/JSON served by a transcoder driven by the contracts' `google.api.http` annotations
//!   ([`catalog`], [`transcode`]); gRPC passed through for high-volume partners ([`proxy`]);
//!   both on one port.
//! - Deny by default: every call needs a valid JWT and one of the roles its RPC declares
//!   (`yibao.common.v1.access`); organisation-scoped callers reach only their own
//!   organisation's records, region-scoped callers only their region prefix ([`edge`]).
//! - Request ids, `Idempotency-Key` on writes, a rate limit per caller, a body-size limit,
//!   deadlines, `/healthz`, `/readyz`, `/metrics`, `/openapi.json` and `/schemas/policy.json`.

pub mod catalog;
pub mod edge;
pub mod error;
pub mod fsi;
pub mod metrics;
pub mod openapi;
pub mod proxy;
pub mod replay;
pub mod rules;
pub mod sealed;
pub mod transcode;
pub mod upstream;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt as _;
use yibao_runtime::cache::Cache;
use yibao_runtime::config::{
    AuthConfig, RedisConfig, TelemetryConfig, Upstreams as UpstreamsConfig,
};

/// `[gateway]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewaySettings {
    /// Listen address for REST and gRPC.
    pub listen: String,
    /// Calls per caller per minute.
    pub rate_limit_per_minute: u32,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Deadline of an upstream call.
    pub request_timeout_ms: u64,
    /// Prefix of the gateway's keys in Redis (deployments sharing a Redis use different ones).
    pub key_prefix: String,
    /// Secret the idempotency records' keys are derived from (`sealed`): every replica of a
    /// deployment has the same. Empty: derived from the request alone (a reader of Redis who
    /// guesses a client's `Idempotency-Key` could then open its record).
    #[serde(default)]
    pub idempotency_secret: String,
    /// `[gateway.interface]`: the national interface (`/fsi/api/rsfComIfsService/callService`).
    #[serde(default)]
    pub interface: fsi::InterfaceSettings,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            listen: "0.0.0.0:8080".into(),
            rate_limit_per_minute: 60_000,
            max_body_bytes: 4 * 1024 * 1024,
            request_timeout_ms: 10_000,
            key_prefix: "yibao".into(),
            idempotency_secret: String::new(),
            interface: fsi::InterfaceSettings::default(),
        }
    }
}

/// Settings of the gateway binary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    /// `[gateway]`.
    pub gateway: GatewaySettings,
    /// `[redis]`: idempotency keys and rate limits (in-process when empty).
    pub redis: RedisConfig,
    /// `[telemetry]`.
    pub telemetry: TelemetryConfig,
    /// `[auth]`.
    pub auth: AuthConfig,
    /// `[upstreams]`.
    pub upstreams: UpstreamsConfig,
}

/// Everything a request needs.
#[derive(Clone)]
pub struct Gateway {
    /// Routes and access rules.
    pub catalog: Arc<catalog::Catalog>,
    /// Service channels.
    pub upstreams: upstream::Upstreams,
    /// Token verification.
    pub verifier: yibao_runtime::Verifier,
    /// Idempotency keys and rate-limit counters.
    pub cache: Arc<dyn Cache>,
    /// Limits.
    pub settings: GatewaySettings,
    /// RED metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// The national interface's key and caches.
    pub interface: Arc<fsi::Interface>,
    openapi: Arc<Vec<u8>>,
    open_grpc: tonic::service::Routes,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("routes", &self.catalog.by_path.len())
            .finish()
    }
}

impl Gateway {
    /// Builds the gateway from its parts.
    pub async fn new(
        upstreams: &UpstreamsConfig,
        verifier: yibao_runtime::Verifier,
        cache: Arc<dyn Cache>,
        settings: GatewaySettings,
    ) -> Result<Gateway, String> {
        let catalog = catalog::Catalog::from_descriptor_set(yibao_proto::FILE_DESCRIPTOR_SET)?;
        let openapi =
            serde_json::to_vec_pretty(&openapi::generate(&catalog)).map_err(|e| e.to_string())?;
        let open_grpc = yibao_runtime::server::with_health_and_reflection(
            tonic::service::RoutesBuilder::default(),
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
        let interface = Arc::new(fsi::Interface::new(settings.interface.clone()));
        Ok(Gateway {
            catalog: Arc::new(catalog),
            upstreams: upstream::Upstreams::new(upstreams)?,
            verifier,
            cache,
            settings,
            metrics: Arc::default(),
            interface,
            openapi: Arc::new(openapi),
            open_grpc,
        })
    }

    /// The HTTP application.
    pub fn router(self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics_text))
            .route("/openapi.json", get(openapi_json))
            .route("/schemas/policy.json", get(policy_schema))
            .route(fsi::PATH, axum::routing::post(national_interface))
            .route(
                &format!("{}/{{infno}}", fsi::PATH),
                axum::routing::post(national_interface),
            )
            .fallback(dispatch)
            .with_state(self)
            .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
            .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
                tower_http::request_id::MakeRequestUuid,
            ))
    }

    /// Serves until `shutdown` resolves, draining in-flight requests.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

async fn openapi_json(State(g): State<Gateway>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        g.openapi.as_ref().clone(),
    )
        .into_response()
}

/// The JSON Schema (draft 2020-12) of a policy document, settlement's `UploadPolicy`
/// `document_json` (settlement's `policies/policy-schema.json`, kept in step with its types by
/// settlement's `tests/policy_schema.rs`; `docs/policy-format.md` explains it).
pub const POLICY_SCHEMA_JSON: &str = include_str!("../../settlement/policies/policy-schema.json");

async fn policy_schema() -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/schema+json")],
        POLICY_SCHEMA_JSON,
    )
        .into_response()
}

async fn metrics_text(State(g): State<Gateway>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        g.metrics.render(),
    )
        .into_response()
}

/// Ready when every service answers its health check. The cache is reported but does not make
/// the gateway unready: without it writes go on unrecorded (the services' own keys deduplicate
/// them) and the rate limit lets calls through, so taking the gateway out of rotation during a
/// Redis outage would only turn a degraded service into none.
async fn readyz(State(g): State<Gateway>) -> Response {
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    for (key, channel) in g.upstreams.all() {
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        let probe = client.check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        let state = match tokio::time::timeout(Duration::from_secs(1), probe).await {
            Ok(Ok(r))
                if r.get_ref().status
                    == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 =>
            {
                "serving".to_string()
            }
            Ok(Ok(_)) => "not serving".to_string(),
            Ok(Err(e)) => format!("error: {}", e.message()),
            Err(_) => "timeout".to_string(),
        };
        ready &= state == "serving";
        checks.insert(key.clone(), serde_json::Value::String(state));
    }
    let cache = match g
        .cache
        .set("yibao:readyz", b"1".to_vec(), Duration::from_secs(5))
        .await
    {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("unavailable (idempotency records and rate limits suspended): {e}"),
    };
    checks.insert("cache".into(), serde_json::Value::String(cache));
    let status = if ready {
        http::StatusCode::OK
    } else {
        http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({"ready": ready, "checks": checks})),
    )
        .into_response()
}

/// The national interface (decision 0012): observed like every request (span, RED metrics
/// as `fsi.<infno>`, request log line), its body read through the same limit.
async fn national_interface(State(g): State<Gateway>, req: Request) -> Response {
    let gateway = g.clone();
    let max = g.settings.max_body_bytes;
    let req = req.map(|b| Body::new(http_body_util::Limited::new(b, max)));
    edge::observe(&g, req, false, move |req| fsi::serve(gateway, req)).await
}

fn is_grpc(req: &Request) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

async fn dispatch(State(g): State<Gateway>, req: Request) -> Response {
    if is_grpc(&req) && yibao_runtime::server::is_open_path(req.uri().path()) {
        // Health and reflection: answered here, not traced.
        return match g.open_grpc.clone().oneshot(req).await {
            Ok(r) => r.map(Body::new),
            Err(e) => edge::problem(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                &e.to_string(),
                "",
                None,
            ),
        };
    }
    // One span for the whole request, continuing the caller's trace (edge::observe).
    let grpc = is_grpc(&req);
    let gateway = g.clone();
    // Bodies are read through a limit of `gateway.max_body_bytes` inside the request's span, so
    // a refused body is traced, counted and logged like any other answer.
    let max = g.settings.max_body_bytes;
    let req = req.map(|b| Body::new(http_body_util::Limited::new(b, max)));
    edge::observe(&g, req, grpc, move |req| async move {
        if grpc {
            proxy::grpc(gateway, req).await
        } else {
            edge::rest(gateway, req).await
        }
    })
    .await
}
