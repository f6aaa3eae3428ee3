//! A claim as a designated institution submits it, its validation, and the item-level split
//! (national fields of 2206/2303):
//!
//! - `fulamt_ownpay_amt` 全自费: 丙类 (out-of-catalogue) items in full;
//! - `overlmt_selfpay` 超限价自费: `max(0, unit_price − payment_standard) × quantity`;
//! - `preselfpay_amt` 先行自付: 乙类 eligible amount × first self-pay share;
//! - `inscp_scp_amt` 政策范围内: what remains, the base of the fund layers.
//!
//! For cross-region care the item classes and payment standards are those of the place of
//! treatment — at run time procurement's catalogue answers them (`app/catalogue.rs`); as a value,
//! [`apply_catalogue`] with a region's [`Catalogue`] — while the rates and caps come from the
//! insured region's policy (DOMAIN §1.8.4, §7.9).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use yibao_core::{Bp, Fen, IdNumber, InstitutionCode, MoneyOverflow, RegionCode};

use super::{EncounterKind, FieldError, HospitalGrade, InstitutionTier, join_errors};

/// Item class (`chrgitm_lv`): 甲类 fully in scope, 乙类 with a first self-pay share, 丙类 out of
/// catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ItemClass {
    /// 甲类 (01).
    A,
    /// 乙类 (02).
    B,
    /// 丙类 (03), out of catalogue.
    C,
}

impl ItemClass {
    /// National `chrgitm_lv` code.
    pub fn code(self) -> &'static str {
        match self {
            ItemClass::A => "01",
            ItemClass::B => "02",
            ItemClass::C => "03",
        }
    }
}

/// A claim (one encounter's bill) after parsing at the edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// 定点医药机构编号; its region is the place of treatment (就医地).
    pub institution_code: InstitutionCode,
    /// The institution's encounter number; with the institution, the idempotency key.
    pub encounter_no: String,
    /// The insured person.
    pub id_number: IdNumber,
    /// Kind of encounter.
    pub kind: EncounterKind,
    /// 门诊慢特病 disease code (required for outpatient chronic).
    pub disease_code: Option<String>,
    /// Hospital grade (一/二/三级).
    pub grade: HospitalGrade,
    /// Administrative tier (县/市/省级).
    pub tier: InstitutionTier,
    /// Admission or visit date.
    pub start_date: NaiveDate,
    /// Discharge or settlement date; decides the insurance year.
    pub end_date: NaiveDate,
    /// Diagnoses, 医保版 ICD-10 (DOMAIN §7.6), main diagnosis first.
    pub diagnoses: Vec<String>,
    /// Billed items.
    pub items: Vec<ClaimItem>,
}

/// A billed item (费用明细).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimItem {
    /// National drug/service/consumable code (医保编码).
    pub national_code: String,
    /// Name as billed.
    #[serde(default)]
    pub name: String,
    /// 甲/乙/丙.
    pub class: ItemClass,
    /// Quantity in the smallest dispensing unit (whole units).
    pub quantity: i64,
    /// Price per unit.
    pub unit_price: Fen,
    /// Line amount; must equal `unit_price × quantity`.
    pub amount: Fen,
    /// 医保支付标准 per unit; a price above it is `overlmt_selfpay`.
    #[serde(default)]
    pub payment_standard: Option<Fen>,
    /// Item-specific 乙类 first self-pay share, overriding the policy's.
    #[serde(default)]
    pub preselfpay_share: Option<Bp>,
}

/// The split of one item, or the totals of a claim.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemSplit {
    /// 医疗费总额.
    pub medfee_sumamt: Fen,
    /// 全自费金额.
    pub fulamt_ownpay_amt: Fen,
    /// 超限价自费费用.
    pub overlmt_selfpay: Fen,
    /// 先行自付金额.
    pub preselfpay_amt: Fen,
    /// 符合政策范围金额.
    pub inscp_scp_amt: Fen,
}

impl ItemSplit {
    fn add(&mut self, o: &ItemSplit) -> Result<(), MoneyOverflow> {
        self.medfee_sumamt = self.medfee_sumamt.checked_add(o.medfee_sumamt)?;
        self.fulamt_ownpay_amt = self.fulamt_ownpay_amt.checked_add(o.fulamt_ownpay_amt)?;
        self.overlmt_selfpay = self.overlmt_selfpay.checked_add(o.overlmt_selfpay)?;
        self.preselfpay_amt = self.preselfpay_amt.checked_add(o.preselfpay_amt)?;
        self.inscp_scp_amt = self.inscp_scp_amt.checked_add(o.inscp_scp_amt)?;
        Ok(())
    }
}

/// Splits of every item and their totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimSplit {
    /// Per item, in claim order.
    pub items: Vec<ItemSplit>,
    /// Totals.
    pub totals: ItemSplit,
}

/// A claim was refused before settlement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Fields are invalid; each problem names its path.
    #[error("claim is invalid: {}", join_errors(.0))]
    Invalid(Vec<FieldError>),
    /// Amounts overflowed.
    #[error("claim amounts overflow")]
    Overflow,
}

impl From<MoneyOverflow> for ClaimError {
    fn from(_: MoneyOverflow) -> ClaimError {
        ClaimError::Overflow
    }
}

/// True when `code` matches the 医保版 ICD-10 pattern `^[A-Z]\d{2}\.[0-9x]{1,3}(x\d{3})?$`
/// (DOMAIN §7.6), e.g. `I10.x00x002`, `E14.900x001`, `K75.000`, `N19.x03`.
pub fn is_icd10_medical_insurance_code(code: &str) -> bool {
    let b = code.as_bytes();
    if b.len() < 5
        || !b[0].is_ascii_uppercase()
        || !b[1].is_ascii_digit()
        || !b[2].is_ascii_digit()
        || b[3] != b'.'
    {
        return false;
    }
    let rest = &b[4..];
    let core_ok =
        |s: &[u8]| (1..=3).contains(&s.len()) && s.iter().all(|c| c.is_ascii_digit() || *c == b'x');
    if core_ok(rest) {
        return true;
    }
    // Optional extension `x` + 3 digits after a 1–3 character core.
    if rest.len() >= 5 {
        let (core, ext) = rest.split_at(rest.len() - 4);
        return core_ok(core) && ext[0] == b'x' && ext[1..].iter().all(u8::is_ascii_digit);
    }
    false
}

/// Bounds on the money of one claim: the configured maximum claim amount
/// (`settlement.max_claim_fen`) bounds every amount of a claim — each line's amount, unit price
/// and payment standard, and the total of its lines — and `max_quantity`
/// (`settlement.max_item_quantity`) each line's quantity, so that no `unit_price × quantity`
/// and no sum a settlement makes can overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimLimits {
    /// The largest amount of a claim (its total, and so any one amount of it).
    pub max_claim: Fen,
    /// The largest quantity of one line.
    pub max_quantity: i64,
}

impl ClaimLimits {
    /// 100,000,000.00 yuan a claim, a million units a line.
    pub const DEFAULT: ClaimLimits = ClaimLimits {
        max_claim: Fen(10_000_000_000),
        max_quantity: 1_000_000,
    };

    /// Limits that are usable: both positive, and `max_claim × max_quantity` (the largest
    /// `unit_price × quantity` a line can ask for) within `i64` fen. `keys` name the two
    /// settings in the refusal.
    pub fn new(
        max_claim: Fen,
        max_quantity: i64,
        keys: (&str, &str),
    ) -> Result<ClaimLimits, FieldError> {
        if max_claim.0 <= 0 {
            return Err(FieldError::new(keys.0, "must be positive"));
        }
        if max_quantity <= 0 {
            return Err(FieldError::new(keys.1, "must be positive"));
        }
        if max_claim.checked_mul(max_quantity).is_err() {
            return Err(FieldError::new(
                keys.1,
                format!(
                    "{} × {max_quantity} overflows i64 fen; lower one of the two",
                    keys.0
                ),
            ));
        }
        Ok(ClaimLimits {
            max_claim,
            max_quantity,
        })
    }
}

impl Default for ClaimLimits {
    fn default() -> ClaimLimits {
        ClaimLimits::DEFAULT
    }
}

/// Checks a claim against `limits` as well as [`validate_claim`]'s rules: every amount at
/// most `limits.max_claim`, every quantity at most `limits.max_quantity`, the lines' total at
/// most `limits.max_claim`. Every problem names its field path (`items[3].amount`); the
/// total, which the claim does not carry, is named `items`.
pub fn validate_claim_within(claim: &Claim, limits: &ClaimLimits) -> Result<(), ClaimError> {
    let mut errors = claim_problems(claim);
    let max = limits.max_claim;
    let above = || {
        format!(
            "must not exceed {max} yuan ({} fen), the maximum claim amount",
            max.0
        )
    };
    for (i, it) in claim.items.iter().enumerate() {
        if it.quantity > limits.max_quantity {
            errors.push(FieldError::new(
                format!("items[{i}].quantity"),
                format!(
                    "must not exceed {}, the maximum quantity of a line",
                    limits.max_quantity
                ),
            ));
        }
        if it.unit_price > max {
            errors.push(FieldError::new(format!("items[{i}].unit_price"), above()));
        }
        if it.amount > max {
            errors.push(FieldError::new(format!("items[{i}].amount"), above()));
        }
        if it.payment_standard.is_some_and(|s| s > max) {
            errors.push(FieldError::new(
                format!("items[{i}].payment_standard"),
                above(),
            ));
        }
    }
    // Lines within the limit cannot overflow a sum of a few of them, but a claim may carry
    // many: the total is checked (an overflowing total is above any limit).
    let total = Fen::sum(claim.items.iter().map(|it| it.amount.max(Fen::ZERO)));
    if total.is_err() || total.is_ok_and(|t| t > max) {
        let shown = total.map_or_else(|_| "more than i64 fen".to_string(), |t| format!("{t} yuan"));
        errors.push(FieldError::new(
            "items",
            format!(
                "the lines' amounts add up to {shown}; a claim must not exceed {max} yuan ({} fen), the maximum claim amount",
                max.0
            ),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ClaimError::Invalid(errors))
    }
}

/// Checks a claim; every problem names its field path (`items[3].quantity`). The amounts'
/// bounds are [`validate_claim_within`]'s.
pub fn validate_claim(claim: &Claim) -> Result<(), ClaimError> {
    let errors = claim_problems(claim);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ClaimError::Invalid(errors))
    }
}

/// The problems of a claim under the rules of [`validate_claim`].
fn claim_problems(claim: &Claim) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |path: String, message: &str| errors.push(FieldError::new(path, message));
    let no = claim.encounter_no.trim();
    if no.is_empty() || no.len() > 64 {
        err("encounter_no".into(), "must be 1 to 64 characters");
    }
    if claim.end_date < claim.start_date {
        err("end_date".into(), "must not be before start_date");
    }
    match claim.kind {
        EncounterKind::OutpatientChronic => {
            if claim
                .disease_code
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
            {
                err(
                    "disease_code".into(),
                    "required for an outpatient chronic/special disease claim",
                );
            }
        }
        EncounterKind::Pharmacy => {
            if !claim.institution_code.is_pharmacy() {
                err(
                    "institution_code".into(),
                    "a pharmacy claim must come from a pharmacy (P…)",
                );
            }
        }
        EncounterKind::Inpatient | EncounterKind::Maternity => {
            if claim.institution_code.is_pharmacy() {
                err(
                    "institution_code".into(),
                    "a pharmacy cannot admit a patient",
                );
            }
        }
        EncounterKind::GeneralOutpatient => {}
    }
    if claim.diagnoses.is_empty() && claim.kind != EncounterKind::Pharmacy {
        err("diagnoses".into(), "at least one diagnosis is required");
    }
    for (i, d) in claim.diagnoses.iter().enumerate() {
        if !is_icd10_medical_insurance_code(d) {
            err(
                format!("diagnoses[{i}]"),
                "not a 医保版 ICD-10 code (e.g. I10.x00x002)",
            );
        }
    }
    if claim.items.is_empty() {
        err("items".into(), "at least one item is required");
    }
    for (i, it) in claim.items.iter().enumerate() {
        if it.national_code.trim().is_empty() {
            err(format!("items[{i}].national_code"), "must not be empty");
        }
        if it.quantity <= 0 {
            err(format!("items[{i}].quantity"), "must be positive");
        }
        if it.unit_price.is_negative() {
            err(format!("items[{i}].unit_price"), "must not be negative");
        }
        if it.amount.is_negative() {
            err(format!("items[{i}].amount"), "must not be negative");
        } else if it.quantity > 0 && !it.unit_price.is_negative() {
            match it.unit_price.checked_mul(it.quantity) {
                Ok(expected) if expected == it.amount => {}
                Ok(_) => err(
                    format!("items[{i}].amount"),
                    "must equal unit_price × quantity",
                ),
                Err(_) => err(
                    format!("items[{i}].amount"),
                    "unit_price × quantity overflows",
                ),
            }
        }
        if it.payment_standard.is_some_and(Fen::is_negative) {
            err(
                format!("items[{i}].payment_standard"),
                "must not be negative",
            );
        }
        if it.preselfpay_share.is_some_and(|s| s.0 > Bp::FULL.0) {
            err(
                format!("items[{i}].preselfpay_share"),
                "must not exceed 10000 bp (100%)",
            );
        }
    }
    errors
}

/// Splits one item. `default_share` is the policy's 乙类 first self-pay share.
pub fn split_item(item: &ClaimItem, default_share: Bp) -> Result<ItemSplit, MoneyOverflow> {
    let amount = item.amount;
    let mut s = ItemSplit {
        medfee_sumamt: amount,
        ..ItemSplit::default()
    };
    if item.class == ItemClass::C {
        s.fulamt_ownpay_amt = amount;
        return Ok(s);
    }
    let over = match item.payment_standard {
        Some(std) => item
            .unit_price
            .saturating_sub_floor0(std)
            .checked_mul(item.quantity)?
            .min(amount),
        None => Fen::ZERO,
    };
    s.overlmt_selfpay = over;
    let eligible = amount.checked_sub(over)?;
    if item.class == ItemClass::B {
        s.preselfpay_amt = eligible
            .at_rate(item.preselfpay_share.unwrap_or(default_share))
            .min(eligible);
    }
    s.inscp_scp_amt = eligible.checked_sub(s.preselfpay_amt)?;
    Ok(s)
}

/// Splits every item of a claim and totals them.
pub fn split_claim(items: &[ClaimItem], default_share: Bp) -> Result<ClaimSplit, MoneyOverflow> {
    let mut out = ClaimSplit {
        items: Vec::with_capacity(items.len()),
        totals: ItemSplit::default(),
    };
    for it in items {
        let s = split_item(it, default_share)?;
        out.totals.add(&s)?;
        out.items.push(s);
    }
    Ok(out)
}

/// One catalogue entry of a region (目录): class, payment standard, item share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    /// National code.
    pub national_code: String,
    /// 甲/乙/丙 in this region.
    pub class: ItemClass,
    /// 医保支付标准 per unit in this region.
    #[serde(default)]
    pub payment_standard: Option<Fen>,
    /// Item-specific first self-pay share.
    #[serde(default)]
    pub preselfpay_share: Option<Bp>,
}

/// A region's catalogue as a value (the engine's specification tests classify claims with it;
/// settlement itself takes each item's class from procurement's catalogue, decision 0009).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    /// The region whose catalogue this is.
    pub region: RegionCode,
    /// Entries by national code.
    pub entries: BTreeMap<String, CatalogueEntry>,
}

impl Catalogue {
    /// An empty catalogue for a region.
    pub fn new(region: RegionCode) -> Catalogue {
        Catalogue {
            region,
            entries: BTreeMap::new(),
        }
    }

    /// Adds or replaces an entry.
    pub fn upsert(&mut self, entry: CatalogueEntry) {
        self.entries.insert(entry.national_code.clone(), entry);
    }
}

/// Classifies a claim's items by the place-of-treatment catalogue: class, payment standard and
/// item share come from `catalogue`; a code the catalogue does not list is out of catalogue (丙).
pub fn apply_catalogue(claim: &Claim, catalogue: &Catalogue) -> Claim {
    let mut out = claim.clone();
    for it in &mut out.items {
        match catalogue.entries.get(&it.national_code) {
            Some(e) => {
                it.class = e.class;
                it.payment_standard = e.payment_standard;
                it.preselfpay_share = e.preselfpay_share;
            }
            None => {
                it.class = ItemClass::C;
                it.payment_standard = None;
                it.preselfpay_share = None;
            }
        }
    }
    out
}
