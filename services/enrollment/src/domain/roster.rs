//! Reconciling an imported roster (e.g. the civil-affairs list of vulnerable people) against
//! enrolment: for each row, enrolled or not and why — the shape of seed 002's finding of
//! 1,602 vulnerable people not enrolled.

use super::PersonFile;
use chrono::Datelike as _;
use yibao_core::RegionCode;

/// Outcome of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RosterOutcome {
    /// Enrolled in the region in the year.
    Enrolled,
    /// Died.
    Deceased,
    /// Moved out of the province.
    MovedOutOfProvince,
    /// Enrolled in another region.
    EnrolledElsewhere,
    /// The ID number on the roster is invalid.
    IdInvalid,
    /// No such person.
    NotFound,
    /// Known but not enrolled.
    NotEnrolled,
}

impl RosterOutcome {
    /// Stable name used in totals.
    pub fn name(self) -> &'static str {
        match self {
            RosterOutcome::Enrolled => "enrolled",
            RosterOutcome::Deceased => "deceased",
            RosterOutcome::MovedOutOfProvince => "moved_out_of_province",
            RosterOutcome::EnrolledElsewhere => "enrolled_elsewhere",
            RosterOutcome::IdInvalid => "id_invalid",
            RosterOutcome::NotFound => "not_found",
            RosterOutcome::NotEnrolled => "not_enrolled",
        }
    }
}

/// Reconciles one known person against enrolment in `year` within `region`.
pub fn reconcile(file: &PersonFile, year: i32, region: &RegionCode) -> (RosterOutcome, String) {
    let paid_in_year = || {
        file.enrolments
            .iter()
            .filter(|e| e.year == year && e.paid_on.is_some())
    };
    let enrolled_here = paid_in_year().find(|e| region.covers(&e.region));
    // Death in or before the year ends the cover: the row is deceased even when the year was
    // enrolled and paid (the enrolment ran until the death); a death after the year leaves
    // the year enrolled.
    if let Some(d) = file.death_date.filter(|d| d.year() <= year) {
        let detail = match enrolled_here {
            Some(e) => format!("died on {d}; enrolled in region {} until then", e.region),
            None => format!("died on {d}"),
        };
        return (RosterOutcome::Deceased, detail);
    }
    if let Some(e) = enrolled_here {
        return (
            RosterOutcome::Enrolled,
            format!("enrolled in region {} ({:?})", e.region, e.scheme),
        );
    }
    if let Some(d) = file.moved_out_of_province {
        return (
            RosterOutcome::MovedOutOfProvince,
            format!("moved out of the province on {d}"),
        );
    }
    if let Some(e) = paid_in_year().next() {
        return (
            RosterOutcome::EnrolledElsewhere,
            format!("enrolled in region {} instead", e.region),
        );
    }
    if let Some(e) = file.enrolments.iter().find(|e| e.year == year) {
        return (
            RosterOutcome::NotEnrolled,
            format!("enrolment in region {} is unpaid", e.region),
        );
    }
    (
        RosterOutcome::NotEnrolled,
        format!("no enrolment for {year}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Scheme;
    use crate::domain::enrolment::tests::{d, file, huoqiu_2018, region};
    use crate::domain::enrolment::{ContributionKind, contribute, enrol};
    use yibao_core::Fen;

    fn with_paid(reg: &str) -> PersonFile {
        let mut f = file();
        let e = enrol(
            &f,
            "e".into(),
            2021,
            Scheme::Resident,
            region(reg),
            d("2020-11-01"),
            &huoqiu_2018(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        f.enrolments.push(
            contribute(
                &e,
                ContributionKind::Payment,
                Fen::yuan(180),
                d("2020-11-02"),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        );
        f
    }

    #[test]
    fn each_reason_is_told() {
        let qinghai = region("630000");
        assert_eq!(
            reconcile(&with_paid("630102"), 2021, &qinghai).0,
            RosterOutcome::Enrolled
        );
        assert_eq!(
            reconcile(&with_paid("341522"), 2021, &qinghai).0,
            RosterOutcome::EnrolledElsewhere
        );
        let mut dead = file();
        dead.death_date = Some(d("2020-10-01"));
        assert_eq!(reconcile(&dead, 2021, &qinghai).0, RosterOutcome::Deceased);
        // Enrolled and paid for the year, then died in it: deceased, not enrolled.
        let mut died_enrolled = with_paid("630102");
        died_enrolled.death_date = Some(d("2021-05-20"));
        let (outcome, detail) = reconcile(&died_enrolled, 2021, &qinghai);
        assert_eq!(outcome, RosterOutcome::Deceased);
        assert_eq!(
            detail,
            "died on 2021-05-20; enrolled in region 630102 until then"
        );
        // A death after the year leaves the year enrolled.
        died_enrolled.death_date = Some(d("2022-02-01"));
        assert_eq!(
            reconcile(&died_enrolled, 2021, &qinghai).0,
            RosterOutcome::Enrolled
        );
        let mut moved = file();
        moved.moved_out_of_province = Some(d("2020-08-01"));
        assert_eq!(
            reconcile(&moved, 2021, &qinghai).0,
            RosterOutcome::MovedOutOfProvince
        );
        assert_eq!(
            reconcile(&file(), 2021, &qinghai).0,
            RosterOutcome::NotEnrolled
        );
    }
}
