//! The medical-insurance catalogue (医保目录), of which procurement is the one owner (decision
//! 0009): drugs, consumables, reagents and service items by national code, in versions per
//! region and validity period, each with its class (甲/乙/丙), first self-pay share, payment
//! standard, negotiated flag and payment restrictions (限定支付); their code formats; the
//! import of a whole catalogue file (CSV, every bad row reported with its line, field and
//! reason — [`csv`]); the histories of versions ([`versions`]); and the resolution of a
//! claim's lines against it ([`resolve`]): a code in no entry in force on the date is 丙.
//!
//! Accepted code formats (checked without a regex engine):
//!
//! | kind | format | source |
//! | --- | --- | --- |
//! | western drug (西药) | `^X[A-Z0-9]{5}[A-Z]\d{3}[A-Z]\d{3}\d{4}\d{5}$`, 23 chars | DOMAIN §7.3 |
//! | Chinese patent medicine (中成药) | `^Z[A-Z0-9]{5}[A-Z]\d{4}\d{4}\d{5}$`, 20 chars | DOMAIN §7.3 |
//! | service item (医疗服务项目) | 15 digits | DOMAIN §7.4 |
//! | consumable (医用耗材) / reagent (检验试剂) | `^C\d{19}$` (20 chars) or `^C\d{26}$` (27 chars) | DOMAIN §9 item 10: unsettled, both lengths seen in public code |
//!
//! Reagents (体外诊断试剂) are classified within the consumables code (医保医用耗材分类与代码)
//! in the documents we have, so they share its format; the row's `kind` column says which one
//! an entry is. When the official consumable rule is confirmed, only [`CodeFormat::Consumable`]
//! changes.

mod code;
mod csv;
mod resolve;
mod restrictions;
mod versions;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use yibao_core::{Bp, Fen};

pub use code::{CodeError, CodeFormat, ItemCode};
pub use csv::{CATALOGUE_COLUMNS, CatalogueImport, RowError, RowOrigin, parse_catalogue_csv};
pub use resolve::{
    LineQuery, RegionVersion, ResolveContext, Resolved, StandardSource, resolve_line,
    select_version,
};
pub use restrictions::{MAX_AGE_YEARS, RestrictionKind, Restrictions, Violation};
pub use versions::{VersionChange, VersionConflict, apply_version};

/// What a catalogue entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// 西药: western drug, `X` code.
    WesternDrug,
    /// 中成药: Chinese patent medicine, `Z` code.
    ChinesePatentMedicine,
    /// 医用耗材: medical consumable.
    Consumable,
    /// 检验试剂: in-vitro diagnostic reagent.
    Reagent,
    /// 医疗服务项目: medical service item.
    ServiceItem,
}

impl ItemKind {
    /// Parses the `kind` column: `drug` (X or Z decided by the code), `western_drug`,
    /// `chinese_patent_medicine`, `consumable`, `reagent`, `service_item`; Chinese terms too.
    fn parse(s: &str, code: &str) -> Option<ItemKind> {
        match s.trim() {
            "drug" | "药品" => match code.as_bytes().first() {
                Some(b'Z') => Some(ItemKind::ChinesePatentMedicine),
                _ => Some(ItemKind::WesternDrug),
            },
            "western_drug" | "西药" => Some(ItemKind::WesternDrug),
            "chinese_patent_medicine" | "中成药" => Some(ItemKind::ChinesePatentMedicine),
            "consumable" | "耗材" | "医用耗材" => Some(ItemKind::Consumable),
            "reagent" | "试剂" | "检验试剂" => Some(ItemKind::Reagent),
            "service_item" | "service" | "医疗服务项目" => Some(ItemKind::ServiceItem),
            _ => None,
        }
    }

    /// The code format entries of this kind must follow.
    pub fn format(self) -> CodeFormat {
        match self {
            ItemKind::WesternDrug => CodeFormat::WesternDrug,
            ItemKind::ChinesePatentMedicine => CodeFormat::ChinesePatentMedicine,
            ItemKind::Consumable | ItemKind::Reagent => CodeFormat::Consumable,
            ItemKind::ServiceItem => CodeFormat::ServiceItem,
        }
    }

    /// True for drugs (X or Z).
    pub fn is_drug(self) -> bool {
        matches!(
            self,
            ItemKind::WesternDrug | ItemKind::ChinesePatentMedicine
        )
    }
}

/// Insurance class of an entry: 甲类 fully in scope, 乙类 with a first self-pay share, 丙类
/// out of the insurance catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum InsuranceClass {
    /// 甲类.
    A,
    /// 乙类.
    B,
    /// 丙类.
    C,
}

impl InsuranceClass {
    /// Parses the `class` column: 甲/乙/丙 (with or without 类), A/B/C, or the national
    /// dictionary's 01/02/03.
    pub fn parse(s: &str) -> Option<InsuranceClass> {
        match s.trim() {
            "甲" | "甲类" | "A" | "a" | "01" => Some(InsuranceClass::A),
            "乙" | "乙类" | "B" | "b" | "02" => Some(InsuranceClass::B),
            "丙" | "丙类" | "C" | "c" | "03" => Some(InsuranceClass::C),
            _ => None,
        }
    }
}

/// A catalogue entry (目录条目).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    /// National code, checked against the kind's format.
    pub code: ItemCode,
    /// Kind of entry.
    pub kind: ItemKind,
    /// 通用名 (generic name); for service items and consumables, the item name.
    pub generic_name: String,
    /// 剂型 (dosage form); empty for non-drugs.
    pub dosage_form: String,
    /// 规格 (specification), e.g. `20mg`, `24片/盒`.
    pub specification: String,
    /// 生产企业 (manufacturer); empty for service items.
    pub manufacturer: String,
    /// 甲/乙/丙.
    pub class: InsuranceClass,
    /// 国家谈判药品: a negotiated drug.
    pub negotiated: bool,
    /// First day the entry is valid.
    pub valid_from: NaiveDate,
    /// Last day the entry is valid (inclusive); `None` while open-ended.
    pub valid_to: Option<NaiveDate>,
    /// 乙类先行自付比例 of this entry; `None`: the insured region's policy default. Only 乙类
    /// entries have one.
    #[serde(default)]
    pub preselfpay_share: Option<Bp>,
    /// 医保支付标准 per unit listed with the entry; a payment standard set in procurement's
    /// history (`SetPaymentStandard`, derived from a round) in force on the date wins over it.
    #[serde(default)]
    pub payment_standard: Option<Fen>,
    /// 限定支付: who, where and how much the fund pays the entry for.
    #[serde(default)]
    pub restrictions: Restrictions,
}

impl CatalogueEntry {
    /// True when the entry is valid on `date`.
    pub fn is_valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && self.valid_to.is_none_or(|to| date <= to)
    }

    /// Checks the fields that do not depend on parsing: names present, dates ordered, a drug
    /// has a dosage form and a manufacturer, only drugs are negotiated, only 乙类 entries have a
    /// first self-pay share, a payment standard is positive, 丙类 entries carry no
    /// restrictions (the fund pays none of them anyway), and the restrictions are coherent.
    pub fn validate(&self) -> Result<(), Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let mut need = |field: &'static str, value: &str| {
            if value.trim().is_empty() {
                problems.push(FieldProblem {
                    field,
                    reason: "is required".into(),
                });
            }
        };
        need("generic_name", &self.generic_name);
        if self.kind.is_drug() {
            need("dosage_form", &self.dosage_form);
            need("specification", &self.specification);
        }
        if self.kind != ItemKind::ServiceItem {
            need("manufacturer", &self.manufacturer);
        }
        if self.negotiated && !self.kind.is_drug() {
            problems.push(FieldProblem {
                field: "negotiated",
                reason: "only drugs can be negotiated".into(),
            });
        }
        if let Some(to) = self.valid_to
            && to < self.valid_from
        {
            problems.push(FieldProblem {
                field: "valid_to",
                reason: format!("{to} is before valid_from {}", self.valid_from),
            });
        }
        if let Some(share) = self.preselfpay_share {
            if self.class != InsuranceClass::B {
                problems.push(FieldProblem {
                    field: "preselfpay_share_bp",
                    reason: "only 乙类 entries have a first self-pay share".into(),
                });
            } else if share.0 > 10_000 {
                problems.push(FieldProblem {
                    field: "preselfpay_share_bp",
                    reason: format!("{} is above 10000 bp", share.0),
                });
            }
        }
        if let Some(standard) = self.payment_standard
            && standard.0 <= 0
        {
            problems.push(FieldProblem {
                field: "payment_standard_fen",
                reason: "must be positive".into(),
            });
        }
        if self.class == InsuranceClass::C && !self.restrictions.is_empty() {
            problems.push(FieldProblem {
                field: self.restrictions.first_field(),
                reason:
                    "a 丙类 entry is paid by the patient in full and has no payment restrictions"
                        .into(),
            });
        }
        problems.extend(self.restrictions.problems());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// A problem with one field of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    /// Field (column) name.
    pub field: &'static str,
    /// Why it was refused.
    pub reason: String,
}

/// An in-memory catalogue keyed by code; the store keeps the durable copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    entries: BTreeMap<ItemCode, CatalogueEntry>,
}

impl Catalogue {
    /// An empty catalogue.
    pub fn new() -> Catalogue {
        Catalogue::default()
    }

    /// Inserts or replaces an entry after [`CatalogueEntry::validate`]. Returns the previous
    /// entry with that code, if any.
    pub fn upsert(
        &mut self,
        entry: CatalogueEntry,
    ) -> Result<Option<CatalogueEntry>, Vec<FieldProblem>> {
        entry.validate()?;
        Ok(self.entries.insert(entry.code.clone(), entry))
    }

    /// The entry with `code`.
    pub fn get(&self, code: &ItemCode) -> Option<&CatalogueEntry> {
        self.entries.get(code)
    }

    /// The entry with `code` valid on `date`.
    pub fn get_on(&self, code: &ItemCode, date: NaiveDate) -> Option<&CatalogueEntry> {
        self.get(code).filter(|e| e.is_valid_on(date))
    }

    /// Entries in code order.
    pub fn iter(&self) -> impl Iterator<Item = &CatalogueEntry> {
        self.entries.values()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
