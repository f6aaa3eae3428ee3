//! Every RPC of every service, called by every role, straight at the services' gRPC port and
//! through the gateway's gRPC pass-through: a role the method's contract (`access` option)
//! does not list is refused `PERMISSION_DENIED` / `ROLE_NOT_ALLOWED` before the service's
//! handler runs; a listed role gets past that check (the handler then judges the empty
//! request on its own). The expected answer is read from the same descriptors, so adding an
//! RPC adds it here.

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic_types::StatusExt as _;
use yibao_integration_tests::Suite;
use yibao_runtime::Role;
use yibao_runtime::access::AccessTable;

#[derive(Debug, Clone, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Self::Encoder {
        Raw
    }
    fn decoder(&mut self) -> Self::Decoder {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Self::Error> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

fn token(suite: &Suite, role: Role) -> String {
    let (org, region) = match role {
        Role::Operator | Role::Auditor => ("", "341522"),
        Role::Admin => ("", ""),
        Role::Hospital => ("H34152200001", ""),
        Role::Insurer => ("INS0001", ""),
        Role::CareInstitution => ("H34152200002", ""),
        Role::Assessor => ("ASSESSOR-1", ""),
        Role::Manufacturer => ("M0001", ""),
    };
    suite.token(role, org, region)
}

/// `true` when the call was refused by the contract's role check.
async fn refused_by_role(channel: tonic::transport::Channel, path: &str, token: &str) -> bool {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .unwrap_or_else(|e| panic!("{path}: not ready: {e}"));
    let mut req = tonic::Request::new(Bytes::new());
    let bearer = format!("Bearer {token}")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    req.metadata_mut().insert("authorization", bearer);
    let uri = path.parse().unwrap_or_else(|e| panic!("{path}: {e}"));
    match grpc.unary(req, uri, Raw).await {
        Ok(_) => false,
        Err(status) => {
            let reason = status
                .get_error_details()
                .error_info()
                .map(|i| i.reason.clone());
            let by_contract = status.code() == tonic::Code::PermissionDenied
                && reason.as_deref() == Some("ROLE_NOT_ALLOWED")
                && status.message().ends_with(&format!("may not call {path}"));
            assert!(
                status.code() != tonic::Code::Unimplemented,
                "{path} is in the contracts but not served"
            );
            by_contract
        }
    }
}

async fn walk(suite: &Suite, channel: tonic::transport::Channel, port: &str) -> (usize, usize) {
    let (mut allowed, mut denied) = (0, 0);
    let table = AccessTable::contracts();
    for (path, rule) in table.methods() {
        for role in Role::ALL {
            let listed = rule.is_some_and(|r| r.allows(role));
            let refused = refused_by_role(channel.clone(), path, &token(suite, role)).await;
            assert_eq!(
                refused,
                !listed,
                "{port}: {} calling {path}: the contract {} it",
                role.as_str(),
                if listed { "allows" } else { "does not allow" }
            );
            if listed { allowed += 1 } else { denied += 1 }
        }
    }
    (allowed, denied)
}

#[tokio::test]
async fn every_rpc_enforces_its_contract_roles_at_the_service_port_and_the_gateway() {
    let suite = Suite::start().await;
    let services =
        tonic::transport::Endpoint::from_shared(format!("http://{}", suite.running.grpc_addr))
            .unwrap_or_else(|e| panic!("{e}"))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("services: {e}"));
    let (allowed, denied) = walk(&suite, services, "service port").await;
    let gateway = tonic::transport::Endpoint::from_shared(suite.base.clone())
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("gateway: {e}"));
    let through_gateway = walk(&suite, gateway, "gateway").await;
    assert_eq!(through_gateway, (allowed, denied));
    let methods = AccessTable::contracts().methods().len();
    println!(
        "access matrix: {methods} RPCs x {} roles = {} calls per port ({allowed} allowed, {denied} denied), at the service port and through the gateway",
        Role::ALL.len(),
        allowed + denied
    );
    assert!(methods >= 100 && denied > allowed);
    suite.stop().await;
}

/// The organisation or region of another tenant than `token`'s.
fn other_tenant(role: Role) -> (&'static str, &'static str) {
    match role {
        Role::Operator | Role::Auditor => ("", "340100"),
        _ => ("ZZ-ANOTHER-ORGANISATION", ""),
    }
}

/// The tenant of `token(suite, role)`.
fn own_tenant(role: Role) -> (&'static str, &'static str) {
    match role {
        Role::Operator | Role::Auditor => ("", "341522"),
        Role::Hospital => ("H34152200001", ""),
        Role::Insurer => ("INS0001", ""),
        Role::CareInstitution => ("H34152200002", ""),
        Role::Assessor => ("ASSESSOR-1", ""),
        Role::Manufacturer => ("M0001", ""),
        Role::Admin => ("", ""),
    }
}

/// Sets the string at a dot-separated path of a message; false when the path is not a
/// singular string field.
fn set_path(msg: &mut prost_reflect::DynamicMessage, path: &str, value: &str) -> bool {
    use prost_reflect::{Kind, ReflectMessage as _, Value};
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let Some(field) = msg.descriptor().get_field_by_name(head) else {
        return false;
    };
    if field.is_list() || field.is_map() {
        return false;
    }
    match (rest, field.kind()) {
        (None, Kind::String) => {
            msg.set_field(&field, Value::String(value.to_string()));
            true
        }
        (Some(rest), Kind::Message(desc)) => {
            let mut inner = msg
                .get_field(&field)
                .as_message()
                .cloned()
                .unwrap_or_else(|| prost_reflect::DynamicMessage::new(desc));
            let done = set_path(&mut inner, rest, value);
            msg.set_field(&field, Value::Message(inner));
            done
        }
        _ => false,
    }
}

/// The error reason of a call with `body`, or `None` when it succeeded.
async fn reason_of(
    channel: tonic::transport::Channel,
    path: &str,
    token: &str,
    body: Bytes,
) -> Option<String> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .unwrap_or_else(|e| panic!("{path}: not ready: {e}"));
    let mut req = tonic::Request::new(body);
    let bearer = format!("Bearer {token}")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    req.metadata_mut().insert("authorization", bearer);
    let uri = path.parse().unwrap_or_else(|e| panic!("{path}: {e}"));
    match grpc.unary(req, uri, Raw).await {
        Ok(_) => None,
        Err(status) => Some(
            status
                .get_error_details()
                .error_info()
                .map(|i| i.reason.clone())
                .unwrap_or_else(|| format!("{:?}", status.code())),
        ),
    }
}

/// Rows of every table of every service database.
async fn row_counts(suite: &Suite) -> std::collections::BTreeMap<String, i64> {
    let mut out = std::collections::BTreeMap::new();
    for (service, url) in &suite.running.databases {
        let db = sea_orm::Database::connect(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("{service}: {e}"));
        let list = if url.starts_with("postgres") {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        };
        let tables = yibao_runtime::sql::all(&db, list, vec![])
            .await
            .unwrap_or_else(|e| panic!("{service}: {e}"));
        for t in tables {
            let name = yibao_runtime::sql::text(&t, "name").unwrap_or_default();
            // Written by the consumers' background lease keeping, not by calls.
            if name == "event_lease" || name == "event_member" {
                continue;
            }
            let n = yibao_runtime::sql::one(
                &db,
                &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM \"{name}\""),
                vec![],
            )
            .await
            .ok()
            .flatten()
            .and_then(|r| yibao_runtime::sql::int(&r, "n").ok())
            .unwrap_or(-1);
            out.insert(format!("{service}.{name}"), n);
        }
        let _ = db.close().await;
    }
    out
}

#[tokio::test]
async fn every_tenancy_field_is_checked_at_the_service_port_and_the_gateway_and_a_denial_writes_nothing()
 {
    let suite = Suite::start().await;
    let connect = |url: String| async move {
        tonic::transport::Endpoint::from_shared(url)
            .unwrap_or_else(|e| panic!("{e}"))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let ports = [
        (
            "service port",
            connect(format!("http://{}", suite.running.grpc_addr)).await,
        ),
        ("gateway", connect(suite.base.clone()).await),
    ];
    let pool = prost_reflect::DescriptorPool::decode(yibao_proto::FILE_DESCRIPTOR_SET)
        .unwrap_or_else(|e| panic!("{e}"));
    // (path, role, field, request with own tenant, request with another's)
    let mut cases = Vec::new();
    for (path, rule) in AccessTable::contracts().methods() {
        let Some(rule) = rule else { continue };
        let (service, method) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or_else(|| panic!("{path}"));
        let Some(m) = pool
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == method))
        else {
            continue;
        };
        for role in rule.roles.iter().copied() {
            let field = if role.is_org_scoped() && !rule.org_field.is_empty() {
                &rule.org_field
            } else if role.is_region_scoped() && !rule.region_field.is_empty() {
                &rule.region_field
            } else {
                continue;
            };
            let pick =
                |(org, region): (&str, &str)| if org.is_empty() { region } else { org }.to_string();
            let mut own = prost_reflect::DynamicMessage::new(m.input());
            let mut other = prost_reflect::DynamicMessage::new(m.input());
            if !set_path(&mut own, field, &pick(own_tenant(role)))
                || !set_path(&mut other, field, &pick(other_tenant(role)))
            {
                panic!("{path}: the contract's tenancy field `{field}` is not a string field");
            }
            use prost::Message as _;
            cases.push((
                path.to_string(),
                role,
                field.clone(),
                Bytes::from(own.encode_to_vec()),
                Bytes::from(other.encode_to_vec()),
            ));
        }
    }
    let before = row_counts(&suite).await;
    for (port, channel) in &ports {
        for (path, role, field, _, other) in &cases {
            let reason =
                reason_of(channel.clone(), path, &token(&suite, *role), other.clone()).await;
            assert!(
                matches!(
                    reason.as_deref(),
                    Some("OTHER_ORGANISATION" | "OUTSIDE_REGION")
                ),
                "{port}: {} calling {path} with another tenant's `{field}`: {reason:?}",
                role.as_str()
            );
        }
    }
    assert_eq!(
        row_counts(&suite).await,
        before,
        "a refused call wrote nothing"
    );
    for (port, channel) in &ports {
        for (path, role, field, own, _) in &cases {
            let reason = reason_of(channel.clone(), path, &token(&suite, *role), own.clone()).await;
            assert!(
                !matches!(
                    reason.as_deref(),
                    Some("OTHER_ORGANISATION" | "OUTSIDE_REGION")
                ),
                "{port}: {} calling {path} with its own `{field}` was refused: {reason:?}",
                role.as_str()
            );
        }
    }
    println!(
        "tenancy matrix: {} (RPC, role) pairs with a tenancy field x own/other tenant x 2 ports = {} calls",
        cases.len(),
        cases.len() * 4
    );
    assert!(cases.len() >= 20);
    suite.stop().await;
}
