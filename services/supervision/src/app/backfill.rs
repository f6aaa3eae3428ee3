//! Backfills: one rule of a region's current rule set replayed over the region's stored
//! history through a fresh detector, its findings stored with an opened review (those already
//! found live are kept as they are) and the run recorded.

use super::{AppError, Supervision, audit, rules::current_rules};
use crate::domain::{Detector, Finding, Review, RuleCode, StayBook, SupervisionEvent};
use crate::events::decode::decode_stored;
use crate::store::{Audit, BackfillRun, Store, StoredRow};
use chrono::NaiveDate;
use yibao_core::RegionCode;
use yibao_runtime::Caller;

/// What a backfill found.
#[derive(Debug)]
pub struct Backfill {
    /// Version of the rules used.
    pub rule_version: u32,
    /// Events replayed.
    pub events_seen: u64,
    /// Events refused.
    pub events_refused: u64,
    /// Findings, in event order.
    pub findings: Vec<Finding>,
}

/// What a recorded backfill run reports.
#[derive(Debug, Clone)]
pub struct BackfillOutcome {
    /// Run id.
    pub run_id: String,
    /// Rule replayed.
    pub rule: RuleCode,
    /// Version of the rules used.
    pub rule_version: u32,
    /// Events replayed.
    pub events_seen: u64,
    /// Events refused.
    pub events_refused: u64,
    /// Findings raised.
    pub findings_raised: u64,
    /// Their amount at risk, in fen.
    pub amount_at_risk: i64,
}

/// Replays one rule of a region's current rule set over the region's stored events settled in
/// `range` (inclusive), in event order, through a fresh detector, in one pass: a reader task
/// fetches pages of 20,000 rows (keyset on (at, seq), so each row is read once) while this task
/// decodes and judges the previous page.
pub async fn backfill(
    store: &Store,
    region: &RegionCode,
    rule: RuleCode,
    range: (NaiveDate, NaiveDate),
) -> Result<Backfill, AppError> {
    const PAGE: u64 = 20_000;
    let rules = current_rules(store, region).await?;
    let version = rules.version;
    let mut detector = Detector::for_replay(rules.only(rule)).map_err(AppError::corrupt)?;
    let from = format!("{}T00:00:00", range.0);
    let to = format!("{}T23:59:59", range.1);
    let mut out = Backfill {
        rule_version: version,
        events_seen: 0,
        events_refused: 0,
        findings: Vec::new(),
    };
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<Result<Vec<StoredRow>, crate::store::StoreError>>(2);
    let reader = tokio::spawn({
        let store = store.clone();
        let region = region.as_str().to_string();
        async move {
            let mut after = None;
            loop {
                let page = store
                    .history_rows(&region, &from, &to, after.clone(), PAGE)
                    .await;
                let last = match &page {
                    Ok(rows) => rows.last().map(|(at, seq, _, _)| (at.clone(), *seq)),
                    Err(_) => None,
                };
                let full = page.as_ref().is_ok_and(|rows| rows.len() as u64 == PAGE);
                if tx.send(page).await.is_err() || !full {
                    break;
                }
                after = last;
            }
        }
    });
    // The in-stay rules replay the region's encounter steps through a book of their own,
    // empty at the start of the range (stays at other regions' institutions are not in it).
    let mut stays = StayBook::default();
    while let Some(page) = rx.recv().await {
        for (_, _, kind, payload) in &page? {
            out.events_seen += 1;
            let event = decode_stored(kind, payload).map_err(AppError::corrupt)?;
            let judged = match &event {
                SupervisionEvent::Encounter(step) => detector.observe_encounter(&mut stays, step),
                _ => detector.observe(&event),
            };
            match judged {
                Ok(f) => out.findings.extend(f),
                Err(_) => out.events_refused += 1,
            }
        }
    }
    reader.await.map_err(AppError::corrupt)?;
    Ok(out)
}

/// Stores the findings of a backfill (unless a dry run; those already found live are kept as
/// they are) and the run, in one transaction; returns how many findings were new.
pub async fn record_backfill(
    store: &Store,
    run: &BackfillRun<'_>,
    findings: &[(Finding, Review)],
    audit: &Audit,
) -> Result<u64, AppError> {
    let txn = store.begin().await?;
    let mut new = 0;
    if !run.dry_run {
        let pairs: Vec<(&Finding, &Review)> = findings.iter().map(|(f, r)| (f, r)).collect();
        new = store
            .insert_findings(&txn, &pairs, Some(run.run_id))
            .await?;
    }
    store.insert_backfill_run(&txn, run, audit).await?;
    txn.commit().await?;
    Ok(new)
}

impl Supervision {
    /// Runs a backfill of one rule over a region's events settled in `range`, opening a review
    /// of each finding (15 days for feedback), and records it.
    pub async fn run_backfill(
        &self,
        caller: &Caller,
        region: &RegionCode,
        rule: RuleCode,
        range: (NaiveDate, NaiveDate),
        dry_run: bool,
    ) -> Result<BackfillOutcome, AppError> {
        let report = backfill(&self.store, region, rule, range).await?;
        let run_id = uuid::Uuid::now_v7().to_string();
        let made = &audit(caller);
        let now = made.at;
        let findings: Vec<(Finding, Review)> = report
            .findings
            .into_iter()
            .map(|f| {
                let review = Review::open(&f, now, now + chrono::Duration::days(15));
                (f, review)
            })
            .collect();
        let amount_at_risk = findings
            .iter()
            .fold(0i64, |acc, (f, _)| acc.saturating_add(f.amount_at_risk.0));
        let run = BackfillRun {
            run_id: &run_id,
            region,
            rule,
            version: report.rule_version,
            range,
            dry_run,
            counts: (report.events_seen, report.events_refused),
            findings_raised: findings.len() as u64,
            amount_at_risk,
        };
        record_backfill(&self.store, &run, &findings, made).await?;
        Ok(BackfillOutcome {
            rule,
            rule_version: report.rule_version,
            events_seen: report.events_seen,
            events_refused: report.events_refused,
            findings_raised: findings.len() as u64,
            amount_at_risk,
            run_id,
        })
    }
}
