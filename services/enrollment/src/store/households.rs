//! Households and their members.

use super::codec::{new_id, now};
use super::entities::{household, person};
use super::{Entity, Store, StoreError};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use yibao_core::RegionCode;

impl Store {
    /// Creates a household; its head (if any) becomes a member.
    pub async fn create_household(
        &self,
        region: &RegionCode,
        address: &str,
        head: Option<String>,
    ) -> Result<household::Model, StoreError> {
        if let Some(h) = &head {
            self.person(h).await?;
        }
        let txn = self.begin().await?;
        let m = household::ActiveModel {
            id: Set(new_id()),
            region_code: Set(region.to_string()),
            address: Set(address.to_string()),
            head_person_id: Set(head.clone()),
            created_at: Set(now()),
        }
        .insert(&*txn)
        .await?;
        if let Some(h) = head {
            person::Entity::update_many()
                .col_expr(person::Column::HouseholdId, Expr::value(m.id.clone()))
                .filter(person::Column::Id.eq(h))
                .exec(&*txn)
                .await?;
        }
        txn.commit().await?;
        Ok(m)
    }

    /// A household and its members.
    pub async fn household(
        &self,
        id: &str,
    ) -> Result<(household::Model, Vec<person::Model>), StoreError> {
        let h = household::Entity::find_by_id(id.to_string())
            .one(self.db())
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::Household, id))?;
        let members = person::Entity::find()
            .filter(person::Column::HouseholdId.eq(id))
            .order_by_asc(person::Column::BirthDate)
            .all(self.db())
            .await?;
        Ok((h, members))
    }
}
