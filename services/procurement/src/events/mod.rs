//! Bus output of the procurement service: inventory findings for supervision. The sale
//! records behind mark-up and sale-without-stock findings become
//! `yibao.events.v1.InventoryEvent`s ([`inventory`]), written to the outbox in the upload's
//! transaction and published to the stream [`INVENTORY_STREAM`] by the relay ([`relay`]: right
//! after the upload, and every few seconds for whatever a crash or a bus outage left behind).
//! Event ids are derived from the finding, so a retried upload never publishes twice under
//! new ids and consumers deduplicate by id. The service consumes no stream.

pub mod inventory;
pub mod relay;

pub use inventory::inventory_event;
pub use relay::{relay_once, spawn_relay};

/// Stream of inventory sale records.
pub const INVENTORY_STREAM: &str = "yibao.procurement.inventory";
