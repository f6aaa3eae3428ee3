//! Eligibility of a person on a date: the hottest read of the platform. Pure over a
//! [`PersonFile`], so the cache can hold the file and answer any date.

use super::{EndReason, Enrolment, PersonCategory, PersonFile};
use chrono::NaiveDate;

/// Why a person is not covered on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IneligibleReason {
    /// No enrolment covers the date.
    NotEnrolled,
    /// Enrolled but not (yet) paid on the date.
    Unpaid,
    /// Within the waiting period.
    WaitingPeriod,
    /// Died before the date.
    Deceased,
    /// Moved out before the date.
    MovedOut,
    /// Suspended on the date.
    Suspended,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eligibility {
    /// Covered on the date.
    pub eligible: bool,
    /// Why not.
    pub reason: Option<IneligibleReason>,
    /// A sentence for people.
    pub explanation: String,
    /// The enrolment that covers the date (or the one that came closest).
    pub enrolment: Option<Enrolment>,
    /// First day of continuous cover up to the date.
    pub insured_since: Option<NaiveDate>,
    /// Categories valid on the date.
    pub categories: Vec<PersonCategory>,
}

fn no(
    reason: IneligibleReason,
    explanation: String,
    enrolment: Option<&Enrolment>,
    categories: Vec<PersonCategory>,
) -> Eligibility {
    Eligibility {
        eligible: false,
        reason: Some(reason),
        explanation,
        enrolment: enrolment.cloned(),
        insured_since: None,
        categories,
    }
}

/// Decides whether `file`'s person is covered on `date`, and why not.
pub fn eligibility(file: &PersonFile, date: NaiveDate) -> Eligibility {
    let categories = categories_on(file, date);
    if let Some(d) = file.death_date.filter(|d| *d < date) {
        return no(
            IneligibleReason::Deceased,
            format!("deceased on {d}; cover ended that day"),
            None,
            categories,
        );
    }
    let covering: Vec<&Enrolment> = file
        .enrolments
        .iter()
        .filter(|e| e.effective_from <= date && date <= e.effective_to)
        .collect();
    if let Some(e) = paid_cover(&covering, date) {
        return covered(file, e, date, categories);
    }
    not_covered(file, covering.first().copied(), date, categories)
}

/// The person's categories valid on `date`, sorted, each once.
fn categories_on(file: &PersonFile, date: NaiveDate) -> Vec<PersonCategory> {
    let mut categories: Vec<PersonCategory> = file
        .categories
        .iter()
        .filter(|g| g.valid_on(date))
        .map(|g| g.category)
        .collect();
    categories.sort();
    categories.dedup();
    categories
}

/// Among the enrolments covering `date`, the one paid by then.
fn paid_cover<'a>(covering: &[&'a Enrolment], date: NaiveDate) -> Option<&'a Enrolment> {
    // Prefer a paid one; employee before resident when both cover (duplicates are reported elsewhere).
    covering
        .iter()
        .copied()
        .filter(|e| e.covered_span().is_some_and(|(from, _)| from <= date))
        .min_by_key(|e| (e.scheme, e.paid_on))
}

/// The answer when paid enrolment `e` covers `date`: covered, unless suspended on the date.
fn covered(
    file: &PersonFile,
    e: &Enrolment,
    date: NaiveDate,
    categories: Vec<PersonCategory>,
) -> Eligibility {
    if let Some(s) = file
        .suspensions
        .iter()
        .find(|s| s.from <= date && s.until.is_none_or(|u| date < u))
    {
        return no(
            IneligibleReason::Suspended,
            format!("cover suspended from {}", s.from),
            Some(e),
            categories,
        );
    }
    Eligibility {
        eligible: true,
        reason: None,
        explanation: format!(
            "covered by the {:?} scheme in region {} from {}",
            e.scheme,
            e.region,
            e.effective_from.max(e.paid_on.unwrap_or(e.effective_from))
        ),
        enrolment: Some(e.clone()),
        insured_since: Some(insured_since(file, e)),
        categories,
    }
}

/// Why no paid enrolment covers `date`: unpaid (`unpaid` covers it without payment), in the
/// waiting period, moved out, or not enrolled.
fn not_covered(
    file: &PersonFile,
    unpaid: Option<&Enrolment>,
    date: NaiveDate,
    categories: Vec<PersonCategory>,
) -> Eligibility {
    if let Some(e) = unpaid {
        return no(
            IneligibleReason::Unpaid,
            format!(
                "enrolled for {} but {} yuan of the contribution is unpaid on {date}",
                e.year,
                e.outstanding()
            ),
            Some(e),
            categories,
        );
    }
    if let Some(e) = file
        .enrolments
        .iter()
        .find(|e| e.year == date_year(date) && date < e.effective_from && e.end_reason.is_none())
    {
        return no(
            IneligibleReason::WaitingPeriod,
            format!("waiting period: cover starts on {}", e.effective_from),
            Some(e),
            categories,
        );
    }
    let moved = file
        .enrolments
        .iter()
        .filter(|e| {
            e.effective_to < date
                && matches!(
                    e.end_reason,
                    Some(EndReason::MovedOutOfRegion | EndReason::MovedOutOfProvince)
                )
        })
        .max_by_key(|e| e.effective_to);
    if let Some(e) = moved {
        return no(
            IneligibleReason::MovedOut,
            format!(
                "moved out of region {}; cover ended on {}",
                e.region, e.effective_to
            ),
            Some(e),
            categories,
        );
    }
    if let Some(d) = file.moved_out_of_province.filter(|d| *d <= date) {
        return no(
            IneligibleReason::MovedOut,
            format!("moved out of the province on {d}"),
            None,
            categories,
        );
    }
    no(
        IneligibleReason::NotEnrolled,
        format!("no enrolment covers {date}"),
        None,
        categories,
    )
}

fn date_year(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.year()
}

/// Walks back through enrolments that join without a gap to find when continuous cover began.
fn insured_since(file: &PersonFile, current: &Enrolment) -> NaiveDate {
    let mut since = current
        .effective_from
        .max(current.paid_on.unwrap_or(current.effective_from));
    loop {
        let Some(day_before) = since.pred_opt() else {
            return since;
        };
        let prev = file
            .enrolments
            .iter()
            .filter_map(|e| e.covered_span().map(|span| (e, span)))
            .find(|(_, (from, to))| *from <= day_before && day_before <= *to && *from < since);
        match prev {
            Some((_, (from, _))) => since = from,
            None => return since,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::enrolment::tests::{d, file, huoqiu_2018, region};
    use crate::domain::enrolment::{ContributionKind, contribute, enrol};
    use crate::domain::{CategoryGrant, Scheme};
    use yibao_core::Fen;

    #[test]
    fn not_enrolled_unpaid_and_waiting_are_told_apart() {
        let mut f = file();
        assert_eq!(
            eligibility(&f, d("2018-05-01")).reason,
            Some(IneligibleReason::NotEnrolled)
        );
        let e = enrol(
            &f,
            "e1".into(),
            2018,
            Scheme::Resident,
            region("341522"),
            d("2018-05-01"),
            &huoqiu_2018(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        f.enrolments.push(e.clone());
        assert_eq!(
            eligibility(&f, d("2018-05-10")).reason,
            Some(IneligibleReason::WaitingPeriod)
        );
        assert_eq!(
            eligibility(&f, d("2018-06-10")).reason,
            Some(IneligibleReason::Unpaid)
        );
        f.enrolments[0] = contribute(
            &e,
            ContributionKind::Payment,
            Fen::yuan(180),
            d("2018-06-20"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            eligibility(&f, d("2018-06-10")).reason,
            Some(IneligibleReason::Unpaid),
            "the past is answered as it was"
        );
        assert!(eligibility(&f, d("2018-06-20")).eligible);
    }

    #[test]
    fn categories_valid_on_the_day_are_reported() {
        let mut f = file();
        f.categories.push(CategoryGrant {
            category: PersonCategory::PovertyRegistered,
            valid_from: d("2016-01-01"),
            valid_to: Some(d("2020-12-31")),
        });
        f.categories.push(CategoryGrant {
            category: PersonCategory::MinimumLiving,
            valid_from: d("2018-07-01"),
            valid_to: None,
        });
        assert_eq!(
            eligibility(&f, d("2018-06-30")).categories,
            vec![PersonCategory::PovertyRegistered]
        );
        assert_eq!(
            eligibility(&f, d("2018-07-01")).categories,
            vec![
                PersonCategory::MinimumLiving,
                PersonCategory::PovertyRegistered
            ]
        );
        assert_eq!(
            eligibility(&f, d("2021-01-01")).categories,
            vec![PersonCategory::MinimumLiving]
        );
    }

    #[test]
    fn insured_since_spans_consecutive_years() {
        let mut f = file();
        for (id, year) in [("a", 2016), ("b", 2017), ("c", 2018)] {
            let e = enrol(
                &f,
                id.into(),
                year,
                Scheme::Resident,
                region("341522"),
                d(&format!("{}-12-01", year - 1)),
                &huoqiu_2018(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            f.enrolments.push(
                contribute(
                    &e,
                    ContributionKind::Subsidy,
                    Fen::yuan(180),
                    d(&format!("{}-12-02", year - 1)),
                )
                .unwrap_or_else(|e| panic!("{e}")),
            );
        }
        assert_eq!(
            eligibility(&f, d("2018-03-01")).insured_since,
            Some(d("2016-01-01"))
        );
    }
}
