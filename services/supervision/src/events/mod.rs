//! The bus, in and out, of the supervision service: [`decode`] turns the `yibao.events.v1`
//! payloads of the claim, long-term-care and inventory streams (and the payloads stored from
//! them) into domain events, refusing an invalid one with the field named; [`consume`] is the
//! stream consumer that judges them and writes what they raise; [`sanctions`] encodes the
//! blacklistings and liftings supervision publishes through the runtime's outbox.

pub mod consume;
pub mod decode;
pub mod sanctions;

pub use consume::{BatchReport, Consumer, ConsumerConfig};
pub use decode::{B64, StreamKind};

use crate::app::AppError;
use crate::error;
use crate::store::StoreError;
use yibao_runtime::error::ErrorCode;

/// What can go wrong consuming the streams.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The bus failed (read, acknowledge or lag).
    #[error("bus: {0}")]
    Bus(String),
    /// A stored payload that no longer decodes, or a stored value the consumer cannot use.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// A task of the consumer (lookup, commit) failed to run to its end.
    #[error("{0} task: {1}")]
    Task(&'static str, String),
    /// A use case failed (rules, the batch write).
    #[error(transparent)]
    App(#[from] AppError),
    /// Reading rows failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EventsError {
    /// Inconsistent stored data.
    pub fn corrupt(what: impl std::fmt::Display) -> EventsError {
        EventsError::Corrupt(what.to_string())
    }

    /// True when the failure is the infrastructure's (bus, database, a task), not the event's:
    /// the same delivery is tried again and never set aside as a dead letter.
    pub fn is_transient(&self) -> bool {
        use yibao_runtime::ErrorKind;
        match self {
            EventsError::Bus(_) | EventsError::Task(..) => true,
            EventsError::Corrupt(_) => false,
            EventsError::App(_) | EventsError::Store(_) => {
                matches!(
                    self.code().kind,
                    ErrorKind::Unavailable | ErrorKind::Aborted | ErrorKind::AlreadyExists
                )
            }
        }
    }

    /// Stable code of the error.
    pub fn code(&self) -> ErrorCode {
        match self {
            EventsError::Bus(_) => error::BUS,
            EventsError::Corrupt(_) => error::STORED_DATA_CORRUPT,
            EventsError::Task(..) => error::CONSUMER_TASK,
            EventsError::App(e) => e.code(),
            EventsError::Store(e) => e.code(),
        }
    }
}

impl From<yibao_runtime::bus::BusError> for EventsError {
    fn from(e: yibao_runtime::bus::BusError) -> EventsError {
        EventsError::Bus(e.0)
    }
}
