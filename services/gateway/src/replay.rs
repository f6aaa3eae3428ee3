//! What a retried write with a used `Idempotency-Key` is answered: the recorded first answer
//! with its `replayed` field (when the reply has one) set like the `idempotency-replayed`
//! header, or — for a write whose first answer a later call can overtake — the service's
//! answer now.

use crate::catalog::Route;
use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, Kind, Value};

/// Writes whose recorded answer a later call can overtake and whose service keeps its own
/// required key: a retry of one is forwarded, and the service answers from that key with the
/// record's state now. A settlement can be fully reversed after it was answered, and replaying
/// the recorded settlement would tell the hospital it was paid; settlement's encounter key
/// (institution + `encounter_no`, required) answers the current settlement or refuses with
/// `SETTLEMENT_CLAIM_REVERSED`. A long-term-care month can be reversed likewise; ltc's
/// `request_id` (required) answers the run as it is now (`reversed`).
const SERVICE_ANSWERS_REPLAYS: &[&str] = &[
    "/yibao.settlement.v1.SettlementService/Settle",
    "/yibao.ltc.v1.LtcService/SettleMonth",
];

/// True when a retry of the route goes to its service instead of being replayed.
pub fn service_answers_replays(route: &Route) -> bool {
    SERVICE_ANSWERS_REPLAYS.contains(&route.grpc_path.as_str())
}

/// The reply with its top-level boolean `replayed` field set, so the body says what the
/// `idempotency-replayed` header says; unchanged when the reply has no such field (or does
/// not decode, which a recorded reply of the same contract always does).
pub fn mark_replayed(route: &Route, reply: Bytes) -> Bytes {
    let output = route.method.output();
    let Some(field) = output
        .get_field_by_name("replayed")
        .filter(|f| matches!(f.kind(), Kind::Bool) && !f.is_list())
    else {
        return reply;
    };
    let Ok(mut msg) = DynamicMessage::decode(output, reply.clone()) else {
        return reply;
    };
    msg.set_field(&field, Value::Bool(true));
    Bytes::from(msg.encode_to_vec())
}

/// True when a reply says the service returned an earlier answer (its `replayed` field).
pub fn says_replayed(route: &Route, reply: &Bytes) -> bool {
    DynamicMessage::decode(route.method.output(), reply.clone())
        .ok()
        .and_then(|m| m.get_field_by_name("replayed").and_then(|v| v.as_bool()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn route(path: &str) -> Route {
        let c = Catalog::from_descriptor_set(yibao_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_else(|e| panic!("{e}"));
        c.by_path[path].clone()
    }

    #[test]
    fn a_recorded_reply_with_a_replayed_field_is_marked_and_others_are_left_alone() {
        let sheet = route("/yibao.ltc.v1.LtcService/SubmitScoreSheet");
        let mut first = DynamicMessage::new(sheet.method.output());
        first.set_field_by_name("replayed", Value::Bool(false));
        let first = Bytes::from(first.encode_to_vec());
        assert!(!says_replayed(&sheet, &first));
        let marked = mark_replayed(&sheet, first);
        assert!(says_replayed(&sheet, &marked));
        // A reply without the field comes back byte for byte.
        let person = route("/yibao.enrollment.v1.EnrollmentService/RegisterPerson");
        assert!(
            person
                .method
                .output()
                .get_field_by_name("replayed")
                .is_none()
        );
        let reply = Bytes::from_static(b"\x0a\x02\x0a\x00");
        assert_eq!(mark_replayed(&person, reply.clone()), reply);
    }

    #[test]
    fn only_settlements_are_answered_by_their_service_on_a_retry() {
        assert!(service_answers_replays(&route(
            "/yibao.settlement.v1.SettlementService/Settle"
        )));
        let month = route("/yibao.ltc.v1.LtcService/SettleMonth");
        assert!(service_answers_replays(&month));
        assert!(
            month
                .method
                .input()
                .get_field_by_name("request_id")
                .is_some(),
            "the service's key (request_id) travels in the request"
        );
        assert!(!service_answers_replays(&route(
            "/yibao.ltc.v1.LtcService/SubmitScoreSheet"
        )));
        let settle = route("/yibao.settlement.v1.SettlementService/Settle");
        assert!(
            settle.method.input().get_field_by_name("claim").is_some(),
            "the service's key (claim.encounter_no) travels in the request"
        );
    }
}
