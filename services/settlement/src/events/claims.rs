//! Bus events of settled and reversed claims (`yibao.events.v1.ClaimEvent`), written to the
//! outbox in the settlement's transaction and published by the relay.

use crate::domain::{ClaimItem, EncounterKind, Settlement};
use crate::store::StoredClaim;
use prost::Message as _;
use yibao_core::{IdNumber, Sex};
use yibao_proto::events::v1 as ev;
use yibao_runtime::outbox::OutboxEvent;
use yibao_runtime::streams;

/// An event that cannot be built from what is stored.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The stored ID number does not parse (a bug or a manual edit).
    #[error("stored ID number: {0}")]
    IdNumber(String),
}

impl EventError {
    /// Stable machine-readable code (a bug: answered as INTERNAL).
    pub fn code(&self) -> &'static str {
        yibao_runtime::error::codes::INTERNAL.code
    }
}

/// What happened to the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Settled (or re-settled after a refund).
    Settled,
    /// An earlier settlement was reversed.
    Reversed,
}

/// The kind of care an encounter kind is grouped under for supervision.
pub(super) fn kind(k: EncounterKind) -> ev::ClaimKind {
    match k {
        EncounterKind::Inpatient | EncounterKind::Maternity => ev::ClaimKind::Inpatient,
        EncounterKind::GeneralOutpatient => ev::ClaimKind::Outpatient,
        EncounterKind::OutpatientChronic => ev::ClaimKind::Chronic,
        EncounterKind::Pharmacy => ev::ClaimKind::Pharmacy,
    }
}

/// The event of a claim. `person_key` is enrollment's person id, never the ID number; the
/// event id is fresh (a UUIDv7, so the outbox's order is the order of writing).
pub fn claim_event(
    claim_id: &str,
    action: Action,
    person_key: &str,
    claim: &StoredClaim,
    s: &Settlement,
    items: &[ClaimItem],
    at: &str,
) -> Result<ev::ClaimEvent, EventError> {
    let id = IdNumber::parse(&claim.id_number).map_err(|e| EventError::IdNumber(e.to_string()))?;
    Ok(ev::ClaimEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        claim_id: claim_id.to_string(),
        action: match action {
            Action::Settled => ev::ClaimAction::Settled,
            Action::Reversed => ev::ClaimAction::Reversed,
        } as i32,
        settled_at: at.to_string(),
        person_key: person_key.to_string(),
        sex: match id.sex() {
            Sex::Male => 1,
            Sex::Female => 2,
        },
        birth_date: id.birth_date().to_string(),
        home_region: s.insured_region.to_string(),
        institution_code: claim.institution_code.clone(),
        physician: claim
            .registry
            .as_ref()
            .and_then(|r| r.attending_physician.clone())
            .unwrap_or_default(),
        kind: kind(claim.kind) as i32,
        start_date: claim.start_date.to_string(),
        end_date: claim.end_date.to_string(),
        principal_diagnosis: claim.diagnoses.first().cloned().unwrap_or_default(),
        chronic_disease: claim.disease_code.clone().unwrap_or_default(),
        items: items
            .iter()
            .map(|it| ev::ClaimEventItem {
                code: it.national_code.clone(),
                quantity: u32::try_from(it.quantity).unwrap_or(u32::MAX),
                unit_price_fen: it.unit_price.0,
                amount_fen: it.amount.0,
                days_supply: 0,
            })
            .collect(),
        total_fen: s.breakdown.medfee_sumamt.0,
        fund_paid_fen: s.breakdown.hifp_pay.0,
        enrolment_end: String::new(),
        death_date: String::new(),
    })
}

/// The outbox row of an event, on the stream of settled and reversed claims.
pub fn outbox_event(event: &ev::ClaimEvent) -> OutboxEvent {
    OutboxEvent::new(
        streams::SETTLEMENT_CLAIMS,
        event.event_id.clone(),
        event.encode_to_vec(),
    )
    .for_institution(&event.institution_code)
}
