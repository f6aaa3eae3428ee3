//! What settlement asks of other services, behind small traits so the use cases run without
//! the network: enrollment (who the person is on a date and what its registries say about
//! a claim, decision 10), procurement (the medical-insurance
//! catalogue: how each item of a claim is classified and priced, decision 0009), supervision
//! (whether to pay an institution's month). The gRPC implementations are
//! in [`grpc`]; [`Offline`] answers "unavailable" to everything (tests, benches).

pub mod grpc;
pub mod registry;

pub use registry::{ClaimRegistryFacts, FactsQuery, SettlementRegistry};

use super::AppError;
use chrono::NaiveDate;
use std::sync::Arc;
use yibao_core::{Bp, Fen, InstitutionCode, PersonCategory, Scheme, Sex};

use crate::domain::ItemClass;

/// The caller's `authorization` header, forwarded to upstreams as it came.
pub type Authorization = Option<http::HeaderValue>;

/// Enrollment's answer about a person on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonOnDate {
    /// Enrollment's person id (the person key of events).
    pub person_id: String,
    /// Covered on the date.
    pub eligible: bool,
    /// Why (or why not), in words.
    pub explanation: String,
    /// The insured region (参保地).
    pub region_code: String,
    /// The scheme; none when enrollment answered without one.
    pub scheme: Option<Scheme>,
    /// Categories valid on the date.
    pub categories: Vec<PersonCategory>,
}

/// Supervision's decision on paying an institution's month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentDecision {
    /// No decision.
    Unspecified,
    /// Pay.
    Pay,
    /// Hold.
    Hold,
    /// Refuse.
    Refuse,
}

/// Supervision's answer with its reasons and the institution's credit score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentCheck {
    /// The decision.
    pub decision: PaymentDecision,
    /// Why.
    pub reasons: Vec<String>,
    /// Credit score.
    pub credit_score: u32,
}

/// An upstream that did not answer, with what it said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unanswered(pub String);

/// The facts of a claim that the catalogue's payment restrictions (限定支付) are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimFacts<'a> {
    /// The institution (its region is the place of treatment, 就医地).
    pub institution: &'a InstitutionCode,
    /// The date the claim is classified on.
    pub date: NaiveDate,
    /// The institution's grade (1, 2, 3).
    pub institution_grade: Option<u8>,
    /// The person's sex.
    pub sex: Sex,
    /// The person's age in whole years on the date.
    pub age: u32,
    /// The claim's diagnoses.
    pub diagnoses: &'a [String],
}

/// One line to classify: the code as the claim carries it and its days of supply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueLine {
    /// Code.
    pub code: String,
    /// Days of supply, when the claim gives them.
    pub days_supply: Option<u32>,
}

/// Procurement's answer for one line (`ResolveCatalogue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// True when a catalogue version is in force on the date.
    pub in_catalogue: bool,
    /// 甲/乙/丙 of the version; 丙 when none.
    pub class: ItemClass,
    /// The version's first self-pay share (`None`: the policy's).
    pub preselfpay_share: Option<Bp>,
    /// Payment standard per unit in force.
    pub payment_standard: Option<Fen>,
    /// 国家谈判药品.
    pub negotiated: bool,
    /// The restrictions the line violates, in words.
    pub violations: Vec<String>,
    /// The restrictions procurement could not check for want of a fact (their names:
    /// `SEX`, `AGE`, `INSTITUTION_GRADE`, `INDICATION`, `DAYS_SUPPLY`).
    pub unchecked: Vec<String>,
    /// The version's indication text (限定支付范围).
    pub indication: String,
    /// Procurement's answer in words.
    pub explanation: String,
}

/// The medical-insurance catalogue (procurement's `ResolveCatalogue`).
#[tonic::async_trait]
pub trait CatalogueResolver: Send + Sync + std::fmt::Debug {
    /// How each line classifies at the place of treatment of `facts` on its date, one answer
    /// per line in order. An unreachable procurement is `AppError::Upstream`; its refusals pass
    /// on as `AppError::Refused`.
    async fn resolve(
        &self,
        authorization: Authorization,
        facts: &ClaimFacts<'_>,
        lines: &[CatalogueLine],
    ) -> Result<Vec<Resolution>, AppError>;
}

/// Whether to pay an institution's month (supervision's `CheckSettlementHold`).
#[tonic::async_trait]
pub trait SettlementHolds: Send + Sync + std::fmt::Debug {
    /// Supervision's decision on paying `institution` in `year`-`month`.
    async fn check(
        &self,
        authorization: Authorization,
        institution: &InstitutionCode,
        year: i32,
        month: u32,
    ) -> Result<PaymentCheck, Unanswered>;
}

/// The upstreams of the service.
#[derive(Debug, Clone)]
pub struct Upstreams {
    /// Enrollment (the person and the registries).
    pub registry: Arc<dyn SettlementRegistry>,
    /// Procurement's catalogue.
    pub catalogue: Arc<dyn CatalogueResolver>,
    /// Supervision.
    pub holds: Arc<dyn SettlementHolds>,
}

impl Upstreams {
    /// Upstreams that never answer (tests and benches that settle prepared inputs).
    pub fn offline() -> Upstreams {
        Upstreams {
            registry: Arc::new(Offline),
            catalogue: Arc::new(Offline),
            holds: Arc::new(Offline),
        }
    }
}

/// Answers every question with "unavailable".
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

#[tonic::async_trait]
impl CatalogueResolver for Offline {
    async fn resolve(
        &self,
        _: Authorization,
        _: &ClaimFacts<'_>,
        _: &[CatalogueLine],
    ) -> Result<Vec<Resolution>, AppError> {
        Err(AppError::Upstream(
            crate::error::PROCUREMENT_UNAVAILABLE,
            "offline".into(),
        ))
    }
}

#[tonic::async_trait]
impl SettlementHolds for Offline {
    async fn check(
        &self,
        _: Authorization,
        _: &InstitutionCode,
        _: i32,
        _: u32,
    ) -> Result<PaymentCheck, Unanswered> {
        Err(Unanswered("offline".into()))
    }
}
