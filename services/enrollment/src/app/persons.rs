//! People: registration, corrections, look-ups, their history and their categories.

use super::tenancy::scope;
use super::{AppError, Enrollment};
use crate::domain::CategoryGrant;
use crate::store::entities::{history, person};
use crate::store::{Entity, NewPerson, PersonChanges, StoreError};
use yibao_core::IdNumber;
use yibao_runtime::{Actor, Caller};

/// A person with their categories, as the API shows them.
#[derive(Debug, Clone)]
pub struct PersonView {
    /// The person.
    pub person: person::Model,
    /// Their category grants, oldest first.
    pub categories: Vec<CategoryGrant>,
}

/// A correction of a person, with the reason kept in the history.
#[derive(Debug, Clone)]
pub struct Correction {
    /// The person.
    pub person_id: String,
    /// What changes.
    pub changes: PersonChanges,
    /// The version the caller read (0: any).
    pub expected_version: i64,
    /// Why.
    pub reason: String,
}

impl Enrollment {
    /// A person with their categories.
    pub async fn person_view(&self, p: person::Model) -> Result<PersonView, AppError> {
        let categories = self.store.categories(&p.id).await?;
        Ok(PersonView {
            person: p,
            categories,
        })
    }

    /// Registers a person (the caller's region was checked against the request).
    pub async fn register_person(
        &self,
        caller: &Caller,
        new: NewPerson,
    ) -> Result<PersonView, AppError> {
        let p = self
            .store
            .register_person(new, &Actor::from(caller))
            .await?;
        self.person_view(p).await
    }

    /// Corrects a person living or insured in the caller's region, keeping the previous version.
    pub async fn correct_person(
        &self,
        caller: &Caller,
        c: Correction,
    ) -> Result<PersonView, AppError> {
        let p = self.store.person(&c.person_id).await?;
        self.reach(caller, &p).await?;
        let p = self
            .store
            .correct_person(
                &c.person_id,
                c.changes,
                c.expected_version,
                &c.reason,
                &Actor::from(caller),
            )
            .await?;
        self.eligibility.invalidate(&p.id_number).await;
        self.person_view(p).await
    }

    /// A person living or insured in the caller's region, by id.
    pub async fn get_person(&self, caller: &Caller, id: &str) -> Result<PersonView, AppError> {
        let p = self.store.person(id).await?;
        self.reach(caller, &p).await?;
        self.person_view(p).await
    }

    /// A person living or insured in the caller's region, by ID number.
    pub async fn lookup_person(
        &self,
        caller: &Caller,
        id: &IdNumber,
    ) -> Result<PersonView, AppError> {
        let p = self
            .store
            .person_by_id_number(id)
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::Person, id.masked()))?;
        self.reach(caller, &p).await?;
        self.person_view(p).await
    }

    /// The journal of a person living or insured in the caller's region, oldest first.
    pub async fn person_history(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Vec<history::Model>, AppError> {
        let p = self.store.person(id).await?;
        self.reach(caller, &p).await?;
        Ok(self.store.history(&p.id).await?)
    }

    /// Grants a category to a person of the caller's region.
    pub async fn grant_category(
        &self,
        caller: &Caller,
        person_id: &str,
        grant: &CategoryGrant,
    ) -> Result<PersonView, AppError> {
        let p = self.store.person(person_id).await?;
        scope(caller, &p)?;
        self.store
            .grant_category(&p.id, grant, &Actor::from(caller))
            .await?;
        self.eligibility.invalidate(&p.id_number).await;
        self.person_view(p).await
    }
}
