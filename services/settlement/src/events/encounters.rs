//! Bus events of encounters during care (`yibao.events.v1.EncounterEvent` on
//! `yibao.settlement.encounters`): admission or registration, each fee upload, discharge and
//! cancellation, written to the outbox in the step's transaction, so supervision's rules can
//! run while the patient is still in care.

use super::claims::kind;
use crate::domain::encounter::FeeLine;
use crate::store::care::EncounterRow;
use prost::Message as _;
use yibao_proto::events::v1 as ev;
use yibao_runtime::outbox::OutboxEvent;
use yibao_runtime::streams;

/// What happened to the encounter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Opened.
    Opened,
    /// Lines uploaded.
    FeesUploaded,
    /// Discharged.
    Discharged,
    /// Cancelled.
    Cancelled,
    /// Lines cancelled.
    FeesCancelled,
}

/// The outbox row of an encounter's step; `lines` are the lines a fee upload added or a
/// cancellation took back.
pub fn encounter_event(e: &EncounterRow, step: Step, lines: &[FeeLine], at: &str) -> OutboxEvent {
    let event = ev::EncounterEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        encounter_id: e.encounter_id.clone(),
        action: match step {
            Step::Opened => ev::EncounterAction::Opened,
            Step::FeesUploaded => ev::EncounterAction::FeesUploaded,
            Step::Discharged => ev::EncounterAction::Discharged,
            Step::Cancelled => ev::EncounterAction::Cancelled,
            Step::FeesCancelled => ev::EncounterAction::FeesCancelled,
        } as i32,
        occurred_at: at.to_string(),
        person_key: e.person_id.clone(),
        home_region: e.insured_region.clone(),
        institution_code: e.institution_code.clone(),
        physician: e.physician_code.clone().unwrap_or_default(),
        kind: kind(e.kind) as i32,
        start_date: e.start_date.to_string(),
        end_date: e.end_date.map(|d| d.to_string()).unwrap_or_default(),
        principal_diagnosis: e.diagnoses.first().cloned().unwrap_or_default(),
        lines: lines
            .iter()
            .map(|l| ev::EncounterFeeLine {
                feedetl_sn: l.feedetl_sn.clone(),
                fee_date: l.fee_date.to_string(),
                item: Some(ev::ClaimEventItem {
                    code: l.item.national_code.clone(),
                    quantity: u32::try_from(l.item.quantity).unwrap_or(u32::MAX),
                    unit_price_fen: l.item.unit_price.0,
                    amount_fen: l.item.amount.0,
                    days_supply: l.days_supply.unwrap_or(0),
                }),
            })
            .collect(),
    };
    OutboxEvent::new(
        streams::SETTLEMENT_ENCOUNTERS,
        event.event_id.clone(),
        event.encode_to_vec(),
    )
    .for_institution(&event.institution_code)
}
