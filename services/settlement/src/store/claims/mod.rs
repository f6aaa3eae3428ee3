//! Encounters (the idempotency key: institution + encounter number → current claim), claims
//! with their items and the explanation of every amount, and reversals.
//!
//! - this module: the claim status and the text forms of schemes and encounter kinds;
//! - `rows`: the row types (a claim as stored, its history, list lines, filters);
//! - `encounters`: the idempotency key;
//! - `write`: the claim row; `lines`: its item rows and explanation (breakdown) lines;
//! - `read`: one claim with its history, the claim list, the claim locked for an update.

mod encounters;
mod lines;
mod read;
mod rows;
mod write;

use crate::domain::{EncounterKind, Scheme};

pub use lines::rule_name;
pub use rows::{ClaimFilter, ClaimRow, ClaimSummaryRow, NewClaim, ReversalRow, StoredClaim};

/// State of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStatus {
    /// Settled.
    Settled,
    /// Some items refunded.
    PartiallyRefunded,
    /// Fully reversed.
    Reversed,
    /// Replaced by a corrected claim.
    Superseded,
}

impl ClaimStatus {
    /// Text form in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Settled => "settled",
            ClaimStatus::PartiallyRefunded => "partially_refunded",
            ClaimStatus::Reversed => "reversed",
            ClaimStatus::Superseded => "superseded",
        }
    }

    /// Parses the text form.
    pub fn parse(s: &str) -> Option<ClaimStatus> {
        [
            ClaimStatus::Settled,
            ClaimStatus::PartiallyRefunded,
            ClaimStatus::Reversed,
            ClaimStatus::Superseded,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// True while the claim can still be reversed, refunded or re-settled.
    pub fn open(self) -> bool {
        matches!(self, ClaimStatus::Settled | ClaimStatus::PartiallyRefunded)
    }
}

/// Text form of a scheme.
pub fn scheme_str(s: Scheme) -> &'static str {
    match s {
        Scheme::Employee => "employee",
        Scheme::Resident => "resident",
    }
}

/// Parses a scheme's text form.
pub fn scheme_of(s: &str) -> Option<Scheme> {
    [Scheme::Employee, Scheme::Resident]
        .into_iter()
        .find(|x| scheme_str(*x) == s)
}

/// Text form of an encounter kind.
pub fn kind_str(k: EncounterKind) -> &'static str {
    match k {
        EncounterKind::Inpatient => "inpatient",
        EncounterKind::GeneralOutpatient => "general_outpatient",
        EncounterKind::OutpatientChronic => "outpatient_chronic",
        EncounterKind::Maternity => "maternity",
        EncounterKind::Pharmacy => "pharmacy",
    }
}

/// Parses an encounter kind's text form.
pub fn kind_of(s: &str) -> Option<EncounterKind> {
    [
        EncounterKind::Inpatient,
        EncounterKind::GeneralOutpatient,
        EncounterKind::OutpatientChronic,
        EncounterKind::Maternity,
        EncounterKind::Pharmacy,
    ]
    .into_iter()
    .find(|k| kind_str(*k) == s)
}
