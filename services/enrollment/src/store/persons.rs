//! People: registration, corrections (each version kept), the history journal, the person
//! file eligibility reads, and the writes of a status event.

use super::codec::{date, end_reason_str, enrolment_model, enrolment_of, new_id, now, opt_date};
use super::entities::{enrolment, history, household, person, person_version, status_event};
use super::{Entity, Store, StoreError};
use crate::domain::enrolment::EventOutcome;
use crate::domain::{PersonFile, Suspension};
use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
};
use yibao_core::{IdNumber, RegionCode};
use yibao_runtime::Actor;

/// A new person to register.
#[derive(Debug, Clone)]
pub struct NewPerson {
    /// Validated ID number.
    pub id_number: IdNumber,
    /// Name.
    pub name: String,
    /// Region of residence.
    pub region: RegionCode,
    /// Household.
    pub household_id: Option<String>,
    /// Contact.
    pub contact: String,
}

/// Changes to a person (None = unchanged).
#[derive(Debug, Clone, Default)]
pub struct PersonChanges {
    /// Name.
    pub name: Option<String>,
    /// Contact.
    pub contact: Option<String>,
    /// Household.
    pub household_id: Option<String>,
}

pub(crate) fn person_row(new: NewPerson, id: String, ts: String) -> person::Model {
    person::Model {
        id,
        sex: match new.id_number.sex() {
            yibao_core::Sex::Male => "male".into(),
            yibao_core::Sex::Female => "female".into(),
        },
        birth_date: new.id_number.birth_date().to_string(),
        id_number: new.id_number.expose().to_string(),
        name: new.name,
        region_code: new.region.to_string(),
        household_id: new.household_id,
        contact: new.contact,
        death_date: None,
        moved_out_of_province: None,
        suspensions_json: "[]".into(),
        version: 1,
        created_at: ts.clone(),
        updated_at: ts,
    }
}

pub(crate) fn version_model(
    p: &person::Model,
    reason: &str,
    actor: &Actor,
    at: String,
) -> person_version::ActiveModel {
    let snapshot = serde_json::json!({
        "name": p.name, "region_code": p.region_code, "household_id": p.household_id,
        "contact": p.contact, "death_date": p.death_date, "version": p.version,
    });
    person_version::ActiveModel {
        person_id: Set(p.id.clone()),
        version: Set(p.version),
        snapshot_json: Set(snapshot.to_string()),
        reason: Set(reason.to_string()),
        actor: Set(actor.subject.clone()),
        role: Set(actor.role.clone()),
        at: Set(at),
    }
}

pub(crate) fn history_model(
    person_id: &str,
    kind: &str,
    detail: &serde_json::Value,
    actor: &Actor,
    at: String,
) -> history::ActiveModel {
    history::ActiveModel {
        id: Set(new_id()),
        person_id: Set(person_id.to_string()),
        kind: Set(kind.to_string()),
        detail_json: Set(detail.to_string()),
        actor: Set(actor.subject.clone()),
        role: Set(actor.role.clone()),
        at: Set(at),
    }
}

pub(crate) fn registered_detail(p: &person::Model) -> serde_json::Value {
    serde_json::json!({"name": p.name, "region_code": p.region_code})
}

/// Appends an entry to a person's journal inside `txn`.
pub async fn journal(
    txn: &DatabaseTransaction,
    person_id: &str,
    kind: &str,
    detail: serde_json::Value,
    actor: &Actor,
) -> Result<(), StoreError> {
    history_model(person_id, kind, &detail, actor, now())
        .insert(txn)
        .await?;
    Ok(())
}

async fn keep_version(
    txn: &DatabaseTransaction,
    p: &person::Model,
    reason: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    version_model(p, reason, actor, now()).insert(txn).await?;
    Ok(())
}

/// A person by id, inside `txn`.
pub async fn person_in(txn: &DatabaseTransaction, id: &str) -> Result<person::Model, StoreError> {
    person::Entity::find_by_id(id.to_string())
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Person, id))
}

async fn household_exists(txn: &DatabaseTransaction, id: &str) -> Result<(), StoreError> {
    household::Entity::find_by_id(id.to_string())
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Household, id))?;
    Ok(())
}

impl Store {
    /// Registers a person; a second registration of the same ID number is refused.
    pub async fn register_person(
        &self,
        new: NewPerson,
        actor: &Actor,
    ) -> Result<person::Model, StoreError> {
        let txn = self.begin().await?;
        if person::Entity::find()
            .filter(person::Column::IdNumber.eq(new.id_number.expose()))
            .one(&*txn)
            .await?
            .is_some()
        {
            return Err(StoreError::Exists(format!(
                "a person with ID number {} is registered",
                new.id_number
            )));
        }
        if let Some(h) = &new.household_id {
            household_exists(&txn, h).await?;
        }
        let exists = format!("a person with ID number {} is registered", new.id_number);
        let model = person::ActiveModel::from(person_row(new, new_id(), now()))
            .reset_all()
            .insert(&*txn)
            .await
            .map_err(|e| {
                if yibao_runtime::db::is_unique_violation(&e) {
                    StoreError::Exists(exists)
                } else {
                    e.into()
                }
            })?;
        keep_version(&txn, &model, "registered", actor).await?;
        journal(
            &txn,
            &model.id,
            "person.registered",
            registered_detail(&model),
            actor,
        )
        .await?;
        txn.commit().await?;
        Ok(model)
    }

    /// A person by id.
    pub async fn person(&self, id: &str) -> Result<person::Model, StoreError> {
        person::Entity::find_by_id(id.to_string())
            .one(self.db())
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::Person, id))
    }

    /// A person by ID number.
    pub async fn person_by_id_number(
        &self,
        id: &IdNumber,
    ) -> Result<Option<person::Model>, StoreError> {
        Ok(person::Entity::find()
            .filter(person::Column::IdNumber.eq(id.expose()))
            .one(self.db())
            .await?)
    }

    /// Corrects a person; keeps the previous version.
    pub async fn correct_person(
        &self,
        id: &str,
        changes: PersonChanges,
        expected_version: i64,
        reason: &str,
        actor: &Actor,
    ) -> Result<person::Model, StoreError> {
        let txn = self.begin().await?;
        let current = person_in(&txn, id).await?;
        if expected_version != 0 && expected_version != current.version {
            return Err(StoreError::Conflict(format!(
                "person is at version {}, not {expected_version}",
                current.version
            )));
        }
        if let Some(h) = &changes.household_id {
            household_exists(&txn, h).await?;
        }
        let mut am: person::ActiveModel = current.clone().into();
        if let Some(n) = changes.name.clone() {
            am.name = Set(n);
        }
        if let Some(c) = changes.contact.clone() {
            am.contact = Set(c);
        }
        if let Some(h) = changes.household_id.clone() {
            am.household_id = Set(Some(h));
        }
        am.version = Set(current.version + 1);
        am.updated_at = Set(now());
        // Optimistic concurrency: the update only applies to the version we read.
        let res = person::Entity::update_many()
            .set(am)
            .filter(person::Column::Id.eq(id))
            .filter(person::Column::Version.eq(current.version))
            .exec(&*txn)
            .await?;
        if res.rows_affected != 1 {
            return Err(StoreError::Conflict(
                "the person changed concurrently; retry".into(),
            ));
        }
        let updated = person_in(&txn, id).await?;
        keep_version(&txn, &updated, reason, actor).await?;
        let detail = serde_json::json!({"reason": reason, "name": changes.name, "contact": changes.contact, "household_id": changes.household_id, "version": updated.version});
        journal(&txn, id, "person.corrected", detail, actor).await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// Everything eligibility needs about a person.
    pub async fn person_file(&self, p: &person::Model) -> Result<PersonFile, StoreError> {
        let enrolments = enrolment::Entity::find()
            .filter(enrolment::Column::PersonId.eq(p.id.clone()))
            .order_by_asc(enrolment::Column::Year)
            .all(self.db())
            .await?
            .iter()
            .map(enrolment_of)
            .collect::<Result<Vec<_>, _>>()?;
        let suspensions: Vec<Suspension> = serde_json::from_str(&p.suspensions_json)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(PersonFile {
            person_id: p.id.clone(),
            id_masked: IdNumber::parse(&p.id_number)
                .map(|i| i.masked())
                .unwrap_or_else(|_| "******".into()),
            name: p.name.clone(),
            sex: p.sex.clone(),
            birth_date: date(&p.birth_date)?,
            region: RegionCode::parse(&p.region_code)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            death_date: opt_date(&p.death_date)?,
            moved_out_of_province: opt_date(&p.moved_out_of_province)?,
            enrolments,
            categories: self.categories(&p.id).await?,
            suspensions,
        })
    }

    /// The journal of a person, oldest first.
    pub async fn history(&self, person_id: &str) -> Result<Vec<history::Model>, StoreError> {
        Ok(history::Entity::find()
            .filter(history::Column::PersonId.eq(person_id))
            .order_by_asc(history::Column::Id)
            .all(self.db())
            .await?)
    }

    /// Writes the outcome of a status event (decided by the domain on a file read just before;
    /// the person's version guards against a concurrent change).
    pub async fn apply_event(
        &self,
        p: &person::Model,
        kind: &str,
        on: NaiveDate,
        detail: serde_json::Value,
        out: &EventOutcome,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        let mut am: person::ActiveModel = p.clone().into();
        if let Some(d) = out.death_date {
            am.death_date = Set(Some(d.to_string()));
        }
        if let Some(d) = out.moved_out_of_province {
            am.moved_out_of_province = Set(Some(d.to_string()));
        }
        if let Some(s) = &out.suspensions {
            am.suspensions_json =
                Set(serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }
        am.version = Set(p.version + 1);
        am.updated_at = Set(now());
        let res = person::Entity::update_many()
            .set(am)
            .filter(person::Column::Id.eq(p.id.clone()))
            .filter(person::Column::Version.eq(p.version))
            .exec(&*txn)
            .await?;
        if res.rows_affected != 1 {
            return Err(StoreError::Conflict(
                "the person changed concurrently; retry".into(),
            ));
        }
        for e in &out.changed {
            enrolment::Entity::update_many()
                .col_expr(
                    enrolment::Column::EffectiveTo,
                    Expr::value(e.effective_to.to_string()),
                )
                .col_expr(
                    enrolment::Column::EndReason,
                    Expr::value(e.end_reason.map(|r| end_reason_str(r).to_string())),
                )
                .filter(enrolment::Column::Id.eq(e.id.clone()))
                .exec(&*txn)
                .await?;
        }
        for e in &out.created {
            enrolment_model(&p.id, e, now()).insert(&*txn).await?;
        }
        status_event::ActiveModel {
            id: Set(new_id()),
            person_id: Set(p.id.clone()),
            kind: Set(kind.to_string()),
            effective_on: Set(on.to_string()),
            detail_json: Set(detail.to_string()),
            created_at: Set(now()),
        }
        .insert(&*txn)
        .await?;
        let mut entry = detail;
        entry["effective_on"] = serde_json::json!(on);
        entry["ended"] = serde_json::json!(out.changed.iter().map(|e| &e.id).collect::<Vec<_>>());
        entry["created"] = serde_json::json!(out.created.iter().map(|e| &e.id).collect::<Vec<_>>());
        journal(&txn, &p.id, &format!("status.{kind}"), entry, actor).await?;
        txn.commit().await?;
        Ok(())
    }
}
