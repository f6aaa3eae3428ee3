//! A person's certifications, pure: outpatient chronic/special-disease certifications
//! (门诊慢特病认定: disease, certifying institution, from/to, status) and cross-region care
//! filings (异地就医备案: kind, destination region, from/to, status), and which of them is in
//! force on a claim's date.

use super::EnrolmentError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use yibao_core::{InstitutionCode, RegionCode};

/// Status of a certification or a filing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// In force within its dates.
    Active,
    /// Revoked: never in force again.
    Revoked,
}

impl RecordStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Active => "active",
            RecordStatus::Revoked => "revoked",
        }
    }

    /// From the stored form.
    pub fn parse(s: &str) -> Option<RecordStatus> {
        match s {
            "active" => Some(RecordStatus::Active),
            "revoked" => Some(RecordStatus::Revoked),
            _ => None,
        }
    }
}

/// Kind of cross-region filing (DOMAIN §7.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilingKind {
    /// 异地长期居住 / 异地安置退休 / 常驻异地工作.
    LongTermResident,
    /// 转诊转院.
    Referral,
    /// 急诊抢救.
    Emergency,
    /// 其他临时外出.
    OtherTemporary,
}

impl FilingKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            FilingKind::LongTermResident => "long_term_resident",
            FilingKind::Referral => "referral",
            FilingKind::Emergency => "emergency",
            FilingKind::OtherTemporary => "other_temporary",
        }
    }

    /// From the stored form.
    pub fn parse(s: &str) -> Option<FilingKind> {
        [
            FilingKind::LongTermResident,
            FilingKind::Referral,
            FilingKind::Emergency,
            FilingKind::OtherTemporary,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A validity period: from a day to a day (inclusive; open-ended when `to` is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: Option<NaiveDate>,
}

impl Period {
    /// A period, refused naming `valid_to` when it ends before it starts.
    pub fn new(from: NaiveDate, to: Option<NaiveDate>) -> Result<Period, EnrolmentError> {
        if let Some(t) = to
            && t < from
        {
            return Err(EnrolmentError::invalid(
                "valid_to",
                format!("{t} is before valid_from {from}"),
            ));
        }
        Ok(Period { from, to })
    }

    /// True on `date`.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.from <= date && self.to.is_none_or(|t| date <= t)
    }

    /// True when the two periods share a day.
    pub fn overlaps(&self, other: &Period) -> bool {
        self.to.is_none_or(|t| other.from <= t) && other.to.is_none_or(|t| self.from <= t)
    }
}

/// A chronic/special-disease certification (门诊慢特病认定).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChronicCertification {
    /// Id.
    pub id: String,
    /// The person.
    pub person_id: String,
    /// Disease code (门诊慢特病病种目录代码, as the policy lists it).
    pub disease_code: String,
    /// The designated institution that certified it.
    pub certifying_institution: InstitutionCode,
    /// Validity.
    pub period: Period,
    /// Status.
    pub status: RecordStatus,
    /// Why it was revoked.
    pub revoke_reason: String,
}

impl ChronicCertification {
    /// In force on `date`: active and within its period.
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.status == RecordStatus::Active && self.period.covers(date)
    }
}

/// A cross-region care filing (异地就医备案).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossRegionFiling {
    /// Id.
    pub id: String,
    /// The person.
    pub person_id: String,
    /// Kind.
    pub kind: FilingKind,
    /// Where the person is filed to be treated (a province, city or county).
    pub destination: RegionCode,
    /// Validity.
    pub period: Period,
    /// Status.
    pub status: RecordStatus,
    /// Why it was revoked.
    pub revoke_reason: String,
}

impl CrossRegionFiling {
    /// In force on `date` for care in `treatment`: active, within its period, and its
    /// destination covers the place of treatment.
    pub fn applies(&self, date: NaiveDate, treatment: &RegionCode) -> bool {
        self.status == RecordStatus::Active
            && self.period.covers(date)
            && self.destination.covers(treatment)
    }
}

/// A disease code as certifications carry it: 1 to 20 letters, digits, `.` or `-`.
pub fn check_disease_code(code: &str) -> Result<(), EnrolmentError> {
    let ok = !code.is_empty()
        && code.len() <= 20
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(EnrolmentError::invalid(
            "disease_code",
            "must be 1 to 20 letters, digits, `.` or `-` (the policy's 门诊慢特病 code, e.g. M03900)",
        ))
    }
}

/// A new certification may not overlap an active one of the same disease.
pub fn check_new_certification(
    existing: &[ChronicCertification],
    disease_code: &str,
    period: &Period,
) -> Result<(), EnrolmentError> {
    match existing.iter().find(|c| {
        c.status == RecordStatus::Active
            && c.disease_code == disease_code
            && c.period.overlaps(period)
    }) {
        Some(c) => Err(EnrolmentError::Precondition(format!(
            "certification {} of {} ({} to {}) overlaps; revoke it first or start after it ends",
            c.id,
            c.disease_code,
            c.period.from,
            c.period
                .to
                .map_or_else(|| "open-ended".to_string(), |t| t.to_string())
        ))),
        None => Ok(()),
    }
}

/// A new filing may not overlap an active one to the same destination, and a person's
/// destination lies outside their own region.
pub fn check_new_filing(
    existing: &[CrossRegionFiling],
    home: &RegionCode,
    destination: &RegionCode,
    period: &Period,
) -> Result<(), EnrolmentError> {
    if home.covers(destination) || destination.covers(home) {
        return Err(EnrolmentError::invalid(
            "destination_region_code",
            format!("{destination} is not outside the person's region {home}"),
        ));
    }
    match existing.iter().find(|f| {
        f.status == RecordStatus::Active
            && (f.destination.covers(destination) || destination.covers(&f.destination))
            && f.period.overlaps(period)
    }) {
        Some(f) => Err(EnrolmentError::Precondition(format!(
            "filing {} to {} from {} overlaps; revoke it first",
            f.id, f.destination, f.period.from
        ))),
        None => Ok(()),
    }
}

/// The filing in force on `date` for care in `treatment`; of several, the one that started
/// last.
pub fn filing_for<'a>(
    filings: &'a [CrossRegionFiling],
    date: NaiveDate,
    treatment: &RegionCode,
) -> Option<&'a CrossRegionFiling> {
    filings
        .iter()
        .filter(|f| f.applies(date, treatment))
        .max_by_key(|f| f.period.from)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn r(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    fn cert(id: &str, disease: &str, from: &str, to: Option<&str>) -> ChronicCertification {
        ChronicCertification {
            id: id.into(),
            person_id: "p".into(),
            disease_code: disease.into(),
            certifying_institution: InstitutionCode::parse("H34152200001").unwrap(),
            period: Period::new(d(from), to.map(d)).unwrap(),
            status: RecordStatus::Active,
            revoke_reason: String::new(),
        }
    }

    #[test]
    fn a_certification_is_in_force_only_while_active_and_within_its_dates() {
        let mut c = cert("c1", "M03900", "2024-01-01", Some("2024-12-31"));
        assert!(!c.in_force(d("2023-12-31")));
        assert!(c.in_force(d("2024-01-01")));
        assert!(c.in_force(d("2024-12-31")));
        assert!(!c.in_force(d("2025-01-01")));
        c.status = RecordStatus::Revoked;
        assert!(!c.in_force(d("2024-06-01")));
        assert!(cert("c2", "M03900", "2024-01-01", None).in_force(d("2099-01-01")));
    }

    #[test]
    fn overlapping_certifications_of_one_disease_are_refused_renewals_are_not() {
        let existing = [cert("c1", "M03900", "2024-01-01", Some("2024-12-31"))];
        let p = |f: &str, t: Option<&str>| Period::new(d(f), t.map(d)).unwrap();
        assert!(check_new_certification(&existing, "M03900", &p("2024-06-01", None)).is_err());
        assert!(check_new_certification(&existing, "M03900", &p("2025-01-01", None)).is_ok());
        assert!(check_new_certification(&existing, "M00500", &p("2024-06-01", None)).is_ok());
        assert!(matches!(
            Period::new(d("2024-02-01"), Some(d("2024-01-01"))),
            Err(EnrolmentError::Invalid {
                field: "valid_to",
                ..
            })
        ));
        assert!(check_disease_code("M03900").is_ok());
        assert!(check_disease_code("").is_err());
        assert!(check_disease_code("M03 900").is_err());
    }

    #[test]
    fn the_filing_for_a_claim_is_the_one_in_force_whose_destination_covers_the_place_of_treatment()
    {
        let filing = |id: &str, kind, dest: &str, from: &str| CrossRegionFiling {
            id: id.into(),
            person_id: "p".into(),
            kind,
            destination: r(dest),
            period: Period::new(d(from), None).unwrap(),
            status: RecordStatus::Active,
            revoke_reason: String::new(),
        };
        let filings = [
            filing("f1", FilingKind::LongTermResident, "440000", "2023-01-01"),
            filing("f2", FilingKind::Referral, "340100", "2024-05-01"),
        ];
        let hefei = r("340102");
        assert_eq!(
            filing_for(&filings, d("2024-06-01"), &hefei).map(|f| f.kind),
            Some(FilingKind::Referral)
        );
        assert!(filing_for(&filings, d("2024-04-30"), &hefei).is_none());
        assert_eq!(
            filing_for(&filings, d("2024-06-01"), &r("442000")).map(|f| f.id.as_str()),
            Some("f1")
        );
        let home = r("341522");
        let p = Period::new(d("2024-01-01"), None).unwrap();
        assert!(matches!(
            check_new_filing(&filings, &home, &r("341500"), &p),
            Err(EnrolmentError::Invalid {
                field: "destination_region_code",
                ..
            })
        ));
        assert!(check_new_filing(&filings, &home, &r("340102"), &p).is_err());
        assert!(check_new_filing(&filings, &home, &r("110000"), &p).is_ok());
    }
}
