//! A person's certifications, kept with the person and scoped as the person is (the operator
//! of the person's region writes, auditors read): chronic/special-disease certifications
//! (the certifying institution must be a hospital of the registry, active on the first day)
//! and cross-region filings.

use super::tenancy::scope;
use super::{AppError, Enrollment};
use crate::domain::EnrolmentError;
use crate::domain::certifications::{
    ChronicCertification, CrossRegionFiling, FilingKind, Period, RecordStatus, check_disease_code,
    check_new_certification, check_new_filing,
};
use crate::domain::registry::{InstitutionKind, InstitutionStatus};
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::{Actor, Caller};

/// A certification to record.
#[derive(Debug, Clone)]
pub struct NewCertification {
    /// The person.
    pub person_id: String,
    /// Disease code.
    pub disease_code: String,
    /// The certifying hospital.
    pub certifying_institution: InstitutionCode,
    /// Validity.
    pub period: Period,
}

/// A filing to record.
#[derive(Debug, Clone)]
pub struct NewFiling {
    /// The person.
    pub person_id: String,
    /// Kind.
    pub kind: FilingKind,
    /// Destination.
    pub destination: RegionCode,
    /// Validity.
    pub period: Period,
}

fn reason_of(reason: &str) -> Result<String, AppError> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > 500 {
        return Err(EnrolmentError::invalid("reason", "must be 1 to 500 characters").into());
    }
    Ok(r.to_string())
}

impl Enrollment {
    /// Records a certification of a person of the caller's region.
    pub async fn add_certification(
        &self,
        caller: &Caller,
        new: NewCertification,
    ) -> Result<ChronicCertification, AppError> {
        check_disease_code(&new.disease_code)?;
        let p = self.store.person(&new.person_id).await?;
        scope(caller, &p)?;
        let institution = self
            .institution_file(&new.certifying_institution)
            .await?
            .ok_or_else(|| {
                EnrolmentError::invalid(
                    "certifying_institution_code",
                    format!(
                        "{} is not in the institution registry",
                        new.certifying_institution
                    ),
                )
            })?;
        let version = institution.version_on(new.period.from);
        if version.is_none_or(|v| v.kind != InstitutionKind::Hospital)
            || institution.status_on(new.period.from).status != InstitutionStatus::Active
        {
            return Err(EnrolmentError::invalid(
                "certifying_institution_code",
                format!(
                    "{} is not an active designated hospital on {}",
                    new.certifying_institution, new.period.from
                ),
            )
            .into());
        }
        let existing = self.store.certifications(&p.id).await?;
        check_new_certification(&existing, &new.disease_code, &new.period)?;
        let c = ChronicCertification {
            id: String::new(),
            person_id: p.id,
            disease_code: new.disease_code,
            certifying_institution: new.certifying_institution,
            period: new.period,
            status: RecordStatus::Active,
            revoke_reason: String::new(),
        };
        Ok(self
            .store
            .add_certification(&c, &Actor::from(caller))
            .await?)
    }

    /// The certifications of a person of the caller's region.
    pub async fn certifications(
        &self,
        caller: &Caller,
        person_id: &str,
    ) -> Result<Vec<ChronicCertification>, AppError> {
        let p = self.store.person(person_id).await?;
        scope(caller, &p)?;
        Ok(self.store.certifications(&p.id).await?)
    }

    /// Revokes a certification of a person of the caller's region.
    pub async fn revoke_certification(
        &self,
        caller: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<ChronicCertification, AppError> {
        let reason = reason_of(reason)?;
        let c = self.store.certification(id).await?;
        let p = self.store.person(&c.person_id).await?;
        scope(caller, &p)?;
        if c.status == RecordStatus::Revoked {
            return Err(EnrolmentError::Precondition(format!(
                "certification {id} was revoked already: {}",
                c.revoke_reason
            ))
            .into());
        }
        self.store
            .revoke_certification(&c, &reason, &Actor::from(caller))
            .await?;
        Ok(self.store.certification(id).await?)
    }

    /// Records a filing of a person of the caller's region.
    pub async fn add_filing(
        &self,
        caller: &Caller,
        new: NewFiling,
    ) -> Result<CrossRegionFiling, AppError> {
        let p = self.store.person(&new.person_id).await?;
        scope(caller, &p)?;
        let home = RegionCode::parse(&p.region_code)
            .map_err(|e| AppError::Internal(format!("stored region: {e}")))?;
        let existing = self.store.filings(&p.id).await?;
        check_new_filing(&existing, &home, &new.destination, &new.period)?;
        let f = CrossRegionFiling {
            id: String::new(),
            person_id: p.id,
            kind: new.kind,
            destination: new.destination,
            period: new.period,
            status: RecordStatus::Active,
            revoke_reason: String::new(),
        };
        Ok(self.store.add_filing(&f, &Actor::from(caller)).await?)
    }

    /// The filings of a person of the caller's region.
    pub async fn filings(
        &self,
        caller: &Caller,
        person_id: &str,
    ) -> Result<Vec<CrossRegionFiling>, AppError> {
        let p = self.store.person(person_id).await?;
        scope(caller, &p)?;
        Ok(self.store.filings(&p.id).await?)
    }

    /// Revokes a filing of a person of the caller's region.
    pub async fn revoke_filing(
        &self,
        caller: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<CrossRegionFiling, AppError> {
        let reason = reason_of(reason)?;
        let f = self.store.filing(id).await?;
        let p = self.store.person(&f.person_id).await?;
        scope(caller, &p)?;
        if f.status == RecordStatus::Revoked {
            return Err(EnrolmentError::Precondition(format!(
                "filing {id} was revoked already: {}",
                f.revoke_reason
            ))
            .into());
        }
        self.store
            .revoke_filing(&f, &reason, &Actor::from(caller))
            .await?;
        Ok(self.store.filing(id).await?)
    }
}
