//! Errors of the store: what reading and writing rows can run into.

use crate::error as codes;
use yibao_runtime::error::{ErrorCode, codes as runtime_codes};

/// The kinds of record the store looks up by id (for not-found errors and their codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// A person.
    Person,
    /// An enrolment.
    Enrolment,
    /// A household.
    Household,
    /// An issued voucher.
    Voucher,
    /// A duplicate-enrolment task.
    DuplicateTask,
    /// A designated institution.
    Institution,
    /// An insurance physician.
    Physician,
    /// A chronic/special-disease certification.
    Certification,
    /// A cross-region care filing.
    Filing,
    /// A national-interface credential in force, by `paasid`.
    InterfaceCredential,
}

impl Entity {
    /// The word used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Person => "person",
            Entity::Enrolment => "enrolment",
            Entity::Household => "household",
            Entity::Voucher => "voucher",
            Entity::DuplicateTask => "duplicate task",
            Entity::Institution => "institution",
            Entity::Physician => "physician",
            Entity::Certification => "certification",
            Entity::Filing => "cross-region filing",
            Entity::InterfaceCredential => "interface credential",
        }
    }

    /// The code of a look-up that found nothing.
    pub fn not_found_code(self) -> ErrorCode {
        match self {
            Entity::Person => codes::PERSON_NOT_FOUND,
            Entity::Enrolment => codes::ENROLMENT_NOT_FOUND,
            Entity::Household => codes::HOUSEHOLD_NOT_FOUND,
            Entity::Voucher => codes::VOUCHER_NOT_FOUND,
            Entity::DuplicateTask => codes::DUPLICATE_TASK_NOT_FOUND,
            Entity::Institution => codes::INSTITUTION_NOT_FOUND,
            Entity::Physician => codes::PHYSICIAN_NOT_FOUND,
            Entity::Certification => codes::CERTIFICATION_NOT_FOUND,
            Entity::Filing => codes::FILING_NOT_FOUND,
            Entity::InterfaceCredential => codes::INTERFACE_CREDENTIAL_NOT_FOUND,
        }
    }
}

/// What can go wrong reading or writing enrollment rows.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such record.
    #[error("{} `{id}` not found", .entity.name())]
    NotFound {
        /// What was looked up.
        entity: Entity,
        /// By which id (masked where it is an ID number).
        id: String,
    },
    /// It exists already (a unique key).
    #[error("{0}")]
    Exists(String),
    /// A concurrent change or a reused reference.
    #[error("{0}")]
    Conflict(String),
    /// Stored data that does not parse (a bug or manual edit).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl StoreError {
    /// Not found, by entity and id.
    pub fn not_found(entity: Entity, id: impl Into<String>) -> StoreError {
        StoreError::NotFound {
            entity,
            id: id.into(),
        }
    }

    /// Stable machine-readable code (the one callers see; `INTERNAL` for failures they
    /// cannot act on).
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound { entity, .. } => entity.not_found_code(),
            StoreError::Exists(_) => codes::ALREADY_EXISTS,
            StoreError::Conflict(_) => codes::CONFLICT,
            StoreError::Corrupt(_) | StoreError::Db(_) => runtime_codes::INTERNAL,
        }
    }
}
