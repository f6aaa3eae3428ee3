//! Callers settling claims through the gateway's REST API with idempotency keys, as a hospital
//! system would: each claim is sent with its encounter number as `Idempotency-Key` and sent
//! again with the same key after a refusal that may be transient (5xx, 409, no answer) until
//! it is answered 2xx or refused for good (another 4xx). Every request and every claim's
//! outcome is recorded for the checks.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use yibao_integration_tests::cluster::Cluster;
use yibao_proto::settlement::v1 as st;

/// One request's result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    /// An HTTP answer: status and the problem's `code` (empty on success).
    Status(u16, String),
    /// No answer within the client's timeout.
    Timeout,
    /// The gateway could not be reached.
    Transport(String),
}

impl Outcome {
    /// 2xx.
    pub(crate) fn ok(&self) -> bool {
        matches!(self, Outcome::Status(s, _) if (200..300).contains(s))
    }

    /// A 5xx other than 503: the server failed instead of saying it cannot serve now.
    pub(crate) fn server_error(&self) -> bool {
        matches!(self, Outcome::Status(s, _) if (500..600).contains(s) && *s != 503)
    }

    /// A refusal worth retrying with the same key.
    fn transient(&self) -> bool {
        match self {
            Outcome::Status(s, _) => *s >= 500 || *s == 409 || *s == 429,
            Outcome::Timeout | Outcome::Transport(_) => true,
        }
    }

    /// How it is counted in the table.
    pub(crate) fn label(&self) -> String {
        match self {
            Outcome::Status(s, code) if code.is_empty() => s.to_string(),
            Outcome::Status(s, code) => format!("{s} {code}"),
            Outcome::Timeout => "no answer (client timeout)".into(),
            Outcome::Transport(_) => "gateway unreachable".into(),
        }
    }
}

/// One request.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    /// When it was sent, from the start of the run.
    pub(crate) sent: Duration,
    /// How long the answer took.
    pub(crate) took: Duration,
    /// Its result.
    pub(crate) outcome: Outcome,
}

/// A 2xx answer to a settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ack {
    /// Claim id.
    pub(crate) claim_id: String,
    /// The basic pool's payment (hifp_pay_fen).
    pub(crate) pool_fen: i64,
}

/// What became of one claim.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRun {
    /// Its encounter number (also its idempotency key).
    pub(crate) encounter: String,
    /// The request body.
    pub(crate) body: Value,
    /// Every 2xx answer (more than one distinct claim id would be a double).
    pub(crate) acks: Vec<Ack>,
    /// Refused for good (a 4xx other than 409/429).
    pub(crate) refused: Option<Outcome>,
    /// The last answer's label and detail.
    pub(crate) last: String,
}

impl ClaimRun {
    fn new(encounter: String, body: Value) -> ClaimRun {
        ClaimRun {
            encounter,
            body,
            acks: Vec::new(),
            refused: None,
            last: String::new(),
        }
    }

    /// Neither acknowledged nor refused for good yet.
    pub(crate) fn unresolved(&self) -> bool {
        self.acks.is_empty() && self.refused.is_none()
    }
}

/// What a run records.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// Every request.
    pub(crate) reqs: Vec<Req>,
    /// Every claim, by its number in the run.
    pub(crate) claims: BTreeMap<u64, ClaimRun>,
    /// The first answer's `detail` (or the client's error) of each refusal label.
    pub(crate) examples: BTreeMap<String, String>,
}

impl Record {
    /// Requests sent within `[from, to)`.
    pub(crate) fn sent_within(&self, from: Duration, to: Duration) -> impl Iterator<Item = &Req> {
        self.reqs
            .iter()
            .filter(move |r| r.sent >= from && r.sent < to)
    }

    /// Counts of the requests' outcomes other than 2xx, by label.
    pub(crate) fn refusals(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for r in self.reqs.iter().filter(|r| !r.outcome.ok()) {
            *m.entry(r.outcome.label()).or_insert(0) += 1;
        }
        m
    }
}

/// The REST body of a settlement, from the load generator's claim (the fields it sets; items
/// declare no class, which procurement's catalogue decides).
pub(crate) fn claim_json(c: &st::Claim) -> Value {
    let name = |v: i32, f: fn(i32) -> Option<&'static str>| f(v).unwrap_or("").to_string();
    let kind = |v| st::EncounterKind::try_from(v).ok().map(|k| k.as_str_name());
    let items: Vec<Value> = c
        .items
        .iter()
        .map(|i| {
            json!({"national_code": i.national_code, "name": i.name,
                   "quantity": i.quantity, "unit_price_fen": i.unit_price_fen, "amount_fen": i.amount_fen})
        })
        .collect();
    json!({"claim": {
        "institution_code": c.institution_code, "encounter_no": c.encounter_no, "id_number": c.id_number,
        "insured_region_code": c.insured_region_code, "kind": name(c.kind, kind),
        "attending_physician_code": c.attending_physician_code,
        "start_date": c.start_date, "end_date": c.end_date, "diagnoses": c.diagnoses, "items": items,
    }})
}

/// Sends one settlement; the outcome, on 2xx the acknowledgement, else the refusal's detail.
pub(crate) async fn settle_once(
    gw: &Cluster,
    token: &str,
    claim: &ClaimRun,
    started: Instant,
    record: &Mutex<Record>,
) -> (Outcome, Option<Ack>, String) {
    let sent = started.elapsed();
    let t = Instant::now();
    let res = gw
        .try_post(
            "/v1/claims:settle",
            token,
            &claim.body,
            Some(&claim.encounter),
        )
        .await;
    let took = t.elapsed();
    let mut detail = String::new();
    let (outcome, ack) = match res {
        Ok((status, body)) if (200..300).contains(&status) => (
            Outcome::Status(status, String::new()),
            Some(Ack {
                claim_id: body["claim_id"].as_str().unwrap_or_default().to_string(),
                pool_fen: body["settlement"]["breakdown"]["hifp_pay_fen"]
                    .as_i64()
                    .unwrap_or(0),
            }),
        ),
        Ok((status, body)) => {
            detail = body["detail"].as_str().unwrap_or("").to_string();
            (
                Outcome::Status(status, body["code"].as_str().unwrap_or("").to_string()),
                None,
            )
        }
        Err(e) if e.is_timeout() => (Outcome::Timeout, None),
        Err(e) => {
            detail = e.to_string();
            (Outcome::Transport(detail.clone()), None)
        }
    };
    if let Ok(mut r) = record.lock() {
        if !outcome.ok() && !detail.is_empty() {
            r.examples
                .entry(outcome.label())
                .or_insert_with(|| detail.clone());
        }
        r.reqs.push(Req {
            sent,
            took,
            outcome: outcome.clone(),
        });
    }
    (outcome, ack, detail)
}

/// Sends `claim` until it is answered 2xx or refused for good; gives up (leaving it
/// unresolved) after a few tries once `stop` is set, or after `max_tries`.
pub(crate) async fn settle_until_answered(
    gw: &Cluster,
    token: &str,
    claim: &mut ClaimRun,
    started: Instant,
    record: &Mutex<Record>,
    stop: &AtomicBool,
    max_tries: u32,
) {
    for attempt in 0..max_tries {
        let (outcome, ack, detail) = settle_once(gw, token, claim, started, record).await;
        claim.last = format!("{} {detail}", outcome.label());
        if let Some(a) = ack {
            claim.acks.push(a);
            return;
        }
        if !outcome.transient() {
            claim.refused = Some(outcome);
            return;
        }
        if stop.load(Ordering::Relaxed) && attempt >= 3 {
            return;
        }
        let backoff = 50u64.saturating_mul(1 << attempt.min(5)).min(1_000);
        tokio::time::sleep(Duration::from_millis(backoff)).await;
    }
}

/// Callers settling new claims until stopped.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<(u64, ClaimRun)>>>,
    record: Arc<Mutex<Record>>,
    /// When the run started (requests' `sent` count from here).
    pub(crate) started: Instant,
}

/// What the callers settle.
#[derive(Clone)]
pub(crate) struct Workload {
    /// Gateways; caller k uses gateways[k % len].
    pub(crate) gateways: Vec<Cluster>,
    /// The hospital's token.
    pub(crate) token: String,
    /// The institution the claims are of.
    pub(crate) institution: String,
    /// Encounter numbers start with this.
    pub(crate) prefix: String,
    /// ID numbers of the enrolled people.
    pub(crate) people: Arc<Vec<String>>,
    /// Items per claim.
    pub(crate) items: u64,
}

impl Workload {
    /// Claim number `n` of the run.
    pub(crate) fn claim(&self, n: u64) -> ClaimRun {
        let person = &self.people[(n as usize) % self.people.len().max(1)];
        self.claim_of(&format!("{}-{n:06}", self.prefix), person, None)
    }

    /// A claim of `person` with this encounter number, over `stay` (admission, discharge)
    /// when given, else the load generator's last days.
    pub(crate) fn claim_of(
        &self,
        encounter: &str,
        person: &str,
        stay: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    ) -> ClaimRun {
        let mut c = crate::settle::settle_claim(encounter.to_string(), person, self.items);
        c.institution_code = self.institution.clone();
        c.attending_physician_code = yibao_integration_tests::physician_of(&self.institution);
        if let Some((from, to)) = stay {
            c.start_date = from.to_string();
            c.end_date = to.to_string();
        }
        ClaimRun::new(encounter.to_string(), claim_json(&c))
    }
}

impl Load {
    /// Starts `callers` callers.
    pub(crate) fn start(w: &Workload, callers: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let record = Arc::new(Mutex::new(Record::default()));
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let tasks = (0..callers)
            .map(|k| {
                let (w, stop, record, next) =
                    (w.clone(), stop.clone(), record.clone(), next.clone());
                let gw = w.gateways[(k as usize) % w.gateways.len().max(1)].clone();
                tokio::spawn(async move {
                    let mut done = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let mut claim = w.claim(n);
                        settle_until_answered(
                            &gw, &w.token, &mut claim, started, &record, &stop, 1_000,
                        )
                        .await;
                        done.push((n, claim));
                    }
                    done
                })
            })
            .collect();
        Load {
            stop,
            tasks,
            record,
            started,
        }
    }

    /// Time since the start.
    pub(crate) fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// 2xx answers so far.
    pub(crate) fn acks(&self) -> usize {
        self.record
            .lock()
            .map(|r| r.reqs.iter().filter(|q| q.outcome.ok()).count())
            .unwrap_or(0)
    }

    /// Stops the callers (each finishes or gives up its current claim) and returns the record.
    pub(crate) async fn stop(self) -> (Record, Instant) {
        self.stop.store(true, Ordering::Relaxed);
        let mut claims = BTreeMap::new();
        for t in self.tasks {
            if let Ok(done) = t.await {
                claims.extend(done);
            }
        }
        let mut record = self
            .record
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        record.claims = claims;
        (record, self.started)
    }
}

/// After the faults: every claim left unanswered is sent again with its key until it is
/// answered (as its hospital would), so that every claim of the run has a known end.
pub(crate) async fn resolve(w: &Workload, record: &mut Record, started: Instant) {
    let shared = Mutex::new(Record {
        reqs: std::mem::take(&mut record.reqs),
        claims: BTreeMap::new(),
        examples: std::mem::take(&mut record.examples),
    });
    let never = AtomicBool::new(false);
    let gw = &w.gateways[0];
    let pending: Vec<u64> = record
        .claims
        .iter()
        .filter(|(_, c)| c.unresolved())
        .map(|(n, _)| *n)
        .collect();
    for n in pending {
        if let Some(claim) = record.claims.get_mut(&n) {
            settle_until_answered(gw, &w.token, claim, started, &shared, &never, 30).await;
        }
    }
    if let Ok(r) = shared.into_inner() {
        record.reqs = r.reqs;
        record.examples = r.examples;
    }
}
