//! Coverage targets and coverage.

use super::Reply;
use super::parse::{category_or_all, invalid, own_region, region_prefix, scheme_or_all};
use crate::app::Enrollment;
use tonic::{Request, Response};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::server::caller;

pub(super) async fn set_coverage_target(
    app: &Enrollment,
    req: Request<pb::SetCoverageTargetRequest>,
) -> Reply<pb::SetCoverageTargetResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&c, "region_code", &r.region_code)?;
    if r.target < 0 {
        return Err(invalid("target", "must not be negative"));
    }
    let scheme = scheme_or_all("scheme", r.scheme)?;
    let category = category_or_all("category", r.category)?;
    app.set_coverage_target(&region, r.year, scheme, category, r.target)
        .await?;
    Ok(Response::new(pb::SetCoverageTargetResponse {
        target: r.target,
    }))
}

pub(super) async fn get_coverage(
    app: &Enrollment,
    req: Request<pb::GetCoverageRequest>,
) -> Reply<pb::GetCoverageResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let prefix = region_prefix(&c, &r.region_code)?;
    let scheme = scheme_or_all("scheme", r.scheme)?;
    let category = category_or_all("category", r.category)?;
    let cov = app.coverage(&prefix, r.year, scheme, category).await?;
    Ok(Response::new(pb::GetCoverageResponse {
        enrolled: cov.enrolled,
        target: cov.target,
        coverage_bp: cov.coverage_bp,
        missing_person_ids: cov.missing_person_ids,
    }))
}
