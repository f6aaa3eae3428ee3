//! The gRPC server skeleton every service shares: authentication of every call (except
//! health and reflection), `grpc.health.v1`, reflection from the descriptor set, and graceful
//! shutdown that drains in-flight calls on SIGTERM or SIGINT. Every call (but health and
//! reflection) is observed ([`AuthLayer`]): a server span `<rpc.service>/<rpc.method>`
//! continuing the caller's W3C trace context, the RED metrics of [`crate::metrics`] and one
//! request log line ([`crate::telemetry::log_request`]). A service binary also serves its
//! metrics on `metrics.listen` ([`serve_service`]).

use crate::auth::Verifier;
use crate::error::ApiError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::net::TcpListener;
use tonic::service::Routes;
use tracing::Instrument as _;

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; draining");
}

/// Adds health (all `names` serving, plus the overall "" status) and reflection to `routes`.
pub async fn with_health_and_reflection(
    mut routes: tonic::service::RoutesBuilder,
    names: &[&str],
) -> Result<Routes, tonic_reflection::server::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in names {
        reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    // grpc.health.v1 is listed too, so `grpcurl list` shows every service that answers.
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(yibao_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(yibao_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    routes
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    Ok(routes.routes())
}

/// Serves `routes` on `listener` until `shutdown` resolves, authenticating every call.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    verifier: Verifier,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .layer(AuthLayer { verifier })
        .layer(crate::tenancy::TenancyLayer)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// Verifies the bearer token of every call, checks the caller's role against the called
/// method's `access` rule in the contracts ([`crate::access::AccessTable`], deny by default),
/// and puts the [`crate::auth::Caller`] into the request extensions (tonic hands them on to
/// the handler). Health and reflection are open (and neither traced nor counted).
///
/// It also observes every other call, refused ones included: the server span (continuing the
/// `traceparent` of the request; the handler runs inside it, with [`current_component`] set, so
/// its database statements and client calls are its children), the server-side RED metrics
/// when the response ends, the span's `rpc.grpc.status_code` and error status, and the request
/// log line.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    /// The verifier.
    pub verifier: Verifier,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// See [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    verifier: Verifier,
}

/// True for paths that need no token.
pub fn is_open_path(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.")
}

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if is_open_path(req.uri().path()) {
            return Box::pin(inner.call(req));
        }
        let call = ServerCall::start(req.uri().path(), req.headers());
        let header = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let checked = self.verifier.verify_header(header).and_then(|caller| {
            crate::access::AccessTable::contracts().check(req.uri().path(), &caller)?;
            Ok(caller)
        });
        let call = match checked {
            Ok(caller) => {
                let call = call.caller(&caller);
                req.extensions_mut().insert(caller);
                call
            }
            Err(e) => {
                let status: tonic::Status = ApiError::from(e).into();
                call.finish(status.code());
                return Box::pin(async move { Ok(status.into_http()) });
            }
        };
        let span = call.span.clone();
        let component = call.component;
        let fut = COMPONENT.scope(component, inner.call(req)).instrument(span);
        Box::pin(async move {
            let resp = fut.await?;
            let header_code = grpc_status(resp.headers());
            Ok(resp.map(|body| {
                tonic::body::Body::new(Observed::new(body, header_code, move |code| {
                    call.finish(code)
                }))
            }))
        })
    }
}

tokio::task_local! {
    /// The component whose call is being served in this task (client calls are counted under it).
    static COMPONENT: &'static str;
}

/// The component (`settlement`, …) whose call this task serves; `unknown` outside a call.
pub fn current_component() -> &'static str {
    COMPONENT.try_with(|c| *c).unwrap_or("unknown")
}

/// The key of a service (`settlement`) from its gRPC name, as a label; `other` for names outside
/// the suite.
pub fn component_of(grpc_service: &str) -> &'static str {
    crate::upstream::SERVICES
        .iter()
        .find(|s| s.grpc_name == grpc_service)
        .map_or("other", |s| s.key)
}

/// The `grpc-status` of a response's headers (a trailers-only answer), if there.
pub fn grpc_status(headers: &http::HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<i32>().ok())
        .map(tonic::Code::from_i32)
}

/// One call being served: its span, start, and caller.
struct ServerCall {
    span: tracing::Span,
    component: &'static str,
    method: String,
    started: std::time::Instant,
    role: &'static str,
    org: String,
}

impl ServerCall {
    fn start(path: &str, headers: &http::HeaderMap) -> ServerCall {
        let (service, method) = crate::telemetry::split_grpc_path(path);
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
            enduser.role = tracing::field::Empty,
        );
        crate::telemetry::extract(headers, &span);
        ServerCall {
            span,
            component: component_of(service),
            method: format!("{service}/{method}"),
            started: std::time::Instant::now(),
            role: "",
            org: String::new(),
        }
    }

    fn caller(mut self, caller: &crate::auth::Caller) -> ServerCall {
        self.role = caller.role.as_str();
        self.org = caller.org.clone();
        self.span.record("enduser.role", self.role);
        self
    }

    fn finish(self, code: tonic::Code) {
        let elapsed = self.started.elapsed();
        let method = self.method.rsplit('/').next().unwrap_or_default();
        crate::metrics::record_rpc(
            self.component,
            crate::metrics::Side::Server,
            self.component,
            method,
            code,
            elapsed,
        );
        crate::telemetry::record_grpc_code(
            &self.span,
            code,
            crate::telemetry::is_server_error(code),
        );
        crate::telemetry::log_request(
            &self.span,
            &crate::telemetry::RequestLog {
                component: self.component,
                method: &self.method,
                role: self.role,
                org: &self.org,
                code,
                elapsed,
                http: None,
            },
        );
    }
}

/// A response body that calls `on_end` once with the call's gRPC code: from the trailers, from
/// the headers of a trailers-only answer, or `CANCELLED` when dropped before its end.
pub(crate) struct Observed<F: FnOnce(tonic::Code)> {
    inner: tonic::body::Body,
    header_code: Option<tonic::Code>,
    on_end: Option<F>,
}

impl<F: FnOnce(tonic::Code)> Observed<F> {
    pub(crate) fn new(
        inner: tonic::body::Body,
        header_code: Option<tonic::Code>,
        on_end: F,
    ) -> Observed<F> {
        Observed {
            inner,
            header_code,
            on_end: Some(on_end),
        }
    }

    fn end(&mut self, code: tonic::Code) {
        if let Some(f) = self.on_end.take() {
            f(code);
        }
    }
}

impl<F: FnOnce(tonic::Code)> Drop for Observed<F> {
    fn drop(&mut self) {
        let code = self.header_code.unwrap_or(tonic::Code::Cancelled);
        self.end(code);
    }
}

impl<F: FnOnce(tonic::Code) + Unpin> http_body::Body for Observed<F> {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    this.end(code);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(status))) => {
                this.end(status.code());
                Poll::Ready(Some(Err(status)))
            }
            Poll::Ready(None) => {
                let code = this.header_code.unwrap_or(tonic::Code::Unknown);
                this.end(code);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The verified caller of a request (put there by [`AuthLayer`]).
pub fn caller<T>(req: &tonic::Request<T>) -> Result<crate::auth::Caller, tonic::Status> {
    req.extensions()
        .get::<crate::auth::Caller>()
        .cloned()
        .ok_or_else(|| ApiError::from(crate::auth::AuthError::MissingToken).into())
}

/// A tonic interceptor for clients: forwards the caller's token and the trace context.
#[derive(Debug, Clone, Default)]
pub struct Forward {
    /// `authorization` value to forward (the original caller's bearer token).
    pub authorization: Option<http::HeaderValue>,
}

impl tonic::service::Interceptor for Forward {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        crate::upstream::forward_metadata(req.metadata_mut(), self.authorization.as_ref());
        Ok(req)
    }
}

/// Why a service could not start (the binary prints it and exits 1, or 64 for configuration).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The cache could not be reached.
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// The bus could not be reached.
    #[error(transparent)]
    Bus(#[from] crate::bus::BusError),
    /// The database could not be reached or migrated.
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
}

impl From<StartError> for String {
    fn from(e: StartError) -> String {
        e.to_string()
    }
}

/// What a service needs from its surroundings, whether it runs as its own binary or inside
/// the all-in-one `yibao`: its database, the cache, the bus and the other services' addresses.
#[derive(Debug, Clone)]
pub struct ServiceDeps {
    /// The service's own database.
    pub database: crate::config::DatabaseConfig,
    /// Redis or in-process cache.
    pub cache: std::sync::Arc<dyn crate::cache::Cache>,
    /// Redis Streams or in-process bus.
    pub bus: std::sync::Arc<dyn crate::bus::Bus>,
    /// Where the other services listen.
    pub upstreams: crate::config::Upstreams,
    /// Secrets of the services that need one, by configuration key
    /// (`enrollment.voucher_secret`).
    pub secrets: std::collections::BTreeMap<String, String>,
    /// How a producing service's outbox relay runs (`events.*`).
    pub relay: crate::outbox::RelayConfig,
}

impl ServiceDeps {
    /// Connects the cache and bus named by `settings` (Redis, or in-process when no URL is set).
    pub async fn from_settings(
        settings: &crate::config::ServiceSettings,
    ) -> Result<ServiceDeps, StartError> {
        Ok(ServiceDeps {
            database: settings.database.clone(),
            cache: crate::cache::from_config(&settings.redis).await?,
            bus: crate::bus::from_config(&settings.redis).await?,
            upstreams: settings.upstreams.clone(),
            secrets: Default::default(),
            relay: settings.events.relay(),
        })
    }

    /// The secret under configuration key `key`; refused naming the key when it is missing
    /// or shorter than `min_len`.
    pub fn secret(&self, key: &str, min_len: usize) -> Result<&str, crate::config::ConfigError> {
        match self.secrets.get(key) {
            Some(s) if s.len() >= min_len => Ok(s),
            _ => Err(crate::config::ConfigError::invalid(
                key,
                format!("must be at least {min_len} characters"),
            )),
        }
    }
}

/// The body of every service binary's `main`: validate the settings, start telemetry, then
/// either apply migrations (`<binary> migrate`) or build the service and serve it with health,
/// reflection and authentication until SIGTERM. Exits 64 on bad configuration, 1 on failure.
pub async fn run_binary<S, Fut, Mig>(
    binary: &str,
    service_name: &'static str,
    settings: &crate::config::ServiceSettings,
    migrate: Mig,
    build: impl FnOnce(ServiceDeps) -> Fut,
) where
    S: tonic::server::NamedService + Clone + Send + Sync + 'static,
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        >,
    S::Future: Send + 'static,
    Fut: Future<Output = Result<S, String>>,
    Mig: Future<Output = Result<(), sea_orm::DbErr>>,
{
    let exit_config = |msg: &str| -> ! {
        eprintln!("{binary}: {msg}");
        std::process::exit(crate::config::EXIT_BAD_CONFIG)
    };
    let fail = |msg: &str| -> ! {
        eprintln!("{binary}: {msg}");
        std::process::exit(1)
    };
    settings
        .validate()
        .unwrap_or_else(|e| exit_config(&e.to_string()));
    let _telemetry = crate::telemetry::init(binary, &settings.telemetry)
        .unwrap_or_else(|e| exit_config(&e.to_string()));
    if std::env::args().nth(1).as_deref() == Some("migrate") {
        migrate.await.unwrap_or_else(|e| fail(&e.to_string()));
        tracing::info!("{binary}: migrations applied");
        return;
    }
    let mut deps = ServiceDeps::from_settings(settings)
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    let component = component_of(service_name);
    deps.cache = crate::metrics::counted_cache(component, deps.cache);
    let svc = build(deps).await.unwrap_or_else(|e| fail(&e));
    let verifier = Verifier::from_config(&settings.auth)
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    let listener = TcpListener::bind(&settings.grpc.listen)
        .await
        .unwrap_or_else(|e| fail(&format!("bind {}: {e}", settings.grpc.listen)));
    // Metrics are not worth refusing to serve for: a taken port is logged and served without.
    let metrics = match settings.metrics.listen.as_str() {
        "" => None,
        addr => match TcpListener::bind(addr).await {
            Ok(l) => {
                tracing::info!(listen = %addr, "{binary}: metrics on http://{addr}/metrics");
                Some(l)
            }
            Err(e) => {
                tracing::error!(listen = %addr, error = %e, "{binary}: metrics.listen cannot be bound; serving without a metrics endpoint");
                None
            }
        },
    };
    tracing::info!(listen = %settings.grpc.listen, "{binary} serving {service_name}");
    serve_service(
        svc,
        service_name,
        listener,
        metrics,
        verifier,
        shutdown_signal(),
    )
    .await
    .unwrap_or_else(|e| fail(&e));
}

/// Serves one service on `grpc` with health, reflection, authentication and observation, and
/// the process's metrics on `metrics` (`GET /metrics`), until `shutdown` resolves: what a
/// service binary runs once it is built ([`run_binary`]).
pub async fn serve_service<S>(
    svc: S,
    service_name: &'static str,
    grpc: TcpListener,
    metrics: Option<TcpListener>,
    verifier: Verifier,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String>
where
    S: tonic::server::NamedService + Clone + Send + Sync + 'static,
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        >,
    S::Future: Send + 'static,
{
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(svc);
    let routes = with_health_and_reflection(routes, &[service_name])
        .await
        .map_err(|e| e.to_string())?;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let metrics_task = metrics.map(|l| {
        tokio::spawn(crate::metrics::serve(l, async move {
            let _ = stop_rx.wait_for(|v| *v).await;
        }))
    });
    let served = serve(grpc, routes, verifier, shutdown).await;
    let _ = stop_tx.send(true);
    if let Some(t) = metrics_task {
        let _ = t.await;
    }
    served.map_err(|e| e.to_string())
}

/// Loads a binary's settings (defaults → `$YIBAO_CONFIG` → `YIBAO__…`), exiting 64 when they
/// do not parse.
pub fn load_settings<T: serde::Serialize + serde::de::DeserializeOwned + Default>(
    binary: &str,
) -> T {
    crate::config::load(&T::default()).unwrap_or_else(|e| {
        eprintln!("{binary}: {e}");
        std::process::exit(crate::config::EXIT_BAD_CONFIG)
    })
}
