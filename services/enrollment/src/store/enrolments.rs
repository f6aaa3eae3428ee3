//! Enrolments, the contributions paid towards them, and the contribution standards they are
//! priced by.

use super::codec::{
    contribution_kind_of, enrolment_model, enrolment_of, kind_str, new_id, now, scheme_str,
};
use super::entities::{contribution, enrolment, standard};
use super::persons::journal;
use super::{Entity, Store, StoreError};
use crate::domain::enrolment::{ContributionKind, ContributionStandard};
use crate::domain::{Enrolment, Scheme};
use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use yibao_core::{Fen, RegionCode};
use yibao_runtime::Actor;

/// A contribution to record.
#[derive(Debug, Clone)]
pub struct Contribution {
    /// Payment or subsidy.
    pub kind: ContributionKind,
    /// Amount.
    pub amount: Fen,
    /// Day paid.
    pub paid_on: NaiveDate,
    /// Idempotency reference, unique per enrolment.
    pub reference: String,
}

/// A contribution already recorded under a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedContribution {
    /// Its kind (`None` when the stored text is unknown).
    pub kind: Option<ContributionKind>,
    /// Its amount.
    pub amount: Fen,
}

pub(crate) fn enrolment_detail(e: &Enrolment) -> serde_json::Value {
    serde_json::json!({"enrolment_id": e.id, "year": e.year, "scheme": scheme_str(e.scheme), "region_code": e.region, "effective_from": e.effective_from, "due_fen": e.due.0})
}

pub(crate) fn contribution_detail(
    enrolment_id: &str,
    c: &Contribution,
    effective: bool,
) -> serde_json::Value {
    serde_json::json!({"enrolment_id": enrolment_id, "kind": kind_str(c.kind), "amount_fen": c.amount.0, "paid_on": c.paid_on, "reference": c.reference, "effective": effective})
}

pub(crate) fn contribution_model(
    enrolment_id: &str,
    c: &Contribution,
    created_at: String,
) -> contribution::ActiveModel {
    contribution::ActiveModel {
        id: Set(new_id()),
        enrolment_id: Set(enrolment_id.to_string()),
        kind: Set(kind_str(c.kind).into()),
        amount_fen: Set(c.amount.0),
        paid_on: Set(c.paid_on.to_string()),
        reference: Set(c.reference.clone()),
        created_at: Set(created_at),
    }
}

/// An enrolment row inside `txn`, locked for update on PostgreSQL (SQLite has one writer), so
/// concurrent payments cannot both pass the over-payment check.
pub async fn lock_enrolment(
    txn: &DatabaseTransaction,
    id: &str,
    postgres: bool,
) -> Result<enrolment::Model, StoreError> {
    let mut q = enrolment::Entity::find_by_id(id.to_string());
    if postgres {
        q = q.lock_exclusive();
    }
    q.one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Enrolment, id))
}

/// The contribution already recorded for an enrolment under `reference`, if any.
pub async fn contribution_by_reference(
    txn: &DatabaseTransaction,
    enrolment_id: &str,
    reference: &str,
) -> Result<Option<RecordedContribution>, StoreError> {
    Ok(contribution::Entity::find()
        .filter(contribution::Column::EnrolmentId.eq(enrolment_id))
        .filter(contribution::Column::Reference.eq(reference))
        .one(txn)
        .await?
        .map(|c| RecordedContribution {
            kind: contribution_kind_of(&c.kind),
            amount: Fen(c.amount_fen),
        }))
}

/// Writes a contribution inside `txn`: the enrolment's amounts and payment day as `after`
/// has them, the contribution row, and the person's journal entry.
pub async fn record_contribution(
    txn: &DatabaseTransaction,
    person_id: &str,
    after: &Enrolment,
    c: &Contribution,
    actor: &Actor,
) -> Result<(), StoreError> {
    enrolment::Entity::update_many()
        .col_expr(enrolment::Column::PaidFen, Expr::value(after.paid.0))
        .col_expr(
            enrolment::Column::SubsidisedFen,
            Expr::value(after.subsidised.0),
        )
        .col_expr(
            enrolment::Column::PaidOn,
            Expr::value(after.paid_on.map(|d| d.to_string())),
        )
        .filter(enrolment::Column::Id.eq(after.id.as_str()))
        .exec(txn)
        .await?;
    contribution_model(&after.id, c, now()).insert(txn).await?;
    journal(
        txn,
        person_id,
        "contribution.recorded",
        contribution_detail(&after.id, c, after.paid_on.is_some()),
        actor,
    )
    .await
}

impl Store {
    /// Sets a contribution standard (replacing the previous one for the same key).
    pub async fn set_standard(
        &self,
        region: &RegionCode,
        year: i32,
        scheme: Scheme,
        std: &ContributionStandard,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        standard::Entity::delete_many()
            .filter(standard::Column::RegionCode.eq(region.as_str()))
            .filter(standard::Column::Year.eq(year))
            .filter(standard::Column::Scheme.eq(scheme_str(scheme)))
            .exec(&*txn)
            .await?;
        standard::ActiveModel {
            region_code: Set(region.to_string()),
            year: Set(year),
            scheme: Set(scheme_str(scheme).into()),
            individual_amount_fen: Set(std.individual_amount.0),
            waiting_days: Set(i32::try_from(std.waiting_days).unwrap_or(i32::MAX)),
        }
        .insert(&*txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The standard for a region, year and scheme: the region's own, or its city's, or its
    /// province's (a province may set one standard for all its counties).
    pub async fn standard(
        &self,
        region: &RegionCode,
        year: i32,
        scheme: Scheme,
    ) -> Result<Option<ContributionStandard>, StoreError> {
        let codes = [
            region.to_string(),
            format!("{}00", &region.as_str()[..4]),
            region.province().to_string(),
        ];
        let rows = standard::Entity::find()
            .filter(standard::Column::RegionCode.is_in(codes.clone()))
            .filter(standard::Column::Year.eq(year))
            .filter(standard::Column::Scheme.eq(scheme_str(scheme)))
            .all(self.db())
            .await?;
        Ok(codes
            .iter()
            .find_map(|c| rows.iter().find(|r| &r.region_code == c))
            .map(|r| ContributionStandard {
                individual_amount: Fen(r.individual_amount_fen),
                waiting_days: u32::try_from(r.waiting_days).unwrap_or(0),
            }))
    }

    /// Inserts a planned enrolment; a second open one of the same year, scheme and region is
    /// refused.
    pub async fn insert_enrolment(
        &self,
        person_id: &str,
        e: &Enrolment,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        let dup = enrolment::Entity::find()
            .filter(enrolment::Column::PersonId.eq(person_id))
            .filter(enrolment::Column::Year.eq(e.year))
            .filter(enrolment::Column::Scheme.eq(scheme_str(e.scheme)))
            .filter(enrolment::Column::RegionCode.eq(e.region.as_str()))
            .filter(enrolment::Column::EndReason.is_null())
            .one(&*txn)
            .await?;
        if dup.is_some() {
            return Err(StoreError::Exists(format!(
                "already enrolled in {} for this scheme in region {}",
                e.year, e.region
            )));
        }
        enrolment_model(person_id, e, now()).insert(&*txn).await?;
        journal(
            &txn,
            person_id,
            "enrolment.created",
            enrolment_detail(e),
            actor,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// An enrolment by id, with the id of its person.
    pub async fn enrolment(&self, id: &str) -> Result<(String, Enrolment), StoreError> {
        let m = enrolment::Entity::find_by_id(id.to_string())
            .one(self.db())
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::Enrolment, id))?;
        Ok((m.person_id.clone(), enrolment_of(&m)?))
    }

    /// A person's enrolments, newest year first.
    pub async fn enrolments(&self, person_id: &str) -> Result<Vec<Enrolment>, StoreError> {
        enrolment::Entity::find()
            .filter(enrolment::Column::PersonId.eq(person_id))
            .order_by_desc(enrolment::Column::Year)
            .order_by_asc(enrolment::Column::EffectiveFrom)
            .all(self.db())
            .await?
            .iter()
            .map(enrolment_of)
            .collect()
    }

    /// People with a paid enrolment in the year within the prefix (optionally of a scheme).
    pub async fn enrolled_people(
        &self,
        region_prefix: &str,
        year: i32,
        scheme: Option<Scheme>,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut q = enrolment::Entity::find()
            .select_only()
            .column(enrolment::Column::PersonId)
            .filter(enrolment::Column::Year.eq(year))
            .filter(enrolment::Column::PaidOn.is_not_null())
            .filter(enrolment::Column::RegionCode.starts_with(region_prefix));
        if let Some(s) = scheme {
            q = q.filter(enrolment::Column::Scheme.eq(scheme_str(s)));
        }
        let ids: Vec<String> = q.into_tuple().all(self.db()).await?;
        Ok(ids.into_iter().collect())
    }
}
