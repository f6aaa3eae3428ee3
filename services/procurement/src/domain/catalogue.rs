//! The procurement catalogue (医保目录 entries as procurement sees them): drugs, consumables,
//! reagents and service items, their code formats, and the import of a whole catalogue file
//! (CSV) where good rows pass and every bad row is reported with its line, field and reason.
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

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

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

/// A code format of the national coding standards (DOMAIN §7.3, §7.4, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeFormat {
    /// `^X[A-Z0-9]{5}[A-Z]\d{3}[A-Z]\d{3}\d{4}\d{5}$`.
    WesternDrug,
    /// `^Z[A-Z0-9]{5}[A-Z]\d{4}\d{4}\d{5}$`.
    ChinesePatentMedicine,
    /// `^C\d{19}$` or `^C\d{26}$` (unsettled, DOMAIN §9 item 10).
    Consumable,
    /// `^\d{15}$`.
    ServiceItem,
}

/// One position class of a code pattern.
#[derive(Clone, Copy)]
enum Pos {
    Lit(u8),
    Upper,
    UpperOrDigit,
    Digit,
}

/// `^X[A-Z0-9]{5}[A-Z]\d{3}[A-Z]\d{3}\d{4}\d{5}$` as runs of position classes.
const X_PATTERN: &[(Pos, usize)] = &[
    (Pos::Lit(b'X'), 1),
    (Pos::UpperOrDigit, 5),
    (Pos::Upper, 1),
    (Pos::Digit, 3),
    (Pos::Upper, 1),
    (Pos::Digit, 12),
];
/// `^Z[A-Z0-9]{5}[A-Z]\d{4}\d{4}\d{5}$` as runs of position classes.
const Z_PATTERN: &[(Pos, usize)] = &[
    (Pos::Lit(b'Z'), 1),
    (Pos::UpperOrDigit, 5),
    (Pos::Upper, 1),
    (Pos::Digit, 13),
];

/// Matches `code` against runs of position classes: the regex of DOMAIN §7.3 without a regex
/// engine.
fn matches_pattern(code: &[u8], runs: &[(Pos, usize)]) -> Result<(), CodeError> {
    let expected: usize = runs.iter().map(|(_, n)| n).sum();
    if code.len() != expected {
        return Err(CodeError::Length {
            expected: vec![expected],
            got: code.len(),
        });
    }
    let positions = runs
        .iter()
        .flat_map(|&(pos, n)| std::iter::repeat_n(pos, n));
    for (i, (c, pos)) in code.iter().zip(positions).enumerate() {
        let ok = match pos {
            Pos::Lit(l) => *c == l,
            Pos::Upper => c.is_ascii_uppercase(),
            Pos::UpperOrDigit => c.is_ascii_uppercase() || c.is_ascii_digit(),
            Pos::Digit => c.is_ascii_digit(),
        };
        if !ok {
            return Err(CodeError::Character { position: i + 1 });
        }
    }
    Ok(())
}

impl CodeFormat {
    /// Checks `code` (already trimmed) against this format.
    pub fn check(self, code: &str) -> Result<(), CodeError> {
        let b = code.as_bytes();
        match self {
            CodeFormat::WesternDrug => matches_pattern(b, X_PATTERN),
            CodeFormat::ChinesePatentMedicine => matches_pattern(b, Z_PATTERN),
            CodeFormat::ServiceItem => {
                if b.len() != 15 {
                    return Err(CodeError::Length {
                        expected: vec![15],
                        got: b.len(),
                    });
                }
                match b.iter().position(|c| !c.is_ascii_digit()) {
                    Some(i) => Err(CodeError::Character { position: i + 1 }),
                    None => Ok(()),
                }
            }
            CodeFormat::Consumable => {
                if b.len() != 20 && b.len() != 27 {
                    return Err(CodeError::Length {
                        expected: vec![20, 27],
                        got: b.len(),
                    });
                }
                if b[0] != b'C' {
                    return Err(CodeError::Character { position: 1 });
                }
                match b.iter().skip(1).position(|c| !c.is_ascii_digit()) {
                    Some(i) => Err(CodeError::Character { position: i + 2 }),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Why a code was refused. Positions are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Wrong number of characters.
    #[error("must be {} characters, got {got}", join_lengths(expected))]
    Length {
        /// Allowed lengths.
        expected: Vec<usize>,
        /// Actual length in bytes (a non-ASCII character counts more than once).
        got: usize,
    },
    /// A character outside the class allowed at this position.
    #[error("character at position {position} is not allowed there")]
    Character {
        /// 1-based position.
        position: usize,
    },
}

fn join_lengths(v: &[usize]) -> String {
    v.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A catalogue code that passed the check of its kind's format. Deserialising checks the
/// shape too ([`ItemCode::parse_any`]), so no unchecked code gets in through serde.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ItemCode(String);

impl TryFrom<String> for ItemCode {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ItemCode::parse_any(&s).map(|(_, c)| c)
    }
}

impl From<ItemCode> for String {
    fn from(c: ItemCode) -> String {
        c.0
    }
}

impl ItemCode {
    /// Parses `s` (surrounding whitespace ignored) as a code of `kind`.
    pub fn parse(kind: ItemKind, s: &str) -> Result<ItemCode, CodeError> {
        let s = s.trim();
        kind.format().check(s)?;
        Ok(ItemCode(s.to_string()))
    }

    /// Parses a code whose kind is recognisable from its shape: `X…` 23 chars, `Z…` 20 chars,
    /// 15 digits, `C…` 20 or 27 chars (consumable; a reagent needs [`ItemCode::parse`]).
    pub fn parse_any(s: &str) -> Result<(ItemKind, ItemCode), CodeError> {
        let s = s.trim();
        let kind = match (s.as_bytes().first(), s.len()) {
            (Some(b'X'), _) => ItemKind::WesternDrug,
            (Some(b'Z'), _) => ItemKind::ChinesePatentMedicine,
            (Some(b'C'), _) => ItemKind::Consumable,
            _ => ItemKind::ServiceItem,
        };
        Ok((kind, ItemCode::parse(kind, s)?))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// 企业码 of a drug code (last 5 characters), `None` for other kinds.
    pub fn drug_company_segment(&self) -> Option<&str> {
        match self.0.as_bytes().first() {
            Some(b'X') | Some(b'Z') => self.0.get(self.0.len().saturating_sub(5)..),
            _ => None,
        }
    }
}

impl fmt::Display for ItemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ItemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemCode({})", self.0)
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
    fn parse(s: &str) -> Option<InsuranceClass> {
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
}

impl CatalogueEntry {
    /// True when the entry is valid on `date`.
    pub fn is_valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && self.valid_to.is_none_or(|to| date <= to)
    }

    /// Checks the fields that do not depend on parsing: names present, dates ordered, a drug
    /// has a dosage form and a manufacturer, only drugs are negotiated.
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

/// A refused row of a catalogue file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// 1-based line in the file where the row starts (the header is line 1).
    pub line: usize,
    /// Column name, or `""` for a problem with the whole row.
    pub field: String,
    /// Why it was refused.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "line {}: {}", self.line, self.reason)
        } else {
            write!(f, "line {}, {}: {}", self.line, self.field, self.reason)
        }
    }
}

/// The result of importing a catalogue file: the good entries and the refused rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueImport {
    /// Entries that passed, in file order.
    pub entries: Vec<CatalogueEntry>,
    /// Refused rows (possibly several problems per row), in file order.
    pub errors: Vec<RowError>,
}

/// Columns of a catalogue file. The header row names them, in any order; `dosage_form`,
/// `manufacturer`, `negotiated` and `valid_to` may be absent.
pub const CATALOGUE_COLUMNS: [&str; 10] = [
    "code",
    "kind",
    "generic_name",
    "dosage_form",
    "specification",
    "manufacturer",
    "class",
    "negotiated",
    "valid_from",
    "valid_to",
];
const REQUIRED_COLUMNS: [&str; 6] = [
    "code",
    "kind",
    "generic_name",
    "specification",
    "class",
    "valid_from",
];

/// Splits CSV text (RFC 4180: comma separator, `"` quoting with `""` escapes, CRLF or LF) into
/// records with the line each starts on. An unterminated quote is reported for its record.
fn csv_records(text: &str) -> Vec<(usize, Result<Vec<String>, String>)> {
    let mut out = Vec::new();
    let mut line = 1usize;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut in_quotes = false;
        let mut quoted_field = false;
        while let Some(c) = chars.next() {
            if in_quotes {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => in_quotes = false,
                    '\n' => {
                        line += 1;
                        field.push('\n');
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                '"' if field.trim().is_empty() && !quoted_field => {
                    field.clear();
                    in_quotes = true;
                    quoted_field = true;
                }
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    quoted_field = false;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    line += 1;
                    break;
                }
                _ => field.push(c),
            }
        }
        if in_quotes {
            out.push((start, Err("unterminated quoted field".to_string())));
            break;
        }
        fields.push(field);
        // Blank lines are not records.
        if !(fields.len() == 1 && fields[0].trim().is_empty()) {
            out.push((start, Ok(fields)));
        }
    }
    out
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "" | "false" | "FALSE" | "0" | "N" | "n" | "否" => Some(false),
        "true" | "TRUE" | "1" | "Y" | "y" | "是" => Some(true),
        _ => None,
    }
}

/// Parses a whole catalogue file (CSV with a header row, columns [`CATALOGUE_COLUMNS`]).
/// Good rows become entries; each bad row yields one [`RowError`] per problem, with its line
/// and column. A duplicate code within the file refuses the later row. A header without a
/// required column refuses the file as a whole (one error on line 1).
pub fn parse_catalogue_csv(text: &str) -> CatalogueImport {
    let mut import = CatalogueImport::default();
    let mut records = csv_records(text).into_iter();
    let header = match records.next() {
        Some((_, Ok(h))) => h
            .into_iter()
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>(),
        Some((line, Err(reason))) => {
            import.errors.push(RowError {
                line,
                field: String::new(),
                reason,
            });
            return import;
        }
        None => {
            import.errors.push(RowError {
                line: 1,
                field: String::new(),
                reason: "the file is empty".into(),
            });
            return import;
        }
    };
    let index: BTreeMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    for col in REQUIRED_COLUMNS {
        if !index.contains_key(col) {
            import.errors.push(RowError {
                line: 1,
                field: col.into(),
                reason: "required column is missing".into(),
            });
        }
    }
    for h in &header {
        if !CATALOGUE_COLUMNS.contains(&h.as_str()) {
            import.errors.push(RowError {
                line: 1,
                field: h.clone(),
                reason: "unknown column".into(),
            });
        }
    }
    if !import.errors.is_empty() {
        return import;
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (line, record) in records {
        let fields = match record {
            Ok(f) => f,
            Err(reason) => {
                import.errors.push(RowError {
                    line,
                    field: String::new(),
                    reason,
                });
                continue;
            }
        };
        if fields.len() != header.len() {
            import.errors.push(RowError {
                line,
                field: String::new(),
                reason: format!(
                    "has {} fields, the header has {}",
                    fields.len(),
                    header.len()
                ),
            });
            continue;
        }
        match parse_row(&Row {
            index: &index,
            fields: &fields,
        }) {
            Ok(entry) => match seen.get(entry.code.as_str()) {
                Some(first) => import.errors.push(RowError {
                    line,
                    field: "code".into(),
                    reason: format!("duplicate of line {first}"),
                }),
                None => {
                    seen.insert(entry.code.as_str().to_string(), line);
                    import.entries.push(entry);
                }
            },
            Err(problems) => import.errors.extend(problems.into_iter().map(|p| RowError {
                line,
                field: p.field.into(),
                reason: p.reason,
            })),
        }
    }
    import
}

/// A record with its header index.
struct Row<'a> {
    index: &'a BTreeMap<&'a str, usize>,
    fields: &'a [String],
}

impl<'a> Row<'a> {
    /// The trimmed value of column `col`, empty when the column is absent.
    fn get(&self, col: &str) -> &'a str {
        self.index
            .get(col)
            .and_then(|&i| self.fields.get(i))
            .map_or("", |s| s.trim())
    }
}

/// Parses one row; collects every problem of the row.
fn parse_row(row: &Row<'_>) -> Result<CatalogueEntry, Vec<FieldProblem>> {
    let get = |col: &str| row.get(col);
    let mut problems = Vec::new();
    let raw_code = get("code");
    let kind = ItemKind::parse(get("kind"), raw_code);
    if kind.is_none() {
        problems.push(FieldProblem {
            field: "kind",
            reason: format!("unknown kind {:?}", get("kind")),
        });
    }
    let code = kind.and_then(|k| match ItemCode::parse(k, raw_code) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.push(FieldProblem {
                field: "code",
                reason: e.to_string(),
            });
            None
        }
    });
    let class = InsuranceClass::parse(get("class"));
    if class.is_none() {
        problems.push(FieldProblem {
            field: "class",
            reason: "must be 甲, 乙 or 丙 (A, B, C)".into(),
        });
    }
    let negotiated = parse_bool(get("negotiated"));
    if negotiated.is_none() {
        problems.push(FieldProblem {
            field: "negotiated",
            reason: "must be true or false".into(),
        });
    }
    let valid_from = parse_date(get("valid_from"));
    if valid_from.is_none() {
        problems.push(FieldProblem {
            field: "valid_from",
            reason: "must be a date YYYY-MM-DD".into(),
        });
    }
    let valid_to = match get("valid_to") {
        "" => Some(None),
        s => parse_date(s).map(Some),
    };
    if valid_to.is_none() {
        problems.push(FieldProblem {
            field: "valid_to",
            reason: "must be a date YYYY-MM-DD or empty".into(),
        });
    }
    match (code, kind, class, negotiated, valid_from, valid_to) {
        (
            Some(code),
            Some(kind),
            Some(class),
            Some(negotiated),
            Some(valid_from),
            Some(valid_to),
        ) => {
            let entry = CatalogueEntry {
                code,
                kind,
                generic_name: get("generic_name").to_string(),
                dosage_form: get("dosage_form").to_string(),
                specification: get("specification").to_string(),
                manufacturer: get("manufacturer").to_string(),
                class,
                negotiated,
                valid_from,
                valid_to,
            };
            entry.validate().map(|()| entry)
        }
        _ => Err(problems),
    }
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
