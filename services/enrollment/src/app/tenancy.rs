//! Record-level tenancy: a region-scoped caller reaches only records of their region.

use super::AppError;
use crate::store::entities::person;
use yibao_core::RegionCode;
use yibao_runtime::Caller;

/// Region-scoped callers reach only people living in their region.
pub fn scope(c: &Caller, p: &person::Model) -> Result<(), AppError> {
    let r = RegionCode::parse(&p.region_code).map_err(|e| AppError::Internal(e.to_string()))?;
    if c.covers_region(&r) {
        Ok(())
    } else {
        Err(AppError::OutsideRegion(
            c.region.as_ref().map(|r| r.to_string()).unwrap_or_default(),
        ))
    }
}

/// A region-scoped caller covers `value` (the region of a record or of a request's field
/// `field`).
pub fn check_region(c: &Caller, field: &str, value: &str) -> Result<(), AppError> {
    Ok(c.check_region(field, value)?)
}
