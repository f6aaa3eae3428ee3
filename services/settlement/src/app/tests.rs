//! Use-case specifications on SQLite (and on PostgreSQL too when `YIBAO_TEST_DATABASE_URL` is
//! set): one transaction per settlement, retries that write nothing, reversals that restore the
//! counters and net the ledger to zero, the per-person race, the outbox relay.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::domain::{
    Accumulators, Claim, ClaimItem, EligibilitySnapshot, EncounterKind, HospitalGrade,
    InstitutionTier, ItemClass, PersonCategory, Scheme, apply_delta, default_bundle,
};
use crate::store::sql::{self, int};
use crate::store::{
    Actor, ClaimStatus, InsurerFilter, Store, StoredClaim, migration, month_of, today,
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

fn hospital() -> yibao_runtime::Caller {
    yibao_runtime::Caller {
        subject: "his-1".into(),
        role: yibao_runtime::auth::Role::Hospital,
        org: "H34150200001".into(),
        region: Some(RegionCode::parse("341500").unwrap()),
    }
}

/// The claim of `input` as the edge parses it.
async fn request(app: &SettlementApp, encounter: &str, items: Vec<ClaimItem>) -> ClaimRequest {
    let inp = input(app, encounter, items, false).await;
    ClaimRequest {
        days_supply: vec![None; inp.claim.items.len()],
        claim: inp.claim,
        insured_region: RegionCode::parse("341522").unwrap(),
        declared: Default::default(),
    }
}

#[tokio::test]
async fn a_claim_above_the_limits_is_refused_naming_the_field_and_writes_nothing() {
    for db in backends().await {
        let limits = crate::domain::ClaimLimits::new(y(1_000_000), 500, ("a", "b")).unwrap();
        let s = db.app.clone().with_limits(limits);
        let over = |amount: Fen| {
            vec![
                item("A-SERVICES", ItemClass::A, y(10)),
                item("B-DRUGS", ItemClass::B, amount),
            ]
        };
        let tables = [
            "encounters",
            "claims",
            "ledger_lines",
            "accumulators",
            "event_outbox",
        ];
        let mut before = Vec::new();
        for t in tables {
            before.push(count(&s, t).await);
        }
        for (claim, path) in [
            (
                request(&s, "BIG-1", over(Fen(y(1_000_000).0 + 1))).await,
                "claim.items[1].amount_fen",
            ),
            (request(&s, "BIG-2", over(y(999_995))).await, "claim.items"),
            (
                {
                    let mut r = request(&s, "BIG-3", over(y(1))).await;
                    r.claim.items[0].quantity = 501;
                    r.claim.items[0].amount = Fen(y(10).0 * 501);
                    r
                },
                "claim.items[0].quantity",
            ),
        ] {
            for settle in [true, false] {
                let e = if settle {
                    let key = (
                        claim.claim.institution_code.as_str().to_string(),
                        claim.claim.encounter_no.clone(),
                    );
                    let claim = claim.clone();
                    s.settle(&hospital(), None, Some((&key.0, &key.1)), move || Ok(claim))
                        .await
                        .unwrap_err()
                } else {
                    s.pre_settle(&hospital(), None, claim.clone())
                        .await
                        .unwrap_err()
                };
                // Refused before enrollment is asked (offline here: it would answer UNAVAILABLE).
                let api = yibao_runtime::ApiError::from(e);
                assert_eq!(api.code, "SETTLEMENT_CLAIM_INVALID", "{api:?}");
                assert_eq!(
                    tonic::Status::from(api.clone()).code(),
                    tonic::Code::InvalidArgument
                );
                assert!(
                    api.violations.iter().any(|(p, _)| p == path),
                    "{path}: {api:?}"
                );
            }
        }
        let mut after = Vec::new();
        for t in tables {
            after.push(count(&s, t).await);
        }
        assert_eq!(after, before, "{tables:?}");
        // At the limit, the claim passes the check and goes on to ask enrollment.
        let at = request(&s, "AT-LIMIT", over(y(999_990))).await;
        let e = s.pre_settle(&hospital(), None, at).await.unwrap_err();
        assert_eq!(e.code(), Some("SETTLEMENT_ENROLLMENT_UNAVAILABLE"), "{e:?}");
        // The default limit takes the worked example's bill and refuses 10^10 fen + 1.
        assert_eq!(db.app.limits(), &crate::domain::ClaimLimits::DEFAULT);
        let e = db
            .app
            .pre_settle(
                &hospital(),
                None,
                request(&db.app, "OK", worked_items()).await,
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("SETTLEMENT_ENROLLMENT_UNAVAILABLE"), "{e:?}");
        let e = db
            .app
            .pre_settle(
                &hospital(),
                None,
                request(&db.app, "NO", over(Fen(10_000_000_001))).await,
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("SETTLEMENT_CLAIM_INVALID"), "{e:?}");
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
            totals.products.is_empty() && totals.payable == 0,
            "a reversed layer is owed by nobody: {totals:?}"
        );
        let acc = s.accumulators(id.expose(), 2022, &region).await.unwrap();
        assert_eq!(acc, Accumulators::new(2022, region.clone()));
    }
}

#[derive(Debug)]
struct DownBus;

impl Bus for DownBus {
    fn append<'a>(
        &'a self,
        _: &'a str,
        _: yibao_runtime::bus::Envelope<'a>,
        _: Option<u64>,
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
    let got: Vec<_> = bus
        .read_many(
            &streams::all_partitions(streams::SETTLEMENT_CLAIMS),
            "test",
            "c1",
            10,
            std::time::Duration::ZERO,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|(_, m)| m)
        .collect();
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

/// Per fund line, the net of the `fund:` ledger lines of a month, straight from SQL.
async fn ledger_by_fund(app: &SettlementApp, month: &str) -> Vec<(String, i64)> {
    let rows = sql::all(
        app.store().db(),
        "SELECT fund_pay_type, CAST(SUM(debit_fen - credit_fen) AS BIGINT) AS net FROM ledger_lines WHERE month = ? AND account LIKE 'fund:%' GROUP BY fund_pay_type ORDER BY fund_pay_type",
        vec![sql::t(month)],
    )
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            (
                sql::text(r, "fund_pay_type").unwrap(),
                int(r, "net").unwrap(),
            )
        })
        .collect()
}

fn summary(r: &LedgerReconciliation) -> (Vec<FundTotal>, Vec<Discrepancy>, bool) {
    (
        r.funds.clone(),
        r.discrepancies.clone(),
        r.double_entry_balanced,
    )
}

#[tokio::test]
async fn the_ledger_reconciliation_streams_a_month_in_pages_with_the_same_result() {
    for db in backends().await {
        let s = &db.app;
        let mut ids = Vec::new();
        for n in 0..23i64 {
            let items = vec![
                item("A-SERVICES", ItemClass::A, y(2_000 + 150 * n)),
                item("B-DRUGS", ItemClass::B, y(300 + n)),
                item("C-OUT", ItemClass::C, y(40)),
            ];
            let d = s
                .settle_prepared(
                    &input(s, &format!("PG-{n}"), items, n % 3 == 0).await,
                    &actor(),
                )
                .await
                .unwrap();
            ids.push(d.claim_id);
        }
        // Reversals and refunds are posted this month: both months have something to walk.
        for (k, id) in ids.iter().enumerate().filter(|(k, _)| k % 4 == 1) {
            let items: Vec<usize> = if k % 8 == 1 { vec![] } else { vec![1] };
            s.reverse_claim(
                id,
                "H34150200001",
                &format!("PG-R{k}"),
                &items,
                "test",
                &actor(),
            )
            .await
            .unwrap();
        }
        let months = ["2018-06".to_string(), month_of(today())];
        let paged = |rows: u64| {
            SettlementApp::new(
                s.store().clone().with_read_page(rows),
                Upstreams::offline(),
                None,
            )
        };
        for month in &months {
            let whole = s.reconcile_ledger("341522", month, &actor()).await.unwrap();
            assert!(whole.balanced(), "{month}: {whole:?}");
            let ledger: Vec<(String, i64)> = whole
                .funds
                .iter()
                .map(|f| (f.fund_pay_type.clone(), f.ledger_total))
                .collect();
            assert_eq!(ledger, ledger_by_fund(s, month).await, "{month}");
            for rows in [1, 2, 3, 7] {
                let r = paged(rows)
                    .reconcile_ledger("341522", month, &actor())
                    .await
                    .unwrap();
                assert_eq!(summary(&r), summary(&whole), "{month}, pages of {rows}");
            }
        }
        // Lines the settlements do not explain: a debit without its credit on a claim, and a
        // line of a claim that does not exist, sorting before and after every real claim.
        let rogue = |id: &str, claim: &str, debit: i64| {
            vec![
                sql::t(id),
                sql::t("rogue"),
                sql::t(claim),
                sql::t("2018-06"),
                sql::t("341522"),
                sql::t("H34150200001"),
                sql::t("resident"),
                sql::t("390100"),
                sql::t("fund:390100"),
                sql::i(debit),
                sql::i(0),
                sql::t("2018-06-30T00:00:00.000Z"),
            ]
        };
        for (id, claim, debit) in [
            ("rogue-1", ids[5].as_str(), 11),
            ("rogue-2", "00000000-rogue", 13),
            ("rogue-3", "ffffffff-rogue", 17),
        ] {
            sql::exec(
                s.store().db(),
                "INSERT INTO ledger_lines (id, posting_id, claim_id, month, region_code, institution_code, scheme, fund_pay_type, account, debit_fen, credit_fen, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rogue(id, claim, debit),
            )
            .await
            .unwrap();
        }
        let whole = s
            .reconcile_ledger("341522", "2018-06", &actor())
            .await
            .unwrap();
        assert!(!whole.balanced() && !whole.double_entry_balanced);
        let found: Vec<(&str, i64, i64)> = whole
            .discrepancies
            .iter()
            .map(|d| (d.claim_id.as_str(), d.expected, d.recorded))
            .collect();
        let fifth_expected = found.iter().find(|d| d.0 == ids[5]).map(|d| d.1).unwrap();
        assert_eq!(
            found,
            vec![
                ("00000000-rogue", 0, 13),
                (ids[5].as_str(), fifth_expected, fifth_expected + 11),
                ("ffffffff-rogue", 0, 17),
            ]
        );
        for rows in [1, 2, 5] {
            let r = paged(rows)
                .reconcile_ledger("341522", "2018-06", &actor())
                .await
                .unwrap();
            assert_eq!(summary(&r), summary(&whole), "pages of {rows}");
        }
        // The institution's statement folds the same month in pages too.
        for month in &months {
            let whole = s.store().statement("H34150200001", month).await.unwrap();
            assert!(!whole.is_empty());
            for rows in [1, 4] {
                let st = paged(rows)
                    .store()
                    .statement("H34150200001", month)
                    .await
                    .unwrap();
                assert_eq!(st, whole, "{month}, pages of {rows}");
            }
        }
        let june = &s
            .store()
            .statement("H34150200001", "2018-06")
            .await
            .unwrap()[&Scheme::Resident];
        assert_eq!(june.claims, 23 - 3, "three of the 23 were fully reversed");
    }
}

#[tokio::test]
async fn a_statement_whose_sum_overflows_is_refused_not_wrapped() {
    for db in backends().await {
        let s = &db.app;
        // Two claims stored before any limit (settle_prepared does not apply them; prepare does).
        for n in 0..2 {
            let big = Fen(4_700_000_000_000_000_000);
            s.settle_prepared(
                &input(
                    s,
                    &format!("HUGE-{n}"),
                    vec![item("C-OUT", ItemClass::C, big)],
                    false,
                )
                .await,
                &actor(),
            )
            .await
            .unwrap();
        }
        let e = s
            .store()
            .statement("H34150200001", "2018-06")
            .await
            .unwrap_err();
        assert!(matches!(e, crate::store::StoreError::Overflow(_)), "{e:?}");
        let api = yibao_runtime::ApiError::from(AppError::from(e));
        assert_eq!(api.code, "SETTLEMENT_TOTAL_OVERFLOW");
        // Out-of-catalogue money is no fund's: the ledger of the month still reconciles.
        assert!(
            s.reconcile_ledger("341522", "2018-06", &actor())
                .await
                .unwrap()
                .balanced()
        );
    }
}

#[tokio::test]
async fn the_limits_guard_resettlement_and_a_retry_still_answers_the_first_settlement() {
    for db in backends().await {
        let limits = crate::domain::ClaimLimits::new(y(200_000), 100, ("a", "b")).unwrap();
        let s = db.app.clone().with_limits(limits);
        let first = s
            .settle_prepared(&input(&s, "E1", worked_items(), true).await, &actor())
            .await
            .unwrap();
        let before = (
            count(&s, "claims").await,
            count(&s, "ledger_lines").await,
            count(&s, "reversals").await,
            count(&s, "event_outbox").await,
            acc(&s).await,
        );
        // A retry of the settled encounter is answered from the store before the claim is
        // read: a body above the limits does not matter, nothing is written.
        let over = request(&s, "E1", vec![item("A-SERVICES", ItemClass::A, y(300_000))]).await;
        let again = s
            .settle(&hospital(), None, Some(("H34150200001", "E1")), || {
                Ok(over.clone())
            })
            .await
            .unwrap();
        assert!(again.replayed);
        assert_eq!(again.claim_id, first.claim_id);
        // A correction above the limits is refused naming the field; the claim stands.
        let e = s
            .resettle(
                &hospital(),
                None,
                &first.claim_id,
                || Ok(over),
                "bill corrected",
            )
            .await
            .unwrap_err();
        let api = yibao_runtime::ApiError::from(e);
        assert_eq!(api.code, "SETTLEMENT_CLAIM_INVALID");
        assert!(
            api.violations
                .iter()
                .any(|(p, _)| p == "claim.items[0].amount_fen"),
            "{api:?}"
        );
        let after = (
            count(&s, "claims").await,
            count(&s, "ledger_lines").await,
            count(&s, "reversals").await,
            count(&s, "event_outbox").await,
            acc(&s).await,
        );
        assert_eq!(after, before);
        let row = s.store().claim(&first.claim_id).await.unwrap().unwrap();
        assert_eq!(row.status, ClaimStatus::Settled);
        assert!(
            s.reconcile_ledger("341522", "2018-06", &actor())
                .await
                .unwrap()
                .balanced()
        );
    }
}
