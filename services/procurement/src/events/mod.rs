//! Bus output of the procurement service: inventory findings for supervision. The sale
//! records behind mark-up and sale-without-stock findings become
//! `yibao.events.v1.InventoryEvent`s ([`inventory`]) on the stream
//! `yibao_runtime::streams::PROCUREMENT_INVENTORY`, written to the runtime's outbox in the
//! upload's transaction and published by the runtime's relay (woken right after the upload;
//! otherwise within a second for whatever a crash or a bus outage left behind). Event ids are
//! derived from the finding, so a retried upload never publishes twice under new ids and
//! consumers deduplicate by id. The service consumes no stream.

pub mod inventory;

pub use inventory::inventory_event;
