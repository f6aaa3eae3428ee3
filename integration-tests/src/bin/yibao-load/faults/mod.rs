//! `yibao-load faults`: the fault suite against a cluster of `scripts/dev-cluster.sh`, run by
//! `scripts/faults.sh` (which starts the cluster on its own PostgreSQL and Redis and does the
//! faults when asked: `scripts/faults.sh hook kill9 settlement`, `hook redis-kill`, …). Each
//! scenario settles claims of its own institution through the gateway's REST API while a
//! fault happens, then checks what was acknowledged against what is stored, the ledger and
//! supervision. One table is printed on stdout (progress goes to stderr); the exit code is 1
//! when a row fails.
//!
//! ```text
//! yibao-load faults [--short] --gateway URL [--gateway2 URL] --cluster-dir DIR --hooks PATH
//!                   [--only a,b,c,d,e,f,g] [--callers N] [--kills N] [--redis-outage S]
//!                   [--pg-outage S] [--retries N] [--replica-seconds S] [--people N]
//!                   [--pairs N]
//! ```

mod load;
mod logs;
mod table;
mod verify;

use load::{Load, Record, Workload};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use verify::{Checker, Figures};
use yibao_integration_tests::cluster::Cluster;
use yibao_runtime::Role;

/// The suite's sizes (full form; `--short` for the CI form) and where the cluster is.
#[derive(Debug, Clone)]
struct Options {
    short: bool,
    gateway: String,
    gateway2: String,
    cluster_dir: PathBuf,
    hooks: PathBuf,
    only: String,
    callers: u64,
    kills: u64,
    redis_outage: u64,
    pg_outage: u64,
    retries: u64,
    replica_seconds: u64,
    people: u64,
    pairs: u64,
}

fn text_arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

impl Options {
    fn parse() -> Options {
        let short = std::env::args().any(|a| a == "--short");
        let size = |name: &str, full: u64, short_size: u64| {
            super::arg(name, if short { short_size } else { full })
        };
        Options {
            short,
            gateway: text_arg("--gateway", "http://127.0.0.1:8088"),
            gateway2: text_arg("--gateway2", "http://127.0.0.1:8089"),
            cluster_dir: PathBuf::from(text_arg("--cluster-dir", "data/dev-cluster")),
            hooks: PathBuf::from(text_arg("--hooks", "scripts/faults.sh")),
            only: text_arg("--only", "a,b,c,d,e,f,g"),
            callers: size("--callers", 64, 16),
            kills: size("--kills", 20, 3),
            redis_outage: size("--redis-outage", 30, 5),
            pg_outage: size("--pg-outage", 10, 5),
            retries: size("--retries", 10_000, 1_000),
            replica_seconds: size("--replica-seconds", 30, 10),
            people: size("--people", 2_000, 200),
            pairs: size("--pairs", 30, 10),
        }
    }

    fn wants(&self, row: &str) -> bool {
        self.only.split(',').any(|r| r.trim() == row)
    }
}

/// The faults, done by `scripts/faults.sh hook …`.
struct Hooks(PathBuf);

impl Hooks {
    async fn run(&self, args: &[&str]) -> Result<Duration, String> {
        let program = self.0.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let what = args.join(" ");
        let started = Instant::now();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(&program)
                .arg("hook")
                .args(&args)
                .output()
        })
        .await
        .map_err(|e| format!("hook {what}: {e}"))?
        .map_err(|e| format!("hook {what}: {e}"))?;
        let took = started.elapsed();
        progress(&format!("hook {what}: {:.1} s", took.as_secs_f64()));
        if out.status.success() {
            Ok(took)
        } else {
            Err(format!(
                "hook {what} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn progress(line: &str) {
    let t = STARTED.get_or_init(Instant::now).elapsed().as_secs();
    eprintln!("==> [{:02}:{:02}] {line}", t / 60, t % 60);
}

/// The cluster, the people and the tokens every scenario uses.
struct Ctx {
    opts: Options,
    gw: Cluster,
    operator: String,
    people: Arc<Vec<String>>,
    pair_people: Vec<String>,
    hooks: Hooks,
    year: i32,
}

/// A row of the table.
pub(crate) struct Row {
    name: String,
    figures: Figures,
}

fn month_now() -> String {
    chrono::Local::now().format("%Y-%m").to_string()
}

impl Ctx {
    async fn setup(opts: Options) -> Result<Ctx, String> {
        // The gateway's deadline is 10 s; a caller waits a little longer before calling it a hang.
        let gw = Cluster::new(&opts.gateway, &opts.cluster_dir, Duration::from_secs(15))?;
        let operator = gw.token_for(Role::Operator, "", "341522", 6 * 3600);
        let addr: std::net::SocketAddr = opts
            .gateway
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| format!("--gateway {}: {e}", opts.gateway))?;
        yibao::demo::carry_policy(addr, &operator)
            .await
            .map_err(|e| format!("this year's policy: {e}"))?;
        yibao::demo::load_registry(addr, &operator)
            .await
            .map_err(|e| format!("the demo registry: {e}"))?;
        // Items are classified and priced by procurement's catalogue: the province's demo one.
        let province = gw.token_for(Role::Operator, "", yibao_procurement::demo::REGION, 600);
        let body = json!({"region_code": yibao_procurement::demo::REGION, "csv_text": yibao_procurement::demo::CATALOGUE_CSV});
        match gw
            .try_post("/v1/procurement/catalogue:import", &province, &body, None)
            .await
        {
            Ok((200, _)) => {}
            Ok((s, v)) => return Err(format!("the demo catalogue: {s} {v}")),
            Err(e) => return Err(format!("the demo catalogue: {e}")),
        }
        // The load's people, then 2 × `pairs` people of the split-hospitalisation pairs alone.
        let extra = 2 * opts.pairs;
        progress(&format!("enrolling {} people", opts.people + extra));
        let mut people = super::seed_people(&gw, &operator, opts.people + extra).await;
        let pair_people = people.split_off(people.len().saturating_sub(extra as usize));
        Ok(Ctx {
            hooks: Hooks(opts.hooks.clone()),
            opts,
            gw,
            operator,
            people: Arc::new(people),
            pair_people,
            year: crate::this_year(),
        })
    }

    /// A workload of its own institution (`H3415229000k`) with a budget set, so that
    /// supervision's spending of the institution is this scenario's alone.
    async fn workload(&self, k: u32, gateways: Vec<Cluster>) -> Result<Workload, String> {
        let institution = format!("H3415229{k:04}");
        let (status, v) = self
            .gw
            .try_request(
                reqwest::Method::PUT,
                &format!("/v1/supervision/budgets/{institution}/{}", self.year),
                &self.operator,
                Some(&json!({"region_code": "341522", "annual_budget_fen": 10_000_000_000_000i64})),
                None,
            )
            .await
            .map_err(|e| format!("SetBudget: {e}"))?;
        if status != 200 {
            return Err(format!("SetBudget {institution} answered {status}: {v}"));
        }
        // In the registry (a county hospital with an agreement) with its physician.
        let physician = yibao_integration_tests::physician_of(&institution);
        for (path, csv) in [
            (
                "/v1/institutions:import",
                format!(
                    "institution_code,name,kind,grade,tier,effective_from,agreement_no,agreement_from,agreement_to,schemes,service_kinds\n\
                     {institution},故障演练医院 {k},hospital,2,county,2000-01-01,F-{k},2000-01-01,2099-12-31,resident;employee,inpatient;outpatient;chronic\n"
                ),
            ),
            (
                "/v1/physicians:import",
                format!(
                    "physician_code,name,institution_code\n{physician},演练医师,{institution}\n"
                ),
            ),
        ] {
            let (status, v) = self
                .gw
                .try_request(
                    reqwest::Method::POST,
                    path,
                    &self.operator,
                    Some(&json!({"region_code": "341522", "csv": csv})),
                    None,
                )
                .await
                .map_err(|e| format!("{path}: {e}"))?;
            if status != 200 || v["stored"] != json!(true) {
                return Err(format!("{path} for {institution} answered {status}: {v}"));
            }
        }
        Ok(Workload {
            gateways,
            token: self
                .gw
                .token_for(Role::Hospital, &institution, "", 6 * 3600),
            institution,
            prefix: format!("F{k}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            people: self.people.clone(),
            items: 5,
        })
    }

    fn checker<'a>(&'a self, w: &'a Workload, first_month: String) -> Checker<'a> {
        let mut months = vec![first_month, month_now()];
        months.dedup();
        Checker {
            gw: &self.gw,
            hospital: &w.token,
            operator: &self.operator,
            institution: &w.institution,
            months,
            catch_up: Duration::from_secs(120),
        }
    }

    async fn sleep(&self, secs: u64) {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }

    /// Stops the callers, answers what is left, checks.
    async fn finish(&self, w: &Workload, load: Load, month: String, f: &mut Figures) -> Record {
        let (mut record, started) = load.stop().await;
        progress(&format!(
            "{} claims sent, {} requests; answering the rest and checking",
            record.claims.len(),
            record.reqs.len()
        ));
        load::resolve(w, &mut record, started).await;
        self.checker(w, month).claims(&record, f).await;
        record
    }

    /// a. settlement killed with SIGKILL `kills` times under load.
    async fn kill_settlement(&self) -> Result<Figures, String> {
        let w = self.workload(1, vec![self.gw.clone()]).await?;
        let month = month_now();
        let mut f = Figures::default();
        let load = Load::start(&w, self.opts.callers);
        self.sleep(3).await;
        let mut restarts = Vec::new();
        for k in 0..self.opts.kills {
            progress(&format!(
                "kill -9 settlement ({} of {})",
                k + 1,
                self.opts.kills
            ));
            if let Err(e) = self.hooks.run(&["kill9", "settlement"]).await {
                f.failures.push(e);
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            match self.hooks.run(&["start", "settlement"]).await {
                Ok(t) => restarts.push(t),
                Err(e) => {
                    f.failures.push(e);
                    break;
                }
            }
            self.sleep(3).await;
        }
        self.finish(&w, load, month, &mut f).await;
        let max = restarts.iter().max().copied().unwrap_or_default();
        f.notes.push(format!(
            "{} kills under {} callers; settlement listened again within {:.1} s of each start",
            restarts.len(),
            self.opts.callers,
            max.as_secs_f64()
        ));
        Ok(f)
    }

    /// b. Redis killed for `redis_outage` s under load, started again empty or with its data.
    async fn kill_redis(&self, empty: bool) -> Result<Figures, String> {
        let w = self
            .workload(if empty { 2 } else { 3 }, vec![self.gw.clone()])
            .await?;
        let month = month_now();
        let mut f = Figures::default();
        let load = Load::start(&w, self.opts.callers);
        self.sleep(3).await;
        let from = load.now();
        let killed = self.hooks.run(&["redis-kill"]).await;
        if let Err(e) = killed {
            f.failures.push(e);
        }
        self.sleep(self.opts.redis_outage).await;
        let how = if empty { "empty" } else { "data" };
        if let Err(e) = self.hooks.run(&["redis-start", how]).await {
            f.failures.push(e);
        }
        let to = load.now();
        self.sleep(if self.opts.short { 5 } else { 10 }).await;
        let record = self.finish(&w, load, month, &mut f).await;
        // Sent while Redis was down (and in the 2 s after it was back).
        let during: Vec<_> = record
            .sent_within(from, to + Duration::from_secs(2))
            .collect();
        let settled = during.iter().filter(|r| r.outcome.ok()).count();
        let refused = during.len() - settled;
        f.notes.push(format!(
            "while Redis was down ({:.0} s): {settled} settlements answered 2xx, {refused} refused",
            (to - from).as_secs_f64()
        ));
        if settled == 0 {
            f.failures
                .push("nothing was settled while Redis was down".into());
        }
        if refused > 0 {
            f.failures.push(format!(
                "{refused} settlements were refused while Redis was down: settlement did not keep settling"
            ));
        }
        Ok(f)
    }

    /// c. PostgreSQL stopped for `pg_outage` s under load and started again.
    async fn restart_postgres(&self) -> Result<Figures, String> {
        let w = self.workload(4, vec![self.gw.clone()]).await?;
        let month = month_now();
        let mut f = Figures::default();
        let load = Load::start(&w, self.opts.callers);
        self.sleep(3).await;
        let from = load.now();
        if let Err(e) = self.hooks.run(&["pg-stop"]).await {
            f.failures.push(e);
        }
        self.sleep(self.opts.pg_outage).await;
        if let Err(e) = self.hooks.run(&["pg-start"]).await {
            f.failures.push(e);
        }
        let to = load.now();
        // Recovery: the first settlement answered 2xx after PostgreSQL is back.
        let before = load.acks();
        let waited = Instant::now();
        while load.acks() == before && waited.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let recovered = load.acks() > before;
        let recovery = waited.elapsed();
        self.sleep(if self.opts.short { 5 } else { 10 }).await;
        let record = self.finish(&w, load, month, &mut f).await;
        let during: Vec<_> = record.sent_within(from, to).collect();
        let slowest = during.iter().map(|r| r.took).max().unwrap_or_default();
        let refused = during.iter().filter(|r| !r.outcome.ok()).count();
        f.notes.push(format!(
            "while PostgreSQL was down ({:.0} s): {refused} of {} settlements refused, the slowest answer in {:.1} s; settling again {:.1} s after it was back",
            (to - from).as_secs_f64(),
            during.len(),
            slowest.as_secs_f64(),
            recovery.as_secs_f64()
        ));
        if !recovered {
            f.failures
                .push("no settlement succeeded within 60 s of PostgreSQL's return".into());
        }
        Ok(f)
    }

    /// d. One settlement sent `retries` times with one key, 100 at a time.
    async fn retry_one(&self) -> Result<Figures, String> {
        let w = self.workload(5, vec![self.gw.clone()]).await?;
        let month = month_now();
        let mut f = Figures::default();
        let claim = Arc::new(w.claim(0));
        let record = Arc::new(std::sync::Mutex::new(Record::default()));
        let started = Instant::now();
        let per_caller = self.opts.retries.div_ceil(100);
        let tasks: Vec<_> = (0..100u64)
            .map(|k| {
                let (w, claim, record) = (w.clone(), claim.clone(), record.clone());
                let n = per_caller.min(self.opts.retries.saturating_sub(k * per_caller));
                tokio::spawn(async move {
                    let mut acks = Vec::new();
                    for _ in 0..n {
                        let (_, ack, _) =
                            load::settle_once(&w.gateways[0], &w.token, &claim, started, &record)
                                .await;
                        acks.extend(ack);
                    }
                    acks
                })
            })
            .collect();
        let mut run = (*claim).clone();
        for t in tasks {
            if let Ok(acks) = t.await {
                run.acks.extend(acks);
            }
        }
        let mut record = record
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        let answered = run.acks.len();
        let ids: std::collections::BTreeSet<&str> =
            run.acks.iter().map(|a| a.claim_id.as_str()).collect();
        f.notes.push(format!(
            "{} requests, {answered} answered 2xx with {} claim id(s)",
            record.reqs.len(),
            ids.len()
        ));
        record.claims.insert(0, run);
        load::resolve(&w, &mut record, started).await;
        self.checker(&w, month).claims(&record, &mut f).await;
        Ok(f)
    }

    /// e. Two replicas of every process (services and gateway) on the same databases and
    /// Redis; the callers alternate between the two gateways. Split-hospitalisation pairs (a
    /// readmission 7 days after discharge, one pair per person) are settled before the second
    /// replicas start and again under load with them, and supervision must find each pair
    /// once either way.
    async fn two_replicas(&self) -> Result<Figures, String> {
        let mut f = Figures::default();
        let gw2 = self.gw.via(&self.opts.gateway2);
        let half = self.pair_people.len() / 2;
        let (one, two) = self.pair_people.split_at(half);
        let single = match self.settle_pairs(7, vec![self.gw.clone()], one).await {
            Ok(w) => Ok((
                w.institution.clone(),
                self.count_pairs(&w.institution, one.len()).await,
            )),
            Err(e) => Err(e),
        };
        self.hooks.run(&["replicas-up"]).await?;
        let w = self.workload(6, vec![self.gw.clone(), gw2.clone()]).await?;
        let month = month_now();
        let load = Load::start(&w, self.opts.callers);
        let double = self
            .settle_pairs(8, vec![self.gw.clone(), gw2], two)
            .await
            .map(|w| w.institution);
        self.sleep(self.opts.replica_seconds).await;
        let record = self.finish(&w, load, month, &mut f).await;
        f.notes.push(format!(
            "{} callers alternating over 2 gateways for {} s: {} requests",
            self.opts.callers,
            self.opts.replica_seconds,
            record.reqs.len()
        ));
        let double = match double {
            Ok(inst) => Ok((inst.clone(), self.count_pairs(&inst, two.len()).await)),
            Err(e) => Err(e),
        };
        for (label, pairs, r) in [
            ("1 replica", one.len(), single),
            ("2 replicas", two.len(), double),
        ] {
            match r {
                Ok((_, Ok(found))) => {
                    f.notes.push(format!(
                        "split hospitalisation, {label}: {found} findings for {pairs} pairs"
                    ));
                    if found != pairs as u64 {
                        f.failures.push(format!(
                            "with {label} supervision found {found} split hospitalisations of {pairs}"
                        ));
                    }
                }
                Ok((_, Err(e))) | Err(e) => f
                    .failures
                    .push(format!("split hospitalisation, {label}: {e}")),
            }
        }
        Ok(f)
    }

    /// Settles a split-hospitalisation pair for each of `people` at institution `k` (the
    /// claims alternating over `gateways`); the workload of that institution.
    async fn settle_pairs(
        &self,
        k: u32,
        gateways: Vec<Cluster>,
        people: &[String],
    ) -> Result<Workload, String> {
        let w = self.workload(k, gateways).await?;
        let today = chrono::Local::now().date_naive();
        let day = |n: u64| {
            today
                .checked_sub_days(chrono::Days::new(n))
                .filter(|d| chrono::Datelike::year(d) == chrono::Datelike::year(&today))
                .ok_or("the pairs' stays (20 days back) would fall in last year")
        };
        let stays = [(day(20)?, day(17)?), (day(10)?, day(7)?)];
        let record = std::sync::Mutex::new(Record::default());
        let never = std::sync::atomic::AtomicBool::new(false);
        let started = Instant::now();
        for (i, person) in people.iter().enumerate() {
            for (j, stay) in stays.iter().enumerate() {
                let gw = &w.gateways[(i + j) % w.gateways.len()];
                let mut claim = w.claim_of(&format!("{}-p{i}-{j}", w.prefix), person, Some(*stay));
                load::settle_until_answered(gw, &w.token, &mut claim, started, &record, &never, 30)
                    .await;
                if claim.acks.is_empty() {
                    return Err(format!(
                        "the pair's claim {} was not settled: {:?}",
                        claim.encounter, claim.refused
                    ));
                }
            }
        }
        Ok(w)
    }

    /// Supervision's split-hospitalisation findings at `institution`, once there are
    /// `pairs` of them or after 120 s (less when the count stops moving for 30 s).
    async fn count_pairs(&self, institution: &str, pairs: usize) -> Result<u64, String> {
        let pairs = pairs as u64;
        let (mut found, mut moved, waited) = (0, Instant::now(), Instant::now());
        loop {
            let now = self
                .findings(institution, "RULE_CODE_SPLIT_HOSPITALISATION")
                .await?;
            if now != found {
                moved = Instant::now();
            }
            found = now;
            if found == pairs
                || waited.elapsed() > Duration::from_secs(120)
                || moved.elapsed() > Duration::from_secs(30)
            {
                return Ok(found);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// How many findings of `rule` supervision lists for `institution`.
    async fn findings(&self, institution: &str, rule: &str) -> Result<u64, String> {
        let (mut count, mut token) = (0u64, String::new());
        loop {
            let path = format!(
                "/v1/supervision/findings?region_code=341522&institution_code={institution}&rule_code={rule}&page.page_size=1000&page.page_token={token}"
            );
            let (status, v) = self
                .gw
                .try_get(&path, &self.operator)
                .await
                .map_err(|e| format!("ListFindings: {e}"))?;
            if status != 200 {
                return Err(format!("ListFindings answered {status}: {v}"));
            }
            count += v["findings"].as_array().map_or(0, |a| a.len() as u64);
            token = v["page"]["next_page_token"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if token.is_empty() {
                return Ok(count);
            }
        }
    }
}

/// Runs the suite; the exit code.
pub(crate) async fn run() -> i32 {
    let opts = Options::parse();
    progress(&format!(
        "fault suite ({} form) against {}",
        if opts.short { "short" } else { "full" },
        opts.gateway
    ));
    let ctx = match Ctx::setup(opts.clone()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("faults: set-up failed: {e}");
            return 2;
        }
    };
    let o = &ctx.opts;
    let mut rows = Vec::new();
    let mut push = |name: String, r: Result<Figures, String>| {
        let figures = r.unwrap_or_else(|e| Figures {
            failures: vec![e],
            ..Figures::default()
        });
        rows.push(Row { name, figures });
    };
    if o.wants("a") {
        progress("a. kill -9 settlement under load");
        let name = format!(
            "a. settlement kill -9 ×{} under {} callers",
            o.kills, o.callers
        );
        push(name, ctx.kill_settlement().await);
    }
    if o.wants("b") {
        for empty in [true, false] {
            let how = if empty { "empty" } else { "with its data" };
            progress(&format!("b. Redis down, back {how}"));
            let name = format!("b. Redis down {} s, back {how}", o.redis_outage);
            push(name, ctx.kill_redis(empty).await);
        }
    }
    if o.wants("c") {
        progress("c. PostgreSQL restarted under load");
        let name = format!("c. PostgreSQL down {} s under load", o.pg_outage);
        push(name, ctx.restart_postgres().await);
    }
    if o.wants("d") {
        progress("d. one settlement retried with one key");
        let name = format!("d. one settlement ×{}, one key, 100 at a time", o.retries);
        push(name, ctx.retry_one().await);
    }
    if o.wants("e") {
        progress("e. two replicas of every process");
        let name = format!("e. 2 replicas of every process, {} callers", o.callers);
        push(name, ctx.two_replicas().await);
    }
    if o.wants("f") {
        progress("f. ID numbers in the logs");
        push(
            "f. ID numbers in clear in the logs".into(),
            Ok(logs::scan(
                &o.cluster_dir,
                &[ctx.people.as_slice(), ctx.pair_people.as_slice()].concat(),
            )),
        );
    }
    if o.wants("g") {
        let bin_dir = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
            .unwrap_or_default();
        progress("g. schemathesis");
        if let Some(r) = table::schemathesis(&bin_dir, o.short).await {
            push("g. schemathesis (scripts/schemathesis.sh)".into(), r);
        }
    }
    table::print(&rows);
    i32::from(rows.iter().any(|r| !r.figures.failures.is_empty()))
}
