//! The bus's stream and consumer-group names, written once. Producers publish to a stream
//! through their outbox ([`crate::outbox`]); each consuming service reads it in its own group.

/// Settled and reversed claims (`yibao.events.v1.ClaimEvent`), produced by settlement.
pub const SETTLEMENT_CLAIMS: &str = "yibao.settlement.claims";
/// Settled and reversed long-term-care lines (`yibao.events.v1.LtcEvent`), produced by ltc.
pub const LTC_CLAIMS: &str = "yibao.ltc.claims";
/// Inventory sale records behind mark-up findings (`yibao.events.v1.InventoryEvent`),
/// produced by procurement.
pub const PROCUREMENT_INVENTORY: &str = "yibao.procurement.inventory";

/// Every stream, for operators' tools and lag gauges.
pub const ALL: [&str; 3] = [SETTLEMENT_CLAIMS, LTC_CLAIMS, PROCUREMENT_INVENTORY];

/// Group of ltc's consumer of settlement's inpatient stays.
pub const LTC_HOSPITAL_STAYS_GROUP: &str = "ltc-hospital-stays";
/// Group of supervision's consumer of every stream.
pub const SUPERVISION_GROUP: &str = "supervision";
