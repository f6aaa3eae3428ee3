//! Findings with their review (a JSON document beside the filtered columns), the review steps
//! with the caller role of each, and the runs of backfills.

use super::{
    Audit, BIGINT, Col, Page, Store, StoreError, TEXT, fetch, i, json, rfc3339, s, to_json,
};
use crate::domain::{Finding, Review, ReviewState, RuleCode, Severity, Step};
use chrono::{NaiveDate, Utc};
use sea_orm::{DatabaseTransaction, Value};
use std::collections::HashSet;
use yibao_core::RegionCode;

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

/// A backfill run as recorded.
#[derive(Debug, Clone)]
pub struct BackfillRun<'a> {
    /// Run id.
    pub run_id: &'a str,
    /// Region replayed.
    pub region: &'a RegionCode,
    /// Rule replayed.
    pub rule: RuleCode,
    /// Version of the rules used.
    pub version: u32,
    /// Settlement dates replayed (inclusive).
    pub range: (NaiveDate, NaiveDate),
    /// Nothing but the run was written.
    pub dry_run: bool,
    /// Events (seen, refused).
    pub counts: (u64, u64),
    /// Findings raised.
    pub findings_raised: u64,
    /// Their amount at risk, in fen.
    pub amount_at_risk: i64,
}

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

fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
    }
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

/// The page key of a finding: (observed at, id), newest first.
pub fn finding_key(f: &Finding) -> Vec<String> {
    vec![
        f.observed_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        f.finding_id.clone(),
    ]
}

impl Store {
    /// Inserts findings with their reviews and the reviews' steps (caller role `system`), in
    /// multi-row statements; an existing id is kept as it is. Returns how many were new.
    pub async fn insert_findings(
        &self,
        txn: &DatabaseTransaction,
        findings: &[(&Finding, &Review)],
        run: Option<&str>,
    ) -> Result<u64, StoreError> {
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

    /// One finding.
    pub async fn finding(&self, id: &str) -> Result<Option<StoredFinding>, StoreError> {
        let Some(row) = self
            .one(
                self.db(),
                "SELECT doc, review, version FROM findings WHERE finding_id = ?",
                vec![id.to_string().into()],
            )
            .await?
        else {
            return Ok(None);
        };
        let steps = self
            .all(
                self.db(),
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

    /// Findings by filter, newest first (keyset [`finding_key`]), one more than the page.
    pub async fn findings(
        &self,
        f: &FindingFilter,
        page: &Page,
    ) -> Result<Vec<(Finding, Review)>, StoreError> {
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
        if !page.is_first() {
            sql.push_str(" AND (observed_at < ? OR (observed_at = ? AND finding_id > ?))");
            values.push(page.after_key(0).into());
            values.push(page.after_key(0).into());
            values.push(page.after_key(1).into());
        }
        sql.push_str(" ORDER BY observed_at DESC, finding_id LIMIT ?");
        values.push(fetch(page));
        let rows = self.all(self.db(), &sql, values).await?;
        rows.iter()
            .map(|r| Ok((json(r, "doc")?, json(r, "review")?)))
            .collect()
    }

    /// Stores a review after one or more steps (each with `caller_role`), guarded by the
    /// finding's version: refused when the finding changed since it was read.
    pub async fn update_review(
        &self,
        txn: &DatabaseTransaction,
        stored: &StoredFinding,
        review: &Review,
        caller_role: &str,
    ) -> Result<(), StoreError> {
        let amount_to_recover = match review.state {
            ReviewState::Confirmed { amount_to_recover } => amount_to_recover.0,
            _ => 0,
        };
        let n = self
            .exec(
                txn,
                "UPDATE findings SET review = ?, state = ?, amount_to_recover_fen = ?, version = version + 1 WHERE finding_id = ? AND version = ?",
                vec![to_json(review)?.into(), review.state.name().into(), amount_to_recover.into(), stored.finding.finding_id.clone().into(), stored.version.into()],
            )
            .await?;
        if n != 1 {
            return Err(StoreError::Conflict(format!(
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
            self.insert_many(
                txn,
                "review_steps",
                STEP_COLS,
                vec![step_row(&stored.finding.finding_id, k, step, caller_role)],
                "",
                None,
            )
            .await?;
        }
        Ok(())
    }

    /// Records the run of a backfill.
    pub async fn insert_backfill_run(
        &self,
        txn: &DatabaseTransaction,
        run: &BackfillRun<'_>,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        self.exec(
            txn,
            "INSERT INTO backfill_runs (run_id, region_code, rule_code, rule_version, from_date, to_date, dry_run, events_seen, events_refused, findings_raised, amount_at_risk_fen, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                run.run_id.to_string().into(),
                run.region.to_string().into(),
                run.rule.as_str().into(),
                i64::from(run.version).into(),
                run.range.0.to_string().into(),
                run.range.1.to_string().into(),
                i64::from(run.dry_run).into(),
                i64::try_from(run.counts.0).unwrap_or(i64::MAX).into(),
                i64::try_from(run.counts.1).unwrap_or(i64::MAX).into(),
                i64::try_from(run.findings_raised).unwrap_or(i64::MAX).into(),
                run.amount_at_risk.into(),
                audit.actor.clone().into(),
                rfc3339(audit.at).into(),
            ],
        )
        .await?;
        Ok(())
    }
}
