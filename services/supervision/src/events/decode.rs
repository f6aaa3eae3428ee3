//! Bus events (`yibao.events.v1`, protobuf) to the domain's events, as they arrive and as they
//! were stored. A refusal names the field.

use crate::domain::{
    ClaimAction, ClaimEvent, ClaimItem, ClaimKind, EncounterAction, EncounterEvent,
    EncounterFeeLine, InventoryEvent, LtcEvent, PersonKey, SupervisionEvent,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use prost::Message;
use yibao_core::{Fen, InstitutionCode, RegionCode, Sex};
use yibao_proto::events::v1 as pb;

/// Which kind of event a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// `ClaimEvent`.
    Claims,
    /// `LtcEvent`.
    Ltc,
    /// `InventoryEvent`.
    Inventory,
    /// `EncounterEvent`.
    Encounters,
}

/// Why an event was refused: (field, reason).
pub type Refusal = (String, String);

fn bad(field: &str, reason: impl std::fmt::Display) -> Refusal {
    (field.to_string(), reason.to_string())
}

fn date(field: &str, s: &str) -> Result<NaiveDate, Refusal> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|e| bad(field, format!("`{s}` is not a YYYY-MM-DD date: {e}")))
}

fn opt_date(field: &str, s: &str) -> Result<Option<NaiveDate>, Refusal> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        date(field, s).map(Some)
    }
}

/// RFC 3339 (local time of the pool is kept as written) or `YYYY-MM-DDTHH:MM:SS`.
fn time(field: &str, s: &str) -> Result<NaiveDateTime, Refusal> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.naive_local());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .map_err(|e| bad(field, format!("`{s}` is not an RFC 3339 time: {e}")))
}

fn money(field: &str, fen: i64) -> Result<Fen, Refusal> {
    if fen < 0 {
        Err(bad(field, "must not be negative"))
    } else {
        Ok(Fen(fen))
    }
}

fn institution(field: &str, s: &str) -> Result<InstitutionCode, Refusal> {
    InstitutionCode::parse(s).map_err(|e| bad(field, e))
}

fn region(field: &str, s: &str) -> Result<RegionCode, Refusal> {
    RegionCode::parse(s).map_err(|e| bad(field, e))
}

fn person(s: &str) -> Result<PersonKey, Refusal> {
    PersonKey::parse(s).map_err(|e| {
        bad(
            "person_key",
            e.to_string().trim_start_matches("person_key: "),
        )
    })
}

fn non_empty(field: &str, s: &str) -> Result<String, Refusal> {
    let s = s.trim();
    if s.is_empty() {
        Err(bad(field, "must not be empty"))
    } else {
        Ok(s.to_string())
    }
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn claim_kind(n: i32) -> Result<ClaimKind, Refusal> {
    match pb::ClaimKind::try_from(n) {
        Ok(pb::ClaimKind::Inpatient) => Ok(ClaimKind::Inpatient),
        Ok(pb::ClaimKind::Outpatient) => Ok(ClaimKind::Outpatient),
        Ok(pb::ClaimKind::Chronic) => Ok(ClaimKind::Chronic),
        Ok(pb::ClaimKind::Pharmacy) => Ok(ClaimKind::Pharmacy),
        _ => Err(bad("kind", "must be a known CLAIM_KIND")),
    }
}

fn item(field: &str, it: pb::ClaimEventItem) -> Result<ClaimItem, Refusal> {
    Ok(ClaimItem {
        code: non_empty(&format!("{field}.code"), &it.code)?,
        quantity: it.quantity,
        unit_price: money(&format!("{field}.unit_price_fen"), it.unit_price_fen)?,
        amount: money(&format!("{field}.amount_fen"), it.amount_fen)?,
        days_supply: it.days_supply,
    })
}

/// An encounter's step of the bus as the domain sees it.
pub fn encounter(e: pb::EncounterEvent) -> Result<EncounterEvent, Refusal> {
    let action = match pb::EncounterAction::try_from(e.action) {
        Ok(pb::EncounterAction::Opened) => EncounterAction::Opened,
        Ok(pb::EncounterAction::FeesUploaded) => EncounterAction::FeesUploaded,
        Ok(pb::EncounterAction::FeesCancelled) => EncounterAction::FeesCancelled,
        Ok(pb::EncounterAction::Discharged) => EncounterAction::Discharged,
        Ok(pb::EncounterAction::Cancelled) => EncounterAction::Cancelled,
        _ => {
            return Err(bad(
                "action",
                "must be ENCOUNTER_ACTION_OPENED, FEES_UPLOADED, FEES_CANCELLED, DISCHARGED or CANCELLED",
            ));
        }
    };
    let end_date = opt_date("end_date", &e.end_date)?;
    if action == EncounterAction::Discharged && end_date.is_none() {
        return Err(bad("end_date", "a discharge carries its date"));
    }
    let lines = e
        .lines
        .into_iter()
        .enumerate()
        .map(|(k, l)| {
            let item_field = format!("lines[{k}].item");
            Ok(EncounterFeeLine {
                feedetl_sn: non_empty(&format!("lines[{k}].feedetl_sn"), &l.feedetl_sn)?,
                fee_date: date(&format!("lines[{k}].fee_date"), &l.fee_date)?,
                item: item(
                    &item_field,
                    l.item.ok_or_else(|| bad(&item_field, "is required"))?,
                )?,
            })
        })
        .collect::<Result<Vec<_>, Refusal>>()?;
    Ok(EncounterEvent {
        event_id: non_empty("event_id", &e.event_id)?,
        encounter_id: non_empty("encounter_id", &e.encounter_id)?,
        action,
        occurred_at: time("occurred_at", &e.occurred_at)?,
        person: person(&e.person_key)?,
        home_region: region("home_region", &e.home_region)?,
        institution: institution("institution_code", &e.institution_code)?,
        physician: opt(&e.physician),
        kind: claim_kind(e.kind)?,
        start_date: date("start_date", &e.start_date)?,
        end_date,
        principal_diagnosis: opt(&e.principal_diagnosis),
        lines,
    })
}

/// A claim event of the bus as the domain sees it.
pub fn claim(e: pb::ClaimEvent) -> Result<ClaimEvent, Refusal> {
    let action = match pb::ClaimAction::try_from(e.action) {
        Ok(pb::ClaimAction::Settled) => ClaimAction::Settled,
        Ok(pb::ClaimAction::Reversed) => ClaimAction::Reversed,
        _ => {
            return Err(bad(
                "action",
                "must be CLAIM_ACTION_SETTLED or CLAIM_ACTION_REVERSED",
            ));
        }
    };
    let kind = claim_kind(e.kind)?;
    let sex = match e.sex {
        1 => Sex::Male,
        2 => Sex::Female,
        other => {
            return Err(bad(
                "sex",
                format!("must be 1 (male) or 2 (female), got {other}"),
            ));
        }
    };
    let items = e
        .items
        .into_iter()
        .enumerate()
        .map(|(k, it)| {
            Ok(ClaimItem {
                code: non_empty(&format!("items[{k}].code"), &it.code)?,
                quantity: it.quantity,
                unit_price: money(&format!("items[{k}].unit_price_fen"), it.unit_price_fen)?,
                amount: money(&format!("items[{k}].amount_fen"), it.amount_fen)?,
                days_supply: it.days_supply,
            })
        })
        .collect::<Result<Vec<_>, Refusal>>()?;
    Ok(ClaimEvent {
        event_id: non_empty("event_id", &e.event_id)?,
        claim_id: non_empty("claim_id", &e.claim_id)?,
        action,
        settled_at: time("settled_at", &e.settled_at)?,
        person: person(&e.person_key)?,
        sex,
        birth_date: date("birth_date", &e.birth_date)?,
        home_region: region("home_region", &e.home_region)?,
        institution: institution("institution_code", &e.institution_code)?,
        physician: opt(&e.physician),
        kind,
        start_date: date("start_date", &e.start_date)?,
        end_date: date("end_date", &e.end_date)?,
        principal_diagnosis: opt(&e.principal_diagnosis),
        chronic_disease: opt(&e.chronic_disease),
        items,
        total: money("total_fen", e.total_fen)?,
        fund_paid: money("fund_paid_fen", e.fund_paid_fen)?,
        enrolment_end: opt_date("enrolment_end", &e.enrolment_end)?,
        death_date: opt_date("death_date", &e.death_date)?,
    })
}

/// A long-term-care event of the bus as the domain sees it. The domain's event is a billing:
/// a reversal (`LTC_ACTION_REVERSED`) is refused, naming the field, rather than judged as a
/// second billing of the line; events without an action predate the field and are settled.
pub fn ltc(e: pb::LtcEvent) -> Result<LtcEvent, Refusal> {
    match pb::LtcAction::try_from(e.action) {
        Ok(pb::LtcAction::Unspecified | pb::LtcAction::Settled) => {}
        Ok(pb::LtcAction::Reversed) => {
            return Err(bad(
                "action",
                "reversals of long-term-care lines are not supervised yet",
            ));
        }
        Err(_) => return Err(bad("action", format!("unknown LTC_ACTION {}", e.action))),
    }
    Ok(LtcEvent {
        event_id: non_empty("event_id", &e.event_id)?,
        claim_id: non_empty("claim_id", &e.claim_id)?,
        settled_at: time("settled_at", &e.settled_at)?,
        person: person(&e.person_key)?,
        home_region: region("home_region", &e.home_region)?,
        institution: institution("institution_code", &e.institution_code)?,
        period_start: date("period_start", &e.period_start)?,
        period_end: date("period_end", &e.period_end)?,
        amount: money("amount_fen", e.amount_fen)?,
        fund_paid: money("fund_paid_fen", e.fund_paid_fen)?,
        enrolment_end: opt_date("enrolment_end", &e.enrolment_end)?,
        death_date: opt_date("death_date", &e.death_date)?,
    })
}

/// An inventory event of the bus as the domain sees it.
pub fn inventory(e: pb::InventoryEvent) -> Result<InventoryEvent, Refusal> {
    Ok(InventoryEvent {
        event_id: non_empty("event_id", &e.event_id)?,
        record_no: non_empty("record_no", &e.record_no)?,
        recorded_at: time("recorded_at", &e.recorded_at)?,
        institution: institution("institution_code", &e.institution_code)?,
        item_code: non_empty("item_code", &e.item_code)?,
        quantity: e.quantity,
        purchase_unit_price: money("purchase_unit_price_fen", e.purchase_unit_price_fen)?,
        sale_unit_price: money("sale_unit_price_fen", e.sale_unit_price_fen)?,
    })
}

/// Decodes, converts and validates one bus payload. The event id of the message must match
/// the event's.
pub fn decode(
    kind: StreamKind,
    message_event_id: &str,
    payload: &[u8],
) -> Result<SupervisionEvent, Refusal> {
    let event = match kind {
        StreamKind::Claims => SupervisionEvent::Claim(claim(
            pb::ClaimEvent::decode(payload)
                .map_err(|e| bad("payload", format!("not a ClaimEvent: {e}")))?,
        )?),
        StreamKind::Ltc => SupervisionEvent::Ltc(ltc(pb::LtcEvent::decode(payload)
            .map_err(|e| bad("payload", format!("not an LtcEvent: {e}")))?)?),
        StreamKind::Inventory => SupervisionEvent::Inventory(inventory(
            pb::InventoryEvent::decode(payload)
                .map_err(|e| bad("payload", format!("not an InventoryEvent: {e}")))?,
        )?),
        StreamKind::Encounters => SupervisionEvent::Encounter(encounter(
            pb::EncounterEvent::decode(payload)
                .map_err(|e| bad("payload", format!("not an EncounterEvent: {e}")))?,
        )?),
    };
    if !message_event_id.is_empty() && message_event_id != event.event_id() {
        return Err(bad(
            "event_id",
            format!(
                "`{}` differs from the bus message's `{message_event_id}`",
                event.event_id()
            ),
        ));
    }
    event.validate().map_err(|e| {
        let text = e.to_string();
        match text.split_once(": ") {
            Some((field, reason)) => bad(field, reason),
            None => bad("event", text),
        }
    })?;
    Ok(event)
}

/// The institution whose region's rules judge an event.
pub fn institution_of(e: &SupervisionEvent) -> &InstitutionCode {
    match e {
        SupervisionEvent::Claim(c) => &c.institution,
        SupervisionEvent::Ltc(l) => &l.institution,
        SupervisionEvent::Inventory(i) => &i.institution,
        SupervisionEvent::Encounter(e) => &e.institution,
    }
}

/// `claim`, `ltc`, `inventory` or `encounter`.
pub fn kind_name(e: &SupervisionEvent) -> &'static str {
    match e {
        SupervisionEvent::Claim(_) => "claim",
        SupervisionEvent::Ltc(_) => "ltc",
        SupervisionEvent::Inventory(_) => "inventory",
        SupervisionEvent::Encounter(_) => "encounter",
    }
}

/// The bus form of a domain claim event (what settlement publishes): used by the benchmark,
/// tests and demo data.
pub fn claim_to_proto(e: &ClaimEvent) -> pb::ClaimEvent {
    pb::ClaimEvent {
        event_id: e.event_id.clone(),
        claim_id: e.claim_id.clone(),
        action: match e.action {
            ClaimAction::Settled => pb::ClaimAction::Settled as i32,
            ClaimAction::Reversed => pb::ClaimAction::Reversed as i32,
        },
        settled_at: e.settled_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        person_key: e.person.as_str().to_string(),
        sex: match e.sex {
            Sex::Male => 1,
            Sex::Female => 2,
        },
        birth_date: e.birth_date.to_string(),
        home_region: e.home_region.to_string(),
        institution_code: e.institution.to_string(),
        physician: e.physician.clone().unwrap_or_default(),
        kind: (match e.kind {
            ClaimKind::Inpatient => pb::ClaimKind::Inpatient,
            ClaimKind::Outpatient => pb::ClaimKind::Outpatient,
            ClaimKind::Chronic => pb::ClaimKind::Chronic,
            ClaimKind::Pharmacy => pb::ClaimKind::Pharmacy,
        }) as i32,
        start_date: e.start_date.to_string(),
        end_date: e.end_date.to_string(),
        principal_diagnosis: e.principal_diagnosis.clone().unwrap_or_default(),
        chronic_disease: e.chronic_disease.clone().unwrap_or_default(),
        items: e
            .items
            .iter()
            .map(|i| pb::ClaimEventItem {
                code: i.code.clone(),
                quantity: i.quantity,
                unit_price_fen: i.unit_price.0,
                amount_fen: i.amount.0,
                days_supply: i.days_supply,
            })
            .collect(),
        total_fen: e.total.0,
        fund_paid_fen: e.fund_paid.0,
        enrolment_end: e.enrolment_end.map(|d| d.to_string()).unwrap_or_default(),
        death_date: e.death_date.map(|d| d.to_string()).unwrap_or_default(),
    }
}

/// Base64 of stored bus payloads.
pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// An accepted event as stored (its kind and base64 bus payload) decoded again by the same
/// conversion.
pub fn decode_stored(kind: &str, payload: &str) -> Result<SupervisionEvent, super::EventsError> {
    use base64::Engine as _;
    let kind = match kind {
        "claim" => StreamKind::Claims,
        "ltc" => StreamKind::Ltc,
        "inventory" => StreamKind::Inventory,
        "encounter" => StreamKind::Encounters,
        other => return Err(super::EventsError::corrupt(format!("event kind `{other}`"))),
    };
    let bytes = B64.decode(payload).map_err(super::EventsError::corrupt)?;
    decode(kind, "", &bytes).map_err(|(field, reason)| {
        super::EventsError::corrupt(format!("stored event {field}: {reason}"))
    })
}

#[cfg(test)]
mod ltc_action_tests {
    use super::*;

    fn care(action: pb::LtcAction) -> pb::LtcEvent {
        pb::LtcEvent {
            event_id: "ltc-1".into(),
            claim_id: "L-1".into(),
            settled_at: "2026-11-02T09:00:00Z".into(),
            person_key: "p-7".into(),
            home_region: "370281".into(),
            institution_code: "H37028100001".into(),
            period_start: "2026-10-01".into(),
            period_end: "2026-10-28".into(),
            amount_fen: 420_000,
            fund_paid_fen: 345_000,
            action: action as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_settled_or_unmarked_ltc_line_is_a_billing_and_a_reversal_is_refused_naming_the_action() {
        assert!(ltc(care(pb::LtcAction::Settled)).is_ok());
        assert!(
            ltc(care(pb::LtcAction::Unspecified)).is_ok(),
            "events written before the field"
        );
        assert_eq!(
            ltc(care(pb::LtcAction::Reversed))
                .err()
                .map(|(field, _)| field)
                .as_deref(),
            Some("action")
        );
    }
}
