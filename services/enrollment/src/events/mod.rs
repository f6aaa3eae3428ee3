//! The bus into the enrollment service: [`sanctions`] consumes supervision's blacklistings and
//! their liftings (`yibao.supervision.sanctions`) in group `enrollment-sanctions` and has the
//! registry act on them. Stream and group names are `yibao_runtime::streams`.

pub mod sanctions;

use crate::app::AppError;
use crate::error;
use crate::store::StoreError;

/// Why a pass of the consumer failed (retried by its loop).
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The inbox (the bus or its state in the database) failed.
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
            EventsError::Inbox(_) => error::BUS_UNAVAILABLE.code,
            EventsError::App(e) => e.code().code,
        }
    }

    /// True when the failure is the infrastructure's (the database, a concurrent change):
    /// the delivery is tried again as it is, never set aside as a dead letter.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            EventsError::Inbox(_)
                | EventsError::App(AppError::Store(StoreError::Db(_) | StoreError::Conflict(_)))
        )
    }
}
