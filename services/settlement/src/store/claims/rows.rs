//! Row types of claims: a claim as stored, with its history, list lines and filters.

use super::ClaimStatus;
use crate::domain::registry::Admitted;
use crate::domain::{
    Breakdown, Claim, ClaimItem, CrossRegionFiling, EligibilitySnapshot, EncounterKind,
    HospitalGrade, InstitutionTier, Scheme, Settlement,
};
use crate::store::{Actor, StoreError};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use yibao_core::{IdNumber, InstitutionCode, RegionCode};

/// A claim as stored: the priced claim the engine settled plus what the request carried
/// besides it. Serialised into `claims.claim_json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredClaim {
    /// Institution.
    pub institution_code: String,
    /// Encounter number.
    pub encounter_no: String,
    /// ID number (clear; never logged, masked in responses).
    pub id_number: String,
    /// Insured region as submitted and verified.
    pub insured_region_code: String,
    /// Kind.
    pub kind: EncounterKind,
    /// Disease code of a chronic claim.
    pub disease_code: Option<String>,
    /// Grade.
    pub grade: HospitalGrade,
    /// Tier.
    pub tier: InstitutionTier,
    /// Start date.
    pub start_date: NaiveDate,
    /// End date.
    pub end_date: NaiveDate,
    /// Diagnoses.
    pub diagnoses: Vec<String>,
    /// Items as priced (class and payment standard from the catalogue).
    pub items: Vec<ClaimItem>,
    /// Cross-region filing.
    pub cross_region_filing: Option<CrossRegionFiling>,
    /// Indexes of refunded items, in the order refunded.
    #[serde(default)]
    pub refunded: Vec<usize>,
    /// What the registries admitted the claim on (agreement, certification, filing,
    /// physician); absent on claims settled before the registries.
    #[serde(default)]
    pub registry: Option<Admitted>,
}

impl StoredClaim {
    /// Captures a parsed claim.
    pub fn of(
        claim: &Claim,
        insured_region: &RegionCode,
        filing: Option<CrossRegionFiling>,
    ) -> StoredClaim {
        StoredClaim {
            institution_code: claim.institution_code.as_str().to_string(),
            encounter_no: claim.encounter_no.clone(),
            id_number: claim.id_number.expose().to_string(),
            insured_region_code: insured_region.to_string(),
            kind: claim.kind,
            disease_code: claim.disease_code.clone(),
            grade: claim.grade,
            tier: claim.tier,
            start_date: claim.start_date,
            end_date: claim.end_date,
            diagnoses: claim.diagnoses.clone(),
            items: claim.items.clone(),
            cross_region_filing: filing,
            refunded: Vec::new(),
            registry: None,
        }
    }

    /// The domain claim with every item.
    pub fn claim(&self) -> Result<Claim, StoreError> {
        Ok(Claim {
            institution_code: InstitutionCode::parse(&self.institution_code)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            encounter_no: self.encounter_no.clone(),
            id_number: IdNumber::parse(&self.id_number)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            kind: self.kind,
            disease_code: self.disease_code.clone(),
            grade: self.grade,
            tier: self.tier,
            start_date: self.start_date,
            end_date: self.end_date,
            diagnoses: self.diagnoses.clone(),
            items: self.items.clone(),
        })
    }

    /// The claim with the items not yet refunded, and their original indexes.
    pub fn remaining(&self) -> Result<(Claim, Vec<usize>), StoreError> {
        let mut c = self.claim()?;
        let keep: Vec<usize> = (0..self.items.len())
            .filter(|i| !self.refunded.contains(i))
            .collect();
        c.items = keep.iter().map(|i| self.items[*i].clone()).collect();
        Ok((c, keep))
    }
}

/// A stored reversal.
#[derive(Debug, Clone)]
pub struct ReversalRow {
    /// Institution's reversal number.
    pub reversal_no: String,
    /// Refunded items; empty for a full reversal.
    pub item_indexes: Vec<usize>,
    /// Amounts given back.
    pub refund: Breakdown,
    /// Reason.
    pub reason: String,
    /// Who.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
}

/// A stored claim with its history.
#[derive(Debug, Clone)]
pub struct ClaimRow {
    /// Claim id.
    pub claim_id: String,
    /// The claim.
    pub stored: StoredClaim,
    /// Current settlement.
    pub settlement: Settlement,
    /// Status.
    pub status: ClaimStatus,
    /// Reversals, oldest first.
    pub reversals: Vec<ReversalRow>,
    /// Replacement.
    pub superseded_by: Option<String>,
    /// Corrected claim.
    pub corrects: Option<String>,
    /// Settled by.
    pub settled_by: String,
    /// Role.
    pub settled_role: String,
    /// When.
    pub settled_at: String,
}

/// A line of a claim list.
#[derive(Debug, Clone)]
pub struct ClaimSummaryRow {
    /// Claim id.
    pub claim_id: String,
    /// When settled (with the claim id, the key of the list's order).
    pub settled_at: String,
    /// Institution.
    pub institution_code: String,
    /// Encounter.
    pub encounter_no: String,
    /// Kind.
    pub kind: EncounterKind,
    /// Settled on.
    pub settled_on: String,
    /// Status.
    pub status: ClaimStatus,
    /// Scheme.
    pub scheme: Scheme,
    /// Total.
    pub medfee_sumamt: i64,
    /// Funds.
    pub fund_pay_sumamt: i64,
    /// Person.
    pub psn_part_amt: i64,
    /// Insurers.
    pub insurer_pay: i64,
}

/// Filter of a claim list.
#[derive(Debug, Clone, Default)]
pub struct ClaimFilter {
    /// Institution (exact).
    pub institution_code: Option<String>,
    /// Insured region prefix.
    pub region_prefix: Option<String>,
    /// Month `YYYY-MM` of the settlement date.
    pub month: Option<String>,
    /// Status.
    pub status: Option<ClaimStatus>,
}

/// A claim to insert: the claim as stored, who the person is, the eligibility snapshot and
/// the settlement.
#[derive(Debug, Clone, Copy)]
pub struct NewClaim<'a> {
    /// Claim id.
    pub claim_id: &'a str,
    /// The claim as priced.
    pub stored: &'a StoredClaim,
    /// Enrollment's person id.
    pub person_id: &'a str,
    /// Eligibility snapshot.
    pub eligibility: &'a EligibilitySnapshot,
    /// The settlement.
    pub settlement: &'a Settlement,
    /// Month of the settlement (`YYYY-MM` of its date).
    pub month: &'a str,
    /// Who settled.
    pub actor: &'a Actor,
    /// The claim this one corrects (a re-settlement).
    pub corrects: Option<&'a str>,
}
