//! The checks every call passes at the edge — authentication, the method's roles, tenancy,
//! the rate limit — and the REST path: bind, check, honour `Idempotency-Key`, call, answer.
//!
//! Observation ([`observe`]): one server span per request covering all of it, continuing the
//! caller's W3C `traceparent` (named `POST /v1/claims:settle` after the HTTP route for REST,
//! `yibao.settlement.v1.SettlementService/Settle` for gRPC), a client span per call to a
//! service ([`call_upstream`]) whose context the service continues, the RED metrics and one
//! request log line with the caller's role and organisation.

use crate::catalog::Route;
use crate::error as codes;
use crate::sealed::RecordKeys;
use crate::{Gateway, transcode};
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use prost::Message as _;
use prost_reflect::DynamicMessage;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument as _;
use yibao_runtime::error::problem_from_status;
use yibao_runtime::{ApiError, Caller};

/// What a request's handling learns for its log line: who called, and the gRPC outcome.
#[derive(Debug, Default)]
struct Seen {
    role: &'static str,
    org: String,
    code: Option<tonic::Code>,
    /// The method label when the route does not name it (the national interface's
    /// `fsi.<infno>`, known once the body is read).
    method: Option<String>,
}

tokio::task_local! {
    static SEEN: Arc<Mutex<Seen>>;
}

fn seen(f: impl FnOnce(&mut Seen)) {
    let _ = SEEN.try_with(|s| f(&mut s.lock().unwrap_or_else(|p| p.into_inner())));
}

/// Notes, for the request's log line and span, the caller a handler outside the catalogue
/// authenticated (the national interface's institution).
pub fn note_caller(role: &'static str, org: &str) {
    seen(|s| {
        s.role = role;
        s.org = org.to_string();
    });
}

/// Notes the method label and outcome of a request a handler outside the catalogue served
/// (the national interface: `fsi.<infno>`, answered HTTP 200 whatever the outcome).
pub fn note_outcome(method: &str, code: tonic::Code) {
    seen(|s| {
        s.method = Some(method.to_string());
        s.code = Some(code);
    });
}

/// Serves one REST or gRPC request (`handle`) under the gateway's server span, then counts it
/// and writes its request log line. The span is attached to the handling (never entered
/// across an await) and named before it starts: after the HTTP route, or the gRPC method.
pub async fn observe<F, Fut>(g: &Gateway, req: Request, grpc: bool, handle: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let started = Instant::now();
    let path = req.uri().path().to_string();
    let verb = req.method().clone();
    let (span, method, route) = if grpc {
        let (service, m) = yibao_runtime::telemetry::split_grpc_path(&path);
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %format_args!("{service}/{m}"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %m,
            rpc.grpc.status_code = tracing::field::Empty,
            enduser.role = tracing::field::Empty,
        );
        (span, format!("{service}/{m}"), None)
    } else {
        let matched = g.catalog.match_rest(&verb, &path);
        let template = matched
            .as_ref()
            .map(|(b, _, _)| b.template.clone())
            .or_else(|| {
                path.starts_with(crate::fsi::PATH)
                    .then(|| crate::fsi::PATH.to_string())
            });
        let method = matched
            .as_ref()
            .map(|(_, r, _)| r.grpc_path.trim_start_matches('/').to_string())
            .unwrap_or_default();
        let name = match &template {
            Some(t) => format!("{verb} {t}"),
            None => verb.to_string(),
        };
        let span = tracing::info_span!(
            "http.server",
            otel.name = %name,
            otel.kind = "server",
            http.request.method = %verb,
            http.route = template.as_deref().unwrap_or_default(),
            http.response.status_code = tracing::field::Empty,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
            enduser.role = tracing::field::Empty,
        );
        (span, method, template)
    };
    yibao_runtime::telemetry::extract(req.headers(), &span);
    let slot = Arc::new(Mutex::new(Seen::default()));
    let resp = SEEN
        .scope(Arc::clone(&slot), handle(req).instrument(span.clone()))
        .await;
    let seen = std::mem::take(&mut *slot.lock().unwrap_or_else(|p| p.into_inner()));
    let status = resp.status().as_u16();
    let code = seen
        .code
        .or_else(|| yibao_runtime::server::grpc_status(resp.headers()))
        .unwrap_or(if resp.status().is_success() {
            tonic::Code::Ok
        } else {
            tonic::Code::Unknown
        });
    if grpc {
        yibao_runtime::telemetry::record_grpc_code(
            &span,
            code,
            yibao_runtime::telemetry::is_server_error(code),
        );
    } else {
        span.record("http.response.status_code", status);
        span.record("rpc.grpc.status_code", code as i64);
        if status >= 500 {
            yibao_runtime::telemetry::set_error(&span, &status.to_string());
        }
    }
    if !seen.role.is_empty() {
        span.record("enduser.role", seen.role);
    }
    let method = match seen.method {
        Some(m) => {
            span.record("rpc.method", m.as_str());
            m
        }
        None => method,
    };
    yibao_runtime::telemetry::log_request(
        &span,
        &yibao_runtime::telemetry::RequestLog {
            component: "gateway",
            method: &method,
            role: seen.role,
            org: &seen.org,
            code,
            elapsed: started.elapsed(),
            http: (!grpc).then_some((route.as_deref().unwrap_or_default(), status)),
        },
    );
    resp
}

/// How long an idempotency key and its recorded answer are kept.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long a key stays "in progress" before its first request is presumed lost (a gateway
/// that died mid-call): twice the upstream deadline, so a live call always finishes first.
fn pending_ttl(settings: &crate::GatewaySettings) -> Duration {
    Duration::from_millis(settings.request_timeout_ms.saturating_mul(2)).max(Duration::from_secs(1))
}

/// The digest a retried request must match: the method and the request in a canonical form.
/// The protobuf encoding is not canonical (map entries come out in hash order), so the digest
/// is taken over the proto3 JSON with object keys sorted.
pub fn request_digest(grpc_path: &str, msg: &DynamicMessage) -> String {
    use sha2::{Digest, Sha256};
    let canonical = transcode::to_json(msg)
        .ok()
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .map(|v| v.to_string())
        .unwrap_or_default();
    hex::encode(Sha256::digest(
        [grpc_path.as_bytes(), b"\n", canonical.as_bytes()].concat(),
    ))
}

/// A problem+json response.
pub fn problem(
    status: http::StatusCode,
    code: &str,
    detail: &str,
    instance: &str,
    field: Option<(&str, &str)>,
) -> Response {
    let mut body = serde_json::json!({
        "type": format!("https://yibao.org/problems/{}", code.to_lowercase().replace('_', "-")),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
        "instance": instance,
    });
    if let Some((f, d)) = field {
        body["errors"] = serde_json::json!([{"field": f, "detail": d}]);
    }
    (
        status,
        [(http::header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn status_problem(status: &tonic::Status, instance: &str) -> Response {
    let (code, body) = problem_from_status(status, instance);
    let code = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (
        code,
        [(http::header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    if status.code() == tonic::Code::ResourceExhausted {
        resp.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("60"),
        );
    }
    resp
}

/// Checks the method's access rule against the caller and the request: deny by default.
pub fn authorize(route: &Route, caller: &Caller, msg: &DynamicMessage) -> Result<(), ApiError> {
    let access = route.access.as_ref().ok_or_else(|| {
        codes::METHOD_NOT_EXPOSED.error(format!(
            "{} is not exposed through the gateway",
            route.grpc_path
        ))
    })?;
    if !access.roles.contains(&caller.role) {
        return Err(yibao_runtime::auth::AuthError::RoleNotAllowed {
            role: caller.role.as_str(),
            method: route.grpc_path.clone(),
        }
        .into());
    }
    yibao_runtime::tenancy::check_fields(access, caller, msg)?;
    Ok(())
}

/// Counts the call against the caller's per-minute budget. A cache outage lets calls through
/// (availability over strictness) and is logged.
pub async fn rate_limit(g: &Gateway, caller: &Caller) -> Result<(), ApiError> {
    let minute = chrono::Utc::now().timestamp() / 60;
    let key = format!(
        "{}:rl:{}:{}:{minute}",
        g.settings.key_prefix, caller.org, caller.subject
    );
    match g.cache.incr(&key, Duration::from_secs(61)).await {
        Ok(n) if n > i64::from(g.settings.rate_limit_per_minute) => {
            Err(codes::RATE_LIMITED.error(format!(
                "more than {} calls in a minute; retry after the minute ends",
                g.settings.rate_limit_per_minute
            )))
        }
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter unavailable");
            Ok(())
        }
    }
}

/// Authenticates an `authorization` header (and notes the caller's role and organisation for
/// the request's log line).
pub fn authenticate(g: &Gateway, headers: &http::HeaderMap) -> Result<Caller, ApiError> {
    let caller = g.verifier.verify_header(
        headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )?;
    seen(|s| {
        s.role = caller.role.as_str();
        s.org = caller.org.clone();
    });
    Ok(caller)
}

fn service_and_method(route: &Route) -> (String, String) {
    (route.upstream.clone(), route.method.name().to_string())
}

/// Serves one REST call.
pub async fn rest(g: Gateway, req: Request) -> Response {
    let started = Instant::now();
    let instance = req.uri().path().to_string();
    let (parts, body) = req.into_parts();
    let Some((binding, route, vars)) = g.catalog.match_rest(&parts.method, parts.uri.path()) else {
        return problem(
            http::StatusCode::NOT_FOUND,
            codes::ROUTE_NOT_FOUND.code,
            &format!("no route for {} {}", parts.method, parts.uri.path()),
            &instance,
            None,
        );
    };
    let route = route.clone();
    let (svc, method) = service_and_method(&route);
    let (code, resp) = if declared_too_large(&parts.headers, g.settings.max_body_bytes) {
        (
            tonic::Code::ResourceExhausted,
            body_too_large(&g, &instance),
        )
    } else {
        rest_inner(&g, &route, binding.clone(), vars, parts, body, &instance).await
    };
    g.metrics.record(&svc, &method, code, started.elapsed());
    seen(|s| s.code = Some(code));
    resp
}

/// A `Content-Length` above `max`: refused before the body is read.
fn declared_too_large(headers: &http::HeaderMap, max: usize) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > max as u64)
}

/// 413 `BODY_TOO_LARGE`, declared or found while reading.
fn body_too_large(g: &Gateway, instance: &str) -> Response {
    problem(
        http::StatusCode::PAYLOAD_TOO_LARGE,
        codes::BODY_TOO_LARGE.code,
        &format!(
            "the request body is larger than the gateway accepts ({} bytes, gateway.max_body_bytes)",
            g.settings.max_body_bytes
        ),
        instance,
        None,
    )
}

/// An answer given before the upstream call (a refusal or a replay), with its gRPC code.
type Early = (tonic::Code, Response);

async fn rest_inner(
    g: &Gateway,
    route: &Route,
    binding: crate::catalog::HttpBinding,
    vars: Vec<(String, String)>,
    parts: http::request::Parts,
    body: Body,
    instance: &str,
) -> (tonic::Code, Response) {
    let (caller, msg) = match admit(g, route, &binding, &vars, &parts, body, instance).await {
        Ok(admitted) => admitted,
        Err(early) => return early,
    };
    let replayed = http::HeaderValue::from_static("true");
    let (idem_key, forwarded) =
        match begin_idempotent(g, route, &caller, &parts.headers, &msg).await {
            Ok(key) => (key, false),
            Err(Claimed::Replay(answer)) => {
                let (code, mut resp) = render(route, &answer, instance);
                resp.headers_mut().insert("idempotency-replayed", replayed);
                return (code, resp);
            }
            Err(Claimed::Forward) => (None, true),
            Err(Claimed::Refused(status)) => return refuse(status, instance),
        };
    let answer = call_upstream(
        g,
        route,
        &parts.headers,
        Bytes::from(msg.encode_to_vec()),
        String::new(),
    )
    .await;
    if let Some(key) = idem_key {
        record_idempotency(g, &key, &answer).await;
    }
    let (code, mut resp) = render(route, &answer, instance);
    if forwarded && answered_replayed(route, &answer) {
        resp.headers_mut().insert("idempotency-replayed", replayed);
    }
    (code, resp)
}

/// True when a forwarded retry ([`Claimed::Forward`]) was answered by the service as a replay:
/// it then carries `idempotency-replayed: true` like a replay from the record (a refusal —
/// the claim reversed since — does not).
pub fn answered_replayed(route: &Route, answer: &Answer) -> bool {
    answer
        .as_ref()
        .is_ok_and(|reply| crate::replay::says_replayed(route, reply))
}

fn refuse(s: tonic::Status, instance: &str) -> Early {
    (s.code(), status_problem(&s, instance))
}

/// Authenticates, reads the body within its limit, binds the request message and checks the
/// method's access rule and the caller's rate limit.
async fn admit(
    g: &Gateway,
    route: &Route,
    binding: &crate::catalog::HttpBinding,
    vars: &[(String, String)],
    parts: &http::request::Parts,
    body: Body,
    instance: &str,
) -> Result<(Caller, DynamicMessage), Early> {
    let caller = authenticate(g, &parts.headers).map_err(|e| refuse(e.into(), instance))?;
    let bytes = match http_body_util::BodyExt::collect(body).await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err((tonic::Code::ResourceExhausted, body_too_large(g, instance))),
    };
    let msg = transcode::bind_request(
        route.method.input(),
        binding,
        vars,
        parts.uri.query(),
        &bytes,
    )
    .map_err(|e| {
        refuse(
            codes::INVALID_REQUEST.invalid(e.field, e.reason).into(),
            instance,
        )
    })?;
    authorize(route, &caller, &msg).map_err(|e| refuse(e.into(), instance))?;
    rate_limit(g, &caller)
        .await
        .map_err(|e| refuse(e.into(), instance))?;
    Ok((caller, msg))
}

/// What a service answered: the encoded reply, or its status.
pub type Answer = Result<Bytes, tonic::Status>;

/// Why a write does not go to its service: its key answered before, or is refused.
#[derive(Debug)]
pub enum Claimed {
    /// The first answer given with this key (the caller's retry gets it again).
    Replay(Answer),
    /// The key answered before, and its service answers the retry from its own key with the
    /// record's state now (`replay::service_answers_replays`): the call is forwarded, and
    /// nothing is recorded.
    Forward,
    /// The key was used for another request, or its first request is still in progress.
    Refused(tonic::Status),
}

/// A key claimed for one request: its record's keys and the request's digest.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    keys: RecordKeys,
    digest: String,
}

/// Honours `Idempotency-Key` on a write, over REST and gRPC alike: `Ok(Some(key))` when the key
/// is claimed for this request (its answer is then recorded with [`record_idempotency`]),
/// `Ok(None)` for a call without a key, a read, or an unreachable store, `Err` when the key
/// answered before or is refused.
pub async fn begin_idempotent(
    g: &Gateway,
    route: &Route,
    caller: &Caller,
    headers: &http::HeaderMap,
    msg: &DynamicMessage,
) -> Result<Option<IdempotencyKey>, Claimed> {
    let write = route.access.as_ref().is_some_and(|a| a.write);
    let idem = headers.get("idempotency-key").map(|v| v.to_str());
    match (write, idem) {
        (true, Some(Ok(k))) if !k.is_empty() && k.len() <= 128 => {
            let digest = request_digest(&route.grpc_path, msg);
            let keys = RecordKeys::new(
                &g.settings.idempotency_secret,
                &g.settings.key_prefix,
                &caller.org,
                &caller.subject,
                k,
            );
            match claim_idempotency(g, &keys, &digest).await {
                Claim::Fresh => Ok(Some(IdempotencyKey { keys, digest })),
                Claim::Unrecorded => Ok(None),
                Claim::Replay(Ok(_)) if crate::replay::service_answers_replays(route) => {
                    Err(Claimed::Forward)
                }
                Claim::Replay(answer) => Err(Claimed::Replay(
                    answer.map(|reply| crate::replay::mark_replayed(route, reply)),
                )),
                Claim::Refused(status) => Err(Claimed::Refused(status)),
            }
        }
        (true, Some(_)) => Err(Claimed::Refused(
            codes::INVALID_REQUEST
                .invalid(
                    "Idempotency-Key",
                    "must be 1 to 128 visible ASCII characters",
                )
                .into(),
        )),
        _ => Ok(None),
    }
}

/// Calls the method's service with the encoded request.
pub async fn call_upstream(
    g: &Gateway,
    route: &Route,
    headers: &http::HeaderMap,
    encoded: Bytes,
    default_request_id: String,
) -> Answer {
    let fwd = crate::upstream::Forwarded {
        authorization: headers.get(http::header::AUTHORIZATION).cloned(),
        request_id: headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or(default_request_id),
    };
    let timeout = Duration::from_millis(g.settings.request_timeout_ms);
    let Some(channel) = g.upstreams.channel(&route.upstream) else {
        return Err(tonic::Status::unavailable(format!(
            "no upstream for {}",
            route.upstream
        )));
    };
    // A client span per call: the service continues it (the trace context forwarded is the
    // current span's, this one's while the call runs).
    let (service, method) = yibao_runtime::telemetry::split_grpc_path(&route.grpc_path);
    let span = tracing::info_span!(
        "grpc.client",
        otel.name = %format_args!("{service}/{method}"),
        otel.kind = "client",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = tracing::field::Empty,
    );
    let started = Instant::now();
    let answer = crate::upstream::unary(channel, &route.grpc_path, encoded, &fwd, timeout)
        .instrument(span.clone())
        .await;
    let code = answer
        .as_ref()
        .map_or_else(|s| s.code(), |_| tonic::Code::Ok);
    yibao_runtime::telemetry::record_grpc_code(&span, code, code != tonic::Code::Ok);
    yibao_runtime::metrics::record_rpc(
        "gateway",
        yibao_runtime::metrics::Side::Client,
        &route.upstream,
        route.method.name(),
        code,
        started.elapsed(),
    );
    answer
}

/// A service's answer as a REST response: the reply as JSON, or problem+json.
fn render(route: &Route, answer: &Answer, instance: &str) -> (tonic::Code, Response) {
    let json = answer.clone().and_then(|b| {
        let reply = DynamicMessage::decode(route.method.output(), b)
            .map_err(|e| tonic::Status::internal(format!("undecodable reply: {e}")))?;
        transcode::to_json(&reply).map_err(tonic::Status::internal)
    });
    match json {
        Ok(json) => (
            tonic::Code::Ok,
            (
                http::StatusCode::OK,
                [(http::header::CONTENT_TYPE, "application/json")],
                json,
            )
                .into_response(),
        ),
        Err(s) => refuse(s, instance),
    }
}

enum Claim {
    /// The key is claimed for this request; its answer is recorded.
    Fresh,
    /// The store is unreachable: the request goes on without a record (the services keep
    /// their own keys — settlement's encounter key, a payment's reference — so a retry is not
    /// booked twice), and nothing is recorded for replays.
    Unrecorded,
    /// The first answer given with this key.
    Replay(Answer),
    /// Reused for another request, or still in progress.
    Refused(tonic::Status),
}

/// A record as stored: its JSON sealed with the record's keys ([`crate::sealed`]).
fn sealed(keys: &RecordKeys, rec: &Recorded) -> Vec<u8> {
    serde_json::to_vec(rec)
        .ok()
        .and_then(|plain| keys.seal(&plain))
        .unwrap_or_default()
}

/// A key's record: the request's digest and, once the service answered, that answer in
/// transport-neutral form (the reply's protobuf bytes, or the status with its details), so a
/// retry gets the same answer over REST or gRPC.
#[derive(serde::Serialize, serde::Deserialize)]
struct Recorded {
    digest: String,
    /// `None` while the first request is in progress.
    answer: Option<RecordedAnswer>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RecordedAnswer {
    /// gRPC code (0 for a reply).
    code: i32,
    /// Status message.
    message: String,
    /// Status details (`google.rpc.Status` bytes), base64.
    details: String,
    /// Reply bytes, base64.
    reply: String,
}

impl RecordedAnswer {
    fn of(answer: &Answer) -> RecordedAnswer {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        match answer {
            Ok(reply) => RecordedAnswer {
                code: 0,
                message: String::new(),
                details: String::new(),
                reply: b64.encode(reply),
            },
            Err(s) => RecordedAnswer {
                code: s.code() as i32,
                message: s.message().to_string(),
                details: b64.encode(s.details()),
                reply: String::new(),
            },
        }
    }

    fn answer(&self) -> Answer {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let bytes = |s: &str| Bytes::from(b64.decode(s).unwrap_or_default());
        match tonic::Code::from_i32(self.code) {
            tonic::Code::Ok => Ok(bytes(&self.reply)),
            code => Err(tonic::Status::with_details(
                code,
                self.message.clone(),
                bytes(&self.details),
            )),
        }
    }
}

/// Claims `key` for a request with `digest`: fresh, a replay of the first answer, a refusal,
/// or — when the store is unreachable — unrecorded, so a write is still attempted.
async fn claim_idempotency(g: &Gateway, keys: &RecordKeys, digest: &str) -> Claim {
    let key = keys.cache_key.as_str();
    let pending = sealed(
        keys,
        &Recorded {
            digest: digest.into(),
            answer: None,
        },
    );
    let pending_for = pending_ttl(&g.settings);
    let claimed = match g.cache.set_if_absent(key, pending, pending_for).await {
        Ok(claimed) => claimed,
        Err(e) => {
            tracing::warn!(
                error = %e,
                "idempotency store unavailable: the write goes on without an Idempotency-Key record; the service's own key deduplicates it"
            );
            return Claim::Unrecorded;
        }
    };
    if claimed {
        return Claim::Fresh;
    }
    let existing = match g.cache.get(key).await {
        Ok(v) => v
            .and_then(|v| keys.open(&v))
            .and_then(|v| serde_json::from_slice::<Recorded>(&v).ok()),
        Err(e) => {
            tracing::warn!(error = %e, "idempotency store unavailable after the claim: the write goes on without a record");
            return Claim::Unrecorded;
        }
    };
    match existing {
        Some(r) if r.digest != digest => Claim::Refused(
            codes::IDEMPOTENCY_KEY_REUSED
                .error("this Idempotency-Key was used for a different request")
                .into(),
        ),
        Some(Recorded { answer: None, .. }) => Claim::Refused(
            codes::IDEMPOTENCY_IN_PROGRESS
                .error("a request with this Idempotency-Key is still in progress; retry shortly")
                .into(),
        ),
        Some(Recorded {
            answer: Some(a), ..
        }) => Claim::Replay(a.answer()),
        // Expired between the two calls, or unreadable (not sealed with these keys): this
        // request's answer replaces it.
        None => Claim::Fresh,
    }
}

/// Keeps the answer for replays; answers that may change on retry (unavailable, deadline,
/// cancelled — an upstream killed mid-call —, internal) release the key instead so the
/// client's retry is processed (the service's own key then says whether the first one
/// committed).
pub async fn record_idempotency(g: &Gateway, key: &IdempotencyKey, answer: &Answer) {
    let retryable = answer.as_ref().err().is_some_and(|s| {
        matches!(
            s.code(),
            tonic::Code::Unavailable
                | tonic::Code::Cancelled
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Internal
                | tonic::Code::Unknown
                | tonic::Code::Aborted
        )
    });
    if retryable {
        let _ = g
            .cache
            .delete(std::slice::from_ref(&key.keys.cache_key))
            .await;
        return;
    }
    let rec = Recorded {
        digest: key.digest.clone(),
        answer: Some(RecordedAnswer::of(answer)),
    };
    if let Err(e) = g
        .cache
        .set(
            &key.keys.cache_key,
            sealed(&key.keys, &rec),
            IDEMPOTENCY_TTL,
        )
        .await
    {
        tracing::warn!(error = %e, "idempotency store unavailable: the answer is not recorded for replays");
    }
}

#[cfg(test)]
mod tests;
