//! Store tests on a fresh SQLite file (or a fresh PostgreSQL database when
//! `YIBAO_TEST_DATABASE_URL` is set): rows in and out. The use cases over the store
//! (histories, idempotent repeats, the outbox, the cached look-up) are tested in `app/`.

use super::*;
use crate::domain::{CatalogueEntry, ItemKind, parse_catalogue_csv};
use yibao_runtime::config::DatabaseConfig;

pub(crate) const X1: &str = "XA01AAA123A001010100001";
pub(crate) const X2: &str = "XA01AAA123A001010100002";
pub(crate) const C1: &str = "C0101010010000000001";
pub(crate) const INST: &str = "H34152200001";

/// Removes a SQLite test database when dropped.
pub(crate) struct TempDb(std::path::PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// A store over a fresh database (dropped with the guard).
pub(crate) async fn store() -> (Store, Option<TempDb>) {
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

pub(crate) fn actor() -> Actor {
    Actor {
        subject: "op-1".into(),
        role: "operator".into(),
    }
}

pub(crate) fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

pub(crate) fn item(s: &str) -> ItemCode {
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

/// Stores the versions of [`catalogue_csv`] in the province's catalogue.
pub(crate) async fn with_catalogue(store: &Store) {
    let import = parse_catalogue_csv(&catalogue_csv());
    assert!(import.errors.is_empty(), "{:?}", import.errors);
    let t = store.begin().await.expect("begin");
    let rows: Vec<(&str, &CatalogueEntry)> = import.entries.iter().map(|e| ("340000", e)).collect();
    store
        .insert_versions(&t, &rows, &actor(), &now())
        .await
        .expect("insert");
    t.commit().await.expect("commit");
}

#[tokio::test]
async fn catalogue_versions_are_inserted_replaced_listed_by_kind_name_and_date_and_their_changes_kept()
 {
    let (store, _g) = store().await;
    with_catalogue(&store).await;
    let drugs = store
        .list_catalogue(
            "340000",
            Some(ItemKind::WesternDrug),
            "",
            None,
            ("", ""),
            10,
        )
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
        .list_catalogue(
            "340000",
            None,
            "阿托伐他汀",
            Some(d("2026-03-01")),
            ("", ""),
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        on_2026.len(),
        1,
        "the second drug's validity ended on 2025-12-31"
    );
    let page2 = store
        .list_catalogue("340000", None, "", None, (X1, "2025-01-01"), 1)
        .await
        .unwrap();
    assert_eq!(page2[0].entry.code.as_str(), X2);
    assert!(
        store
            .list_catalogue("320000", None, "", None, ("", ""), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A second version of X1 from 2026, with restrictions, a share and a standard; the first
    // one replaced with its end date, and both changes in the trail.
    let mut first = drugs[0].entry.clone();
    first.valid_to = Some(d("2025-12-31"));
    let mut second = first.clone();
    second.valid_from = d("2026-01-01");
    second.valid_to = None;
    second.preselfpay_share = Some(yibao_core::Bp(1500));
    second.payment_standard = Some(yibao_core::Fen(820));
    second.restrictions.sex = Some(yibao_core::Sex::Male);
    second.restrictions.min_institution_grade = Some(2);
    second.restrictions.indication_diagnoses = vec!["I10".into(), "E11".into()];
    let t = store.begin().await.unwrap();
    assert!(
        store
            .replace_version(&t, "340000", &first, &actor(), &now())
            .await
            .unwrap()
    );
    store
        .insert_versions(&t, &[("340000", &second)], &actor(), &now())
        .await
        .unwrap();
    store
        .insert_changes(
            &t,
            &[
                NewChange {
                    region: "340000",
                    kind: ChangeKind::Closed,
                    before: Some(&drugs[0].entry),
                    after: &first,
                },
                NewChange {
                    region: "340000",
                    kind: ChangeKind::Created,
                    before: None,
                    after: &second,
                },
            ],
            "test",
            &actor(),
            &now(),
        )
        .await
        .unwrap();
    t.commit().await.unwrap();
    let history = store.catalogue_history("340000", X1).await.unwrap();
    assert_eq!(
        history.iter().map(|h| h.entry.clone()).collect::<Vec<_>>(),
        vec![first.clone(), second.clone()],
        "every column comes back as written"
    );
    let all = store
        .versions_of_codes(store.db(), &[X1.to_string(), C1.to_string()])
        .await
        .unwrap();
    assert_eq!(all.len(), 3);

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

    // The trail: a county auditor reads the province's changes (they apply in the county),
    // another province's region does not.
    let changes = store
        .catalogue_changes("341522", "341522", None, "", 10)
        .await
        .unwrap();
    assert_eq!(
        changes.iter().map(|c| c.kind).collect::<Vec<_>>(),
        vec![ChangeKind::Created, ChangeKind::Closed],
        "newest first"
    );
    assert_eq!(changes[0].after, second);
    assert_eq!(changes[1].before.as_ref(), Some(&drugs[0].entry));
    assert_eq!(changes[0].changed.role, "operator");
    let older = store
        .catalogue_changes("340000", "34", Some(X1), &changes[0].id, 10)
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    assert!(
        store
            .catalogue_changes("320000", "32", None, "", 10)
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
