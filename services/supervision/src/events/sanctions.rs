//! Bus output of the supervision service: the sanctions it publishes on
//! `yibao.supervision.sanctions` ([`SUPERVISION_SANCTIONS`]) when a confirmed violation puts an
//! institution on the blacklist or a restoration takes it off. `app/` writes them to the
//! runtime's outbox in the transaction of the credit record; the runtime's relay publishes
//! them, and enrollment's registry suspends or reinstates the institution (decision 0014).

use crate::domain::Sanction;
use chrono::{DateTime, Utc};
use prost::Message;
use yibao_core::InstitutionCode;
use yibao_proto::events::v1::{SanctionAction, SanctionEvent};
use yibao_runtime::outbox::OutboxEvent;
use yibao_runtime::streams::SUPERVISION_SANCTIONS;

/// A sanction ready for the outbox, partitioned by the institution's region: `at` is the
/// deduction's or restoration's time, whose (UTC) date is the first day of the new status.
pub fn sanction_event(
    institution: &InstitutionCode,
    sanction: Sanction,
    at: DateTime<Utc>,
    credit_score: u32,
    reason: &str,
) -> OutboxEvent {
    let event_id = uuid::Uuid::now_v7().to_string();
    let action = match sanction {
        Sanction::Blacklisted => SanctionAction::Blacklisted,
        Sanction::Lifted => SanctionAction::Lifted,
    };
    let ev = SanctionEvent {
        event_id: event_id.clone(),
        institution_code: institution.to_string(),
        region_code: institution.region().to_string(),
        action: action as i32,
        effective_on: at.date_naive().to_string(),
        credit_score,
        reason: reason.to_string(),
    };
    OutboxEvent::new(SUPERVISION_SANCTIONS, event_id, ev.encode_to_vec())
        .for_institution(institution.as_str())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_blacklisting_carries_the_institution_its_region_and_the_day_of_the_deduction() {
        let code = InstitutionCode::parse("H34152200001").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 6, 3, 23, 30, 0).unwrap();
        let e = sanction_event(
            &code,
            Sanction::Blacklisted,
            at,
            58,
            "overlapping_stay confirmed: F-1",
        );
        assert_eq!(e.stream, SUPERVISION_SANCTIONS);
        assert_eq!(e.partition_key, "341522");
        let ev = SanctionEvent::decode(e.payload.as_slice()).unwrap();
        assert_eq!(ev.event_id, e.event_id);
        assert_eq!(ev.institution_code, "H34152200001");
        assert_eq!(ev.region_code, "341522");
        assert_eq!(ev.action, SanctionAction::Blacklisted as i32);
        assert_eq!(ev.effective_on, "2026-06-03");
        assert_eq!(ev.credit_score, 58);
        assert_eq!(ev.reason, "overlapping_stay confirmed: F-1");
    }
}
