//! Electronic vouchers.

use super::Reply;
use super::eligibility::eligibility_pb;
use super::parse::invalid;
use crate::app::Enrollment;
use tonic::{Request, Response};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::server::caller;

pub(super) async fn issue_voucher(
    app: &Enrollment,
    req: Request<pb::IssueVoucherRequest>,
) -> Reply<pb::IssueVoucherResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let ttl = if r.ttl_seconds == 0 {
        300
    } else {
        r.ttl_seconds
    };
    if !(10..=3600).contains(&ttl) {
        return Err(invalid("ttl_seconds", "must be 10 to 3600"));
    }
    let v = app.issue_voucher(&c, &r.person_id, ttl).await?;
    Ok(Response::new(pb::IssueVoucherResponse {
        voucher_id: v.voucher_id,
        qr_payload: v.qr_payload,
        expires_at: v.expires_at,
    }))
}

pub(super) async fn resolve_voucher(
    app: &Enrollment,
    req: Request<pb::ResolveVoucherRequest>,
) -> Reply<pb::ResolveVoucherResponse> {
    let c = caller(&req)?;
    let v = app.resolve_voucher(&c, &req.get_ref().qr_payload).await?;
    Ok(Response::new(pb::ResolveVoucherResponse {
        person_id: v.person.id,
        id_number_masked: v.answer.file.id_masked.clone(),
        name: v.person.name,
        eligibility: Some(eligibility_pb(v.answer)),
        ec_token: v.ec_token,
    }))
}

pub(super) async fn revoke_voucher(
    app: &Enrollment,
    req: Request<pb::RevokeVoucherRequest>,
) -> Reply<pb::RevokeVoucherResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let v = app
        .revoke_voucher(&c, &r.voucher_id, r.reason.trim())
        .await?;
    Ok(Response::new(pb::RevokeVoucherResponse {
        voucher_id: v.id,
        revoked_at: v.revoked_at.unwrap_or_default(),
    }))
}
