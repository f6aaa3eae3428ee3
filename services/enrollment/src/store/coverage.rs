//! Coverage targets and the counts coverage is measured by.

use super::codec::{category_str, scheme_str};
use super::entities::{category, coverage_target, person};
use super::{Store, StoreError};
use crate::domain::{PersonCategory, Scheme};
use chrono::NaiveDate;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use yibao_core::RegionCode;

/// Stored key of a target: a scheme, or `all`.
fn scheme_key(s: Option<Scheme>) -> &'static str {
    s.map_or("all", scheme_str)
}

/// Stored key of a target: a category, or `all`.
fn category_key(c: Option<PersonCategory>) -> &'static str {
    c.map_or("all", category_str)
}

impl Store {
    /// Sets a coverage target (`None` = all schemes / all categories).
    pub async fn set_target(
        &self,
        region: &RegionCode,
        year: i32,
        scheme: Option<Scheme>,
        category: Option<PersonCategory>,
        target: i64,
    ) -> Result<(), StoreError> {
        let (scheme, category) = (scheme_key(scheme), category_key(category));
        let txn = self.begin().await?;
        coverage_target::Entity::delete_many()
            .filter(coverage_target::Column::RegionCode.eq(region.as_str()))
            .filter(coverage_target::Column::Year.eq(year))
            .filter(coverage_target::Column::Scheme.eq(scheme))
            .filter(coverage_target::Column::Category.eq(category))
            .exec(&*txn)
            .await?;
        coverage_target::ActiveModel {
            region_code: Set(region.to_string()),
            year: Set(year),
            scheme: Set(scheme.into()),
            category: Set(category.into()),
            target: Set(target),
        }
        .insert(&*txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Sum of targets within a region prefix (`None` = the all-schemes / all-categories one).
    pub async fn target(
        &self,
        region_prefix: &str,
        year: i32,
        scheme: Option<Scheme>,
        category: Option<PersonCategory>,
    ) -> Result<i64, StoreError> {
        let rows = coverage_target::Entity::find()
            .filter(coverage_target::Column::RegionCode.starts_with(region_prefix))
            .filter(coverage_target::Column::Year.eq(year))
            .filter(coverage_target::Column::Scheme.eq(scheme_key(scheme)))
            .filter(coverage_target::Column::Category.eq(category_key(category)))
            .all(self.db())
            .await?;
        Ok(rows.iter().map(|r| r.target).sum())
    }

    /// People in the prefix holding `category` at some time between `start` and `end`.
    pub async fn people_with_category(
        &self,
        region_prefix: &str,
        (start, end): (NaiveDate, NaiveDate),
        category: PersonCategory,
    ) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = category::Entity::find()
            .select_only()
            .column(category::Column::PersonId)
            .filter(category::Column::Category.eq(category_str(category)))
            .filter(category::Column::ValidFrom.lte(end.to_string()))
            .filter(
                sea_orm::Condition::any()
                    .add(category::Column::ValidTo.is_null())
                    .add(category::Column::ValidTo.gte(start.to_string())),
            )
            .into_tuple()
            .all(self.db())
            .await?;
        if ids.is_empty() {
            return Ok(ids);
        }
        let mut in_region: Vec<String> = person::Entity::find()
            .select_only()
            .column(person::Column::Id)
            .filter(person::Column::Id.is_in(ids))
            .filter(person::Column::RegionCode.starts_with(region_prefix))
            .into_tuple()
            .all(self.db())
            .await?;
        in_region.sort();
        in_region.dedup();
        Ok(in_region)
    }
}
