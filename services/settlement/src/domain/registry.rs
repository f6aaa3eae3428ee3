//! What the registries say about a claim (enrollment's `GetSettlementFacts`, decision 10), and
//! the rules that admit the claim on them, pure: nothing the caller declares decides a payment.
//!
//! - the institution must be registered on the claim's end date, active, and hold an agreement
//!   in force covering the person's scheme and the claim's service kind;
//! - its grade and tier on that date are the ones the policy uses; a claim that declares
//!   another grade or tier is refused naming the field;
//! - a chronic/special-disease claim needs a certification (认定) in force for its disease;
//! - the cross-region filing is the one in force for the place of treatment; a claim that
//!   declares another is refused naming the field;
//! - the attending physician must be registered at the institution and active.

use super::{CrossRegionFiling, EncounterKind, HospitalGrade, InstitutionTier};
use serde::{Deserialize, Serialize};

/// The service kind an agreement must cover for a claim of `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

impl ServiceKind {
    /// The service a claim of `kind` is settled under.
    pub fn of(kind: EncounterKind) -> ServiceKind {
        match kind {
            EncounterKind::Inpatient | EncounterKind::Maternity => ServiceKind::Inpatient,
            EncounterKind::GeneralOutpatient => ServiceKind::Outpatient,
            EncounterKind::OutpatientChronic => ServiceKind::Chronic,
            EncounterKind::Pharmacy => ServiceKind::Pharmacy,
        }
    }
}

/// Status of an institution or a physician on the date, as the registry holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryStatus {
    /// Active.
    Active,
    /// Suspended.
    Suspended,
    /// Terminated (institution) or revoked (physician).
    Ended,
}

/// The institution on the claim's date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionOnDate {
    /// Its grade; `None` when ungraded (counted as 一级).
    pub grade: Option<HospitalGrade>,
    /// Its tier.
    pub tier: InstitutionTier,
    /// Its status.
    pub status: RegistryStatus,
    /// Why, when not active.
    pub status_reason: String,
    /// The agreement in force for the person's scheme and the service kind.
    pub agreement_no: Option<String>,
    /// Why there is none, in the registry's words.
    pub no_agreement_reason: String,
}

/// The attending physician as the registry holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysicianOnDate {
    /// Registered at all.
    pub registered: bool,
    /// Their institution.
    pub institution_code: String,
    /// Status.
    pub status: RegistryStatus,
    /// Why, when not active.
    pub status_reason: String,
}

/// Everything the registries answered about a claim besides the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryFacts {
    /// The institution's version in force on the date; `None` when not registered then.
    pub institution: Option<InstitutionOnDate>,
    /// The certification in force for the claim's disease (its id).
    pub certification_id: Option<String>,
    /// The filing in force for the place of treatment (its id and kind).
    pub filing: Option<(String, CrossRegionFiling)>,
    /// The attending physician, when the claim names one.
    pub physician: Option<PhysicianOnDate>,
}

/// What a claim declares that the registries decide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    /// `claim.hospital_grade`, when given.
    pub grade: Option<HospitalGrade>,
    /// `claim.institution_tier`, when given.
    pub tier: Option<InstitutionTier>,
    /// `claim.cross_region_filing`, when given.
    pub filing: Option<CrossRegionFiling>,
    /// `claim.attending_physician_code`, when given.
    pub physician: Option<String>,
}

/// What the claim is settled by, from the registries, and what is kept with the claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admitted {
    /// Grade the policy uses.
    pub grade: HospitalGrade,
    /// Tier the policy uses.
    pub tier: InstitutionTier,
    /// The agreement the claim is settled under.
    pub agreement_no: String,
    /// The certification of a chronic claim.
    #[serde(default)]
    pub certification_id: Option<String>,
    /// The filing of the person for the place of treatment.
    #[serde(default)]
    pub filing_id: Option<String>,
    /// Its kind.
    #[serde(default)]
    pub filing: Option<CrossRegionFiling>,
    /// The attending physician.
    #[serde(default)]
    pub attending_physician: Option<String>,
}

/// Why the registries do not admit a claim; each names the claim field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryRefusal {
    /// The institution is not in the registry on the date.
    #[error("{0}")]
    NotRegistered(String),
    /// Suspended or terminated on the date.
    #[error("{0}")]
    NotActive(String),
    /// No agreement in force covers the scheme and the service.
    #[error("{0}")]
    NoAgreement(String),
    /// The claim declares a grade, tier or filing the registry contradicts.
    #[error("{field}: {message}")]
    Mismatch {
        /// The claim's field.
        field: &'static str,
        /// What the registry holds.
        message: String,
    },
    /// A chronic claim without a certification in force.
    #[error("{0}")]
    NotCertified(String),
    /// The physician is unknown, elsewhere, or not active.
    #[error("{0}")]
    Physician(String),
}

impl RegistryRefusal {
    /// The claim field the refusal concerns.
    pub fn field(&self) -> &'static str {
        match self {
            RegistryRefusal::NotRegistered(_)
            | RegistryRefusal::NotActive(_)
            | RegistryRefusal::NoAgreement(_) => "claim.institution_code",
            RegistryRefusal::Mismatch { field, .. } => field,
            RegistryRefusal::NotCertified(_) => "claim.disease_code",
            RegistryRefusal::Physician(_) => "claim.attending_physician_code",
        }
    }
}

fn grade_word(g: Option<HospitalGrade>) -> &'static str {
    match g {
        Some(HospitalGrade::Grade1) => "一级 (HOSPITAL_GRADE_PRIMARY)",
        Some(HospitalGrade::Grade2) => "二级 (HOSPITAL_GRADE_SECONDARY)",
        Some(HospitalGrade::Grade3) => "三级 (HOSPITAL_GRADE_TERTIARY)",
        None => "ungraded (counted as HOSPITAL_GRADE_PRIMARY)",
    }
}

fn tier_word(t: InstitutionTier) -> &'static str {
    match t {
        InstitutionTier::Township => "township (INSTITUTION_TIER_TOWNSHIP)",
        InstitutionTier::County => "county (INSTITUTION_TIER_COUNTY)",
        InstitutionTier::City => "city (INSTITUTION_TIER_CITY)",
        InstitutionTier::Province => "province (INSTITUTION_TIER_PROVINCE)",
    }
}

fn status_word(s: RegistryStatus) -> &'static str {
    match s {
        RegistryStatus::Active => "active",
        RegistryStatus::Suspended => "suspended",
        RegistryStatus::Ended => "terminated",
    }
}

/// Admits a claim of `kind` from `institution` ending on `date` on the registries' `facts`,
/// or says why not. The filing is the one in force whose destination covers the place of
/// treatment (the engine applies it only when that place lies outside the insured pooling
/// region).
pub fn admit(
    institution: &str,
    kind: EncounterKind,
    date: chrono::NaiveDate,
    declared: &Declared,
    facts: &RegistryFacts,
) -> Result<Admitted, RegistryRefusal> {
    let Some(inst) = &facts.institution else {
        return Err(RegistryRefusal::NotRegistered(format!(
            "{institution} is not in the designated-institution registry on {date}"
        )));
    };
    if inst.status != RegistryStatus::Active {
        return Err(RegistryRefusal::NotActive(format!(
            "{institution} is {} on {date}: {}",
            status_word(inst.status),
            inst.status_reason
        )));
    }
    let Some(agreement_no) = inst.agreement_no.clone() else {
        return Err(RegistryRefusal::NoAgreement(
            inst.no_agreement_reason.clone(),
        ));
    };
    let grade = inst.grade.unwrap_or(HospitalGrade::Grade1);
    if let Some(g) = declared.grade
        && g != grade
    {
        return Err(RegistryRefusal::Mismatch {
            field: "claim.hospital_grade",
            message: format!(
                "{institution} is {} in the registry on {date}; leave the field unspecified or send the registry's grade",
                grade_word(inst.grade)
            ),
        });
    }
    if let Some(t) = declared.tier
        && t != inst.tier
    {
        return Err(RegistryRefusal::Mismatch {
            field: "claim.institution_tier",
            message: format!(
                "{institution} is {} in the registry on {date}; leave the field unspecified or send the registry's tier",
                tier_word(inst.tier)
            ),
        });
    }
    let certification_id = if kind == EncounterKind::OutpatientChronic {
        match &facts.certification_id {
            Some(id) => Some(id.clone()),
            None => {
                return Err(RegistryRefusal::NotCertified(
                    "the person holds no chronic/special-disease certification (认定) of this disease in force on the claim's end date".into(),
                ));
            }
        }
    } else {
        None
    };
    let filing = facts.filing.as_ref();
    if let Some(d) = declared.filing
        && filing.map(|(_, k)| *k) != Some(d)
    {
        return Err(RegistryRefusal::Mismatch {
            field: "claim.cross_region_filing",
            message: match filing {
                Some((id, k)) => format!(
                    "the person's filing {id} in force for the place of treatment is {k:?}"
                ),
                None => "the person holds no cross-region filing in force for the place of treatment; leave the field unspecified".into(),
            },
        });
    }
    let attending_physician = match (&declared.physician, &facts.physician) {
        (None, _) => None,
        (Some(code), None)
        | (
            Some(code),
            Some(PhysicianOnDate {
                registered: false, ..
            }),
        ) => {
            return Err(RegistryRefusal::Physician(format!(
                "{code} is not a registered insurance physician"
            )));
        }
        (Some(code), Some(p)) => {
            // A pharmacy dispenses on a prescription from elsewhere; everyone else names a
            // physician of their own.
            if kind != EncounterKind::Pharmacy && p.institution_code != institution {
                return Err(RegistryRefusal::Physician(format!(
                    "{code} practises at {}, not {institution}",
                    p.institution_code
                )));
            }
            if p.status != RegistryStatus::Active {
                return Err(RegistryRefusal::Physician(format!(
                    "{code} is {}: {}",
                    match p.status {
                        RegistryStatus::Suspended => "suspended",
                        _ => "revoked",
                    },
                    p.status_reason
                )));
            }
            Some(code.clone())
        }
    };
    Ok(Admitted {
        grade,
        tier: inst.tier,
        agreement_no,
        certification_id,
        filing_id: filing.map(|(id, _)| id.clone()),
        filing: filing.map(|(_, k)| *k),
        attending_physician,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::NaiveDate;

    const H: &str = "H34152200001";

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()
    }

    fn county() -> RegistryFacts {
        RegistryFacts {
            institution: Some(InstitutionOnDate {
                grade: Some(HospitalGrade::Grade2),
                tier: InstitutionTier::County,
                status: RegistryStatus::Active,
                status_reason: String::new(),
                agreement_no: Some("HQ-1".into()),
                no_agreement_reason: String::new(),
            }),
            certification_id: None,
            filing: None,
            physician: Some(PhysicianOnDate {
                registered: true,
                institution_code: H.into(),
                status: RegistryStatus::Active,
                status_reason: String::new(),
            }),
        }
    }

    fn doctor() -> Declared {
        Declared {
            physician: Some("D341522000001".into()),
            ..Declared::default()
        }
    }

    fn admit_(
        kind: EncounterKind,
        declared: &Declared,
        facts: &RegistryFacts,
    ) -> Result<Admitted, RegistryRefusal> {
        admit(H, kind, day(), declared, facts)
    }

    #[test]
    fn grade_and_tier_come_from_the_registry_and_a_contradicting_declaration_is_refused() {
        let a = admit_(EncounterKind::Inpatient, &doctor(), &county()).unwrap();
        assert_eq!(
            (a.grade, a.tier),
            (HospitalGrade::Grade2, InstitutionTier::County)
        );
        assert_eq!(a.agreement_no, "HQ-1");
        let tertiary = Declared {
            grade: Some(HospitalGrade::Grade3),
            ..doctor()
        };
        let e = admit_(EncounterKind::Inpatient, &tertiary, &county()).unwrap_err();
        assert_eq!(e.field(), "claim.hospital_grade");
        assert!(
            e.to_string().contains("二级 (HOSPITAL_GRADE_SECONDARY)"),
            "{e}"
        );
        let province = Declared {
            tier: Some(InstitutionTier::Province),
            ..doctor()
        };
        let e = admit_(EncounterKind::Inpatient, &province, &county()).unwrap_err();
        assert_eq!(e.field(), "claim.institution_tier");
        let same = Declared {
            grade: Some(HospitalGrade::Grade2),
            tier: Some(InstitutionTier::County),
            ..doctor()
        };
        assert!(admit_(EncounterKind::Inpatient, &same, &county()).is_ok());
    }

    #[test]
    fn an_unregistered_inactive_or_unagreed_institution_is_refused_with_the_reason() {
        let mut f = county();
        f.institution = None;
        assert!(matches!(
            admit_(EncounterKind::Inpatient, &doctor(), &f),
            Err(RegistryRefusal::NotRegistered(_))
        ));
        let mut f = county();
        if let Some(i) = f.institution.as_mut() {
            i.status = RegistryStatus::Suspended;
            i.status_reason = "blacklisted".into();
        }
        let e = admit_(EncounterKind::Inpatient, &doctor(), &f).unwrap_err();
        assert_eq!(
            e.to_string(),
            "H34152200001 is suspended on 2026-06-15: blacklisted"
        );
        let mut f = county();
        if let Some(i) = f.institution.as_mut() {
            i.agreement_no = None;
            i.no_agreement_reason = "H34152200001 has no agreement in force on 2026-06-15".into();
        }
        let e = admit_(EncounterKind::Inpatient, &doctor(), &f).unwrap_err();
        assert_eq!(e.field(), "claim.institution_code");
        assert!(
            matches!(e, RegistryRefusal::NoAgreement(m) if m.contains("no agreement in force"))
        );
    }

    #[test]
    fn a_chronic_claim_needs_a_certification_in_force() {
        let e = admit_(EncounterKind::OutpatientChronic, &doctor(), &county()).unwrap_err();
        assert_eq!(e.field(), "claim.disease_code");
        let mut f = county();
        f.certification_id = Some("c-1".into());
        let a = admit_(EncounterKind::OutpatientChronic, &doctor(), &f).unwrap();
        assert_eq!(a.certification_id.as_deref(), Some("c-1"));
    }

    #[test]
    fn the_filing_kind_comes_from_the_filing_of_a_cross_region_claim() {
        let mut f = county();
        f.filing = Some(("f-1".into(), CrossRegionFiling::Referral));
        let a = admit_(EncounterKind::Inpatient, &doctor(), &f).unwrap();
        assert_eq!(a.filing, Some(CrossRegionFiling::Referral));
        assert_eq!(a.filing_id.as_deref(), Some("f-1"));
        let unfiled = admit_(EncounterKind::Inpatient, &doctor(), &county()).unwrap();
        assert_eq!(unfiled.filing, None);
        let emergency = Declared {
            filing: Some(CrossRegionFiling::Emergency),
            ..doctor()
        };
        let e = admit_(EncounterKind::Inpatient, &emergency, &f).unwrap_err();
        assert_eq!(e.field(), "claim.cross_region_filing");
        let e = admit_(EncounterKind::Inpatient, &emergency, &county()).unwrap_err();
        assert!(
            e.to_string().contains("no cross-region filing in force"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_foreign_or_suspended_physician_is_refused() {
        let mut f = county();
        f.physician = Some(PhysicianOnDate {
            registered: false,
            institution_code: String::new(),
            status: RegistryStatus::Active,
            status_reason: String::new(),
        });
        let e = admit_(EncounterKind::Inpatient, &doctor(), &f).unwrap_err();
        assert_eq!(e.field(), "claim.attending_physician_code");
        assert_eq!(
            e.to_string(),
            "D341522000001 is not a registered insurance physician"
        );
        let mut f = county();
        if let Some(p) = f.physician.as_mut() {
            p.institution_code = "H34152200002".into();
        }
        assert!(admit_(EncounterKind::Inpatient, &doctor(), &f).is_err());
        assert!(
            admit_(EncounterKind::Pharmacy, &doctor(), &f).is_ok(),
            "a pharmacy fills another institution's prescription"
        );
        let mut f = county();
        if let Some(p) = f.physician.as_mut() {
            p.status = RegistryStatus::Suspended;
            p.status_reason = "12 points deducted".into();
        }
        let e = admit_(EncounterKind::Inpatient, &doctor(), &f).unwrap_err();
        assert_eq!(
            e.to_string(),
            "D341522000001 is suspended: 12 points deducted"
        );
    }
}
