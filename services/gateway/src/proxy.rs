//! gRPC pass-through for high-volume partners: the same checks as REST (token, roles,
//! tenancy, rate limit, `idempotency-key` on writes) on the decoded request, then the original
//! bytes go to the service.

use crate::{Gateway, edge};
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use prost_reflect::DynamicMessage;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// Serves one gRPC call.
pub async fn grpc(g: Gateway, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let route = g.catalog.by_path.get(&path).cloned();
    let (svc, method) = route
        .as_ref()
        .map(|r| (r.upstream.clone(), r.method.name().to_string()))
        .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
    let call = ProxyCall {
        g: g.clone(),
        path,
        route,
    };
    let mut server = tonic::server::Grpc::new(crate::upstream::RawCodec);
    let resp = server.unary(call, req).await;
    let code = resp
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<i32>().ok())
        .map(tonic::Code::from_i32)
        .unwrap_or(tonic::Code::Ok);
    g.metrics.record(&svc, &method, code, started.elapsed());
    resp.map(Body::new)
}

#[derive(Clone)]
struct ProxyCall {
    g: Gateway,
    path: String,
    route: Option<crate::catalog::Route>,
}

impl tonic::server::UnaryService<Bytes> for ProxyCall {
    type Response = Bytes;
    type Future =
        Pin<Box<dyn Future<Output = Result<tonic::Response<Bytes>, tonic::Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let route = this.route.ok_or_else(|| {
                tonic::Status::unimplemented(format!("unknown method {}", this.path))
            })?;
            let headers = request.metadata().clone().into_headers();
            let caller = edge::authenticate(&this.g, &headers)?;
            let body = request.into_inner();
            let msg = DynamicMessage::decode(route.method.input(), body.clone()).map_err(|e| {
                tonic::Status::invalid_argument(format!("undecodable request: {e}"))
            })?;
            edge::authorize(&route, &caller, &msg)?;
            edge::rate_limit(&this.g, &caller).await?;
            let (key, forwarded) =
                match edge::begin_idempotent(&this.g, &route, &caller, &headers, &msg).await {
                    Ok(key) => (key, false),
                    Err(edge::Claimed::Replay(answer)) => return replayed(answer),
                    Err(edge::Claimed::Forward) => (None, true),
                    Err(edge::Claimed::Refused(status)) => return Err(status),
                };
            let answer = edge::call_upstream(
                &this.g,
                &route,
                &headers,
                body,
                uuid::Uuid::new_v4().to_string(),
            )
            .await;
            if let Some(key) = key {
                edge::record_idempotency(&this.g, &key, &answer).await;
            }
            if forwarded && edge::answered_replayed(&route, &answer) {
                return replayed(answer);
            }
            let reply = answer?;
            Ok(tonic::Response::new(reply))
        })
    }
}

/// The answer to a retried write (the recorded first answer, or the service's replay of a
/// forwarded retry), marked `idempotency-replayed: true`.
fn replayed(answer: edge::Answer) -> Result<tonic::Response<Bytes>, tonic::Status> {
    let mark = tonic::metadata::MetadataValue::from_static("true");
    match answer {
        Ok(reply) => {
            let mut resp = tonic::Response::new(reply);
            resp.metadata_mut().insert("idempotency-replayed", mark);
            Ok(resp)
        }
        Err(mut status) => {
            status.metadata_mut().insert("idempotency-replayed", mark);
            Err(status)
        }
    }
}
