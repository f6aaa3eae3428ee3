//! Institutions' national-interface credentials: issue (or rotate) and resolve.

use super::Reply;
use super::registry::{institution_code, status_pb};
use crate::app::Enrollment;
use crate::domain::registry::credentials::{InterfaceCredential, parse_paasid};
use tonic::{Request, Response, Status};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::server::caller;

fn credential_pb(c: InterfaceCredential) -> pb::InterfaceCredential {
    pb::InterfaceCredential {
        paasid: c.paasid,
        paas_token: c.paas_token,
        institution_code: c.institution.to_string(),
        issued_at: c.issued_at,
    }
}

pub(super) async fn issue(
    app: &Enrollment,
    req: Request<pb::IssueInterfaceCredentialRequest>,
) -> Reply<pb::IssueInterfaceCredentialResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let code = institution_code("institution_code", &r.institution_code)?;
    let out = app.issue_interface_credential(&c, &code, r.rotate).await?;
    Ok(Response::new(pb::IssueInterfaceCredentialResponse {
        credential: Some(credential_pb(out.credential)),
        issued: out.issued,
    }))
}

pub(super) async fn resolve(
    app: &Enrollment,
    req: Request<pb::ResolveInterfaceCredentialRequest>,
) -> Reply<pb::ResolveInterfaceCredentialResponse> {
    let paasid = parse_paasid("paasid", &req.get_ref().paasid).map_err(Status::from)?;
    let out = app.resolve_interface_credential(&paasid).await?;
    Ok(Response::new(pb::ResolveInterfaceCredentialResponse {
        credential: Some(credential_pb(out.credential)),
        institution_status: status_pb(out.status),
    }))
}
