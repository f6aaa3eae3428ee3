//! The refusals of the tenancy suites (`tenancy.rs`, `tenancy_claims.rs`, `ltc_registry.rs`): a call refused
//! alike through the gateway's REST and straight at the services' gRPC port, and a snapshot of
//! every row of every table of every service database to prove a refusal wrote nothing.
// Each suite uses a part of this module.
#![allow(dead_code)]

use http::Method;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tonic_types::StatusExt as _;
use yibao_integration_tests::{Suite, s};

/// A refusal to prove at both ports.
pub struct Refusal {
    /// The caller's token.
    pub token: String,
    /// The REST call.
    pub method: Method,
    pub rest: String,
    pub body: Option<Value>,
    /// The same call as a gRPC method (`package.Service/Method`) and its request (proto JSON).
    pub rpc: String,
    pub request: Value,
    /// The expected `ErrorInfo` reason / problem code.
    pub reason: &'static str,
    /// Text the message must contain (the field it names), empty for a role refusal.
    pub names: &'static str,
    /// The HTTP status and gRPC code of the refusal (403 / `PERMISSION_DENIED` unless told).
    pub status: u16,
    pub code: tonic::Code,
}

impl Refusal {
    pub fn post(token: &str, rest: &str, rpc: &str, body: Value) -> Refusal {
        Refusal {
            token: token.to_string(),
            method: Method::POST,
            rest: rest.to_string(),
            body: Some(body.clone()),
            rpc: rpc.to_string(),
            request: body,
            reason: "ROLE_NOT_ALLOWED",
            names: "",
            status: 403,
            code: tonic::Code::PermissionDenied,
        }
    }

    pub fn get(token: &str, rest: &str, rpc: &str, request: Value) -> Refusal {
        Refusal {
            method: Method::GET,
            body: None,
            ..Refusal::post(token, rest, rpc, request)
        }
    }

    /// The gRPC request differs from the REST body (path parameters).
    pub fn with_request(mut self, request: Value) -> Refusal {
        self.request = request;
        self
    }

    pub fn because(mut self, reason: &'static str, names: &'static str) -> Refusal {
        self.reason = reason;
        self.names = names;
        self
    }

    /// A refusal that is not about access: its HTTP status and gRPC code.
    pub fn answered(mut self, status: u16, code: tonic::Code) -> Refusal {
        self.status = status;
        self.code = code;
        self
    }
}

/// The services' gRPC port.
pub async fn grpc(suite: &Suite) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", suite.running.grpc_addr))
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("services: {e}"))
}

/// A request carrying `token`.
pub fn authed<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    let bearer = format!("Bearer {token}")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    req.metadata_mut().insert("authorization", bearer);
    req
}

/// Sends a dynamic request and drops the answer: only refusals are looked at.
#[derive(Debug, Clone, Copy, Default)]
struct Refusals;

impl tonic::codec::Codec for Refusals {
    type Encode = DynamicMessage;
    type Decode = ();
    type Encoder = Refusals;
    type Decoder = Refusals;
    fn encoder(&mut self) -> Refusals {
        Refusals
    }
    fn decoder(&mut self) -> Refusals {
        Refusals
    }
}

impl tonic::codec::Encoder for Refusals {
    type Item = DynamicMessage;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: DynamicMessage,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        prost::Message::encode(&item, dst).map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl tonic::codec::Decoder for Refusals {
    type Item = ();
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<()>, tonic::Status> {
        use bytes::Buf as _;
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

/// Calls `rpc` at the services' port with `request` (proto JSON); the refusal, or `None`.
pub async fn grpc_call(
    channel: &tonic::transport::Channel,
    rpc: &str,
    token: &str,
    request: &Value,
) -> Option<tonic::Status> {
    let pool =
        DescriptorPool::decode(yibao_proto::FILE_DESCRIPTOR_SET).unwrap_or_else(|e| panic!("{e}"));
    let (service, method) = rpc.split_once('/').unwrap_or_else(|| panic!("{rpc}"));
    let input = pool
        .get_service_by_name(service)
        .and_then(|s| s.methods().find(|m| m.name() == method))
        .unwrap_or_else(|| panic!("{rpc} is not in the contracts"))
        .input();
    let msg = DynamicMessage::deserialize(input, request.clone())
        .unwrap_or_else(|e| panic!("{rpc}: {request}: {e}"));
    let mut client = tonic::client::Grpc::new(channel.clone());
    client
        .ready()
        .await
        .unwrap_or_else(|e| panic!("{rpc}: {e}"));
    let path = format!("/{rpc}").parse().unwrap_or_else(|e| panic!("{e}"));
    client.unary(authed(msg, token), path, Refusals).await.err()
}

/// Makes every refusal through the gateway and at the service port, checking the answer.
pub async fn refused_at_both_ports(suite: &Suite, refusals: &[Refusal]) {
    let channel = grpc(suite).await;
    for r in refusals {
        let (status, problem) = suite
            .call(r.method.clone(), &r.rest, Some(&r.token), r.body.clone())
            .await;
        assert_eq!(
            (status, s(&problem["code"])),
            (r.status, r.reason),
            "REST {} {}: {problem}",
            r.method,
            r.rest
        );
        assert!(
            s(&problem["detail"]).contains(r.names),
            "REST {}: the refusal names `{}`: {problem}",
            r.rest,
            r.names
        );
        let refused = grpc_call(&channel, &r.rpc, &r.token, &r.request)
            .await
            .unwrap_or_else(|| panic!("gRPC {} was answered", r.rpc));
        let reason = refused
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default();
        assert_eq!(
            (refused.code(), reason.as_str()),
            (r.code, r.reason),
            "gRPC {}: {refused:?}",
            r.rpc
        );
        assert!(
            refused.message().contains(r.names),
            "gRPC {}: the refusal names `{}`: {}",
            r.rpc,
            r.names,
            refused.message()
        );
    }
}

/// Every row of every table of every service database, as text per table. Tables the
/// consumers' background lease keeping writes are left out.
pub async fn snapshot(suite: &Suite) -> BTreeMap<String, String> {
    use yibao_runtime::sql::{all, one, text};
    let mut out = BTreeMap::new();
    for (service, url) in &suite.running.databases {
        let db = sea_orm::Database::connect(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("{service}: {e}"));
        let pg = url.starts_with("postgres");
        let list = if pg {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        };
        let names = all(&db, list, vec![])
            .await
            .unwrap_or_else(|e| panic!("{service}: {e}"));
        for t in names {
            let name = text(&t, "name").unwrap_or_default();
            if name == "event_lease" || name == "event_member" {
                continue;
            }
            let q = if pg {
                format!(
                    "SELECT COALESCE(string_agg(t::text, '|' ORDER BY t::text), '') AS v FROM \"{name}\" t"
                )
            } else {
                let cols = all(
                    &db,
                    &format!("SELECT name FROM pragma_table_info('{name}')"),
                    vec![],
                )
                .await
                .unwrap_or_else(|e| panic!("{service}.{name}: {e}"));
                let row: Vec<String> = cols
                    .iter()
                    .map(|c| format!("quote(\"{}\")", text(c, "name").unwrap_or_default()))
                    .collect();
                format!(
                    "SELECT COALESCE(group_concat(r, '|'), '') AS v FROM (SELECT {} AS r FROM \"{name}\" ORDER BY 1)",
                    row.join(" || ',' || ")
                )
            };
            let v = one(&db, &q, vec![])
                .await
                .unwrap_or_else(|e| panic!("{service}.{name}: {e}"))
                .and_then(|r| text(&r, "v").ok())
                .unwrap_or_default();
            out.insert(format!("{service}.{name}"), v);
        }
        let _ = db.close().await;
    }
    out
}

/// The snapshot once the background work of earlier calls (relays, consumers) has settled.
pub async fn settled(suite: &Suite) -> BTreeMap<String, String> {
    // Unchanged over four samples (1.2 s): a consumer that picks an event up late (the ltc
    // stays consumer on a Redis run) has written by then.
    let mut last = snapshot(suite).await;
    let mut same = 0;
    for _ in 0..80 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = snapshot(suite).await;
        if now == last {
            same += 1;
            if same == 4 {
                return now;
            }
        } else {
            same = 0;
        }
        last = now;
    }
    panic!("the databases kept changing with no call made");
}

/// Asserts that the refusals changed no row anywhere.
pub async fn wrote_nothing(suite: &Suite, before: &BTreeMap<String, String>) {
    let after = settled(suite).await;
    let changed: Vec<&String> = after
        .iter()
        .filter(|(t, v)| before.get(*t) != Some(*v))
        .map(|(t, _)| t)
        .collect();
    assert!(changed.is_empty(), "refused calls changed {changed:?}");
}
