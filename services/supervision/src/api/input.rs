//! Input parsing of the API: proto fields → domain values, refusing with the field named; the
//! caller's scope of a list or of a region-wide call.

use crate::error;
use chrono::NaiveDate;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::{ApiError, Caller};

pub(super) fn region_in(field: &str, s: &str) -> Result<RegionCode, ApiError> {
    RegionCode::parse(s).map_err(|e| error::REGION_INVALID.invalid(field, e.to_string()))
}

pub(super) fn institution_in(field: &str, s: &str) -> Result<InstitutionCode, ApiError> {
    InstitutionCode::parse(s).map_err(|e| error::INSTITUTION_INVALID.invalid(field, e.to_string()))
}

pub(super) fn date_in(field: &str, s: &str) -> Result<Option<NaiveDate>, ApiError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| error::DATE_INVALID.invalid(field, format!("`{s}` is not a YYYY-MM-DD date")))
}

pub(super) fn year_in(year: i32) -> Result<i32, ApiError> {
    if (2000..=2100).contains(&year) {
        Ok(year)
    } else {
        Err(error::YEAR_INVALID.invalid("year", "must be 2000 to 2100"))
    }
}

pub(super) fn month_in(month: u32) -> Result<u32, ApiError> {
    if (1..=12).contains(&month) {
        Ok(month)
    } else {
        Err(error::BUDGET_MONTH_INVALID.invalid("month", format!("must be 1 to 12, got {month}")))
    }
}

/// The region prefix a region-scoped caller lists within: the requested region (which must be
/// within theirs), else their own. Others list everything (their own records are filtered by
/// organisation).
pub(super) fn scope(caller: &Caller, field: &str, requested: &str) -> Result<String, ApiError> {
    if requested.trim().is_empty() {
        return Ok(caller
            .region
            .as_ref()
            .filter(|_| caller.role.is_region_scoped())
            .map(|r| r.prefix().to_string())
            .unwrap_or_default());
    }
    let region = region_in(field, requested)?;
    caller.check_region(field, region.as_str())?;
    Ok(region.prefix().to_string())
}

/// A required region that the caller covers.
pub(super) fn own_region(
    caller: &Caller,
    field: &str,
    requested: &str,
) -> Result<RegionCode, ApiError> {
    let value = if requested.trim().is_empty() {
        caller
            .region
            .as_ref()
            .map(|r| r.to_string())
            .ok_or_else(|| error::REGION_INVALID.invalid(field, "is required"))?
    } else {
        requested.trim().to_string()
    };
    let region = region_in(field, &value)?;
    caller.check_region(field, region.as_str())?;
    Ok(region)
}

pub(super) fn non_empty(field: &str, s: &str) -> Result<String, ApiError> {
    let s = s.trim();
    if s.is_empty() {
        Err(error::FIELD_REQUIRED.invalid(field, "must not be empty"))
    } else {
        Ok(s.to_string())
    }
}
