//! What the rules see: settled or reversed claim events, long-term-care events and inventory
//! (进销存) sale events. Events are checked once at the edge ([`SupervisionEvent::validate`]);
//! the detector trusts a validated event.
//!
//! A person appears only as a [`PersonKey`], an opaque hashed identifier issued by enrolment:
//! supervision never holds the clear ID number.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use std::fmt;
use yibao_core::{Fen, InstitutionCode, RegionCode, Sex};

/// An opaque, hashed person identifier. Refuses anything that looks like a clear resident ID
/// number (15 or 18 characters of digits, possibly ending in `X`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonKey(String);

impl PersonKey {
    /// Accepts a non-empty key of at most 128 characters that is not a clear ID number.
    pub fn parse(s: &str) -> Result<PersonKey, EventError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 128 {
            return Err(EventError::PersonKey("must be 1 to 128 characters"));
        }
        let id_like = matches!(s.len(), 15 | 18)
            && s.bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_digit() || (i + 1 == s.len() && matches!(b, b'X' | b'x')));
        if id_like {
            return Err(EventError::PersonKey(
                "looks like a clear ID number; pass the hashed person key",
            ));
        }
        Ok(PersonKey(s.to_string()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonKey {
    type Error = EventError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PersonKey::parse(&s)
    }
}

impl From<PersonKey> for String {
    fn from(k: PersonKey) -> String {
        k.0
    }
}

impl fmt::Display for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonKey({})", self.0)
    }
}

/// Why an event was refused at the edge. Each variant names the field concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The person key is empty, too long or a clear ID number.
    #[error("person_key: {0}")]
    PersonKey(&'static str),
    /// A required identifier is empty.
    #[error("{0}: must not be empty")]
    Empty(&'static str),
    /// The end date is before the start date.
    #[error("{0}: end date is before start date")]
    DateOrder(&'static str),
    /// A money amount is negative.
    #[error("{0}: must not be negative")]
    NegativeAmount(&'static str),
    /// The fund paid more than the total.
    #[error("fund_paid: exceeds the total")]
    FundAboveTotal,
    /// The birth date is after the service.
    #[error("birth_date: after the service date")]
    BirthAfterService,
}

/// Settled (结算) or reversed (结算撤销/冲正). A reversal carries the claim it reverses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimAction {
    /// The claim was settled.
    Settled,
    /// An earlier settlement of the same claim id was reversed.
    Reversed,
}

/// Kind of care of a claim (医疗类别, grouped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// 住院: inpatient stay (admission to discharge).
    Inpatient,
    /// 普通门诊: ordinary outpatient visit.
    Outpatient,
    /// 门诊慢特病: outpatient chronic or special disease.
    Chronic,
    /// 药店购药: retail pharmacy purchase.
    Pharmacy,
}

/// One billed line of a claim (费用明细).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimItem {
    /// Drug, consumable or service-item code (医保编码).
    pub code: String,
    /// Quantity in pricing units.
    pub quantity: u32,
    /// Price per unit.
    pub unit_price: Fen,
    /// Line amount (normally quantity × unit price).
    pub amount: Fen,
    /// Days of supply of a dispensed drug; 0 for services.
    pub days_supply: u32,
}

/// A settled or reversed claim as published by settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimEvent {
    /// Unique id of this event; observing it twice has no further effect.
    pub event_id: String,
    /// The claim (settlement) id; a reversal repeats the id of the claim it reverses.
    pub claim_id: String,
    /// Settled or reversed.
    pub action: ClaimAction,
    /// When settlement happened (local time of the pool); drives hour windows and months.
    pub settled_at: NaiveDateTime,
    /// Hashed person key.
    pub person: PersonKey,
    /// Sex of the person.
    pub sex: Sex,
    /// Birth date of the person.
    pub birth_date: NaiveDate,
    /// Region where the person is enrolled (参保地).
    pub home_region: RegionCode,
    /// Institution or pharmacy that billed.
    pub institution: InstitutionCode,
    /// Insurance physician (医保医师代码, `D` + 12 digits) who ordered the care, if known.
    pub physician: Option<String>,
    /// Kind of care.
    pub kind: ClaimKind,
    /// Admission date (inpatient) or service date.
    pub start_date: NaiveDate,
    /// Discharge date (inpatient) or the service date again.
    pub end_date: NaiveDate,
    /// Principal diagnosis, ICD-10 医保版 (e.g. `J18.900`).
    pub principal_diagnosis: Option<String>,
    /// Chronic or special disease code (门诊慢特病病种) of a chronic claim.
    pub chronic_disease: Option<String>,
    /// Billed lines.
    pub items: Vec<ClaimItem>,
    /// Total of the receipt (医疗费总额).
    pub total: Fen,
    /// Paid by the fund (统筹基金支付).
    pub fund_paid: Fen,
    /// Last day of enrolment, if the enrolment has ended.
    pub enrolment_end: Option<NaiveDate>,
    /// Date of death, if known.
    pub death_date: Option<NaiveDate>,
}

impl ClaimEvent {
    /// Nights of an inpatient stay (discharge − admission, at least 1), 1 for other kinds: the
    /// billable days of per-day items.
    pub fn billable_days(&self) -> u32 {
        match self.kind {
            ClaimKind::Inpatient => u32::try_from((self.end_date - self.start_date).num_days())
                .unwrap_or(0)
                .max(1),
            _ => 1,
        }
    }

    /// Age in whole years on the start date.
    pub fn age_at_service(&self) -> u32 {
        age_on(self.birth_date, self.start_date)
    }
}

/// A long-term-care (长期护理保险) billing event covering days of care in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LtcEvent {
    /// Unique id of this event.
    pub event_id: String,
    /// The LTC claim id.
    pub claim_id: String,
    /// When it was settled.
    pub settled_at: NaiveDateTime,
    /// Hashed person key.
    pub person: PersonKey,
    /// Region where the person is enrolled.
    pub home_region: RegionCode,
    /// Care institution.
    pub institution: InstitutionCode,
    /// First day of care billed.
    pub period_start: NaiveDate,
    /// Last day of care billed (inclusive).
    pub period_end: NaiveDate,
    /// Amount billed.
    pub amount: Fen,
    /// Paid by the LTC fund.
    pub fund_paid: Fen,
    /// Last day of enrolment, if ended.
    pub enrolment_end: Option<NaiveDate>,
    /// Date of death, if known.
    pub death_date: Option<NaiveDate>,
}

impl LtcEvent {
    /// Days of care billed (inclusive of both ends).
    pub fn care_days(&self) -> i64 {
        (self.period_end - self.period_start).num_days() + 1
    }
}

/// A sale record from an institution's purchase-sale-inventory (进销存) data: what it sold an
/// item for against what it paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryEvent {
    /// Unique id of this event.
    pub event_id: String,
    /// The institution's sale record number.
    pub record_no: String,
    /// When the sale was recorded.
    pub recorded_at: NaiveDateTime,
    /// Institution or pharmacy.
    pub institution: InstitutionCode,
    /// Item code.
    pub item_code: String,
    /// Quantity sold.
    pub quantity: u32,
    /// Purchase price per unit of the stock sold.
    pub purchase_unit_price: Fen,
    /// Sale price per unit.
    pub sale_unit_price: Fen,
}

/// What happened to an encounter during care (settlement's in-stay events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncounterAction {
    /// Registered or admitted.
    Opened,
    /// Fee lines were uploaded (the event carries them).
    FeesUploaded,
    /// Discharged.
    Discharged,
    /// Registration or admission cancelled.
    Cancelled,
    /// Fee lines were cancelled (the event carries them).
    FeesCancelled,
}

/// A fee line uploaded during an encounter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncounterFeeLine {
    /// The institution's line number (feedetl_sn).
    pub feedetl_sn: String,
    /// Date the fee arose.
    pub fee_date: NaiveDate,
    /// The billed line.
    pub item: ClaimItem,
}

/// An encounter's progress during care, before any settlement (stream
/// `yibao.settlement.encounters`): the in-stay rules judge it against the stays kept in the
/// store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncounterEvent {
    /// Unique id of this event.
    pub event_id: String,
    /// The encounter (mdtrt_id).
    pub encounter_id: String,
    /// What happened.
    pub action: EncounterAction,
    /// When (local time of the pool).
    pub occurred_at: NaiveDateTime,
    /// Hashed person key.
    pub person: PersonKey,
    /// Region where the person is enrolled.
    pub home_region: RegionCode,
    /// Institution of the encounter.
    pub institution: InstitutionCode,
    /// Attending insurance physician, if known.
    pub physician: Option<String>,
    /// Kind of care.
    pub kind: ClaimKind,
    /// Admission or visit date.
    pub start_date: NaiveDate,
    /// Discharge date, once discharged.
    pub end_date: Option<NaiveDate>,
    /// Principal diagnosis, if any yet.
    pub principal_diagnosis: Option<String>,
    /// The lines uploaded by this step (fees uploaded).
    pub lines: Vec<EncounterFeeLine>,
}

/// Any event the detector observes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SupervisionEvent {
    /// A settled or reversed claim.
    Claim(ClaimEvent),
    /// A long-term-care billing.
    Ltc(LtcEvent),
    /// An inventory sale record.
    Inventory(InventoryEvent),
    /// An encounter's progress during care (judged by the in-stay rules against the stays
    /// kept in the store, not by the detector's windows).
    Encounter(EncounterEvent),
}

impl SupervisionEvent {
    /// The event id (idempotency key).
    pub fn event_id(&self) -> &str {
        match self {
            SupervisionEvent::Claim(e) => &e.event_id,
            SupervisionEvent::Ltc(e) => &e.event_id,
            SupervisionEvent::Inventory(e) => &e.event_id,
            SupervisionEvent::Encounter(e) => &e.event_id,
        }
    }

    /// When the event happened.
    pub fn at(&self) -> NaiveDateTime {
        match self {
            SupervisionEvent::Claim(e) => e.settled_at,
            SupervisionEvent::Ltc(e) => e.settled_at,
            SupervisionEvent::Inventory(e) => e.recorded_at,
            SupervisionEvent::Encounter(e) => e.occurred_at,
        }
    }

    /// Checks the invariants the rules rely on: ids present, dates in order, amounts not
    /// negative, fund share not above the total.
    pub fn validate(&self) -> Result<(), EventError> {
        match self {
            SupervisionEvent::Claim(e) => {
                non_empty(&e.event_id, "event_id")?;
                non_empty(&e.claim_id, "claim_id")?;
                if e.end_date < e.start_date {
                    return Err(EventError::DateOrder("end_date"));
                }
                if e.birth_date > e.start_date {
                    return Err(EventError::BirthAfterService);
                }
                non_negative(e.total, "total")?;
                non_negative(e.fund_paid, "fund_paid")?;
                if e.fund_paid > e.total {
                    return Err(EventError::FundAboveTotal);
                }
                for item in &e.items {
                    non_empty(&item.code, "items.code")?;
                    non_negative(item.unit_price, "items.unit_price")?;
                    non_negative(item.amount, "items.amount")?;
                }
                Ok(())
            }
            SupervisionEvent::Ltc(e) => {
                non_empty(&e.event_id, "event_id")?;
                non_empty(&e.claim_id, "claim_id")?;
                if e.period_end < e.period_start {
                    return Err(EventError::DateOrder("period_end"));
                }
                non_negative(e.amount, "amount")?;
                non_negative(e.fund_paid, "fund_paid")?;
                if e.fund_paid > e.amount {
                    return Err(EventError::FundAboveTotal);
                }
                Ok(())
            }
            SupervisionEvent::Inventory(e) => {
                non_empty(&e.event_id, "event_id")?;
                non_empty(&e.item_code, "item_code")?;
                non_negative(e.purchase_unit_price, "purchase_unit_price")?;
                non_negative(e.sale_unit_price, "sale_unit_price")
            }
            SupervisionEvent::Encounter(e) => {
                non_empty(&e.event_id, "event_id")?;
                non_empty(&e.encounter_id, "encounter_id")?;
                if e.end_date.is_some_and(|end| end < e.start_date) {
                    return Err(EventError::DateOrder("end_date"));
                }
                for l in &e.lines {
                    non_empty(&l.feedetl_sn, "lines.feedetl_sn")?;
                    non_empty(&l.item.code, "lines.item.code")?;
                    non_negative(l.item.unit_price, "lines.item.unit_price")?;
                    non_negative(l.item.amount, "lines.item.amount")?;
                }
                Ok(())
            }
        }
    }
}

fn non_empty(s: &str, field: &'static str) -> Result<(), EventError> {
    if s.trim().is_empty() {
        Err(EventError::Empty(field))
    } else {
        Ok(())
    }
}

fn non_negative(f: Fen, field: &'static str) -> Result<(), EventError> {
    if f.is_negative() {
        Err(EventError::NegativeAmount(field))
    } else {
        Ok(())
    }
}

/// Age in whole years on `date` for a person born on `birth`.
pub fn age_on(birth: NaiveDate, date: NaiveDate) -> u32 {
    let mut age = date.year() - birth.year();
    if (date.month(), date.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    u32::try_from(age).unwrap_or(0)
}

/// The ICD-10 category of a diagnosis code: its first three characters, upper-cased
/// (`J18.900` → `J18`). `None` for codes shorter than three characters.
pub fn icd10_category(code: &str) -> Option<String> {
    let c: String = code
        .trim()
        .chars()
        .take(3)
        .collect::<String>()
        .to_ascii_uppercase();
    (c.len() == 3).then_some(c)
}
