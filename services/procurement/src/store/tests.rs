//! Store tests on a fresh SQLite file (or a fresh PostgreSQL database when
//! `YIBAO_TEST_DATABASE_URL` is set): transactions, histories, idempotent repeats, the outbox
//! and the cached payment-standard look-up.

use super::*;
use crate::domain::{Bid, Group, InventoryRecord, Movement, OpeningStock, parse_catalogue_csv};
use crate::standards::StandardCache;
use yibao_runtime::cache::MemoryCache;
use yibao_runtime::config::DatabaseConfig;

const X1: &str = "XA01AAA123A001010100001";
const X2: &str = "XA01AAA123A001010100002";
const C1: &str = "C0101010010000000001";
const INST: &str = "H34152200001";

struct TempDb(std::path::PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

async fn store() -> (Store, Option<TempDb>) {
    let (cfg, guard) = match std::env::var("YIBAO_TEST_DATABASE_URL") {
        Ok(base) => {
            let url = yibao_runtime::db::create_fresh_postgres(&base, "yibao_procurement_store")
                .await
                .expect("fresh postgres");
            (
                DatabaseConfig {
                    url,
                    max_connections: 4,
                },
                None,
            )
        }
        Err(_) => {
            let path = std::env::temp_dir().join(format!(
                "procurement-store-{}.db",
                uuid::Uuid::new_v4().simple()
            ));
            (DatabaseConfig::sqlite(&path), Some(TempDb(path)))
        }
    };
    let db = yibao_runtime::db::connect_and_migrate::<migration::Migrator>(&cfg)
        .await
        .expect("migrate");
    (Store::new(db), guard)
}

fn actor() -> Actor {
    Actor {
        subject: "op-1".into(),
        role: "operator".into(),
    }
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn item(s: &str) -> ItemCode {
    ItemCode::parse_any(s).expect("code").1
}

fn catalogue_csv() -> String {
    format!(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,negotiated,valid_from,valid_to\n\
         {X1},drug,阿托伐他汀钙片,片剂,20mg,甲药业,乙,false,2025-01-01,\n\
         {X2},drug,阿托伐他汀钙片,片剂,20mg,乙药业,乙,false,2025-01-01,2025-12-31\n\
         {C1},consumable,髋关节假体,,1套,丙器械,乙,false,2025-01-01,\n"
    )
}

async fn with_catalogue(store: &Store) {
    let import = parse_catalogue_csv(&catalogue_csv());
    assert!(import.errors.is_empty(), "{:?}", import.errors);
    store
        .upsert_catalogue("340000", &import.entries, &actor())
        .await
        .expect("import");
}

#[tokio::test]
async fn catalogue_upsert_tells_created_from_replaced_and_lists_by_kind_name_and_date() {
    let (store, _g) = store().await;
    let import = parse_catalogue_csv(&catalogue_csv());
    assert_eq!(
        store
            .upsert_catalogue("340000", &import.entries, &actor())
            .await
            .unwrap(),
        vec![true, true, true]
    );
    assert_eq!(
        store
            .upsert_catalogue("340000", &import.entries[..1], &actor())
            .await
            .unwrap(),
        vec![false]
    );

    let drugs = store
        .list_catalogue("340000", Some(ItemKind::WesternDrug), "", None, "", 10)
        .await
        .unwrap();
    assert_eq!(
        drugs
            .iter()
            .map(|i| i.entry.code.to_string())
            .collect::<Vec<_>>(),
        vec![X1, X2]
    );
    let on_2026 = store
        .list_catalogue("340000", None, "阿托伐他汀", Some(d("2026-03-01")), "", 10)
        .await
        .unwrap();
    assert_eq!(
        on_2026.len(),
        1,
        "the second drug's validity ended on 2025-12-31"
    );
    let page2 = store
        .list_catalogue("340000", None, "", None, X1, 1)
        .await
        .unwrap();
    assert_eq!(page2[0].entry.code.as_str(), X2);
    assert!(
        store
            .list_catalogue("320000", None, "", None, "", 10)
            .await
            .unwrap()
            .is_empty()
    );

    let found = store
        .catalogue_item_in_chain("341522", C1)
        .await
        .unwrap()
        .expect("county finds the province's entry");
    assert_eq!(found.region, "340000");
    assert_eq!(found.updated.actor, "op-1");
    assert_eq!(
        store
            .codes_of_generic("341500", "阿托伐他汀钙片")
            .await
            .unwrap(),
        vec![X1.to_string(), X2.to_string()]
    );
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
    let (store, _g) = store().await;
    store.create_round(&round("r1")).await.unwrap();
    assert!(matches!(
        store.add_group("r1", &group()).await.unwrap(),
        Written::New(_)
    ));
    assert!(
        matches!(
            store.add_group("r1", &group()).await.unwrap(),
            Written::Existing(_)
        ),
        "identical repeat"
    );
    let mut other = group();
    other.group.highest_valid_price = Fen(300);
    assert!(matches!(
        store.add_group("r1", &other).await,
        Err(ProcError::Conflict { .. })
    ));

    store
        .report_demand("r1", INST, &[("g1".into(), 1000)])
        .await
        .unwrap();
    store
        .report_demand("r1", INST, &[("g1".into(), 1200)])
        .await
        .unwrap();
    let demands = store.demands("r1").await.unwrap();
    assert_eq!(demands.len(), 1);
    assert_eq!(
        demands[0].quantity, 1200,
        "a repeat replaces the earlier report"
    );
    let unknown = store.report_demand("r1", INST, &[("g9".into(), 1)]).await;
    assert!(
        matches!(unknown, Err(ProcError::Invalid { ref field, .. }) if field == "lines[0].group_id")
    );

    let (first, replaced) = store.submit_bid("r1", &bid("M1", X1, 70)).await.unwrap();
    assert!(!replaced);
    let Written::New(first_id) = first else {
        panic!("a new bid")
    };
    let (again, replaced) = store.submit_bid("r1", &bid("M1", X1, 70)).await.unwrap();
    assert_eq!(
        (again, replaced),
        (Written::Existing(first_id.clone()), false),
        "identical repeat writes nothing"
    );
    let (changed, replaced) = store.submit_bid("r1", &bid("M1", X1, 65)).await.unwrap();
    assert!(replaced);
    assert_ne!(changed.into_inner(), first_id);
    store.submit_bid("r1", &bid("M2", X2, 120)).await.unwrap();
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
        store
            .save_selection("r1", &outcome.groups, &actor())
            .await
            .unwrap()
    );
    assert!(
        !store
            .save_selection("r1", &outcome.groups, &actor())
            .await
            .unwrap(),
        "a second save writes nothing"
    );
    let stored = store.round("r1").await.unwrap();
    assert_eq!(stored.status, RoundStatus::Selected);
    assert_eq!(stored.selected.map(|a| a.actor), Some("op-1".to_string()));
    assert_eq!(store.outcome("r1").await.unwrap(), outcome.groups);
    let allocations = store.allocations("r1", Some(INST)).await.unwrap();
    assert_eq!(allocations.len(), 1);
    assert_eq!(
        allocations[0].agreed_volume,
        outcome.groups[0].agreed_volume
    );

    let late = store.submit_bid("r1", &bid("M3", X2, 60)).await;
    assert!(matches!(
        late,
        Err(ProcError::Precondition {
            code: "PROCUREMENT_ROUND_NOT_OPEN",
            ..
        })
    ));
    assert!(matches!(
        store.round("nope").await,
        Err(ProcError::NotFound { .. })
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
    let (store, _g) = store().await;
    let (first, previous, above) = store
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
    store
        .set_listing("340000", "M1", &listing, &actor())
        .await
        .unwrap();

    let (second, previous, above) = store
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
    let (repeat, repeat_previous, _) = store
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
    let refused = store.set_listing("340000", "M1", &too_high, &actor()).await;
    match refused {
        Err(ProcError::Invalid {
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
    store
        .set_listing("340000", "M1", &ok, &actor())
        .await
        .unwrap();
    let book = store
        .listings_for("341522", &[C1.to_string()])
        .await
        .unwrap();
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
    let (store, _g) = store().await;
    store
        .set_standards(
            "340000",
            &[(standard(100, "2025-01-01", None), "f".into())],
            &actor(),
        )
        .await
        .unwrap();
    let mut second = store
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
    let mut repeat = store
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
    match store.set_standards("340000", &batch, &actor()).await {
        Err(ProcError::Invalid { code, field, .. }) => assert_eq!(
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
    let (store, _g) = store().await;
    store
        .set_standards(
            "340000",
            &[(standard(100, "2025-01-01", None), "f".into())],
            &actor(),
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for month in 1..=8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let s = standard(100 - month, &format!("2026-{month:02}-01"), None);
            store
                .set_standards("340000", &[(s, "f".into())], &actor())
                .await
        }));
    }
    let mut stored = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => stored += 1,
            Err(ProcError::Invalid { code, .. }) => assert_eq!(code, "PROCUREMENT_PERIOD_OVERLAP"),
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
    let (store, _g) = store().await;
    let cache = StandardCache::new(
        Arc::new(MemoryCache::new(1000)),
        store.cache_namespace().await.unwrap(),
    );
    assert_eq!(
        store.cache_namespace().await.unwrap(),
        store.cache_namespace().await.unwrap(),
        "stable per database"
    );
    store
        .set_standards(
            "340000",
            &[(standard(100, "2025-01-01", None), "f".into())],
            &actor(),
        )
        .await
        .unwrap();
    store
        .set_standards(
            "340000",
            &[(standard(70, "2026-01-01", None), "f".into())],
            &actor(),
        )
        .await
        .unwrap();
    store
        .set_standards(
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
    store
        .set_standards(
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
    let (store, _g) = store().await;
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
    let event = |n: &str| OutboxEvent {
        event_id: format!("e-{n}"),
        stream: "s".into(),
        payload: vec![0, 1, 0xab, 0xff],
    };
    let seen = store
        .upload_inventory(INST, &records, &opening, |all, open| {
            Ok(((all.len(), open.len()), vec![event("1")]))
        })
        .await
        .unwrap();
    assert_eq!(seen, (2, 1));
    // A retry of the same records stores nothing new and does not duplicate the event.
    let seen = store
        .upload_inventory(INST, &records, &opening, |all, open| {
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
    store.mark_published("e-1").await.unwrap();
    assert!(store.unpublished(10).await.unwrap().is_empty());

    // The same number with other content is refused and the whole upload writes nothing.
    let reused = vec![
        record("P2", "2026-02-01", Movement::Purchase, 1, 1000),
        record("S1", "2026-01-06", Movement::Sale, 5, 1100),
    ];
    let refused = store
        .upload_inventory(INST, &reused, &[], |_, _| Ok(((), vec![])))
        .await;
    assert!(
        matches!(refused, Err(ProcError::Conflict { code: "PROCUREMENT_RECORD_NO_REUSED", ref message }) if message.starts_with("records[1].record_no"))
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

#[test]
fn region_chain_goes_from_county_to_province() {
    assert_eq!(region_chain("341522"), vec!["341522", "341500", "340000"]);
    assert_eq!(region_chain("341500"), vec!["341500", "340000"]);
    assert_eq!(region_chain("340000"), vec!["340000"]);
}

#[test]
fn hex_round_trips_every_byte() {
    let bytes: Vec<u8> = (0..=255).collect();
    assert_eq!(from_hex(&to_hex(&bytes)).unwrap(), bytes);
    assert!(from_hex("zz").is_err());
}
