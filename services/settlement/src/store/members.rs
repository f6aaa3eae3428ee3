//! Membership of commercial supplementary products (惠民保): settlement owns it, enrollment
//! does not know the products.

use super::{Store, StoreError, now};
use yibao_core::IdNumber;
use yibao_runtime::sql::{self, i4, t, text};

impl Store {
    /// Registers a member of a product for a year; true when new.
    pub async fn register_member(
        &self,
        product_code: &str,
        insurer_code: &str,
        id_number: &IdNumber,
        year: i32,
    ) -> Result<bool, StoreError> {
        let txn = self.begin().await?;
        let n = sql::exec(
            &*txn,
            "INSERT INTO supplement_members (product_code, insurer_code, id_number, year, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (product_code, id_number, year) DO NOTHING",
            vec![t(product_code), t(insurer_code), t(id_number.expose()), i4(year), t(now())],
        )
        .await?;
        txn.commit().await?;
        Ok(n > 0)
    }

    /// Products a person holds in a year.
    pub async fn member_products(
        &self,
        id_number: &IdNumber,
        year: i32,
    ) -> Result<Vec<String>, StoreError> {
        sql::all(self.db(), "SELECT product_code FROM supplement_members WHERE id_number = ? AND year = ? ORDER BY product_code", vec![t(id_number.expose()), i4(year)])
            .await?
            .iter()
            .map(|r| text(r, "product_code").map_err(StoreError::from))
            .collect()
    }
}
