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
