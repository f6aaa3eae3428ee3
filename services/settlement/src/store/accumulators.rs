//! The per-person-year accumulators: read, locked for a transaction (created when absent) and
//! saved with a version check.

use super::{Store, StoreError, json, now, parse};
use crate::domain::Accumulators;
use sea_orm::DatabaseTransaction;
use yibao_core::RegionCode;
use yibao_runtime::sql::{self, i, i4, int, t, text};

impl Store {
    /// The counters of a person-year (zero when nothing was settled).
    pub async fn accumulators(
        &self,
        id_number: &str,
        year: i32,
        region: &RegionCode,
    ) -> Result<Accumulators, StoreError> {
        match sql::one(self.db(), "SELECT data_json FROM accumulators WHERE id_number = ? AND year = ? AND region_code = ?", vec![t(id_number), i4(year), t(region.to_string())]).await? {
            Some(r) => parse(&text(&r, "data_json")?, "accumulators"),
            None => Ok(Accumulators::new(year, region.clone())),
        }
    }

    /// Locks the counters of a person-year for this transaction, creating them when absent.
    pub async fn lock_accumulators(
        &self,
        txn: &DatabaseTransaction,
        id_number: &str,
        year: i32,
        region: &RegionCode,
    ) -> Result<(Accumulators, i64), StoreError> {
        let q = format!(
            "SELECT version, data_json FROM accumulators WHERE id_number = ? AND year = ? AND region_code = ?{}",
            self.for_update()
        );
        let key = || vec![t(id_number), i4(year), t(region.to_string())];
        if let Some(r) = sql::one(txn, &q, key()).await? {
            return Ok((
                parse(&text(&r, "data_json")?, "accumulators")?,
                int(&r, "version")?,
            ));
        }
        // First claim of the person-year: create the row (a concurrent first claim may win;
        // either way the row exists afterwards) and lock it.
        let empty = json(&Accumulators::new(year, region.clone()))?;
        sql::exec(
            txn,
            "INSERT INTO accumulators (id_number, year, region_code, version, data_json, updated_at) VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (id_number, year, region_code) DO NOTHING",
            vec![t(id_number), i4(year), t(region.to_string()), t(empty), t(now())],
        )
        .await?;
        let r = sql::one(txn, &q, key())
            .await?
            .ok_or_else(|| StoreError::Corrupt("accumulator row vanished".into()))?;
        Ok((
            parse(&text(&r, "data_json")?, "accumulators")?,
            int(&r, "version")?,
        ))
    }

    /// Saves the counters locked at `version`; a changed row is a conflict (retry).
    pub async fn save_accumulators(
        txn: &DatabaseTransaction,
        id_number: &str,
        acc: &Accumulators,
        version: i64,
    ) -> Result<(), StoreError> {
        let n = sql::exec(
            txn,
            "UPDATE accumulators SET version = ?, data_json = ?, updated_at = ? WHERE id_number = ? AND year = ? AND region_code = ? AND version = ?",
            vec![i(version + 1), t(json(acc)?), t(now()), t(id_number), i4(acc.year), t(acc.region.to_string()), i(version)],
        )
        .await?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }
}
