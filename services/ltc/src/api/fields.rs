//! Parsing of request fields (errors name the field) and the small proto mappings every area
//! shares.

use super::error::refused;
use crate::domain::assessment::DisabilityLevel;
use crate::domain::parse_date;
use crate::domain::policy::CareType;
use crate::error;
use chrono::NaiveDate;
use tonic::{Request, Status};
use yibao_core::{IdNumber, InstitutionCode, RegionCode};
use yibao_proto::common::v1 as common;
use yibao_proto::ltc::v1 as pb;

/// Largest amount of one record: 1,000,000 yuan.
pub(super) const MAX_RECORD_FEN: i64 = 100_000_000;

pub(super) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Status {
    error::INVALID_ARGUMENT.invalid(field, reason).into()
}

/// The caller's `authorization` value, forwarded to enrollment.
pub(super) fn authorization<T>(req: &Request<T>) -> Option<http::HeaderValue> {
    req.metadata()
        .get("authorization")
        .and_then(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok())
}

pub(super) fn audit(actor: &str, role: &str, at: &str) -> Option<common::Audit> {
    Some(common::Audit {
        actor: actor.into(),
        role: role.into(),
        at: at.into(),
    })
}

pub(super) fn date_field(field: &str, s: &str) -> Result<NaiveDate, Status> {
    parse_date(field, s).map_err(refused)
}

pub(super) fn date_or_today(field: &str, s: &str) -> Result<NaiveDate, Status> {
    if s.trim().is_empty() {
        Ok(chrono::Utc::now().date_naive())
    } else {
        date_field(field, s)
    }
}

pub(super) fn institution(field: &str, s: &str) -> Result<InstitutionCode, Status> {
    InstitutionCode::parse(s).map_err(|e| invalid(field, e.to_string()))
}

pub(super) fn region(field: &str, s: &str) -> Result<RegionCode, Status> {
    RegionCode::parse(s).map_err(|e| invalid(field, e.to_string()))
}

pub(super) fn text_field(field: &str, s: &str, max: usize) -> Result<String, Status> {
    let s = s.trim();
    if s.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    Ok(s.to_string())
}

/// An ID number as responses show it.
pub(super) fn masked(id: &str) -> String {
    IdNumber::parse(id)
        .map(|i| i.masked())
        .unwrap_or_else(|_| "******".into())
}

pub(super) fn level_pb(l: DisabilityLevel) -> i32 {
    i32::from(l.number()) + 1
}

pub(super) fn care_type_pb(c: CareType) -> i32 {
    match c {
        CareType::Institutional => pb::CareType::Institutional as i32,
        CareType::Home => pb::CareType::Home as i32,
        CareType::Visiting => pb::CareType::Visiting as i32,
        CareType::DementiaUnit => pb::CareType::DementiaUnit as i32,
    }
}

pub(super) fn care_type_of(field: &str, v: i32) -> Result<CareType, Status> {
    CareType::ALL
        .into_iter()
        .find(|c| care_type_pb(*c) == v)
        .ok_or_else(|| invalid(field, "must be a CareType other than UNSPECIFIED"))
}
