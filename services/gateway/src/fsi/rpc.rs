//! The interface's calls to the services: typed tonic clients on the gateway's channels, with
//! the metadata every upstream call of the gateway carries (the token, the trace context of a
//! client span, the request id, the deadline), counted like the REST path's calls; and the
//! services' refusals turned into `err_msg` naming the interface's field.

use super::{Call, Refusal};
use std::future::Future;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic_types::StatusExt as _;
use tracing::Instrument as _;

/// How a service's field names read in the interface (`id_number` → `input.data.mdtrt_cert_no`).
pub type FieldMap<'a> = &'a [(&'a str, &'a str)];

/// Turns a service's refusal into the interface's: the message with the service's field
/// replaced by the interface's path where `fields` names it, and the error code appended
/// (`input.data.mdtrt_cert_no: not enrolled [ENROLLMENT_NOT_ENROLLED]`).
pub fn refusal(
    service: &str,
    method: &str,
    status: &tonic::Status,
    fields: FieldMap<'_>,
) -> Refusal {
    let reason = status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default();
    let mut message = status.message().to_string();
    if let Some((field, path)) = fields.iter().find(|(f, _)| {
        message.strip_prefix(f).is_some_and(|rest| {
            rest.starts_with(':') || rest.starts_with('.') || rest.starts_with('[')
        })
    }) {
        message = format!("{path}{}", &message[field.len()..]);
    }
    let message = match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
            format!(
                "{service} did not answer {method} ({message}); retry, or send 2601 for a write"
            )
        }
        _ if reason.is_empty() => message,
        _ => format!("{message} [{reason}]"),
    };
    Refusal::new(status.code(), message)
}

impl Call<'_> {
    /// The channel of a service.
    pub fn channel(&self, service: &str) -> Result<Channel, Refusal> {
        self.g.upstreams.channel(service).ok_or_else(|| {
            Refusal::new(
                tonic::Code::Unavailable,
                format!("no upstream for {service}"),
            )
        })
    }

    /// Calls `method` of `service` with `msg`: `f` makes the call on the typed client. The
    /// call runs in a client span whose context the service continues.
    pub async fn rpc<M, R, F, Fut>(
        &self,
        service: &'static str,
        method: &'static str,
        msg: M,
        fields: FieldMap<'_>,
        f: F,
    ) -> Result<R, Refusal>
    where
        F: FnOnce(Channel, tonic::Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        let channel = self.channel(service)?;
        let timeout = self
            .deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = %format_args!("yibao.{service}.v1/{method}"),
            otel.kind = "client",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        let started = Instant::now();
        let authorization = self.authorization.clone();
        let request_id = self.request_id.clone();
        let answer = async move {
            let mut req = tonic::Request::new(msg);
            req.set_timeout(timeout);
            yibao_runtime::upstream::forward_metadata(req.metadata_mut(), Some(&authorization));
            if let Ok(v) = tonic::metadata::MetadataValue::try_from(request_id.as_str()) {
                req.metadata_mut().insert("x-request-id", v);
            }
            match tokio::time::timeout(timeout, f(channel, req)).await {
                Ok(r) => r.map(tonic::Response::into_inner),
                Err(_) => Err(tonic::Status::deadline_exceeded(format!(
                    "no answer within {} ms",
                    timeout.as_millis()
                ))),
            }
        }
        .instrument(span.clone())
        .await;
        let code = answer
            .as_ref()
            .map_or_else(|s| s.code(), |_| tonic::Code::Ok);
        yibao_runtime::telemetry::record_grpc_code(&span, code, code != tonic::Code::Ok);
        yibao_runtime::metrics::record_rpc(
            "gateway",
            yibao_runtime::metrics::Side::Client,
            service,
            method,
            code,
            started.elapsed(),
        );
        answer.map_err(|s| refusal(service, method, &s, fields))
    }
}
