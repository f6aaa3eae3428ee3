//! Tables and transactions of the supervision service. Raw, portable SQL (PostgreSQL and
//! SQLite; `?` placeholders are numbered for PostgreSQL here). Every write is one transaction;
//! on SQLite writers queue on an in-process lock instead of failing as "locked".
//!
//! The consumer writes a whole batch of events — the event rows (idempotency keys and the
//! history the detector is rebuilt from), their findings with the opening review step, the
//! verification tasks of large receipts, the institutions' spending and the re-evaluated budget
//! warnings — in one transaction, and acknowledges the bus only after it committed.

pub mod migration;

use crate::domain::{
    BudgetLedger, BudgetPolicy, BudgetWarning, Case, CreditPolicy, CreditRecord, CreditRegistry,
    Finding, InspectionDraw, Review, RuleCode, RuleSet, Severity, Step, Subject, SupervisionEvent,
    VerificationTask, WarningLevel,
};
use crate::error::Error;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult, Statement,
    TransactionTrait, Value,
};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use yibao_core::{Fen, InstitutionCode, RegionCode};
use yibao_runtime::sql::{bulk_insert_statements, pg_array};

/// Who did something, in which caller role, when.
#[derive(Debug, Clone)]
pub struct Audit {
    /// Token subject.
    pub actor: String,
    /// Caller role, e.g. `operator`.
    pub role: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// RFC 3339 text of an instant, to the millisecond.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The first day of the default rule set (version 1) of a region that never changed its rules.
pub fn default_effective_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

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
    /// `claim`, `ltc`, `inventory` or `unknown`.
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
}

/// A page of a list.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
}

/// Filters of the findings list.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    /// Region prefix the finding's region must start with (empty: all).
    pub region_prefix: String,
    /// Institution, if filtered.
    pub institution: Option<String>,
    /// Rule, if filtered.
    pub rule: Option<RuleCode>,
    /// Review state name, if filtered.
    pub state: Option<&'static str>,
    /// Observed on or after (`YYYY-MM-DD`).
    pub from: Option<NaiveDate>,
    /// Observed on or before.
    pub to: Option<NaiveDate>,
}

/// A stored finding with its review.
#[derive(Debug, Clone)]
pub struct StoredFinding {
    /// The finding.
    pub finding: Finding,
    /// Its review.
    pub review: Review,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Caller role of each step (`system` for the automatic review).
    pub step_roles: Vec<String>,
}

/// A stored case.
#[derive(Debug, Clone)]
pub struct StoredCase {
    /// The case.
    pub case: Case,
    /// The tip id, when opened from a tip.
    pub tip_id: String,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// A request key to remember with a write.
#[derive(Debug, Clone)]
pub struct RequestKey {
    /// The caller's key.
    pub request_id: String,
    /// RPC name.
    pub rpc: &'static str,
    /// Fingerprint of the request content.
    pub fingerprint: String,
    /// The response to return on a retry (encoded by the API).
    pub response: String,
}

/// A stored warning.
#[derive(Debug, Clone)]
pub struct StoredWarning {
    /// The warning.
    pub warning: BudgetWarning,
}

/// The supervision store.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    write_lock: yibao_runtime::db::WriteGate,
}

type Guard = Option<tokio::sync::OwnedMutexGuard<()>>;

fn s(row: &QueryResult, col: &str) -> Result<String, Error> {
    row.try_get::<String>("", col)
        .map_err(|e| Error::corrupt(format!("{col}: {e}")))
}

fn i(row: &QueryResult, col: &str) -> Result<i64, Error> {
    row.try_get::<i64>("", col)
        .map_err(|e| Error::corrupt(format!("{col}: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(row: &QueryResult, col: &str) -> Result<T, Error> {
    let text = s(row, col)?;
    serde_json::from_str(&text).map_err(|e| Error::corrupt(format!("{col}: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|e| Error::corrupt(format!("encode: {e}")))
}

/// Text of a warning level in the database.
pub fn level_str(l: WarningLevel) -> &'static str {
    match l {
        WarningLevel::Yellow => "yellow",
        WarningLevel::Orange => "orange",
        WarningLevel::Red => "red",
    }
}

fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
    }
}

/// Text of a credit subject's kind and code.
pub fn subject_key(subject: &Subject) -> (&'static str, String) {
    match subject {
        Subject::Institution(c) => ("institution", c.as_str().to_string()),
        Subject::Physician(c) => ("physician", c.as_str().to_string()),
    }
}

fn subject_region(subject: &Subject) -> String {
    match subject {
        Subject::Institution(c) => c.region().to_string(),
        Subject::Physician(c) => c.as_str().get(1..7).unwrap_or_default().to_string(),
    }
}

/// `institution_code` without its letter starts with the region digits.
const INSTITUTION_REGION: &str = "SUBSTR(institution_code, 2, 6)";

/// A column of a batched insert: name and PostgreSQL array type.
type Col = (&'static str, &'static str);
const TEXT: &str = "text[]";
const BIGINT: &str = "bigint[]";

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

const FINDING_COLS: &[Col] = &[
    ("finding_id", TEXT),
    ("region_code", TEXT),
    ("institution_code", TEXT),
    ("rule_code", TEXT),
    ("rule_version", BIGINT),
    ("severity", TEXT),
    ("event_id", TEXT),
    ("observed_at", TEXT),
    ("amount_at_risk_fen", BIGINT),
    ("state", TEXT),
    ("amount_to_recover_fen", BIGINT),
    ("feedback_due_at", TEXT),
    ("backfill_run_id", TEXT),
    ("doc", TEXT),
    ("review", TEXT),
    ("version", BIGINT),
    ("created_at", TEXT),
];

const STEP_COLS: &[Col] = &[
    ("finding_id", TEXT),
    ("seq", BIGINT),
    ("action", TEXT),
    ("actor", TEXT),
    ("role", TEXT),
    ("caller_role", TEXT),
    ("at", TEXT),
    ("note", TEXT),
    ("state_after", TEXT),
];

const TASK_COLS: &[Col] = &[
    ("task_id", TEXT),
    ("region_code", TEXT),
    ("institution_code", TEXT),
    ("kind", TEXT),
    ("claim_id", TEXT),
    ("amount_fen", BIGINT),
    ("opened_at", TEXT),
    ("completed", BIGINT),
    ("doc", TEXT),
];

const SPENDING_COLS: &[Col] = &[
    ("institution_code", TEXT),
    ("year", BIGINT),
    ("month", BIGINT),
    ("amount_fen", BIGINT),
];

/// A stored event row as read back for a replay: (at, seq, kind, payload).
pub type StoredRow = (String, i64, String, String);

impl Store {
    /// Wraps a migrated connection.
    pub fn new(db: DatabaseConnection) -> Store {
        let write_lock = yibao_runtime::db::WriteGate::for_connection(&db);
        Store { db, write_lock }
    }

    /// The connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// A statement with `?` placeholders numbered for PostgreSQL.
    fn st(&self, sql: &str, values: Vec<Value>) -> Statement {
        yibao_runtime::sql::stmt(self.db.get_database_backend(), sql, values)
    }

    async fn begin(&self) -> Result<(Guard, DatabaseTransaction), Error> {
        let guard = self.write_lock.enter().await;
        Ok((guard, self.db.begin().await?))
    }

    async fn all<C: ConnectionTrait>(
        &self,
        c: &C,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<QueryResult>, Error> {
        Ok(c.query_all_raw(self.st(sql, values)).await?)
    }

    async fn one<C: ConnectionTrait>(
        &self,
        c: &C,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Option<QueryResult>, Error> {
        Ok(c.query_one_raw(self.st(sql, values)).await?)
    }

    async fn exec<C: ConnectionTrait>(
        &self,
        c: &C,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<u64, Error> {
        Ok(c.execute_raw(self.st(sql, values)).await?.rows_affected())
    }

    fn for_update(&self) -> &'static str {
        if self.is_postgres() {
            " FOR UPDATE"
        } else {
            ""
        }
    }

    // ---------------------------------------------------------------- rules

    /// The rule set in force in a region: the latest version, or the default bundle (stored as
    /// version 1 the first time it is needed, so findings can point at it).
    pub async fn current_rules(&self, region: &RegionCode) -> Result<RuleSet, Error> {
        if let Some(set) = self.rules_version(region, None).await? {
            return Ok(set);
        }
        let set = RuleSet::default_for(region.clone(), default_effective_from());
        let (_g, txn) = self.begin().await?;
        self.exec(
            &txn,
            "INSERT INTO rule_sets (region_code, version, effective_from, doc, reason, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            vec![
                region.to_string().into(),
                i64::from(set.version).into(),
                set.effective_from.to_string().into(),
                to_json(&set)?.into(),
                "default policy bundle".into(),
                "system".into(),
                "system".into(),
                rfc3339(Utc::now()).into(),
            ],
        )
        .await?;
        txn.commit().await?;
        Ok(self.rules_version(region, None).await?.unwrap_or(set))
    }

    /// A version of a region's rule set (`None`: the latest), with who made it.
    pub async fn rules_version(
        &self,
        region: &RegionCode,
        version: Option<u32>,
    ) -> Result<Option<RuleSet>, Error> {
        Ok(self
            .rules_version_audited(region, version)
            .await?
            .map(|(set, _)| set))
    }

    /// A version of a region's rule set with who made it and why.
    pub async fn rules_version_audited(
        &self,
        region: &RegionCode,
        version: Option<u32>,
    ) -> Result<Option<(RuleSet, (Audit, String))>, Error> {
        let row = match version {
            Some(v) => {
                self.one(&self.db, "SELECT doc, actor, role, at, reason FROM rule_sets WHERE region_code = ? AND version = ?", vec![region.to_string().into(), i64::from(v).into()])
                    .await?
            }
            None => {
                self.one(&self.db, "SELECT doc, actor, role, at, reason FROM rule_sets WHERE region_code = ? ORDER BY version DESC LIMIT 1", vec![region.to_string().into()])
                    .await?
            }
        };
        let Some(row) = row else { return Ok(None) };
        let set: RuleSet = json(&row, "doc")?;
        let at = DateTime::parse_from_rfc3339(&s(&row, "at")?)
            .map_err(Error::corrupt)?
            .with_timezone(&Utc);
        Ok(Some((
            set,
            (
                Audit {
                    actor: s(&row, "actor")?,
                    role: s(&row, "role")?,
                    at,
                },
                s(&row, "reason")?,
            ),
        )))
    }

    /// Stores the next version of a region's rule set. Refused when another version was stored
    /// since `next.version - 1` was read.
    pub async fn save_rules(
        &self,
        next: &RuleSet,
        reason: &str,
        audit: &Audit,
    ) -> Result<(), Error> {
        let (_g, txn) = self.begin().await?;
        let latest = self
            .one(
                &txn,
                "SELECT MAX(version) AS v FROM rule_sets WHERE region_code = ?",
                vec![next.region.to_string().into()],
            )
            .await?
            .and_then(|r| r.try_get::<Option<i64>>("", "v").ok().flatten())
            .unwrap_or(0);
        if latest + 1 != i64::from(next.version) {
            return Err(Error::Conflict(format!(
                "rule set of {} is at version {latest}; re-read and retry",
                next.region
            )));
        }
        let n = self
            .exec(
                &txn,
                "INSERT INTO rule_sets (region_code, version, effective_from, doc, reason, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                vec![
                    next.region.to_string().into(),
                    i64::from(next.version).into(),
                    next.effective_from.to_string().into(),
                    to_json(next)?.into(),
                    reason.to_string().into(),
                    audit.actor.clone().into(),
                    audit.role.clone().into(),
                    rfc3339(audit.at).into(),
                ],
            )
            .await?;
        if n != 1 {
            return Err(Error::Conflict(format!(
                "version {} of {} was stored concurrently",
                next.version, next.region
            )));
        }
        txn.commit().await?;
        Ok(())
    }

    /// The latest version number of each region's rules among `regions`.
    pub async fn latest_rule_versions(
        &self,
        regions: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, u32>, Error> {
        let mut out = BTreeMap::new();
        for r in regions {
            let v = self
                .one(
                    &self.db,
                    "SELECT MAX(version) AS v FROM rule_sets WHERE region_code = ?",
                    vec![r.clone().into()],
                )
                .await?
                .and_then(|row| row.try_get::<Option<i64>>("", "v").ok().flatten());
            if let Some(v) = v {
                out.insert(r.clone(), u32::try_from(v).unwrap_or(0));
            }
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- events

    /// Which of these event ids were already processed.
    pub async fn known_events(&self, ids: &[String]) -> Result<HashSet<String>, Error> {
        let mut out = HashSet::new();
        if self.is_postgres() {
            for chunk in ids.chunks(10_000) {
                let list = pg_array(chunk.iter().map(|id| Value::from(id.as_str())))?;
                // A join, not `= ANY(…)`: whatever plan is chosen (index probes, or a hash join on
                // a table without statistics yet) it is linear, never rows × ids.
                for r in self.all(&self.db, "SELECT events.event_id FROM UNNEST(?::text[]) AS ids(event_id) JOIN events ON events.event_id = ids.event_id", vec![list.into()]).await? {
                    out.insert(s(&r, "event_id")?);
                }
            }
            return Ok(out);
        }
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let rows = self
                .all(
                    &self.db,
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

    /// Inserts rows into `table` with the runtime's bulk statements; `tail` follows each
    /// (an `ON CONFLICT` clause, a `RETURNING` clause). Returns the rows affected and, with
    /// `returning`, the values of that text column.
    async fn insert_many(
        &self,
        txn: &DatabaseTransaction,
        table: &str,
        cols: &[Col],
        rows: Vec<Vec<Value>>,
        tail: &str,
        returning: Option<&str>,
    ) -> Result<(u64, Vec<String>), Error> {
        let mut affected = 0u64;
        let mut returned = Vec::new();
        for (sql, values) in
            bulk_insert_statements(self.db.get_database_backend(), table, cols, rows, tail)?
        {
            match returning {
                Some(col) => {
                    let rows = self.all(txn, &sql, values).await?;
                    affected += rows.len() as u64;
                    for r in &rows {
                        returned.push(s(r, col)?);
                    }
                }
                None => affected += self.exec(txn, &sql, values).await?,
            }
        }
        Ok((affected, returned))
    }

    /// The highest event sequence number stored (0 when none).
    pub async fn max_seq(&self) -> Result<i64, Error> {
        Ok(self
            .one(&self.db, "SELECT MAX(seq) AS m FROM events", vec![])
            .await?
            .and_then(|r| r.try_get::<Option<i64>>("", "m").ok().flatten())
            .unwrap_or(0))
    }

    /// The latest accepted event time of a region.
    pub async fn latest_event_at(&self, region: &str) -> Result<Option<String>, Error> {
        Ok(self
            .one(
                &self.db,
                "SELECT MAX(at) AS m FROM events WHERE region_code = ? AND status = 'accepted'",
                vec![region.to_string().into()],
            )
            .await?
            .and_then(|r| r.try_get::<Option<String>>("", "m").ok().flatten()))
    }

    /// Accepted events of a region with `from ≤ at ≤ to` (text times), after (at, seq) `after`,
    /// in event order, at most `limit`: (at, seq, event).
    pub async fn history(
        &self,
        region: &str,
        from: &str,
        to: &str,
        after: Option<(String, i64)>,
        limit: u64,
    ) -> Result<Vec<(String, i64, SupervisionEvent)>, Error> {
        self.history_rows(region, from, to, after, limit)
            .await?
            .into_iter()
            .map(|(at, seq, kind, payload)| Ok((at, seq, decode_stored(&kind, &payload)?)))
            .collect()
    }

    /// [`Store::history`] without decoding: (at, seq, kind, payload). The page starts right after
    /// `after` in the index on (region, status, at, seq), so a replay in pages reads each row
    /// once.
    pub async fn history_rows(
        &self,
        region: &str,
        from: &str,
        to: &str,
        after: Option<(String, i64)>,
        limit: u64,
    ) -> Result<Vec<StoredRow>, Error> {
        let (after_at, after_seq) = after.unwrap_or_else(|| (String::new(), i64::MIN));
        let low = if after_at.as_str() > from {
            after_at.clone()
        } else {
            from.to_string()
        };
        let rows = self
            .all(
                &self.db,
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
    /// they were received, at most `limit`: (seq, event). Rebuilds the detector's windows.
    pub async fn replay(
        &self,
        region: &str,
        from: &str,
        after_seq: i64,
        limit: u64,
    ) -> Result<Vec<(i64, SupervisionEvent)>, Error> {
        let rows = self
            .all(
                &self.db,
                "SELECT seq, kind, payload FROM events WHERE region_code = ? AND status = 'accepted' AND at >= ? AND seq > ? ORDER BY seq LIMIT ?",
                vec![region.to_string().into(), from.to_string().into(), after_seq.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((i(r, "seq")?, stored_event(r)?)))
            .collect()
    }

    /// Events stored by status: (accepted, rejected).
    pub async fn event_counts(&self) -> Result<(u64, u64), Error> {
        let rows = self
            .all(
                &self.db,
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

    /// Writes a batch of the consumer in one transaction. `first_seq` numbers its events.
    /// Fails with a conflict, writing nothing, when one of its events was stored meanwhile.
    /// Each table gets one multi-row statement (PostgreSQL: up to 5,000 rows of array
    /// parameters), not one per row.
    pub async fn commit_batch(&self, batch: &Batch, first_seq: i64) -> Result<(), Error> {
        let (_g, txn) = self.begin().await?;
        let received_at = rfc3339(Utc::now());
        let rows: Vec<Vec<Value>> = batch
            .events
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
                &txn,
                "events",
                EVENT_COLS,
                rows,
                "ON CONFLICT DO NOTHING",
                None,
            )
            .await?;
        if n != batch.events.len() as u64 {
            return Err(Error::Conflict(
                "an event of the batch was processed concurrently".into(),
            ));
        }
        let pairs: Vec<(&Finding, &Review)> =
            batch.findings.iter().map(|(f, r, _)| (f, r)).collect();
        self.insert_findings(&txn, &pairs, None).await?;
        let mut tasks = Vec::new();
        for (finding, _, task) in &batch.findings {
            let Some(task) = task else { continue };
            tasks.push(vec![
                Value::from(task.task_id.as_str()),
                finding.region.to_string().into(),
                task.institution.to_string().into(),
                to_json(&task.kind)?.trim_matches('"').to_string().into(),
                task.claim_id.as_str().into(),
                task.amount.0.into(),
                rfc3339(task.opened_at).into(),
                0i64.into(),
                to_json(task)?.into(),
            ]);
        }
        self.insert_many(
            &txn,
            "verification_tasks",
            TASK_COLS,
            tasks,
            "ON CONFLICT DO NOTHING",
            None,
        )
        .await?;
        let mut months: BTreeMap<(i32, u32), Vec<String>> = BTreeMap::new();
        let mut spending = Vec::with_capacity(batch.spending.len());
        for ((inst, year, month), delta) in &batch.spending {
            spending.push(vec![
                Value::from(inst.as_str()),
                i64::from(*year).into(),
                i64::from(*month).into(),
                (*delta).into(),
            ]);
            months
                .entry((*year, *month))
                .or_default()
                .push(inst.clone());
        }
        // One row per key (the map's keys are distinct), so one statement may upsert them all.
        self.insert_many(
            &txn,
            "spending",
            SPENDING_COLS,
            spending,
            "ON CONFLICT (institution_code, year, month) DO UPDATE SET amount_fen = spending.amount_fen + excluded.amount_fen",
            None,
        )
        .await?;
        for ((year, month), institutions) in months {
            self.reevaluate(&txn, year, month, &institutions).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Inserts findings with their reviews and the reviews' steps (caller role `system`), in
    /// multi-row statements; an existing id is kept as it is. Returns how many were new.
    async fn insert_findings(
        &self,
        txn: &DatabaseTransaction,
        findings: &[(&Finding, &Review)],
        run: Option<&str>,
    ) -> Result<u64, Error> {
        if findings.is_empty() {
            return Ok(0);
        }
        let created = rfc3339(Utc::now());
        let mut rows = Vec::with_capacity(findings.len());
        for (f, review) in findings {
            rows.push(vec![
                Value::from(f.finding_id.as_str()),
                f.region.to_string().into(),
                f.institution.to_string().into(),
                f.rule.as_str().into(),
                i64::from(f.rule_version).into(),
                severity_str(f.severity).into(),
                f.event_id.as_str().into(),
                f.observed_at.format("%Y-%m-%dT%H:%M:%S").to_string().into(),
                f.amount_at_risk.0.into(),
                review.state.name().into(),
                0i64.into(),
                rfc3339(review.feedback_due).into(),
                run.map(str::to_string).into(),
                to_json(f)?.into(),
                to_json(review)?.into(),
                1i64.into(),
                created.as_str().into(),
            ]);
        }
        let (_, new_ids) = self
            .insert_many(
                txn,
                "findings",
                FINDING_COLS,
                rows,
                "ON CONFLICT DO NOTHING RETURNING finding_id",
                Some("finding_id"),
            )
            .await?;
        let new_ids: HashSet<String> = new_ids.into_iter().collect();
        let mut steps = Vec::new();
        for (f, review) in findings
            .iter()
            .filter(|(f, _)| new_ids.contains(&f.finding_id))
        {
            for (k, step) in review.steps.iter().enumerate() {
                steps.push(step_row(&f.finding_id, k, step, "system"));
            }
        }
        self.insert_many(txn, "review_steps", STEP_COLS, steps, "", None)
            .await?;
        Ok(new_ids.len() as u64)
    }

    async fn insert_step(
        &self,
        txn: &DatabaseTransaction,
        finding_id: &str,
        seq: usize,
        step: &Step,
        caller_role: &str,
    ) -> Result<(), Error> {
        self.insert_many(
            txn,
            "review_steps",
            STEP_COLS,
            vec![step_row(finding_id, seq, step, caller_role)],
            "",
            None,
        )
        .await?;
        Ok(())
    }

    // ---------------------------------------------------------------- findings

    /// One finding.
    pub async fn finding(&self, id: &str) -> Result<Option<StoredFinding>, Error> {
        let Some(row) = self
            .one(
                &self.db,
                "SELECT doc, review, version FROM findings WHERE finding_id = ?",
                vec![id.to_string().into()],
            )
            .await?
        else {
            return Ok(None);
        };
        let steps = self
            .all(
                &self.db,
                "SELECT caller_role FROM review_steps WHERE finding_id = ? ORDER BY seq",
                vec![id.to_string().into()],
            )
            .await?;
        Ok(Some(StoredFinding {
            finding: json(&row, "doc")?,
            review: json(&row, "review")?,
            version: i(&row, "version")?,
            step_roles: steps
                .iter()
                .map(|r| s(r, "caller_role"))
                .collect::<Result<_, _>>()?,
        }))
    }

    /// Findings by filter, newest first.
    pub async fn findings(
        &self,
        f: &FindingFilter,
        page: Page,
    ) -> Result<Vec<(Finding, Review)>, Error> {
        let mut sql = String::from("SELECT doc, review FROM findings WHERE region_code LIKE ?");
        let mut values: Vec<Value> = vec![format!("{}%", f.region_prefix).into()];
        if let Some(inst) = &f.institution {
            sql.push_str(" AND institution_code = ?");
            values.push(inst.clone().into());
        }
        if let Some(rule) = f.rule {
            sql.push_str(" AND rule_code = ?");
            values.push(rule.as_str().into());
        }
        if let Some(state) = f.state {
            sql.push_str(" AND state = ?");
            values.push(state.into());
        }
        if let Some(from) = f.from {
            sql.push_str(" AND observed_at >= ?");
            values.push(from.to_string().into());
        }
        if let Some(to) = f.to {
            sql.push_str(" AND observed_at < ?");
            values.push(to.succ_opt().unwrap_or(to).to_string().into());
        }
        sql.push_str(" ORDER BY observed_at DESC, finding_id LIMIT ? OFFSET ?");
        values.push(i64::try_from(page.limit).unwrap_or(100).into());
        values.push(i64::try_from(page.offset).unwrap_or(0).into());
        let rows = self.all(&self.db, &sql, values).await?;
        rows.iter()
            .map(|r| Ok((json(r, "doc")?, json(r, "review")?)))
            .collect()
    }

    /// Stores a review after one step (`caller_role` of the step), guarded by the finding's
    /// version; with a final confirmation, deducts the credit of each subject in the same
    /// transaction. Returns the credit records after the deductions.
    pub async fn save_review(
        &self,
        stored: &StoredFinding,
        review: &Review,
        caller_role: &str,
        deduct: &[Subject],
        policy: &CreditPolicy,
    ) -> Result<Vec<CreditRecord>, Error> {
        let (_g, txn) = self.begin().await?;
        let amount_to_recover = match review.state {
            crate::domain::ReviewState::Confirmed { amount_to_recover } => amount_to_recover.0,
            _ => 0,
        };
        let n = self
            .exec(
                &txn,
                "UPDATE findings SET review = ?, state = ?, amount_to_recover_fen = ?, version = version + 1 WHERE finding_id = ? AND version = ?",
                vec![to_json(review)?.into(), review.state.name().into(), amount_to_recover.into(), stored.finding.finding_id.clone().into(), stored.version.into()],
            )
            .await?;
        if n != 1 {
            return Err(Error::Conflict(format!(
                "finding {} changed meanwhile; re-read and retry",
                stored.finding.finding_id
            )));
        }
        for (k, step) in review
            .steps
            .iter()
            .enumerate()
            .skip(stored.review.steps.len())
        {
            self.insert_step(&txn, &stored.finding.finding_id, k, step, caller_role)
                .await?;
        }
        let mut records = Vec::new();
        if let Some(last) = review.steps.last() {
            for subject in deduct {
                let reason = format!(
                    "{} confirmed: {}",
                    stored.finding.rule, stored.finding.finding_id
                );
                records.push(
                    self.deduct(
                        &txn,
                        subject,
                        &stored.finding.finding_id,
                        stored.finding.severity,
                        last.at,
                        &reason,
                        policy,
                    )
                    .await?,
                );
            }
        }
        txn.commit().await?;
        Ok(records)
    }

    #[allow(clippy::too_many_arguments)]
    async fn deduct(
        &self,
        txn: &DatabaseTransaction,
        subject: &Subject,
        violation_id: &str,
        severity: Severity,
        at: DateTime<Utc>,
        reason: &str,
        policy: &CreditPolicy,
    ) -> Result<CreditRecord, Error> {
        let (kind, code) = subject_key(subject);
        let mut registry = CreditRegistry::new(policy.clone()).map_err(Error::corrupt)?;
        let existing = self
            .one(
                txn,
                &format!(
                    "SELECT doc FROM credit WHERE subject_kind = ? AND subject_code = ?{}",
                    self.for_update()
                ),
                vec![kind.into(), code.clone().into()],
            )
            .await?;
        if let Some(row) = &existing {
            registry.insert_record(json(row, "doc")?);
        }
        let record = registry
            .deduct(subject, violation_id, severity, at, reason)
            .clone();
        self.put_credit(txn, &record).await?;
        Ok(record)
    }

    async fn put_credit(
        &self,
        txn: &DatabaseTransaction,
        record: &CreditRecord,
    ) -> Result<(), Error> {
        let (kind, code) = subject_key(&record.subject);
        self.exec(
            txn,
            "INSERT INTO credit (subject_kind, subject_code, region_code, score, blacklisted, doc) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subject_kind, subject_code) DO UPDATE SET score = excluded.score, blacklisted = excluded.blacklisted, doc = excluded.doc",
            vec![
                kind.into(),
                code.into(),
                subject_region(&record.subject).into(),
                i64::from(record.score).into(),
                i64::from(record.blacklisted_since.is_some()).into(),
                to_json(record)?.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// The credit record of a subject, if any deduction was made.
    pub async fn credit(&self, subject: &Subject) -> Result<Option<CreditRecord>, Error> {
        let (kind, code) = subject_key(subject);
        let row = self
            .one(
                &self.db,
                "SELECT doc FROM credit WHERE subject_kind = ? AND subject_code = ?",
                vec![kind.into(), code.into()],
            )
            .await?;
        row.map(|r| json(&r, "doc")).transpose()
    }

    /// Blacklisted subjects of a region (prefix), optionally of one kind.
    pub async fn blacklist(
        &self,
        region_prefix: &str,
        kind: Option<&'static str>,
        page: Page,
    ) -> Result<Vec<CreditRecord>, Error> {
        let mut sql =
            String::from("SELECT doc FROM credit WHERE blacklisted = 1 AND region_code LIKE ?");
        let mut values: Vec<Value> = vec![format!("{region_prefix}%").into()];
        if let Some(k) = kind {
            sql.push_str(" AND subject_kind = ?");
            values.push(k.into());
        }
        sql.push_str(" ORDER BY subject_kind, subject_code LIMIT ? OFFSET ?");
        values.push(i64::try_from(page.limit).unwrap_or(100).into());
        values.push(i64::try_from(page.offset).unwrap_or(0).into());
        self.all(&self.db, &sql, values)
            .await?
            .iter()
            .map(|r| json(r, "doc"))
            .collect()
    }

    // ---------------------------------------------------------------- verification tasks

    /// Verification tasks of a region (prefix), oldest first.
    pub async fn tasks(
        &self,
        region_prefix: &str,
        institution: Option<&str>,
        kind: Option<&str>,
        include_completed: bool,
        page: Page,
    ) -> Result<Vec<VerificationTask>, Error> {
        let mut sql = String::from("SELECT doc FROM verification_tasks WHERE region_code LIKE ?");
        let mut values: Vec<Value> = vec![format!("{region_prefix}%").into()];
        if let Some(inst) = institution {
            sql.push_str(" AND institution_code = ?");
            values.push(inst.to_string().into());
        }
        if let Some(k) = kind {
            sql.push_str(" AND kind = ?");
            values.push(k.to_string().into());
        }
        if !include_completed {
            sql.push_str(" AND completed = 0");
        }
        sql.push_str(" ORDER BY opened_at, task_id LIMIT ? OFFSET ?");
        values.push(i64::try_from(page.limit).unwrap_or(100).into());
        values.push(i64::try_from(page.offset).unwrap_or(0).into());
        self.all(&self.db, &sql, values)
            .await?
            .iter()
            .map(|r| json(r, "doc"))
            .collect()
    }

    /// A task with its region.
    pub async fn task(&self, id: &str) -> Result<Option<(VerificationTask, String)>, Error> {
        let row = self
            .one(
                &self.db,
                "SELECT doc, region_code FROM verification_tasks WHERE task_id = ?",
                vec![id.to_string().into()],
            )
            .await?;
        row.map(|r| Ok((json(&r, "doc")?, s(&r, "region_code")?)))
            .transpose()
    }

    /// Stores a completed task; refused when it was completed meanwhile.
    pub async fn complete_task(&self, task: &VerificationTask) -> Result<(), Error> {
        let (_g, txn) = self.begin().await?;
        let n = self
            .exec(&txn, "UPDATE verification_tasks SET completed = 1, doc = ? WHERE task_id = ? AND completed = 0", vec![to_json(task)?.into(), task.task_id.clone().into()])
            .await?;
        if n != 1 {
            return Err(Error::Conflict(format!(
                "task {} was completed meanwhile",
                task.task_id
            )));
        }
        txn.commit().await?;
        Ok(())
    }

    // ---------------------------------------------------------------- tips and cases

    /// Records a tip, and its case when opened at once.
    pub async fn insert_tip(
        &self,
        tip_id: &str,
        region: &RegionCode,
        institution: &str,
        description: &str,
        contact: &str,
        audit: &Audit,
        case: Option<&Case>,
    ) -> Result<(), Error> {
        let (_g, txn) = self.begin().await?;
        self.exec(
            &txn,
            "INSERT INTO tips (tip_id, region_code, institution_code, description, whistleblower_contact, received_at, actor, case_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                tip_id.to_string().into(),
                region.to_string().into(),
                institution.to_string().into(),
                description.to_string().into(),
                contact.to_string().into(),
                rfc3339(audit.at).into(),
                audit.actor.clone().into(),
                case.map(|c| c.case_id.clone()).into(),
            ],
        )
        .await?;
        if let Some(case) = case {
            self.insert_case(&txn, case, tip_id).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// A tip: (region, institution, description, has a whistle-blower, received at, case id).
    pub async fn tip(
        &self,
        tip_id: &str,
    ) -> Result<Option<(String, String, String, bool, String, Option<String>)>, Error> {
        let row = self
            .one(&self.db, "SELECT region_code, institution_code, description, whistleblower_contact, received_at, case_id FROM tips WHERE tip_id = ?", vec![tip_id.to_string().into()])
            .await?;
        row.map(|r| {
            Ok((
                s(&r, "region_code")?,
                s(&r, "institution_code")?,
                s(&r, "description")?,
                !s(&r, "whistleblower_contact")?.trim().is_empty(),
                s(&r, "received_at")?,
                r.try_get::<Option<String>>("", "case_id")
                    .map_err(Error::corrupt)?,
            ))
        })
        .transpose()
    }

    async fn insert_case(
        &self,
        txn: &DatabaseTransaction,
        case: &Case,
        tip_id: &str,
    ) -> Result<(), Error> {
        let mut doc = serde_json::to_value(case).map_err(Error::corrupt)?;
        doc["tip_id"] = serde_json::Value::String(tip_id.to_string());
        self.exec(
            txn,
            "INSERT INTO cases (case_id, region_code, institution_code, status, opened_at, doc, version) VALUES (?, ?, ?, ?, ?, ?, 1)",
            vec![
                case.case_id.clone().into(),
                case.region.to_string().into(),
                case.institution.as_ref().map(|i| i.to_string()).unwrap_or_default().into(),
                "open".into(),
                rfc3339(case.opened_at).into(),
                doc.to_string().into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Opens a case from a tip not yet in a case.
    pub async fn open_case_from_tip(&self, case: &Case, tip_id: &str) -> Result<(), Error> {
        let (_g, txn) = self.begin().await?;
        let n = self
            .exec(
                &txn,
                "UPDATE tips SET case_id = ? WHERE tip_id = ? AND case_id IS NULL",
                vec![case.case_id.clone().into(), tip_id.to_string().into()],
            )
            .await?;
        if n != 1 {
            return Err(yibao_runtime::ApiError::new(
                yibao_runtime::ErrorKind::FailedPrecondition,
                "CASE_TIP_ALREADY_IN_CASE",
                format!("tip {tip_id} already has a case"),
            )
            .into());
        }
        self.insert_case(&txn, case, tip_id).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Opens a case from findings none of which is in a case yet.
    pub async fn open_case_from_findings(
        &self,
        case: &Case,
        finding_ids: &[String],
    ) -> Result<(), Error> {
        let (_g, txn) = self.begin().await?;
        for id in finding_ids {
            let n = self.exec(&txn, "INSERT INTO case_findings (finding_id, case_id) VALUES (?, ?) ON CONFLICT DO NOTHING", vec![id.clone().into(), case.case_id.clone().into()]).await?;
            if n != 1 {
                return Err(yibao_runtime::ApiError::invalid(
                    "CASE_FINDING_ALREADY_IN_CASE",
                    "finding_ids",
                    format!("finding {id} is already in a case"),
                )
                .into());
            }
        }
        self.insert_case(&txn, case, "").await?;
        txn.commit().await?;
        Ok(())
    }

    /// One case.
    pub async fn case(&self, id: &str) -> Result<Option<StoredCase>, Error> {
        let row = self
            .one(
                &self.db,
                "SELECT doc, version FROM cases WHERE case_id = ?",
                vec![id.to_string().into()],
            )
            .await?;
        row.map(|r| stored_case(&r)).transpose()
    }

    /// Cases of a region (prefix), newest first.
    pub async fn cases(
        &self,
        region_prefix: &str,
        institution: Option<&str>,
        status: Option<&str>,
        page: Page,
    ) -> Result<Vec<StoredCase>, Error> {
        let mut sql = String::from("SELECT doc, version FROM cases WHERE region_code LIKE ?");
        let mut values: Vec<Value> = vec![format!("{region_prefix}%").into()];
        if let Some(inst) = institution {
            sql.push_str(" AND institution_code = ?");
            values.push(inst.to_string().into());
        }
        if let Some(st) = status {
            sql.push_str(" AND status = ?");
            values.push(st.to_string().into());
        }
        sql.push_str(" ORDER BY opened_at DESC, case_id LIMIT ? OFFSET ?");
        values.push(i64::try_from(page.limit).unwrap_or(100).into());
        values.push(i64::try_from(page.offset).unwrap_or(0).into());
        self.all(&self.db, &sql, values)
            .await?
            .iter()
            .map(stored_case)
            .collect()
    }

    /// Stores a changed case guarded by its version, with the request key of the change.
    pub async fn save_case(
        &self,
        stored: &StoredCase,
        case: &Case,
        key: Option<&RequestKey>,
    ) -> Result<(), Error> {
        let (_g, txn) = self.begin().await?;
        let mut doc = serde_json::to_value(case).map_err(Error::corrupt)?;
        doc["tip_id"] = serde_json::Value::String(stored.tip_id.clone());
        let status = if case.status == crate::domain::CaseStatus::Closed {
            "closed"
        } else {
            "open"
        };
        let n = self
            .exec(
                &txn,
                "UPDATE cases SET doc = ?, status = ?, version = version + 1 WHERE case_id = ? AND version = ?",
                vec![doc.to_string().into(), status.into(), case.case_id.clone().into(), stored.version.into()],
            )
            .await?;
        if n != 1 {
            return Err(Error::Conflict(format!(
                "case {} changed meanwhile; re-read and retry",
                case.case_id
            )));
        }
        if let Some(k) = key {
            let n = self
                .exec(
                    &txn,
                    "INSERT INTO request_keys (request_id, rpc, fingerprint, response, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    vec![k.request_id.clone().into(), k.rpc.into(), k.fingerprint.clone().into(), k.response.clone().into(), rfc3339(Utc::now()).into()],
                )
                .await?;
            if n != 1 {
                return Err(Error::Conflict(format!(
                    "request {} was recorded concurrently; retry to read its result",
                    k.request_id
                )));
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// A remembered request: (rpc, fingerprint, response).
    pub async fn request_key(
        &self,
        request_id: &str,
    ) -> Result<Option<(String, String, String)>, Error> {
        let row = self
            .one(
                &self.db,
                "SELECT rpc, fingerprint, response FROM request_keys WHERE request_id = ?",
                vec![request_id.to_string().into()],
            )
            .await?;
        row.map(|r| Ok((s(&r, "rpc")?, s(&r, "fingerprint")?, s(&r, "response")?)))
            .transpose()
    }

    // ---------------------------------------------------------------- budgets

    /// Sets a region's budget policy.
    pub async fn put_budget_policy(
        &self,
        policy: &BudgetPolicy,
        audit: &Audit,
    ) -> Result<(), Error> {
        let (_g, txn) = self.begin().await?;
        self.exec(
            &txn,
            "INSERT INTO budget_policies (region_code, doc, actor, at) VALUES (?, ?, ?, ?) ON CONFLICT (region_code) DO UPDATE SET doc = excluded.doc, actor = excluded.actor, at = excluded.at",
            vec![policy.region.to_string().into(), to_json(policy)?.into(), audit.actor.clone().into(), rfc3339(audit.at).into()],
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Every stored budget policy.
    pub async fn budget_policies<C: ConnectionTrait>(
        &self,
        c: &C,
    ) -> Result<Vec<BudgetPolicy>, Error> {
        self.all(
            c,
            "SELECT doc FROM budget_policies ORDER BY region_code",
            vec![],
        )
        .await?
        .iter()
        .map(|r| json(r, "doc"))
        .collect()
    }

    /// Sets an institution's budget of a year and re-evaluates the months it has spending in.
    pub async fn put_budget(
        &self,
        institution: &InstitutionCode,
        year: i32,
        amount: Fen,
        audit: &Audit,
    ) -> Result<(), Error> {
        let (_g, txn) = self.begin().await?;
        self.exec(
            &txn,
            "INSERT INTO budgets (institution_code, year, amount_fen, actor, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (institution_code, year) DO UPDATE SET amount_fen = excluded.amount_fen, actor = excluded.actor, at = excluded.at",
            vec![institution.to_string().into(), i64::from(year).into(), amount.0.into(), audit.actor.clone().into(), rfc3339(audit.at).into()],
        )
        .await?;
        let months = self
            .all(
                &txn,
                "SELECT month FROM spending WHERE institution_code = ? AND year = ? ORDER BY month",
                vec![institution.to_string().into(), i64::from(year).into()],
            )
            .await?;
        for m in months {
            let month = u32::try_from(i(&m, "month")?).unwrap_or(0);
            self.reevaluate(&txn, year, month, &[institution.to_string()])
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// A ledger holding the policies, and for `institutions` (all when `None`) in `year` their
    /// budgets and spending.
    async fn ledger<C: ConnectionTrait>(
        &self,
        c: &C,
        year: i32,
        institutions: Option<&[String]>,
        region_prefix: Option<&str>,
    ) -> Result<BudgetLedger, Error> {
        let mut policies = self.budget_policies(c).await?;
        let (filter, mut values): (String, Vec<Value>) = match (institutions, region_prefix) {
            (Some(list), _) if !list.is_empty() => (
                format!(
                    " AND institution_code IN ({})",
                    vec!["?"; list.len()].join(", ")
                ),
                list.iter().map(|s| Value::from(s.clone())).collect(),
            ),
            (_, Some(prefix)) => (
                format!(" AND {INSTITUTION_REGION} LIKE ?"),
                vec![format!("{prefix}%").into()],
            ),
            _ => (String::new(), Vec::new()),
        };
        let mut args: Vec<Value> = vec![i64::from(year).into()];
        args.append(&mut values);
        let budgets = self
            .all(
                c,
                &format!("SELECT institution_code, amount_fen FROM budgets WHERE year = ?{filter}"),
                args.clone(),
            )
            .await?;
        let spending = self.all(c, &format!("SELECT institution_code, month, amount_fen FROM spending WHERE year = ?{filter}"), args).await?;
        // An institution no stored policy covers gets its province's default policy.
        let mut codes = Vec::new();
        for r in budgets.iter().chain(spending.iter()) {
            let code =
                InstitutionCode::parse(&s(r, "institution_code")?).map_err(Error::corrupt)?;
            let region = code.region();
            if !policies.iter().any(|p| p.region.covers(&region)) {
                policies.push(BudgetPolicy::default_for(region.province()));
            }
            codes.push(code);
        }
        let mut ledger = BudgetLedger::new(policies).map_err(Error::corrupt)?;
        let mut k = 0;
        for r in &budgets {
            ledger
                .set_budget(codes[k].clone(), year, Fen(i(r, "amount_fen")?))
                .map_err(Error::corrupt)?;
            k += 1;
        }
        for r in &spending {
            let month = u32::try_from(i(r, "month")?).unwrap_or(0);
            ledger
                .add_spending(codes[k].clone(), year, month, Fen(i(r, "amount_fen")?))
                .map_err(Error::corrupt)?;
            k += 1;
        }
        Ok(ledger)
    }

    /// Re-evaluates the warnings of `institutions` at the end of (year, month), replacing
    /// theirs for that month.
    async fn reevaluate(
        &self,
        txn: &DatabaseTransaction,
        year: i32,
        month: u32,
        institutions: &[String],
    ) -> Result<(), Error> {
        if institutions.is_empty() {
            return Ok(());
        }
        let marks = vec!["?"; institutions.len()].join(", ");
        let mut args: Vec<Value> = vec![i64::from(year).into()];
        args.extend(institutions.iter().map(|s| Value::from(s.clone())));
        let budgeted = self.all(txn, &format!("SELECT institution_code FROM budgets WHERE year = ? AND institution_code IN ({marks})"), args).await?;
        if budgeted.is_empty() {
            return Ok(());
        }
        let budgeted: Vec<String> = budgeted
            .iter()
            .map(|r| s(r, "institution_code"))
            .collect::<Result<_, _>>()?;
        let mut ledger = self.ledger(txn, year, Some(&budgeted), None).await?;
        let warnings = ledger.evaluate_month(year, month).map_err(Error::corrupt)?;
        let marks = vec!["?"; budgeted.len()].join(", ");
        let mut args: Vec<Value> = vec![i64::from(year).into(), i64::from(month).into()];
        args.extend(budgeted.iter().map(|s| Value::from(s.clone())));
        self.exec(txn, &format!("DELETE FROM warnings WHERE year = ? AND month = ? AND institution_code IN ({marks})"), args).await?;
        let now = rfc3339(Utc::now());
        for w in &warnings {
            let (hy, hm) = w.hold_payment_of.unwrap_or((0, 0));
            self.exec(
                txn,
                "INSERT INTO warnings (year, month, institution_code, region_code, level, hold_year, hold_month, doc, evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    i64::from(year).into(),
                    i64::from(month).into(),
                    w.status.institution.to_string().into(),
                    w.status.institution.region().to_string().into(),
                    level_str(w.level).into(),
                    i64::from(hy).into(),
                    i64::from(hm).into(),
                    to_json(w)?.into(),
                    now.clone().into(),
                ],
            )
            .await?;
        }
        Ok(())
    }

    /// The ledger of one institution in a year (budget, spending, policies).
    pub async fn institution_ledger(
        &self,
        institution: &InstitutionCode,
        year: i32,
    ) -> Result<BudgetLedger, Error> {
        self.ledger(&self.db, year, Some(&[institution.to_string()]), None)
            .await
    }

    /// The ledger of every institution of a region (prefix) in a year.
    pub async fn region_ledger(
        &self,
        region_prefix: &str,
        year: i32,
    ) -> Result<BudgetLedger, Error> {
        self.ledger(&self.db, year, None, Some(region_prefix)).await
    }

    /// Stored warnings of a month for institutions of a region (prefix), worst first.
    pub async fn warnings(
        &self,
        region_prefix: &str,
        year: i32,
        month: u32,
        page: Page,
    ) -> Result<Vec<BudgetWarning>, Error> {
        let rows = self
            .all(
                &self.db,
                "SELECT doc FROM warnings WHERE year = ? AND month = ? AND region_code LIKE ? ORDER BY level DESC, institution_code LIMIT ? OFFSET ?",
                vec![
                    i64::from(year).into(),
                    i64::from(month).into(),
                    format!("{region_prefix}%").into(),
                    i64::try_from(page.limit).unwrap_or(100).into(),
                    i64::try_from(page.offset).unwrap_or(0).into(),
                ],
            )
            .await?;
        let mut out: Vec<BudgetWarning> = rows
            .iter()
            .map(|r| json(r, "doc"))
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then_with(|| a.status.institution.cmp(&b.status.institution))
        });
        Ok(out)
    }

    /// The warning that holds an institution's payment of (year, month), if any.
    pub async fn hold_of(
        &self,
        institution: &str,
        year: i32,
        month: u32,
    ) -> Result<Option<BudgetWarning>, Error> {
        let row = self
            .one(&self.db, "SELECT doc FROM warnings WHERE institution_code = ? AND hold_year = ? AND hold_month = ?", vec![institution.to_string().into(), i64::from(year).into(), i64::from(month).into()])
            .await?;
        row.map(|r| json(&r, "doc")).transpose()
    }

    // ---------------------------------------------------------------- inspections

    /// Stores a draw.
    pub async fn insert_draw(&self, draw: &InspectionDraw, audit: &Audit) -> Result<(), Error> {
        let (_g, txn) = self.begin().await?;
        self.exec(
            &txn,
            "INSERT INTO inspection_draws (draw_id, region_code, doc, actor, at) VALUES (?, ?, ?, ?, ?)",
            vec![draw.draw_id.clone().into(), draw.region.to_string().into(), to_json(draw)?.into(), audit.actor.clone().into(), rfc3339(audit.at).into()],
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A draw.
    pub async fn draw(&self, id: &str) -> Result<Option<InspectionDraw>, Error> {
        let row = self
            .one(
                &self.db,
                "SELECT doc FROM inspection_draws WHERE draw_id = ?",
                vec![id.to_string().into()],
            )
            .await?;
        row.map(|r| json(&r, "doc")).transpose()
    }

    // ---------------------------------------------------------------- backfills

    /// Stores the findings of a backfill (those already found live are kept as they are) and the
    /// run; returns how many were new.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_backfill(
        &self,
        run_id: &str,
        region: &RegionCode,
        rule: RuleCode,
        version: u32,
        range: (NaiveDate, NaiveDate),
        dry_run: bool,
        counts: (u64, u64),
        findings: &[(Finding, Review)],
        audit: &Audit,
    ) -> Result<u64, Error> {
        let (_g, txn) = self.begin().await?;
        let mut new = 0;
        if !dry_run {
            let pairs: Vec<(&Finding, &Review)> = findings.iter().map(|(f, r)| (f, r)).collect();
            new = self.insert_findings(&txn, &pairs, Some(run_id)).await?;
        }
        let amount = findings
            .iter()
            .fold(0i64, |acc, (f, _)| acc.saturating_add(f.amount_at_risk.0));
        self.exec(
            &txn,
            "INSERT INTO backfill_runs (run_id, region_code, rule_code, rule_version, from_date, to_date, dry_run, events_seen, events_refused, findings_raised, amount_at_risk_fen, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                run_id.to_string().into(),
                region.to_string().into(),
                rule.as_str().into(),
                i64::from(version).into(),
                range.0.to_string().into(),
                range.1.to_string().into(),
                i64::from(dry_run).into(),
                i64::try_from(counts.0).unwrap_or(i64::MAX).into(),
                i64::try_from(counts.1).unwrap_or(i64::MAX).into(),
                i64::try_from(findings.len()).unwrap_or(i64::MAX).into(),
                amount.into(),
                audit.actor.clone().into(),
                rfc3339(audit.at).into(),
            ],
        )
        .await?;
        txn.commit().await?;
        Ok(new)
    }
}

/// Base64 of stored bus payloads.
pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// An accepted event as stored (its kind and base64 bus payload) decoded again by the same
/// conversion.
pub fn decode_stored(kind: &str, payload: &str) -> Result<SupervisionEvent, Error> {
    use base64::Engine as _;
    let kind = match kind {
        "claim" => crate::convert::StreamKind::Claims,
        "ltc" => crate::convert::StreamKind::Ltc,
        "inventory" => crate::convert::StreamKind::Inventory,
        other => return Err(Error::corrupt(format!("event kind `{other}`"))),
    };
    let bytes = B64.decode(payload).map_err(Error::corrupt)?;
    crate::convert::decode(kind, "", &bytes)
        .map_err(|(field, reason)| Error::corrupt(format!("stored event {field}: {reason}")))
}

fn stored_event(r: &QueryResult) -> Result<SupervisionEvent, Error> {
    decode_stored(&s(r, "kind")?, &s(r, "payload")?)
}

fn step_row(finding_id: &str, seq: usize, step: &Step, caller_role: &str) -> Vec<Value> {
    vec![
        Value::from(finding_id),
        i64::try_from(seq).unwrap_or(0).into(),
        step.action.as_str().into(),
        step.actor.as_str().into(),
        step.role.to_string().into(),
        caller_role.into(),
        rfc3339(step.at).into(),
        step.note.as_str().into(),
        step.state_after.name().into(),
    ]
}

fn stored_case(r: &QueryResult) -> Result<StoredCase, Error> {
    let doc: serde_json::Value = json(r, "doc")?;
    let tip_id = doc
        .get("tip_id")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let case: Case = serde_json::from_value(doc).map_err(Error::corrupt)?;
    Ok(StoredCase {
        case,
        tip_id,
        version: i(r, "version")?,
    })
}

#[cfg(test)]
mod tests;
