//! The registry's use cases over a real store (SQLite; a fresh PostgreSQL database when
//! `YIBAO_TEST_DATABASE_URL` is set): an import with a bad row writes nothing, a re-import
//! changes nothing, and the institution cache shared by two replicas follows every change.

use chrono::NaiveDate;
use std::sync::Arc;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_enrollment::app::Enrollment;
use yibao_enrollment::app::registry::StatusRequest;
use yibao_enrollment::domain::registry::{Grade, InstitutionStatus};
use yibao_enrollment::store::Store;
use yibao_runtime::Caller;
use yibao_runtime::auth::Role;
use yibao_runtime::cache::Cache;
use yibao_runtime::config::DatabaseConfig;
use yibao_runtime::db::StoreBase;
use yibao_runtime::page::Page;

async fn base() -> StoreBase {
    let cfg = match std::env::var("YIBAO_TEST_DATABASE_URL") {
        Ok(url) => DatabaseConfig {
            url: yibao_runtime::db::create_fresh_postgres(&url, "yibao_enrollment_registry")
                .await
                .unwrap_or_else(|e| panic!("postgres: {e}")),
            max_connections: 4,
        },
        Err(_) => {
            let dir = std::env::temp_dir().join(format!(
                "yibao-enrollment-registry-{}",
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

async fn replica(base: &StoreBase, cache: Arc<dyn Cache>) -> Enrollment {
    let app = Enrollment::new(Store::with_base(base.clone()), cache, &[7u8; 32]);
    app.institution_cache()
        .refresh_epoch()
        .await
        .unwrap_or_else(|e| panic!("epoch: {e}"));
    app
}

fn operator(region: &str) -> Caller {
    Caller {
        subject: "op-1".into(),
        role: Role::Operator,
        org: String::new(),
        region: RegionCode::parse(region).ok(),
    }
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn code(s: &str) -> InstitutionCode {
    InstitutionCode::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

const HEADER: &str = "institution_code,name,kind,grade,tier,effective_from,region_code,beds,agreement_no,agreement_from,agreement_to,schemes,service_kinds\n";

#[tokio::test]
async fn a_roster_with_one_bad_row_writes_nothing_and_a_good_one_is_written_once() {
    let b = base().await;
    let app = replica(&b, Arc::new(yibao_runtime::cache::MemoryCache::new(100))).await;
    let op = operator("341522");
    let huoqiu = RegionCode::parse("341522").unwrap_or_else(|e| panic!("{e}"));
    let good = format!(
        "{HEADER}H34152200001,霍邱县第一人民医院,hospital,2,county,2015-01-01,,600,A-1,2024-01-01,2026-12-31,resident,inpatient;outpatient\n\
         P34152200001,城关大药房,pharmacy,ungraded,county,2016-01-01,,0,P-1,2024-01-01,2026-12-31,resident,pharmacy\n"
    );
    let bad = format!("{good}H34152200002,卫生院,hospital,9,township,2016-01-01,,40,,,,,\n");
    let out = app
        .import_roster(&op, &huoqiu, &bad, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.stored);
    assert_eq!(
        out.errors
            .iter()
            .map(|e| (e.line, e.field.as_str()))
            .collect::<Vec<_>>(),
        [(4, "grade")]
    );
    let none = app
        .list_institutions("341522", None, &Page::first(10))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(none.is_empty(), "a file with a bad row stores nothing");
    let out = app
        .import_roster(&op, &huoqiu, &good, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.stored && out.errors.is_empty());
    assert_eq!((out.created, out.versions, out.agreements), (2, 2, 2));
    let again = app
        .import_roster(&op, &huoqiu, &good, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            again.created,
            again.versions,
            again.agreements,
            again.unchanged
        ),
        (0, 0, 0, 2)
    );
    let listed = app
        .list_institutions("341522", None, &Page::first(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed.len(), 2, "a page reads one more row than its size");
    let history = app
        .institution_history(&op, &code("H34152200001"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "institution.registered",
            "institution.version_written",
            "agreement.written"
        ]
    );
    // Another region's operator can neither read nor take it over.
    let lu_an = operator("341502");
    assert!(
        app.get_institution(&lu_an, &code("H34152200001"))
            .await
            .is_err()
    );
    let anhui = RegionCode::parse("340000").unwrap_or_else(|e| panic!("{e}"));
    let out = app
        .import_roster(&operator("340000"), &anhui, &good, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.errors.is_empty(), "the province covers the county");
}

#[tokio::test]
async fn two_replicas_sharing_the_institution_cache_see_a_suspension_at_once() {
    let b = base().await;
    let cache: Arc<dyn Cache> = Arc::new(yibao_runtime::cache::MemoryCache::new(100));
    let one = replica(&b, Arc::clone(&cache)).await;
    let two = replica(&b, Arc::clone(&cache)).await;
    let op = operator("341522");
    let huoqiu = RegionCode::parse("341522").unwrap_or_else(|e| panic!("{e}"));
    let h = code("H34152200001");
    assert_eq!(
        two.institution_file(&h)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None,
        "not registered yet (and that answer is cached)"
    );
    one.import_roster(
        &op,
        &huoqiu,
        &format!("{HEADER}H34152200001,霍邱县第一人民医院,hospital,2,county,2015-01-01,,600,A-1,2024-01-01,2026-12-31,resident,inpatient\n"),
        false,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let file = two
        .institution_file(&h)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the registration deleted the cached absence"));
    assert_eq!(
        file.version_on(d("2025-03-01")).map(|v| v.grade),
        Some(Grade::Grade2)
    );
    // Cached now; a suspension through the first replica is seen by the second at once.
    two.institution_file(&h)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    one.change_institution_status(
        &op,
        StatusRequest {
            code: h.clone(),
            status: InstitutionStatus::Suspended,
            effective_on: d("2025-03-01"),
            reason: "phantom bed stays found by inspection".into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let file = two
        .institution_file(&h)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("registered"));
    assert_eq!(
        file.status_on(d("2025-02-28")).status,
        InstitutionStatus::Active
    );
    assert_eq!(
        file.status_on(d("2025-03-01")).status,
        InstitutionStatus::Suspended
    );
    // The same status again is refused, and writes nothing.
    assert!(
        one.change_institution_status(
            &op,
            StatusRequest {
                code: h.clone(),
                status: InstitutionStatus::Suspended,
                effective_on: d("2025-04-01"),
                reason: "again".into(),
            },
        )
        .await
        .is_err()
    );
    assert_eq!(
        two.institution_file(&h)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|f| f.status_changes.len()),
        Some(1)
    );
}
