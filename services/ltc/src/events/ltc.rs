//! The LTC events this service publishes on `yibao.ltc.claims` ([`LTC_CLAIMS`]): one per
//! settlement line.

use crate::domain::settlement::LineFigures;
use prost::Message;
use yibao_proto::events::v1::{LtcAction, LtcEvent};
use yibao_runtime::outbox::OutboxEvent;
use yibao_runtime::streams::LTC_CLAIMS;

/// What a line's event says, beside its figures.
#[derive(Debug, Clone, Copy)]
pub struct LineEvent<'a> {
    /// Settled, or reversed (then `line_id` names the settled line given back).
    pub action: LtcAction,
    /// The settled line.
    pub line_id: &'a str,
    /// When the run was written.
    pub settled_at: &'a str,
    /// Enrollment person id.
    pub person_id: &'a str,
    /// The beneficiary's region.
    pub region: &'a str,
    /// Institution.
    pub institution: &'a str,
}

/// An LTC event ready for the outbox: `claim_id` is the settled line; a reversal repeats that
/// line's figures (positive) with `LTC_ACTION_REVERSED`.
pub fn line_event(e: &LineEvent<'_>, f: &LineFigures) -> OutboxEvent {
    let event_id = crate::store::new_id();
    let ev = LtcEvent {
        event_id: event_id.clone(),
        claim_id: e.line_id.to_string(),
        settled_at: e.settled_at.to_string(),
        person_key: e.person_id.to_string(),
        home_region: e.region.to_string(),
        institution_code: e.institution.to_string(),
        period_start: f.period_start.to_string(),
        period_end: f.period_end.to_string(),
        amount_fen: f.billed.get(),
        fund_paid_fen: f.fund.get(),
        enrolment_end: String::new(),
        death_date: String::new(),
        action: e.action as i32,
    };
    OutboxEvent::new(LTC_CLAIMS, event_id, ev.encode_to_vec()).for_institution(e.institution)
}
