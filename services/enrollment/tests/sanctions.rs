//! The consumer of supervision's sanctions over a real store (SQLite; a fresh PostgreSQL
//! database when `YIBAO_TEST_DATABASE_URL` is set) and the in-process bus: a sanction naming an
//! institution the registry does not hold is acknowledged and changes nothing; a blacklisting
//! suspends, its redelivery changes nothing more, a lifting reinstates — each recorded under
//! supervision's audit, and the whole stream acknowledged.

use chrono::NaiveDate;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_enrollment::app::Enrollment;
use yibao_enrollment::domain::registry::InstitutionStatus;
use yibao_enrollment::events::sanctions::{consume_sanctions, sanction_inbox};
use yibao_enrollment::store::Store;
use yibao_proto::events::v1::{SanctionAction, SanctionEvent};
use yibao_runtime::Caller;
use yibao_runtime::auth::Role;
use yibao_runtime::bus::{Bus, MemoryBus};
use yibao_runtime::config::DatabaseConfig;
use yibao_runtime::db::StoreBase;
use yibao_runtime::inbox::InboxConfig;
use yibao_runtime::streams::{ENROLLMENT_SANCTIONS_GROUP, SUPERVISION_SANCTIONS};

async fn base() -> StoreBase {
    let cfg = match std::env::var("YIBAO_TEST_DATABASE_URL") {
        Ok(url) => DatabaseConfig {
            url: yibao_runtime::db::create_fresh_postgres(&url, "yibao_enrollment_sanctions")
                .await
                .unwrap_or_else(|e| panic!("postgres: {e}")),
            max_connections: 4,
        },
        Err(_) => {
            let dir = std::env::temp_dir().join(format!(
                "yibao-enrollment-sanctions-{}",
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

const H1: &str = "H34152200001";
const HEADER: &str = "institution_code,name,kind,grade,tier,effective_from,region_code,beds,agreement_no,agreement_from,agreement_to,schemes,service_kinds\n";

fn sanction(event_id: &str, code: &str, action: SanctionAction, on: &str) -> Vec<u8> {
    SanctionEvent {
        event_id: event_id.into(),
        institution_code: code.into(),
        region_code: "341522".into(),
        action: action as i32,
        effective_on: on.into(),
        credit_score: 50,
        reason: "credit score 50 below 60 after overlapping_stay confirmed: F-5".into(),
    }
    .encode_to_vec()
}

/// Consumes until `n` messages were handled (bounded).
async fn handle(app: &Enrollment, inbox: &mut yibao_runtime::inbox::Inbox, n: usize) {
    let mut handled = 0;
    for _ in 0..50 {
        handled += consume_sanctions(app, inbox, Duration::from_millis(100))
            .await
            .unwrap_or_else(|e| panic!("consume: {e}"));
        if handled >= n {
            return;
        }
    }
    panic!("{handled} of {n} sanctions handled");
}

#[tokio::test]
async fn sanctions_suspend_and_reinstate_once_and_an_unknown_institution_is_acknowledged() {
    let b = base().await;
    let app = Enrollment::new(
        Store::with_base(b.clone()),
        Arc::new(yibao_runtime::cache::MemoryCache::new(100)),
        &[7u8; 32],
    );
    app.institution_cache()
        .refresh_epoch()
        .await
        .unwrap_or_else(|e| panic!("epoch: {e}"));
    let op = Caller {
        subject: "op-1".into(),
        role: Role::Operator,
        org: String::new(),
        region: RegionCode::parse("341522").ok(),
    };
    let roster = format!(
        "{HEADER}{H1},霍邱县第一人民医院,hospital,2,county,2015-01-01,,600,A-1,2024-01-01,2099-12-31,resident,inpatient\n"
    );
    let huoqiu = RegionCode::parse("341522").unwrap_or_else(|e| panic!("{e}"));
    let out = app
        .import_roster(&op, &huoqiu, &roster, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.stored, "{out:?}");
    let code = InstitutionCode::parse(H1).unwrap_or_else(|e| panic!("{e}"));

    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let mut inbox = sanction_inbox(
        Arc::clone(&bus),
        b.clone(),
        InboxConfig::new(ENROLLMENT_SANCTIONS_GROUP),
    );
    let publish = |id: &'static str, payload: Vec<u8>| {
        let bus = Arc::clone(&bus);
        async move {
            bus.publish(SUPERVISION_SANCTIONS, id, &payload)
                .await
                .unwrap_or_else(|e| panic!("publish: {e}"));
        }
    };
    // An institution the registry does not hold, then the blacklisting and its redelivery.
    publish(
        "e0",
        sanction(
            "e0",
            "H34152299999",
            SanctionAction::Blacklisted,
            "2026-06-03",
        ),
    )
    .await;
    publish(
        "e1",
        sanction("e1", H1, SanctionAction::Blacklisted, "2026-06-03"),
    )
    .await;
    publish(
        "e1",
        sanction("e1", H1, SanctionAction::Blacklisted, "2026-06-03"),
    )
    .await;
    handle(&app, &mut inbox, 3).await;
    let file = app
        .institution_file(&code)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("{H1} registered"));
    assert_eq!(file.status_changes.len(), 1, "{:?}", file.status_changes);
    let c = &file.status_changes[0];
    assert_eq!(c.status, InstitutionStatus::Suspended);
    assert_eq!(
        c.effective_on,
        NaiveDate::from_ymd_opt(2026, 6, 3).unwrap_or_default()
    );
    assert_eq!(
        (c.actor.as_str(), c.role.as_str()),
        ("supervision", "system")
    );
    assert!(
        c.reason
            .starts_with("supervision: blacklisted, credit score 50: credit score 50 below 60"),
        "{}",
        c.reason
    );
    let day = NaiveDate::from_ymd_opt(2026, 6, 3).unwrap_or_default();
    assert_eq!(file.status_on(day).status, InstitutionStatus::Suspended);

    // The lifting reinstates supervision's suspension, journalled under supervision's audit.
    publish(
        "e2",
        sanction("e2", H1, SanctionAction::Lifted, "2026-06-20"),
    )
    .await;
    handle(&app, &mut inbox, 1).await;
    let file = app
        .institution_file(&code)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("{H1} registered"));
    assert_eq!(file.status_changes.len(), 2, "{:?}", file.status_changes);
    assert_eq!(file.status_changes[1].status, InstitutionStatus::Active);
    let history = app
        .institution_history(&op, &code)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let changes: Vec<(&str, &str)> = history
        .iter()
        .filter(|e| e.kind == "status.changed")
        .map(|e| (e.actor.as_str(), e.role.as_str()))
        .collect();
    assert_eq!(
        changes,
        [("supervision", "system"), ("supervision", "system")]
    );
    assert_eq!(
        bus.lag(SUPERVISION_SANCTIONS, ENROLLMENT_SANCTIONS_GROUP)
            .await
            .unwrap_or_else(|e| panic!("lag: {e}")),
        0,
        "every sanction acknowledged"
    );
}
