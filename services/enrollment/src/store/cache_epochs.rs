//! Cache epochs: a counter per cache kept in the database, part of every key of that cache.
//! Bumping it makes every entry cached under the old epoch unreachable, on every replica, even
//! when the cache itself cannot be reached to delete them (see `app::eligibility`).

use super::{Store, StoreError};
use yibao_runtime::sql::{self, int, t};

/// The epoch of the eligibility cache.
pub const ELIGIBILITY: &str = "eligibility";

/// The epoch of the institution cache (`app::registry`).
pub const INSTITUTIONS: &str = "institutions";

impl Store {
    /// The current epoch of cache `name` (0 before its first bump).
    pub async fn cache_epoch(&self, name: &str) -> Result<i64, StoreError> {
        let row = sql::one(
            self.db(),
            "SELECT epoch FROM cache_epochs WHERE name = ?",
            vec![t(name)],
        )
        .await?;
        match row {
            Some(r) => Ok(int(&r, "epoch")?),
            None => Ok(0),
        }
    }

    /// Moves cache `name` to a new epoch; returns it.
    pub async fn bump_cache_epoch(&self, name: &str) -> Result<i64, StoreError> {
        let txn = self.begin().await?;
        sql::exec(
            &*txn,
            "INSERT INTO cache_epochs (name, epoch) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET epoch = cache_epochs.epoch + 1",
            vec![t(name)],
        )
        .await?;
        let row = sql::one(
            &*txn,
            "SELECT epoch FROM cache_epochs WHERE name = ?",
            vec![t(name)],
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("cache epoch `{name}` vanished")))?;
        let epoch = int(&row, "epoch")?;
        txn.commit().await?;
        Ok(epoch)
    }
}
