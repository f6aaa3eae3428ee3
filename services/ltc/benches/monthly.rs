//! Monthly LTC settlement of 100,000 beneficiaries' service records, through the use case
//! `SettleMonth` runs (`app::Ltc::settle_month`, without the network: no enrollment, no relay): SQLite always, PostgreSQL too when
//! `YIBAO_TEST_DATABASE_URL` is set. Prints seconds.
//!
//! The month (October 2026) is seeded in SQL (not timed): 100,000 beneficiaries of Jiaozhou at
//! levels 3–5 placed with 29 institutions (seed 001); 60% in institutional care with a bed-day
//! record every day of the month (31), 40% visited by village clinics every fourth day (7 visits);
//! amounts vary so that some months hit the 3,450-yuan cap. About 2.1 million records.
//!
//! `cargo bench -p yibao-ltc --bench monthly` (optimised), or
//! `cargo test -p yibao-ltc --bench monthly` to run it in the test profile;
//! `YIBAO_BENCH_SKIP_SQLITE=1` skips SQLite.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_ltc::app::{AppError, Credentials, EligibilityAnswer, Enrollment, Ltc};
use yibao_ltc::domain::Month;
use yibao_ltc::domain::policy::BenefitPolicy;
use yibao_ltc::domain::registry::{Agreement, InstitutionFile, ServiceKind};
use yibao_ltc::store::{Store, sql};
use yibao_runtime::{Caller, Role};

/// Settlement asks enrollment only for the institution's registry file; the bench answers it
/// in process: every institution holds an LTC agreement for the year.
#[derive(Debug)]
struct NoEnrollment;

#[tonic::async_trait]
impl Enrollment for NoEnrollment {
    async fn check_eligibility(
        &self,
        _: &Credentials,
        _: &str,
        _: chrono::NaiveDate,
    ) -> Result<EligibilityAnswer, AppError> {
        Err(AppError::EnrollmentUnavailable("not in the bench".into()))
    }

    async fn institution(
        &self,
        _: &Credentials,
        _: &InstitutionCode,
    ) -> Result<Option<InstitutionFile>, AppError> {
        let day = |m, d| chrono::NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default();
        Ok(Some(InstitutionFile {
            versions_from: vec![day(1, 1)],
            agreements: vec![Agreement {
                agreement_no: "BENCH-LTC".into(),
                valid_from: day(1, 1),
                valid_to: day(12, 31),
                services: vec![ServiceKind::Ltc],
            }],
            status_changes: vec![],
        }))
    }
}

const BENEFICIARIES: i64 = 100_000;
const INSTITUTIONS: i64 = 29;
/// Settlement runs in flight at once (`YIBAO_BENCH_CONCURRENT_RUNS`, default 4).
fn concurrent_runs() -> usize {
    std::env::var("YIBAO_BENCH_CONCURRENT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(4)
}

fn seed_sql(postgres: bool) -> Vec<String> {
    // Generators: integers 1..=N and days 1..=31, in each dialect.
    let (ben, days, inst, date, lvl) = if postgres {
        (
            format!("generate_series(1, {BENEFICIARIES}) AS n(i)"),
            "generate_series(1, 31) AS dd(d)".to_string(),
            format!("'H370281' || lpad(((i % {INSTITUTIONS}) + 1)::text, 5, '0')"),
            "to_char(date '2026-10-01' + (d - 1), 'YYYY-MM-DD')".to_string(),
            "(3 + i % 3)::int".to_string(),
        )
    } else {
        (
            "n".to_string(),
            "dd".to_string(),
            format!("'H370281' || printf('%05d', (i % {INSTITUTIONS}) + 1)"),
            "date('2026-10-01', '+' || (d - 1) || ' days')".to_string(),
            "3 + i % 3".to_string(),
        )
    };
    let with = if postgres {
        String::new()
    } else {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {BENEFICIARIES}), dd(d) AS (SELECT 1 UNION ALL SELECT d + 1 FROM dd WHERE d < 31) "
        )
    };
    vec![
        format!("INSERT INTO ltc_beneficiaries (id, person_id, id_number, name, region_code, reassessment_due, created_at) {with}SELECT 'b' || i, 'p' || i, '', 'bench', '370281', '2027-09-01', '2026-09-01T00:00:00Z' FROM {ben}"),
        format!("INSERT INTO ltc_levels (beneficiary_id, application_id, level, dementia, effective_from, decided_on) {with}SELECT 'b' || i, 'a' || i, {lvl}, 0, '2026-09-01', '2026-09-01' FROM {ben}"),
        format!(
            "INSERT INTO ltc_care_plans (id, beneficiary_id, institution_code, care_type, start_date, end_date, actor, role, at) {with}SELECT 'c' || i, 'b' || i, {inst}, CASE WHEN i % 5 < 3 THEN 'institutional' ELSE 'visiting' END, '2026-09-01', NULL, 'bench', 'operator', '2026-09-01T00:00:00Z' FROM {ben}"
        ),
        format!(
            "INSERT INTO ltc_records (institution_code, record_no, beneficiary_id, region_code, care_type, service_date, month, units, amount_fen, items_json, status, flag_code, revision, uploaded_at) {with}
             SELECT {inst}, 'r' || i || '-' || d, 'b' || i, '370281', CASE WHEN i % 5 < 3 THEN 'institutional' ELSE 'visiting' END, {date}, '2026-10', 1,
                    CASE WHEN i % 5 < 3 THEN 11000 + (i % 7) * 1000 ELSE 4000 + (i % 3) * 1500 END, '[]', 'accepted', '', i * 100 + d, '2026-11-01T00:00:00Z'
             FROM {ben}, {days} WHERE i % 5 < 3 OR d % 4 = 0"
        ),
        "UPDATE ltc_counters SET value = (SELECT MAX(revision) FROM ltc_records) WHERE name = 'record_revision'".to_string(),
    ]
}

/// Seeds the month in SQL (not timed) and brings the statistics up to date; returns the
/// number of records.
async fn seed(store: &Store, postgres: bool, label: &str) -> Result<i64, String> {
    let seeded = Instant::now();
    for s in seed_sql(postgres) {
        sql::exec(store.db(), &s, vec![])
            .await
            .map_err(|e| format!("seed: {e}"))?;
    }
    // Statistics and the visibility map, as autovacuum (PostgreSQL) or a periodic ANALYZE (SQLite)
    // keep them in service.
    sql::exec(
        store.db(),
        if postgres {
            "VACUUM ANALYZE"
        } else {
            "ANALYZE"
        },
        vec![],
    )
    .await
    .map_err(|e| format!("analyze: {e}"))?;
    let records = sql::one(store.db(), "SELECT COUNT(*) AS n FROM ltc_records", vec![])
        .await
        .map_err(|e| e.to_string())?
        .map(|r| sql::int(&r, "n"))
        .transpose()
        .map_err(|e| e.to_string())?
        .unwrap_or(0);
    println!(
        "{label}: seeded {BENEFICIARIES} beneficiaries, {records} records in {:.1} s (not timed)",
        seeded.elapsed().as_secs_f64()
    );
    Ok(records)
}

async fn run(label: &str, url: String) -> Result<(), String> {
    let cfg = yibao_runtime::config::DatabaseConfig {
        url,
        max_connections: 8,
    };
    let db = yibao_runtime::db::connect_and_migrate::<yibao_ltc::store::migration::Migrator>(&cfg)
        .await
        .map_err(|e| e.to_string())?;
    let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let store = Store::new(db);
    let ltc = Ltc::new(store.clone(), Arc::new(NoEnrollment), None);
    let actor = Caller {
        subject: "bench".into(),
        role: Role::Admin,
        org: String::new(),
        region: None,
    };
    let city = RegionCode::parse("370200").map_err(|e| e.to_string())?;
    ltc.upload_policy(&actor, &city, 2026, &BenefitPolicy::qingdao_default())
        .await
        .map_err(|e| e.to_string())?;
    let records = seed(&store, postgres, label).await?;

    let month = Month {
        year: 2026,
        month: 10,
    };
    let started = Instant::now();
    // Institutions settle their month independently, as their operators' requests arrive: up
    // to `CONCURRENT_RUNS` runs at once (a person placed with two institutions is locked by
    // both runs, so the monthly cap holds). SQLite's one writer runs them one after the other.
    let next = Arc::new(AtomicI64::new(1));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrent_runs() {
        let (ltc, actor, next) = (ltc.clone(), actor.clone(), next.clone());
        workers.spawn(async move {
            let mut runs = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k > INSTITUTIONS {
                    return Ok::<_, String>(runs);
                }
                let inst =
                    InstitutionCode::parse(&format!("H370281{k:05}")).map_err(|e| e.to_string())?;
                let (run, _) = ltc
                    .settle_month(&actor, &None, &inst, month, &format!("bench-{inst}"))
                    .await
                    .map_err(|e| format!("{inst}: {e}"))?;
                runs.push(run);
            }
        });
    }
    let mut runs = Vec::new();
    while let Some(done) = workers.join_next().await {
        runs.extend(done.map_err(|e| e.to_string())??);
    }
    let (mut lines, mut billed, mut fund, mut person, mut capped_lines) =
        (0usize, 0i64, 0i64, 0i64, 0usize);
    for run in &runs {
        lines += run.lines.len();
        billed += run.billed;
        fund += run.fund;
        person += run.person;
        capped_lines += run
            .lines
            .iter()
            .filter(|l| l.figures.capped.get() > 0)
            .count();
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(fund + person, billed, "fund + person = billed");
    assert_eq!(lines as i64, BENEFICIARIES, "one line per beneficiary");
    // The seeded month's figures, to the fen, whatever the order the runs ran in.
    assert_eq!(
        (billed, fund, person, capped_lines),
        (27_579_958_500, 21_462_003_500, 6_117_955_000, 42_857),
        "totals of the seeded month"
    );
    println!(
        "{label}: monthly settlement of {BENEFICIARIES} beneficiaries ({records} records, {INSTITUTIONS} institutions, {lines} lines, {capped_lines} at the cap, {} runs at once): {secs:.2} s — billed {billed} fen, fund {fund} fen, person {person} fen",
        concurrent_runs()
    );
    Ok(())
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("yibao-ltc-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let sqlite = format!("sqlite://{}?mode=rwc", dir.join("ltc.db").display());
    // `YIBAO_BENCH_SKIP_SQLITE=1` measures PostgreSQL alone.
    if std::env::var("YIBAO_BENCH_SKIP_SQLITE").is_err()
        && let Err(e) = run("sqlite", sqlite).await
    {
        eprintln!("sqlite: {e}");
        std::process::exit(1);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(base) = std::env::var("YIBAO_TEST_DATABASE_URL") {
        let url = match yibao_runtime::db::create_fresh_postgres(&base, "yibao_ltc_bench").await {
            Ok(u) => u,
            Err(e) => {
                eprintln!("postgres: {e}");
                std::process::exit(1);
            }
        };
        let outcome = run("postgres", url.clone()).await;
        // Leave no 1-GB database behind.
        if let (Some((_, name)), Ok(admin)) = (
            url.rsplit_once('/'),
            sea_orm::Database::connect(base.as_str()).await,
        ) {
            let _ = sql::exec(
                &admin,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                vec![],
            )
            .await;
        }
        if let Err(e) = outcome {
            eprintln!("postgres: {e}");
            std::process::exit(1);
        }
    }
}
