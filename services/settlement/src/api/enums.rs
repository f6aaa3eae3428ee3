//! Enum mapping between the contract and the app/domain types.

use crate::domain::{
    CrossRegionFiling, EncounterKind, HospitalGrade, InstitutionTier, ItemClass, Layer,
    PersonCategory, Scheme,
};
use crate::store::ClaimStatus;
use yibao_proto::settlement::v1 as pb;

/// A scheme's number in the contract.
pub fn scheme_pb(s: Scheme) -> i32 {
    s.proto_number()
}

/// A scheme from its number in the contract (none for unspecified).
pub fn scheme_of_pb(v: i32) -> Option<Scheme> {
    Scheme::from_proto_number(v)
}

/// A category's number in the contract.
pub fn category_pb(c: PersonCategory) -> i32 {
    c.proto_number()
}

/// An encounter kind from the contract; `None` when unspecified or unknown.
pub fn kind_of_pb(v: i32) -> Option<EncounterKind> {
    match pb::EncounterKind::try_from(v) {
        Ok(pb::EncounterKind::Inpatient) => Some(EncounterKind::Inpatient),
        Ok(pb::EncounterKind::GeneralOutpatient) => Some(EncounterKind::GeneralOutpatient),
        Ok(pb::EncounterKind::OutpatientChronic) => Some(EncounterKind::OutpatientChronic),
        Ok(pb::EncounterKind::Maternity) => Some(EncounterKind::Maternity),
        Ok(pb::EncounterKind::Pharmacy) => Some(EncounterKind::Pharmacy),
        _ => None,
    }
}

/// An encounter kind's number in the contract.
pub fn kind_pb(k: EncounterKind) -> i32 {
    (match k {
        EncounterKind::Inpatient => pb::EncounterKind::Inpatient,
        EncounterKind::GeneralOutpatient => pb::EncounterKind::GeneralOutpatient,
        EncounterKind::OutpatientChronic => pb::EncounterKind::OutpatientChronic,
        EncounterKind::Maternity => pb::EncounterKind::Maternity,
        EncounterKind::Pharmacy => pb::EncounterKind::Pharmacy,
    }) as i32
}

/// `class_pb`.
pub fn class_pb(c: ItemClass) -> i32 {
    (match c {
        ItemClass::A => pb::ItemClass::A,
        ItemClass::B => pb::ItemClass::B,
        ItemClass::C => pb::ItemClass::C,
    }) as i32
}

/// `grade_pb`.
pub fn grade_pb(g: HospitalGrade) -> i32 {
    (match g {
        HospitalGrade::Grade1 => pb::HospitalGrade::Primary,
        HospitalGrade::Grade2 => pb::HospitalGrade::Secondary,
        HospitalGrade::Grade3 => pb::HospitalGrade::Tertiary,
    }) as i32
}

/// `tier_pb`.
pub fn tier_pb(t: InstitutionTier) -> i32 {
    (match t {
        InstitutionTier::Township => pb::InstitutionTier::Township,
        InstitutionTier::County => pb::InstitutionTier::County,
        InstitutionTier::City => pb::InstitutionTier::City,
        InstitutionTier::Province => pb::InstitutionTier::Province,
    }) as i32
}

/// `filing_pb`.
pub fn filing_pb(f: Option<CrossRegionFiling>) -> i32 {
    (match f {
        None => pb::CrossRegionFiling::Unspecified,
        Some(CrossRegionFiling::LongTermResident) => pb::CrossRegionFiling::LongTermResident,
        Some(CrossRegionFiling::Referral) => pb::CrossRegionFiling::Referral,
        Some(CrossRegionFiling::Emergency) => pb::CrossRegionFiling::Emergency,
        Some(CrossRegionFiling::OtherTemporary) => pb::CrossRegionFiling::OtherTemporary,
    }) as i32
}

/// `layer_pb`.
pub fn layer_pb(l: Layer) -> i32 {
    (match l {
        Layer::BasicPool => pb::Layer::BasicPool,
        Layer::Maternity => pb::Layer::Maternity,
        Layer::OutpatientPool => pb::Layer::OutpatientPool,
        Layer::ChronicDisease => pb::Layer::ChronicDisease,
        Layer::CriticalIllness => pb::Layer::CriticalIllness,
        Layer::MedicalAssistance => pb::Layer::MedicalAssistance,
        Layer::Backstop => pb::Layer::Backstop,
        Layer::ChronicSupplement => pb::Layer::ChronicSupplement,
        Layer::Commercial => pb::Layer::Commercial,
    }) as i32
}

/// `status_pb`.
pub fn status_pb(s: ClaimStatus) -> i32 {
    (match s {
        ClaimStatus::Settled => pb::ClaimStatus::Settled,
        ClaimStatus::PartiallyRefunded => pb::ClaimStatus::PartiallyRefunded,
        ClaimStatus::Reversed => pb::ClaimStatus::Reversed,
        ClaimStatus::Superseded => pb::ClaimStatus::Superseded,
    }) as i32
}

/// `status_of_pb`.
pub fn status_of_pb(v: i32) -> Option<ClaimStatus> {
    match pb::ClaimStatus::try_from(v).ok()? {
        pb::ClaimStatus::Settled => Some(ClaimStatus::Settled),
        pb::ClaimStatus::PartiallyRefunded => Some(ClaimStatus::PartiallyRefunded),
        pb::ClaimStatus::Reversed => Some(ClaimStatus::Reversed),
        pb::ClaimStatus::Superseded => Some(ClaimStatus::Superseded),
        pb::ClaimStatus::Unspecified => None,
    }
}

/// `insurer_status_pb`.
pub fn insurer_status_pb(s: &str) -> i32 {
    (match s {
        "settled" => pb::InsurerClaimStatus::Settled,
        "reconciled" => pb::InsurerClaimStatus::Reconciled,
        "disputed" => pb::InsurerClaimStatus::Disputed,
        "resolved" => pb::InsurerClaimStatus::Resolved,
        "reversed" => pb::InsurerClaimStatus::Reversed,
        _ => pb::InsurerClaimStatus::Unspecified,
    }) as i32
}

/// `insurer_status_of_pb`.
pub fn insurer_status_of_pb(v: i32) -> Option<&'static str> {
    match pb::InsurerClaimStatus::try_from(v).ok()? {
        pb::InsurerClaimStatus::Settled => Some("settled"),
        pb::InsurerClaimStatus::Reconciled => Some("reconciled"),
        pb::InsurerClaimStatus::Disputed => Some("disputed"),
        pb::InsurerClaimStatus::Resolved => Some("resolved"),
        pb::InsurerClaimStatus::Reversed => Some("reversed"),
        pb::InsurerClaimStatus::Unspecified => None,
    }
}
