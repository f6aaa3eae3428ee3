//! The use cases of the LTC service, one module per area. Each takes the caller and input
//! already parsed by `api/`, checks that the records concerned are the caller's (institution,
//! assessor assignment, region), asks enrollment where the rules need it, opens the
//! transaction, calls the rules in `domain/`, writes through `store/` and enqueues the events
//! the change publishes.

pub mod applications;
pub mod assessments;
pub mod beneficiaries;
pub mod enrollment;
mod error;
pub mod policies;
pub mod records;
mod registry;
pub mod settlements;
pub mod statistics;
pub mod stays;
pub mod tenancy;

pub use enrollment::{Credentials, EligibilityAnswer, Enrollment, GrpcEnrollment};
pub use error::AppError;
pub use tenancy::region_scope;

use crate::domain::DomainError;
use crate::store::Store;
use std::sync::Arc;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::outbox::Relay;
use yibao_runtime::{Actor, Caller};

const STAYS_GROUP: &str = yibao_runtime::streams::LTC_HOSPITAL_STAYS_GROUP;

/// The LTC use cases over their store, enrollment and the outbox relay.
#[derive(Debug, Clone)]
pub struct Ltc {
    store: Store,
    enrollment: Arc<dyn Enrollment>,
    relay: Option<Relay>,
}

impl Ltc {
    /// Builds the use cases. `relay` is woken after a commit that enqueued events; without one
    /// (a bench, a tool) events wait in the outbox for a relay elsewhere.
    pub fn new(store: Store, enrollment: Arc<dyn Enrollment>, relay: Option<Relay>) -> Ltc {
        Ltc {
            store,
            enrollment,
            relay,
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A page of the settlement events the stay consumer set aside.
    pub async fn dead_letters(
        &self,
        page: Option<&yibao_proto::common::v1::PageRequest>,
    ) -> Result<
        (
            Vec<yibao_proto::common::v1::DeadLetter>,
            yibao_proto::common::v1::PageResponse,
        ),
        yibao_runtime::ApiError,
    > {
        yibao_runtime::inbox::api::list(self.store.base(), &[STAYS_GROUP], page).await
    }

    /// Has a dead letter delivered to the stay consumer again.
    pub async fn replay_dead_letter(
        &self,
        id: &str,
    ) -> Result<yibao_proto::common::v1::DeadLetter, yibao_runtime::ApiError> {
        yibao_runtime::inbox::api::replay(self.store.base(), &[STAYS_GROUP], id).await
    }

    fn kick_relay(&self) {
        if let Some(r) = &self.relay {
            r.kick();
        }
    }
}

/// Who makes a change, as stored beside it.
pub fn actor(c: &Caller) -> Actor {
    Actor::from(c)
}

/// Bad input in one field (the code every field check of the service uses).
pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> AppError {
    DomainError::invalid(crate::error::INVALID_ARGUMENT.code, field, reason).into()
}

/// Parses a region code, naming the field.
pub(crate) fn region(field: &str, s: &str) -> Result<RegionCode, AppError> {
    RegionCode::parse(s).map_err(|e| invalid(field, e.to_string()))
}

/// Parses an institution code, naming the field.
pub(crate) fn institution(field: &str, s: &str) -> Result<InstitutionCode, AppError> {
    InstitutionCode::parse(s).map_err(|e| invalid(field, e.to_string()))
}
