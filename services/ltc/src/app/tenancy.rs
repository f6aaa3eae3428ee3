//! Record-level tenancy: this application belongs to your institution, this assessment is
//! assigned to you, this beneficiary is one of your institution's people, this record lies in
//! your region. (Which roles may call a method at all is the API's concern.) The use cases run
//! these checks on the records they load; the API runs [`covers`] and [`check_institution`] on
//! a request's own institution or region where it must refuse a stranger before parsing the
//! rest.

use super::{AppError, Ltc};
use crate::store::applications::{self, ApplicationRow};
use crate::store::assessments::AssessmentRow;
use crate::store::beneficiaries::BeneficiaryRow;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::auth::AuthError;
use yibao_runtime::{Caller, Role};

/// A region-scoped caller covers `region_code`.
pub fn covers(c: &Caller, field: &str, region_code: &str) -> Result<(), AppError> {
    Ok(c.check_region(field, region_code)?)
}

/// The caller's own region, or the requested one checked against it.
pub fn region_scope(
    c: &Caller,
    field: &str,
    requested: &str,
) -> Result<Option<RegionCode>, AppError> {
    if requested.trim().is_empty() {
        return Ok(c.region.clone());
    }
    c.check_region(field, requested)?;
    Ok(Some(super::region(field, requested)?))
}

/// The institution is the caller's own, and within a region-scoped caller's region.
pub fn check_institution(c: &Caller, field: &str, code: &InstitutionCode) -> Result<(), AppError> {
    c.check_org(field, code.as_str())?;
    if c.role.is_region_scoped() && !c.covers_region(&code.region()) {
        return Err(AuthError::OutsideRegion {
            field: field.into(),
            value: code.to_string(),
            region: c.region.as_ref().map(|r| r.to_string()).unwrap_or_default(),
        }
        .into());
    }
    Ok(())
}

/// The application was received by the calling institution, or lies in the caller's region.
pub fn check_application(c: &Caller, a: &ApplicationRow) -> Result<(), AppError> {
    match c.role {
        Role::CareInstitution => Ok(c.check_org("institution_code", &a.institution_code)?),
        Role::Assessor => Err(AppError::AssessorReachesApplication),
        _ => covers(c, "region_code", &a.region_code),
    }
}

/// The assessment is assigned to the calling assessor, or lies in the caller's region.
pub fn check_assessment(c: &Caller, a: &AssessmentRow) -> Result<(), AppError> {
    match c.role {
        Role::Assessor if !a.assessors.contains(&c.org) => Err(AppError::NotAssigned(a.id.clone())),
        Role::Assessor => Ok(()),
        _ => covers(c, "region_code", &a.region_code),
    }
}

impl Ltc {
    /// The beneficiary applied through or was placed with the calling institution, or lies in
    /// the caller's region.
    pub async fn check_beneficiary(&self, c: &Caller, b: &BeneficiaryRow) -> Result<(), AppError> {
        match c.role {
            Role::CareInstitution => {
                let knows = b.plans.iter().any(|p| p.plan.institution == c.org)
                    || applications::institution_received(self.store.db(), &b.person_id, &c.org)
                        .await?;
                if knows {
                    Ok(())
                } else {
                    Err(AppError::NotYourBeneficiary)
                }
            }
            _ => covers(c, "region_code", &b.region_code),
        }
    }
}
