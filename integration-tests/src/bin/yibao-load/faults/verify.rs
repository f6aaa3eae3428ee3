//! The checks after a run, all through the gateway: every acknowledged claim is stored as it
//! was acknowledged, no encounter has two claims, the ledger reconciles for every month, and
//! supervision's spending of the institution equals the basic-pool payments of its settled
//! claims (each counted once).

use super::load::{ClaimRun, Record};
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use yibao_integration_tests::cluster::Cluster;

/// The figures of a row.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    /// Claims (or answers, for the retry row) acknowledged with 2xx.
    pub(crate) acknowledged: u64,
    /// Acknowledged claims found stored as acknowledged.
    pub(crate) present: u64,
    /// Acknowledged claims not found so.
    pub(crate) lost: u64,
    /// Claims more than one per encounter (or claim ids more than one per key).
    pub(crate) doubled: u64,
    /// 5xx answers other than 503.
    pub(crate) server_errors: u64,
    /// Other refusals by label.
    pub(crate) other: BTreeMap<String, u64>,
    /// The counts above were measured (a row of claims); else they print as `-`.
    pub(crate) counted: bool,
    /// Why the row fails; empty = it passes.
    pub(crate) failures: Vec<String>,
    /// What else was measured.
    pub(crate) notes: Vec<String>,
}

impl Figures {
    /// Counts the requests of a run.
    pub(crate) fn count_requests(&mut self, record: &Record) {
        self.counted = true;
        self.server_errors = record
            .reqs
            .iter()
            .filter(|r| r.outcome.server_error())
            .count() as u64;
        let (server, other): (BTreeMap<String, u64>, BTreeMap<String, u64>) = record
            .refusals()
            .into_iter()
            .partition(|(label, _)| label.starts_with('5') && !label.starts_with("503"));
        self.other = other;
        for (label, detail) in &record.examples {
            self.notes.push(format!("{label}, e.g.: {detail}"));
        }
        let timeouts = self
            .other
            .get("no answer (client timeout)")
            .copied()
            .unwrap_or(0);
        if timeouts > 0 {
            self.failures.push(format!(
                "{timeouts} requests had no answer within the client's timeout"
            ));
        }
        if self.server_errors > 0 {
            let labels: Vec<String> = server.iter().map(|(l, c)| format!("{l} ×{c}")).collect();
            self.failures.push(format!(
                "{} answers were 5xx other than 503: {}",
                self.server_errors,
                labels.join(", ")
            ));
        }
    }
}

/// A claim as ListClaims shows it.
#[derive(Debug, Clone)]
struct Listed {
    claim_id: String,
    encounter_no: String,
}

/// A claim as GetClaim shows it.
#[derive(Debug, Clone)]
struct Stored {
    encounter_no: String,
    status: String,
    pool_fen: i64,
}

/// What the checks need: the gateway and the tokens.
pub(crate) struct Checker<'a> {
    /// A gateway.
    pub(crate) gw: &'a Cluster,
    /// The institution's token (its claims).
    pub(crate) hospital: &'a str,
    /// An operator of 341522 (ledger, supervision).
    pub(crate) operator: &'a str,
    /// The institution.
    pub(crate) institution: &'a str,
    /// Months the run may have settled in ("YYYY-MM").
    pub(crate) months: Vec<String>,
    /// How long supervision may take to catch up.
    pub(crate) catch_up: Duration,
}

/// Fen with thousands separators.
pub(crate) fn fen(v: i64) -> String {
    let s = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

impl Checker<'_> {
    async fn list_claims(&self) -> Result<Vec<Listed>, String> {
        let mut out = Vec::new();
        for month in &self.months {
            let mut token = String::new();
            loop {
                let path = format!(
                    "/v1/claims?institution_code={}&month={month}&page.page_size=1000&page.page_token={token}",
                    self.institution
                );
                let (status, v) = self
                    .gw
                    .try_get(&path, self.hospital)
                    .await
                    .map_err(|e| format!("ListClaims: {e}"))?;
                if status != 200 {
                    return Err(format!("ListClaims answered {status}: {v}"));
                }
                for c in v["claims"].as_array().into_iter().flatten() {
                    out.push(Listed {
                        claim_id: text(&c["claim_id"]),
                        encounter_no: text(&c["encounter_no"]),
                    });
                }
                token = text(&v["page"]["next_page_token"]);
                if token.is_empty() {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// GetClaim, or None when not found.
    async fn get_claim(&self, id: &str) -> Result<Option<Stored>, String> {
        let (status, v) = self
            .gw
            .try_get(&format!("/v1/claims/{id}"), self.hospital)
            .await
            .map_err(|e| format!("GetClaim: {e}"))?;
        match status {
            200 => Ok(Some(Stored {
                encounter_no: text(&v["claim"]["claim"]["encounter_no"]),
                status: text(&v["claim"]["status"]),
                pool_fen: v["claim"]["settlement"]["breakdown"]["hifp_pay_fen"]
                    .as_i64()
                    .unwrap_or(0),
            })),
            404 => Ok(None),
            s => Err(format!("GetClaim {id} answered {s}: {v}")),
        }
    }

    /// Reconciles the region's ledger for every month; failures for unbalanced months and the
    /// claims of this run among their discrepancies.
    async fn reconcile(&self, ours: &BTreeSet<String>, f: &mut Figures) {
        for month in &self.months {
            let r = self
                .gw
                .try_post(
                    "/v1/ledger:reconcile",
                    self.operator,
                    &json!({"region_code": "341522", "month": month}),
                    None,
                )
                .await;
            match r {
                Ok((200, v)) if v["balanced"] == true => {}
                Ok((200, v)) => {
                    let bad: Vec<String> = v["discrepancies"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|d| text(&d["claim_id"]))
                        .collect();
                    let of_ours = bad.iter().filter(|c| ours.contains(*c)).count();
                    f.failures.push(format!(
                        "ledger of {month} does not reconcile: {} discrepancies ({of_ours} of this run's claims)",
                        bad.len()
                    ));
                }
                Ok((s, v)) => f
                    .failures
                    .push(format!("ReconcileLedger {month} answered {s}: {v}")),
                Err(e) => f.failures.push(format!("ReconcileLedger {month}: {e}")),
            }
        }
    }

    /// Supervision's spending of the institution over the months.
    async fn supervision_spent(&self) -> Result<i64, String> {
        let mut total = 0i64;
        for month in &self.months {
            let (y, m) = month.split_once('-').unwrap_or((month, "1"));
            let path = format!(
                "/v1/supervision/budgets/{}/{y}/{}?region_code=341522",
                self.institution,
                m.trim_start_matches('0')
            );
            let (status, v) = self
                .gw
                .try_get(&path, self.operator)
                .await
                .map_err(|e| format!("GetBudgetStatus: {e}"))?;
            if status != 200 {
                return Err(format!("GetBudgetStatus answered {status}: {v}"));
            }
            total = total
                .checked_add(v["status"]["spent_in_month_fen"].as_i64().unwrap_or(0))
                .ok_or("spending overflows")?;
        }
        Ok(total)
    }

    /// Waits until supervision's spending equals `expected` (up to `catch_up`, or until it has
    /// not moved for 30 s); a failure if it never does.
    pub(crate) async fn supervision_counts(&self, expected: i64, f: &mut Figures) {
        let started = Instant::now();
        let mut last = Err(String::from("not asked"));
        let mut moved = Instant::now();
        while started.elapsed() < self.catch_up && moved.elapsed() < Duration::from_secs(30) {
            let now = self.supervision_spent().await;
            if now != last {
                moved = Instant::now();
            }
            last = now;
            if last.as_ref().is_ok_and(|v| *v == expected) {
                f.notes.push(format!(
                    "supervision counted {} fen = the basic pool of the settled claims (after {:.1} s)",
                    fen(expected),
                    started.elapsed().as_secs_f64()
                ));
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        f.failures.push(match last {
            Ok(v) => format!(
                "supervision counted {} fen of the {} fen the settled claims' basic pool paid ({:.0} s after the run, unchanged for the last {:.0} s)",
                fen(v),
                fen(expected),
                started.elapsed().as_secs_f64(),
                moved.elapsed().as_secs_f64()
            ),
            Err(e) => format!("supervision's spending could not be read: {e}"),
        });
    }

    /// All the checks of a run of claims.
    pub(crate) async fn claims(&self, record: &Record, f: &mut Figures) {
        f.count_requests(record);
        let unresolved = record.claims.values().filter(|c| c.unresolved()).count();
        if unresolved > 0 {
            let examples: Vec<String> = record
                .claims
                .values()
                .filter(|c| c.unresolved())
                .take(3)
                .map(|c| format!("{} ({})", c.encounter, c.last.trim()))
                .collect();
            f.failures.push(format!(
                "{unresolved} claims were still not answered 2xx after the faults, e.g. {}",
                examples.join("; ")
            ));
        }
        let refused: Vec<&ClaimRun> = record
            .claims
            .values()
            .filter(|c| c.refused.is_some())
            .collect();
        if let Some(c) = refused.first() {
            f.notes.push(format!(
                "{} claims refused for good, e.g. {}: {}",
                refused.len(),
                c.encounter,
                c.refused.as_ref().map(|o| o.label()).unwrap_or_default()
            ));
        }
        let listed = match self.list_claims().await {
            Ok(l) => l,
            Err(e) => {
                f.failures.push(e);
                return;
            }
        };
        let mut by_encounter: BTreeMap<&str, Vec<&Listed>> = BTreeMap::new();
        for l in &listed {
            by_encounter.entry(&l.encounter_no).or_default().push(l);
        }
        let attempted: BTreeSet<&str> = record
            .claims
            .values()
            .map(|c| c.encounter.as_str())
            .collect();
        let extra = by_encounter
            .keys()
            .filter(|e| !attempted.contains(*e))
            .count();
        if extra > 0 {
            f.failures.push(format!(
                "{extra} stored encounters were never sent by this run"
            ));
        }
        let listed_doubles: u64 = by_encounter
            .values()
            .map(|v| v.len().saturating_sub(1) as u64)
            .sum();
        let ack_doubles: u64 = record
            .claims
            .values()
            .map(|c| {
                let ids: BTreeSet<&str> = c.acks.iter().map(|a| a.claim_id.as_str()).collect();
                ids.len().saturating_sub(1) as u64
            })
            .sum();
        f.doubled = listed_doubles + ack_doubles;
        // Every stored claim of the run, read back.
        let ids: Vec<String> = listed.iter().map(|l| l.claim_id.clone()).collect();
        let stored: BTreeMap<String, Result<Option<Stored>, String>> = futures::stream::iter(ids)
            .map(|id| async move {
                let r = self.get_claim(&id).await;
                (id, r)
            })
            .buffer_unordered(32)
            .collect()
            .await;
        let mut expected_pool = 0i64;
        for (id, r) in &stored {
            match r {
                Ok(Some(c)) if c.status == "CLAIM_STATUS_SETTLED" => {
                    expected_pool = expected_pool.saturating_add(c.pool_fen);
                }
                Ok(_) => {}
                Err(e) => f.failures.push(format!("{id}: {e}")),
            }
        }
        let mut lost_examples = Vec::new();
        for c in record.claims.values().filter(|c| !c.acks.is_empty()) {
            f.acknowledged += 1;
            let ack = &c.acks[0];
            let ok = match stored.get(&ack.claim_id) {
                Some(Ok(Some(s))) => {
                    s.encounter_no == c.encounter
                        && s.status == "CLAIM_STATUS_SETTLED"
                        && s.pool_fen == ack.pool_fen
                }
                _ => false,
            };
            if ok {
                f.present += 1;
            } else if lost_examples.len() < 3 {
                lost_examples.push(format!("{} ({})", c.encounter, ack.claim_id));
            }
        }
        f.lost = f.acknowledged - f.present;
        if f.lost > 0 {
            f.failures.push(format!(
                "{} acknowledged claims are not stored as acknowledged, e.g. {}",
                f.lost,
                lost_examples.join(", ")
            ));
        }
        if f.doubled > 0 {
            f.failures.push(format!("{} claims doubled", f.doubled));
        }
        let ours: BTreeSet<String> = listed.iter().map(|l| l.claim_id.clone()).collect();
        self.reconcile(&ours, f).await;
        if expected_pool == 0 && f.acknowledged > 0 {
            // Counting zeros proves nothing about each claim being counted once.
            f.failures.push(format!(
                "the basic pool paid nothing for the {} settled claims, so supervision's count cannot be checked",
                f.acknowledged
            ));
            return;
        }
        self.supervision_counts(expected_pool, f).await;
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}
