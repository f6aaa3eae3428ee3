//! Insurance physicians (医保医师): a code (`D` + 6-digit region + 6-digit sequence, DOMAIN
//! §7.5), the designated institution they practise at, and a status. A physician file is CSV
//! (`docs/roster-format.md`), every bad row named by line and column.

use super::csv_table::{CsvTable, row_error};
use super::roster::MAX_ROWS;
use crate::domain::import::RowError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use yibao_core::{InstitutionCode, RegionCode};

/// Status of an insurance physician.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhysicianStatus {
    /// May attend insured patients.
    Active,
    /// Suspended (e.g. by supervision's points): claims naming them are refused.
    Suspended,
    /// Revoked: no longer an insurance physician.
    Revoked,
}

impl PhysicianStatus {
    /// Parses `active`, `suspended`, `revoked`.
    pub fn parse(s: &str) -> Option<PhysicianStatus> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Some(PhysicianStatus::Active),
            "suspended" => Some(PhysicianStatus::Suspended),
            "revoked" => Some(PhysicianStatus::Revoked),
            _ => None,
        }
    }

    /// The stored and file form.
    pub fn as_str(self) -> &'static str {
        match self {
            PhysicianStatus::Active => "active",
            PhysicianStatus::Suspended => "suspended",
            PhysicianStatus::Revoked => "revoked",
        }
    }
}

/// True for a 13-character physician code: `D` + 12 digits (`D421003007628`).
pub fn is_physician_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 13 && b[0] == b'D' && b[1..].iter().all(u8::is_ascii_digit)
}

/// An insurance physician.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Physician {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Institution of practice.
    pub institution: InstitutionCode,
    /// Status.
    pub status: PhysicianStatus,
    /// Why, when not active.
    pub status_reason: String,
}

/// A good row of a physician file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysicianRow {
    /// 1-based line.
    pub line: usize,
    /// The physician.
    pub physician: Physician,
}

/// Columns of a physician file; the first three are required.
pub const PHYSICIAN_COLUMNS: [&str; 5] = [
    "physician_code",
    "name",
    "institution_code",
    "status",
    "status_reason",
];

/// Parses a physician file; every problem of every row is reported. Every institution must
/// lie within `within`.
pub fn parse_physicians(
    text: &str,
    within: &RegionCode,
) -> Result<Vec<PhysicianRow>, Vec<RowError>> {
    let err = |line: usize, field: &str, reason: String| row_error(line, field, reason);
    let table = CsvTable::read(text, &PHYSICIAN_COLUMNS, 3, MAX_ROWS)?;
    let mut errors = table.errors.clone();
    let mut rows: Vec<PhysicianRow> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for row in table.rows() {
        let (line, get) = (row.line, |c: &str| row.get(c));
        let before = errors.len();
        let code = get("physician_code").to_string();
        if !is_physician_code(&code) {
            errors.push(err(
                line,
                "physician_code",
                "must be D followed by 12 digits (e.g. D341522000001)".into(),
            ));
        } else if let Some(first) = seen.insert(code.clone(), line) {
            errors.push(err(
                line,
                "physician_code",
                format!("{code} is on line {first} already"),
            ));
        }
        let name = get("name").to_string();
        if name.is_empty() || name.chars().count() > 64 {
            errors.push(err(line, "name", "must be 1 to 64 characters".into()));
        }
        let institution = match InstitutionCode::parse(get("institution_code")) {
            Ok(c) if !within.covers(&c.region()) => {
                errors.push(err(
                    line,
                    "institution_code",
                    format!("{c} is outside the file's region {within}"),
                ));
                None
            }
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(err(line, "institution_code", e.to_string()));
                None
            }
        };
        let status = match get("status") {
            "" => Some(PhysicianStatus::Active),
            s => PhysicianStatus::parse(s),
        };
        if status.is_none() {
            errors.push(err(
                line,
                "status",
                format!("`{}` is not active, suspended or revoked", get("status")),
            ));
        }
        let status_reason = get("status_reason").to_string();
        if status.is_some_and(|s| s != PhysicianStatus::Active) && status_reason.is_empty() {
            errors.push(err(
                line,
                "status_reason",
                "required when the status is not active".into(),
            ));
        }
        if status_reason.chars().count() > 500 {
            errors.push(err(
                line,
                "status_reason",
                "must be at most 500 characters".into(),
            ));
        }
        if let (Some(institution), Some(status), true) =
            (institution, status, errors.len() == before)
        {
            rows.push(PhysicianRow {
                line,
                physician: Physician {
                    code,
                    name,
                    institution,
                    status,
                    status_reason,
                },
            });
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(err(1, "", "the file has no rows".into()));
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}
