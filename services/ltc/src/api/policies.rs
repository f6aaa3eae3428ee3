//! Benefit policies: upload a region's policy for a year, read it back.

use super::Reply;
use super::error::refused;
use super::fields::{audit, invalid, region};
use crate::app::Ltc;
use crate::app::tenancy::covers;
use crate::domain::policy::BenefitPolicy;
use tonic::{Request, Response, Status};
use yibao_proto::ltc::v1 as pb;
use yibao_runtime::server::caller;

pub(super) async fn upload(
    ltc: &Ltc,
    req: Request<pb::UploadBenefitPolicyRequest>,
) -> Reply<pb::UploadBenefitPolicyResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let reg = region("region_code", &r.region_code)?;
    // A stranger to the region is refused before the document is read.
    covers(&c, "region_code", reg.as_str()).map_err(Status::from)?;
    if !(2000..=2100).contains(&r.year) {
        return Err(invalid("year", "must be 2000 to 2100"));
    }
    let policy = BenefitPolicy::from_json(&r.document_json).map_err(refused)?;
    let (version, doc) = ltc.upload_policy(&c, &reg, r.year, &policy).await?;
    Ok(Response::new(pb::UploadBenefitPolicyResponse {
        version,
        document_json: doc,
    }))
}

pub(super) async fn get(
    ltc: &Ltc,
    req: Request<pb::GetBenefitPolicyRequest>,
) -> Reply<pb::GetBenefitPolicyResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let reg = region("region_code", &r.region_code)?;
    let p = ltc.policy(&c, &reg, r.year).await?;
    Ok(Response::new(pb::GetBenefitPolicyResponse {
        version: p.version,
        document_json: p.document_json,
        audit: audit(&p.actor, &p.role, &p.at),
    }))
}
