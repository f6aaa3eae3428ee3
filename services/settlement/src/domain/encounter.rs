//! The encounter lifecycle (就诊) the national interface drives: an encounter is opened by a
//! registration or an admission, fee lines are uploaded in parts over the days of care and can
//! be cancelled line by line, it is pre-settled as often as wanted, settled once over the
//! uploaded lines (again after a reversal), and discharge closes an inpatient stay. These are
//! the rules of which step is allowed when; the steps' writes are in `app::encounters`.

use super::claim::ClaimItem;
use super::{EncounterKind, HospitalGrade, InstitutionTier};
use chrono::NaiveDate;
use yibao_core::Fen;

/// Stored status of an encounter. Whether a settlement is in force is read from its
/// settlements' claims, so a reversal (of the claim) reopens the encounter without touching it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncounterStatus {
    /// Registered or admitted.
    Open,
    /// Discharged (inpatient).
    Discharged,
    /// Registration or admission cancelled.
    Cancelled,
}

impl EncounterStatus {
    /// Text form in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EncounterStatus::Open => "open",
            EncounterStatus::Discharged => "discharged",
            EncounterStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the text form.
    pub fn parse(s: &str) -> Option<EncounterStatus> {
        [
            EncounterStatus::Open,
            EncounterStatus::Discharged,
            EncounterStatus::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Where an encounter stands: its stored status and whether a settlement is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncounterState {
    /// Stored status.
    pub status: EncounterStatus,
    /// True while one of its settlements is in force (settled or partly refunded).
    pub settled: bool,
}

/// Why a step of the lifecycle is refused now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepRefused {
    /// The registration or admission was cancelled.
    #[error("the encounter was cancelled")]
    Cancelled,
    /// A settlement is in force.
    #[error("the encounter is settled: reverse its settlement first")]
    Settled,
    /// Discharge applies to inpatient stays only.
    #[error("only an inpatient encounter is discharged")]
    NotInpatient,
    /// Cancelling a discharge needs one.
    #[error("the encounter is not discharged")]
    NotDischarged,
    /// Discharged already.
    #[error("the encounter is discharged already (cancel the discharge to change it)")]
    Discharged,
}

/// Lines may be uploaded or cancelled, visit information changed, the encounter settled: not
/// once cancelled, nor while a settlement is in force.
pub fn may_change(s: EncounterState) -> Result<(), StepRefused> {
    if s.status == EncounterStatus::Cancelled {
        return Err(StepRefused::Cancelled);
    }
    if s.settled {
        return Err(StepRefused::Settled);
    }
    Ok(())
}

/// Discharge: an open inpatient stay with no settlement in force.
pub fn may_discharge(kind: EncounterKind, s: EncounterState) -> Result<(), StepRefused> {
    if !matches!(kind, EncounterKind::Inpatient | EncounterKind::Maternity) {
        return Err(StepRefused::NotInpatient);
    }
    may_change(s)?;
    if s.status == EncounterStatus::Discharged {
        return Err(StepRefused::Discharged);
    }
    Ok(())
}

/// Taking a discharge back: a discharged stay with no settlement in force.
pub fn may_cancel_discharge(s: EncounterState) -> Result<(), StepRefused> {
    may_change(s)?;
    if s.status != EncounterStatus::Discharged {
        return Err(StepRefused::NotDischarged);
    }
    Ok(())
}

/// A fee line (费用明细) of an encounter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeLine {
    /// The institution's line number, unique in the encounter.
    pub feedetl_sn: String,
    /// The date the fee arose.
    pub fee_date: NaiveDate,
    /// The billed item (its class and standard are the catalogue's, set when priced).
    pub item: ClaimItem,
    /// Days of supply, when given.
    pub days_supply: Option<u32>,
}

/// The first field in which `sent` differs from the stored line of the same number, if any:
/// the same line sent again is a retry, another line under a used number is refused.
pub fn differing_field(stored: &FeeLine, sent: &FeeLine) -> Option<&'static str> {
    let (a, b) = (&stored.item, &sent.item);
    if stored.fee_date != sent.fee_date {
        Some("fee_time")
    } else if a.national_code != b.national_code {
        Some("item.national_code")
    } else if a.quantity != b.quantity {
        Some("item.quantity")
    } else if a.unit_price != b.unit_price {
        Some("item.unit_price_fen")
    } else if a.amount != b.amount {
        Some("item.amount_fen")
    } else if stored.days_supply != sent.days_supply {
        Some("item.days_supply")
    } else {
        None
    }
}

/// Longest line number (feedetl_sn, C30 on the interface).
pub const MAX_SN: usize = 30;
/// Most lines in one upload.
pub const MAX_LINES_PER_UPLOAD: usize = 1000;
/// Longest encounter number: the claims of an encounter are numbered `<no>#<n>`, within the
/// claims' 64 characters.
pub const MAX_ENCOUNTER_NO: usize = 50;

/// Problems of an upload as (path under `lines[n].`, reason): numbers present, short and
/// unique in the upload, fee dates within the stay (not before its start, not after its
/// discharge).
pub fn check_upload(
    lines: &[FeeLine],
    start: NaiveDate,
    discharged: Option<NaiveDate>,
) -> Vec<(String, String)> {
    let mut v = Vec::new();
    if lines.is_empty() || lines.len() > MAX_LINES_PER_UPLOAD {
        v.push((
            "lines".to_string(),
            format!("1 to {MAX_LINES_PER_UPLOAD} lines per upload"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (n, l) in lines.iter().enumerate() {
        let sn = l.feedetl_sn.trim();
        if sn.is_empty() || sn.len() > MAX_SN {
            v.push((
                format!("lines[{n}].feedetl_sn"),
                format!("required, 1 to {MAX_SN} characters"),
            ));
        } else if !seen.insert(sn) {
            v.push((
                format!("lines[{n}].feedetl_sn"),
                format!("{sn} appears twice in the upload"),
            ));
        }
        if l.fee_date < start {
            v.push((
                format!("lines[{n}].fee_time"),
                format!("{} is before the encounter's start {start}", l.fee_date),
            ));
        }
        if let Some(end) = discharged
            && l.fee_date > end
        {
            v.push((
                format!("lines[{n}].fee_time"),
                format!("{} is after the discharge on {end}", l.fee_date),
            ));
        }
    }
    v
}

/// The date an encounter is settled on: the one asked for, else the discharge date, else the
/// last fee date, else the start. It may not be before the start nor before any fee.
pub fn settle_date(
    requested: Option<NaiveDate>,
    start: NaiveDate,
    discharged: Option<NaiveDate>,
    lines: &[FeeLine],
) -> Result<NaiveDate, String> {
    let last_fee = lines.iter().map(|l| l.fee_date).max();
    let date = requested.or(discharged).or(last_fee).unwrap_or(start);
    if date < start {
        return Err(format!("{date} is before the encounter's start {start}"));
    }
    if let Some(f) = last_fee
        && date < f
    {
        return Err(format!("{date} is before a fee line of {f}"));
    }
    Ok(date)
}

/// The encounter number of the `n`th claim (1-based) settled from an encounter: its own
/// number and the settlement's sequence, so a stay settled again after a reversal is a new
/// claim and a retry of the same settlement finds the same claim.
pub fn claim_encounter_no(encounter_no: &str, n: i32) -> String {
    format!("{encounter_no}#{n}")
}

/// What a (pre-)settlement's caller expects of the encounter it names (the national
/// interface's 2303/2304 declare the person and the total of the fees uploaded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectation {
    /// The person the encounter must be of.
    pub person_id: Option<String>,
    /// The total of its uncancelled lines.
    pub total: Option<Fen>,
}

/// Why an encounter is not what its caller expects: the request's field and the difference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct Unexpected {
    /// `expect.person_id` or `expect.total_fen`.
    pub field: &'static str,
    /// What differs.
    pub detail: String,
}

/// Checks an encounter of `person_id` whose uncancelled lines total `total` against what the
/// caller expects of it.
pub fn meets(expect: &Expectation, person_id: &str, total: Fen) -> Result<(), Unexpected> {
    if let Some(p) = &expect.person_id
        && p != person_id
    {
        return Err(Unexpected {
            field: "expect.person_id",
            detail: "is not the person of the encounter".into(),
        });
    }
    if let Some(t) = expect.total
        && t != total
    {
        return Err(Unexpected {
            field: "expect.total_fen",
            detail: format!("{t} differs from the uploaded lines' total {total}"),
        });
    }
    Ok(())
}

/// The grade and tier an encounter's lines are priced with before the registry's are known:
/// pricing asks the registry first (`app::settle::prepare`), so these are never paid on.
pub const UNPRICED: (HospitalGrade, InstitutionTier) =
    (HospitalGrade::Grade1, InstitutionTier::Township);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encounter_meets_what_its_caller_expects_or_the_field_is_named() {
        let none = Expectation::default();
        assert_eq!(meets(&none, "p1", Fen(100)), Ok(()));
        let both = Expectation {
            person_id: Some("p1".into()),
            total: Some(Fen(15_000_000)),
        };
        assert_eq!(meets(&both, "p1", Fen(15_000_000)), Ok(()));
        let e = meets(&both, "p2", Fen(15_000_000)).unwrap_err();
        assert_eq!(e.field, "expect.person_id");
        let e = meets(&both, "p1", Fen(14_999_999)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "expect.total_fen: 150000.00 differs from the uploaded lines' total 149999.99"
        );
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn line(sn: &str, date: &str) -> FeeLine {
        FeeLine {
            feedetl_sn: sn.into(),
            fee_date: d(date),
            item: ClaimItem {
                national_code: "X".into(),
                name: String::new(),
                class: super::super::ItemClass::C,
                quantity: 2,
                unit_price: Fen(100),
                amount: Fen(200),
                payment_standard: None,
                preselfpay_share: None,
            },
            days_supply: None,
        }
    }

    const OPEN: EncounterState = EncounterState {
        status: EncounterStatus::Open,
        settled: false,
    };

    #[test]
    fn steps_follow_the_status() {
        assert_eq!(may_change(OPEN), Ok(()));
        let settled = EncounterState {
            settled: true,
            ..OPEN
        };
        assert_eq!(may_change(settled), Err(StepRefused::Settled));
        let cancelled = EncounterState {
            status: EncounterStatus::Cancelled,
            settled: false,
        };
        assert_eq!(may_change(cancelled), Err(StepRefused::Cancelled));
        assert_eq!(may_discharge(EncounterKind::Inpatient, OPEN), Ok(()));
        assert_eq!(
            may_discharge(EncounterKind::GeneralOutpatient, OPEN),
            Err(StepRefused::NotInpatient)
        );
        let discharged = EncounterState {
            status: EncounterStatus::Discharged,
            settled: false,
        };
        assert_eq!(
            may_discharge(EncounterKind::Inpatient, discharged),
            Err(StepRefused::Discharged)
        );
        assert_eq!(may_cancel_discharge(discharged), Ok(()));
        assert_eq!(may_cancel_discharge(OPEN), Err(StepRefused::NotDischarged));
        assert_eq!(
            may_cancel_discharge(EncounterState {
                settled: true,
                ..discharged
            }),
            Err(StepRefused::Settled)
        );
    }

    #[test]
    fn a_line_sent_again_is_the_same_only_when_every_priced_fact_is() {
        let a = line("1", "2026-03-01");
        assert_eq!(differing_field(&a, &a.clone()), None);
        let mut b = a.clone();
        b.item.quantity = 3;
        assert_eq!(differing_field(&a, &b), Some("item.quantity"));
        let mut c = a.clone();
        c.fee_date = d("2026-03-02");
        assert_eq!(differing_field(&a, &c), Some("fee_time"));
        let mut e = a.clone();
        e.item.name = "another name".into();
        assert_eq!(differing_field(&a, &e), None, "the name does not price");
    }

    #[test]
    fn uploads_are_checked_against_the_stay() {
        let start = d("2026-03-01");
        assert!(check_upload(&[line("1", "2026-03-01")], start, None).is_empty());
        let v = check_upload(
            &[
                line("1", "2026-02-28"),
                line("1", "2026-03-02"),
                line("", "2026-03-05"),
            ],
            start,
            Some(d("2026-03-04")),
        );
        let paths: Vec<&str> = v.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "lines[0].fee_time",
                "lines[1].feedetl_sn",
                "lines[2].feedetl_sn",
                "lines[2].fee_time"
            ]
        );
        assert_eq!(check_upload(&[], start, None)[0].0, "lines");
    }

    #[test]
    fn the_settlement_date_defaults_to_discharge_then_last_fee() {
        let start = d("2026-03-01");
        let lines = [line("1", "2026-03-03"), line("2", "2026-03-02")];
        assert_eq!(settle_date(None, start, None, &lines), Ok(d("2026-03-03")));
        assert_eq!(
            settle_date(None, start, Some(d("2026-03-05")), &lines),
            Ok(d("2026-03-05"))
        );
        assert_eq!(settle_date(None, start, None, &[]), Ok(start));
        assert!(settle_date(Some(d("2026-03-02")), start, None, &lines).is_err());
        assert!(settle_date(Some(d("2026-02-01")), start, None, &[]).is_err());
        assert_eq!(claim_encounter_no("ZY1", 2), "ZY1#2");
    }
}
