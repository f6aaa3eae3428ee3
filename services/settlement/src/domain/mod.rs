//! Pure rules of the settlement service: no I/O, no async.
//!
//! - [`policy`]: versioned policy documents as data (region × year × scheme), their validation
//!   and the default bundle built from the seeds;
//! - [`claim`]: a claim as a hospital submits it, its validation and the item-level split
//!   into out-of-catalogue, above-standard, first self-pay and policy-range amounts;
//! - [`engine`]: the one-stop multi-layer settlement (一站式结算) over the policy-range
//!   residual, the accounting identities, accumulators and reversal;
//! - [`registry`]: what the registries say about a claim and the rules that admit it on
//!   them (nothing the caller declares decides a payment);
//! - [`month`]: what a month adds up to (statements, fund lines, the ledger reconciliation's
//!   fold), with checked sums.
//!
//! Money is [`yibao_core::Fen`], rates [`yibao_core::Bp`]; every rate application rounds once,
//! half-up to the fen, and each layer hands the exact remainder to the next.

pub mod claim;
pub mod encounter;
pub mod engine;
pub mod month;
pub mod policy;
pub mod registry;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::fmt;

pub use claim::{
    Catalogue, CatalogueEntry, Claim, ClaimError, ClaimItem, ClaimLimits, ClaimSplit, ItemClass,
    ItemSplit, apply_catalogue, is_icd10_medical_insurance_code, split_claim, split_item,
    validate_claim, validate_claim_within,
};
pub use engine::{
    AccumulatorDelta, Accumulators, Breakdown, CrossRegionFiling, EligibilitySnapshot, EngineError,
    Explanation, Field, FundPayType, ItemRefund, Layer, LayerLine, Rule, Settlement, SupplementUse,
    apply_delta, refund_items, reverse, settle,
};
pub use month::{
    Discrepancy, FundTotal, InsurerFold, InsurerTotals, LedgerFold, ProductTotal, StatementTotals,
    fund_lines,
};
pub use policy::{PolicyBundle, PolicyDocument, PolicyError, default_bundle};

/// Insurance scheme (险种) and a person's category (人员类别/身份), shared by every service.
pub use yibao_core::{PersonCategory, Scheme};

/// Hospital grade (医院等级 `hosp_lv`): 一级, 二级, 三级.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HospitalGrade {
    /// 一级 (and ungraded primary care, pharmacies).
    Grade1,
    /// 二级.
    Grade2,
    /// 三级.
    Grade3,
}

/// Administrative tier of an institution (县域内 / 市级 / 省级), ordered from lowest to highest.
/// The "351" backstop cap is chosen by tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstitutionTier {
    /// 乡镇卫生院 and village clinics.
    Township,
    /// 县级.
    County,
    /// 市级.
    City,
    /// 省级.
    Province,
}

impl InstitutionTier {
    /// All tiers, lowest first.
    pub const ALL: [InstitutionTier; 4] = [
        InstitutionTier::Township,
        InstitutionTier::County,
        InstitutionTier::City,
        InstitutionTier::Province,
    ];

    /// Position in [`InstitutionTier::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The key of a level-dependent policy table: either a tier or a grade, according to the
/// policy's [`policy::LevelBasis`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelKey {
    /// 乡镇.
    Township,
    /// 县级.
    County,
    /// 市级.
    City,
    /// 省级.
    Province,
    /// 一级.
    Grade1,
    /// 二级.
    Grade2,
    /// 三级.
    Grade3,
}

impl From<InstitutionTier> for LevelKey {
    fn from(t: InstitutionTier) -> LevelKey {
        match t {
            InstitutionTier::Township => LevelKey::Township,
            InstitutionTier::County => LevelKey::County,
            InstitutionTier::City => LevelKey::City,
            InstitutionTier::Province => LevelKey::Province,
        }
    }
}

impl From<HospitalGrade> for LevelKey {
    fn from(g: HospitalGrade) -> LevelKey {
        match g {
            HospitalGrade::Grade1 => LevelKey::Grade1,
            HospitalGrade::Grade2 => LevelKey::Grade2,
            HospitalGrade::Grade3 => LevelKey::Grade3,
        }
    }
}

impl LevelKey {
    /// True for the tier keys (township/county/city/province).
    pub fn is_tier(self) -> bool {
        matches!(
            self,
            LevelKey::Township | LevelKey::County | LevelKey::City | LevelKey::Province
        )
    }
}

/// Kind of encounter (医疗类别 `med_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncounterKind {
    /// 住院 (21).
    Inpatient,
    /// 普通门诊 (11).
    GeneralOutpatient,
    /// 门诊慢特病 (14), with a disease code.
    OutpatientChronic,
    /// 生育住院 (maternity, 52).
    Maternity,
    /// 药店购药 (41).
    Pharmacy,
}

impl EncounterKind {
    /// The national `med_type` base code.
    pub fn med_type(self) -> &'static str {
        match self {
            EncounterKind::Inpatient => "21",
            EncounterKind::GeneralOutpatient => "11",
            EncounterKind::OutpatientChronic => "14",
            EncounterKind::Maternity => "52",
            EncounterKind::Pharmacy => "41",
        }
    }
}

/// A validation problem located by its field path, e.g. `items[3].quantity` or
/// `critical_illness.bands[1].rate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Dot/bracket path of the offending field.
    pub path: String,
    /// What is wrong, safe to show to the caller.
    pub message: String,
}

impl FieldError {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Joins field errors for an error message.
pub(crate) fn join_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
