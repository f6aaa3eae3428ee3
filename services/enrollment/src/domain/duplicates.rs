//! Duplicate enrolment (重复参保): two effective enrolments of one person whose covered days
//! overlap in a year. The pair is reported with the enrolment that should stay: the employee
//! scheme before the resident scheme; otherwise the one paid earlier (then enrolled earlier).
//! A pair becomes a task that an operator works flagged → verified → resolved (or dismissed);
//! resolving ends the losing enrolment the day before the kept one gives cover.

use super::{Enrolment, EnrolmentError, Scheme};
use chrono::NaiveDate;

/// Kind of duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DuplicateKind {
    /// Same scheme in two regions.
    SameSystemMultiRegion,
    /// Employee and resident at once.
    CrossSystem,
    /// Same scheme, same region, paid twice.
    DoublePaymentSameRegion,
}

/// One duplicate pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicatePair {
    /// Kind.
    pub kind: DuplicateKind,
    /// Enrolment to keep.
    pub keep: String,
    /// Enrolment to end.
    pub drop: String,
    /// Why.
    pub rationale: String,
}

fn rank(e: &Enrolment) -> (u8, NaiveDate, NaiveDate, &str) {
    let scheme = match e.scheme {
        Scheme::Employee => 0,
        Scheme::Resident => 1,
    };
    (
        scheme,
        e.paid_on.unwrap_or(NaiveDate::MAX),
        e.enrolled_on,
        e.id.as_str(),
    )
}

/// Finds duplicate pairs among one person's enrolments (any years; pairs only overlap within a
/// year). Each losing enrolment is paired with the best one it overlaps.
pub fn find_duplicates(enrolments: &[Enrolment]) -> Vec<DuplicatePair> {
    let mut effective: Vec<(&Enrolment, (NaiveDate, NaiveDate))> = enrolments
        .iter()
        .filter_map(|e| e.covered_span().map(|s| (e, s)))
        .collect();
    effective.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)));
    let mut pairs = Vec::new();
    for (i, (loser, span)) in effective.iter().enumerate().skip(1) {
        let winner = effective[..i]
            .iter()
            .find(|(w, ws)| w.year == loser.year && ws.0 <= span.1 && span.0 <= ws.1);
        if let Some((keep, _)) = winner {
            let kind = if keep.scheme != loser.scheme {
                DuplicateKind::CrossSystem
            } else if keep.region != loser.region {
                DuplicateKind::SameSystemMultiRegion
            } else {
                DuplicateKind::DoublePaymentSameRegion
            };
            let rationale = if keep.scheme != loser.scheme {
                "the employee scheme takes precedence over the resident scheme".to_string()
            } else {
                format!(
                    "kept the enrolment paid first ({} in region {})",
                    keep.paid_on.map(|d| d.to_string()).unwrap_or_default(),
                    keep.region
                )
            };
            pairs.push(DuplicatePair {
                kind,
                keep: keep.id.clone(),
                drop: loser.id.clone(),
                rationale,
            });
        }
    }
    pairs
}

/// State of a duplicate task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Found by a scan, not yet looked at.
    Flagged,
    /// An operator confirmed the duplicate.
    Verified,
    /// The losing enrolment was ended.
    Resolved,
    /// Not a duplicate after all.
    Dismissed,
}

impl TaskState {
    /// Stable name (as stored and as shown in messages).
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Flagged => "flagged",
            TaskState::Verified => "verified",
            TaskState::Resolved => "resolved",
            TaskState::Dismissed => "dismissed",
        }
    }
}

/// flagged → verified | dismissed; verified → resolved | dismissed; nothing after.
pub fn check_transition(from: TaskState, to: TaskState) -> Result<(), EnrolmentError> {
    use TaskState as S;
    let ok = matches!(
        (from, to),
        (S::Flagged, S::Verified | S::Dismissed) | (S::Verified, S::Resolved | S::Dismissed)
    );
    if ok {
        Ok(())
    } else {
        Err(EnrolmentError::TaskTransition(format!(
            "a task that is {} cannot become {}",
            from.name(),
            to.name()
        )))
    }
}

/// The last covered day of the losing enrolment when a duplicate is resolved: the day before
/// the kept one gives cover (its effective date, or its payment when later), but not before
/// the day before the loser began, and never after the loser ended (no double benefits from
/// then on).
pub fn end_of_dropped(keep: &Enrolment, drop: &Enrolment) -> NaiveDate {
    let keep_from = keep
        .paid_on
        .unwrap_or(keep.effective_from)
        .max(keep.effective_from);
    let end = keep_from.pred_opt().unwrap_or(keep_from);
    let floor = drop.effective_from.pred_opt().unwrap_or(NaiveDate::MIN);
    end.max(floor).min(drop.effective_to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::enrolment::tests::{d, file, huoqiu_2018, region};
    use crate::domain::enrolment::{ContributionKind, contribute, enrol};
    use yibao_core::Fen;

    fn paid(id: &str, scheme: Scheme, reg: &str, paid_on: &str) -> Enrolment {
        let e = enrol(
            &file(),
            id.into(),
            2021,
            scheme,
            region(reg),
            d("2020-11-01"),
            &huoqiu_2018(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        contribute(&e, ContributionKind::Payment, Fen::yuan(180), d(paid_on))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn employee_scheme_stays_over_resident() {
        let pairs = find_duplicates(&[
            paid("r", Scheme::Resident, "630102", "2020-11-02"),
            paid("w", Scheme::Employee, "630102", "2020-12-20"),
        ]);
        assert_eq!(pairs.len(), 1);
        assert_eq!(
            (
                pairs[0].kind,
                pairs[0].keep.as_str(),
                pairs[0].drop.as_str()
            ),
            (DuplicateKind::CrossSystem, "w", "r")
        );
    }

    #[test]
    fn across_regions_the_earlier_paid_one_stays() {
        let pairs = find_duplicates(&[
            paid("late", Scheme::Resident, "630102", "2020-12-20"),
            paid("early", Scheme::Resident, "632123", "2020-11-05"),
        ]);
        assert_eq!(
            (
                pairs[0].kind,
                pairs[0].keep.as_str(),
                pairs[0].drop.as_str()
            ),
            (DuplicateKind::SameSystemMultiRegion, "early", "late")
        );
    }

    #[test]
    fn unpaid_or_non_overlapping_enrolments_are_not_duplicates() {
        let unpaid = enrol(
            &file(),
            "u".into(),
            2021,
            Scheme::Resident,
            region("630102"),
            d("2020-11-01"),
            &huoqiu_2018(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            find_duplicates(&[unpaid, paid("p", Scheme::Resident, "632123", "2020-11-05")])
                .is_empty()
        );
        let mut first_half = paid("a", Scheme::Resident, "630102", "2020-11-02");
        first_half.effective_to = d("2021-06-30");
        let mut second_half = paid("b", Scheme::Resident, "632123", "2020-11-03");
        second_half.effective_from = d("2021-07-01");
        assert!(find_duplicates(&[first_half, second_half]).is_empty());
    }

    #[test]
    fn three_way_duplicates_yield_two_pairs_against_the_keeper() {
        let pairs = find_duplicates(&[
            paid("a", Scheme::Resident, "630102", "2020-11-09"),
            paid("b", Scheme::Resident, "632123", "2020-11-05"),
            paid("c", Scheme::Employee, "630104", "2020-12-01"),
        ]);
        assert_eq!(
            pairs
                .iter()
                .map(|p| (p.keep.as_str(), p.drop.as_str()))
                .collect::<Vec<_>>(),
            [("c", "b"), ("c", "a")]
        );
    }

    #[test]
    fn tasks_move_flagged_verified_resolved_and_nothing_after() {
        use TaskState as S;
        assert_eq!(check_transition(S::Flagged, S::Verified), Ok(()));
        assert_eq!(check_transition(S::Verified, S::Resolved), Ok(()));
        assert_eq!(check_transition(S::Flagged, S::Dismissed), Ok(()));
        assert_eq!(
            check_transition(S::Flagged, S::Resolved),
            Err(EnrolmentError::TaskTransition(
                "a task that is flagged cannot become resolved".into()
            ))
        );
        assert!(check_transition(S::Resolved, S::Dismissed).is_err());
    }

    #[test]
    fn the_dropped_enrolment_ends_the_day_before_the_kept_one_is_paid() {
        let keep = paid("w", Scheme::Employee, "630102", "2021-03-10");
        let drop = paid("r", Scheme::Resident, "630102", "2020-11-02");
        assert_eq!(end_of_dropped(&keep, &drop), d("2021-03-09"));
        let keep_early = paid("w", Scheme::Employee, "630102", "2020-11-01");
        assert_eq!(end_of_dropped(&keep_early, &drop), d("2020-12-31"));
    }
}
