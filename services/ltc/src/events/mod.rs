//! The bus, in and out: the LTC events this service publishes ([`ltc`], encoded into the outbox
//! by `app/` and published by the [`relay`]) and the settlement claim events it consumes to keep
//! the inpatient stays service records are checked against ([`stays`]).

pub mod ltc;
pub mod relay;
pub mod stays;

use crate::app::AppError;
use crate::store::StoreError;
use yibao_runtime::bus::BusError;

/// Bus stream of LTC settlement events.
pub const LTC_STREAM: &str = "yibao.ltc.claims";
/// Stream of settlement's claim events.
pub const SETTLEMENT_STREAM: &str = "yibao.settlement.claims";
/// Consumer group of this service on settlement's stream.
pub const STAY_GROUP: &str = "ltc-hospital-stays";

/// Why a pass of the relay or the consumer failed (retried by its loop).
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The bus failed.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Applying an event failed.
    #[error(transparent)]
    App(#[from] AppError),
}

impl EventsError {
    /// The stable code of the error (for logs).
    pub fn code(&self) -> &'static str {
        match self {
            EventsError::Bus(_) => "LTC_BUS_UNAVAILABLE",
            EventsError::Store(e) => e.code(),
            EventsError::App(e) => e.code(),
        }
    }
}
