//! Bulk import rows (CSV with a header, or JSON lines): parsed and validated here, each bad
//! row reported with its line, field and reason; the store commits the good ones.

use super::Scheme;
use serde::Deserialize;
use yibao_core::{Fen, IdNumber, RegionCode};

/// A validated row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// 1-based line (the CSV header is line 1).
    pub line: usize,
    /// ID number.
    pub id_number: IdNumber,
    /// Name.
    pub name: String,
    /// Region.
    pub region: RegionCode,
    /// Year.
    pub year: i32,
    /// Scheme.
    pub scheme: Scheme,
    /// Individual payment made.
    pub contribution: Fen,
    /// Subsidy granted.
    pub subsidy: Fen,
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line.
    pub line: usize,
    /// Field.
    pub field: String,
    /// Reason.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
struct RawRow {
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    region_code: String,
    #[serde(default)]
    year: serde_json::Value,
    #[serde(default)]
    scheme: String,
    #[serde(default)]
    contribution_fen: serde_json::Value,
    #[serde(default)]
    subsidy_fen: serde_json::Value,
}

fn int(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) if s.trim().is_empty() => Some(0),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Null => Some(0),
        _ => None,
    }
}

fn validate(line: usize, raw: RawRow, within: &RegionCode) -> Result<ImportRow, RowError> {
    let err = |field: &str, reason: String| RowError {
        line,
        field: field.into(),
        reason,
    };
    let id_number = IdNumber::parse(&raw.id_number).map_err(|e| err("id_number", e.to_string()))?;
    let name = raw.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(err("name", "must be 1 to 64 characters".into()));
    }
    let region =
        RegionCode::parse(&raw.region_code).map_err(|e| err("region_code", e.to_string()))?;
    if !within.covers(&region) {
        return Err(err(
            "region_code",
            format!("{region} is outside the import's region {within}"),
        ));
    }
    let year = int(&raw.year)
        .and_then(|y| i32::try_from(y).ok())
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| err("year", "must be a year between 2000 and 2100".into()))?;
    let scheme = Scheme::parse(&raw.scheme)
        .ok_or_else(|| err("scheme", "must be employee or resident".into()))?;
    let contribution = int(&raw.contribution_fen)
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            err(
                "contribution_fen",
                "must be a non-negative integer (fen)".into(),
            )
        })?;
    let subsidy = int(&raw.subsidy_fen)
        .filter(|n| *n >= 0)
        .ok_or_else(|| err("subsidy_fen", "must be a non-negative integer (fen)".into()))?;
    Ok(ImportRow {
        line,
        id_number,
        name,
        region,
        year,
        scheme,
        contribution: Fen(contribution),
        subsidy: Fen(subsidy),
    })
}

/// Parses CSV with a header row.
pub fn parse_csv(content: &str, within: &RegionCode) -> (Vec<ImportRow>, Vec<RowError>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(content.as_bytes());
    for (i, rec) in reader
        .deserialize::<std::collections::HashMap<String, String>>()
        .enumerate()
    {
        let line = i + 2;
        match rec {
            Ok(map) => {
                let get = |k: &str| map.get(k).cloned().unwrap_or_default();
                let raw = RawRow {
                    id_number: get("id_number"),
                    name: get("name"),
                    region_code: get("region_code"),
                    year: serde_json::Value::String(get("year")),
                    scheme: get("scheme"),
                    contribution_fen: serde_json::Value::String(get("contribution_fen")),
                    subsidy_fen: serde_json::Value::String(get("subsidy_fen")),
                };
                match validate(line, raw, within) {
                    Ok(r) => rows.push(r),
                    Err(e) => errors.push(e),
                }
            }
            Err(e) => errors.push(RowError {
                line,
                field: "row".into(),
                reason: e.to_string(),
            }),
        }
    }
    (rows, errors)
}

/// Parses JSON lines (one object per line; blank lines are skipped).
pub fn parse_json_lines(content: &str, within: &RegionCode) -> (Vec<ImportRow>, Vec<RowError>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, text) in content.lines().enumerate() {
        let line = i + 1;
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RawRow>(text) {
            Ok(raw) => match validate(line, raw, within) {
                Ok(r) => rows.push(r),
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(RowError {
                line,
                field: "row".into(),
                reason: format!("not a JSON object: {e}"),
            }),
        }
    }
    (rows, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anhui() -> RegionCode {
        RegionCode::parse("340000").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn good_rows_pass_and_bad_rows_name_line_and_field() {
        let csv = "id_number,name,region_code,year,scheme,contribution_fen,subsidy_fen\n\
                   11010519491231002X,张三,341522,2018,resident,0,18000\n\
                   110101199001011234,李四,341522,2018,resident,18000,0\n\
                   11010119900307803X,王五,630102,2018,resident,18000,0\n\
                   440524188001010014,赵六,341522,2018,farmer,18000,0\n";
        let (rows, errors) = parse_csv(csv, &anhui());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].subsidy, Fen(18_000));
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(got, [(3, "id_number"), (4, "region_code"), (5, "scheme")]);
    }

    #[test]
    fn json_lines_are_accepted_with_numbers_or_strings() {
        let jl = "{\"id_number\":\"11010519491231002X\",\"name\":\"张三\",\"region_code\":\"341522\",\"year\":2018,\"scheme\":\"resident\",\"subsidy_fen\":18000}\n\nnot json\n";
        let (rows, errors) = parse_json_lines(jl, &anhui());
        assert_eq!(rows.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 3);
    }
}
