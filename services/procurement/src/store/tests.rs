//! Store tests on a fresh SQLite file (or a fresh PostgreSQL database when
//! `YIBAO_TEST_DATABASE_URL` is set): rows in and out. The use cases over the store
//! (histories, idempotent repeats, the outbox, the cached look-up) are tested in `app/`.

use super::*;
use crate::domain::{ItemKind, parse_catalogue_csv};
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

pub(crate) async fn with_catalogue(store: &Store) {
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

#[test]
fn region_chain_goes_from_county_to_province() {
    assert_eq!(region_chain("341522"), vec!["341522", "341500", "340000"]);
    assert_eq!(region_chain("341500"), vec!["341500", "340000"]);
    assert_eq!(region_chain("340000"), vec!["340000"]);
}
