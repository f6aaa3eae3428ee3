//! The registries' CSV files read alike: a header of known column names (any order, any case,
//! a UTF-8 BOM allowed), every problem reported with its line and column, blank rows skipped.

use crate::domain::import::RowError;
use std::collections::HashMap;

/// A refusal at `line` of `field`.
pub(super) fn row_error(line: usize, field: &str, reason: impl Into<String>) -> RowError {
    RowError {
        line,
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// One data row: its line and its fields by column name.
#[derive(Debug)]
pub(super) struct CsvRow<'h> {
    /// 1-based line in the file.
    pub line: usize,
    index: &'h HashMap<&'static str, usize>,
    record: &'h csv::StringRecord,
}

impl CsvRow<'_> {
    /// The field of `column`, "" when the file has no such column.
    pub fn get(&self, column: &str) -> &str {
        self.index
            .get(column)
            .and_then(|i| self.record.get(*i))
            .unwrap_or("")
    }
}

/// A file read: its header checked (the columns are `columns`, of which the first `required`
/// must be present), its non-blank rows of the header's width, and the problems of the rest.
#[derive(Debug)]
pub(super) struct CsvTable {
    index: HashMap<&'static str, usize>,
    records: Vec<(usize, csv::StringRecord)>,
    /// Rows that do not parse, rows of another width, rows beyond the most allowed.
    pub errors: Vec<RowError>,
}

impl CsvTable {
    /// Reads the file; header problems are on line 1, all at once, and end the reading.
    pub fn read(
        text: &str,
        columns: &'static [&'static str],
        required: usize,
        max_rows: usize,
    ) -> Result<CsvTable, Vec<RowError>> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(|c| c.to_ascii_lowercase()).collect(),
            Err(e) => {
                return Err(vec![row_error(
                    1,
                    "",
                    format!("the header row does not parse: {e}"),
                )]);
            }
        };
        let mut errors = Vec::new();
        let mut index: HashMap<&'static str, usize> = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            match columns.iter().find(|c| **c == name.as_str()) {
                Some(c) if index.insert(c, i).is_some() => {
                    errors.push(row_error(1, c, "the column appears twice"))
                }
                Some(_) => {}
                None => errors.push(row_error(
                    1,
                    name,
                    format!("unknown column; the columns are {}", columns.join(", ")),
                )),
            }
        }
        for c in &columns[..required] {
            if !index.contains_key(c) {
                errors.push(row_error(1, c, "required column missing from the header"));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut records = Vec::new();
        let mut seen = 0usize;
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line() as usize);
                    errors.push(row_error(line, "", format!("the row does not parse: {e}")));
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line() as usize);
            if record.iter().all(str::is_empty) {
                continue;
            }
            seen += 1;
            if seen > max_rows {
                errors.push(row_error(
                    line,
                    "",
                    format!("a file holds at most {max_rows} rows"),
                ));
                break;
            }
            if record.len() != header.len() {
                errors.push(row_error(
                    line,
                    "",
                    format!(
                        "the row has {} fields, the header {}",
                        record.len(),
                        header.len()
                    ),
                ));
                continue;
            }
            records.push((line, record));
        }
        Ok(CsvTable {
            index,
            records,
            errors,
        })
    }

    /// The rows, in file order.
    pub fn rows(&self) -> impl Iterator<Item = CsvRow<'_>> {
        self.records.iter().map(|(line, record)| CsvRow {
            line: *line,
            index: &self.index,
            record,
        })
    }
}
