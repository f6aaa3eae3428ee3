//! Households.

use super::Reply;
use super::parse::{invalid, own_region};
use super::persons::person_pb;
use crate::app::Enrollment;
use crate::app::households::HouseholdView;
use tonic::{Request, Response};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::server::caller;

fn household_pb(v: HouseholdView) -> pb::Household {
    let h = v.household;
    pb::Household {
        household_id: h.id,
        region_code: h.region_code,
        address: h.address,
        head_person_id: h.head_person_id.unwrap_or_default(),
        members: v.members.into_iter().map(person_pb).collect(),
    }
}

pub(super) async fn create_household(
    app: &Enrollment,
    req: Request<pb::CreateHouseholdRequest>,
) -> Reply<pb::CreateHouseholdResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&c, "region_code", &r.region_code)?;
    if r.address.trim().is_empty() {
        return Err(invalid("address", "must not be empty"));
    }
    let head = Some(r.head_person_id).filter(|s| !s.is_empty());
    let h = app
        .create_household(&c, &region, r.address.trim(), head)
        .await?;
    Ok(Response::new(pb::CreateHouseholdResponse {
        household: Some(household_pb(h)),
    }))
}

pub(super) async fn get_household(
    app: &Enrollment,
    req: Request<pb::GetHouseholdRequest>,
) -> Reply<pb::GetHouseholdResponse> {
    let c = caller(&req)?;
    let h = app.get_household(&c, &req.get_ref().household_id).await?;
    Ok(Response::new(pb::GetHouseholdResponse {
        household: Some(household_pb(h)),
    }))
}
