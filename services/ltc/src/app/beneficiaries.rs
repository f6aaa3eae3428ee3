//! Beneficiaries and their care: read one, list the reassessments due, place a beneficiary
//! with an institution under a care type (ending the plan before).

use super::tenancy::check_institution;
use super::{AppError, Credentials, Ltc, actor, invalid, policies};
use crate::domain::care::place;
use crate::domain::policy::CareType;
use crate::domain::registry::admit;
use crate::store::beneficiaries::{self, BeneficiaryRow, PlanRow};
use chrono::{Datelike, NaiveDate};
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::Caller;
use yibao_runtime::page::Page;

/// A placement with an institution.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The beneficiary.
    pub beneficiary_id: String,
    /// The institution.
    pub institution: InstitutionCode,
    /// Under this care type.
    pub care_type: CareType,
    /// From this day.
    pub start: NaiveDate,
}

impl Ltc {
    /// Reads a beneficiary the caller may see.
    pub async fn beneficiary(&self, c: &Caller, id: &str) -> Result<BeneficiaryRow, AppError> {
        let b = beneficiaries::get(self.store.db(), id).await?;
        self.check_beneficiary(c, &b).await?;
        Ok(b)
    }

    /// Beneficiaries of a region whose reassessment is due on or before `on` (the page's rows
    /// and one more).
    pub async fn reassessments_due(
        &self,
        region: &RegionCode,
        on: NaiveDate,
        page: &Page,
    ) -> Result<Vec<BeneficiaryRow>, AppError> {
        Ok(beneficiaries::reassessments_due(self.store.db(), region, on, page).await?)
    }

    /// Places a beneficiary with an institution under a care type the region's policy offers,
    /// from `start`, ending the open plan the day before; the institution must be a designated
    /// LTC provider (enrollment's registry) on `start`. Returns (new plan, ended plan,
    /// replayed).
    pub async fn place_care(
        &self,
        c: &Caller,
        credentials: &Credentials,
        p: &Placement,
    ) -> Result<(PlanRow, Option<PlanRow>, bool), AppError> {
        check_institution(c, "institution_code", &p.institution)?;
        let b = self.beneficiary(c, &p.beneficiary_id).await?;
        let year = p.start.year();
        let policy = policies::required(&self.store, &b.region_code, year).await?;
        if policy.terms(p.care_type).is_none() {
            return Err(invalid(
                "care_type",
                format!(
                    "the policy of {} in {year} does not offer {}",
                    b.region_code,
                    p.care_type.as_str()
                ),
            ));
        }
        let inst = p.institution.as_str();
        let registry = self.registry_file(credentials, &p.institution).await?;
        let tx = self.store.begin().await?;
        let b = beneficiaries::get(&*tx, &b.id).await?;
        if let Some(plan) = b.plans.iter().find(|x| {
            x.plan.start == p.start && x.plan.institution == inst && x.plan.care_type == p.care_type
        }) {
            return Ok((plan.clone(), None, true));
        }
        admit(inst, p.start, registry.as_ref())?;
        let mut ended = None;
        if let Some(old) = place(&b.care_plans(), p.start)? {
            let end = p.start.pred_opt().unwrap_or(p.start);
            beneficiaries::end_plan(&tx, &old, end).await?;
            ended = Some(beneficiaries::plan(&*tx, &old).await?);
        }
        let id =
            beneficiaries::insert_plan(&tx, &b.id, inst, p.care_type, p.start, &actor(c)).await?;
        let plan = beneficiaries::plan(&*tx, &id).await?;
        tx.commit().await?;
        Ok((plan, ended, false))
    }
}
