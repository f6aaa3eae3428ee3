//! Households and their members.

use super::persons::PersonView;
use super::tenancy::check_region;
use super::{AppError, Enrollment};
use crate::store::entities::household;
use yibao_core::RegionCode;
use yibao_runtime::Caller;

/// A household with its members, as the API shows it.
#[derive(Debug, Clone)]
pub struct HouseholdView {
    /// The household.
    pub household: household::Model,
    /// Its members (oldest first), with their categories.
    pub members: Vec<PersonView>,
}

impl Enrollment {
    async fn household_view(&self, id: &str) -> Result<HouseholdView, AppError> {
        let (h, members) = self.store.household(id).await?;
        self.with_members(h, members).await
    }

    async fn with_members(
        &self,
        household: household::Model,
        members: Vec<crate::store::entities::person::Model>,
    ) -> Result<HouseholdView, AppError> {
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            out.push(self.person_view(m).await?);
        }
        Ok(HouseholdView {
            household,
            members: out,
        })
    }

    /// Creates a household (the caller's region was checked against the request).
    pub async fn create_household(
        &self,
        region: &RegionCode,
        address: &str,
        head: Option<String>,
    ) -> Result<HouseholdView, AppError> {
        let h = self.store.create_household(region, address, head).await?;
        self.household_view(&h.id).await
    }

    /// A household of the caller's region.
    pub async fn get_household(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<HouseholdView, AppError> {
        let (h, members) = self.store.household(id).await?;
        check_region(caller, "household_id", &h.region_code)?;
        self.with_members(h, members).await
    }
}
