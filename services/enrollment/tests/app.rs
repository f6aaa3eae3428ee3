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
use yibao_runtime::config::DatabaseConfig;
use yibao_runtime::db::StoreBase;
use yibao_runtime::page::Page;
use yibao_runtime::{Actor, Caller};

const ID: &str = "341522195508070016";

async fn app() -> Enrollment {
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
    let base = StoreBase::connect::<yibao_enrollment::store::migration::Migrator>(&cfg)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let cache = Arc::new(yibao_runtime::cache::MemoryCache::new(1000));
    Enrollment::new(Store::with_base(base), cache, &[7u8; 32])
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
    assert_eq!(before.map(|a| a.eligibility.eligible), Some(true));

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
