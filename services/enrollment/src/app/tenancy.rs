//! Record-level tenancy: a region-scoped caller reaches only records of their region. The
//! request's own tenancy fields are checked from the contract before a use case runs
//! (`yibao_runtime::tenancy`); these checks are about the stored record a request names.

use super::AppError;
use crate::domain::PersonFile;
use crate::store::entities::person;
use yibao_core::RegionCode;
use yibao_runtime::Caller;
use yibao_runtime::auth::AuthError;

/// Region-scoped callers reach only people living in their region.
pub fn scope(c: &Caller, p: &person::Model) -> Result<(), AppError> {
    if covers_person(c, p)? {
        Ok(())
    } else {
        Err(AppError::OutsideRegion(own_region(c)))
    }
}

/// As [`scope`], for a person the request names in `field`: the refusal names the field and
/// the id the caller sent (never the person's region, which is not the caller's to know).
pub fn scope_named(c: &Caller, field: &str, p: &person::Model) -> Result<(), AppError> {
    if covers_person(c, p)? {
        Ok(())
    } else {
        Err(outside(c, field, &p.id))
    }
}

impl super::Enrollment {
    /// A region-scoped caller reaches a person's record (reads, corrections, enrolments) when
    /// the person lives in their region or is insured there (an enrolment of the region, e.g.
    /// after a transfer in: the destination's operators administer the person from then on).
    /// The enrolments are read only when the person lives elsewhere.
    pub(crate) async fn reach(&self, c: &Caller, p: &person::Model) -> Result<(), AppError> {
        if covers_person(c, p)? {
            return Ok(());
        }
        let enrolments = self.store.enrolments(&p.id).await?;
        if enrolments.iter().any(|e| c.covers_region(&e.region)) {
            Ok(())
        } else {
            Err(AppError::OutsideRegion(own_region(c)))
        }
    }
}

/// A region-scoped caller reaches a person's file (eligibility, a scanned voucher) when the
/// person lives in their region or is insured there (an enrolment of the region, e.g. after
/// a transfer in). The refusal names `field` with the masked ID number.
pub fn scope_file(c: &Caller, field: &str, file: &PersonFile) -> Result<(), AppError> {
    let covered =
        c.covers_region(&file.region) || file.enrolments.iter().any(|e| c.covers_region(&e.region));
    if covered {
        Ok(())
    } else {
        Err(outside(c, field, &file.id_masked))
    }
}

/// A region-scoped caller covers `value` (the region of a record or of a request's field
/// `field`).
pub fn check_region(c: &Caller, field: &str, value: &str) -> Result<(), AppError> {
    Ok(c.check_region(field, value)?)
}

fn covers_person(c: &Caller, p: &person::Model) -> Result<bool, AppError> {
    let r = RegionCode::parse(&p.region_code).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(c.covers_region(&r))
}

fn own_region(c: &Caller) -> String {
    c.region.as_ref().map(|r| r.to_string()).unwrap_or_default()
}

fn outside(c: &Caller, field: &str, value: &str) -> AppError {
    AppError::Auth(AuthError::OutsideRegion {
        field: field.to_string(),
        value: value.to_string(),
        region: own_region(c),
    })
}
