//! Enrolling, paying and status events.

use super::{EndReason, Enrolment, EnrolmentError, PersonFile, Scheme, Suspension, year_bounds};
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use yibao_core::{Fen, RegionCode};

/// The annual individual contribution of a scheme in a region and year, and the waiting
/// period for people who enrol after the year has begun.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionStandard {
    /// Individual share due for the year.
    pub individual_amount: Fen,
    /// Days after a late enrolment before cover starts.
    pub waiting_days: u32,
}

/// Plans a new enrolment. Cover runs for the calendar year; enrolling during the year starts
/// cover after the waiting period.
pub fn enrol(
    file: &PersonFile,
    id: String,
    year: i32,
    scheme: Scheme,
    region: RegionCode,
    enrolled_on: NaiveDate,
    standard: &ContributionStandard,
) -> Result<Enrolment, EnrolmentError> {
    let (start, end) = year_bounds(year)
        .filter(|_| (2000..=2100).contains(&year))
        .ok_or_else(|| EnrolmentError::invalid("year", format!("{year} is out of range")))?;
    if enrolled_on > end {
        return Err(EnrolmentError::invalid(
            "enrolled_on",
            format!("{enrolled_on} is after the end of {year}"),
        ));
    }
    if let Some(d) = file.death_date
        && d < enrolled_on.max(start)
    {
        return Err(EnrolmentError::Precondition(format!(
            "the person died on {d}"
        )));
    }
    if file.enrolments.iter().any(|e| {
        e.year == year && e.scheme == scheme && e.region == region && e.end_reason.is_none()
    }) {
        return Err(EnrolmentError::Exists(format!(
            "already enrolled in {year} for this scheme in region {region}"
        )));
    }
    let effective_from = if enrolled_on < start {
        start
    } else {
        enrolled_on
            .checked_add_days(Days::new(u64::from(standard.waiting_days)))
            .unwrap_or(end)
    };
    Ok(Enrolment {
        id,
        year,
        scheme,
        region,
        enrolled_on,
        effective_from: effective_from.min(end),
        effective_to: end,
        due: standard.individual_amount,
        paid: Fen::ZERO,
        subsidised: Fen::ZERO,
        paid_on: if standard.individual_amount == Fen::ZERO {
            Some(enrolled_on)
        } else {
            None
        },
        end_reason: None,
    })
}

/// A payment by the person or a subsidy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContributionKind {
    /// Paid by the person.
    Payment,
    /// Paid by a government subsidy.
    Subsidy,
}

/// Applies a contribution. Over-payment is refused: the amount may not exceed what is owed.
pub fn contribute(
    e: &Enrolment,
    kind: ContributionKind,
    amount: Fen,
    paid_on: NaiveDate,
) -> Result<Enrolment, EnrolmentError> {
    if amount.0 <= 0 {
        return Err(EnrolmentError::invalid("amount_fen", "must be positive"));
    }
    if e.end_reason.is_some() {
        return Err(EnrolmentError::Precondition(
            "the enrolment has ended".into(),
        ));
    }
    let outstanding = e.outstanding();
    if amount > outstanding {
        return Err(EnrolmentError::invalid(
            "amount_fen",
            format!("{amount} yuan exceeds the outstanding {outstanding} yuan"),
        ));
    }
    let mut next = e.clone();
    match kind {
        ContributionKind::Payment => next.paid = Fen(next.paid.0 + amount.0),
        ContributionKind::Subsidy => next.subsidised = Fen(next.subsidised.0 + amount.0),
    }
    if next.outstanding() == Fen::ZERO && next.paid_on.is_none() {
        next.paid_on = Some(paid_on);
    }
    Ok(next)
}

/// A status event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusEvent {
    /// Death on the date.
    Death,
    /// Moved out of the region.
    MovedOutOfRegion,
    /// Moved out of the province.
    MovedOutOfProvince,
    /// Transfer to another region and/or scheme from the date.
    Transfer {
        /// Target region.
        to_region: RegionCode,
        /// Target scheme.
        to_scheme: Scheme,
    },
    /// Cover suspended from the date.
    Suspension,
    /// Cover resumed from the date.
    Resumption,
}

/// The scheme a transfer keeps when it names none: the scheme of the open enrolment covering
/// `on`, or the resident scheme when none does.
pub fn scheme_kept_on(file: &PersonFile, on: NaiveDate) -> Scheme {
    file.enrolments
        .iter()
        .find(|e| e.end_reason.is_none() && e.effective_from <= on && on <= e.effective_to)
        .map_or(Scheme::Resident, |e| e.scheme)
}

/// What a status event changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventOutcome {
    /// Enrolments changed (ended or shortened).
    pub changed: Vec<Enrolment>,
    /// Enrolments created (transfers).
    pub created: Vec<Enrolment>,
    /// New date of death.
    pub death_date: Option<NaiveDate>,
    /// New moved-out-of-province date.
    pub moved_out_of_province: Option<NaiveDate>,
    /// New suspension list.
    pub suspensions: Option<Vec<Suspension>>,
}

/// Applies a status event effective on `on`. Death ends cover after the day of death; moving
/// out and transfers end it the day before `on`. `new_id` names enrolments a transfer creates.
pub fn apply_event(
    file: &PersonFile,
    event: &StatusEvent,
    on: NaiveDate,
    new_id: &mut dyn FnMut() -> String,
) -> Result<EventOutcome, EnrolmentError> {
    if let Some(d) = file.death_date
        && (!matches!(event, StatusEvent::Death) || d <= on)
    {
        return Err(EnrolmentError::Precondition(format!(
            "the person died on {d}"
        )));
    }
    let day_before = on.pred_opt().unwrap_or(on);
    let mut out = EventOutcome::default();
    match event {
        StatusEvent::Death => {
            end_all(file, on, EndReason::Deceased, &mut out);
            out.death_date = Some(on);
        }
        StatusEvent::MovedOutOfRegion => {
            end_all(file, day_before, EndReason::MovedOutOfRegion, &mut out)
        }
        StatusEvent::MovedOutOfProvince => {
            end_all(file, day_before, EndReason::MovedOutOfProvince, &mut out);
            out.moved_out_of_province = Some(on);
        }
        StatusEvent::Transfer {
            to_region,
            to_scheme,
        } => {
            let (ended, created) = transfer(file, to_region, *to_scheme, on, new_id)?;
            out.changed.push(ended);
            out.created.push(created);
        }
        StatusEvent::Suspension => out.suspensions = Some(suspend(file, on)?),
        StatusEvent::Resumption => out.suspensions = Some(resume(file, on)?),
    }
    Ok(out)
}

/// Ends every open enrolment still running after `last_day` on `last_day` (or, for one not
/// started yet, the day before it starts), for `reason`.
fn end_all(file: &PersonFile, last_day: NaiveDate, reason: EndReason, out: &mut EventOutcome) {
    for e in file
        .enrolments
        .iter()
        .filter(|e| e.effective_to > last_day && e.end_reason.is_none())
    {
        let mut c = e.clone();
        c.effective_to = last_day.max(c.effective_from.pred_opt().unwrap_or(c.effective_from));
        c.end_reason = Some(reason);
        out.changed.push(c);
    }
}

/// A transfer on `on`: the enrolment covering `on` ends the day before, and a new one of the
/// target region and scheme takes over to the end of its year. Returns (ended, created).
fn transfer(
    file: &PersonFile,
    to_region: &RegionCode,
    to_scheme: Scheme,
    on: NaiveDate,
    new_id: &mut dyn FnMut() -> String,
) -> Result<(Enrolment, Enrolment), EnrolmentError> {
    let day_before = on.pred_opt().unwrap_or(on);
    let current = file
        .enrolments
        .iter()
        .find(|e| e.end_reason.is_none() && e.effective_from <= on && on <= e.effective_to)
        .ok_or_else(|| {
            EnrolmentError::Precondition(format!("no enrolment covers {on} to transfer from"))
        })?;
    if current.region == *to_region && current.scheme == to_scheme {
        return Err(EnrolmentError::invalid(
            "to_region_code",
            "the transfer target equals the current enrolment",
        ));
    }
    let mut ended = current.clone();
    ended.effective_to = day_before;
    ended.end_reason = Some(EndReason::Transferred);
    // The contribution already made carries over: cover continues without a gap.
    let created = Enrolment {
        id: new_id(),
        year: current.year,
        scheme: to_scheme,
        region: to_region.clone(),
        enrolled_on: on,
        effective_from: on,
        effective_to: current.effective_to,
        due: current.due,
        paid: current.paid,
        subsidised: current.subsidised,
        paid_on: current.paid_on.map(|_| on),
        end_reason: None,
    };
    Ok((ended, created))
}

/// The suspension list with a suspension open from `on`; refused while one is open.
fn suspend(file: &PersonFile, on: NaiveDate) -> Result<Vec<Suspension>, EnrolmentError> {
    if file.suspensions.iter().any(|s| s.until.is_none()) {
        return Err(EnrolmentError::Precondition(
            "cover is already suspended".into(),
        ));
    }
    let mut s = file.suspensions.clone();
    s.push(super::Suspension {
        from: on,
        until: None,
    });
    Ok(s)
}

/// The suspension list with the open suspension closed on `on`.
fn resume(file: &PersonFile, on: NaiveDate) -> Result<Vec<Suspension>, EnrolmentError> {
    let mut s = file.suspensions.clone();
    let open = s
        .iter_mut()
        .find(|s| s.until.is_none())
        .ok_or_else(|| EnrolmentError::Precondition("cover is not suspended".into()))?;
    if on < open.from {
        return Err(EnrolmentError::invalid(
            "effective_on",
            format!("resumption before the suspension of {}", open.from),
        ));
    }
    open.until = Some(on);
    Ok(s)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::eligibility::{IneligibleReason, eligibility};

    pub(crate) fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    pub(crate) fn region(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    pub(crate) fn file() -> PersonFile {
        PersonFile {
            person_id: "p1".into(),
            id_masked: "3415**********0018".into(),
            name: "张三".into(),
            sex: "male".into(),
            birth_date: d("1960-01-01"),
            region: region("341522"),
            death_date: None,
            moved_out_of_province: None,
            enrolments: vec![],
            categories: vec![],
            suspensions: vec![],
        }
    }

    pub(crate) fn huoqiu_2018() -> ContributionStandard {
        ContributionStandard {
            individual_amount: Fen::yuan(180),
            waiting_days: 30,
        }
    }

    #[test]
    fn enrolling_before_the_year_covers_from_january_first() {
        let e = enrol(
            &file(),
            "e1".into(),
            2018,
            Scheme::Resident,
            region("341522"),
            d("2017-11-20"),
            &huoqiu_2018(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (e.effective_from, e.effective_to),
            (d("2018-01-01"), d("2018-12-31"))
        );
        assert_eq!(e.due, Fen(18_000));
        assert_eq!(e.paid_on, None);
    }

    #[test]
    fn enrolling_mid_year_waits_out_the_waiting_period() {
        let e = enrol(
            &file(),
            "e1".into(),
            2018,
            Scheme::Resident,
            region("341522"),
            d("2018-03-01"),
            &huoqiu_2018(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.effective_from, d("2018-03-31"));
    }

    #[test]
    fn a_full_county_subsidy_makes_the_enrolment_effective() {
        // Seed 000: the county pays the whole 180-yuan share of poverty-registered people.
        let e = enrol(
            &file(),
            "e1".into(),
            2018,
            Scheme::Resident,
            region("341522"),
            d("2017-11-20"),
            &huoqiu_2018(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = contribute(
            &e,
            ContributionKind::Subsidy,
            Fen::yuan(180),
            d("2017-12-01"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (e.subsidised, e.paid, e.paid_on),
            (Fen(18_000), Fen::ZERO, Some(d("2017-12-01")))
        );
    }

    #[test]
    fn part_payment_then_subsidy_completes_on_the_last_day_paid() {
        let e = enrol(
            &file(),
            "e1".into(),
            2018,
            Scheme::Resident,
            region("341522"),
            d("2017-11-20"),
            &huoqiu_2018(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = contribute(
            &e,
            ContributionKind::Payment,
            Fen::yuan(80),
            d("2017-12-01"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.paid_on, None);
        let e = contribute(
            &e,
            ContributionKind::Subsidy,
            Fen::yuan(100),
            d("2017-12-05"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.paid_on, Some(d("2017-12-05")));
    }

    #[test]
    fn over_payment_and_non_positive_amounts_are_refused_naming_the_field() {
        let e = enrol(
            &file(),
            "e1".into(),
            2018,
            Scheme::Resident,
            region("341522"),
            d("2017-11-20"),
            &huoqiu_2018(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let err = contribute(
            &e,
            ContributionKind::Payment,
            Fen::yuan(181),
            d("2017-12-01"),
        )
        .err();
        assert!(
            matches!(
                err,
                Some(EnrolmentError::Invalid {
                    field: "amount_fen",
                    ..
                })
            ),
            "{err:?}"
        );
        assert!(contribute(&e, ContributionKind::Payment, Fen(0), d("2017-12-01")).is_err());
    }

    #[test]
    fn the_same_scheme_region_and_year_cannot_be_enrolled_twice() {
        let mut f = file();
        f.enrolments.push(
            enrol(
                &f,
                "e1".into(),
                2018,
                Scheme::Resident,
                region("341522"),
                d("2017-11-20"),
                &huoqiu_2018(),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(matches!(
            enrol(
                &f,
                "e2".into(),
                2018,
                Scheme::Resident,
                region("341522"),
                d("2017-11-21"),
                &huoqiu_2018()
            ),
            Err(EnrolmentError::Exists(_))
        ));
    }

    fn paid_file() -> PersonFile {
        let mut f = file();
        let e = enrol(
            &f,
            "e1".into(),
            2018,
            Scheme::Resident,
            region("341522"),
            d("2017-11-20"),
            &huoqiu_2018(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        f.enrolments.push(
            contribute(
                &e,
                ContributionKind::Subsidy,
                Fen::yuan(180),
                d("2017-12-01"),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        );
        f
    }

    fn apply(f: &mut PersonFile, ev: StatusEvent, on: &str) {
        let mut n = 0;
        let out = apply_event(f, &ev, d(on), &mut || {
            n += 1;
            format!("new{n}")
        })
        .unwrap_or_else(|e| panic!("{e}"));
        for c in out.changed {
            if let Some(slot) = f.enrolments.iter_mut().find(|e| e.id == c.id) {
                *slot = c;
            }
        }
        f.enrolments.extend(out.created);
        f.death_date = out.death_date.or(f.death_date);
        f.moved_out_of_province = out.moved_out_of_province.or(f.moved_out_of_province);
        if let Some(s) = out.suspensions {
            f.suspensions = s;
        }
    }

    #[test]
    fn death_mid_year_ends_cover_after_the_day_of_death_and_the_past_stays_answerable() {
        let mut f = paid_file();
        apply(&mut f, StatusEvent::Death, "2018-06-15");
        assert!(eligibility(&f, d("2018-06-15")).eligible);
        let after = eligibility(&f, d("2018-06-16"));
        assert_eq!(after.reason, Some(IneligibleReason::Deceased));
        assert!(
            eligibility(&f, d("2018-03-01")).eligible,
            "a claim from before the death is still covered"
        );
    }

    #[test]
    fn a_move_between_regions_transfers_cover_without_a_gap() {
        let mut f = paid_file();
        apply(
            &mut f,
            StatusEvent::Transfer {
                to_region: region("341502"),
                to_scheme: Scheme::Resident,
            },
            "2018-07-01",
        );
        let before = eligibility(&f, d("2018-06-30"));
        let after = eligibility(&f, d("2018-07-01"));
        assert_eq!(
            before.enrolment.as_ref().map(|e| e.region.as_str()),
            Some("341522")
        );
        assert_eq!(
            after.enrolment.as_ref().map(|e| e.region.as_str()),
            Some("341502")
        );
        assert_eq!(after.insured_since, Some(d("2018-01-01")));
    }

    #[test]
    fn moving_out_of_the_province_ends_cover_the_day_before() {
        let mut f = paid_file();
        apply(&mut f, StatusEvent::MovedOutOfProvince, "2018-09-01");
        assert!(eligibility(&f, d("2018-08-31")).eligible);
        assert_eq!(
            eligibility(&f, d("2018-09-01")).reason,
            Some(IneligibleReason::MovedOut)
        );
    }

    #[test]
    fn suspension_and_resumption_bracket_the_uncovered_days() {
        let mut f = paid_file();
        apply(&mut f, StatusEvent::Suspension, "2018-04-01");
        apply(&mut f, StatusEvent::Resumption, "2018-05-01");
        assert_eq!(
            eligibility(&f, d("2018-04-15")).reason,
            Some(IneligibleReason::Suspended)
        );
        assert!(eligibility(&f, d("2018-05-01")).eligible);
        assert!(eligibility(&f, d("2018-03-31")).eligible);
    }

    #[test]
    fn events_after_death_are_refused() {
        let mut f = paid_file();
        apply(&mut f, StatusEvent::Death, "2018-06-15");
        assert!(
            apply_event(&f, &StatusEvent::Suspension, d("2018-07-01"), &mut || "x"
                .into())
            .is_err()
        );
    }
}
