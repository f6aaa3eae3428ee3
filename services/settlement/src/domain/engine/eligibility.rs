//! What enrollment says about the person, and whether the policy and the accumulators apply
//! to the claim: the checks that open every settlement, and the place of treatment (cross-region
//! care and its rate reduction).

use chrono::Datelike;
use serde::{Deserialize, Serialize};
use yibao_core::{Bp, RegionCode};

use super::{Accumulators, EngineError};
use crate::domain::claim::Claim;
use crate::domain::policy::PolicyDocument;
use crate::domain::{PersonCategory, Scheme};

/// Filing type of a cross-region patient (异地就医备案).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossRegionFiling {
    /// 异地长期居住 / 异地安置退休 / 常驻异地工作.
    LongTermResident,
    /// 转诊转院.
    Referral,
    /// 急诊抢救.
    Emergency,
    /// 其他临时外出.
    OtherTemporary,
}

/// What enrollment says about the person on the claim date, snapshot into the settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilitySnapshot {
    /// Scheme the person is insured under.
    pub scheme: Scheme,
    /// Insured region (参保地, `insuplc_admdvs`).
    pub insured_region: RegionCode,
    /// Categories valid on the date.
    pub categories: Vec<PersonCategory>,
    /// Chronic/special disease codes with a valid 认定 on the date.
    #[serde(default)]
    pub chronic_registrations: Vec<String>,
    /// Commercial supplementary products the person holds (product codes).
    #[serde(default)]
    pub supplement_products: Vec<String>,
    /// Cross-region filing, if any.
    #[serde(default)]
    pub cross_region_filing: Option<CrossRegionFiling>,
}

impl EligibilitySnapshot {
    pub(super) fn holds_any(&self, categories: &[PersonCategory]) -> bool {
        categories.iter().any(|c| self.categories.contains(c))
    }
}

/// Where the claim was treated, seen from the insured region.
#[derive(Debug, Clone)]
pub(super) struct Place {
    /// Place of treatment (就医地).
    pub(super) treatment_region: RegionCode,
    /// True when treated outside the insured pooling region.
    pub(super) cross_region: bool,
    /// True when treated in the insured province.
    pub(super) in_province: bool,
    /// Rate reduction of cross-region care by filing (zero at home).
    pub(super) reduction: Bp,
}

/// Checks that the policy and the accumulators are this person-year's and finds the place of
/// treatment.
pub(super) fn check(
    claim: &Claim,
    eligibility: &EligibilitySnapshot,
    accumulators: &Accumulators,
    policy: &PolicyDocument,
) -> Result<Place, EngineError> {
    let year = claim.end_date.year();
    if policy.scheme != eligibility.scheme {
        return Err(EngineError::PolicyMismatch {
            field: "scheme",
            message: "the policy is for another scheme".into(),
        });
    }
    if !policy.region.covers(&eligibility.insured_region) {
        return Err(EngineError::PolicyMismatch {
            field: "region",
            message: "the policy's region does not cover the insured region".into(),
        });
    }
    if policy.year != year || policy.effective_from > claim.end_date {
        return Err(EngineError::PolicyMismatch {
            field: "year",
            message: "the policy is not in force on the claim's end date".into(),
        });
    }
    if accumulators.year != year {
        return Err(EngineError::AccumulatorMismatch("year"));
    }
    if accumulators.region != eligibility.insured_region {
        return Err(EngineError::AccumulatorMismatch("region"));
    }

    let treatment_region = claim.institution_code.region();
    let pooling = policy.pooling_region.as_ref().unwrap_or(&policy.region);
    let cross_region =
        !eligibility.insured_region.covers(&treatment_region) && !pooling.covers(&treatment_region);
    let in_province = treatment_region.province() == eligibility.insured_region.province();
    let reduction = if cross_region {
        let cr = &policy.cross_region;
        match eligibility.cross_region_filing {
            None => cr.unfiled_reduction,
            Some(CrossRegionFiling::LongTermResident) => cr.long_term_reduction,
            Some(CrossRegionFiling::Referral) => cr.referral_reduction,
            Some(CrossRegionFiling::Emergency) => cr.emergency_reduction,
            Some(CrossRegionFiling::OtherTemporary) => cr.other_temporary_reduction,
        }
    } else {
        Bp::ZERO
    };
    Ok(Place {
        treatment_region,
        cross_region,
        in_province,
        reduction,
    })
}
