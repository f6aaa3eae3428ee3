//! Input parsing of the API: proto fields → domain values, refusing with the field named; the
//! caller's scope of a list or of a region-wide call; pages.

use crate::store::Page;
use chrono::NaiveDate;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::{ApiError, Caller, ErrorKind, Role};

/// The roles the contract lets call a method (kept until the runtime enforces the contract's
/// `access` option at the service port).
pub(super) fn allow(caller: &Caller, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&caller.role) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::PermissionDenied,
            "ROLE_NOT_ALLOWED",
            format!("role `{}` may not call this method", caller.role.as_str()),
        ))
    }
}

pub(super) fn region_in(field: &str, s: &str) -> Result<RegionCode, ApiError> {
    RegionCode::parse(s)
        .map_err(|e| ApiError::invalid("SUPERVISION_REGION_INVALID", field, e.to_string()))
}

pub(super) fn institution_in(field: &str, s: &str) -> Result<InstitutionCode, ApiError> {
    InstitutionCode::parse(s)
        .map_err(|e| ApiError::invalid("SUPERVISION_INSTITUTION_INVALID", field, e.to_string()))
}

pub(super) fn date_in(field: &str, s: &str) -> Result<Option<NaiveDate>, ApiError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            ApiError::invalid(
                "SUPERVISION_DATE_INVALID",
                field,
                format!("`{s}` is not a YYYY-MM-DD date"),
            )
        })
}

pub(super) fn year_in(year: i32) -> Result<i32, ApiError> {
    if (2000..=2100).contains(&year) {
        Ok(year)
    } else {
        Err(ApiError::invalid(
            "SUPERVISION_YEAR_INVALID",
            "year",
            "must be 2000 to 2100",
        ))
    }
}

pub(super) fn month_in(month: u32) -> Result<u32, ApiError> {
    if (1..=12).contains(&month) {
        Ok(month)
    } else {
        Err(ApiError::invalid(
            "BUDGET_MONTH_INVALID",
            "month",
            format!("must be 1 to 12, got {month}"),
        ))
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
            .ok_or_else(|| ApiError::invalid("SUPERVISION_REGION_INVALID", field, "is required"))?
    } else {
        requested.trim().to_string()
    };
    let region = region_in(field, &value)?;
    caller.check_region(field, region.as_str())?;
    Ok(region)
}

pub(super) fn page_in(p: Option<&yibao_proto::common::v1::PageRequest>) -> Result<Page, ApiError> {
    let (size, token) = p.map_or((0, ""), |p| (p.page_size, p.page_token.as_str()));
    if !(0..=1000).contains(&size) {
        return Err(ApiError::invalid(
            "SUPERVISION_PAGE_INVALID",
            "page.page_size",
            "must be 1 to 1000",
        ));
    }
    let offset = if token.is_empty() {
        0
    } else {
        token.parse::<u64>().map_err(|_| {
            ApiError::invalid(
                "SUPERVISION_PAGE_INVALID",
                "page.page_token",
                "not a token of this list",
            )
        })?
    };
    Ok(Page {
        offset,
        limit: if size == 0 {
            100
        } else {
            u64::try_from(size).unwrap_or(100)
        },
    })
}

pub(super) fn page_out(
    page: Page,
    returned: usize,
) -> Option<yibao_proto::common::v1::PageResponse> {
    let next = if returned as u64 == page.limit {
        (page.offset + page.limit).to_string()
    } else {
        String::new()
    };
    Some(yibao_proto::common::v1::PageResponse {
        next_page_token: next,
    })
}

pub(super) fn non_empty(field: &str, s: &str) -> Result<String, ApiError> {
    let s = s.trim();
    if s.is_empty() {
        Err(ApiError::invalid(
            "SUPERVISION_FIELD_REQUIRED",
            field,
            "must not be empty",
        ))
    } else {
        Ok(s.to_string())
    }
}
