//! What settlement asks of other services, behind small traits so the use cases run without
//! the network: enrollment (who the person is on a date), procurement (payment standards of
//! items), supervision (whether to pay an institution's month). The gRPC implementations are
//! in [`grpc`]; [`Offline`] answers "unavailable" to everything (tests, benches).

pub mod grpc;

use super::AppError;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::sync::Arc;
use yibao_core::{Fen, IdNumber, InstitutionCode, PersonCategory, RegionCode, Scheme};

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

/// Who the person is on a date (enrollment's `CheckEligibility`).
#[tonic::async_trait]
pub trait Eligibility: Send + Sync + std::fmt::Debug {
    /// The person `id` on `date`. An unreachable enrollment is `AppError::Upstream`; its
    /// refusals pass on as `AppError::Refused`.
    async fn check(
        &self,
        authorization: Authorization,
        id: &IdNumber,
        date: NaiveDate,
    ) -> Result<PersonOnDate, AppError>;
}

/// Payment standards of items (procurement's `GetPaymentStandards`).
#[tonic::async_trait]
pub trait PaymentStandards: Send + Sync + std::fmt::Debug {
    /// The standards (医保支付标准) of `codes` in force at the place of treatment on `date`
    /// (its county, city or province, most specific first); codes without one are absent.
    async fn standards(
        &self,
        authorization: Authorization,
        treatment: &RegionCode,
        codes: &[String],
        date: NaiveDate,
    ) -> Result<HashMap<String, Fen>, AppError>;
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
    /// Enrollment.
    pub eligibility: Arc<dyn Eligibility>,
    /// Procurement.
    pub standards: Arc<dyn PaymentStandards>,
    /// Supervision.
    pub holds: Arc<dyn SettlementHolds>,
}

impl Upstreams {
    /// Upstreams that never answer (tests and benches that settle prepared inputs).
    pub fn offline() -> Upstreams {
        Upstreams {
            eligibility: Arc::new(Offline),
            standards: Arc::new(Offline),
            holds: Arc::new(Offline),
        }
    }
}

/// Answers every question with "unavailable".
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

#[tonic::async_trait]
impl Eligibility for Offline {
    async fn check(
        &self,
        _: Authorization,
        _: &IdNumber,
        _: NaiveDate,
    ) -> Result<PersonOnDate, AppError> {
        Err(AppError::Upstream(
            crate::error::ENROLLMENT_UNAVAILABLE,
            "offline".into(),
        ))
    }
}

#[tonic::async_trait]
impl PaymentStandards for Offline {
    async fn standards(
        &self,
        _: Authorization,
        _: &RegionCode,
        _: &[String],
        _: NaiveDate,
    ) -> Result<HashMap<String, Fen>, AppError> {
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
