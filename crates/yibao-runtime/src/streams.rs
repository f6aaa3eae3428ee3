//! The bus's stream and consumer-group names, written once, and how a stream is partitioned.
//! Producers publish to a stream through their outbox ([`crate::outbox`]); each consuming
//! service reads it in its own group through an [`crate::inbox::Inbox`].
//!
//! Every stream is split into [`PARTITIONS`] partitions by the event's partition key (the
//! region of the institution the event concerns), each its own Redis stream
//! `<stream>.p<n>`, each with its own per-producer sequence. A consuming replica holds leases
//! on partitions, so all of a region's events reach one replica in the order they were
//! sequenced. The unpartitioned `<stream>` itself is still read (by the owner of partition 0),
//! unsequenced, for producers that publish to it directly (tools, tests, older versions during
//! a rolling upgrade).

/// Settled and reversed claims (`yibao.events.v1.ClaimEvent`), produced by settlement.
pub const SETTLEMENT_CLAIMS: &str = "yibao.settlement.claims";
/// Encounters during care (`yibao.events.v1.EncounterEvent`: admission, fee uploads,
/// discharge, cancellation), produced by settlement.
pub const SETTLEMENT_ENCOUNTERS: &str = "yibao.settlement.encounters";
/// Settled and reversed long-term-care lines (`yibao.events.v1.LtcEvent`), produced by ltc.
pub const LTC_CLAIMS: &str = "yibao.ltc.claims";
/// Inventory sale records behind mark-up findings (`yibao.events.v1.InventoryEvent`),
/// produced by procurement.
pub const PROCUREMENT_INVENTORY: &str = "yibao.procurement.inventory";
/// Institutions put on and taken off the blacklist (`yibao.events.v1.SanctionEvent`), produced
/// by supervision, acted on by enrollment's institution registry (decision 0014).
pub const SUPERVISION_SANCTIONS: &str = "yibao.supervision.sanctions";

/// Every stream, for operators' tools and lag gauges.
pub const ALL: [&str; 5] = [
    SETTLEMENT_CLAIMS,
    SETTLEMENT_ENCOUNTERS,
    LTC_CLAIMS,
    PROCUREMENT_INVENTORY,
    SUPERVISION_SANCTIONS,
];

/// Group of ltc's consumer of settlement's inpatient stays.
pub const LTC_HOSPITAL_STAYS_GROUP: &str = "ltc-hospital-stays";
/// Group of supervision's consumer of the claim, encounter, LTC and inventory streams.
pub const SUPERVISION_GROUP: &str = "supervision";
/// Group of enrollment's consumer of supervision's sanctions (the registry's suspensions).
pub const ENROLLMENT_SANCTIONS_GROUP: &str = "enrollment-sanctions";

/// Partitions of every stream: the most consuming replicas of one group that share the work
/// (further replicas stand by and take over a partition whose owner stops).
pub const PARTITIONS: u32 = 8;

/// The partition of a key: FNV-1a of its bytes modulo [`PARTITIONS`], stable across
/// processes, versions and platforms.
pub fn partition_of(key: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % PARTITIONS
}

/// The Redis stream of a partition: `<stream>.p<n>`.
pub fn partition_stream(stream: &str, partition: u32) -> String {
    format!("{stream}.p{partition}")
}

/// The Redis streams of every partition of `stream`.
pub fn all_partitions(stream: &str) -> Vec<String> {
    (0..PARTITIONS)
        .map(|p| partition_stream(stream, p))
        .collect()
}

/// Where consumers ask a producer to publish a range of its outbox again:
/// `<stream>.replay`.
pub fn replay_stream(stream: &str) -> String {
    format!("{stream}.replay")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_spread() {
        // Fixed values: a change would move regions between partitions on upgrade.
        assert_eq!(partition_of(""), 0x811c_9dc5 % PARTITIONS);
        assert_eq!(partition_of("341522"), partition_of("341522"));
        let used: std::collections::BTreeSet<u32> = (340_000..340_100)
            .map(|r| partition_of(&r.to_string()))
            .collect();
        assert_eq!(used.len() as u32, PARTITIONS);
        assert_eq!(
            partition_stream(SETTLEMENT_CLAIMS, 3),
            "yibao.settlement.claims.p3"
        );
    }
}
