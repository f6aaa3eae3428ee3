//! The consumer of supervision's sanctions: each `SanctionEvent` is applied to the registry
//! (`app::sanctions`). It reads through the runtime's inbox ([`yibao_runtime::inbox`]) in
//! group `enrollment-sanctions`, so replicas share the partitions by lease, events the bus lost
//! are fetched again from supervision's outbox, a redelivered event is recognised (the inbox's
//! sequence numbers, and the event id kept in the change's reason), and an event that keeps
//! failing is set aside as a dead letter while the rest go on. An event naming an institution
//! the registry does not hold, or that does not decode, is logged and acknowledged: retrying
//! would never change it.

use super::EventsError;
use crate::app::Enrollment;
use crate::app::sanctions::SanctionApplied;
use crate::domain::registry::sanctions::{Sanction, SanctionAction};
use chrono::NaiveDate;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use yibao_proto::events::v1::{SanctionAction as Action, SanctionEvent};
use yibao_runtime::bus::{Bus, BusMessage};
use yibao_runtime::db::StoreBase;
use yibao_runtime::inbox::{Inbox, InboxConfig};
use yibao_runtime::streams::{ENROLLMENT_SANCTIONS_GROUP as GROUP, SUPERVISION_SANCTIONS};

/// How long one read waits for a sanction (one that arrives meanwhile is read at once).
const BLOCK: Duration = Duration::from_secs(1);

/// Starts the consumer of supervision's sanctions for the life of the process; its inbox
/// state lives in `base` (enrollment's database).
pub fn start_sanction_consumer(app: Enrollment, bus: Arc<dyn Bus>, base: StoreBase) {
    let mut inbox = sanction_inbox(bus, base, InboxConfig::new(GROUP));
    tokio::spawn(async move {
        loop {
            if let Err(e) = consume_sanctions(&app, &mut inbox, BLOCK).await {
                tracing::warn!(error = %e, code = e.code(), "enrollment sanctions consumer");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
}

/// The inbox of the sanctions consumer.
pub fn sanction_inbox(bus: Arc<dyn Bus>, base: StoreBase, cfg: InboxConfig) -> Inbox {
    Inbox::new(bus, base, cfg, &[SUPERVISION_SANCTIONS])
}

/// Reads and applies one delivery of sanctions, waiting up to `block` for one; returns how
/// many messages were handled.
pub async fn consume_sanctions(
    app: &Enrollment,
    inbox: &mut Inbox,
    block: Duration,
) -> Result<usize, EventsError> {
    let Some(delivery) = inbox.read(SUPERVISION_SANCTIONS, 100, block).await? else {
        return Ok(0);
    };
    for m in &delivery.messages {
        // The work (its database statements) below the delivery's consumer span.
        let applied = tracing::Instrument::instrument(apply(app, m), delivery.span().clone());
        if let Err(e) = applied.await {
            // An outage or a concurrent change is tried again as it is; anything else narrows
            // down to the event at fault and, repeated, sets it aside.
            inbox
                .fail(&delivery, !e.is_transient(), &e.to_string())
                .await?;
            return Err(e);
        }
    }
    inbox.ack(&delivery).await?;
    Ok(delivery.messages.len())
}

async fn apply(app: &Enrollment, m: &BusMessage) -> Result<(), EventsError> {
    let ev = match SanctionEvent::decode(m.payload.as_slice()) {
        Ok(ev) => ev,
        Err(e) => {
            tracing::warn!(event = %m.event_id, error = %e, "undecodable sanction skipped");
            return Ok(());
        }
    };
    let action = match Action::try_from(ev.action) {
        Ok(Action::Blacklisted) => SanctionAction::Blacklisted,
        Ok(Action::Lifted) => SanctionAction::Lifted,
        _ => {
            tracing::warn!(event = %ev.event_id, action = ev.action, "sanction of no known action skipped");
            return Ok(());
        }
    };
    let Ok(effective_on) = NaiveDate::parse_from_str(&ev.effective_on, "%Y-%m-%d") else {
        tracing::warn!(event = %ev.event_id, effective_on = %ev.effective_on, "sanction without a valid effective_on skipped");
        return Ok(());
    };
    let sanction = Sanction {
        event_id: &ev.event_id,
        action,
        effective_on,
        credit_score: ev.credit_score,
        reason: &ev.reason,
    };
    match app.apply_sanction(&ev.institution_code, &sanction).await? {
        SanctionApplied::Recorded => tracing::info!(
            event = %ev.event_id, institution = %ev.institution_code, action = ?action,
            effective_on = %effective_on, "registry status changed by supervision's sanction"
        ),
        SanctionApplied::Unchanged(why) => tracing::info!(
            event = %ev.event_id, institution = %ev.institution_code, action = ?action,
            why = %why, "supervision's sanction changes nothing in the registry"
        ),
        SanctionApplied::UnknownInstitution => tracing::warn!(
            event = %ev.event_id, institution = %ev.institution_code, action = ?action,
            "supervision's sanction names an institution the registry does not hold; acknowledged"
        ),
    }
    Ok(())
}
