//! Event rows: every message the consumer read, accepted or rejected. They are the idempotency
//! keys of the consumer and, for accepted events, the stored bus payloads the detector's windows
//! and the backfills are replayed from.

use super::{BIGINT, Col, Store, StoreError, TEXT, i, rfc3339, s};
use crate::domain::{Finding, Review, VerificationTask};
use chrono::Utc;
use sea_orm::{DatabaseTransaction, Value};
use std::collections::{BTreeMap, HashSet};
use yibao_runtime::sql::pg_array;

/// Outcome of an event at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Valid; observed by the detector.
    Accepted,
    /// Refused (undecodable or invalid); recorded so that it is not retried for ever.
    Rejected,
}

/// One event row of a batch.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Event id.
    pub event_id: String,
    /// Stream it came from.
    pub stream: String,
    /// `claim`, `ltc`, `inventory`, `encounter` or `unknown`.
    pub kind: String,
    /// Region whose rules judged it (the institution's region), empty when unknown.
    pub region: String,
    /// Event time, `YYYY-MM-DDTHH:MM:SS`.
    pub at: String,
    /// Accepted or rejected.
    pub status: EventStatus,
    /// Why it was rejected.
    pub reason: String,
    /// The bus payload (protobuf), base64; empty when rejected.
    pub payload: String,
}

/// What one batch of the consumer writes.
#[derive(Debug, Default)]
pub struct Batch {
    /// The events, in stream order.
    pub events: Vec<EventRow>,
    /// Findings raised, each with its opened review and, for large receipts, its task.
    pub findings: Vec<(Finding, Review, Option<VerificationTask>)>,
    /// Spending deltas per (institution, year, month).
    pub spending: BTreeMap<(String, i32, u32), i64>,
    /// Claims reversed (claim id, event id): their open verification tasks are withdrawn.
    pub reversed: Vec<(String, String)>,
    /// Stays and day totals the in-stay rules changed.
    pub stays: super::stays::StayWrites,
}

/// A stored event row as read back for a replay: (at, seq, kind, payload).
pub type StoredRow = (String, i64, String, String);

const EVENT_COLS: &[Col] = &[
    ("event_id", TEXT),
    ("seq", BIGINT),
    ("stream", TEXT),
    ("kind", TEXT),
    ("region_code", TEXT),
    ("at", TEXT),
    ("status", TEXT),
    ("reason", TEXT),
    ("payload", TEXT),
    ("received_at", TEXT),
];

impl Store {
    /// Which of these event ids were already processed.
    pub async fn known_events(&self, ids: &[String]) -> Result<HashSet<String>, StoreError> {
        let mut out = HashSet::new();
        if self.is_postgres() {
            for chunk in ids.chunks(10_000) {
                let list = pg_array(chunk.iter().map(|id| Value::from(id.as_str())))?;
                // A join, not `= ANY(…)`: whatever plan is chosen (index probes, or a hash join on
                // a table without statistics yet) it is linear, never rows × ids.
                for r in self.all(self.db(), "SELECT events.event_id FROM UNNEST(?::text[]) AS ids(event_id) JOIN events ON events.event_id = ids.event_id", vec![list.into()]).await? {
                    out.insert(s(&r, "event_id")?);
                }
            }
            return Ok(out);
        }
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let rows = self
                .all(
                    self.db(),
                    &format!("SELECT event_id FROM events WHERE event_id IN ({marks})"),
                    chunk.iter().map(|id| Value::from(id.clone())).collect(),
                )
                .await?;
            for r in rows {
                out.insert(s(&r, "event_id")?);
            }
        }
        Ok(out)
    }

    /// Takes `n` event sequence numbers in the transaction; returns the first. The counter row
    /// is locked until the transaction ends, so replicas never number two events alike and a
    /// region's events keep the order they were written in.
    pub async fn take_seqs(&self, txn: &DatabaseTransaction, n: usize) -> Result<i64, StoreError> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let row = self
            .one(
                txn,
                "UPDATE event_sequence SET last_seq = last_seq + ? WHERE name = 'events' RETURNING last_seq",
                vec![n.into()],
            )
            .await?
            .ok_or_else(|| StoreError::corrupt("event_sequence: the counter row is missing"))?;
        Ok(i(&row, "last_seq")? - n + 1)
    }

    /// The latest accepted event time of a region.
    pub async fn latest_event_at(&self, region: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .one(
                self.db(),
                "SELECT MAX(at) AS m FROM events WHERE region_code = ? AND status = 'accepted'",
                vec![region.to_string().into()],
            )
            .await?
            .and_then(|r| r.try_get::<Option<String>>("", "m").ok().flatten()))
    }

    /// Accepted events of a region with `from ≤ at ≤ to` (text times), after (at, seq) `after`,
    /// in event order, at most `limit`, not decoded: (at, seq, kind, payload). The page starts
    /// right after `after` in the index on (region, status, at, seq), so a replay in pages reads
    /// each row once.
    pub async fn history_rows(
        &self,
        region: &str,
        from: &str,
        to: &str,
        after: Option<(String, i64)>,
        limit: u64,
    ) -> Result<Vec<StoredRow>, StoreError> {
        let (after_at, after_seq) = after.unwrap_or_else(|| (String::new(), i64::MIN));
        let low = if after_at.as_str() > from {
            after_at.clone()
        } else {
            from.to_string()
        };
        let rows = self
            .all(
                self.db(),
                "SELECT at, seq, kind, payload FROM events WHERE region_code = ? AND status = 'accepted' AND at >= ? AND at <= ? AND (at, seq) > (?, ?) ORDER BY at, seq LIMIT ?",
                vec![
                    region.to_string().into(),
                    low.into(),
                    to.to_string().into(),
                    after_at.into(),
                    after_seq.into(),
                    i64::try_from(limit).unwrap_or(i64::MAX).into(),
                ],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((s(r, "at")?, i(r, "seq")?, s(r, "kind")?, s(r, "payload")?)))
            .collect()
    }

    /// Accepted events of a region with `at ≥ from`, after sequence `after_seq`, in the order
    /// they were received, at most `limit`, not decoded: (seq, kind, payload). Rebuilds the
    /// detector's windows.
    pub async fn replay_rows(
        &self,
        region: &str,
        from: &str,
        after_seq: i64,
        limit: u64,
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows = self
            .all(
                self.db(),
                "SELECT seq, kind, payload FROM events WHERE region_code = ? AND status = 'accepted' AND at >= ? AND seq > ? ORDER BY seq LIMIT ?",
                vec![region.to_string().into(), from.to_string().into(), after_seq.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((i(r, "seq")?, s(r, "kind")?, s(r, "payload")?)))
            .collect()
    }

    /// Events stored by status: (accepted, rejected).
    pub async fn event_counts(&self) -> Result<(u64, u64), StoreError> {
        let rows = self
            .all(
                self.db(),
                "SELECT status, COUNT(*) AS n FROM events GROUP BY status",
                vec![],
            )
            .await?;
        let mut out = (0, 0);
        for r in rows {
            let n = u64::try_from(i(&r, "n")?).unwrap_or(0);
            if s(&r, "status")? == "accepted" {
                out.0 = n;
            } else {
                out.1 = n;
            }
        }
        Ok(out)
    }

    /// Inserts the event rows of a batch, numbered from `first_seq` ([`Store::take_seqs`]), in
    /// one multi-row statement (PostgreSQL: up to 5,000 rows of array parameters). Fails with a
    /// conflict when one of them was stored meanwhile.
    pub async fn insert_events(
        &self,
        txn: &DatabaseTransaction,
        events: &[EventRow],
        first_seq: i64,
    ) -> Result<(), StoreError> {
        let received_at = rfc3339(Utc::now());
        let rows: Vec<Vec<Value>> = events
            .iter()
            .zip(first_seq..)
            .map(|(e, seq)| {
                vec![
                    Value::from(e.event_id.as_str()),
                    seq.into(),
                    e.stream.as_str().into(),
                    e.kind.as_str().into(),
                    e.region.as_str().into(),
                    e.at.as_str().into(),
                    (if e.status == EventStatus::Accepted {
                        "accepted"
                    } else {
                        "rejected"
                    })
                    .into(),
                    e.reason.as_str().into(),
                    e.payload.as_str().into(),
                    received_at.as_str().into(),
                ]
            })
            .collect();
        let (n, _) = self
            .insert_many(
                txn,
                "events",
                EVENT_COLS,
                rows,
                "ON CONFLICT DO NOTHING",
                None,
            )
            .await?;
        if n != events.len() as u64 {
            return Err(StoreError::Conflict(
                "an event of the batch was processed concurrently".into(),
            ));
        }
        Ok(())
    }
}
