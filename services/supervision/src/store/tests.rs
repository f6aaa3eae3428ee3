//! Store and consumer tests on a real database: a SQLite file, or a fresh PostgreSQL database
//! when `YIBAO_TEST_DATABASE_URL` is set; the bus is the in-process one (the Redis bus keeps the
//! same contract, tested in the runtime and end to end).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::app::budgets::{institution_ledger, put_budget};
use crate::app::rules::current_rules;
use crate::domain::{BudgetPolicy, Finding, Review, RuleCode, WarningLevel};
use crate::domain::{
    ClaimAction, ClaimEvent, ClaimItem, ClaimKind, PersonKey, RuleUpdate, StreamConfig,
    SyntheticStream,
};
use crate::events::decode::{self as convert, StreamKind};
use crate::events::{Consumer, ConsumerConfig};
use chrono::NaiveDate;
use chrono::Utc;
use prost::Message;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use yibao_core::Sex;
use yibao_core::{Fen, InstitutionCode, RegionCode};
use yibao_runtime::bus::{Bus, MemoryBus};
use yibao_runtime::streams;

const H1: &str = "H34152200001";
const H2: &str = "H34152200002";

pub(crate) async fn fresh_store() -> Store {
    let url = match std::env::var("YIBAO_TEST_DATABASE_URL") {
        Ok(base) => yibao_runtime::db::create_fresh_postgres(&base, "yibao_supervision_test")
            .await
            .unwrap(),
        Err(_) => {
            let dir =
                std::env::temp_dir().join(format!("yibao-sup-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).unwrap();
            yibao_runtime::config::DatabaseConfig::sqlite(&dir.join("supervision.db")).url
        }
    };
    let cfg = yibao_runtime::config::DatabaseConfig {
        url,
        max_connections: 4,
    };
    Store::new(
        yibao_runtime::db::connect_and_migrate::<migration::Migrator>(&cfg)
            .await
            .unwrap(),
    )
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, m, d).unwrap()
}

fn stay(
    id: &str,
    person: &str,
    institution: &str,
    adm: NaiveDate,
    dis: NaiveDate,
    dx: &str,
    fund: i64,
) -> ClaimEvent {
    ClaimEvent {
        event_id: format!("ev-{id}"),
        claim_id: id.to_string(),
        action: ClaimAction::Settled,
        settled_at: dis.and_hms_opt(10, 0, 0).unwrap(),
        person: PersonKey::parse(person).unwrap(),
        sex: Sex::Male,
        birth_date: NaiveDate::from_ymd_opt(1960, 5, 1).unwrap(),
        home_region: RegionCode::parse("341522").unwrap(),
        institution: InstitutionCode::parse(institution).unwrap(),
        physician: Some("D341522000101".into()),
        kind: ClaimKind::Inpatient,
        start_date: adm,
        end_date: dis,
        principal_diagnosis: Some(dx.into()),
        chronic_disease: None,
        items: vec![ClaimItem {
            code: "001101000010000".into(),
            quantity: 1,
            unit_price: Fen(5_000),
            amount: Fen(5_000),
            days_supply: 0,
        }],
        total: Fen(fund),
        fund_paid: Fen(fund),
        enrolment_end: None,
        death_date: None,
    }
}

async fn publish(bus: &MemoryBus, e: &ClaimEvent) {
    bus.publish(
        streams::SETTLEMENT_CLAIMS,
        &e.event_id,
        &convert::claim_to_proto(e).encode_to_vec(),
    )
    .await
    .unwrap();
}

fn consumer(store: &Store, bus: &MemoryBus) -> Consumer {
    Consumer::new(
        store.clone(),
        Arc::new(bus.clone()),
        ConsumerConfig {
            consumer: "supervision-1".into(),
            ..ConsumerConfig::default()
        },
        Arc::new(AtomicU64::new(0)),
    )
}

async fn drain(c: &mut Consumer) -> crate::events::BatchReport {
    let mut total = crate::events::BatchReport::default();
    loop {
        let r = c.poll_once(Duration::from_millis(1)).await.unwrap();
        if r.messages == 0 {
            return total;
        }
        total.messages += r.messages;
        total.accepted += r.accepted;
        total.rejected += r.rejected;
        total.duplicates += r.duplicates;
        total.findings += r.findings;
    }
}

async fn all_findings(store: &Store) -> Vec<(Finding, Review)> {
    store
        .findings(&FindingFilter::default(), &Page::first(1000))
        .await
        .unwrap()
}

#[tokio::test]
async fn split_hospitalisation_and_a_large_receipt_are_stored_with_review_and_task() {
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    publish(
        &bus,
        &stay("c1", "p-1", H1, day(3, 1), day(3, 10), "J18.900", 800_000),
    )
    .await;
    // Readmitted 5 days after discharge for the same category; a 12,000-yuan receipt.
    publish(
        &bus,
        &stay(
            "c2",
            "p-1",
            H1,
            day(3, 15),
            day(3, 25),
            "J18.100",
            1_100_000,
        ),
    )
    .await;
    let mut c = consumer(&store, &bus);
    let report = drain(&mut c).await;
    assert_eq!(
        (report.accepted, report.rejected, report.duplicates),
        (2, 0, 0)
    );
    let findings = all_findings(&store).await;
    let rules: BTreeSet<&str> = findings.iter().map(|(f, _)| f.rule.as_str()).collect();
    assert_eq!(
        rules,
        BTreeSet::from(["LARGE_RECEIPT", "SPLIT_HOSPITALISATION"])
    );
    let (split, review) = findings
        .iter()
        .find(|(f, _)| f.rule == RuleCode::SplitHospitalisation)
        .unwrap();
    assert_eq!(split.evidence.claim_ids, ["c1", "c2"]);
    assert_eq!(
        split.amount_at_risk,
        Fen(1_100_000),
        "the later stay's fund payment"
    );
    assert_eq!(review.state.name(), "AWAITING_FEEDBACK");
    assert_eq!(review.steps[0].action, "automatic_review");
    let stored = store.finding(&split.finding_id).await.unwrap().unwrap();
    assert_eq!(
        stored.step_roles,
        ["system"],
        "the opening step is recorded with who"
    );
    let tasks = store
        .tasks("3415", None, None, false, &Page::first(10))
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (tasks[0].claim_id.as_str(), tasks[0].kind),
        ("c2", crate::domain::VerificationKind::CheckRecord)
    );
    // Spending of March: both stays.
    let ledger = institution_ledger(&store, &InstitutionCode::parse(H1).unwrap(), 2018)
        .await
        .unwrap();
    assert!(
        ledger
            .budget(&InstitutionCode::parse(H1).unwrap(), 2018)
            .is_none()
    );
    assert_eq!(store.event_counts().await.unwrap(), (2, 0));
}

#[tokio::test]
async fn a_redelivered_event_changes_nothing_and_a_crash_before_ack_loses_nothing() {
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    publish(
        &bus,
        &stay("c1", "p-1", H1, day(3, 1), day(3, 10), "J18.900", 800_000),
    )
    .await;
    publish(
        &bus,
        &stay("c2", "p-1", H1, day(3, 15), day(3, 25), "J18.100", 900_000),
    )
    .await;
    // Crash: the batch is processed and committed, the acknowledgement never sent.
    let mut first = consumer(&store, &bus);
    let msgs = bus
        .read(
            streams::SETTLEMENT_CLAIMS,
            "supervision",
            "supervision-1",
            10,
            Duration::from_millis(1),
        )
        .await
        .unwrap();
    let r = first
        .process(StreamKind::Claims, streams::SETTLEMENT_CLAIMS, &msgs)
        .await
        .unwrap();
    assert_eq!((r.accepted, r.findings), (2, 1));
    drop(first);
    // The restarted consumer gets the unacknowledged messages again and skips them.
    let mut second = consumer(&store, &bus);
    let again = drain(&mut second).await;
    assert_eq!(
        (again.messages, again.accepted, again.duplicates),
        (2, 0, 2)
    );
    // A producer retry publishes the same event a second time.
    publish(
        &bus,
        &stay("c2", "p-1", H1, day(3, 15), day(3, 25), "J18.100", 900_000),
    )
    .await;
    let retry = drain(&mut second).await;
    assert_eq!((retry.accepted, retry.duplicates), (0, 1));
    assert_eq!(all_findings(&store).await.len(), 1, "no duplicate finding");
    let spent = institution_ledger(&store, &InstitutionCode::parse(H1).unwrap(), 2018)
        .await
        .unwrap();
    assert!(
        spent
            .policy_for(&InstitutionCode::parse(H1).unwrap())
            .is_ok()
    );
    assert_eq!(
        bus.lag(streams::SETTLEMENT_CLAIMS, "supervision")
            .await
            .unwrap(),
        0
    );
    // Spending counted once: 1,700,000 fen in March.
    let mut ledger = institution_ledger(&store, &InstitutionCode::parse(H1).unwrap(), 2018)
        .await
        .unwrap();
    ledger
        .set_budget(InstitutionCode::parse(H1).unwrap(), 2018, Fen(100_000_000))
        .unwrap();
    assert_eq!(
        ledger
            .status(&InstitutionCode::parse(H1).unwrap(), 2018, 3)
            .unwrap()
            .spent_in_month,
        Fen(1_700_000)
    );
}

#[tokio::test]
async fn windows_survive_a_restart_because_the_detector_is_rebuilt_from_stored_events() {
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    publish(
        &bus,
        &stay("c1", "p-1", H1, day(3, 1), day(3, 10), "J18.900", 800_000),
    )
    .await;
    let mut before = consumer(&store, &bus);
    assert_eq!(drain(&mut before).await.findings, 0);
    drop(before);
    // After the restart, the readmission 5 days later is judged against the stay seen before.
    publish(
        &bus,
        &stay("c2", "p-1", H1, day(3, 15), day(3, 20), "J18.100", 600_000),
    )
    .await;
    let mut after = consumer(&store, &bus);
    let r = drain(&mut after).await;
    assert_eq!((r.accepted, r.findings), (1, 1));
    let findings = all_findings(&store).await;
    assert_eq!(findings[0].0.rule, RuleCode::SplitHospitalisation);
    assert_eq!(findings[0].0.evidence.claim_ids, ["c1", "c2"]);
}

#[tokio::test]
async fn invalid_events_are_recorded_as_rejected_and_acknowledged() {
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    bus.publish(
        streams::SETTLEMENT_CLAIMS,
        "garbage-1",
        b"\xff\xff not protobuf",
    )
    .await
    .unwrap();
    let mut bad = stay("c9", "p-9", H1, day(3, 1), day(3, 10), "J18.900", 800_000);
    bad.fund_paid = Fen(900_000); // above the total
    publish(&bus, &bad).await;
    let mut clear_id = stay("c8", "p-8", H1, day(3, 1), day(3, 10), "J18.900", 800_000);
    clear_id.person = PersonKey::parse("person-x").unwrap();
    let mut pb_event = convert::claim_to_proto(&clear_id);
    pb_event.person_key = "34152219800101001X".into();
    bus.publish(
        streams::SETTLEMENT_CLAIMS,
        &clear_id.event_id,
        &pb_event.encode_to_vec(),
    )
    .await
    .unwrap();
    let mut c = consumer(&store, &bus);
    let r = drain(&mut c).await;
    assert_eq!((r.accepted, r.rejected), (0, 3));
    assert_eq!(
        bus.lag(streams::SETTLEMENT_CLAIMS, "supervision")
            .await
            .unwrap(),
        0,
        "acknowledged, not retried for ever"
    );
    assert_eq!(store.event_counts().await.unwrap(), (0, 3));
    let reasons = store
        .all(
            store.db(),
            "SELECT event_id, reason FROM events ORDER BY seq",
            vec![],
        )
        .await
        .unwrap();
    let reasons: Vec<(String, String)> = reasons
        .iter()
        .map(|r| (s(r, "event_id").unwrap(), s(r, "reason").unwrap()))
        .collect();
    assert!(reasons[0].1.starts_with("payload:"), "{reasons:?}");
    assert!(reasons[1].1.starts_with("fund_paid:"), "{reasons:?}");
    assert!(reasons[2].1.starts_with("person_key:"), "{reasons:?}");
    // Redelivery of a rejected event is a duplicate too.
    publish(&bus, &bad).await;
    assert_eq!(drain(&mut c).await.duplicates, 1);
}

#[tokio::test]
async fn spending_over_pace_raises_warnings_and_a_red_one_holds_next_month() {
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    let who = Audit {
        actor: "op".into(),
        role: "operator".into(),
        at: Utc::now(),
    };
    let h1 = InstitutionCode::parse(H1).unwrap();
    let h2 = InstitutionCode::parse(H2).unwrap();
    // 1,200,000 fen a year: the balanced pace is 100,000 a month.
    put_budget(&store, &h1, 2018, Fen(1_200_000), &who)
        .await
        .unwrap();
    put_budget(&store, &h2, 2018, Fen(1_200_000), &who)
        .await
        .unwrap();
    // January: H1 spends 500,000 (pace 8.33%, spent 41.67%: +33 points, red); H2 spends 220,000
    // (18.33%: +10 points, yellow).
    publish(
        &bus,
        &stay("a1", "p-1", H1, day(1, 2), day(1, 6), "J18.900", 500_000),
    )
    .await;
    publish(
        &bus,
        &stay("b1", "p-2", H2, day(1, 2), day(1, 6), "I63.900", 220_000),
    )
    .await;
    let mut c = consumer(&store, &bus);
    drain(&mut c).await;
    let warnings = store
        .warnings("3415", 2018, 1, &Page::first(10))
        .await
        .unwrap();
    let levels: Vec<(String, WarningLevel)> = warnings
        .iter()
        .map(|w| (w.status.institution.to_string(), w.level))
        .collect();
    assert_eq!(
        levels,
        [
            (H1.to_string(), WarningLevel::Red),
            (H2.to_string(), WarningLevel::Yellow)
        ]
    );
    assert_eq!(warnings[0].hold_payment_of, Some((2018, 2)));
    assert!(
        store.hold_of(H1, 2018, 2).await.unwrap().is_some(),
        "February's payment of H1 is held"
    );
    assert!(store.hold_of(H2, 2018, 2).await.unwrap().is_none());
    // A reversal of H1's claim takes the spending back: the warning goes.
    let mut rev = stay("a1", "p-1", H1, day(1, 2), day(1, 6), "J18.900", 500_000);
    rev.event_id = "ev-a1-reversal".into();
    rev.action = ClaimAction::Reversed;
    rev.settled_at = day(1, 20).and_hms_opt(9, 0, 0).unwrap();
    publish(&bus, &rev).await;
    drain(&mut c).await;
    let warnings = store
        .warnings("3415", 2018, 1, &Page::first(10))
        .await
        .unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].status.institution, h2);
    assert!(store.hold_of(H1, 2018, 2).await.unwrap().is_none());
    // A region's stricter policy applies from the next evaluation (here: a new budget).
    let mut strict = BudgetPolicy::default_for(RegionCode::parse("341522").unwrap());
    strict.yellow_over_pace = yibao_core::Bp(500);
    strict.orange_over_pace = yibao_core::Bp(900);
    strict.red_over_pace = yibao_core::Bp(1_000);
    store.put_budget_policy(&strict, &who).await.unwrap();
    put_budget(&store, &h2, 2018, Fen(1_200_000), &who)
        .await
        .unwrap();
    let warnings = store
        .warnings("3415", 2018, 1, &Page::first(10))
        .await
        .unwrap();
    assert_eq!(warnings[0].level, WarningLevel::Red);
}

#[tokio::test]
async fn rule_versions_are_kept_and_a_stale_change_is_refused() {
    let store = fresh_store().await;
    let region = RegionCode::parse("341522").unwrap();
    let who = Audit {
        actor: "op".into(),
        role: "operator".into(),
        at: Utc::now(),
    };
    let v1 = current_rules(&store, &region).await.unwrap();
    assert_eq!(v1.version, 1);
    let change = RuleUpdate {
        code: RuleCode::SplitHospitalisation,
        enabled: None,
        severity: None,
        params: Some(crate::domain::RuleParams::SplitHospitalisation {
            window_days: 30,
            planned_diagnosis_prefixes: vec![],
        }),
    };
    let v2 = v1.update(&change).unwrap();
    store.save_rules(&v2, "30 days", &who).await.unwrap();
    let stale = v1
        .update(&RuleUpdate {
            code: RuleCode::MarkUp,
            enabled: Some(false),
            severity: None,
            params: None,
        })
        .unwrap();
    assert!(matches!(
        store.save_rules(&stale, "stale", &who).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(current_rules(&store, &region).await.unwrap(), v2);
    assert_eq!(
        store
            .rules_version(&region, Some(1))
            .await
            .unwrap()
            .unwrap(),
        v1,
        "old versions stay readable"
    );
}

#[tokio::test]
async fn a_tuned_rule_is_used_by_the_running_consumer_and_backfills_replay_history() {
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    let region = RegionCode::parse("341522").unwrap();
    // Readmission 20 days after discharge: outside the default 15-day window.
    publish(
        &bus,
        &stay("c1", "p-1", H1, day(3, 1), day(3, 10), "J18.900", 800_000),
    )
    .await;
    publish(
        &bus,
        &stay("c2", "p-1", H1, day(3, 30), day(4, 5), "J18.100", 600_000),
    )
    .await;
    let mut c = consumer(&store, &bus);
    assert_eq!(drain(&mut c).await.findings, 0);
    let who = Audit {
        actor: "op".into(),
        role: "operator".into(),
        at: Utc::now(),
    };
    let v1 = current_rules(&store, &region).await.unwrap();
    let v2 = v1
        .update(&RuleUpdate {
            code: RuleCode::SplitHospitalisation,
            enabled: None,
            severity: None,
            params: Some(crate::domain::RuleParams::SplitHospitalisation {
                window_days: 30,
                planned_diagnosis_prefixes: vec![],
            }),
        })
        .unwrap();
    store.save_rules(&v2, "30 days", &who).await.unwrap();
    // The backfill finds the pair in history under version 2.
    let report = crate::app::backfill::backfill(
        &store,
        &region,
        RuleCode::SplitHospitalisation,
        (day(1, 1), day(12, 31)),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            report.rule_version,
            report.events_seen,
            report.findings.len()
        ),
        (2, 2, 1)
    );
    // The live consumer switches to version 2 for the next events.
    publish(
        &bus,
        &stay("c3", "p-1", H1, day(4, 25), day(4, 28), "J18.000", 300_000),
    )
    .await;
    assert_eq!(drain(&mut c).await.findings, 1);
    let findings = all_findings(&store).await;
    assert_eq!(findings.len(), 1);
    assert_eq!(
        (
            findings[0].0.rule_version,
            findings[0].0.evidence.claim_ids.clone()
        ),
        (2, vec!["c2".to_string(), "c3".to_string()])
    );
}

#[tokio::test]
async fn a_clean_generated_stream_raises_nothing_through_the_consumer() {
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    for e in SyntheticStream::new(&StreamConfig::huoqiu(7, 300))
        .unwrap()
        .take(2_000)
    {
        let crate::domain::SupervisionEvent::Claim(c) = e else {
            continue;
        };
        publish(&bus, &c).await;
    }
    let mut c = consumer(&store, &bus);
    let r = drain(&mut c).await;
    assert_eq!((r.accepted, r.rejected, r.findings), (2_000, 0, 0));
    assert!(all_findings(&store).await.is_empty());
}

#[tokio::test]
async fn long_term_care_and_inventory_streams_are_judged_too() {
    use yibao_proto::events::v1 as ev;
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    // An inpatient stay 1–10 March; long-term care billed 1–31 March at a care home.
    publish(
        &bus,
        &stay("s1", "p-7", H1, day(3, 1), day(3, 10), "I63.900", 500_000),
    )
    .await;
    let care = ev::LtcEvent {
        event_id: "ltc-1".into(),
        claim_id: "L-1".into(),
        settled_at: "2018-04-02T09:00:00".into(),
        person_key: "p-7".into(),
        home_region: "341522".into(),
        institution_code: "H34152200009".into(),
        period_start: "2018-03-01".into(),
        period_end: "2018-03-31".into(),
        amount_fen: 310_000,
        fund_paid_fen: 310_000,
        enrolment_end: String::new(),
        death_date: String::new(),
        action: ev::LtcAction::Settled as i32,
    };
    bus.publish(streams::LTC_CLAIMS, "ltc-1", &care.encode_to_vec())
        .await
        .unwrap();
    // A pharmacy sells at 12.00 what it bought at 10.00 (zero mark-up policy).
    let sale = ev::InventoryEvent {
        event_id: "inv-1".into(),
        record_no: "S-0001".into(),
        recorded_at: "2018-03-05T15:00:00+08:00".into(),
        institution_code: "P34152200001".into(),
        item_code: "XC08CAA059A001010101445".into(),
        quantity: 30,
        purchase_unit_price_fen: 1_000,
        sale_unit_price_fen: 1_200,
    };
    bus.publish(
        streams::PROCUREMENT_INVENTORY,
        "inv-1",
        &sale.encode_to_vec(),
    )
    .await
    .unwrap();
    let mut c = consumer(&store, &bus);
    let r = drain(&mut c).await;
    assert_eq!((r.accepted, r.rejected), (3, 0));
    let findings = all_findings(&store).await;
    let by_rule = |code: RuleCode| {
        findings
            .iter()
            .find(|(f, _)| f.rule == code)
            .map(|(f, _)| f.clone())
            .unwrap()
    };
    let mark_up = by_rule(RuleCode::MarkUp);
    assert_eq!(
        (mark_up.institution.as_str(), mark_up.amount_at_risk),
        ("P34152200001", Fen(6_000)),
        "2.00 yuan × 30"
    );
    let overlap = by_rule(RuleCode::OverlappingStay);
    // Care days strictly inside the stay (2–9 March): 8 of 31 days of 3,100 yuan.
    assert_eq!(
        (overlap.institution.as_str(), overlap.amount_at_risk),
        ("H34152200009", Fen(80_000))
    );
    assert_eq!(findings.len(), 2);
    // Replayed after a restart, the stored payloads decode to the same events.
    let rebuilt = crate::events::consume::rebuild(&store, "341522")
        .await
        .unwrap();
    assert_eq!(rebuilt.events_observed(), 3);
}

/// The next page of a list read page by page with the runtime's tokens.
fn next_page(size: i32, token: String) -> Option<Page> {
    (!token.is_empty()).then(|| {
        Page::parse(Some(&yibao_proto::common::v1::PageRequest {
            page_size: size,
            page_token: token,
        }))
        .unwrap()
    })
}

#[tokio::test]
async fn lists_page_by_keyset_tokens_and_read_each_row_once() {
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    let who = Audit {
        actor: "op".into(),
        role: "operator".into(),
        at: Utc::now(),
    };
    put_budget(
        &store,
        &InstitutionCode::parse(H1).unwrap(),
        2018,
        Fen(1_200_000),
        &who,
    )
    .await
    .unwrap();
    put_budget(
        &store,
        &InstitutionCode::parse(H2).unwrap(),
        2018,
        Fen(1_200_000),
        &who,
    )
    .await
    .unwrap();
    // A split stay with a large receipt at H1 (two findings, one task) in January, whose spending
    // is red against the pace; H2's spending is yellow.
    publish(
        &bus,
        &stay("a1", "p-1", H1, day(1, 2), day(1, 6), "J18.900", 500_000),
    )
    .await;
    publish(
        &bus,
        &stay(
            "a2",
            "p-1",
            H1,
            day(1, 10),
            day(1, 20),
            "J18.100",
            1_100_000,
        ),
    )
    .await;
    publish(
        &bus,
        &stay("b1", "p-2", H2, day(1, 2), day(1, 6), "I63.900", 220_000),
    )
    .await;
    let mut c = consumer(&store, &bus);
    drain(&mut c).await;

    let mut page = Some(Page::first(1));
    let mut findings = Vec::new();
    while let Some(p) = page {
        let rows = store.findings(&FindingFilter::default(), &p).await.unwrap();
        let (rows, next) = p.finish(rows, |(f, _)| findings::finding_key(f));
        assert!(rows.len() <= 1);
        findings.extend(rows.into_iter().map(|(f, _)| f.finding_id));
        page = next_page(1, next.next_page_token);
    }
    let all: Vec<String> = all_findings(&store)
        .await
        .into_iter()
        .map(|(f, _)| f.finding_id)
        .collect();
    assert_eq!(findings, all, "every finding once, newest first");
    assert_eq!(findings.len(), 2);

    let mut page = Some(Page::first(1));
    let mut warnings = Vec::new();
    while let Some(p) = page {
        let rows = store.warnings("3415", 2018, 1, &p).await.unwrap();
        let (rows, next) = p.finish(rows, budgets::warning_key);
        warnings.extend(
            rows.into_iter()
                .map(|w| (w.status.institution.to_string(), w.level)),
        );
        page = next_page(1, next.next_page_token);
    }
    assert_eq!(
        warnings,
        [
            (H1.to_string(), WarningLevel::Red),
            (H2.to_string(), WarningLevel::Yellow)
        ],
        "worst first across pages"
    );

    let p = Page::first(1);
    let rows = store.tasks("3415", None, None, true, &p).await.unwrap();
    let (rows, next) = p.finish(rows, tasks::task_key);
    assert_eq!((rows.len(), next.next_page_token.as_str()), (1, ""));
    let after = Page::parse(Some(&yibao_proto::common::v1::PageRequest {
        page_size: 1,
        page_token: yibao_runtime::page::encode_token(&tasks::task_key(&rows[0])),
    }))
    .unwrap();
    assert!(
        store
            .tasks("3415", None, None, true, &after)
            .await
            .unwrap()
            .is_empty()
    );
    for after in [
        vec!["2999-01-01T00:00:00.000Z".to_string(), String::new()],
        vec!["institution".to_string(), String::new()],
    ] {
        let p = Page {
            size: 10,
            after: after.clone(),
        };
        assert!(store.cases("34", None, None, &p).await.unwrap().is_empty());
        assert!(store.blacklist("34", None, &p).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_large_receipts_open_task_is_withdrawn_when_its_claim_is_reversed() {
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    publish(
        &bus,
        &stay("big", "p-9", H1, day(4, 1), day(4, 9), "J18.900", 1_200_000),
    )
    .await;
    let mut c = consumer(&store, &bus);
    drain(&mut c).await;
    let open = store
        .tasks("3415", None, None, false, &Page::first(10))
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "a 12,000-yuan receipt opens a task");
    assert_eq!(open[0].amount, Fen(1_200_000), "the basic pool's payment");
    let mut rev = stay("big", "p-9", H1, day(4, 1), day(4, 9), "J18.900", 1_200_000);
    rev.event_id = "ev-big-reversal".into();
    rev.action = ClaimAction::Reversed;
    publish(&bus, &rev).await;
    drain(&mut c).await;
    assert!(
        store
            .tasks("3415", None, None, false, &Page::first(10))
            .await
            .unwrap()
            .is_empty(),
        "no longer open"
    );
    let all = store
        .tasks("3415", None, None, true, &Page::first(10))
        .await
        .unwrap();
    let w = all[0].withdrawn.as_ref().expect("withdrawn");
    assert_eq!(w.reason, "claim reversed (event ev-big-reversal)");
    assert!(all[0].completion.is_none());
    let mut t = all[0].clone();
    assert!(
        t.complete(
            crate::domain::VerificationMethod::CheckRecord,
            crate::domain::VerificationOutcome::Genuine,
            "operator-1",
            chrono::Utc::now(),
            ""
        )
        .is_err(),
        "a withdrawn task cannot be completed"
    );
}

#[tokio::test]
async fn spending_is_booked_in_the_month_the_claim_ends_not_when_the_event_arrives() {
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    let mut late = stay("m1", "p-8", H1, day(3, 1), day(3, 10), "J18.900", 300_000);
    late.settled_at = day(5, 2).and_hms_opt(9, 0, 0).unwrap();
    publish(&bus, &late).await;
    let mut c = consumer(&store, &bus);
    drain(&mut c).await;
    let txn = store.begin().await.unwrap();
    let months = store
        .spending_months(&txn, &InstitutionCode::parse(H1).unwrap(), 2018)
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(months, [3], "March, as settlement posts it");
}
