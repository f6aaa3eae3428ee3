//! The designated-institution registry (定点医药机构), pure: an institution's attributes in
//! versions by first day, its service agreements (协议) and its status with history, and the
//! questions settlement asks of them on a claim's date — which version is in force, whether
//! the institution may settle, which agreement covers the person's scheme and the service.
//!
//! - [`roster`]: parsing a roster file (every bad row named by line and column) and planning
//!   what it writes against what the registry holds;
//! - [`physicians`]: insurance physicians (医保医师) and their file;
//! - [`credentials`]: national-interface credentials (接口凭证) and when one is issued;
//! - [`sanctions`]: what supervision's blacklisting and its lifting do to an institution's
//!   status.

pub mod credentials;
mod csv_table;
pub mod physicians;
pub mod roster;
pub mod sanctions;

use super::EnrolmentError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use yibao_core::{InstitutionCode, RegionCode, Scheme};

/// Kind of designated institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstitutionKind {
    /// 医院 (including township health centres).
    Hospital,
    /// 定点零售药店.
    Pharmacy,
    /// 诊所, village clinic, community health station.
    Clinic,
    /// Long-term-care institution (护理机构).
    CareInstitution,
}

/// Grade (医院等级 `hosp_lv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 一级.
    Grade1,
    /// 二级.
    Grade2,
    /// 三级.
    Grade3,
    /// 无等级.
    Ungraded,
}

/// Administrative tier (乡镇 / 县级 / 市级 / 省级).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// 乡镇.
    Township,
    /// 县级.
    County,
    /// 市级.
    City,
    /// 省级.
    Province,
}

/// Status of an institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstitutionStatus {
    /// May settle under its agreements.
    Active,
    /// Suspended (暂停): nothing settles until reinstated.
    Suspended,
    /// Terminated (解除协议): final.
    Terminated,
}

/// A kind of service an agreement covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// 住院 (and maternity stays).
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

impl InstitutionKind {
    /// Parses `hospital`, `pharmacy`, `clinic`, `care_institution`.
    pub fn parse(s: &str) -> Option<InstitutionKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hospital" => Some(InstitutionKind::Hospital),
            "pharmacy" => Some(InstitutionKind::Pharmacy),
            "clinic" => Some(InstitutionKind::Clinic),
            "care_institution" => Some(InstitutionKind::CareInstitution),
            _ => None,
        }
    }

    /// The stored and file form.
    pub fn as_str(self) -> &'static str {
        match self {
            InstitutionKind::Hospital => "hospital",
            InstitutionKind::Pharmacy => "pharmacy",
            InstitutionKind::Clinic => "clinic",
            InstitutionKind::CareInstitution => "care_institution",
        }
    }
}

impl Grade {
    /// Parses `1`, `2`, `3`, `ungraded` (or 一级, 二级, 三级, 无等级).
    pub fn parse(s: &str) -> Option<Grade> {
        match s.trim().to_ascii_lowercase().as_str() {
            "1" | "一级" => Some(Grade::Grade1),
            "2" | "二级" => Some(Grade::Grade2),
            "3" | "三级" => Some(Grade::Grade3),
            "ungraded" | "无等级" => Some(Grade::Ungraded),
            _ => None,
        }
    }

    /// The stored and file form.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Grade1 => "1",
            Grade::Grade2 => "2",
            Grade::Grade3 => "3",
            Grade::Ungraded => "ungraded",
        }
    }
}

impl Tier {
    /// Parses `township`, `county`, `city`, `province` (or 乡镇, 县级, 市级, 省级).
    pub fn parse(s: &str) -> Option<Tier> {
        match s.trim().to_ascii_lowercase().as_str() {
            "township" | "乡镇" => Some(Tier::Township),
            "county" | "县级" => Some(Tier::County),
            "city" | "市级" => Some(Tier::City),
            "province" | "省级" => Some(Tier::Province),
            _ => None,
        }
    }

    /// The stored and file form.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Township => "township",
            Tier::County => "county",
            Tier::City => "city",
            Tier::Province => "province",
        }
    }
}

impl InstitutionStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            InstitutionStatus::Active => "active",
            InstitutionStatus::Suspended => "suspended",
            InstitutionStatus::Terminated => "terminated",
        }
    }

    /// From the stored form.
    pub fn parse(s: &str) -> Option<InstitutionStatus> {
        match s {
            "active" => Some(InstitutionStatus::Active),
            "suspended" => Some(InstitutionStatus::Suspended),
            "terminated" => Some(InstitutionStatus::Terminated),
            _ => None,
        }
    }
}

impl ServiceKind {
    /// Every service kind, in contract order.
    pub const ALL: [ServiceKind; 5] = [
        ServiceKind::Inpatient,
        ServiceKind::Outpatient,
        ServiceKind::Chronic,
        ServiceKind::Pharmacy,
        ServiceKind::Ltc,
    ];

    /// Parses `inpatient`, `outpatient`, `chronic`, `pharmacy`, `ltc`.
    pub fn parse(s: &str) -> Option<ServiceKind> {
        ServiceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim().to_ascii_lowercase())
    }

    /// The stored and file form.
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

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The attributes of an institution from `effective_from` until the next version's first day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstitutionVersion {
    /// First day in force.
    pub effective_from: NaiveDate,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: InstitutionKind,
    /// Grade.
    pub grade: Grade,
    /// Tier.
    pub tier: Tier,
    /// Region it lies in.
    pub region: RegionCode,
    /// Approved beds.
    pub beds: i64,
}

/// A service agreement (服务协议): from/to, the schemes and the services it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    /// Number, unique per institution.
    pub agreement_no: String,
    /// First day.
    pub valid_from: NaiveDate,
    /// Last day.
    pub valid_to: NaiveDate,
    /// Schemes covered, in contract order.
    pub schemes: Vec<Scheme>,
    /// Services covered, in contract order.
    pub services: Vec<ServiceKind>,
}

impl Agreement {
    /// True when in force on `date`.
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && date <= self.valid_to
    }
}

/// A status change, with who recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The status from `effective_on`.
    pub status: InstitutionStatus,
    /// First day of the status.
    pub effective_on: NaiveDate,
    /// Why.
    pub reason: String,
    /// Who (token subject).
    pub actor: String,
    /// In which role.
    pub role: String,
    /// When it was recorded (RFC 3339).
    pub at: String,
}

/// Everything the registry holds about one institution: what the institution cache holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstitutionFile {
    /// Code.
    pub code: InstitutionCode,
    /// Versions, by first day.
    pub versions: Vec<InstitutionVersion>,
    /// Agreements, by first day then number.
    pub agreements: Vec<Agreement>,
    /// Status changes in the order they apply (by first day, then as recorded).
    pub status_changes: Vec<StatusChange>,
}

/// The institution's standing on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing<'a> {
    /// The status.
    pub status: InstitutionStatus,
    /// The change that set it; `None` while active since registration.
    pub change: Option<&'a StatusChange>,
}

impl InstitutionFile {
    /// The latest version (by first day).
    pub fn latest(&self) -> Option<&InstitutionVersion> {
        self.versions.iter().max_by_key(|v| v.effective_from)
    }

    /// The region the institution lies in by its latest version (its code's before one).
    pub fn region(&self) -> RegionCode {
        self.latest()
            .map_or_else(|| self.code.region(), |v| v.region.clone())
    }

    /// The version in force on `date` (none before the first version's first day).
    pub fn version_on(&self, date: NaiveDate) -> Option<&InstitutionVersion> {
        self.versions
            .iter()
            .filter(|v| v.effective_from <= date)
            .max_by_key(|v| v.effective_from)
    }

    /// The status on `date`: the last change that applies by then, or active.
    pub fn status_on(&self, date: NaiveDate) -> Standing<'_> {
        match self
            .status_changes
            .iter()
            .rev()
            .find(|c| c.effective_on <= date)
        {
            Some(c) => Standing {
                status: c.status,
                change: Some(c),
            },
            None => Standing {
                status: InstitutionStatus::Active,
                change: None,
            },
        }
    }

    /// The agreement in force on `date` covering `scheme` and `service`, or why there is none
    /// (in words a hospital can act on).
    pub fn agreement_for(
        &self,
        date: NaiveDate,
        scheme: Scheme,
        service: ServiceKind,
    ) -> Result<&Agreement, String> {
        let in_force: Vec<&Agreement> = self
            .agreements
            .iter()
            .filter(|a| a.in_force(date))
            .collect();
        if let Some(a) = in_force
            .iter()
            .find(|a| a.schemes.contains(&scheme) && a.services.contains(&service))
        {
            return Ok(a);
        }
        let scheme_name = scheme_word(scheme);
        if in_force.is_empty() {
            return Err(format!("{} has no agreement in force on {date}", self.code));
        }
        let described: Vec<String> = in_force
            .iter()
            .map(|a| {
                format!(
                    "{} ({} to {}: {}; {})",
                    a.agreement_no,
                    a.valid_from,
                    a.valid_to,
                    a.schemes
                        .iter()
                        .map(|s| scheme_word(*s))
                        .collect::<Vec<_>>()
                        .join(", "),
                    a.services
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        Err(format!(
            "no agreement of {} in force on {date} covers {service} care under the {scheme_name} scheme; in force: {}",
            self.code,
            described.join("; ")
        ))
    }
}

fn scheme_word(s: Scheme) -> &'static str {
    match s {
        Scheme::Employee => "employee",
        Scheme::Resident => "resident",
    }
}

/// Checks a status change against the institution's history: a reason is given, the first
/// day is not before the last change's, a terminated institution stays terminated, and the
/// status changes.
pub fn check_status_change(
    file: &InstitutionFile,
    to: InstitutionStatus,
    effective_on: NaiveDate,
    reason: &str,
) -> Result<(), EnrolmentError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(EnrolmentError::invalid(
            "reason",
            "must be 1 to 500 characters: why the status changes",
        ));
    }
    if let Some(first) = file.versions.first()
        && effective_on < first.effective_from
    {
        return Err(EnrolmentError::invalid(
            "effective_on",
            format!(
                "must not be before the institution's registration on {}",
                first.effective_from
            ),
        ));
    }
    let last = file.status_changes.last();
    if let Some(last) = last {
        if last.status == InstitutionStatus::Terminated {
            return Err(EnrolmentError::Precondition(format!(
                "{} was terminated on {} ({}); termination is final",
                file.code, last.effective_on, last.reason
            )));
        }
        if effective_on < last.effective_on {
            return Err(EnrolmentError::invalid(
                "effective_on",
                format!(
                    "must not be before the last status change on {}",
                    last.effective_on
                ),
            ));
        }
    }
    let current = last.map_or(InstitutionStatus::Active, |c| c.status);
    if current == to {
        return Err(EnrolmentError::Precondition(format!(
            "{} is already {}",
            file.code,
            to.as_str()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
