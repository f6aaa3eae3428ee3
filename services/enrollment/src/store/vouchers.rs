//! Issued electronic vouchers and their revocation list.

use super::codec::now;
use super::entities::voucher;
use super::{Entity, Store, StoreError};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

impl Store {
    /// Records an issued voucher.
    pub async fn insert_voucher(
        &self,
        id: &str,
        person_id: &str,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        voucher::ActiveModel {
            id: Set(id.into()),
            person_id: Set(person_id.into()),
            expires_at: Set(expires_at.into()),
            revoked_at: Set(None),
            revoke_reason: Set(None),
        }
        .insert(&*txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A voucher record.
    pub async fn voucher(&self, id: &str) -> Result<Option<voucher::Model>, StoreError> {
        Ok(voucher::Entity::find_by_id(id.to_string())
            .one(self.db())
            .await?)
    }

    /// Revokes a voucher (idempotent: the first revocation time stays).
    pub async fn revoke_voucher(
        &self,
        id: &str,
        reason: &str,
    ) -> Result<voucher::Model, StoreError> {
        let txn = self.begin().await?;
        let v = voucher::Entity::find_by_id(id.to_string())
            .one(&*txn)
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::Voucher, id))?;
        if v.revoked_at.is_some() {
            return Ok(v);
        }
        let mut am: voucher::ActiveModel = v.into();
        am.revoked_at = Set(Some(now()));
        am.revoke_reason = Set(Some(reason.to_string()));
        let v = am.update(&*txn).await?;
        txn.commit().await?;
        Ok(v)
    }
}
