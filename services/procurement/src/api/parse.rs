//! Parsing of request fields at the edge. Every function names the field path of the request
//! in its errors (`listing.price_fen`, `records[3].item_code`), so a refusal says exactly what
//! to fix; nothing is written.

use crate::app::AppError;
use crate::domain::{ItemCode, Period};
use chrono::NaiveDate;
use yibao_core::{Bp, Fen, InstitutionCode, RegionCode};

/// Parses a `YYYY-MM-DD` date.
pub fn date(field: &str, s: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid(field, format!("`{s}` is not a date YYYY-MM-DD")))
}

/// Parses an optional date (empty: none).
pub fn opt_date(field: &str, s: &str) -> Result<Option<NaiveDate>, AppError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        date(field, s).map(Some)
    }
}

/// Parses a period `from`..`to` (empty `to`: open-ended).
pub fn period(from_field: &str, from: &str, to_field: &str, to: &str) -> Result<Period, AppError> {
    let from = date(from_field, from)?;
    match opt_date(to_field, to)? {
        None => Ok(Period::from(from)),
        Some(to) => Period::between(from, to)
            .ok_or_else(|| AppError::invalid(to_field, format!("{to} is before {from}"))),
    }
}

/// Parses a region code.
pub fn region(field: &str, s: &str) -> Result<RegionCode, AppError> {
    RegionCode::parse(s).map_err(|e| AppError::invalid(field, e.to_string()))
}

/// Parses an institution code.
pub fn institution(field: &str, s: &str) -> Result<InstitutionCode, AppError> {
    InstitutionCode::parse(s).map_err(|e| AppError::invalid(field, e.to_string()))
}

/// Parses an item code whose kind its shape tells.
pub fn item_code(field: &str, s: &str) -> Result<ItemCode, AppError> {
    ItemCode::parse_any(s).map(|(_, c)| c).map_err(|e| {
        AppError::invalid_code(crate::error::INVALID_ITEM_CODE.code, field, e.to_string())
    })
}

/// A required non-empty text of at most `max` characters.
pub fn text(field: &str, s: &str, max: usize) -> Result<String, AppError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(AppError::invalid(field, "is required"));
    }
    if t.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(t.to_string())
}

/// A positive price.
pub fn positive(field: &str, v: i64) -> Result<Fen, AppError> {
    if v <= 0 {
        return Err(AppError::invalid(field, "must be positive"));
    }
    Ok(Fen(v))
}

/// A rate of at most 100%.
pub fn share(field: &str, v: u32) -> Result<Bp, AppError> {
    Bp::share(v).map_err(|_| AppError::invalid(field, "must be at most 10000 bp"))
}
