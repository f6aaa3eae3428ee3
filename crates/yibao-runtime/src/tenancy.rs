//! The tenancy fields of a request, checked against the caller: the contract's `org_field` must
//! hold an organisation-scoped caller's own code, its `region_field` a region a region-scoped
//! caller's region covers. The gateway checks them at the edge ([`check_fields`]) and every
//! service port checks them again ([`TenancyLayer`], after the [`crate::server::AuthLayer`]),
//! so a token sent straight to a service gets no more than the gateway would give it — the
//! same as for roles (decision 0003). Record-level tenancy (a claim's institution, a person's
//! region) is each service's own check, in its use cases.

use crate::access::Access;
use crate::auth::{AuthError, Caller};
use crate::error::ApiError;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

/// The string at a dot-separated field path of a message (`claim.institution_code`), if set.
pub fn field_at(msg: &DynamicMessage, path: &str) -> Option<String> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let value = msg.get_field_by_name(head)?;
    match (rest, value.as_ref()) {
        (None, Value::String(s)) => Some(s.clone()),
        (Some(rest), Value::Message(inner)) => field_at(inner, rest),
        _ => None,
    }
}

/// Checks the request's tenancy fields against the caller. A malformed region is left to the
/// service, which refuses it naming the field.
pub fn check_fields(
    access: &Access,
    caller: &Caller,
    msg: &DynamicMessage,
) -> Result<(), AuthError> {
    if caller.role.is_org_scoped() && !access.org_field.is_empty() {
        let value = field_at(msg, &access.org_field).unwrap_or_default();
        caller.check_org(&access.org_field, &value)?;
    }
    if caller.role.is_region_scoped() && !access.region_field.is_empty() {
        let value = field_at(msg, &access.region_field)
            .filter(|v| yibao_core::RegionCode::parse(v).is_ok());
        if let Some(value) = value {
            caller.check_region(&access.region_field, &value)?;
        }
    }
    Ok(())
}

/// Unary methods with a tenancy field: their rule and request type, by gRPC path.
fn tenancy_methods() -> &'static HashMap<String, (Access, MessageDescriptor)> {
    static METHODS: OnceLock<HashMap<String, (Access, MessageDescriptor)>> = OnceLock::new();
    METHODS.get_or_init(|| {
        let Ok(pool) = DescriptorPool::decode(yibao_proto::FILE_DESCRIPTOR_SET) else {
            return HashMap::new();
        };
        pool.services()
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .filter(|m| !m.is_client_streaming())
            .filter_map(|m| {
                let access = Access::of_method(&m)?;
                if access.org_field.is_empty() && access.region_field.is_empty() {
                    return None;
                }
                let path = format!("/{}/{}", m.parent_service().full_name(), m.name());
                Some((path, (access, m.input())))
            })
            .collect()
    })
}

/// The message of a request body holding one uncompressed gRPC frame.
fn unary_message(body: &[u8]) -> Option<&[u8]> {
    let (&flag, rest) = body.split_first()?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    (flag == 0).then_some(())?;
    rest.get(4..4 + len)
}

/// Checks the tenancy fields of every unary request that has them, at a service port.
#[derive(Debug, Clone, Copy, Default)]
pub struct TenancyLayer;

impl<S> tower::Layer<S> for TenancyLayer {
    type Service = TenancyService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TenancyService { inner }
    }
}

/// See [`TenancyLayer`].
#[derive(Debug, Clone)]
pub struct TenancyService<S> {
    inner: S,
}

type Body = tonic::body::Body;

impl<S> tower::Service<http::Request<Body>> for TenancyService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let rule = req
            .extensions()
            .get::<Caller>()
            .cloned()
            .and_then(|caller| {
                let (access, desc) = tenancy_methods().get(req.uri().path())?;
                let applies = (caller.role.is_org_scoped() && !access.org_field.is_empty())
                    || (caller.role.is_region_scoped() && !access.region_field.is_empty());
                applies.then(|| (caller, access, desc.clone()))
            });
        let Some((caller, access, desc)) = rule else {
            return Box::pin(inner.call(req));
        };
        Box::pin(async move {
            use http_body_util::BodyExt as _;
            let (parts, body) = req.into_parts();
            let bytes = match body.collect().await {
                Ok(c) => c.to_bytes(),
                Err(_) => {
                    let status =
                        tonic::Status::invalid_argument("the request body could not be read");
                    return Ok(status.into_http());
                }
            };
            // One uncompressed gRPC frame: flag 0, big-endian length, the message. Anything else
            // goes on to tonic, which refuses it.
            if let Some(msg) =
                unary_message(&bytes).and_then(|m| DynamicMessage::decode(desc, m).ok())
                && let Err(e) = check_fields(access, &caller, &msg)
            {
                let status: tonic::Status = ApiError::from(e).into();
                return Ok(status.into_http());
            }
            let body = Body::new(http_body_util::Full::new(bytes));
            inner.call(http::Request::from_parts(parts, body)).await
        })
    }
}
