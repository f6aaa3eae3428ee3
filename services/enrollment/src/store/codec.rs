//! How domain values are stored: text forms of the enums, dates as ISO text, and the
//! conversion of enrolment rows to and from [`Enrolment`].

use super::StoreError;
use super::entities::enrolment;
use crate::domain::duplicates::{DuplicateKind, TaskState};
use crate::domain::enrolment::ContributionKind;
use crate::domain::{EndReason, Enrolment, PersonCategory, Scheme};
use chrono::NaiveDate;
use sea_orm::Set;
use yibao_core::{Fen, RegionCode};

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn date(s: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| StoreError::Corrupt(format!("stored date `{s}`: {e}")))
}

pub(crate) fn opt_date(s: &Option<String>) -> Result<Option<NaiveDate>, StoreError> {
    s.as_deref().map(date).transpose()
}

/// Text form of a scheme in the database.
pub fn scheme_str(s: Scheme) -> &'static str {
    match s {
        Scheme::Employee => "employee",
        Scheme::Resident => "resident",
    }
}

/// Text form of a category in the database (spelled out here: stored text never follows a
/// rename elsewhere).
pub fn category_str(c: PersonCategory) -> &'static str {
    match c {
        PersonCategory::MinimumLiving => "minimum_living",
        PersonCategory::ExtremePoverty => "extreme_poverty",
        PersonCategory::PovertyRegistered => "poverty_registered",
        PersonCategory::FiveGuarantees => "five_guarantees",
        PersonCategory::Disabled => "disabled",
        PersonCategory::LowIncome => "low_income",
        PersonCategory::Student => "student",
        PersonCategory::Retiree => "retiree",
    }
}

pub(crate) fn category_of(s: &str) -> Option<PersonCategory> {
    PersonCategory::ALL
        .into_iter()
        .find(|c| category_str(*c) == s)
}

pub(crate) fn end_reason_str(r: EndReason) -> &'static str {
    match r {
        EndReason::Deceased => "deceased",
        EndReason::MovedOutOfRegion => "moved_out_of_region",
        EndReason::MovedOutOfProvince => "moved_out_of_province",
        EndReason::Transferred => "transferred",
        EndReason::Duplicate => "duplicate",
    }
}

fn end_reason_of(s: &str) -> Option<EndReason> {
    [
        EndReason::Deceased,
        EndReason::MovedOutOfRegion,
        EndReason::MovedOutOfProvince,
        EndReason::Transferred,
        EndReason::Duplicate,
    ]
    .into_iter()
    .find(|r| end_reason_str(*r) == s)
}

pub(crate) fn kind_str(k: ContributionKind) -> &'static str {
    match k {
        ContributionKind::Payment => "payment",
        ContributionKind::Subsidy => "subsidy",
    }
}

pub(crate) fn contribution_kind_of(s: &str) -> Option<ContributionKind> {
    [ContributionKind::Payment, ContributionKind::Subsidy]
        .into_iter()
        .find(|k| kind_str(*k) == s)
}

pub(crate) fn duplicate_kind_str(k: DuplicateKind) -> &'static str {
    match k {
        DuplicateKind::SameSystemMultiRegion => "same_system_multi_region",
        DuplicateKind::CrossSystem => "cross_system",
        DuplicateKind::DoublePaymentSameRegion => "double_payment_same_region",
    }
}

pub(crate) fn duplicate_kind_of(s: &str) -> DuplicateKind {
    match s {
        "cross_system" => DuplicateKind::CrossSystem,
        "same_system_multi_region" => DuplicateKind::SameSystemMultiRegion,
        _ => DuplicateKind::DoublePaymentSameRegion,
    }
}

pub(crate) fn task_state_of(s: &str) -> TaskState {
    match s {
        "verified" => TaskState::Verified,
        "resolved" => TaskState::Resolved,
        "dismissed" => TaskState::Dismissed,
        _ => TaskState::Flagged,
    }
}

/// Converts a stored enrolment.
pub fn enrolment_of(m: &enrolment::Model) -> Result<Enrolment, StoreError> {
    Ok(Enrolment {
        id: m.id.clone(),
        year: m.year,
        scheme: Scheme::parse(&m.scheme)
            .ok_or_else(|| StoreError::Corrupt(format!("scheme `{}`", m.scheme)))?,
        region: RegionCode::parse(&m.region_code)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        enrolled_on: date(&m.enrolled_on)?,
        effective_from: date(&m.effective_from)?,
        effective_to: date(&m.effective_to)?,
        due: Fen(m.due_fen),
        paid: Fen(m.paid_fen),
        subsidised: Fen(m.subsidised_fen),
        paid_on: opt_date(&m.paid_on)?,
        end_reason: m.end_reason.as_deref().and_then(end_reason_of),
    })
}

pub(crate) fn enrolment_model(
    person_id: &str,
    e: &Enrolment,
    created_at: String,
) -> enrolment::ActiveModel {
    enrolment::ActiveModel {
        id: Set(e.id.clone()),
        person_id: Set(person_id.to_string()),
        year: Set(e.year),
        scheme: Set(scheme_str(e.scheme).into()),
        region_code: Set(e.region.to_string()),
        enrolled_on: Set(e.enrolled_on.to_string()),
        effective_from: Set(e.effective_from.to_string()),
        effective_to: Set(e.effective_to.to_string()),
        due_fen: Set(e.due.0),
        paid_fen: Set(e.paid.0),
        subsidised_fen: Set(e.subsidised.0),
        paid_on: Set(e.paid_on.map(|d| d.to_string())),
        end_reason: Set(e.end_reason.map(|r| end_reason_str(r).to_string())),
        created_at: Set(created_at),
    }
}
