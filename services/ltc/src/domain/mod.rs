//! Pure rules of the long-term-care service: no I/O, no async.
//!
//! - [`assessment`]: item scores → indicator bands → disability level (national standard).
//! - [`application`]: the workflow received → scheduled → assessed → decided → appealed → re-decided.
//! - [`policy`]: benefit policy of a region and year, as data.
//! - [`care`]: levels over time, care plans, reassessment schedule.
//! - [`record`]: checks of an uploaded care-service record.
//! - [`registry`]: a care institution admitted to long-term care on the registry's facts.
//! - [`settlement`]: a beneficiary's month under rate, unit fee standard and monthly cap.
//! - [`stats`]: growth figures.

pub mod application;
pub mod assessment;
pub mod care;
pub mod policy;
pub mod record;
pub mod registry;
pub mod settlement;
pub mod stats;

#[cfg(test)]
mod tests;

use crate::error;
use chrono::{Datelike, NaiveDate};

/// Why a rule refused something. Each variant carries a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Bad input in one or more fields (field path → reason). Nothing is written.
    #[error("{code}: {}", violations.iter().map(|(f, r)| format!("{f}: {r}")).collect::<Vec<_>>().join("; "))]
    InvalidFields {
        /// Stable code.
        code: &'static str,
        /// Field path → reason.
        violations: Vec<(String, String)>,
    },
    /// The state does not allow the operation.
    #[error("{code}: {message}")]
    Precondition {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        message: String,
    },
}

impl DomainError {
    /// Bad input in one field.
    pub fn invalid(
        code: &'static str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> DomainError {
        DomainError::InvalidFields {
            code,
            violations: vec![(field.into(), reason.into())],
        }
    }

    /// A refused state change.
    pub fn precondition(code: &'static str, message: impl Into<String>) -> DomainError {
        DomainError::Precondition {
            code,
            message: message.into(),
        }
    }
}

/// Parses a `YYYY-MM-DD` date, naming the field.
pub fn parse_date(field: &str, s: &str) -> Result<NaiveDate, DomainError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        DomainError::invalid(
            error::INVALID_ARGUMENT.code,
            field,
            "must be a date YYYY-MM-DD",
        )
    })
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    /// Year.
    pub year: i32,
    /// Month 1–12.
    pub month: u32,
}

impl Month {
    /// Parses `YYYY-MM`, naming the field.
    pub fn parse(field: &str, s: &str) -> Result<Month, DomainError> {
        let bad = || {
            DomainError::invalid(
                error::INVALID_ARGUMENT.code,
                field,
                "must be a month YYYY-MM",
            )
        };
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(1900..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }

    /// The month of a date.
    pub fn of(d: NaiveDate) -> Month {
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    /// First day.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The following month.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The preceding month.
    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// Last day.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MIN)
    }

    /// Number of days.
    pub fn days(self) -> u32 {
        self.last_day().day()
    }

    /// True when the date lies in the month.
    pub fn contains(self, d: NaiveDate) -> bool {
        Month::of(d) == self
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}
