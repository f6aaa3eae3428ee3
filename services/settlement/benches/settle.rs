//! Settlement through the use case: claims per second of `SettlementApp::settle_prepared` (one
//! transaction each:
//! claim, 30 items, explanations, accumulators under a per-person lock, ledger lines, outbox),
//! sequential and with concurrent callers, with p50/p99 latency; then a randomized run of
//! reversals and refunds over everything settled and a ledger reconciliation of every month.
//! On SQLite always; on PostgreSQL too when `YIBAO_TEST_DATABASE_URL` names a server.
//!
//! Run with `cargo bench -p yibao-settlement --bench settle` (env `SETTLE_CLAIMS`, default
//! 10000, sets how many claims each backend settles).

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use yibao_core::{Fen, IdNumber, InstitutionCode, RegionCode};
use yibao_runtime::config::DatabaseConfig;
use yibao_settlement::app::{SettleInput, SettlementApp, Upstreams};
use yibao_settlement::domain::{
    Claim, ClaimItem, EligibilitySnapshot, EncounterKind, HospitalGrade, InstitutionTier,
    ItemClass, PersonCategory, Scheme, default_bundle,
};
use yibao_settlement::store::{Actor, Store, StoredClaim, migration::Migrator};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

fn items(seed: usize) -> Vec<ClaimItem> {
    (0..30)
        .map(|i| {
            let class = [ItemClass::A, ItemClass::B, ItemClass::C][(i + seed) % 3];
            let unit_price = Fen(1_000 + 3_731 * ((i + seed) % 17) as i64);
            let quantity = 1 + ((i + seed) % 4) as i64;
            ClaimItem {
                national_code: format!("XA{i:04}"),
                name: String::new(),
                class,
                quantity,
                unit_price,
                amount: Fen(unit_price.0 * quantity),
                payment_standard: if i % 5 == 0 {
                    Some(Fen(unit_price.0 - 500))
                } else {
                    None
                },
                preselfpay_share: None,
            }
        })
        .collect()
}

/// Claim `n` of person `n % persons` (several claims per person, so the per-person lock and
/// the year's counters are exercised).
fn input(
    store_policy: &Arc<yibao_settlement::domain::PolicyDocument>,
    n: usize,
    persons: usize,
) -> Res<SettleInput> {
    let p = n % persons;
    let birth = NaiveDate::from_ymd_opt(1950, 1, 1).ok_or("date")?
        + chrono::Duration::days((p / 1000) as i64);
    let id =
        IdNumber::with_check_digit(&format!("341522{}{:03}", birth.format("%Y%m%d"), p % 1000))?;
    let on = NaiveDate::from_ymd_opt(2018, 1 + (n % 12) as u32, 15).ok_or("date")?;
    let claim = Claim {
        institution_code: InstitutionCode::parse("H34150200001")?,
        encounter_no: format!("BENCH-{n}"),
        id_number: id,
        kind: EncounterKind::Inpatient,
        disease_code: None,
        grade: HospitalGrade::Grade3,
        tier: InstitutionTier::City,
        start_date: on,
        end_date: on,
        diagnoses: vec!["I10.x00x002".into()],
        items: items(n),
    };
    let region = RegionCode::parse("341522")?;
    let eligibility = EligibilitySnapshot {
        scheme: Scheme::Resident,
        insured_region: region.clone(),
        categories: if p.is_multiple_of(2) {
            vec![PersonCategory::PovertyRegistered]
        } else {
            vec![]
        },
        chronic_registrations: vec![],
        supplement_products: vec![],
        cross_region_filing: None,
    };
    let stored = StoredClaim::of(&claim, &region, None);
    Ok(SettleInput {
        claim,
        stored,
        person_id: format!("person-{p}"),
        eligibility,
        policy: Arc::clone(store_policy),
    })
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn run(label: &str, url: String, claims: usize) -> Res<()> {
    let conn = yibao_runtime::db::connect_and_migrate::<Migrator>(&DatabaseConfig {
        url,
        max_connections: 32,
    })
    .await?;
    let store = Store::new(conn);
    store.seed_default_policies(&default_bundle()?).await?;
    let app = SettlementApp::new(store.clone(), Upstreams::offline(), None);
    let policy = store
        .find_policy(
            &RegionCode::parse("341522")?,
            Scheme::Resident,
            NaiveDate::from_ymd_opt(2018, 6, 15).ok_or("date")?,
        )
        .await?
        .ok_or("no policy")?;
    let actor = Actor {
        subject: "bench".into(),
        role: "hospital".into(),
    };
    let persons = claims / 4;
    // Sequential: one caller.
    let seq = claims / 5;
    let t = Instant::now();
    for n in 0..seq {
        app.settle_prepared(&input(&policy, n, persons)?, &actor)
            .await?;
    }
    let el = t.elapsed();
    println!(
        "{label}: sequential  {seq:>6} claims in {:>7.2}s = {:>8.0} claims/s",
        el.as_secs_f64(),
        seq as f64 / el.as_secs_f64()
    );
    // Concurrent callers on the rest.
    for callers in [16usize, 64] {
        let start = if callers == 16 {
            seq
        } else {
            seq + (claims - seq) / 2
        };
        let end = if callers == 16 {
            seq + (claims - seq) / 2
        } else {
            claims
        };
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(start));
        let t = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..callers {
            let (app, policy, next, actor) = (
                app.clone(),
                Arc::clone(&policy),
                Arc::clone(&next),
                actor.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= end {
                        return Ok::<_, Box<dyn Error + Send + Sync>>(lat);
                    }
                    let inp = input(&policy, n, persons)?;
                    let t = Instant::now();
                    app.settle_prepared(&inp, &actor).await?;
                    lat.push(t.elapsed());
                }
            }));
        }
        let mut lat = Vec::new();
        for task in tasks {
            lat.extend(task.await??);
        }
        let el = t.elapsed();
        lat.sort();
        let count = end - start;
        println!(
            "{label}: {callers:>2} callers {count:>6} claims in {:>7.2}s = {:>8.0} claims/s  p50 {:>6.1} ms  p99 {:>6.1} ms",
            el.as_secs_f64(),
            count as f64 / el.as_secs_f64(),
            pct(&lat, 0.50).as_secs_f64() * 1e3,
            pct(&lat, 0.99).as_secs_f64() * 1e3
        );
    }
    // Randomized reversals and refunds over a quarter of the claims, then reconciliation.
    let mut seed: u64 = 0x5eed;
    let mut next = |m: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    let t = Instant::now();
    let mut reversed = 0;
    for n in 0..claims {
        if next(4) != 0 {
            continue;
        }
        let Some((claim_id, _)) = store
            .settled_encounter("H34150200001", &format!("BENCH-{n}"))
            .await?
        else {
            continue;
        };
        let items: Vec<usize> = if next(2) == 0 {
            vec![]
        } else {
            vec![next(30) as usize]
        };
        app.reverse_claim(
            &claim_id,
            "H34150200001",
            &format!("REV-{n}"),
            &items,
            "bench",
            &actor,
        )
        .await?;
        reversed += 1;
    }
    println!(
        "{label}: {reversed} reversals and refunds in {:.2}s",
        t.elapsed().as_secs_f64()
    );
    let mut months: Vec<String> = (1..=12).map(|m| format!("2018-{m:02}")).collect();
    months.push(chrono::Utc::now().format("%Y-%m").to_string());
    let mut balanced = true;
    for m in &months {
        let rec = app.reconcile_ledger("341522", m, &actor).await?;
        balanced &= rec.balanced();
    }
    println!(
        "{label}: ledger reconciled against {claims} settlements and {reversed} reversals over {} months: balanced = {balanced}",
        months.len()
    );
    if !balanced {
        return Err("ledger does not reconcile".into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    let claims: usize = std::env::var("SETTLE_CLAIMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!(
        "yibao-settle-bench-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let url = format!("sqlite://{}/settlement.db?mode=rwc", dir.display());
    let r = run("sqlite", url, claims).await;
    let _ = std::fs::remove_dir_all(&dir);
    r?;
    if let Ok(base) = std::env::var("YIBAO_TEST_DATABASE_URL") {
        let url = yibao_runtime::db::create_fresh_postgres(&base, "yibao_settlement_bench").await?;
        run("postgres", url, claims).await?;
    }
    Ok(())
}
