//! Duplicate enrolment (重复参保): two effective enrolments of one person whose covered days
//! overlap in a year. The pair is reported with the enrolment that should stay: the employee
//! scheme before the resident scheme; otherwise the one paid earlier (then enrolled earlier).

use super::{Enrolment, Scheme};

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

fn rank(e: &Enrolment) -> (u8, chrono::NaiveDate, chrono::NaiveDate, &str) {
    let scheme = match e.scheme {
        Scheme::Employee => 0,
        Scheme::Resident => 1,
    };
    (
        scheme,
        e.paid_on.unwrap_or(chrono::NaiveDate::MAX),
        e.enrolled_on,
        e.id.as_str(),
    )
}

/// Finds duplicate pairs among one person's enrolments (any years; pairs only overlap within a
/// year). Each losing enrolment is paired with the best one it overlaps.
pub fn find_duplicates(enrolments: &[Enrolment]) -> Vec<DuplicatePair> {
    let mut effective: Vec<(&Enrolment, (chrono::NaiveDate, chrono::NaiveDate))> = enrolments
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
}
