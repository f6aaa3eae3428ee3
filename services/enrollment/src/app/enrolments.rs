//! Contribution standards, enrolling, contributions and status events.

use super::tenancy::{check_region, scope, scope_named};
use super::{AppError, Enrollment};
use crate::domain::enrolment::{ContributionStandard, StatusEvent};
use crate::domain::{Enrolment, EnrolmentError, PersonFile, Scheme};
use crate::store::enrolments::{
    Contribution, contribution_by_reference, lock_enrolment, record_contribution,
};
use crate::store::entities::person;
use crate::store::{StoreError, persons};
use chrono::NaiveDate;
use yibao_core::RegionCode;
use yibao_runtime::Actor;
use yibao_runtime::Caller;

/// An enrolment to make.
#[derive(Debug, Clone)]
pub struct Enrol {
    /// The person.
    pub person_id: String,
    /// Insurance year.
    pub year: i32,
    /// Scheme.
    pub scheme: Scheme,
    /// Region (checked against the caller).
    pub region: RegionCode,
    /// Day of enrolment.
    pub enrolled_on: NaiveDate,
}

/// A status event as requested.
#[derive(Debug, Clone)]
pub enum EventRequest {
    /// Death, moving out, suspension or resumption.
    Event(StatusEvent, &'static str),
    /// A transfer; without a scheme the current one is kept.
    Transfer {
        /// Target region.
        to_region: RegionCode,
        /// Target scheme, if it changes.
        to_scheme: Option<Scheme>,
    },
}

/// A status event to record.
#[derive(Debug, Clone)]
pub struct RecordEvent {
    /// The person.
    pub person_id: String,
    /// Effective day.
    pub on: NaiveDate,
    /// What happened.
    pub request: EventRequest,
    /// Note for the journal.
    pub note: String,
    /// The target region as given (for the journal).
    pub to_region_code: String,
}

/// Result of recording a contribution.
#[derive(Debug, Clone)]
pub struct Contributed {
    /// The enrolment afterwards.
    pub enrolment: Enrolment,
    /// The person it belongs to.
    pub person_id: String,
    /// The person's ID number (for cache invalidation).
    pub id_number: String,
}

impl Enrollment {
    /// A person with their file.
    pub(crate) async fn file_of(
        &self,
        person_id: &str,
    ) -> Result<(person::Model, PersonFile), AppError> {
        let p = self.store.person(person_id).await?;
        let f = self.store.person_file(&p).await?;
        Ok((p, f))
    }

    /// Sets a contribution standard (the caller's region was checked against the request).
    pub async fn set_standard(
        &self,
        region: &RegionCode,
        year: i32,
        scheme: Scheme,
        std: &ContributionStandard,
    ) -> Result<(), AppError> {
        Ok(self.store.set_standard(region, year, scheme, std).await?)
    }

    /// Enrols a person of the caller's region by the standard of the region, year and scheme
    /// (a person of another region is refused naming `person_id`, before anything is written).
    pub async fn enroll(&self, caller: &Caller, r: Enrol) -> Result<(String, Enrolment), AppError> {
        let (p, file) = self.file_of(&r.person_id).await?;
        scope_named(caller, "person_id", &p)?;
        let standard = self
            .store
            .standard(&r.region, r.year, r.scheme)
            .await?
            .ok_or_else(|| {
                EnrolmentError::Precondition(format!(
                    "no contribution standard for region {}, year {}, this scheme: set one first",
                    r.region, r.year
                ))
            })?;
        let e = crate::domain::enrolment::enrol(
            &file,
            uuid::Uuid::now_v7().to_string(),
            r.year,
            r.scheme,
            r.region,
            r.enrolled_on,
            &standard,
        )?;
        self.store
            .insert_enrolment(&p.id, &e, &Actor::from(caller))
            .await?;
        self.eligibility.invalidate(&p.id_number).await;
        Ok((p.id, e))
    }

    /// Records a payment or subsidy towards an enrolment of the caller's region.
    pub async fn record_contribution(
        &self,
        caller: &Caller,
        enrolment_id: &str,
        c: Contribution,
    ) -> Result<(String, Enrolment), AppError> {
        let (person_id, en) = self.store.enrolment(enrolment_id).await?;
        check_region(caller, "enrolment_id", en.region.as_str())?;
        let done = self
            .contribute(enrolment_id, c, &Actor::from(caller))
            .await?;
        self.eligibility.invalidate(&done.id_number).await;
        Ok((person_id, done.enrolment))
    }

    /// Records a contribution in one transaction, idempotent by its reference: a retry with
    /// the same reference returns the enrolment as it is and writes nothing; the same
    /// reference for a different contribution is a conflict. The enrolment row is locked so
    /// concurrent payments cannot both pass the over-payment check of the rules.
    pub(crate) async fn contribute(
        &self,
        enrolment_id: &str,
        c: Contribution,
        actor: &Actor,
    ) -> Result<Contributed, AppError> {
        let txn = self.store.begin().await?;
        let row = lock_enrolment(&txn, enrolment_id, self.store.is_postgres()).await?;
        let p = persons::person_in(&txn, &row.person_id).await?;
        let existing = contribution_by_reference(&txn, enrolment_id, &c.reference).await?;
        if let Some(done) = existing {
            let same = done.amount == c.amount && done.kind == Some(c.kind);
            txn.rollback().await.map_err(StoreError::from)?;
            if !same {
                return Err(StoreError::Conflict(format!(
                    "reference `{}` was already used for a different contribution",
                    c.reference
                ))
                .into());
            }
            return Ok(Contributed {
                enrolment: crate::store::enrolment_of(&row)?,
                person_id: p.id,
                id_number: p.id_number,
            });
        }
        let current = crate::store::enrolment_of(&row)?;
        let next = crate::domain::enrolment::contribute(&current, c.kind, c.amount, c.paid_on)?;
        record_contribution(&txn, &p.id, &next, &c, actor).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(Contributed {
            enrolment: next,
            person_id: p.id,
            id_number: p.id_number,
        })
    }

    /// The enrolments of a person living or insured in the caller's region, newest year first.
    pub async fn list_enrolments(
        &self,
        caller: &Caller,
        person_id: &str,
    ) -> Result<(String, Vec<Enrolment>), AppError> {
        let p = self.store.person(person_id).await?;
        self.reach(caller, &p).await?;
        let enrolments = self.store.enrolments(&p.id).await?;
        Ok((p.id, enrolments))
    }

    /// Records a status event of a person of the caller's region (a transfer may move them
    /// out of it: moving people out is part of the operator's job) and returns their
    /// enrolments afterwards.
    pub async fn record_status_event(
        &self,
        caller: &Caller,
        r: RecordEvent,
    ) -> Result<(String, Vec<Enrolment>), AppError> {
        let (p, file) = self.file_of(&r.person_id).await?;
        scope(caller, &p)?;
        let (event, kind) = match r.request {
            EventRequest::Event(e, kind) => (e, kind),
            EventRequest::Transfer {
                to_region,
                to_scheme,
            } => {
                let to_scheme = to_scheme
                    .unwrap_or_else(|| crate::domain::enrolment::scheme_kept_on(&file, r.on));
                (
                    StatusEvent::Transfer {
                        to_region,
                        to_scheme,
                    },
                    "transfer",
                )
            }
        };
        let out = crate::domain::enrolment::apply_event(&file, &event, r.on, &mut || {
            uuid::Uuid::now_v7().to_string()
        })?;
        let detail =
            serde_json::json!({"kind": kind, "note": r.note, "to_region_code": r.to_region_code});
        self.store
            .apply_event(&p, kind, r.on, detail, &out, &Actor::from(caller))
            .await?;
        self.eligibility.invalidate(&p.id_number).await;
        let enrolments = self.store.enrolments(&p.id).await?;
        Ok((p.id, enrolments))
    }
}
