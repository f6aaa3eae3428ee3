//! PersonCategory grants (低保, 特困, 脱贫 …) of people, each for a validity period.

use super::codec::{category_of, category_str, date, new_id, now, opt_date};
use super::entities::{category, person};
use super::persons::journal;
use super::{Entity, Store, StoreError};
use crate::domain::CategoryGrant;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use yibao_runtime::Actor;

impl Store {
    /// The person's categories.
    pub async fn categories(&self, person_id: &str) -> Result<Vec<CategoryGrant>, StoreError> {
        category::Entity::find()
            .filter(category::Column::PersonId.eq(person_id))
            .order_by_asc(category::Column::ValidFrom)
            .all(self.db())
            .await?
            .iter()
            .map(|c| {
                Ok(CategoryGrant {
                    category: category_of(&c.category)
                        .ok_or_else(|| StoreError::Corrupt(format!("category `{}`", c.category)))?,
                    valid_from: date(&c.valid_from)?,
                    valid_to: opt_date(&c.valid_to)?,
                })
            })
            .collect()
    }

    /// Grants a category for a period.
    pub async fn grant_category(
        &self,
        person_id: &str,
        grant: &CategoryGrant,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        person::Entity::find_by_id(person_id.to_string())
            .one(&*txn)
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::Person, person_id))?;
        category::ActiveModel {
            id: Set(new_id()),
            person_id: Set(person_id.to_string()),
            category: Set(category_str(grant.category).into()),
            valid_from: Set(grant.valid_from.to_string()),
            valid_to: Set(grant.valid_to.map(|d| d.to_string())),
            created_at: Set(now()),
        }
        .insert(&*txn)
        .await?;
        let detail = serde_json::json!({"category": category_str(grant.category), "valid_from": grant.valid_from, "valid_to": grant.valid_to});
        journal(&txn, person_id, "category.granted", detail, actor).await?;
        txn.commit().await?;
        Ok(())
    }
}
