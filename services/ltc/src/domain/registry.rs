//! What enrollment's designated-institution registry says about a care institution, and the
//! rule that admits it to long-term care on a date, pure: nothing the caller declares makes an
//! institution a designated care provider.
//!
//! On a date the institution must be in the registry (a version in force), active (not
//! suspended or terminated by then) and hold an agreement in force that covers long-term care
//! (`SERVICE_KIND_LTC`). LTC has no scheme of its own in this platform (the benefit policy is
//! per region and year), so the agreement's schemes are not asked about.

use chrono::NaiveDate;
use std::collections::BTreeSet;

/// A kind of service an agreement covers (enrollment's `ServiceKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// 住院.
    Inpatient,
    /// 普通门诊.
    Outpatient,
    /// 门诊慢特病.
    Chronic,
    /// 药店购药.
    Pharmacy,
    /// 长期护理.
    Ltc,
}

impl ServiceKind {
    /// The word the registry's roster uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Inpatient => "inpatient",
            ServiceKind::Outpatient => "outpatient",
            ServiceKind::Chronic => "chronic",
            ServiceKind::Pharmacy => "pharmacy",
            ServiceKind::Ltc => "ltc",
        }
    }
}

/// Status of an institution from a day on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Designated.
    Active,
    /// Suspended (暂停).
    Suspended,
    /// Terminated (解除协议).
    Terminated,
}

/// A status change as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The status from `effective_on`.
    pub status: Status,
    /// Its first day.
    pub effective_on: NaiveDate,
    /// Why.
    pub reason: String,
}

/// A service agreement (服务协议).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// Its number.
    pub agreement_no: String,
    /// First day.
    pub valid_from: NaiveDate,
    /// Last day.
    pub valid_to: NaiveDate,
    /// Services covered.
    pub services: Vec<ServiceKind>,
}

impl Agreement {
    /// In force on `date`.
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && date <= self.valid_to
    }

    fn describe(&self) -> String {
        format!(
            "{} ({} to {}: {})",
            self.agreement_no,
            self.valid_from,
            self.valid_to,
            self.services
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// An institution's file in the registry: when it is registered from, its agreements and its
/// status history (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionFile {
    /// The first days of its versions.
    pub versions_from: Vec<NaiveDate>,
    /// Its agreements.
    pub agreements: Vec<Agreement>,
    /// Its status changes, oldest first.
    pub status_changes: Vec<StatusChange>,
}

/// Why the registry does not admit an institution to long-term care on a date. Every refusal
/// concerns the request's `institution_code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryRefusal {
    /// Not in the registry on the date.
    #[error("{0}")]
    NotRegistered(String),
    /// Suspended or terminated on the date (with the registry's reason).
    #[error("{0}")]
    NotActive(String),
    /// No agreement in force covering long-term care (with what is in force).
    #[error("{0}")]
    NoLtcAgreement(String),
}

impl RegistryRefusal {
    /// The request field the refusal concerns.
    pub fn field(&self) -> &'static str {
        "institution_code"
    }
}

/// Admits `code` to long-term care on `date` on its registry `file` (`None`: not in the
/// registry), returning the number of the LTC agreement in force, or says why not.
pub fn admit(
    code: &str,
    date: NaiveDate,
    file: Option<&InstitutionFile>,
) -> Result<String, RegistryRefusal> {
    let Some(f) = file else {
        return Err(RegistryRefusal::NotRegistered(format!(
            "{code} is not in the designated-institution registry"
        )));
    };
    if !f.versions_from.iter().any(|d| *d <= date) {
        let first = f.versions_from.iter().min();
        return Err(RegistryRefusal::NotRegistered(match first {
            Some(first) => format!(
                "{code} is not in the designated-institution registry on {date} (registered from {first})"
            ),
            None => format!("{code} is not in the designated-institution registry on {date}"),
        }));
    }
    if let Some(c) = f
        .status_changes
        .iter()
        .rev()
        .find(|c| c.effective_on <= date)
        && c.status != Status::Active
    {
        return Err(RegistryRefusal::NotActive(format!(
            "{code} is {} from {} (on {date}): {}",
            match c.status {
                Status::Suspended => "suspended",
                _ => "terminated",
            },
            c.effective_on,
            c.reason
        )));
    }
    let in_force: Vec<&Agreement> = f.agreements.iter().filter(|a| a.in_force(date)).collect();
    if let Some(a) = in_force
        .iter()
        .find(|a| a.services.contains(&ServiceKind::Ltc))
    {
        return Ok(a.agreement_no.clone());
    }
    let listed = if in_force.is_empty() {
        "none".to_string()
    } else {
        in_force
            .iter()
            .map(|a| a.describe())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let ended = f
        .agreements
        .iter()
        .filter(|a| a.services.contains(&ServiceKind::Ltc) && a.valid_to < date)
        .max_by_key(|a| a.valid_to)
        .map(|a| {
            format!(
                " (its LTC agreement {} ended on {})",
                a.agreement_no, a.valid_to
            )
        })
        .unwrap_or_default();
    Err(RegistryRefusal::NoLtcAgreement(format!(
        "{code} holds no agreement covering long-term care (ltc) in force on {date}{ended}; in force: {listed}"
    )))
}

/// Admits `code` on every one of `dates` (checked once each, in order): the first date it is
/// not admitted on gives the refusal.
pub fn admit_on_all(
    code: &str,
    dates: &BTreeSet<NaiveDate>,
    file: Option<&InstitutionFile>,
) -> Result<(), RegistryRefusal> {
    for d in dates {
        admit(code, *d, file)?;
    }
    Ok(())
}

/// Every day from `from` to `to` (both included) into `into`.
pub fn days_into(from: NaiveDate, to: NaiveDate, into: &mut BTreeSet<NaiveDate>) {
    let mut d = from;
    while d <= to {
        into.insert(d);
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const C: &str = "H37028100001";

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn home() -> InstitutionFile {
        InstitutionFile {
            versions_from: vec![d("2020-01-01")],
            agreements: vec![
                Agreement {
                    agreement_no: "LTC-1".into(),
                    valid_from: d("2026-01-01"),
                    valid_to: d("2026-06-30"),
                    services: vec![ServiceKind::Ltc],
                },
                Agreement {
                    agreement_no: "MED-1".into(),
                    valid_from: d("2026-01-01"),
                    valid_to: d("2026-12-31"),
                    services: vec![ServiceKind::Inpatient, ServiceKind::Outpatient],
                },
            ],
            status_changes: vec![],
        }
    }

    #[test]
    fn an_institution_with_an_ltc_agreement_in_force_is_admitted() {
        assert_eq!(admit(C, d("2026-03-01"), Some(&home())).unwrap(), "LTC-1");
        assert_eq!(admit(C, d("2026-06-30"), Some(&home())).unwrap(), "LTC-1");
    }

    #[test]
    fn unregistered_or_not_yet_registered_is_refused() {
        let e = admit(C, d("2026-03-01"), None).unwrap_err();
        assert!(matches!(e, RegistryRefusal::NotRegistered(_)));
        assert_eq!(e.field(), "institution_code");
        let e = admit(C, d("2019-12-31"), Some(&home())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "H37028100001 is not in the designated-institution registry on 2019-12-31 (registered from 2020-01-01)"
        );
    }

    #[test]
    fn a_suspension_refuses_from_its_day_with_the_reason_and_a_reinstatement_admits_again() {
        let mut f = home();
        f.status_changes = vec![
            StatusChange {
                status: Status::Suspended,
                effective_on: d("2026-03-10"),
                reason: "虚假护理记录".into(),
            },
            StatusChange {
                status: Status::Active,
                effective_on: d("2026-04-01"),
                reason: "整改完成".into(),
            },
        ];
        assert!(admit(C, d("2026-03-09"), Some(&f)).is_ok());
        let e = admit(C, d("2026-03-10"), Some(&f)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "H37028100001 is suspended from 2026-03-10 (on 2026-03-10): 虚假护理记录"
        );
        assert!(admit(C, d("2026-04-01"), Some(&f)).is_ok());
        f.status_changes.push(StatusChange {
            status: Status::Terminated,
            effective_on: d("2026-05-01"),
            reason: "解除协议".into(),
        });
        let e = admit(C, d("2026-05-02"), Some(&f)).unwrap_err();
        assert!(matches!(e, RegistryRefusal::NotActive(m) if m.contains("terminated")));
    }

    #[test]
    fn no_ltc_agreement_lists_what_is_in_force_and_the_ended_one() {
        let e = admit(C, d("2026-07-01"), Some(&home())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "H37028100001 holds no agreement covering long-term care (ltc) in force on 2026-07-01 \
             (its LTC agreement LTC-1 ended on 2026-06-30); in force: MED-1 (2026-01-01 to 2026-12-31: inpatient, outpatient)"
        );
        let e = admit(C, d("2027-01-01"), Some(&home())).unwrap_err();
        assert!(e.to_string().ends_with("in force: none"), "{e}");
        let mut f = home();
        f.agreements.remove(0);
        let e = admit(C, d("2026-03-01"), Some(&f)).unwrap_err();
        assert!(
            matches!(e, RegistryRefusal::NoLtcAgreement(ref m) if !m.contains("ended")),
            "{e}"
        );
    }

    #[test]
    fn every_date_must_be_admitted_and_the_first_failure_is_named() {
        let mut dates = BTreeSet::new();
        days_into(d("2026-06-29"), d("2026-07-02"), &mut dates);
        assert_eq!(dates.len(), 4);
        let e = admit_on_all(C, &dates, Some(&home())).unwrap_err();
        assert!(e.to_string().contains("on 2026-07-01"), "{e}");
        let mut june = BTreeSet::new();
        days_into(d("2026-06-01"), d("2026-06-30"), &mut june);
        assert!(admit_on_all(C, &june, Some(&home())).is_ok());
    }
}
