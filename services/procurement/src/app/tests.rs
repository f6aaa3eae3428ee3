//! Use-case tests on a fresh SQLite file (or a fresh PostgreSQL database when
//! `YIBAO_TEST_DATABASE_URL` is set): transactions, histories, idempotent repeats, the outbox
//! and the cached payment-standard look-up.

use super::*;
use crate::domain::{
    Bid, Group, InventoryRecord, ListedPrice, Movement, OpeningStock, PaymentStandard, Period,
    ReferenceKind, ReferencePrice,
};
use crate::store::tests::{C1, INST, TempDb, X1, X2, actor, d, item, with_catalogue};
use crate::store::{Audit, OutboxEvent, StoredGroup, Written};
use yibao_core::{Fen, RegionCode};
use yibao_runtime::Role;
use yibao_runtime::cache::MemoryCache;

async fn app() -> (Procurement, Option<TempDb>) {
    let (store, guard) = crate::store::tests::store().await;
    let app = Procurement::new(store.db().clone(), Arc::new(MemoryCache::new(1000)), None)
        .await
        .expect("app");
    (app, guard)
}

/// An operator of the province.
fn operator() -> Caller {
    Caller {
        subject: "op-1".into(),
        role: Role::Operator,
        org: String::new(),
        region: Some(RegionCode::parse("340000").expect("region")),
    }
}

fn round(id: &str) -> StoredRound {
    StoredRound {
        id: id.into(),
        region: "340000".into(),
        name: "第十批".into(),
        rules: crate::domain::RoundRules::national_default(),
        contract_start: d("2026-01-01"),
        contract_end: d("2026-12-31"),
        status: RoundStatus::Open,
        created: Audit {
            actor: "op-1".into(),
            role: "operator".into(),
            at: "2026-01-01T00:00:00.000Z".into(),
        },
        selected: None,
    }
}

fn group() -> StoredGroup {
    StoredGroup {
        group: Group {
            id: "g1".into(),
            generic_name: "阿托伐他汀钙片".into(),
            specification: "20mg".into(),
            highest_valid_price: Fen(200),
        },
        category: "drug".into(),
    }
}

fn institution() -> yibao_core::InstitutionCode {
    yibao_core::InstitutionCode::parse(INST).expect("institution")
}

fn bid(manufacturer: &str, code: &str, unit: i64) -> Bid {
    Bid {
        group_id: "g1".into(),
        manufacturer: manufacturer.into(),
        item_code: item(code),
        unit_price: Fen(unit),
        declared_price: Fen(unit * 7),
    }
}

#[tokio::test]
async fn a_round_takes_groups_demand_and_bids_until_its_selection_is_saved_once() {
    let (app, _g) = app().await;
    let store = app.store().clone();
    // Bids and listings name catalogued items.
    with_catalogue(&store).await;
    store.create_round(&round("r1")).await.unwrap();
    assert!(matches!(
        app.add_group(&operator(), "r1", &group()).await.unwrap(),
        Written::New(_)
    ));
    assert!(
        matches!(
            app.add_group(&operator(), "r1", &group()).await.unwrap(),
            Written::Existing(_)
        ),
        "identical repeat"
    );
    let mut other = group();
    other.group.highest_valid_price = Fen(300);
    assert!(matches!(
        app.add_group(&operator(), "r1", &other).await,
        Err(AppError::Conflict { .. })
    ));

    app.report_demand(&operator(), "r1", &institution(), &[("g1".into(), 1000)])
        .await
        .unwrap();
    app.report_demand(&operator(), "r1", &institution(), &[("g1".into(), 1200)])
        .await
        .unwrap();
    let demands = store.demands("r1").await.unwrap();
    assert_eq!(demands.len(), 1);
    assert_eq!(
        demands[0].quantity, 1200,
        "a repeat replaces the earlier report"
    );
    let unknown = app
        .report_demand(&operator(), "r1", &institution(), &[("g9".into(), 1)])
        .await;
    assert!(
        matches!(unknown, Err(AppError::Invalid { ref field, .. }) if field == "lines[0].group_id")
    );

    let (first, replaced) = app.submit_bid("r1", &bid("M1", X1, 70)).await.unwrap();
    assert!(!replaced);
    let Written::New(first_id) = first else {
        panic!("a new bid")
    };
    let (again, replaced) = app.submit_bid("r1", &bid("M1", X1, 70)).await.unwrap();
    assert_eq!(
        (again, replaced),
        (Written::Existing(first_id.clone()), false),
        "identical repeat writes nothing"
    );
    let (changed, replaced) = app.submit_bid("r1", &bid("M1", X1, 65)).await.unwrap();
    assert!(replaced);
    assert_ne!(changed.into_inner(), first_id);
    app.submit_bid("r1", &bid("M2", X2, 120)).await.unwrap();
    let bids = store.bids("r1").await.unwrap();
    assert_eq!(
        bids.iter()
            .map(|b| (b.bid.manufacturer.as_str(), b.bid.unit_price.0))
            .collect::<Vec<_>>(),
        vec![("M1", 65), ("M2", 120)]
    );

    let input = crate::domain::Round {
        id: "r1".into(),
        rules: round("r1").rules,
        groups: vec![group().group],
        bids: bids.into_iter().map(|b| b.bid).collect(),
        demands: store.demands("r1").await.unwrap(),
    };
    let outcome = crate::domain::select(&input).unwrap();
    assert!(
        app.save_selection("r1", &outcome.groups, &actor())
            .await
            .unwrap()
    );
    assert!(
        !app.save_selection("r1", &outcome.groups, &actor())
            .await
            .unwrap(),
        "a second save writes nothing"
    );
    let stored = app.round("r1").await.unwrap();
    assert_eq!(stored.status, RoundStatus::Selected);
    assert_eq!(stored.selected.map(|a| a.actor), Some("op-1".to_string()));
    assert_eq!(store.outcome("r1").await.unwrap(), outcome.groups);
    let allocations = store.allocations("r1", Some(INST)).await.unwrap();
    assert_eq!(allocations.len(), 1);
    assert_eq!(
        allocations[0].agreed_volume,
        outcome.groups[0].agreed_volume
    );

    let late = app.submit_bid("r1", &bid("M3", X2, 60)).await;
    assert!(matches!(
        late,
        Err(AppError::Precondition {
            code: "PROCUREMENT_ROUND_NOT_OPEN",
            ..
        })
    ));
    assert!(matches!(
        app.round("nope").await,
        Err(AppError::NotFound { .. })
    ));
}

fn guide(price: i64, from: &str) -> ReferencePrice {
    ReferencePrice {
        item_code: item(C1),
        kind: ReferenceKind::Guide,
        price: Fen(price),
        period: Period::from(d(from)),
    }
}

#[tokio::test]
async fn a_new_guide_price_ends_the_old_one_and_a_listing_above_it_is_refused_naming_it() {
    let (app, _g) = app().await;
    let store = app.store().clone();
    // Bids and listings name catalogued items.
    with_catalogue(&store).await;
    let (first, previous, above) = app
        .set_reference("340000", &guide(20_000, "2025-01-01"), &actor())
        .await
        .unwrap();
    assert!(matches!(first, Written::New(_)));
    assert!(previous.is_none() && above.is_empty());
    let listing = ListedPrice {
        item_code: item(C1),
        price: Fen(18_000),
        period: Period::from(d("2025-03-01")),
    };
    app.set_listing("340000", "M1", &listing, &actor())
        .await
        .unwrap();

    let (second, previous, above) = app
        .set_reference("340000", &guide(12_000, "2026-01-01"), &actor())
        .await
        .unwrap();
    let previous = previous.expect("the 200-yuan guide price ended");
    assert_eq!(previous.reference.period.to, Some(d("2025-12-31")));
    assert_eq!(
        above.len(),
        1,
        "the 180-yuan listing is now above the guide price"
    );
    let (repeat, repeat_previous, _) = app
        .set_reference("340000", &guide(12_000, "2026-01-01"), &actor())
        .await
        .unwrap();
    assert_eq!(
        repeat,
        Written::Existing(second.into_inner()),
        "identical repeat"
    );
    assert_eq!(repeat_previous.map(|p| p.id), Some(previous.id));

    let too_high = ListedPrice {
        item_code: item(C1),
        price: Fen(12_001),
        period: Period::from(d("2026-02-01")),
    };
    let refused = app.set_listing("340000", "M1", &too_high, &actor()).await;
    match refused {
        Err(AppError::Invalid {
            code,
            field,
            reason,
        }) => {
            assert_eq!(
                (code, field.as_str()),
                ("PROCUREMENT_PRICE_ABOVE_REFERENCE", "listing.price_fen")
            );
            assert!(
                reason.contains("guide price") && reason.contains("120.00"),
                "{reason}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let ok = ListedPrice {
        item_code: item(C1),
        price: Fen(12_000),
        period: Period::from(d("2026-02-01")),
    };
    app.set_listing("340000", "M1", &ok, &actor())
        .await
        .unwrap();
    let book = app.listings_for("341522", &[C1.to_string()]).await.unwrap();
    assert_eq!(
        book.listed_on(&item(C1), d("2025-06-01")).map(|l| l.price),
        Some(Fen(18_000))
    );
    assert_eq!(
        book.listed_on(&item(C1), d("2026-01-31"))
            .map(|l| l.period.to),
        Some(Some(d("2026-01-31"))),
        "the old listing ended the day before"
    );
    assert_eq!(
        book.listed_on(&item(C1), d("2026-06-01")).map(|l| l.price),
        Some(Fen(12_000))
    );
}

fn standard(amount: i64, from: &str, to: Option<&str>) -> PaymentStandard {
    PaymentStandard {
        item_code: item(X1),
        amount: Fen(amount),
        period: Period {
            from: d(from),
            to: to.map(d),
        },
        basis: "test".into(),
    }
}

#[tokio::test]
async fn payment_standards_keep_their_history_and_a_batch_is_all_or_nothing() {
    let (app, _g) = app().await;
    let store = app.store().clone();
    app.set_standards(
        "340000",
        &[(standard(100, "2025-01-01", None), "f".into())],
        &actor(),
    )
    .await
    .unwrap();
    let mut second = app
        .set_standards(
            "340000",
            &[(standard(70, "2026-01-01", None), "f".into())],
            &actor(),
        )
        .await
        .unwrap();
    let (stored, previous) = second.pop().unwrap();
    assert_eq!(
        previous.as_ref().map(|p| p.standard.period.to),
        Some(Some(d("2025-12-31")))
    );
    let mut repeat = app
        .set_standards(
            "340000",
            &[(standard(70, "2026-01-01", None), "f".into())],
            &actor(),
        )
        .await
        .unwrap();
    let (again, again_previous) = repeat.pop().unwrap();
    assert_eq!(again, Written::Existing(stored.into_inner()));
    assert_eq!(again_previous.map(|p| p.id), previous.map(|p| p.id));

    // A closed period in the past cannot be overwritten: the batch fails and writes nothing.
    let batch = vec![
        (
            PaymentStandard {
                item_code: item(X2),
                ..standard(50, "2026-01-01", None)
            },
            "standards[0]".to_string(),
        ),
        (
            standard(90, "2025-06-01", Some("2025-06-30")),
            "standards[1]".to_string(),
        ),
    ];
    match app.set_standards("340000", &batch, &actor()).await {
        Err(AppError::Invalid { code, field, .. }) => assert_eq!(
            (code, field.as_str()),
            ("PROCUREMENT_PERIOD_OVERLAP", "standards[1]")
        ),
        other => panic!("expected an overlap refusal, got {other:?}"),
    }
    assert!(
        store
            .standards_of_items(&[X2.to_string()])
            .await
            .unwrap()
            .is_empty(),
        "rolled back"
    );
    let history = store.standards_of_items(&[X1.to_string()]).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|s| (s.standard.amount.0, s.standard.period.to))
            .collect::<Vec<_>>(),
        vec![(100, Some(d("2025-12-31"))), (70, None)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_of_one_items_standards_never_leave_overlapping_periods() {
    let (app, _g) = app().await;
    let store = app.store().clone();
    app.set_standards(
        "340000",
        &[(standard(100, "2025-01-01", None), "f".into())],
        &actor(),
    )
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for month in 1..=8 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let s = standard(100 - month, &format!("2026-{month:02}-01"), None);
            app.set_standards("340000", &[(s, "f".into())], &actor())
                .await
        }));
    }
    let mut stored = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => stored += 1,
            Err(AppError::Invalid { code, .. }) => assert_eq!(code, "PROCUREMENT_PERIOD_OVERLAP"),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    let history = store.standards_of_items(&[X1.to_string()]).await.unwrap();
    assert_eq!(history.len(), stored + 1);
    for pair in history.windows(2) {
        let (a, b) = (&pair[0].standard.period, &pair[1].standard.period);
        assert_eq!(
            a.to.and_then(|t| t.succ_opt()),
            Some(b.from),
            "periods follow each other without a gap or overlap: {history:?}"
        );
    }
    assert_eq!(history.last().and_then(|s| s.standard.period.to), None);
}

#[tokio::test]
async fn the_cached_look_up_prices_each_date_by_its_own_standard_and_sees_changes_only_after_invalidation()
 {
    let (app, _g) = app().await;
    let store = app.store().clone();
    let cache = StandardCache::new(
        Arc::new(MemoryCache::new(1000)),
        store.cache_namespace().await.unwrap(),
    );
    assert_eq!(
        store.cache_namespace().await.unwrap(),
        store.cache_namespace().await.unwrap(),
        "stable per database"
    );
    app.set_standards(
        "340000",
        &[(standard(100, "2025-01-01", None), "f".into())],
        &actor(),
    )
    .await
    .unwrap();
    app.set_standards(
        "340000",
        &[(standard(70, "2026-01-01", None), "f".into())],
        &actor(),
    )
    .await
    .unwrap();
    app.set_standards(
        "341522",
        &[(standard(65, "2026-07-01", None), "f".into())],
        &actor(),
    )
    .await
    .unwrap();
    let items = vec![X1.to_string(), X2.to_string()];
    let amounts = |found: Vec<Option<yibao_proto::procurement::v1::PaymentStandard>>| {
        found
            .into_iter()
            .map(|f| f.map(|f| (f.region_code, f.amount_fen)))
            .collect::<Vec<_>>()
    };

    let past = cache
        .lookup(&store, "341522", &items, d("2025-06-30"))
        .await
        .unwrap();
    assert_eq!(
        amounts(past),
        vec![Some(("340000".into(), 100)), None],
        "a 2025 claim gets the 2025 standard"
    );
    let now = cache
        .lookup(&store, "341522", &items, d("2026-03-01"))
        .await
        .unwrap();
    assert_eq!(amounts(now), vec![Some(("340000".into(), 70)), None]);
    let county = cache
        .lookup(&store, "341522", &items, d("2026-07-01"))
        .await
        .unwrap();
    assert_eq!(
        amounts(county),
        vec![Some(("341522".into(), 65)), None],
        "the county's own standard first"
    );
    let city = cache
        .lookup(&store, "341500", &items, d("2026-07-01"))
        .await
        .unwrap();
    assert_eq!(
        amounts(city),
        vec![Some(("340000".into(), 70)), None],
        "another city keeps the province's"
    );

    // Served from the cache: a change not yet invalidated is not seen…
    app.set_standards(
        "340000",
        &[(
            PaymentStandard {
                item_code: item(X2),
                ..standard(40, "2026-01-01", None)
            },
            "f".into(),
        )],
        &actor(),
    )
    .await
    .unwrap();
    let stale = cache
        .lookup(&store, "340000", &items, d("2026-03-01"))
        .await
        .unwrap();
    assert_eq!(amounts(stale)[1], None);
    // …and is seen at once after the invalidation every write path performs.
    cache.invalidate(&[X2.to_string()]).await;
    let fresh = cache
        .lookup(&store, "340000", &items, d("2026-03-01"))
        .await
        .unwrap();
    assert_eq!(amounts(fresh)[1], Some(("340000".into(), 40)));
}

fn record(no: &str, date: &str, movement: Movement, quantity: u64, price: i64) -> InventoryRecord {
    InventoryRecord {
        institution: yibao_core::InstitutionCode::parse(INST).unwrap(),
        item_code: item(C1),
        date: d(date),
        movement,
        quantity,
        unit_price: Fen(price),
        record_no: no.into(),
    }
}

#[tokio::test]
async fn inventory_records_are_idempotent_on_record_number_and_their_events_are_written_once() {
    let (app, _g) = app().await;
    let store = app.store().clone();
    with_catalogue(&store).await;
    let records = vec![
        record("P1", "2026-01-05", Movement::Purchase, 10, 1000),
        record("S1", "2026-01-06", Movement::Sale, 4, 1100),
    ];
    let opening = vec![OpeningStock {
        institution: yibao_core::InstitutionCode::parse(INST).unwrap(),
        item_code: item(C1),
        quantity: 2,
        unit_cost: Fen(900),
        as_of: d("2026-01-01"),
    }];
    let event = |n: &str| {
        OutboxEvent::new(
            yibao_runtime::streams::PROCUREMENT_INVENTORY,
            format!("e-{n}"),
            vec![0, 1, 0xab, 0xff],
        )
    };
    let seen = app
        .record_inventory(INST, &records, &opening, |all, open| {
            Ok(((all.len(), open.len()), vec![event("1")]))
        })
        .await
        .unwrap();
    assert_eq!(seen, (2, 1));
    // A retry of the same records stores nothing new and does not duplicate the event.
    let seen = app
        .record_inventory(INST, &records, &opening, |all, open| {
            Ok(((all.len(), open.len()), vec![event("1")]))
        })
        .await
        .unwrap();
    assert_eq!(seen, (2, 1));
    let pending = store.unpublished(10).await.unwrap();
    assert_eq!(
        pending,
        vec![event("1")],
        "payload survives the hex round trip"
    );
    // The relay publishes and marks it.
    let bus = yibao_runtime::bus::MemoryBus::new();
    yibao_runtime::outbox::publish_pending(store.base(), &bus, 10)
        .await
        .unwrap();
    assert!(store.unpublished(10).await.unwrap().is_empty());

    // The same number with other content is refused and the whole upload writes nothing.
    let reused = vec![
        record("P2", "2026-02-01", Movement::Purchase, 1, 1000),
        record("S1", "2026-01-06", Movement::Sale, 5, 1100),
    ];
    let refused = app
        .record_inventory(INST, &reused, &[], |_, _| Ok(((), vec![])))
        .await;
    assert!(
        matches!(refused, Err(AppError::Conflict { code: "PROCUREMENT_RECORD_NO_REUSED", ref message }) if message.starts_with("records[1].record_no"))
    );
    let purchases = store
        .purchases(
            &[INST.to_string()],
            &[C1.to_string()],
            d("2026-01-01"),
            d("2026-12-31"),
        )
        .await
        .unwrap();
    assert_eq!(
        purchases
            .iter()
            .map(|p| (p.quantity, p.unit_price.0))
            .collect::<Vec<_>>(),
        vec![(10, 1000)],
        "P2 was rolled back; sales are not purchases"
    );
    assert!(
        store
            .purchases(
                &[INST.to_string()],
                &[C1.to_string()],
                d("2026-02-01"),
                d("2026-12-31")
            )
            .await
            .unwrap()
            .is_empty()
    );
}
