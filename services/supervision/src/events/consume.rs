//! The streaming consumer: reads the claim, encounter, long-term-care and inventory streams in
//! consumer group `supervision`, converts each message to a domain event (an undecodable or
//! invalid one is recorded as rejected and acknowledged, never retried for ever), runs the
//! detector of the institution's region, writes the batch — event ids, findings with their
//! opened review, verification tasks, spending and budget warnings, the stays and day totals of
//! the in-stay rules — in one transaction, and acknowledges only after the commit.
//!
//! Encounter events (settlement's steps of a stay during care) are judged by the in-stay rules
//! against the stays the store keeps, not against the detector's in-memory windows: a part of
//! them loads the stays of its persons and the day totals of its encounters once the part
//! before it has committed, applies its events in order and writes what changed with them.
//!
//! Delivery is at least once, so the consumer is idempotent by event id against the store: a
//! message redelivered after a crash (processed, not yet acknowledged) is skipped. The
//! detectors' windows live in memory and are rebuilt after a restart by replaying the region's
//! stored events of the retention horizon (in the order they were received) through a fresh
//! detector whose findings are discarded, so a 15-day readmission window spans a restart. A
//! failed commit discards the in-memory detectors too (they had observed the batch) and the
//! batch is read again.
//!
//! Replicas share the work through the runtime's inbox ([`yibao_runtime::inbox`]): events are
//! partitioned by the region of their institution and each replica holds leases on a share of
//! the partitions, so every region's events reach one detector, in the order the producer
//! sequenced them. When the partitions a replica owns change, its detectors are rebuilt from
//! the store, which holds what the previous owner wrote. Events the bus lost are fetched again
//! from the producer's outbox; an event whose batch keeps failing for a reason that is not an
//! outage is set aside as a dead letter (`ListDeadLetters`). Lag (undelivered, unacknowledged
//! and announced-but-missing events of the partitions this replica owns) is kept for
//! `GetFundSummary` and logged.

use super::EventsError as Error;
use super::decode::{self as convert, B64, StreamKind, decode_stored};
use crate::app::{ingest::commit_batch, rules::current_rules};
use crate::domain::{Detector, Review, StayBook, SupervisionEvent, VerificationTask};
use crate::store::{Batch, EventRow, EventStatus, StayWrites, Store};
use base64::Engine as _;
use chrono::{Datelike, Duration as Days, Utc};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use yibao_runtime::bus::{Bus, BusMessage};
use yibao_runtime::inbox::{Delivery, Inbox, InboxConfig};
use yibao_runtime::streams;

/// Event ids a region's detector may remember before it is rebuilt from the store.
const MAX_OBSERVED: usize = 2_000_000;

/// How long a read of one stream waits when other streams are still to be read.
const NO_WAIT: Duration = Duration::from_millis(1);

/// Every stream is read at least this often, whatever its lag says.
pub const FULL_READ_EVERY: Duration = Duration::from_secs(10);

/// Where and how the consumer reads.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Claim stream.
    pub claims_stream: String,
    /// Settlement's stream of encounters during care (admission, fee uploads, discharge).
    pub encounters_stream: String,
    /// Long-term-care stream.
    pub ltc_stream: String,
    /// Inventory stream.
    pub inventory_stream: String,
    /// Consumer group.
    pub group: String,
    /// Consumer name within the group: this replica's stable name, under which it holds its
    /// partition leases ([`yibao_runtime::inbox::instance_name`]).
    pub consumer: String,
    /// Messages per read.
    pub batch: usize,
    /// Events per transaction: a read is written in parts of this size, each committed while
    /// the next is judged.
    pub part: usize,
    /// How long an idle read waits for new messages.
    pub block: Duration,
    /// Days the institution has to answer a finding.
    pub feedback_days: i64,
    /// How long this replica's partition leases last without renewal (a stopped replica's
    /// partitions move to the others after it).
    pub lease_ttl: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            claims_stream: streams::SETTLEMENT_CLAIMS.into(),
            encounters_stream: streams::SETTLEMENT_ENCOUNTERS.into(),
            ltc_stream: streams::LTC_CLAIMS.into(),
            inventory_stream: streams::PROCUREMENT_INVENTORY.into(),
            group: streams::SUPERVISION_GROUP.into(),
            consumer: yibao_runtime::inbox::instance_name(),
            batch: 4_000,
            part: 1_000,
            block: Duration::from_millis(100),
            feedback_days: 15,
            lease_ttl: Duration::from_secs(15),
        }
    }
}

impl ConsumerConfig {
    /// The same streams under a prefix (isolated test or tenant namespaces on a shared Redis).
    pub fn with_prefix(prefix: &str) -> ConsumerConfig {
        let d = ConsumerConfig::default();
        ConsumerConfig {
            claims_stream: format!("{prefix}{}", d.claims_stream),
            encounters_stream: format!("{prefix}{}", d.encounters_stream),
            ltc_stream: format!("{prefix}{}", d.ltc_stream),
            inventory_stream: format!("{prefix}{}", d.inventory_stream),
            ..d
        }
    }

    fn streams(&self) -> [(StreamKind, &str); 4] {
        [
            (StreamKind::Claims, &self.claims_stream),
            (StreamKind::Encounters, &self.encounters_stream),
            (StreamKind::Ltc, &self.ltc_stream),
            (StreamKind::Inventory, &self.inventory_stream),
        ]
    }
}

/// The consumer.
#[derive(Debug)]
pub struct Consumer {
    store: Store,
    inbox: Inbox,
    cfg: ConsumerConfig,
    detectors: HashMap<String, Detector>,
    /// The inbox generation the detectors were built for: when the partitions this replica
    /// owns change, the detectors are rebuilt from the store (which holds what the previous
    /// owner wrote).
    generation: u64,
    lag: Arc<AtomicU64>,
    last_full_read: Option<Instant>,
    in_flight: Option<InFlight>,
}

/// A decoded message: its key, its payload and its event or refusal.
type Decoded<'m> = (String, &'m [u8], Result<SupervisionEvent, convert::Refusal>);

/// A part of a batch being committed.
#[derive(Debug)]
struct InFlight {
    /// Event ids it writes.
    keys: HashSet<String>,
    commit: tokio::task::JoinHandle<Result<(), Error>>,
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Messages read.
    pub messages: usize,
    /// Events newly accepted.
    pub accepted: usize,
    /// Events newly rejected.
    pub rejected: usize,
    /// Messages skipped as already processed.
    pub duplicates: usize,
    /// Findings raised.
    pub findings: usize,
}

impl BatchReport {
    fn add(&mut self, o: BatchReport) {
        self.messages += o.messages;
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        self.duplicates += o.duplicates;
        self.findings += o.findings;
    }
}

impl Consumer {
    /// A consumer over a store and a bus; `lag` receives the lag after each round.
    pub fn new(
        store: Store,
        bus: Arc<dyn Bus>,
        cfg: ConsumerConfig,
        lag: Arc<AtomicU64>,
    ) -> Consumer {
        let inbox_cfg = InboxConfig {
            consumer: cfg.consumer.clone(),
            lease_ttl: cfg.lease_ttl,
            ..InboxConfig::new(cfg.group.clone())
        };
        let names: Vec<&str> = cfg.streams().iter().map(|(_, s)| *s).collect();
        let inbox = Inbox::new(bus, store.base().clone(), inbox_cfg, &names);
        Consumer {
            store,
            inbox,
            cfg,
            detectors: HashMap::new(),
            generation: 0,
            lag,
            last_full_read: None,
            in_flight: None,
        }
    }

    /// Reads each stream that has something, processes what came and acknowledges it once
    /// written. Returns what was done.
    ///
    /// No stream holds up the others. A read of an empty stream is a blocking read, and Redis
    /// ends a short block only at its timer resolution (100 ms at the default `hz` of 10), so a
    /// stream is read only when its lag (undelivered plus unacknowledged) says it has something;
    /// every stream is read regardless at least every [`FULL_READ_EVERY`], in case its lag is
    /// unknown. Only when nothing was read does the consumer wait, up to `block`, on the claim
    /// stream (the busiest); what arrives meanwhile on the others is read at the next round.
    pub async fn poll_once(&mut self, block: Duration) -> Result<BatchReport, Error> {
        let mut total = BatchReport::default();
        let streams: Vec<(StreamKind, String)> = self
            .cfg
            .streams()
            .iter()
            .map(|(k, s)| (*k, s.to_string()))
            .collect();
        self.inbox.maintain_leases().await.map_err(inbox_error)?;
        if self.inbox.generation() != self.generation {
            // A commit still running must land before the detectors are rebuilt.
            self.finish_in_flight().await?;
            self.detectors.clear();
            self.generation = self.inbox.generation();
        }
        let full = self
            .last_full_read
            .is_none_or(|t| t.elapsed() >= FULL_READ_EVERY);
        if full {
            self.last_full_read = Some(Instant::now());
        }
        for (kind, stream) in &streams {
            let due = full || self.inbox.lag(stream).await.map_err(inbox_error)? > 0;
            if due {
                total.add(self.read_and_process(*kind, stream, NO_WAIT).await?);
            }
        }
        if total.messages == 0
            && block > NO_WAIT
            && let Some((kind, stream)) = streams.first()
        {
            total.add(self.read_and_process(*kind, stream, block).await?);
        }
        Ok(total)
    }

    async fn read_and_process(
        &mut self,
        kind: StreamKind,
        stream: &str,
        block: Duration,
    ) -> Result<BatchReport, Error> {
        let Some(delivery) = self
            .inbox
            .read(stream, self.cfg.batch, block)
            .await
            .map_err(inbox_error)?
        else {
            return Ok(BatchReport::default());
        };
        // The work (its database statements) below the delivery's consumer span.
        let span = delivery.span().clone();
        let processed =
            tracing::Instrument::instrument(self.process(kind, stream, &delivery.messages), span);
        match processed.await {
            Ok(report) => {
                self.inbox.ack(&delivery).await.map_err(inbox_error)?;
                Ok(report)
            }
            Err(e) => {
                self.fail(&delivery, &e).await;
                Err(e)
            }
        }
    }

    /// Reports a failed delivery to the inbox: one that is not transient is narrowed down to
    /// the message at fault, which is set aside as a dead letter after repeated failures.
    async fn fail(&mut self, delivery: &Delivery, e: &Error) {
        if let Err(err) = self
            .inbox
            .fail(delivery, !e.is_transient(), &e.to_string())
            .await
        {
            tracing::warn!(error = %err, "supervision consumer: failure not recorded");
        }
    }

    /// Current lag of the four streams over the partitions this replica owns (undelivered,
    /// unacknowledged, and announced by producers' heartbeats but not yet here), also
    /// published.
    pub async fn measure_lag(&self) -> Result<u64, Error> {
        let mut lag = 0;
        for (_, stream) in self.cfg.streams() {
            lag += self.inbox.lag(stream).await.map_err(inbox_error)?;
        }
        self.lag.store(lag, Ordering::Relaxed);
        Ok(lag)
    }

    /// Processes messages of one stream and commits them, without acknowledging (the caller
    /// acknowledges after this returns). On failure the in-memory detectors are discarded, to
    /// be rebuilt from the store, and the caller does not acknowledge: the messages come again
    /// and those already written are recognised by their ids.
    ///
    /// The messages are written in transactions of [`ConsumerConfig::part`] events, each running while the
    /// next part is decoded and judged: part n+1 is written only after part n committed, and this
    /// returns only when every part is committed.
    pub async fn process(
        &mut self,
        kind: StreamKind,
        stream: &str,
        msgs: &[BusMessage],
    ) -> Result<BatchReport, Error> {
        let result = self.process_parts(kind, stream, msgs).await;
        if result.is_err() {
            // A commit still running must land before the detectors are rebuilt from the store.
            let _ = self.finish_in_flight().await;
            self.detectors.clear();
        }
        result
    }

    async fn process_parts(
        &mut self,
        kind: StreamKind,
        stream: &str,
        msgs: &[BusMessage],
    ) -> Result<BatchReport, Error> {
        let mut total = BatchReport::default();
        for part in msgs.chunks(self.cfg.part.max(1)) {
            let (report, batch) = self.prepare(kind, stream, part).await?;
            self.finish_in_flight().await?;
            if !batch.events.is_empty() {
                let keys = batch.events.iter().map(|e| e.event_id.clone()).collect();
                let store = self.store.clone();
                let commit =
                    tokio::spawn(
                        async move { commit_batch(&store, &batch).await.map_err(Error::from) },
                    );
                self.in_flight = Some(InFlight { keys, commit });
            }
            total.add(report);
        }
        self.finish_in_flight().await?;
        Ok(total)
    }

    /// Waits for the part being committed, if any.
    async fn finish_in_flight(&mut self) -> Result<(), Error> {
        let Some(f) = self.in_flight.take() else {
            return Ok(());
        };
        match f.commit.await {
            Ok(r) => r,
            Err(e) => Err(Error::Task("batch commit", e.to_string())),
        }
    }

    /// Decodes messages of one stream while the store is asked which were processed already:
    /// each message's key (the event id, or the stream position of an undecodable message
    /// without one), its payload and its event or refusal, and the keys already known (stored,
    /// or in the part being written).
    async fn decode_and_look_up<'m>(
        &self,
        kind: StreamKind,
        stream: &str,
        msgs: &'m [BusMessage],
    ) -> Result<(Vec<Decoded<'m>>, HashSet<String>), Error> {
        // Which messages were processed already is asked of the store by the bus event ids while
        // the payloads are decoded (a valid event carries the same id as its message).
        let lookup = {
            let store = self.store.clone();
            let ids: Vec<String> = msgs
                .iter()
                .filter(|m| !m.event_id.is_empty())
                .map(|m| m.event_id.clone())
                .collect();
            tokio::spawn(async move { store.known_events(&ids).await })
        };
        let decoded: Vec<Decoded<'m>> = msgs
            .iter()
            .map(|m| {
                let r = convert::decode(kind, &m.event_id, &m.payload);
                let key = match (&r, m.event_id.is_empty()) {
                    (Ok(e), _) => e.event_id().to_string(),
                    (Err(_), false) => m.event_id.clone(),
                    (Err(_), true) => format!("{stream}#{}", m.id),
                };
                (key, m.payload.as_slice(), r)
            })
            .collect();
        let keys: Vec<String> = decoded.iter().map(|(k, _, _)| k.clone()).collect();
        let mut known = lookup
            .await
            .map_err(|e| Error::Task("event lookup", e.to_string()))??;
        // Keys of messages without a bus event id (the payload's id, or the stream position).
        let others: Vec<String> = msgs
            .iter()
            .zip(&keys)
            .filter(|(m, _)| m.event_id.is_empty())
            .map(|(_, k)| k.clone())
            .collect();
        if !others.is_empty() {
            known.extend(self.store.known_events(&others).await?);
        }
        // Events of the part being written are known too (not yet visible in the store).
        if let Some(f) = &self.in_flight {
            known.extend(keys.iter().filter(|k| f.keys.contains(*k)).cloned());
        }
        Ok((decoded, known))
    }

    /// Decodes and judges messages of one stream: what they did and the batch to write.
    /// The detectors observe the events; if the batch is then not written, the caller must
    /// discard them.
    async fn prepare(
        &mut self,
        kind: StreamKind,
        stream: &str,
        msgs: &[BusMessage],
    ) -> Result<(BatchReport, Batch), Error> {
        let mut report = BatchReport {
            messages: msgs.len(),
            ..BatchReport::default()
        };
        let (decoded, mut known) = self.decode_and_look_up(kind, stream, msgs).await?;
        // Rules changed since the detectors were built are switched to before judging.
        let regions: BTreeSet<String> = decoded
            .iter()
            .filter_map(|(_, _, r)| r.as_ref().ok())
            .map(|e| convert::institution_of(e).region().to_string())
            .collect();
        let latest = self.store.latest_rule_versions(&regions).await?;
        for region in &regions {
            self.ensure_detector(region, latest.get(region).copied())
                .await?;
        }
        let mut book = self.stay_book(&decoded).await?;
        // The event that last changed each stay.
        let mut last_step: HashMap<String, String> = HashMap::new();
        let now = Utc::now();
        let mut batch = Batch::default();
        for (key, payload, r) in decoded {
            if !known.insert(key.clone()) {
                report.duplicates += 1;
                continue;
            }
            let event = match r {
                Ok(e) => e,
                Err((field, reason)) => {
                    tracing::warn!(stream, event_id = %key, field = %field, reason = %reason, "event rejected");
                    batch.events.push(rejected(&key, stream, &field, &reason));
                    report.rejected += 1;
                    continue;
                }
            };
            let region = convert::institution_of(&event).region().to_string();
            let Some(detector) = self.detectors.get_mut(&region) else {
                return Err(Error::Corrupt(format!("no detector for region {region}")));
            };
            let judged = match &event {
                SupervisionEvent::Encounter(step) => {
                    let judged = detector.observe_encounter(&mut book, step);
                    if judged.is_ok() {
                        last_step.insert(step.encounter_id.clone(), key.clone());
                    }
                    judged
                }
                _ => detector.observe(&event),
            };
            let findings = match judged {
                Ok(f) => f,
                Err(e) => {
                    let text = e.to_string();
                    let (field, reason) = text.split_once(": ").unwrap_or(("event", text.as_str()));
                    batch.events.push(rejected(&key, stream, field, reason));
                    report.rejected += 1;
                    continue;
                }
            };
            if let SupervisionEvent::Claim(c) = &event {
                let delta = match c.action {
                    crate::domain::ClaimAction::Settled => c.fund_paid.0,
                    crate::domain::ClaimAction::Reversed => {
                        batch.reversed.push((c.claim_id.clone(), key.clone()));
                        -c.fund_paid.0
                    }
                };
                // Booked in the month the claim ends, as settlement posts it in its ledger and
                // statements (a reversal carries the claim's own dates).
                let entry = batch
                    .spending
                    .entry((
                        c.institution.to_string(),
                        c.end_date.year(),
                        c.end_date.month(),
                    ))
                    .or_insert(0);
                *entry = entry.saturating_add(delta);
            }
            for f in findings {
                let review = Review::open(&f, now, now + Days::days(self.cfg.feedback_days));
                let task = VerificationTask::from_finding(&f, now);
                batch.findings.push((f, review, task));
            }
            batch.events.push(EventRow {
                event_id: key,
                stream: stream.to_string(),
                kind: convert::kind_name(&event).to_string(),
                region,
                at: event.at().format("%Y-%m-%dT%H:%M:%S").to_string(),
                status: EventStatus::Accepted,
                reason: String::new(),
                payload: B64.encode(payload),
            });
            report.accepted += 1;
        }
        report.findings = batch.findings.len();
        batch.stays = StayWrites {
            stays: book
                .changed_stays
                .iter()
                .filter_map(|enc| {
                    let stay = book.stays.get(enc)?.clone();
                    Some((stay, last_step.get(enc).cloned().unwrap_or_default()))
                })
                .collect(),
            fee_days: book
                .changed_days
                .iter()
                .map(|(enc, day)| (enc.clone(), *day, book.day_total(enc, *day)))
                .collect(),
        };
        Ok((report, batch))
    }

    /// The in-stay rules' book for the encounter events of a part: the stays of their persons
    /// and the day totals of their encounters as stored once the part being written has
    /// committed (it may have changed them). Empty for a part without encounter events.
    async fn stay_book(&mut self, decoded: &[Decoded<'_>]) -> Result<StayBook, Error> {
        let mut persons = BTreeSet::new();
        let mut encounters = BTreeSet::new();
        for (_, _, r) in decoded {
            if let Ok(SupervisionEvent::Encounter(e)) = r {
                persons.insert(e.person.as_str().to_string());
                encounters.insert(e.encounter_id.clone());
            }
        }
        if encounters.is_empty() {
            return Ok(StayBook::default());
        }
        self.finish_in_flight().await?;
        let persons: Vec<String> = persons.into_iter().collect();
        let encounters: Vec<String> = encounters.into_iter().collect();
        Ok(self.store.stay_book(&persons, &encounters).await?)
    }

    /// Makes sure the region's detector exists (rebuilt from the store) and runs the latest
    /// rule version.
    async fn ensure_detector(&mut self, region: &str, latest: Option<u32>) -> Result<(), Error> {
        // The detector remembers every event id it observed; past a bound it is rebuilt from the
        // retention horizon (durable idempotency is the store's), keeping memory bounded.
        if self
            .detectors
            .get(region)
            .is_some_and(|d| d.events_observed() > MAX_OBSERVED)
        {
            self.detectors.remove(region);
        }
        if let Some(d) = self.detectors.get_mut(region) {
            if latest.is_some_and(|v| v != d.rules().version) {
                let code = yibao_core::RegionCode::parse(region).map_err(Error::corrupt)?;
                let rules = current_rules(&self.store, &code).await?;
                d.replace_rules(rules).map_err(Error::corrupt)?;
            }
            return Ok(());
        }
        // A rebuild reads the stored events: the part in flight must be in the store first.
        self.finish_in_flight().await?;
        let detector = rebuild(&self.store, region).await?;
        self.detectors.insert(region.to_string(), detector);
        Ok(())
    }

    /// Runs until `stop` fires or its sender is dropped: polls, acknowledges, measures lag.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut last_lag = Instant::now() - Duration::from_secs(60);
        let mut last_log = Instant::now();
        let mut processed: u64 = 0;
        loop {
            if *stop.borrow() {
                break;
            }
            let block = self.cfg.block;
            let round = tokio::select! {
                r = self.poll_once(block) => r,
                _ = stop.changed() => break,
            };
            match round {
                Ok(report) => processed += report.accepted as u64 + report.rejected as u64,
                Err(e) => {
                    tracing::error!(error = %e, "supervision consumer: batch failed; detectors will be rebuilt and the batch read again");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {},
                        _ = stop.changed() => break,
                    }
                }
            }
            if last_lag.elapsed() >= Duration::from_millis(500) {
                last_lag = Instant::now();
                match self.measure_lag().await {
                    Ok(lag)
                        if last_log.elapsed() >= Duration::from_secs(10)
                            && (lag > 0 || processed > 0) =>
                    {
                        tracing::info!(lag, processed, group = %self.cfg.group, "supervision consumer lag");
                        last_log = Instant::now();
                        processed = 0;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "supervision consumer: lag unavailable"),
                }
            }
        }
        tracing::info!("supervision consumer stopped");
    }
}

fn inbox_error(e: yibao_runtime::inbox::InboxError) -> Error {
    Error::Bus(e.to_string())
}

fn rejected(key: &str, stream: &str, field: &str, reason: &str) -> EventRow {
    EventRow {
        event_id: key.to_string(),
        stream: stream.to_string(),
        kind: "unknown".into(),
        region: String::new(),
        at: String::new(),
        status: EventStatus::Rejected,
        reason: format!("{field}: {reason}"),
        payload: String::new(),
    }
}

/// A detector for a region running its current rules, its windows rebuilt by replaying the
/// region's stored events of the retention horizon (plus a month of settlement delay).
pub async fn rebuild(store: &Store, region: &str) -> Result<Detector, Error> {
    let code = yibao_core::RegionCode::parse(region).map_err(Error::corrupt)?;
    let rules = current_rules(store, &code).await?;
    let horizon = i64::from(rules.retention_days) + 31;
    let mut detector = Detector::new(rules).map_err(Error::corrupt)?;
    let Some(latest) = store.latest_event_at(region).await? else {
        return Ok(detector);
    };
    let latest = chrono::NaiveDateTime::parse_from_str(&latest, "%Y-%m-%dT%H:%M:%S")
        .map_err(Error::corrupt)?;
    let from = (latest - Days::days(horizon))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let mut after = i64::MIN;
    let mut replayed = 0u64;
    loop {
        let page = store.replay_rows(region, &from, after, 5_000).await?;
        let Some((last, _, _)) = page.last() else {
            break;
        };
        after = *last;
        for (_, kind, payload) in &page {
            // Findings were stored when the event was first observed.
            let _ = detector.observe(&decode_stored(kind, payload)?);
            replayed += 1;
        }
    }
    tracing::info!(region, replayed, since = %from, "supervision detector rebuilt from stored events");
    Ok(detector)
}
