//! Events waiting to be published (`outbox`), written in the transaction of the records they
//! come from and marked once the relay has published them. Payloads are stored as hex text
//! (portable between PostgreSQL and SQLite).

use super::{Store, StoreError, Txn, get_s, n, now, s};

/// An event to publish, written with the records it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Stable event id (the bus message's event id).
    pub event_id: String,
    /// Stream.
    pub stream: String,
    /// Encoded event.
    pub payload: Vec<u8>,
}

/// Lower-case hex of bytes.
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn from_hex(s: &str) -> Result<Vec<u8>, StoreError> {
    let digit = |c: u8| -> Result<u8, StoreError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(StoreError::Corrupt("outbox payload is not hex".into())),
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Ok((digit(p[0])? << 4) | digit(*p.get(1).unwrap_or(&b'0'))?))
        .collect()
}

impl Store {
    /// Writes an event in the caller's transaction; an event id already written is kept.
    pub async fn enqueue(&self, t: &Txn, e: &OutboxEvent, at: &str) -> Result<(), StoreError> {
        self.exec(
            t.conn(),
            "INSERT INTO outbox (event_id, stream, payload_hex, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
            vec![s(e.event_id.clone()), s(e.stream.clone()), s(to_hex(&e.payload)), s(at)],
        )
        .await?;
        Ok(())
    }

    /// Holds the relay slot for one pass over the outbox.
    pub async fn relay_slot(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.relay_lock.clone().lock_owned().await
    }

    /// Events not yet published, oldest first.
    pub async fn unpublished(&self, limit: u64) -> Result<Vec<OutboxEvent>, StoreError> {
        self.all(&self.db, "SELECT * FROM outbox WHERE published_at IS NULL ORDER BY created_at, event_id LIMIT $1", vec![n(i64::try_from(limit).unwrap_or(100))])
            .await?
            .iter()
            .map(|r| Ok(OutboxEvent { event_id: get_s(r, "event_id")?, stream: get_s(r, "stream")?, payload: from_hex(&get_s(r, "payload_hex")?)? }))
            .collect()
    }

    /// Marks an event published.
    pub async fn mark_published(&self, event_id: &str) -> Result<(), StoreError> {
        let t = self.begin().await?;
        self.exec(
            t.conn(),
            "UPDATE outbox SET published_at = $1 WHERE event_id = $2",
            vec![s(now()), s(event_id)],
        )
        .await?;
        t.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(from_hex(&to_hex(&bytes)).unwrap(), bytes);
        assert!(from_hex("zz").is_err());
    }
}
