//! Checks of an uploaded care-service record (护理服务记录) against the care plan, the level
//! and policy, death and enrolment, and hospital stays. A record is accepted, flagged (stored but
//! not paid until cleared) or refused with a stable code.

use super::care::{CarePlan, LevelPeriod, level_on};
use super::policy::{BenefitPolicy, CareTerms, CareType, OverlapAction, Unit};
use crate::error;
use chrono::NaiveDate;
use yibao_core::Fen;

/// A record as uploaded (shape already validated: units ≥ 1, amount ≥ 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordIn {
    /// Care type.
    pub care_type: CareType,
    /// Date of service.
    pub service_date: NaiveDate,
    /// Bed-days or visits.
    pub units: u32,
    /// Amount billed.
    pub amount: Fen,
}

/// Enrolment and life status of the person on the service date (from enrollment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    /// Insured and alive.
    Eligible,
    /// Died before the date.
    Deceased,
    /// Not covered on the date, with enrollment's explanation.
    NotCovered(String),
}

/// A hospital stay settled by settlement (admission to discharge, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HospitalStay {
    /// Admission.
    pub admitted: NaiveDate,
    /// Discharge.
    pub discharged: NaiveDate,
}

/// What the person already has recorded in the record's month for the record's care type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MonthSoFar {
    /// Units already recorded in the month for the care type (all institutions).
    pub units: u32,
    /// True when a bed-day is already recorded for the service date (any institution).
    pub day_taken: bool,
}

/// The verdict on a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Store it.
    Accept,
    /// Store it flagged: not paid until cleared.
    Flag {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        reason: String,
    },
    /// Refuse it; nothing is stored.
    Refuse {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        reason: String,
    },
}

fn refuse(code: &'static str, reason: impl Into<String>) -> Verdict {
    Verdict::Refuse {
        code,
        reason: reason.into(),
    }
}

/// Everything a record is checked against.
#[derive(Debug, Clone)]
pub struct RecordContext<'a> {
    /// The uploading institution.
    pub institution: &'a str,
    /// The beneficiary's care plans.
    pub plans: &'a [CarePlan],
    /// The beneficiary's levels.
    pub levels: &'a [LevelPeriod],
    /// Policy of the region and the service date's year, if uploaded.
    pub policy: Option<&'a BenefitPolicy>,
    /// Enrolment and life status on the date.
    pub eligibility: &'a Eligibility,
    /// Settled hospital stays of the person.
    pub stays: &'a [HospitalStay],
    /// The month so far.
    pub so_far: MonthSoFar,
}

/// Checks one record, in order: death, enrolment, policy, level, plan, units, hospital stay.
pub fn check(r: &RecordIn, cx: &RecordContext<'_>) -> Verdict {
    let steps = || -> Result<Verdict, Verdict> {
        person(r, cx)?;
        let (policy, terms) = entitlement(r, cx)?;
        plan(r, cx)?;
        units(r, cx, terms)?;
        Ok(hospital_stay(r, cx, policy))
    };
    steps().unwrap_or_else(|refused| refused)
}

/// Alive and insured on the day.
fn person(r: &RecordIn, cx: &RecordContext<'_>) -> Result<(), Verdict> {
    match cx.eligibility {
        Eligibility::Deceased => Err(refuse(
            error::RECORD_AFTER_DEATH.code,
            format!("the person had died before {}", r.service_date),
        )),
        Eligibility::NotCovered(why) => Err(refuse(
            error::RECORD_NOT_ENROLLED.code,
            format!("not insured on {}: {why}", r.service_date),
        )),
        Eligibility::Eligible => Ok(()),
    }
}

/// A policy for the day, a qualifying level in force, the care type offered (a dementia unit
/// only with 重度失智).
fn entitlement<'a>(
    r: &RecordIn,
    cx: &RecordContext<'a>,
) -> Result<(&'a BenefitPolicy, &'a CareTerms), Verdict> {
    let Some(policy) = cx.policy else {
        return Err(refuse(
            error::NO_POLICY.code,
            "no benefit policy for the region and year of the service date",
        ));
    };
    let Some(level) = level_on(cx.levels, r.service_date) else {
        return Err(refuse(
            error::RECORD_BEFORE_APPROVAL.code,
            format!("no approved level on {}", r.service_date),
        ));
    };
    if !policy.qualifies(level.level, level.dementia) {
        return Err(refuse(
            error::LEVEL_DOES_NOT_QUALIFY.code,
            format!(
                "level {} in force on {} does not qualify",
                level.level.number(),
                r.service_date
            ),
        ));
    }
    let Some(terms) = policy.terms(r.care_type) else {
        return Err(refuse(
            error::CARE_TYPE_NOT_OFFERED.code,
            format!("the policy does not offer {}", r.care_type.as_str()),
        ));
    };
    if r.care_type == CareType::DementiaUnit && !level.dementia {
        return Err(refuse(
            error::DEMENTIA_UNIT_WITHOUT_DEMENTIA.code,
            "a dementia unit is for persons assessed with 重度失智",
        ));
    }
    Ok((policy, terms))
}

/// A plan on the day, with this institution, of this care type.
fn plan(r: &RecordIn, cx: &RecordContext<'_>) -> Result<(), Verdict> {
    match cx.plans.iter().find(|p| p.covers(r.service_date)) {
        None => Err(refuse(
            error::RECORD_OUTSIDE_PLAN.code,
            format!("no care plan on {}", r.service_date),
        )),
        Some(p) if p.institution != cx.institution => Err(refuse(
            error::RECORD_OTHER_INSTITUTION.code,
            format!(
                "on {} the person is placed with {}",
                r.service_date, p.institution
            ),
        )),
        Some(p) if p.care_type != r.care_type => Err(refuse(
            error::RECORD_WRONG_CARE_TYPE.code,
            format!("on {} the plan is {}", r.service_date, p.care_type.as_str()),
        )),
        Some(_) => Ok(()),
    }
}

/// A bed-day is one unit, once a day; the month's units stay within the limit.
fn units(r: &RecordIn, cx: &RecordContext<'_>, terms: &CareTerms) -> Result<(), Verdict> {
    if terms.unit == Unit::Day {
        if r.units != 1 {
            return Err(refuse(
                error::RECORD_UNITS.code,
                "a bed-day record carries exactly 1 unit",
            ));
        }
        if cx.so_far.day_taken {
            return Err(refuse(
                error::DAY_ALREADY_BILLED.code,
                format!("a bed-day is already billed on {}", r.service_date),
            ));
        }
    }
    if terms.max_units_per_month > 0
        && cx.so_far.units.saturating_add(r.units) > terms.max_units_per_month
    {
        return Err(refuse(
            error::UNITS_ABOVE_MONTHLY_LIMIT.code,
            format!(
                "{} units this month would exceed the limit of {}",
                cx.so_far.units.saturating_add(r.units),
                terms.max_units_per_month
            ),
        ));
    }
    Ok(())
}

/// A day strictly inside a settled hospital stay is refused or flagged, as the policy says.
fn hospital_stay(r: &RecordIn, cx: &RecordContext<'_>, policy: &BenefitPolicy) -> Verdict {
    if let Some(s) = cx
        .stays
        .iter()
        .find(|s| s.admitted <= r.service_date && r.service_date <= s.discharged)
    {
        let reason = format!(
            "the person was in hospital from {} to {}",
            s.admitted, s.discharged
        );
        // Admission and discharge days are shared with care at home or in the institution;
        // only the days strictly inside a stay are impossible.
        if s.admitted < r.service_date && r.service_date < s.discharged {
            return match policy.inpatient_overlap {
                OverlapAction::Refuse => refuse(error::RECORD_DURING_HOSPITAL_STAY.code, reason),
                OverlapAction::Flag => Verdict::Flag {
                    code: error::RECORD_DURING_HOSPITAL_STAY.code,
                    reason,
                },
            };
        }
    }
    Verdict::Accept
}
