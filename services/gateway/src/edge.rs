//! The checks every call passes at the edge — authentication, the method's roles, tenancy,
//! the rate limit — and the REST path: bind, check, honour `Idempotency-Key`, call, answer.

use crate::catalog::Route;
use crate::error as codes;
use crate::{Gateway, transcode};
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use prost::Message as _;
use prost_reflect::DynamicMessage;
use std::time::{Duration, Instant};
use yibao_runtime::error::problem_from_status;
use yibao_runtime::{ApiError, Caller};

/// How long an idempotency key and its recorded answer are kept.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long a key stays "in progress" before its first request is presumed lost (a gateway
/// that died mid-call): twice the upstream deadline, so a live call always finishes first.
fn pending_ttl(g: &Gateway) -> Duration {
    Duration::from_millis(g.settings.request_timeout_ms.saturating_mul(2))
        .max(Duration::from_secs(1))
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
    if caller.role.is_org_scoped() && !access.org_field.is_empty() {
        let value = transcode::get_path(msg, &access.org_field).unwrap_or_default();
        caller.check_org(&access.org_field, &value)?;
    }
    if caller.role.is_region_scoped() && !access.region_field.is_empty() {
        // A malformed region is the service's to refuse with a 400 naming the field.
        let value = transcode::get_path(msg, &access.region_field)
            .filter(|v| yibao_core::RegionCode::parse(v).is_ok());
        if let Some(value) = value {
            caller.check_region(&access.region_field, &value)?;
        }
    }
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

/// Authenticates an `authorization` header.
pub fn authenticate(g: &Gateway, headers: &http::HeaderMap) -> Result<Caller, ApiError> {
    Ok(g.verifier.verify_header(
        headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )?)
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
    let (code, resp) = rest_inner(&g, &route, binding.clone(), vars, parts, body, &instance).await;
    g.metrics.record(&svc, &method, code, started.elapsed());
    resp
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
    let idem_key = match idempotency_key(g, route, &caller, &parts.headers, &msg, instance).await {
        Ok(key) => key,
        Err(early) => return early,
    };
    let (code, status, body, content_type) =
        call_upstream(g, route, &parts.headers, &msg, instance).await;
    if let Some(key) = idem_key {
        record_idempotency(g, &key, code, status, &body, content_type).await;
    }
    let http_status =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        (
            http_status,
            [(http::header::CONTENT_TYPE, content_type)],
            body,
        )
            .into_response(),
    )
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
        Err(_) => {
            return Err((
                tonic::Code::InvalidArgument,
                problem(
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    codes::BODY_TOO_LARGE.code,
                    &format!("the body exceeds {} bytes", g.settings.max_body_bytes),
                    instance,
                    None,
                ),
            ));
        }
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

/// The idempotency key of a write that carries `Idempotency-Key`, claimed for this request;
/// `Err` with the first answer when the key was used before.
async fn idempotency_key(
    g: &Gateway,
    route: &Route,
    caller: &Caller,
    headers: &http::HeaderMap,
    msg: &DynamicMessage,
    instance: &str,
) -> Result<Option<String>, Early> {
    let write = route.access.as_ref().is_some_and(|a| a.write);
    let idem = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    match (write, idem) {
        (true, Some(k)) if k.is_empty() || k.len() > 128 => Err(refuse(
            codes::INVALID_REQUEST
                .invalid("Idempotency-Key", "must be 1 to 128 characters")
                .into(),
            instance,
        )),
        (true, Some(k)) => {
            let digest = request_digest(&route.grpc_path, msg);
            let key = format!(
                "{}:idem:{}:{}:{k}",
                g.settings.key_prefix, caller.org, caller.subject
            );
            match claim_idempotency(g, &key, &digest).await {
                Claim::Fresh => Ok(Some(key)),
                Claim::Replay(resp) => Err((tonic::Code::Ok, resp)),
                Claim::Refused(status) => Err(refuse(status, instance)),
            }
        }
        _ => Ok(None),
    }
}

/// Calls the method's service and renders its answer: (gRPC code, HTTP status, body, type).
async fn call_upstream(
    g: &Gateway,
    route: &Route,
    headers: &http::HeaderMap,
    msg: &DynamicMessage,
    instance: &str,
) -> (tonic::Code, u16, Vec<u8>, &'static str) {
    let fwd = crate::upstream::Forwarded {
        authorization: headers.get(http::header::AUTHORIZATION).cloned(),
        request_id: headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    };
    let timeout = Duration::from_millis(g.settings.request_timeout_ms);
    let result = match g.upstreams.channel(&route.upstream) {
        Some(channel) => {
            let encoded = Bytes::from(msg.encode_to_vec());
            crate::upstream::unary(channel, &route.grpc_path, encoded, &fwd, timeout).await
        }
        None => Err(tonic::Status::unavailable(format!(
            "no upstream for {}",
            route.upstream
        ))),
    };
    match result.and_then(|b| {
        let reply = DynamicMessage::decode(route.method.output(), b)
            .map_err(|e| tonic::Status::internal(format!("undecodable reply: {e}")))?;
        transcode::to_json(&reply).map_err(tonic::Status::internal)
    }) {
        Ok(json) => (tonic::Code::Ok, 200u16, json, "application/json"),
        Err(s) => {
            let (http_code, problem) = problem_from_status(&s, instance);
            (
                s.code(),
                http_code,
                problem.to_string().into_bytes(),
                "application/problem+json",
            )
        }
    }
}

enum Claim {
    Fresh,
    Replay(Response),
    Refused(tonic::Status),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Recorded {
    digest: String,
    status: u16,
    content_type: String,
    body: String,
}

async fn claim_idempotency(g: &Gateway, key: &str, digest: &str) -> Claim {
    let pending = serde_json::to_vec(&Recorded {
        digest: digest.into(),
        status: 0,
        content_type: String::new(),
        body: String::new(),
    })
    .unwrap_or_default();
    let pending_for = pending_ttl(g);
    match g.cache.set_if_absent(key, pending, pending_for).await {
        Ok(true) => Claim::Fresh,
        Ok(false) => match g
            .cache
            .get(key)
            .await
            .ok()
            .flatten()
            .and_then(|v| serde_json::from_slice::<Recorded>(&v).ok())
        {
            Some(r) if r.digest != digest => Claim::Refused(
                codes::IDEMPOTENCY_KEY_REUSED
                    .error("this Idempotency-Key was used for a different request")
                    .into(),
            ),
            Some(r) if r.status == 0 => Claim::Refused(
                codes::IDEMPOTENCY_IN_PROGRESS
                    .error(
                        "a request with this Idempotency-Key is still in progress; retry shortly",
                    )
                    .into(),
            ),
            Some(r) => {
                let status = http::StatusCode::from_u16(r.status).unwrap_or(http::StatusCode::OK);
                let mut resp = (
                    status,
                    [(http::header::CONTENT_TYPE, r.content_type)],
                    r.body,
                )
                    .into_response();
                resp.headers_mut().insert(
                    "idempotency-replayed",
                    http::HeaderValue::from_static("true"),
                );
                Claim::Replay(resp)
            }
            None => Claim::Fresh,
        },
        Err(e) => Claim::Refused(
            codes::IDEMPOTENCY_STORE_UNAVAILABLE
                .error(format!("cannot honour Idempotency-Key now: {e}"))
                .into(),
        ),
    }
}

/// Keeps the answer for replays; answers that may change on retry (unavailable, deadline,
/// internal) release the key instead so the client's retry is processed.
async fn record_idempotency(
    g: &Gateway,
    key: &str,
    code: tonic::Code,
    status: u16,
    body: &[u8],
    content_type: &str,
) {
    let retryable = matches!(
        code,
        tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Internal
            | tonic::Code::Unknown
            | tonic::Code::Aborted
    );
    if retryable {
        let _ = g.cache.delete(&[key.to_string()]).await;
        return;
    }
    let digest = g
        .cache
        .get(key)
        .await
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_slice::<Recorded>(&v).ok())
        .map(|r| r.digest)
        .unwrap_or_default();
    let rec = Recorded {
        digest,
        status,
        content_type: content_type.into(),
        body: String::from_utf8_lossy(body).into_owned(),
    };
    if let Ok(v) = serde_json::to_vec(&rec) {
        let _ = g.cache.set(key, v, IDEMPOTENCY_TTL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_request_has_the_same_digest_whatever_the_order_of_its_map_entries() {
        let catalog =
            crate::catalog::Catalog::from_descriptor_set(yibao_proto::FILE_DESCRIPTOR_SET)
                .unwrap_or_else(|e| panic!("{e}"));
        let path = "/yibao.ltc.v1.LtcService/SubmitScoreSheet";
        let input = catalog.by_path[path].method.input();
        let whole_body = crate::catalog::HttpBinding {
            verb: http::Method::POST,
            template: String::new(),
            segments: Vec::new(),
            custom_verb: None,
            body: "*".into(),
        };
        let items: Vec<String> = (0..40)
            .map(|i| format!("\"adl.item{i}\": {}", i % 7))
            .collect();
        let forward = format!(
            "{{\"assessment_id\": \"a-1\", \"items\": {{{}}}}}",
            items.join(", ")
        );
        let mut reversed = items.clone();
        reversed.reverse();
        let backward = format!(
            "{{\"items\": {{{}}}, \"assessment_id\": \"a-1\"}}",
            reversed.join(", ")
        );
        let digests: Vec<String> = [forward, backward]
            .iter()
            .map(|body| {
                let msg =
                    transcode::bind_request(input.clone(), &whole_body, &[], None, body.as_bytes())
                        .unwrap_or_else(|e| panic!("{}: {}", e.field, e.reason));
                request_digest(path, &msg)
            })
            .collect();
        assert_eq!(digests[0], digests[1]);
        let other = transcode::bind_request(
            input,
            &whole_body,
            &[],
            None,
            br#"{"assessment_id": "a-2"}"#,
        )
        .unwrap_or_else(|e| panic!("{}: {}", e.field, e.reason));
        assert_ne!(request_digest(path, &other), digests[0]);
    }

    #[tokio::test]
    async fn a_key_left_in_progress_by_a_lost_request_frees_itself_after_twice_the_deadline() {
        let dir =
            std::env::temp_dir().join(format!("yibao-gw-idem-{}", uuid::Uuid::new_v4().simple()));
        let keys =
            yibao_runtime::auth::DevKeys::load_or_create(&dir).unwrap_or_else(|e| panic!("{e}"));
        let verifier = keys
            .verifier("yibao", "yibao-api")
            .unwrap_or_else(|e| panic!("{e}"));
        let cache = std::sync::Arc::new(yibao_runtime::cache::MemoryCache::new(100));
        let settings = crate::GatewaySettings {
            request_timeout_ms: 300,
            ..Default::default()
        };
        let g = Gateway::new(&Default::default(), verifier, cache, settings)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            claim_idempotency(&g, "k", "d1").await,
            Claim::Fresh
        ));
        // The first request is still running (or its gateway died): a retry waits.
        assert!(
            matches!(claim_idempotency(&g, "k", "d1").await, Claim::Refused(s) if s.code() == tonic::Code::Aborted)
        );
        tokio::time::sleep(pending_ttl(&g) + Duration::from_millis(100)).await;
        assert!(matches!(
            claim_idempotency(&g, "k", "d1").await,
            Claim::Fresh
        ));
        // An answer once recorded is kept for the day, not for the pending marker's lifetime.
        record_idempotency(&g, "k", tonic::Code::Ok, 200, b"{}", "application/json").await;
        tokio::time::sleep(pending_ttl(&g) + Duration::from_millis(100)).await;
        assert!(matches!(
            claim_idempotency(&g, "k", "d1").await,
            Claim::Replay(_)
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
