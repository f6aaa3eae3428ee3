//! Reading claims (with their history), claim lists and a person-year's accumulators.

use super::{AppError, SettlementApp};
use crate::domain::Accumulators;
use crate::store::{ClaimFilter, ClaimRow, ClaimSummaryRow};
use yibao_core::RegionCode;
use yibao_runtime::Caller;

impl SettlementApp {
    /// A claim the caller may see: its institution's (organisation-scoped callers) and
    /// insured inside the caller's region (region-scoped callers).
    pub async fn load_claim(&self, c: &Caller, claim_id: &str) -> Result<ClaimRow, AppError> {
        if claim_id.is_empty() {
            return Err(AppError::invalid("claim_id", "required"));
        }
        let row = self
            .store
            .claim(claim_id)
            .await?
            .ok_or_else(|| AppError::NotFound("claim", claim_id.to_string()))?;
        c.check_org("institution_code", &row.stored.institution_code)?;
        c.check_region("insured_region_code", &row.stored.insured_region_code)?;
        Ok(row)
    }

    /// Claims by filter, newest first: at most `fetch` after the key (settled_at, claim_id).
    pub async fn list_claims(
        &self,
        filter: &ClaimFilter,
        after: Option<(&str, &str)>,
        fetch: u64,
    ) -> Result<Vec<ClaimSummaryRow>, AppError> {
        Ok(self.store.list_claims(filter, after, fetch).await?)
    }

    /// The counters of a person-year (zero when nothing was settled).
    pub async fn accumulators(
        &self,
        id_number: &str,
        year: i32,
        region: &RegionCode,
    ) -> Result<Accumulators, AppError> {
        Ok(self.store.accumulators(id_number, year, region).await?)
    }
}
