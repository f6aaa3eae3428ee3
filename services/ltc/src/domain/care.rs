//! Levels over time, care plans and the reassessment schedule.
//!
//! A first approval is in force from the decision date. A reassessment that finds a **lower**
//! level changes the benefit from the first day of the next month (the person keeps this
//! month's benefit); a higher level applies from the decision date. Reassessment falls due
//! `reassessment_months` after the last assessment's decision.

use super::DomainError;
use super::Month;
use super::assessment::DisabilityLevel;
use super::policy::CareType;
use crate::error;
use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// A level in force from a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelPeriod {
    /// Level.
    pub level: DisabilityLevel,
    /// 重度失智.
    pub dementia: bool,
    /// First day in force.
    pub effective_from: NaiveDate,
}

/// The day a newly decided level takes effect, given the level in force before (if any).
pub fn effective_from(
    previous: Option<DisabilityLevel>,
    new: DisabilityLevel,
    decided_on: NaiveDate,
) -> NaiveDate {
    match previous {
        Some(old) if new < old => Month::of(decided_on).next().first_day(),
        _ => decided_on,
    }
}

/// The level in force on `date` (periods in any order): the latest period started on or before.
pub fn level_on(periods: &[LevelPeriod], date: NaiveDate) -> Option<&LevelPeriod> {
    periods
        .iter()
        .filter(|p| p.effective_from <= date)
        .max_by_key(|p| p.effective_from)
}

/// When the next reassessment falls due.
pub fn reassessment_due(decided_on: NaiveDate, months: u32) -> NaiveDate {
    decided_on
        .checked_add_months(Months::new(months))
        .unwrap_or(decided_on)
}

/// A placement with a care institution under a care type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarePlan {
    /// Plan id.
    pub id: String,
    /// Care institution.
    pub institution: String,
    /// Care type.
    pub care_type: CareType,
    /// First day.
    pub start: NaiveDate,
    /// Last day, `None` while open.
    pub end: Option<NaiveDate>,
}

impl CarePlan {
    /// True when the plan covers the date.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.start <= date && self.end.is_none_or(|e| date <= e)
    }
}

/// Checks a new placement starting `start` against the person's plans and returns the id of the
/// open plan it ends (on `start - 1`), if any. A placement may not start on or before the start
/// of the plan in force (that would rewrite history); records already billed are unaffected.
pub fn place(plans: &[CarePlan], start: NaiveDate) -> Result<Option<String>, DomainError> {
    if let Some(latest) = plans.iter().max_by_key(|p| p.start) {
        if start <= latest.start {
            return Err(DomainError::invalid(
                error::PLAN_OVERLAP.code,
                "start_date",
                format!(
                    "must be after {} when the current plan started",
                    latest.start
                ),
            ));
        }
        if let Some(end) = latest.end {
            if start <= end {
                return Err(DomainError::invalid(
                    error::PLAN_OVERLAP.code,
                    "start_date",
                    format!("must be after {end} when the last plan ended"),
                ));
            }
            return Ok(None);
        }
        return Ok(Some(latest.id.clone()));
    }
    Ok(None)
}
