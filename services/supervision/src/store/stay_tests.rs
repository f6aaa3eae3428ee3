//! The encounter stream through the consumer on a real database (SQLite, or PostgreSQL with
//! `YIBAO_TEST_DATABASE_URL`): settlement's steps of a stay are judged by the in-stay rules
//! against the stays kept in the store, idempotently by event id, and the book survives a
//! restart of the consumer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::tests::fresh_store;
use super::*;
use crate::domain::{Finding, Review, RuleCode, StayStatus};
use crate::events::{BatchReport, Consumer, ConsumerConfig};
use chrono::NaiveDate;
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use yibao_core::Fen;
use yibao_proto::events::v1 as ev;
use yibao_runtime::bus::{Bus, MemoryBus};
use yibao_runtime::streams;

const H1: &str = "H34152200001";
const LUAN: &str = "H34150200001";

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

async fn drain(c: &mut Consumer) -> BatchReport {
    let mut total = BatchReport::default();
    loop {
        let r = c.poll_once(Duration::from_millis(1)).await.unwrap();
        if r.messages == 0 {
            return total;
        }
        total.accepted += r.accepted;
        total.rejected += r.rejected;
        total.duplicates += r.duplicates;
        total.findings += r.findings;
        total.messages += r.messages;
    }
}

fn step(
    event: &str,
    encounter: &str,
    action: ev::EncounterAction,
    institution: &str,
    start: &str,
) -> ev::EncounterEvent {
    ev::EncounterEvent {
        event_id: event.into(),
        encounter_id: encounter.into(),
        action: action as i32,
        occurred_at: "2018-03-12T09:00:00+08:00".into(),
        person_key: "p-9".into(),
        home_region: "341522".into(),
        institution_code: institution.into(),
        physician: "D341522000101".into(),
        kind: ev::ClaimKind::Inpatient as i32,
        start_date: start.into(),
        ..Default::default()
    }
}

fn fees(event: &str, encounter: &str, on: &str, fen: &[i64]) -> ev::EncounterEvent {
    let mut e = step(
        event,
        encounter,
        ev::EncounterAction::FeesUploaded,
        H1,
        "2018-03-10",
    );
    e.lines = fen
        .iter()
        .enumerate()
        .map(|(k, f)| ev::EncounterFeeLine {
            feedetl_sn: format!("{event}-{k}"),
            fee_date: on.into(),
            item: Some(ev::ClaimEventItem {
                code: "001109000010300".into(),
                quantity: 1,
                unit_price_fen: *f,
                amount_fen: *f,
                days_supply: 0,
            }),
        })
        .collect();
    e
}

async fn publish(bus: &MemoryBus, e: &ev::EncounterEvent) {
    bus.publish(
        streams::SETTLEMENT_ENCOUNTERS,
        &e.event_id,
        &e.encode_to_vec(),
    )
    .await
    .unwrap();
}

async fn findings(store: &Store) -> Vec<(Finding, Review)> {
    store
        .findings(&FindingFilter::default(), &Page::first(1000))
        .await
        .unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, 3, d).unwrap()
}

#[tokio::test]
async fn encounter_steps_are_judged_against_the_stored_stays_once_and_across_a_restart() {
    let store = fresh_store().await;
    let bus = MemoryBus::new();
    let steps = [
        step(
            "o-a",
            "enc-a",
            ev::EncounterAction::Opened,
            H1,
            "2018-03-10",
        ),
        // 40,000 + 15,000 yuan on the 11th: above the 50,000 limit by 5,000.
        fees("f-1", "enc-a", "2018-03-11", &[4_000_000, 1_500_000]),
        step(
            "o-b",
            "enc-b",
            ev::EncounterAction::Opened,
            LUAN,
            "2018-03-12",
        ),
    ];
    for s in &steps {
        publish(&bus, s).await;
    }
    let mut c = consumer(&store, &bus);
    let r = drain(&mut c).await;
    assert_eq!((r.accepted, r.rejected, r.findings), (3, 0, 2), "{r:?}");
    let mut got: Vec<(RuleCode, Vec<String>, Fen)> = findings(&store)
        .await
        .into_iter()
        .map(|(f, _)| (f.rule, f.evidence.encounter_ids, f.amount_at_risk))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                RuleCode::ConcurrentAdmission,
                vec!["enc-a".to_string(), "enc-b".to_string()],
                Fen::ZERO
            ),
            (
                RuleCode::DailyFeesAboveLimit,
                vec!["enc-a".to_string()],
                Fen::yuan(5_000)
            ),
        ]
    );

    // The same steps delivered again (a producer's replay) change nothing.
    for s in &steps {
        publish(&bus, s).await;
    }
    let r = drain(&mut c).await;
    assert_eq!((r.accepted, r.duplicates, r.findings), (0, 3, 0), "{r:?}");

    // A restarted consumer reads the book from the store: more fees on the day already found
    // raise nothing new, and the total goes on from the stored one; a discharge is kept.
    let mut restarted = consumer(&store, &bus);
    publish(&bus, &fees("f-2", "enc-a", "2018-03-11", &[100_000])).await;
    let mut out = step(
        "d-a",
        "enc-a",
        ev::EncounterAction::Discharged,
        H1,
        "2018-03-10",
    );
    out.end_date = "2018-03-14".into();
    publish(&bus, &out).await;
    // A discharge without its date is refused naming the field.
    let mut bad = out.clone();
    bad.event_id = "d-bad".into();
    bad.end_date = String::new();
    publish(&bus, &bad).await;
    let r = drain(&mut restarted).await;
    assert_eq!((r.accepted, r.rejected, r.findings), (2, 1, 0), "{r:?}");
    let book = store
        .stay_book(&["p-9".to_string()], &["enc-a".to_string()])
        .await
        .unwrap();
    assert_eq!(book.day_total("enc-a", day(11)), Fen(5_600_000));
    assert_eq!(book.stays.len(), 2);
    assert_eq!(book.stays["enc-a"].status, StayStatus::Discharged);
    assert_eq!(book.stays["enc-a"].end, Some(day(14)));
    assert_eq!(book.stays["enc-b"].status, StayStatus::Open);
    assert_eq!(findings(&store).await.len(), 2);

    // A backfill of the daily limit over the county's stored steps finds the same finding.
    let live: Vec<String> = findings(&store)
        .await
        .into_iter()
        .filter(|(f, _)| f.rule == RuleCode::DailyFeesAboveLimit)
        .map(|(f, _)| f.finding_id)
        .collect();
    let replayed = crate::app::backfill::backfill(
        &store,
        &yibao_core::RegionCode::parse("341522").unwrap(),
        RuleCode::DailyFeesAboveLimit,
        (day(1), day(31)),
    )
    .await
    .unwrap();
    assert_eq!(
        replayed
            .findings
            .iter()
            .map(|f| f.finding_id.clone())
            .collect::<Vec<_>>(),
        live
    );
}
