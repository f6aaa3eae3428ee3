//! The bus, in and out: the LTC events this service publishes ([`ltc`], encoded here, written to
//! the runtime's outbox by `app/` in the transaction of the run, published by the runtime's
//! relay) and the settlement claim events it consumes to keep the inpatient stays service
//! records are checked against ([`stays`]). Stream and group names are `yibao_runtime::streams`.

pub mod ltc;
pub mod stays;

use crate::app::AppError;
use crate::error;
use yibao_runtime::bus::BusError;

/// Why a pass of the consumer failed (retried by its loop).
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The bus failed.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    /// The inbox (bus or its state in the database) failed.
    #[error(transparent)]
    Inbox(#[from] yibao_runtime::inbox::InboxError),
    /// Applying an event failed.
    #[error(transparent)]
    App(#[from] AppError),
}

impl EventsError {
    /// The stable code of the error (for logs).
    pub fn code(&self) -> &'static str {
        match self {
            EventsError::Bus(_) | EventsError::Inbox(_) => error::BUS_UNAVAILABLE.code,
            EventsError::App(e) => e.code(),
        }
    }
}
