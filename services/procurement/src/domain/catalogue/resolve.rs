//! Resolution of a claim line against the catalogue: the version in force on the date in the
//! most specific region of the place of treatment (county, then city, then province), its
//! class, first self-pay share, payment standard and negotiated flag, and the restrictions the
//! line violates. A code in no version in force on the date is 丙 (paid by the patient in full),
//! whatever the hospital declares.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use yibao_core::{Bp, Fen, Sex};

use super::restrictions::Facts;
use super::{CatalogueEntry, InsuranceClass, RestrictionKind, Violation};

/// A version of an entry with the region whose catalogue holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionVersion {
    /// Region of the catalogue (a province code stands for the whole province).
    pub region: String,
    /// The version.
    pub entry: CatalogueEntry,
}

/// The facts of a claim that restrictions are checked against; `None` where not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolveContext {
    /// The institution's grade (1 一级, 2 二级, 3 三级).
    pub institution_grade: Option<u8>,
    /// The person's sex.
    pub sex: Option<Sex>,
    /// The person's age in whole years on the date.
    pub age: Option<u32>,
    /// The claim's diagnoses (医保版 ICD-10).
    pub diagnoses: Vec<String>,
}

/// One line to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineQuery<'a> {
    /// The code as the claim carries it.
    pub code: &'a str,
    /// Days of supply of the line, when known.
    pub days_supply: Option<u32>,
}

/// Where a resolved payment standard comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StandardSource {
    /// Procurement's payment-standard history (`SetPaymentStandard`, a round's derivation).
    PaymentStandard,
    /// The catalogue version's own standard.
    Catalogue,
}

/// The answer for one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The version that applies; `None`: not in the catalogue on the date (丙).
    pub version: Option<RegionVersion>,
    /// 甲/乙/丙; 丙 when not in the catalogue.
    pub class: InsuranceClass,
    /// The entry's 乙类 first self-pay share (`None`: the policy's default).
    pub preselfpay_share: Option<Bp>,
    /// The payment standard per unit and where it comes from.
    pub payment_standard: Option<(Fen, StandardSource)>,
    /// 国家谈判药品.
    pub negotiated: bool,
    /// Restrictions the line violates.
    pub violations: Vec<Violation>,
    /// Restrictions not checked for want of a fact.
    pub unchecked: Vec<RestrictionKind>,
    /// The answer in words.
    pub explanation: String,
}

/// The version in force on `on` in the most specific region of `chain` (county first).
pub fn select_version<'a>(
    versions: &'a [RegionVersion],
    chain: &[String],
    on: NaiveDate,
) -> Option<&'a RegionVersion> {
    chain.iter().find_map(|region| {
        versions
            .iter()
            .find(|v| &v.region == region && v.entry.is_valid_on(on))
    })
}

fn class_word(c: InsuranceClass) -> &'static str {
    match c {
        InsuranceClass::A => "甲类",
        InsuranceClass::B => "乙类",
        InsuranceClass::C => "丙类",
    }
}

/// Resolves `line` on `on` at a place of treatment whose region chain is `chain`, from the
/// versions of its code (every region) and the payment standard of procurement's history in
/// force there on the date (`standard`), which wins over the version's own.
pub fn resolve_line(
    versions: &[RegionVersion],
    chain: &[String],
    on: NaiveDate,
    ctx: &ResolveContext,
    line: &LineQuery<'_>,
    standard: Option<Fen>,
) -> Resolved {
    let Some(v) = select_version(versions, chain, on) else {
        return Resolved {
            version: None,
            class: InsuranceClass::C,
            preselfpay_share: None,
            payment_standard: None,
            negotiated: false,
            violations: Vec::new(),
            unchecked: Vec::new(),
            explanation: format!(
                "`{}` is in no catalogue in force on {on} in {}: 丙类, paid by the patient in full",
                line.code,
                chain.join(", ")
            ),
        };
    };
    let e = &v.entry;
    let facts = Facts {
        sex: ctx.sex,
        age: ctx.age,
        institution_grade: ctx.institution_grade,
        diagnoses: &ctx.diagnoses,
        days_supply: line.days_supply,
    };
    let (violations, unchecked) = e.restrictions.check(&facts);
    let payment_standard = standard
        .map(|s| (s, StandardSource::PaymentStandard))
        .or(e.payment_standard.map(|s| (s, StandardSource::Catalogue)));
    let mut explanation = format!(
        "{} in the catalogue of {} from {}",
        class_word(e.class),
        v.region,
        e.valid_from
    );
    if e.negotiated {
        explanation.push_str(", negotiated (国谈)");
    }
    for violation in &violations {
        explanation.push_str("; ");
        explanation.push_str(&violation.reason);
    }
    Resolved {
        version: Some(v.clone()),
        class: e.class,
        preselfpay_share: e.preselfpay_share,
        payment_standard,
        negotiated: e.negotiated,
        violations,
        unchecked,
        explanation,
    }
}
