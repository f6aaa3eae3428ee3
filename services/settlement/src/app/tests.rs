//! Use-case specifications on SQLite (and on PostgreSQL too when `YIBAO_TEST_DATABASE_URL` is
//! set): one transaction per settlement, retries that write nothing, reversals that restore the
//! counters and net the ledger to zero, the per-person race, the outbox relay.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::domain::{
    Accumulators, CatalogueEntry, Claim, ClaimItem, EligibilitySnapshot, EncounterKind,
    HospitalGrade, InstitutionTier, ItemClass, PersonCategory, Scheme, apply_delta, default_bundle,
};
use crate::store::sql::{self, int};
use crate::store::{
    Actor, CatalogueRow, ClaimStatus, InsurerFilter, Store, StoredClaim, migration, month_of, today,
};
use chrono::NaiveDate;
use yibao_core::{Fen, IdNumber, InstitutionCode, RegionCode};
use yibao_runtime::bus::{Bus, MemoryBus};
use yibao_runtime::config::DatabaseConfig;
use yibao_runtime::{outbox, streams};

struct TestDb {
    app: SettlementApp,
    _dir: Option<std::path::PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(d) = &self._dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

async fn open_sqlite() -> TestDb {
    let dir = std::env::temp_dir().join(format!(
        "yibao-settlement-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let url = format!("sqlite://{}/s.db?mode=rwc", dir.display());
    let conn = yibao_runtime::db::connect_and_migrate::<migration::Migrator>(&DatabaseConfig {
        url,
        max_connections: 4,
    })
    .await
    .unwrap();
    let store = Store::new(conn);
    store
        .seed_default_policies(&default_bundle().unwrap())
        .await
        .unwrap();
    TestDb {
        app: SettlementApp::new(store, Upstreams::offline(), None),
        _dir: Some(dir),
    }
}

/// SQLite always; PostgreSQL as well when the environment names a server.
async fn backends() -> Vec<TestDb> {
    let mut out = vec![open_sqlite().await];
    if let Ok(base) = std::env::var("YIBAO_TEST_DATABASE_URL") {
        let url = yibao_runtime::db::create_fresh_postgres(&base, "yibao_settlement_store")
            .await
            .unwrap();
        let conn = yibao_runtime::db::connect_and_migrate::<migration::Migrator>(&DatabaseConfig {
            url,
            max_connections: 16,
        })
        .await
        .unwrap();
        let store = Store::new(conn);
        store
            .seed_default_policies(&default_bundle().unwrap())
            .await
            .unwrap();
        out.push(TestDb {
            app: SettlementApp::new(store, Upstreams::offline(), None),
            _dir: None,
        });
    }
    out
}

fn y(yuan: i64) -> Fen {
    Fen::yuan(yuan)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn item(code: &str, class: ItemClass, amount: Fen) -> ClaimItem {
    ClaimItem {
        national_code: code.into(),
        name: String::new(),
        class,
        quantity: 1,
        unit_price: amount,
        amount,
        payment_standard: None,
        preselfpay_share: None,
    }
}

/// DOMAIN §1.7: 150,000 = 10,000 out of catalogue + 40,000 乙类 + 100,000 甲类.
fn worked_items() -> Vec<ClaimItem> {
    vec![
        item("C-OUT", ItemClass::C, y(10_000)),
        item("B-DRUGS", ItemClass::B, y(40_000)),
        item("A-SERVICES", ItemClass::A, y(100_000)),
    ]
}

const PERSON: &str = "34152219800101123";

async fn input(
    app: &SettlementApp,
    encounter: &str,
    items: Vec<ClaimItem>,
    poor: bool,
) -> SettleInput {
    let id = IdNumber::with_check_digit(PERSON).unwrap();
    let claim = Claim {
        institution_code: InstitutionCode::parse("H34150200001").unwrap(),
        encounter_no: encounter.into(),
        id_number: id,
        kind: EncounterKind::Inpatient,
        disease_code: None,
        grade: HospitalGrade::Grade3,
        tier: InstitutionTier::City,
        start_date: date("2018-06-10"),
        end_date: date("2018-06-15"),
        diagnoses: vec!["I10.x00x002".into()],
        items,
    };
    let region = RegionCode::parse("341522").unwrap();
    let eligibility = EligibilitySnapshot {
        scheme: Scheme::Resident,
        insured_region: region.clone(),
        categories: if poor {
            vec![PersonCategory::PovertyRegistered]
        } else {
            vec![]
        },
        chronic_registrations: vec![],
        supplement_products: vec![],
        cross_region_filing: None,
    };
    let policy = app
        .store()
        .find_policy(&region, Scheme::Resident, claim.end_date)
        .await
        .unwrap()
        .expect("Huoqiu 2018 is seeded");
    let stored = StoredClaim::of(&claim, &region, None);
    SettleInput {
        claim,
        stored,
        person_id: "person-1".into(),
        eligibility,
        policy,
    }
}

fn actor() -> Actor {
    Actor {
        subject: "his-1".into(),
        role: "hospital".into(),
    }
}

async fn count(app: &SettlementApp, table: &str) -> i64 {
    let r = sql::one(
        app.store().db(),
        &format!("SELECT COUNT(*) AS n FROM {table}"),
        vec![],
    )
    .await
    .unwrap()
    .unwrap();
    int(&r, "n").unwrap()
}

async fn acc(app: &SettlementApp) -> Accumulators {
    app.accumulators(
        IdNumber::with_check_digit(PERSON).unwrap().expose(),
        2018,
        &RegionCode::parse("341522").unwrap(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn worked_example_is_written_in_one_transaction_with_balanced_ledger_and_one_event() {
    for db in backends().await {
        let s = &db.app;
        let done = s
            .settle_prepared(&input(s, "E1", worked_items(), true).await, &actor())
            .await
            .unwrap();
        let b = done.settlement.breakdown;
        assert!(!done.replayed);
        assert_eq!(b.hifp_pay, y(87_750));
        assert_eq!(b.hifmi_pay, Fen(2_811_250));
        assert_eq!(b.maf_pay, Fen(1_409_625));
        assert_eq!(b.backstop_pay, Fen(104_125));
        assert_eq!(b.fund_pay_sumamt, y(131_000));
        assert_eq!(b.psn_part_amt, y(19_000));
        assert_eq!(count(s, "claims").await, 1);
        assert_eq!(count(s, "claim_items").await, 3);
        assert_eq!(
            count(s, "breakdown_lines").await,
            done.settlement.explanations.len() as i64
        );
        assert_eq!(count(s, "event_outbox").await, 1);
        // Four fund lines, each a debit and a credit.
        assert_eq!(count(s, "ledger_lines").await, 8);
        assert_eq!(acc(s).await, done.settlement.accumulators_after);
        let rec = s
            .reconcile_ledger("341522", "2018-06", &actor())
            .await
            .unwrap();
        assert!(rec.balanced(), "{rec:?}");
        let pool = rec
            .funds
            .iter()
            .find(|f| f.fund_pay_type == "390100")
            .unwrap();
        assert_eq!(pool.ledger_total, y(87_750).0);
        let st = s
            .store()
            .statement("H34150200001", "2018-06")
            .await
            .unwrap();
        let line = &st[&Scheme::Resident];
        assert_eq!((line.claims, line.net.fund_pay_sumamt), (1, y(131_000)));
    }
}

#[tokio::test]
async fn a_repeated_encounter_returns_the_first_settlement_and_writes_nothing() {
    for db in backends().await {
        let s = &db.app;
        let first = s
            .settle_prepared(&input(s, "E1", worked_items(), true).await, &actor())
            .await
            .unwrap();
        let before = (
            count(s, "claims").await,
            count(s, "ledger_lines").await,
            count(s, "event_outbox").await,
            acc(s).await,
        );
        // Same encounter, different bill: still the first result.
        let again = s
            .settle_prepared(
                &input(s, "E1", vec![item("A-SERVICES", ItemClass::A, y(5))], false).await,
                &actor(),
            )
            .await
            .unwrap();
        assert!(again.replayed);
        assert_eq!(again.claim_id, first.claim_id);
        assert_eq!(again.settlement, first.settlement);
        assert_eq!(
            (
                count(s, "claims").await,
                count(s, "ledger_lines").await,
                count(s, "event_outbox").await,
                acc(s).await
            ),
            before
        );
    }
}

#[tokio::test]
async fn full_reversal_restores_accumulators_and_nets_the_ledger_to_zero() {
    for db in backends().await {
        let s = &db.app;
        let a = s
            .settle_prepared(&input(s, "E1", worked_items(), true).await, &actor())
            .await
            .unwrap();
        let b = s
            .settle_prepared(
                &input(
                    s,
                    "E2",
                    vec![item("A-SERVICES", ItemClass::A, y(3_000))],
                    true,
                )
                .await,
                &actor(),
            )
            .await
            .unwrap();
        let r = s
            .reverse_claim(
                &a.claim_id,
                "H34150200001",
                "R1",
                &[],
                "wrong patient",
                &actor(),
            )
            .await
            .unwrap();
        assert_eq!(r.status, ClaimStatus::Reversed);
        assert_eq!(r.refund, a.settlement.breakdown);
        // Only the second claim's counters remain.
        let left = apply_delta(
            &Accumulators::new(2018, RegionCode::parse("341522").unwrap()),
            &b.settlement.delta,
        )
        .unwrap();
        assert_eq!(acc(s).await, left);
        // Replaying the reversal number writes nothing; reversing again is refused.
        let outbox = count(s, "event_outbox").await;
        let again = s
            .reverse_claim(
                &a.claim_id,
                "H34150200001",
                "R1",
                &[],
                "wrong patient",
                &actor(),
            )
            .await
            .unwrap();
        assert_eq!(again.refund, r.refund);
        assert_eq!(count(s, "event_outbox").await, outbox);
        let closed = s
            .reverse_claim(&a.claim_id, "H34150200001", "R2", &[], "twice", &actor())
            .await
            .unwrap_err();
        assert!(
            matches!(
                closed,
                AppError::Precondition(c, _) if c.code == "SETTLEMENT_CLAIM_CLOSED"
            ),
            "{closed:?}"
        );
        // Reverse the other one too: the counters are back at zero and the ledger nets out.
        s.reverse_claim(&b.claim_id, "H34150200001", "R3", &[], "test", &actor())
            .await
            .unwrap();
        assert_eq!(
            acc(s).await,
            Accumulators::new(2018, RegionCode::parse("341522").unwrap())
        );
        let net = sql::one(s.store().db(), "SELECT CAST(SUM(debit_fen - credit_fen) AS BIGINT) AS n FROM ledger_lines WHERE account LIKE 'fund:%'", vec![]).await.unwrap().unwrap();
        assert_eq!(int(&net, "n").unwrap(), 0);
        let month = month_of(today());
        assert!(
            s.reconcile_ledger("340000", &month, &actor())
                .await
                .unwrap()
                .balanced()
        );
        assert!(
            s.reconcile_ledger("341522", "2018-06", &actor())
                .await
                .unwrap()
                .balanced()
        );
    }
}

#[tokio::test]
async fn refunding_the_out_of_catalogue_item_gives_back_only_the_patients_money() {
    for db in backends().await {
        let s = &db.app;
        let a = s
            .settle_prepared(&input(s, "E1", worked_items(), true).await, &actor())
            .await
            .unwrap();
        let r = s
            .reverse_claim(
                &a.claim_id,
                "H34150200001",
                "R1",
                &[0],
                "not given",
                &actor(),
            )
            .await
            .unwrap();
        assert_eq!(r.status, ClaimStatus::PartiallyRefunded);
        assert_eq!(r.refund.medfee_sumamt, y(10_000));
        assert_eq!(r.refund.fund_pay_sumamt, Fen::ZERO);
        assert_eq!(r.refund.psn_part_amt, y(10_000));
        let after = r.settlement.unwrap();
        assert_eq!(acc(s).await, after.accumulators_after);
        let row = s.store().claim(&a.claim_id).await.unwrap().unwrap();
        assert_eq!(row.stored.refunded, vec![0]);
        assert_eq!(row.reversals.len(), 1);
        let bad = s
            .reverse_claim(&a.claim_id, "H34150200001", "R2", &[0], "again", &actor())
            .await
            .unwrap_err();
        assert!(
            matches!(&bad, AppError::Invalid(v) if v[0].0 == "item_indexes[0]"),
            "{bad:?}"
        );
        // Refunding the rest reverses the claim and restores the counters to zero.
        let r = s
            .reverse_claim(&a.claim_id, "H34150200001", "R3", &[1, 2], "rest", &actor())
            .await
            .unwrap();
        assert_eq!(r.status, ClaimStatus::Reversed);
        assert_eq!(
            acc(s).await,
            Accumulators::new(2018, RegionCode::parse("341522").unwrap())
        );
    }
}

#[tokio::test]
async fn resettlement_supersedes_the_claim_and_counts_only_the_correction() {
    for db in backends().await {
        let s = &db.app;
        let a = s
            .settle_prepared(&input(s, "E1", worked_items(), true).await, &actor())
            .await
            .unwrap();
        let corrected = input(
            s,
            "E1",
            vec![item("A-SERVICES", ItemClass::A, y(20_000))],
            true,
        )
        .await;
        let r = s
            .resettle_prepared(&a.claim_id, &corrected, "bill corrected", &actor())
            .await
            .unwrap();
        assert_eq!(r.settlement.breakdown.medfee_sumamt, y(20_000));
        assert_eq!(r.difference.medfee_sumamt, y(20_000 - 150_000));
        let fresh = crate::domain::settle(
            &corrected.claim,
            &corrected.eligibility,
            &Accumulators::new(2018, RegionCode::parse("341522").unwrap()),
            &corrected.policy,
        )
        .unwrap();
        assert_eq!(acc(s).await, fresh.accumulators_after);
        let old = s.store().claim(&a.claim_id).await.unwrap().unwrap();
        assert_eq!(old.status, ClaimStatus::Superseded);
        assert_eq!(old.superseded_by.as_deref(), Some(r.claim_id.as_str()));
        // The encounter now answers with the corrected claim.
        let replay = s.settle_prepared(&corrected, &actor()).await.unwrap();
        assert!(replay.replayed);
        assert_eq!(replay.claim_id, r.claim_id);
        assert!(
            s.reconcile_ledger("341522", "2018-06", &actor())
                .await
                .unwrap()
                .balanced()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_settlements_of_one_person_never_share_the_backstop_room() {
    for db in backends().await {
        let s = db.app.clone();
        let mut tasks = Vec::new();
        for n in 0..8 {
            let s = s.clone();
            let inp = input(
                &s,
                &format!("RACE-{n}"),
                vec![item("A-SERVICES", ItemClass::A, y(30_000))],
                true,
            )
            .await;
            tasks.push(tokio::spawn(async move {
                s.settle_prepared(&inp, &actor()).await
            }));
        }
        let mut settled = Vec::new();
        for t in tasks {
            settled.push(t.await.unwrap().unwrap().settlement);
        }
        let a = acc(&s).await;
        assert_eq!(a.admissions, 8);
        // Counters are exactly the sum of the claims' changes: nothing was lost or doubled.
        let total = settled.iter().fold(
            Accumulators::new(2018, RegionCode::parse("341522").unwrap()),
            |acc, st| apply_delta(&acc, &st.delta).unwrap(),
        );
        assert_eq!(a, total);
        // The poor patient's compliant out-of-pocket stays under the city tier's 5,000 cap.
        assert!(a.backstop_oop <= y(5_000), "{:?}", a.backstop_oop);
        let paid_oop: i64 = settled.iter().map(|st| st.delta.backstop_oop.0).sum();
        assert_eq!(paid_oop, a.backstop_oop.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_encounter_settle_it_once() {
    for db in backends().await {
        let s = db.app.clone();
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let s = s.clone();
            let inp = input(&s, "SAME", worked_items(), true).await;
            tasks.push(tokio::spawn(async move {
                s.settle_prepared(&inp, &actor()).await
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap().unwrap());
        }
        assert_eq!(
            results.iter().filter(|r| !r.replayed).count(),
            1,
            "exactly one settles, the rest replay it"
        );
        assert!(results.iter().all(|r| r.claim_id == results[0].claim_id && r.settlement == results[0].settlement));
        assert_eq!(
            (count(&s, "claims").await, count(&s, "event_outbox").await),
            (1, 1)
        );
        assert_eq!(acc(&s).await, results[0].settlement.accumulators_after);
    }
}

#[tokio::test]
async fn randomized_settlements_and_reversals_keep_the_ledger_reconciled() {
    for db in backends().await {
        let s = &db.app;
        // A small linear congruential generator: reproducible without extra crates.
        let mut seed: u64 = 0x5eed;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % m
        };
        let mut open: Vec<(String, usize)> = Vec::new();
        for n in 0..60 {
            let items: Vec<ClaimItem> = (0..1 + next(5))
                .map(|k| {
                    item(
                        &format!("X{k}"),
                        [ItemClass::A, ItemClass::B, ItemClass::C][next(3) as usize],
                        Fen(100 + next(2_000_000) as i64),
                    )
                })
                .collect();
            let len = items.len();
            let d = s
                .settle_prepared(
                    &input(s, &format!("RND-{n}"), items, next(2) == 0).await,
                    &actor(),
                )
                .await
                .unwrap();
            open.push((d.claim_id, len));
            if next(3) == 0 && !open.is_empty() {
                let (id, len) = open.swap_remove(next(open.len() as u64) as usize);
                let items: Vec<usize> = if next(2) == 0 {
                    vec![]
                } else {
                    vec![next(len as u64) as usize]
                };
                s.reverse_claim(
                    &id,
                    "H34150200001",
                    &format!("REV-{n}"),
                    &items,
                    "random",
                    &actor(),
                )
                .await
                .unwrap();
            }
        }
        assert!(
            s.reconcile_ledger("341522", "2018-06", &actor())
                .await
                .unwrap()
                .balanced()
        );
        assert!(
            s.reconcile_ledger("341522", &month_of(today()), &actor())
                .await
                .unwrap()
                .balanced()
        );
        let d = sql::one(s.store().db(), "SELECT CAST(SUM(debit_fen) AS BIGINT) AS d, CAST(SUM(credit_fen) AS BIGINT) AS c FROM ledger_lines", vec![]).await.unwrap().unwrap();
        assert_eq!(int(&d, "d").unwrap(), int(&d, "c").unwrap());
    }
}

#[tokio::test]
async fn the_catalogue_answers_with_the_most_specific_region_and_the_entry_in_force() {
    let db = open_sqlite().await;
    let s = &db.app;
    let row = |region: &str, class: ItemClass, standard: i64, from: &str| CatalogueRow {
        region_code: region.into(),
        entry: CatalogueEntry {
            national_code: "XA01".into(),
            class,
            payment_standard: Some(Fen(standard)),
            preselfpay_share: None,
        },
        name: "drug".into(),
        effective_from: date(from),
    };
    assert!(
        s.upsert_catalogue(&row("340000", ItemClass::B, 9_000, "2018-01-01"))
            .await
            .unwrap()
    );
    assert!(
        s.upsert_catalogue(&row("340100", ItemClass::A, 8_000, "2018-01-01"))
            .await
            .unwrap()
    );
    assert!(
        s.upsert_catalogue(&row("340100", ItemClass::A, 7_000, "2018-07-01"))
            .await
            .unwrap()
    );
    assert!(
        !s.upsert_catalogue(&row("340100", ItemClass::A, 7_500, "2018-07-01"))
            .await
            .unwrap(),
        "same day replaces"
    );
    let hefei = RegionCode::parse("340102").unwrap();
    let codes = vec!["XA01".to_string(), "UNLISTED".to_string()];
    let june = s
        .store()
        .catalogue_for(&hefei, &codes, date("2018-06-15"))
        .await
        .unwrap();
    assert_eq!(
        june["XA01"].entry.payment_standard,
        Some(Fen(8_000)),
        "the city's entry beats the province's"
    );
    assert!(!june.contains_key("UNLISTED"));
    let august = s
        .store()
        .catalogue_for(&hefei, &codes, date("2018-08-15"))
        .await
        .unwrap();
    assert_eq!(
        (
            august["XA01"].entry.class,
            august["XA01"].entry.payment_standard
        ),
        (ItemClass::A, Some(Fen(7_500)))
    );
    let wuhu = s
        .store()
        .catalogue_for(
            &RegionCode::parse("340202").unwrap(),
            &codes,
            date("2018-08-15"),
        )
        .await
        .unwrap();
    assert_eq!(
        wuhu["XA01"].entry.class,
        ItemClass::B,
        "another city falls back to the province"
    );
    let early = s
        .store()
        .catalogue_for(&hefei, &codes, date("2017-12-31"))
        .await
        .unwrap();
    assert!(early.is_empty(), "nothing is in force before its first day");
}

#[tokio::test]
async fn the_insurer_layer_follows_its_claim_through_refund_and_reversal() {
    for db in backends().await {
        let s = &db.app;
        let id = IdNumber::with_check_digit("44200019800101016").unwrap();
        let region = RegionCode::parse("442000").unwrap();
        let claim = Claim {
            institution_code: InstitutionCode::parse("H44200000001").unwrap(),
            encounter_no: "ZS-1".into(),
            id_number: id.clone(),
            kind: EncounterKind::Inpatient,
            disease_code: None,
            grade: HospitalGrade::Grade3,
            tier: InstitutionTier::City,
            start_date: date("2022-04-01"),
            end_date: date("2022-04-04"),
            diagnoses: vec!["I10.x00x002".into()],
            items: vec![
                item("A", ItemClass::A, y(300_000)),
                item("A2", ItemClass::A, y(50_000)),
            ],
        };
        assert!(
            s.store()
                .register_member("BAK-2022", "INS442000001", &id, 2022)
                .await
                .unwrap()
        );
        assert!(
            !s.store()
                .register_member("BAK-2022", "INS442000001", &id, 2022)
                .await
                .unwrap(),
            "registering twice changes nothing"
        );
        let eligibility = EligibilitySnapshot {
            scheme: Scheme::Resident,
            insured_region: region.clone(),
            categories: vec![],
            chronic_registrations: vec![],
            supplement_products: s.store().member_products(&id, 2022).await.unwrap(),
            cross_region_filing: None,
        };
        let policy = s
            .store()
            .find_policy(&region, Scheme::Resident, claim.end_date)
            .await
            .unwrap()
            .unwrap();
        let stored = StoredClaim::of(&claim, &region, None);
        let inp = SettleInput {
            claim,
            stored,
            person_id: "p-zs".into(),
            eligibility,
            policy,
        };
        let done = s.settle_prepared(&inp, &actor()).await.unwrap();
        let paid = done.settlement.breakdown.insurer_pay;
        assert!(paid > Fen::ZERO);
        let filter = InsurerFilter {
            insurer_code: "INS442000001".into(),
            ..InsurerFilter::default()
        };
        let rows = s.insurer_claims(&filter, None, 10).await.unwrap();
        assert_eq!(
            (rows.len(), rows[0].insurer_pay, rows[0].status.as_str()),
            (1, paid.0, "settled")
        );
        assert_eq!(
            rows[0].deductible,
            y(20_000).0,
            "the product's deductible is consumed by the first claim"
        );
        // Refund the second item: the insurer's layer shrinks with the claim.
        let r = s
            .reverse_claim(
                &done.claim_id,
                "H44200000001",
                "R1",
                &[1],
                "not given",
                &actor(),
            )
            .await
            .unwrap();
        let rows = s.insurer_claims(&filter, None, 10).await.unwrap();
        assert_eq!(
            rows[0].insurer_pay,
            r.settlement.unwrap().breakdown.insurer_pay.0
        );
        assert!(rows[0].insurer_pay < paid.0);
        // Another insurer cannot dispute it; a full reversal closes the layer.
        assert!(matches!(
            s.dispute("INS999", &done.claim_id, "BAK-2022", 1, "x", &actor())
                .await,
            Err(AppError::NotFound(..))
        ));
        s.reverse_claim(
            &done.claim_id,
            "H44200000001",
            "R2",
            &[],
            "cancelled",
            &actor(),
        )
        .await
        .unwrap();
        let rows = s.insurer_claims(&filter, None, 10).await.unwrap();
        assert_eq!(rows[0].status, "reversed");
        assert!(matches!(
            s.dispute("INS442000001", &done.claim_id, "BAK-2022", 1, "x", &actor())
                .await,
            Err(AppError::Precondition(..))
        ));
        let (_, totals) = s
            .reconcile_insurer("INS442000001", "2022-04", None, &actor())
            .await
            .unwrap();
        assert!(
            totals.is_empty(),
            "a reversed layer is owed by nobody: {totals:?}"
        );
        let acc = s.accumulators(id.expose(), 2022, &region).await.unwrap();
        assert_eq!(acc, Accumulators::new(2022, region.clone()));
    }
}

#[derive(Debug)]
struct DownBus;

impl Bus for DownBus {
    fn publish<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a [u8],
    ) -> futures::future::BoxFuture<'a, Result<String, yibao_runtime::bus::BusError>> {
        Box::pin(async { Err(yibao_runtime::bus::BusError("connection refused".into())) })
    }
    fn read<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: usize,
        _: std::time::Duration,
    ) -> futures::future::BoxFuture<
        'a,
        Result<Vec<yibao_runtime::bus::BusMessage>, yibao_runtime::bus::BusError>,
    > {
        Box::pin(async { Ok(vec![]) })
    }
    fn ack<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a [String],
    ) -> futures::future::BoxFuture<'a, Result<(), yibao_runtime::bus::BusError>> {
        Box::pin(async { Ok(()) })
    }
    fn lag<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<u64, yibao_runtime::bus::BusError>> {
        Box::pin(async { Ok(0) })
    }
}

#[tokio::test]
async fn the_relay_keeps_events_until_the_bus_accepts_them() {
    use prost::Message;
    let db = open_sqlite().await;
    let s = &db.app;
    let a = s
        .settle_prepared(&input(s, "E1", worked_items(), true).await, &actor())
        .await
        .unwrap();
    assert!(
        outbox::publish_pending(s.store().base(), &DownBus, 200)
            .await
            .is_err()
    );
    assert_eq!(
        outbox::backlog(s.store().db()).await.unwrap(),
        1,
        "a refused event stays pending"
    );
    let bus = MemoryBus::new();
    assert_eq!(
        outbox::publish_pending(s.store().base(), &bus, 200)
            .await
            .unwrap(),
        1
    );
    assert_eq!(outbox::backlog(s.store().db()).await.unwrap(), 0);
    let got = bus
        .read(
            streams::SETTLEMENT_CLAIMS,
            "test",
            "c1",
            10,
            std::time::Duration::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let e = yibao_proto::events::v1::ClaimEvent::decode(got[0].payload.as_slice()).unwrap();
    assert_eq!(e.event_id, got[0].event_id);
    assert_eq!(e.claim_id, a.claim_id);
    assert_eq!(
        e.person_key, "person-1",
        "the person key is enrollment's id, never the ID number"
    );
    assert!(!got[0].payload.windows(17).any(|w| w == PERSON.as_bytes()));
    assert_eq!(e.total_fen, y(150_000).0);
    assert_eq!(e.fund_paid_fen, y(87_750).0);
    assert_eq!(e.items.len(), 3);
}
