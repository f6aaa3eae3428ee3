//! Parsing of a whole catalogue file (CSV, `docs/catalogue-format.md`): good rows become
//! entries, every bad row is reported with its line, column and reason. Whether a file with a
//! bad row stores anything is the use case's decision (it stores nothing).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use yibao_core::{Bp, Fen, RegionCode, Sex};

use super::{CatalogueEntry, FieldProblem, InsuranceClass, ItemCode, ItemKind, Restrictions};

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

/// Where a parsed entry comes from: its line and the region its `region_code` column names
/// (`None`: the region of the import).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowOrigin {
    /// 1-based line where the row starts.
    pub line: usize,
    /// The row's own region, when the file has a `region_code` column and the row fills it.
    pub region: Option<String>,
}

/// The result of parsing a catalogue file: the good entries (with their origins, at the same
/// index) and the refused rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueImport {
    /// Entries that passed, in file order.
    pub entries: Vec<CatalogueEntry>,
    /// The line and region of each entry of `entries`.
    pub origins: Vec<RowOrigin>,
    /// Refused rows (possibly several problems per row), in file order.
    pub errors: Vec<RowError>,
}

/// Columns of a catalogue file (explained in `docs/catalogue-format.md`). The header row
/// names them, in any order; only the required ones (`code`, `kind`, `generic_name`,
/// `specification`, `class`, `valid_from`) must be there.
pub const CATALOGUE_COLUMNS: [&str; 20] = [
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
    "region_code",
    "preselfpay_share_bp",
    "payment_standard_fen",
    "sex",
    "min_age",
    "max_age",
    "min_institution_grade",
    "indication",
    "indication_diagnoses",
    "max_days_supply",
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

/// An optional whole number: `Some(None)` when empty, `None` when not a number.
fn parse_opt_u32(s: &str) -> Option<Option<u32>> {
    match s.trim() {
        "" => Some(None),
        t if t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok().map(Some),
        _ => None,
    }
}

/// An optional positive amount in fen.
fn parse_opt_fen(s: &str) -> Option<Option<Fen>> {
    match s.trim() {
        "" => Some(None),
        t if t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok().map(|v| Some(Fen(v))),
        _ => None,
    }
}

/// The `sex` column: empty for any, `M`/`F`, `male`/`female`, `男`/`女`.
fn parse_sex(s: &str) -> Option<Option<Sex>> {
    match s.trim() {
        "" => Some(None),
        "M" | "m" | "male" | "MALE" | "男" => Some(Some(Sex::Male)),
        "F" | "f" | "female" | "FEMALE" | "女" => Some(Some(Sex::Female)),
        _ => None,
    }
}

/// The `min_institution_grade` column: empty for any, `1`/`2`/`3` or `一级`/`二级`/`三级`.
fn parse_grade(s: &str) -> Option<Option<u8>> {
    match s.trim() {
        "" => Some(None),
        "1" | "一级" | "一" => Some(Some(1)),
        "2" | "二级" | "二" => Some(Some(2)),
        "3" | "三级" | "三" => Some(Some(3)),
        _ => None,
    }
}

/// The `indication_diagnoses` column: prefixes separated by `;`, `；`, `、`, `|` or spaces.
fn parse_prefixes(s: &str) -> Vec<String> {
    s.split(|c: char| c == ';' || c == '；' || c == '、' || c == '|' || c.is_whitespace())
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses a whole catalogue file (CSV with a header row, columns [`CATALOGUE_COLUMNS`]).
/// Good rows become entries; each bad row yields one [`RowError`] per problem, with its line
/// and column. A duplicate code within the file refuses the later row. A header without a
/// required column refuses the file as a whole (one error on line 1).
pub fn parse_catalogue_csv(text: &str) -> CatalogueImport {
    let mut import = CatalogueImport::default();
    let mut records = csv_records(text).into_iter();
    let header = match read_header(records.next()) {
        Ok(header) => header,
        Err(error) => {
            import.errors.push(error);
            return import;
        }
    };
    let index: BTreeMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    import.errors = check_columns(&header, &index);
    if !import.errors.is_empty() {
        return import;
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (line, record) in records {
        import_record(&mut import, &mut seen, &header, &index, line, record);
    }
    import
}

/// The trimmed header row, or the error refusing the file when it has none.
fn read_header(
    first: Option<(usize, Result<Vec<String>, String>)>,
) -> Result<Vec<String>, RowError> {
    match first {
        Some((_, Ok(h))) => Ok(h
            .into_iter()
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>()),
        Some((line, Err(reason))) => Err(RowError {
            line,
            field: String::new(),
            reason,
        }),
        None => Err(RowError {
            line: 1,
            field: String::new(),
            reason: "the file is empty".into(),
        }),
    }
}

/// Errors on line 1 for each required column missing, then each unknown column.
fn check_columns(header: &[String], index: &BTreeMap<&str, usize>) -> Vec<RowError> {
    let mut errors = Vec::new();
    for col in REQUIRED_COLUMNS {
        if !index.contains_key(col) {
            errors.push(RowError {
                line: 1,
                field: col.into(),
                reason: "required column is missing".into(),
            });
        }
    }
    for h in header {
        if !CATALOGUE_COLUMNS.contains(&h.as_str()) {
            errors.push(RowError {
                line: 1,
                field: h.clone(),
                reason: "unknown column".into(),
            });
        }
    }
    errors
}

/// Imports one record starting on `line`: its entry, or its errors (a malformed record, a
/// wrong number of fields, the row's field problems, or a code already seen on an earlier
/// line, recorded in `seen`).
fn import_record(
    import: &mut CatalogueImport,
    seen: &mut BTreeMap<String, usize>,
    header: &[String],
    index: &BTreeMap<&str, usize>,
    line: usize,
    record: Result<Vec<String>, String>,
) {
    let fields = match record {
        Ok(f) => f,
        Err(reason) => {
            import.errors.push(RowError {
                line,
                field: String::new(),
                reason,
            });
            return;
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
        return;
    }
    match parse_row(&Row {
        index,
        fields: &fields,
    }) {
        Ok((entry, region)) => {
            let key = format!(
                "{}|{}|{}",
                region.as_deref().unwrap_or(""),
                entry.code,
                entry.valid_from
            );
            match seen.get(&key) {
                Some(first) => import.errors.push(RowError {
                    line,
                    field: "code".into(),
                    reason: format!("duplicate of line {first} (same code, region and valid_from)"),
                }),
                None => {
                    seen.insert(key, line);
                    import.entries.push(entry);
                    import.origins.push(RowOrigin { line, region });
                }
            }
        }
        Err(problems) => import.errors.extend(problems.into_iter().map(|p| RowError {
            line,
            field: p.field.into(),
            reason: p.reason,
        })),
    }
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

/// Parses one row into its entry and its own region; collects every problem of the row.
fn parse_row(row: &Row<'_>) -> Result<(CatalogueEntry, Option<String>), Vec<FieldProblem>> {
    let get = |col: &str| row.get(col);
    let mut problems = Vec::new();
    let mut refuse = |field: &'static str, reason: String| {
        problems.push(FieldProblem { field, reason });
    };
    let raw_code = get("code");
    let kind = ItemKind::parse(get("kind"), raw_code);
    if kind.is_none() {
        refuse("kind", format!("unknown kind {:?}", get("kind")));
    }
    let code = kind.and_then(|k| match ItemCode::parse(k, raw_code) {
        Ok(c) => Some(c),
        Err(e) => {
            refuse("code", e.to_string());
            None
        }
    });
    let class = InsuranceClass::parse(get("class"));
    if class.is_none() {
        refuse("class", "must be 甲, 乙 or 丙 (A, B, C)".into());
    }
    let negotiated = parse_bool(get("negotiated"));
    if negotiated.is_none() {
        refuse("negotiated", "must be true or false".into());
    }
    let valid_from = parse_date(get("valid_from"));
    if valid_from.is_none() {
        refuse("valid_from", "must be a date YYYY-MM-DD".into());
    }
    let valid_to = match get("valid_to") {
        "" => Some(None),
        s => parse_date(s).map(Some),
    };
    if valid_to.is_none() {
        refuse("valid_to", "must be a date YYYY-MM-DD or empty".into());
    }
    let region = match get("region_code") {
        "" => Some(None),
        s => match RegionCode::parse(s) {
            Ok(r) => Some(Some(r.to_string())),
            Err(e) => {
                refuse("region_code", e.to_string());
                None
            }
        },
    };
    let share = parse_opt_u32(get("preselfpay_share_bp"));
    if share.is_none() {
        refuse(
            "preselfpay_share_bp",
            "must be a whole number of basis points (1000 = 10%) or empty".into(),
        );
    }
    let standard = parse_opt_fen(get("payment_standard_fen"));
    if standard.is_none() {
        refuse(
            "payment_standard_fen",
            "must be a whole number of fen or empty".into(),
        );
    }
    let sex = parse_sex(get("sex"));
    if sex.is_none() {
        refuse("sex", "must be M or F (男, 女) or empty".into());
    }
    let mut age = |col: &'static str| {
        let v = parse_opt_u32(get(col));
        if v.is_none() {
            problems.push(FieldProblem {
                field: col,
                reason: "must be a whole number of years or empty".into(),
            });
        }
        v
    };
    let (min_age, max_age) = (age("min_age"), age("max_age"));
    let grade = parse_grade(get("min_institution_grade"));
    if grade.is_none() {
        problems.push(FieldProblem {
            field: "min_institution_grade",
            reason: "must be 1, 2 or 3 (一级, 二级, 三级) or empty".into(),
        });
    }
    let days = parse_opt_u32(get("max_days_supply"));
    if days.is_none() {
        problems.push(FieldProblem {
            field: "max_days_supply",
            reason: "must be a whole number of days or empty".into(),
        });
    }
    let (
        Some(code),
        Some(kind),
        Some(class),
        Some(negotiated),
        Some(valid_from),
        Some(valid_to),
        Some(region),
        Some(share),
        Some(standard),
        Some(sex),
        Some(min_age),
        Some(max_age),
        Some(grade),
        Some(days),
    ) = (
        code, kind, class, negotiated, valid_from, valid_to, region, share, standard, sex, min_age,
        max_age, grade, days,
    )
    else {
        return Err(problems);
    };
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
        preselfpay_share: share.map(Bp),
        payment_standard: standard,
        restrictions: Restrictions {
            sex,
            min_age,
            max_age,
            min_institution_grade: grade,
            indication: get("indication").to_string(),
            indication_diagnoses: parse_prefixes(get("indication_diagnoses")),
            max_days_supply: days,
        },
    };
    entry.validate().map(|()| (entry, region))
}
