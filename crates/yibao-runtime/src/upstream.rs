//! The services of the suite, named once, and the one way to reach another service: a lazily
//! connecting channel with the suite's connection settings, and the metadata every hop forwards
//! (the caller's token, so the next service checks it again, and the W3C trace context).
//!
//! A service calls another through [`Channel`] ([`crate::config::Upstreams::client`]): every
//! call is a client span `<rpc.service>/<rpc.method>` below the span that made it, whose context
//! is the `traceparent` the callee continues, and is counted in the client-side RED metrics
//! under the calling component.

use crate::config::ConfigError;
use futures::future::BoxFuture;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::transport::Endpoint;
use tracing::Instrument as _;

/// One service of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceInfo {
    /// Key in configuration (`upstreams.<key>`) and in the gateway's routes.
    pub key: &'static str,
    /// The gRPC service's full name.
    pub grpc_name: &'static str,
}

/// The five services.
pub const SERVICES: [ServiceInfo; 5] = [
    ServiceInfo {
        key: "enrollment",
        grpc_name: "yibao.enrollment.v1.EnrollmentService",
    },
    ServiceInfo {
        key: "settlement",
        grpc_name: "yibao.settlement.v1.SettlementService",
    },
    ServiceInfo {
        key: "ltc",
        grpc_name: "yibao.ltc.v1.LtcService",
    },
    ServiceInfo {
        key: "procurement",
        grpc_name: "yibao.procurement.v1.ProcurementService",
    },
    ServiceInfo {
        key: "supervision",
        grpc_name: "yibao.supervision.v1.SupervisionService",
    },
];

/// The gRPC full names of the five services (health and reflection).
pub const GRPC_NAMES: [&str; 5] = [
    SERVICES[0].grpc_name,
    SERVICES[1].grpc_name,
    SERVICES[2].grpc_name,
    SERVICES[3].grpc_name,
    SERVICES[4].grpc_name,
];

impl crate::config::Upstreams {
    /// The configured address of a service by key.
    pub fn url(&self, key: &str) -> Option<&str> {
        match key {
            "enrollment" => Some(&self.enrollment),
            "settlement" => Some(&self.settlement),
            "ltc" => Some(&self.ltc),
            "procurement" => Some(&self.procurement),
            "supervision" => Some(&self.supervision),
            _ => None,
        }
    }

    /// A lazily connecting channel to a service by key; an address that does not parse is
    /// refused naming its configuration key.
    pub fn channel(&self, key: &str) -> Result<tonic::transport::Channel, ConfigError> {
        let url = self.url(key).ok_or_else(|| {
            ConfigError::invalid(format!("upstreams.{key}"), "no such service in the suite")
        })?;
        channel(key, url)
    }

    /// [`Self::channel`] with every call traced and counted ([`Channel`]): how a service calls
    /// another.
    pub fn client(&self, key: &str) -> Result<Channel, ConfigError> {
        Ok(Channel {
            inner: self.channel(key)?,
        })
    }
}

/// A lazily connecting channel to `url` (the caller may start before the service is up),
/// with the suite's settings: short connect timeout, no Nagle delay, HTTP/2 keep-alive.
pub fn channel(key: &str, url: &str) -> Result<tonic::transport::Channel, ConfigError> {
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| ConfigError::invalid(format!("upstreams.{key}"), e.to_string()))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}

/// A channel to a service whose every call is a client span and counted in
/// [`crate::metrics::rpc_requests`] / [`crate::metrics::rpc_duration`] (side `client`, under
/// the component whose call is being served, [`crate::server::current_component`]).
#[derive(Debug, Clone)]
pub struct Channel {
    inner: tonic::transport::Channel,
}

impl From<tonic::transport::Channel> for Channel {
    fn from(inner: tonic::transport::Channel) -> Channel {
        Channel { inner }
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for Channel {
    type Response = http::Response<tonic::body::Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<tonic::body::Body>) -> Self::Future {
        let path = req.uri().path().to_string();
        let (service, method) = crate::telemetry::split_grpc_path(&path);
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "client",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        // The callee continues this span, not the one that made the call.
        crate::telemetry::inject_span(&span, req.headers_mut());
        let call = ClientCall {
            span: span.clone(),
            component: crate::server::current_component(),
            service: crate::server::component_of(service),
            method: method.to_string(),
            started: std::time::Instant::now(),
        };
        let fut = self.inner.call(req).instrument(span);
        Box::pin(async move {
            match fut.await {
                Ok(resp) => {
                    let header_code = crate::server::grpc_status(resp.headers());
                    Ok(resp.map(|body| {
                        tonic::body::Body::new(crate::server::Observed::new(
                            body,
                            header_code,
                            move |code| call.finish(code),
                        ))
                    }))
                }
                Err(e) => {
                    call.finish(tonic::Code::Unavailable);
                    Err(e)
                }
            }
        })
    }
}

struct ClientCall {
    span: tracing::Span,
    component: &'static str,
    service: &'static str,
    method: String,
    started: std::time::Instant,
}

impl ClientCall {
    fn finish(self, code: tonic::Code) {
        crate::metrics::record_rpc(
            self.component,
            crate::metrics::Side::Client,
            self.service,
            &self.method,
            code,
            self.started.elapsed(),
        );
        // Every failed call is an error on the client side.
        crate::telemetry::record_grpc_code(&self.span, code, code != tonic::Code::Ok);
    }
}

/// Puts the trace context of the current span and the caller's `authorization` into the
/// metadata of an outgoing call.
pub fn forward_metadata(
    metadata: &mut tonic::metadata::MetadataMap,
    authorization: Option<&http::HeaderValue>,
) {
    let mut headers = http::HeaderMap::new();
    crate::telemetry::inject(&mut headers);
    for (k, v) in &headers {
        if let (Ok(key), Ok(val)) = (
            tonic::metadata::MetadataKey::from_bytes(k.as_str().as_bytes()),
            tonic::metadata::MetadataValue::try_from(v.as_bytes()),
        ) {
            metadata.insert(key, val);
        }
    }
    if let Some(val) =
        authorization.and_then(|a| tonic::metadata::MetadataValue::try_from(a.as_bytes()).ok())
    {
        metadata.insert("authorization", val);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_an_address_and_a_contract() {
        let upstreams = crate::config::Upstreams::default();
        let table = crate::access::AccessTable::contracts();
        for s in SERVICES {
            assert!(
                upstreams
                    .url(s.key)
                    .is_some_and(|u| u.starts_with("http://")),
                "{}",
                s.key
            );
            let prefix = format!("/{}/", s.grpc_name);
            assert!(
                table.methods().iter().any(|(p, _)| p.starts_with(&prefix)),
                "{}",
                s.grpc_name
            );
        }
        assert!(upstreams.url("billing").is_none());
    }
}
