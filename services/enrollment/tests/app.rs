//! The use cases over a real store: SQLite by default, a fresh PostgreSQL database when
//! `YIBAO_TEST_DATABASE_URL` is set (the same tests on both backends).

use chrono::NaiveDate;
use std::sync::Arc;
use yibao_core::{Fen, IdNumber, RegionCode};
use yibao_enrollment::app::enrolments::Enrol;
use yibao_enrollment::app::{AppError, Enrollment};
use yibao_enrollment::domain::duplicates::TaskState;
use yibao_enrollment::domain::enrolment::{ContributionKind, ContributionStandard};
use yibao_enrollment::domain::{EndReason, Scheme};
use yibao_enrollment::store::enrolments::Contribution;
use yibao_enrollment::store::{NewPerson, Store, StoreError};
use yibao_runtime::auth::Role;
use yibao_runtime::cache::{Cache, RedisCache};
use yibao_runtime::config::DatabaseConfig;
use yibao_runtime::db::StoreBase;
use yibao_runtime::page::Page;
use yibao_runtime::{Actor, Caller};

const ID: &str = "341522195508070016";

/// A fresh, migrated store base.
async fn base() -> StoreBase {
    let cfg = match std::env::var("YIBAO_TEST_DATABASE_URL") {
        Ok(url) => DatabaseConfig {
            url: yibao_runtime::db::create_fresh_postgres(&url, "yibao_enrollment_test")
                .await
                .unwrap_or_else(|e| panic!("postgres: {e}")),
            max_connections: 4,
        },
        Err(_) => {
            let dir = std::env::temp_dir().join(format!(
                "yibao-enrollment-test-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
            DatabaseConfig::sqlite(&dir.join("enrollment.db"))
        }
    };
    StoreBase::connect::<yibao_enrollment::store::migration::Migrator>(&cfg)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// One replica of the service over `base` and `cache`, its cache epoch read as `build` does.
async fn replica(base: &StoreBase, cache: Arc<dyn Cache>) -> Enrollment {
    let app = Enrollment::new(Store::with_base(base.clone()), cache, &[7u8; 32]);
    app.eligibility_cache()
        .refresh_epoch()
        .await
        .unwrap_or_else(|e| panic!("epoch: {e}"));
    app
}

async fn app() -> Enrollment {
    let cache = Arc::new(yibao_runtime::cache::MemoryCache::new(1000));
    replica(&base().await, cache).await
}

/// A real Redis client on a port where nothing listens.
async fn unreachable_redis() -> Arc<dyn Cache> {
    Arc::new(
        RedisCache::connect("redis://127.0.0.1:1/")
            .await
            .unwrap_or_else(|e| panic!("lazy connect: {e}")),
    )
}

fn admin() -> Caller {
    Caller {
        subject: "admin-1".into(),
        role: Role::Admin,
        org: String::new(),
        region: None,
    }
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn region(s: &str) -> RegionCode {
    RegionCode::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn payment(fen: i64, on: &str, reference: &str) -> Contribution {
    Contribution {
        kind: ContributionKind::Payment,
        amount: Fen(fen),
        paid_on: d(on),
        reference: reference.into(),
    }
}

/// Registers the person and enrols them in 2025 (enrolled in December 2024), unpaid.
async fn enrolled(app: &Enrollment, scheme: Scheme, reg: &str) -> (String, String) {
    let c = admin();
    let std = ContributionStandard {
        individual_amount: Fen(38_000),
        waiting_days: 0,
    };
    app.set_standard(&region(reg), 2025, scheme, &std)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id = IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}"));
    let person = match app.store().person_by_id_number(&id).await {
        Ok(Some(p)) => p.id,
        _ => {
            let new = NewPerson {
                id_number: id,
                name: "李德胜".into(),
                region: region("341522"),
                household_id: None,
                contact: String::new(),
            };
            app.register_person(&c, new)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .person
                .id
        }
    };
    let enrol = Enrol {
        person_id: person.clone(),
        year: 2025,
        scheme,
        region: region(reg),
        enrolled_on: d("2024-12-01"),
    };
    let (_, e) = app
        .enroll(&c, enrol)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (person, e.id)
}

#[tokio::test]
async fn a_repeated_contribution_reference_writes_nothing_and_a_different_one_conflicts() {
    let app = app().await;
    let c = admin();
    let (person, enrolment) = enrolled(&app, Scheme::Resident, "341522").await;
    let (_, paid) = app
        .record_contribution(&c, &enrolment, payment(38_000, "2024-12-20", "r-1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(paid.paid_on, Some(d("2024-12-20")));
    let journal = app.person_history(&c, &person).await.map(|h| h.len()).ok();
    let (_, again) = app
        .record_contribution(&c, &enrolment, payment(38_000, "2024-12-20", "r-1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, paid);
    assert_eq!(
        app.person_history(&c, &person).await.map(|h| h.len()).ok(),
        journal
    );
    let other = app
        .record_contribution(&c, &enrolment, payment(100, "2024-12-21", "r-1"))
        .await;
    assert!(matches!(
        other,
        Err(AppError::Store(StoreError::Conflict(_)))
    ));
    assert_eq!(
        other.err().map(|e| e.code().code),
        Some("ENROLLMENT_CONFLICT")
    );
}

#[tokio::test]
async fn a_resolved_duplicate_ends_the_resident_enrolment_the_day_before_the_employee_one_pays() {
    let app = app().await;
    let c = admin();
    let id = IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}"));
    let (_, resident) = enrolled(&app, Scheme::Resident, "341522").await;
    let (_, employee) = enrolled(&app, Scheme::Employee, "341523").await;
    for (e, on, r) in [
        (&resident, "2024-11-05", "r"),
        (&employee, "2025-02-10", "w"),
    ] {
        app.record_contribution(&c, e, payment(38_000, on, r))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // The cached file before the resolution must not be answered after it.
    let before = app
        .check_eligibility(&id, d("2025-03-01"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        before.map(|a| (a.eligibility.eligible, a.file.name)),
        Some((true, "李德胜".to_string())),
        "the answer names the person as registered"
    );

    let actor = Actor::from(&c);
    let scan =
        yibao_enrollment::app::duplicates::scan_duplicates(app.store(), 2025, "", &actor).await;
    assert_eq!(scan.map(|r| (r.opened, r.known)).ok(), Some((1, 0)));
    let tasks = app
        .duplicate_tasks("", None, &Page::first(10))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let task = &tasks[0];
    assert_eq!(
        (
            task.keep_enrolment_id.as_str(),
            task.drop_enrolment_id.as_str()
        ),
        (employee.as_str(), resident.as_str())
    );
    let early = app
        .transition_duplicate(&c, &task.id, Some(TaskState::Resolved), "")
        .await;
    assert_eq!(
        early.err().map(|e| e.code().code),
        Some("ENROLLMENT_TASK_TRANSITION")
    );
    for to in [TaskState::Verified, TaskState::Resolved] {
        app.transition_duplicate(&c, &task.id, Some(to), "checked")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    let after = app
        .check_eligibility(&id, d("2025-03-01"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("registered"));
    let ended = after.file.enrolments.iter().find(|e| e.id == resident);
    assert_eq!(
        ended.map(|e| (e.effective_to, e.end_reason)),
        Some((d("2025-02-09"), Some(EndReason::Duplicate)))
    );
    assert_eq!(
        after.eligibility.enrolment.map(|e| e.id),
        Some(employee.clone())
    );
}

fn eligible(a: &Option<yibao_enrollment::app::eligibility::Answer>) -> Option<bool> {
    a.as_ref().map(|a| a.eligibility.eligible)
}

#[tokio::test]
async fn eligibility_answers_from_the_database_while_redis_cannot_be_reached() {
    let app = replica(&base().await, unreachable_redis().await).await;
    let c = admin();
    let id = IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}"));
    let (_, enrolment) = enrolled(&app, Scheme::Resident, "341522").await;
    let started = std::time::Instant::now();
    let unpaid = app
        .check_eligibility(&id, d("2025-03-01"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(eligible(&unpaid), Some(false), "unpaid: not covered");
    let epoch = app.store().cache_epoch("eligibility").await.ok();
    // The change succeeds although its invalidation cannot reach Redis; the epoch moves on.
    app.record_contribution(&c, &enrolment, payment(38_000, "2024-12-20", "r-1"))
        .await
        .unwrap_or_else(|e| panic!("a write must not fail with the cache: {e}"));
    let bumped = app.store().cache_epoch("eligibility").await.ok();
    assert!(bumped > epoch, "{epoch:?} → {bumped:?}");
    assert_eq!(app.eligibility_cache().epoch(), bumped);
    for _ in 0..50 {
        let paid = app
            .check_eligibility(&id, d("2025-03-01"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(eligible(&paid), Some(true), "answered from the database");
    }
    // Fifty-odd reads and a write with Redis down: the circuit makes them database-fast.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_invalidation_that_failed_leaves_no_stale_file_where_redis_still_answers() {
    // scripts/test.sh sets YIBAO_TEST_REDIS_URL; without it there is no Redis to answer.
    let Ok(url) = std::env::var("YIBAO_TEST_REDIS_URL") else {
        return;
    };
    let redis: Arc<dyn Cache> = Arc::new(
        RedisCache::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}")),
    );
    let base = base().await;
    // Replica B reaches Redis; replica A, on the same database, cannot (a partition, or Redis
    // coming back with its data after A's write).
    let b = replica(&base, redis.clone()).await;
    let a = replica(&base, unreachable_redis().await).await;
    let c = admin();
    let id = IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}"));
    let (_, enrolment) = enrolled(&a, Scheme::Resident, "341522").await;
    let old = b
        .eligibility_cache()
        .epoch()
        .unwrap_or_else(|| panic!("epoch read"));
    let cached = b
        .check_eligibility(&id, d("2025-03-01"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(eligible(&cached), Some(false));
    let stale_key = b.eligibility_cache().key(old, ID);
    assert!(
        matches!(redis.get(&stale_key).await, Ok(Some(_))),
        "B cached the unpaid file"
    );
    a.record_contribution(&c, &enrolment, payment(38_000, "2024-12-20", "r-1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The entry A could not delete is still in Redis, but under the old epoch.
    assert!(matches!(redis.get(&stale_key).await, Ok(Some(_))));
    assert_eq!(
        eligible(
            &a.check_eligibility(&id, d("2025-03-01"))
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        ),
        Some(true)
    );
    // B re-reads the epoch (its watch does every second) and never reads the stale entry.
    b.eligibility_cache()
        .refresh_epoch()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(b.eligibility_cache().epoch() > Some(old));
    for _ in 0..3 {
        let now = b
            .check_eligibility(&id, d("2025-03-01"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(eligible(&now), Some(true));
    }
    let _ = redis.delete(&[stale_key]).await;
}

/// A redis-server of this test's own on a free port, writing every change to its
/// append-only file (so it comes back with its data), killed when dropped.
struct OwnRedis {
    child: Option<std::process::Child>,
    port: u16,
    dir: std::path::PathBuf,
}

impl OwnRedis {
    fn start() -> Option<OwnRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .ok()?
            .port();
        let dir =
            std::env::temp_dir().join(format!("yibao-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).ok()?;
        let mut r = OwnRedis {
            child: None,
            port,
            dir,
        };
        r.run().then_some(r)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again) on its port and directory.
    fn run(&mut self) -> bool {
        let Ok(child) = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                &self.dir.display().to_string(),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if started.elapsed() > std::time::Duration::from_secs(5) {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        true
    }

    /// Kills the server (SIGKILL): its data stays in the append-only file.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What Redis holds under `key`, asked until it answers (a restarted server may answer
/// `LOADING` while it reads its append-only file, and a new connection may open its circuit).
async fn answered(cache: &dyn Cache, key: &str) -> Option<Vec<u8>> {
    let started = std::time::Instant::now();
    loop {
        match cache.get(key).await {
            Ok(v) => return v,
            Err(e) if started.elapsed() > std::time::Duration::from_secs(10) => {
                panic!("redis never answered: {e}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test]
async fn redis_killed_during_a_change_and_back_with_its_data_serves_no_stale_file() {
    let Some(mut server) = OwnRedis::start() else {
        // No redis-server binary here: the partition test above covers the rule with Redis.
        return;
    };
    let connect = |url: String| async move {
        Arc::new(
            RedisCache::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        ) as Arc<dyn Cache>
    };
    let base = base().await;
    let a = replica(&base, connect(server.url()).await).await;
    let b_cache = connect(server.url()).await;
    let b = replica(&base, b_cache.clone()).await;
    let c = admin();
    let id = IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}"));
    let (_, enrolment) = enrolled(&a, Scheme::Resident, "341522").await;
    let check = |app: &Enrollment| {
        let app = app.clone();
        let id = id.clone();
        async move {
            eligible(
                &app.check_eligibility(&id, d("2025-03-01"))
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        }
    };
    assert_eq!(check(&b).await, Some(false), "B caches the unpaid file");
    let old = b.eligibility_cache().epoch().unwrap_or(0);
    server.kill();
    let started = std::time::Instant::now();
    a.record_contribution(&c, &enrolment, payment(38_000, "2024-12-20", "r-1"))
        .await
        .unwrap_or_else(|e| panic!("a write must not fail with the cache: {e}"));
    assert_eq!(
        check(&a).await,
        Some(true),
        "A answers from the database meanwhile"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(server.run(), "redis-server restarts");
    // Back with its data: the unpaid file is still there under the old epoch.
    let stale_key = b.eligibility_cache().key(old, ID);
    let direct = connect(server.url()).await;
    assert!(
        answered(&*direct, &stale_key).await.is_some(),
        "the stale file survived"
    );
    // Wait until B reaches Redis again (its first call after the restart may open its circuit).
    answered(&*b_cache, "yibao:test:ping").await;
    // Until B has read the new epoch (its watch does within a second) it would serve the stale
    // file: this is the window the epoch bounds.
    assert_eq!(
        check(&b).await,
        Some(false),
        "the old epoch still names the stale file"
    );
    b.eligibility_cache()
        .refresh_epoch()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(b.eligibility_cache().epoch() > Some(old));
    assert_eq!(check(&b).await, Some(true), "the new epoch never names it");
    // A's circuit closes after its back-off and the cache is filled and used again.
    tokio::time::sleep(yibao_runtime::cache::BACKOFF_MAX).await;
    assert_eq!(check(&a).await, Some(true));
    assert_eq!(check(&a).await, Some(true));
    let key = a
        .eligibility_cache()
        .key(a.eligibility_cache().epoch().unwrap_or(0), ID);
    assert!(
        answered(&*direct, &key).await.is_some(),
        "cached again under the new epoch"
    );
}
