//! Parsing requests at the edge: each error names the field, and nothing is written. Also
//! the caller's region checked against a request's region field, in the order the checks
//! have always run.

use crate::domain::{PersonCategory, Scheme, parse_date};
use crate::error::INVALID_ARGUMENT;
use chrono::NaiveDate;
use tonic::Status;
use yibao_core::{IdNumber, RegionCode};
use yibao_runtime::{ApiError, Caller};

pub(super) fn invalid(field: &'static str, reason: impl Into<String>) -> Status {
    INVALID_ARGUMENT.invalid(field, reason).into()
}

pub(super) fn parse_id(field: &'static str, s: &str) -> Result<IdNumber, Status> {
    IdNumber::parse(s).map_err(|e| invalid(field, e.to_string()))
}

pub(super) fn parse_region(field: &'static str, s: &str) -> Result<RegionCode, Status> {
    RegionCode::parse(s).map_err(|e| invalid(field, e.to_string()))
}

pub(super) fn date(field: &'static str, s: &str) -> Result<NaiveDate, Status> {
    Ok(parse_date(field, s)?)
}

pub(super) fn date_or_today(field: &'static str, s: &str) -> Result<NaiveDate, Status> {
    if s.trim().is_empty() {
        Ok(chrono::Utc::now().date_naive())
    } else {
        date(field, s)
    }
}

/// An insurance year the service accepts.
pub(super) fn year(v: i32) -> Result<i32, Status> {
    if (2000..=2100).contains(&v) {
        Ok(v)
    } else {
        Err(invalid("year", "must be between 2000 and 2100"))
    }
}

pub(super) fn scheme_of(field: &'static str, v: i32) -> Result<Scheme, Status> {
    Scheme::from_proto_number(v)
        .ok_or_else(|| invalid(field, "must be SCHEME_EMPLOYEE or SCHEME_RESIDENT"))
}

/// A scheme, or `None` for 0 (all schemes).
pub(super) fn scheme_or_all(field: &'static str, v: i32) -> Result<Option<Scheme>, Status> {
    if v == 0 {
        Ok(None)
    } else {
        scheme_of(field, v).map(Some)
    }
}

pub(super) fn scheme_pb(s: Scheme) -> i32 {
    s.proto_number()
}

pub(super) fn category_of(field: &'static str, v: i32) -> Result<PersonCategory, Status> {
    PersonCategory::from_proto_number(v)
        .ok_or_else(|| invalid(field, "must be a PersonCategory other than UNSPECIFIED"))
}

/// A category, or `None` for 0 (all categories).
pub(super) fn category_or_all(
    field: &'static str,
    v: i32,
) -> Result<Option<PersonCategory>, Status> {
    if v == 0 {
        Ok(None)
    } else {
        category_of(field, v).map(Some)
    }
}

pub(super) fn category_pb(c: PersonCategory) -> i32 {
    c.proto_number()
}

/// The caller covers the region named in the request's `field`.
pub(super) fn check_region(c: &Caller, field: &str, value: &str) -> Result<(), Status> {
    c.check_region(field, value)
        .map_err(|e| ApiError::from(e).into())
}

/// A region field that must parse and lie within the caller's region.
pub(super) fn own_region(c: &Caller, field: &'static str, s: &str) -> Result<RegionCode, Status> {
    let region = parse_region(field, s)?;
    check_region(c, field, region.as_str())?;
    Ok(region)
}

/// The region prefix a list or scan runs over: the requested one (which must lie within the
/// caller's region) or the caller's own.
pub(super) fn region_prefix(c: &Caller, requested: &str) -> Result<String, Status> {
    if requested.is_empty() {
        return Ok(c
            .region
            .as_ref()
            .map(|r| r.prefix().to_string())
            .unwrap_or_default());
    }
    check_region(c, "region_code", requested)?;
    Ok(parse_region("region_code", requested)?.prefix().to_string())
}
