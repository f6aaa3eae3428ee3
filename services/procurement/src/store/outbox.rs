//! Events waiting to be published: the runtime's outbox (`event_outbox`), written in the
//! transaction of the records they come from and published by the runtime's relay.

use super::{Store, StoreError, Txn};
use yibao_runtime::outbox::{self, OutboxEvent};

impl Store {
    /// Writes events in the caller's transaction; an event id already written is kept.
    pub async fn enqueue(&self, t: &Txn, events: &[OutboxEvent]) -> Result<(), StoreError> {
        Ok(outbox::enqueue(&**t, events).await?)
    }

    /// Events not yet published, oldest first (events of streams this service does not
    /// produce are left out).
    pub async fn unpublished(&self, limit: u64) -> Result<Vec<OutboxEvent>, StoreError> {
        Ok(outbox::pending(self.db(), limit)
            .await?
            .into_iter()
            .filter_map(|p| {
                let stream = yibao_runtime::streams::ALL
                    .into_iter()
                    .find(|s| *s == p.stream)?;
                Some(OutboxEvent::new(stream, p.event_id, p.payload))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    /// Payloads are stored as hex text by the runtime's outbox.
    #[test]
    fn hex_round_trips_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(
            yibao_runtime::sql::unhex(&yibao_runtime::sql::hex(&bytes)).unwrap(),
            bytes
        );
        assert!(yibao_runtime::sql::unhex("zz").is_none());
    }
}
