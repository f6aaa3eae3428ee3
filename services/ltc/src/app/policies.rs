//! Benefit policies: upload a region's policy for a year, read it back, and find the policy in
//! force for a person (the county's, else its city's, else its province's).

use super::tenancy::covers;
use super::{AppError, Ltc, actor};
use crate::domain::DomainError;
use crate::domain::policy::{BenefitPolicy, policy_regions};
use crate::error;
use crate::store::policies::{self, PolicyRow};
use crate::store::{Store, StoreError};
use yibao_core::RegionCode;
use yibao_runtime::Caller;

/// The policy in force for a person of `region` in `year`: the county's, else its city's,
/// else its province's.
pub async fn in_force(
    store: &Store,
    region: &str,
    year: i32,
) -> Result<Option<BenefitPolicy>, StoreError> {
    for r in policy_regions(region) {
        if let Some(p) = policies::latest(store.db(), &r, year).await? {
            return Ok(Some(p.policy));
        }
    }
    Ok(None)
}

/// The policy in force, or `LTC_NO_POLICY`.
pub async fn required(store: &Store, region: &str, year: i32) -> Result<BenefitPolicy, AppError> {
    in_force(store, region, year)
        .await?
        .ok_or_else(|| no_policy(region, year))
}

/// `LTC_NO_POLICY`: nothing can be decided or paid without the region's policy of the year.
pub fn no_policy(region: &str, year: i32) -> AppError {
    DomainError::precondition(
        error::NO_POLICY.code,
        format!("no benefit policy for region {region} in {year}"),
    )
    .into()
}

impl Ltc {
    /// Stores a new version of a region's policy for a year; returns the version and document.
    /// (The API has checked that the caller covers the region.)
    pub async fn upload_policy(
        &self,
        c: &Caller,
        region: &RegionCode,
        year: i32,
        policy: &BenefitPolicy,
    ) -> Result<(i32, String), AppError> {
        let tx = self.store.begin().await?;
        let out = policies::insert(&tx, region.as_str(), year, policy, &actor(c)).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The latest policy uploaded exactly for a region and year.
    pub async fn policy(
        &self,
        c: &Caller,
        region: &RegionCode,
        year: i32,
    ) -> Result<PolicyRow, AppError> {
        covers(c, "region_code", region.as_str())?;
        policies::latest(self.store.db(), region.as_str(), year)
            .await?
            .ok_or_else(|| StoreError::PolicyNotFound(format!("{region}/{year}")).into())
    }
}
