//! The registries' part of preparing a claim (decision 10): one call to enrollment's
//! `GetSettlementFacts` for the person and everything the registries say about the claim on
//! its end date, and the admission of the claim on those facts (`domain::registry::admit`):
//! the grade and tier the policy uses, the filing, the certification and the physician are the
//! registries', never the claim's.
//!
//! Procurement's catalogue checks some items' restrictions against the institution's grade.
//! When the claim declares its grade, the catalogue is asked at the same time as enrollment
//! with that grade, and the answer counts only if the registry agrees (else the claim is
//! refused naming `claim.hospital_grade`); otherwise the catalogue is asked after enrollment,
//! with the registry's grade.

use super::upstream::{Authorization, ClaimRegistryFacts, FactsQuery, Resolution};
use super::{AppError, SettlementApp};
use crate::domain::Claim;
use crate::domain::registry::{Admitted, Declared, RegistryFacts, ServiceKind, admit};
use yibao_core::RegionCode;

impl SettlementApp {
    /// Enrollment's facts of `claim` and, when the claim declares its grade, procurement's
    /// answer for its items asked at the same time.
    pub(super) async fn ask_registries(
        &self,
        authorization: Authorization,
        claim: &mut Claim,
        insured_region: &RegionCode,
        declared: &Declared,
        days_supply: &[Option<u32>],
    ) -> Result<(ClaimRegistryFacts, Option<Vec<Resolution>>), AppError> {
        if let Some(g) = declared.grade {
            claim.grade = g;
        }
        let claim: &Claim = claim;
        let query = FactsQuery {
            id_number: &claim.id_number,
            date: claim.end_date,
            institution: &claim.institution_code,
            service: ServiceKind::of(claim.kind),
            disease_code: claim.disease_code.as_deref(),
            physician_code: declared.physician.as_deref(),
            insured_region,
        };
        if declared.grade.is_some() {
            let (facts, resolved) = tokio::try_join!(
                self.upstreams.registry.facts(authorization.clone(), &query),
                self.resolve_items(authorization, claim, days_supply),
            )?;
            Ok((facts, Some(resolved)))
        } else {
            let facts = self.upstreams.registry.facts(authorization, &query).await?;
            Ok((facts, None))
        }
    }
}

/// Admits `claim` on the registries' `facts`: its grade and tier become the registry's.
pub(super) fn admit_claim(
    claim: &mut Claim,
    declared: &Declared,
    facts: &RegistryFacts,
) -> Result<Admitted, AppError> {
    let admitted = admit(
        claim.institution_code.as_str(),
        claim.kind,
        claim.end_date,
        declared,
        facts,
    )?;
    claim.grade = admitted.grade;
    claim.tier = admitted.tier;
    Ok(admitted)
}
