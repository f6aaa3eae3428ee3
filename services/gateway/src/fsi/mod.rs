//! The national medical-insurance interface for designated institutions (decision 0012):
//! `POST /fsi/api/rsfComIfsService/callService` (and `…/callService/{infno}`), the envelope
//! every HIS in China speaks, answered by mapping each transaction onto the services'
//! contracts.
//!
//! Every answer is HTTP 200 with the interface's envelope: `infcode` 0 and the transaction's
//! `output`, or `infcode` -1 and an `err_msg` naming the header or field at fault — and then
//! nothing was written. A request passes, in order: the envelope's check
//! ([`yibao_fsi::envelope`]), the transaction's number, the `x-tif-*` credentials and the
//! nonce ([`auth`]), the sign-in (`sign_no`), the `msgid` (the same id for another request is
//! refused), then the transaction ([`person`], [`encounter`], [`settle`], [`reconcile`]),
//! whose calls carry a short-lived hospital token the gateway mints for the institution.

pub mod auth;
pub mod encounter;
pub mod input;
pub mod person;
pub mod reconcile;
pub mod rpc;
pub mod settle;

pub use yibao_fsi;

use crate::Gateway;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use yibao_fsi::envelope::{self, Answering, FieldError, RawRequest};

/// The endpoint's path.
pub const PATH: &str = "/fsi/api/rsfComIfsService/callService";

/// The answer when `interface.signing_key_dir` is not set.
pub const NOT_CONFIGURED: &str =
    "the national interface is not configured (interface.signing_key_dir)";

/// `[gateway.interface]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct InterfaceSettings {
    /// A key directory (`dev-signing-key.pem` + `jwks.json`, as `DevKeys` writes it) whose key
    /// signs the tokens the gateway presents to the services for interface calls; the services
    /// must trust its `jwks.json`. Empty: the endpoint answers that it is not configured.
    pub signing_key_dir: String,
    /// The receiver's 6-digit area in `inf_refmsgid`.
    pub region: String,
    /// Seconds either side of the gateway's clock an `x-tif-timestamp` may be (and how long a
    /// nonce is remembered).
    pub timestamp_window_secs: u64,
    /// Lifetime of the tokens the gateway mints for the services.
    pub token_ttl_secs: u64,
    /// Issuer of those tokens: the gateway's `auth.issuer` (filled from `[auth]`).
    #[serde(skip)]
    pub issuer: String,
    /// Audience of those tokens: the gateway's `auth.audience` (filled from `[auth]`).
    #[serde(skip)]
    pub audience: String,
}

impl Default for InterfaceSettings {
    fn default() -> Self {
        InterfaceSettings {
            signing_key_dir: String::new(),
            region: "000000".into(),
            timestamp_window_secs: 300,
            token_ttl_secs: 300,
            issuer: "yibao".into(),
            audience: "yibao-api".into(),
        }
    }
}

/// The endpoint's state: the signing key, the credential and token caches, the serial of
/// `inf_refmsgid`.
#[derive(Debug)]
pub struct Interface {
    /// Settings.
    pub settings: InterfaceSettings,
    /// The key tokens are minted with; `None` when not configured (or unreadable: the reason).
    pub signer: Result<auth::Signer, String>,
    /// Credentials and tokens.
    pub caches: auth::Caches,
    serial: AtomicU64,
}

impl Interface {
    /// Loads the signing key named by the settings.
    pub fn new(settings: InterfaceSettings) -> Interface {
        let signer = if settings.signing_key_dir.is_empty() {
            Err(NOT_CONFIGURED.to_string())
        } else {
            auth::Signer::load(std::path::Path::new(&settings.signing_key_dir)).map_err(|e| {
                tracing::error!(error = %e, "national interface signing key unreadable");
                format!("the national interface is not configured: {e}")
            })
        };
        let seed = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or_default();
        Interface {
            settings,
            signer,
            caches: auth::Caches::default(),
            serial: AtomicU64::new(seed),
        }
    }

    fn next_serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }
}

/// Why a request is answered with `infcode` -1: the `err_msg`, and the gRPC code it is counted
/// under in the RED metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Counted as.
    pub code: tonic::Code,
    /// `err_msg`, naming the header or field.
    pub message: String,
}

impl Refusal {
    /// A refusal counted under `code`.
    pub fn new(code: tonic::Code, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }

    /// Bad input at `path`.
    pub fn field(path: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal::from(FieldError::new(path, message))
    }
}

impl From<FieldError> for Refusal {
    fn from(e: FieldError) -> Refusal {
        Refusal::new(tonic::Code::InvalidArgument, e.to_string())
    }
}

/// A transaction's answer: its `output` as JSON text (money written with its decimals), and
/// an optional `warn_msg`.
#[derive(Debug)]
pub struct Output {
    /// The output node.
    pub json: Box<RawValue>,
    /// A warning.
    pub warn: Option<String>,
}

impl Output {
    /// Serialises `output`.
    pub fn of<T: Serialize>(output: &T) -> Result<Output, Refusal> {
        let text = serde_json::to_string(output)
            .map_err(|e| Refusal::new(tonic::Code::Internal, format!("output: {e}")))?;
        let json = RawValue::from_string(text)
            .map_err(|e| Refusal::new(tonic::Code::Internal, format!("output: {e}")))?;
        Ok(Output { json, warn: None })
    }

    /// With a warning.
    pub fn warn(mut self, warn: impl Into<String>) -> Output {
        self.warn = Some(warn.into());
        self
    }
}

/// What one call carries into its transaction: the checked envelope, the institution the
/// credentials belong to, the hospital token for the services, and the request's metadata.
pub struct Call<'a> {
    /// The gateway.
    pub g: &'a Gateway,
    /// The checked envelope.
    pub req: &'a envelope::Request,
    /// The institution of the credentials (= `fixmedins_code`).
    pub institution: String,
    /// `Bearer <token>` for the services.
    pub authorization: http::HeaderValue,
    /// The request id forwarded.
    pub request_id: String,
    /// When the upstream calls must be done.
    pub deadline: Instant,
}

impl std::fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("infno", &self.req.infno)
            .field("institution", &self.institution)
            .finish()
    }
}

/// Serves one request on the endpoint (within the request's span: see [`crate::edge::observe`]).
pub async fn serve(g: Gateway, req: Request) -> Response {
    let received = chrono::Utc::now();
    let started = Instant::now();
    let interface = Arc::clone(&g.interface);
    let (infno, result) = handle(&g, req).await;
    let label = match &infno {
        Some(i) if yibao_fsi::transactions::find(i).is_some() => format!("fsi.{i}"),
        _ => "fsi.unknown".to_string(),
    };
    let code = result.as_ref().map_or_else(|r| r.code, |_| tonic::Code::Ok);
    g.metrics.record("fsi", &label, code, started.elapsed());
    crate::edge::note_outcome(&label, code);
    let answering = Answering {
        inf_refmsgid: envelope::inf_refmsgid(
            &interface.settings.region,
            received,
            interface.next_serial(),
        ),
        received,
        responded: chrono::Utc::now(),
    };
    let body = match result {
        Ok(out) => envelope::Response::success(&answering, out.json, out.warn),
        Err(r) => envelope::Response::failure(&answering, &r.message),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    (
        http::StatusCode::OK,
        [(http::header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        bytes,
    )
        .into_response()
}

/// The infno of the path `…/callService/{infno}`, if any.
fn path_infno(path: &str) -> Option<&str> {
    path.strip_prefix(PATH)?
        .strip_prefix('/')
        .filter(|s| !s.is_empty())
}

async fn handle(g: &Gateway, req: Request) -> (Option<String>, Result<Output, Refusal>) {
    let (parts, body) = req.into_parts();
    let bytes = match http_body_util::BodyExt::collect(body).await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return (
                None,
                Err(Refusal::new(
                    tonic::Code::ResourceExhausted,
                    format!(
                        "body: larger than the gateway accepts ({} bytes, gateway.max_body_bytes)",
                        g.settings.max_body_bytes
                    ),
                )),
            );
        }
    };
    let checked = RawRequest::parse(&bytes)
        .map_err(|e| vec![e])
        .and_then(RawRequest::check);
    let req = match checked {
        Ok(r) => r,
        Err(errors) => {
            let infno = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["infno"].as_str().map(str::to_string));
            return (
                infno,
                Err(Refusal::new(
                    tonic::Code::InvalidArgument,
                    envelope::err_msg(&errors),
                )),
            );
        }
    };
    let infno = Some(req.infno.clone());
    (infno, admit_and_run(g, &parts, &req).await)
}

async fn admit_and_run(
    g: &Gateway,
    parts: &http::request::Parts,
    req: &envelope::Request,
) -> Result<Output, Refusal> {
    if let Some(p) = path_infno(parts.uri.path())
        && p != req.infno
    {
        return Err(Refusal::field(
            "infno",
            format!("`{}` differs from the path's `{p}`", req.infno),
        ));
    }
    let Some(t) = yibao_fsi::transactions::find(&req.infno) else {
        return Err(Refusal::field(
            "infno",
            format!("`{}` is not a transaction of this interface", req.infno),
        ));
    };
    if !SUPPORTED.contains(&t.infno) {
        return Err(Refusal::new(
            tonic::Code::Unimplemented,
            format!("infno: {} ({}) is not supported by Yibao", t.infno, t.name),
        ));
    }
    if t.names_person && req.insuplc_admdvs.is_none() {
        return Err(Refusal::field(
            "insuplc_admdvs",
            format!(
                "is required for {} (its input names a person; take it from 1101)",
                t.infno
            ),
        ));
    }
    let signer = g
        .interface
        .signer
        .as_ref()
        .map_err(|e| Refusal::new(tonic::Code::FailedPrecondition, e.clone()))?;
    let admitted = auth::admit(g, signer, &parts.headers, req).await?;
    // The per-caller budget of every call at the edge, the caller being the institution's
    // access id.
    let caller = yibao_runtime::Caller {
        subject: format!("fsi/{}", admitted.paasid),
        role: yibao_runtime::Role::Hospital,
        org: admitted.institution.clone(),
        region: None,
    };
    crate::edge::rate_limit(g, &caller).await.map_err(|e| {
        Refusal::new(
            tonic::Code::ResourceExhausted,
            format!("x-tif-paasid: {}", e.message),
        )
    })?;
    auth::check_msgid(g, &admitted.institution, req).await?;
    let authorization = auth::hospital_token(g, signer, &admitted, &req.opter)?;
    let call = Call {
        g,
        req,
        institution: admitted.institution,
        authorization,
        request_id: parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        deadline: Instant::now() + std::time::Duration::from_millis(g.settings.request_timeout_ms),
    };
    match req.infno.as_str() {
        "9001" => auth::sign_in(&call).await,
        "9002" => auth::sign_out(&call).await,
        _ => {
            auth::check_sign_no(&call).await?;
            run(&call).await
        }
    }
}

/// The transactions Yibao answers.
pub const SUPPORTED: &[&str] = &[
    "9001", "9002", "1101", "2201", "2202", "2203", "2204", "2205", "2206", "2207", "2208", "2301",
    "2302", "2303", "2304", "2305", "2401", "2402", "2403", "2404", "2405", "2601", "3201", "3202",
    "5203", "5206",
];

async fn run(c: &Call<'_>) -> Result<Output, Refusal> {
    match c.req.infno.as_str() {
        "1101" => person::info(c).await,
        "5206" => person::accumulators(c).await,
        "2201" | "2401" => encounter::open(c).await,
        "2202" | "2404" => encounter::cancel(c).await,
        "2203" | "2403" => encounter::update(c).await,
        "2204" | "2301" => encounter::upload(c).await,
        "2205" | "2302" => encounter::cancel_fees(c).await,
        "2402" | "2405" => encounter::discharge(c).await,
        "2206" | "2303" => settle::presettle(c).await,
        "2207" | "2304" => settle::settle(c).await,
        "2208" | "2305" => settle::reverse(c).await,
        "2601" => settle::reverse_by_request(c).await,
        "5203" => settle::query(c).await,
        "3201" => reconcile::totals(c).await,
        "3202" => reconcile::details(c).await,
        other => Err(Refusal::new(
            tonic::Code::Unimplemented,
            format!("infno: {other} is not supported by Yibao"),
        )),
    }
}

#[cfg(test)]
mod tests;
