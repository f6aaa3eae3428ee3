//! Institutions' national-interface credentials through the gateway's REST and at the services'
//! gRPC port, on whichever backend the run uses (SQLite; a fresh PostgreSQL database and Redis
//! with `YIBAO_TEST_DATABASE_URL` / `YIBAO_TEST_REDIS_URL`): issued once for a registered
//! institution and answered again unchanged, rotated into new ones the old `paasid` of which
//! resolves no more, resolved by the admin with the institution's status today; refused with
//! the field named for an unregistered institution or an empty request; refused to an operator
//! of another region, to the hospital itself and (resolving) to everyone but the admin, with no
//! row written anywhere.

#[path = "support/refusals.rs"]
mod refusals;

use http::Method;
use refusals::{Refusal, authed, grpc, refused_at_both_ports, settled, wrote_nothing};
use serde_json::{Value, json};
use yibao_integration_tests::{Suite, register_institution, s};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::Role;

const HUOQIU: &str = "341522";
const JIN_AN: &str = "341502";
const H: &str = "H34152200001";
const ENROLLMENT: &str = "yibao.enrollment.v1.EnrollmentService";

fn issue_path(code: &str) -> String {
    format!("/v1/institutions/{code}:issueInterfaceCredential")
}

const RESOLVE: &str = "/v1/interface-credentials:resolve";

/// A refused REST call's (status, code, first field named).
async fn refused(suite: &Suite, path: &str, token: &str, body: Value) -> (u16, String, String) {
    let (status, p) = suite
        .call(Method::POST, path, Some(token), Some(body))
        .await;
    (
        status,
        s(&p["code"]).to_string(),
        s(&p["errors"][0]["field"]).to_string(),
    )
}

fn is_token(t: &str) -> bool {
    t.len() == 64
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[tokio::test]
async fn a_registered_hospital_is_issued_credentials_once_rotated_and_resolved_by_the_admin() {
    let suite = Suite::start().await;
    register_institution(&suite, H, "2", "county").await;
    let op = suite.operator(HUOQIU);
    let admin = suite.token(Role::Admin, "", "");

    let first = suite.ok(&issue_path(H), &op, json!({})).await;
    assert_eq!(first["issued"], true, "{first}");
    let c = &first["credential"];
    assert_eq!(s(&c["institution_code"]), H);
    assert!(s(&c["paasid"]).starts_with("H34152200001-"), "{c}");
    assert!(is_token(s(&c["paas_token"])), "{c}");
    assert!(!s(&c["issued_at"]).is_empty(), "{c}");
    let again = suite.ok(&issue_path(H), &op, json!({})).await;
    assert_eq!(
        again["issued"],
        json!(false),
        "asked again, nothing is issued: {again}"
    );
    assert_eq!(again["credential"], first["credential"]);

    let resolved = suite
        .ok(RESOLVE, &admin, json!({"paasid": c["paasid"]}))
        .await;
    assert_eq!(resolved["credential"], first["credential"]);
    assert_eq!(resolved["institution_status"], "INSTITUTION_STATUS_ACTIVE");

    // Rotated by the admin: new ones in force, the old paasid resolves no more.
    let rotated = suite
        .ok(&issue_path(H), &admin, json!({"rotate": true}))
        .await;
    assert_eq!(rotated["issued"], true);
    let new = &rotated["credential"];
    assert_ne!(new["paasid"], c["paasid"]);
    assert_ne!(new["paas_token"], c["paas_token"]);
    assert_eq!(
        refused(&suite, RESOLVE, &admin, json!({"paasid": c["paasid"]})).await,
        (
            404,
            "ENROLLMENT_INTERFACE_CREDENTIAL_NOT_FOUND".into(),
            "paasid".into()
        )
    );
    let resolved = suite
        .ok(RESOLVE, &admin, json!({"paasid": new["paasid"]}))
        .await;
    assert_eq!(resolved["credential"], *new);

    // A suspension shows in the resolution at once.
    let today = chrono::Utc::now().date_naive().to_string();
    suite
        .ok(
            &format!("/v1/institutions/{H}:changeStatus"),
            &op,
            json!({"status": "INSTITUTION_STATUS_SUSPENDED", "effective_on": today, "reason": "inspection"}),
        )
        .await;
    let resolved = suite
        .ok(RESOLVE, &admin, json!({"paasid": new["paasid"]}))
        .await;
    assert_eq!(
        resolved["institution_status"],
        "INSTITUTION_STATUS_SUSPENDED"
    );

    // The registry's journal says who issued and revoked, never the token.
    let history = suite
        .get_ok(&format!("/v1/institutions/{H}/history"), &op)
        .await;
    let entries: Vec<(String, String)> = history["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|e| s(&e["kind"]).starts_with("interface_credential."))
        .map(|e| {
            (
                s(&e["kind"]).to_string(),
                s(&e["audit"]["role"]).to_string(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("interface_credential.issued".into(), "operator".into()),
            ("interface_credential.revoked".into(), "admin".into()),
            ("interface_credential.issued".into(), "admin".into()),
        ],
        "{history}"
    );
    let text = history.to_string();
    for token in [&c["paas_token"], &new["paas_token"]] {
        assert!(!text.contains(s(token)), "the journal holds no token");
    }
    suite.stop().await;
}

#[tokio::test]
async fn an_unregistered_institution_or_an_empty_request_is_refused_naming_the_field() {
    let suite = Suite::start().await;
    register_institution(&suite, H, "2", "county").await;
    let op = suite.operator(HUOQIU);
    let admin = suite.token(Role::Admin, "", "");
    let before = settled(&suite).await;
    for token in [&op, &admin] {
        assert_eq!(
            refused(&suite, &issue_path("H34152200099"), token, json!({})).await,
            (
                404,
                "ENROLLMENT_INSTITUTION_NOT_FOUND".into(),
                "institution_code".into()
            )
        );
    }
    assert_eq!(
        refused(&suite, RESOLVE, &admin, json!({})).await,
        (400, "ENROLLMENT_INVALID_ARGUMENT".into(), "paasid".into())
    );
    assert_eq!(
        refused(
            &suite,
            RESOLVE,
            &admin,
            json!({"paasid": "H34152200001-00000000"})
        )
        .await,
        (
            404,
            "ENROLLMENT_INTERFACE_CREDENTIAL_NOT_FOUND".into(),
            "paasid".into()
        )
    );
    // At the service port, an empty request names its field.
    let channel = grpc(&suite).await;
    let mut client = pb::enrollment_service_client::EnrollmentServiceClient::new(channel);
    let empty = client
        .issue_interface_credential(authed(
            pb::IssueInterfaceCredentialRequest::default(),
            &admin,
        ))
        .await
        .err()
        .unwrap_or_else(|| panic!("an empty request was answered"));
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);
    assert!(
        empty.message().starts_with("institution_code:"),
        "{empty:?}"
    );
    let empty = client
        .resolve_interface_credential(authed(
            pb::ResolveInterfaceCredentialRequest::default(),
            &admin,
        ))
        .await
        .err()
        .unwrap_or_else(|| panic!("an empty request was answered"));
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);
    assert!(empty.message().starts_with("paasid:"), "{empty:?}");
    wrote_nothing(&suite, &before).await;
    suite.stop().await;
}

#[tokio::test]
async fn another_regions_operator_the_hospital_and_non_admins_resolving_are_refused_at_both_ports()
{
    let suite = Suite::start().await;
    register_institution(&suite, H, "2", "county").await;
    let own = suite.operator(HUOQIU);
    let other = suite.operator(JIN_AN);
    let hospital = suite.hospital(H);
    let auditor = suite.token(Role::Auditor, "", HUOQIU);
    let issue_rpc = format!("{ENROLLMENT}/IssueInterfaceCredential");
    let resolve_rpc = format!("{ENROLLMENT}/ResolveInterfaceCredential");
    let issue = |token: &str, body: Value| {
        let mut request = body.clone();
        request["institution_code"] = json!(H);
        Refusal::post(token, &issue_path(H), &issue_rpc, body).with_request(request)
    };
    let before = settled(&suite).await;
    refused_at_both_ports(
        &suite,
        &[
            issue(&other, json!({})).because("OUTSIDE_REGION", "institution_code"),
            issue(&other, json!({"rotate": true})).because("OUTSIDE_REGION", "institution_code"),
            issue(&hospital, json!({})),
            issue(&auditor, json!({})),
            Refusal::post(
                &hospital,
                RESOLVE,
                &resolve_rpc,
                json!({"paasid": "H34152200001-00000000"}),
            ),
            Refusal::post(
                &own,
                RESOLVE,
                &resolve_rpc,
                json!({"paasid": "H34152200001-00000000"}),
            ),
        ],
    )
    .await;
    wrote_nothing(&suite, &before).await;

    // The operator of the institution's region is answered at the service port, and the
    // admin resolves what was issued there; the other region's operator still cannot read it.
    let channel = grpc(&suite).await;
    let mut client = pb::enrollment_service_client::EnrollmentServiceClient::new(channel.clone());
    let issued = client
        .issue_interface_credential(authed(
            pb::IssueInterfaceCredentialRequest {
                institution_code: H.into(),
                rotate: false,
            },
            &own,
        ))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner();
    assert!(issued.issued);
    let credential = issued.credential.unwrap_or_else(|| panic!("no credential"));
    let resolved = client
        .resolve_interface_credential(authed(
            pb::ResolveInterfaceCredentialRequest {
                paasid: credential.paasid.clone(),
            },
            &suite.token(Role::Admin, "", ""),
        ))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner();
    assert_eq!(resolved.credential, Some(credential.clone()));
    assert_eq!(
        resolved.institution_status,
        pb::InstitutionStatus::Active as i32
    );
    let after_issue = settled(&suite).await;
    refused_at_both_ports(
        &suite,
        &[issue(&other, json!({})).because("OUTSIDE_REGION", "institution_code")],
    )
    .await;
    wrote_nothing(&suite, &after_issue).await;
    suite.stop().await;
}
