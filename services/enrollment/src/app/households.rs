//! Households and their members.

use super::persons::PersonView;
use super::tenancy::{check_region, scope_named};
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

    /// Creates a household (the caller's region was checked against the request). Its head,
    /// when named, must live in the caller's region: a person of another region is refused
    /// naming `head_person_id` before anything is written, and is neither shown nor moved.
    pub async fn create_household(
        &self,
        caller: &Caller,
        region: &RegionCode,
        address: &str,
        head: Option<String>,
    ) -> Result<HouseholdView, AppError> {
        if let Some(id) = &head {
            let p = self.store.person(id).await?;
            scope_named(caller, "head_person_id", &p)?;
        }
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
