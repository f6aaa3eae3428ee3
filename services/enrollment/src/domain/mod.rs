//! The rules of enrolment, pure: no I/O, no async. The use cases in `app` load a person's
//! records through the store, these functions decide, the store writes what they return.
//!
//! - [`enrolment`]: enrolling (waiting periods, effective dates), contributions and subsidies,
//!   status events (death, moving out, transfer, suspension);
//! - [`eligibility`]: whether a person is covered on a date, and why not;
//! - [`duplicates`]: overlapping effective enrolments and which one stays;
//! - [`roster`]: reconciling an imported list against enrolment;
//! - [`import`]: parsing bulk imports with per-row errors;
//! - [`voucher`]: signing and verifying electronic insurance vouchers;
//! - [`certifications`]: chronic-disease certifications and cross-region filings, and which
//!   is in force on a date;
//! - [`registry`]: designated institutions (versions, agreements, status), their roster file
//!   and insurance physicians.

pub mod certifications;
pub mod duplicates;
pub mod eligibility;
pub mod enrolment;
pub mod import;
pub mod registry;
pub mod roster;
pub mod voucher;

use crate::error as codes;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use yibao_core::{Fen, RegionCode};
use yibao_runtime::error::ErrorCode;

/// The shared vocabulary: the insurance scheme (险种) and the person category (人员类别),
/// numbered as in the contracts.
pub use yibao_core::{PersonCategory, Scheme};

/// A category held from `valid_from` to `valid_to` (inclusive; open-ended when `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryGrant {
    /// The category.
    pub category: PersonCategory,
    /// First valid day.
    pub valid_from: NaiveDate,
    /// Last valid day.
    pub valid_to: Option<NaiveDate>,
}

impl CategoryGrant {
    /// True when the grant is valid on `date`.
    pub fn valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && self.valid_to.is_none_or(|to| date <= to)
    }
}

/// Why an enrolment ended before the end of its year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// The person died.
    Deceased,
    /// Moved out of the region.
    MovedOutOfRegion,
    /// Moved out of the province.
    MovedOutOfProvince,
    /// Transferred to another region or scheme.
    Transferred,
    /// Ended as the losing side of a duplicate.
    Duplicate,
}

/// An enrolment of a person × year × scheme × region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// Id.
    pub id: String,
    /// Insurance year.
    pub year: i32,
    /// Scheme.
    pub scheme: Scheme,
    /// Region (统筹区).
    pub region: RegionCode,
    /// Date of enrolment.
    pub enrolled_on: NaiveDate,
    /// First covered day (after any waiting period).
    pub effective_from: NaiveDate,
    /// Last covered day (the end of the year, or earlier when ended).
    pub effective_to: NaiveDate,
    /// Individual contribution due.
    pub due: Fen,
    /// Paid by the person.
    pub paid: Fen,
    /// Paid by subsidies.
    pub subsidised: Fen,
    /// The day the contribution became fully paid or subsidised.
    pub paid_on: Option<NaiveDate>,
    /// Why it ended early, if it did.
    pub end_reason: Option<EndReason>,
}

impl Enrolment {
    /// Still owed.
    pub fn outstanding(&self) -> Fen {
        self.due
            .saturating_sub_floor0(Fen(self.paid.0 + self.subsidised.0))
    }

    /// The days on which this enrolment gives cover: from the later of its effective date and
    /// the day it was fully paid, to its last day. `None` while unpaid or when ended before
    /// cover began.
    pub fn covered_span(&self) -> Option<(NaiveDate, NaiveDate)> {
        let from = self.effective_from.max(self.paid_on?);
        (from <= self.effective_to).then_some((from, self.effective_to))
    }
}

/// A suspension of cover (from a suspension event to the next resumption).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// First suspended day.
    pub from: NaiveDate,
    /// Resumed on this day (not suspended any more), if resumed.
    pub until: Option<NaiveDate>,
}

/// Everything eligibility needs about one person: what the cache holds (no clear ID number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonFile {
    /// Person id.
    pub person_id: String,
    /// Masked ID number.
    pub id_masked: String,
    /// Name, as registered (the interface's 1101 and `CheckEligibility` return it).
    pub name: String,
    /// Sex, "male" or "female".
    pub sex: String,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Region of residence.
    pub region: RegionCode,
    /// Date of death.
    pub death_date: Option<NaiveDate>,
    /// Moved out of the province on this day, if so.
    pub moved_out_of_province: Option<NaiveDate>,
    /// All enrolments.
    pub enrolments: Vec<Enrolment>,
    /// All category grants.
    pub categories: Vec<CategoryGrant>,
    /// Suspensions.
    pub suspensions: Vec<Suspension>,
}

/// A rule was broken; the message names the field where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrolmentError {
    /// A field is invalid.
    #[error("{field}: {reason}")]
    Invalid {
        /// Field path.
        field: &'static str,
        /// Reason.
        reason: String,
    },
    /// The state does not allow it.
    #[error("{0}")]
    Precondition(String),
    /// It exists already.
    #[error("{0}")]
    Exists(String),
    /// A duplicate task cannot move to the requested state.
    #[error("{0}")]
    TaskTransition(String),
}

impl EnrolmentError {
    /// Stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            EnrolmentError::Invalid { .. } => codes::INVALID_ARGUMENT,
            EnrolmentError::Precondition(_) => codes::PRECONDITION_FAILED,
            EnrolmentError::Exists(_) => codes::ALREADY_EXISTS,
            EnrolmentError::TaskTransition(_) => codes::TASK_TRANSITION,
        }
    }

    /// The field the error concerns, if it names one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            EnrolmentError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> EnrolmentError {
        EnrolmentError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// Parses a `YYYY-MM-DD` date, naming the field when it is wrong.
pub fn parse_date(field: &'static str, s: &str) -> Result<NaiveDate, EnrolmentError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| EnrolmentError::invalid(field, format!("`{s}` is not a date (YYYY-MM-DD)")))
}

/// First and last day of a year.
pub fn year_bounds(year: i32) -> Option<(NaiveDate, NaiveDate)> {
    Some((
        NaiveDate::from_ymd_opt(year, 1, 1)?,
        NaiveDate::from_ymd_opt(year, 12, 31)?,
    ))
}
