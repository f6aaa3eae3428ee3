//! The roster file of designated institutions (`docs/roster-format.md`): CSV, one row per
//! agreement (or one row without agreement columns for an institution without one), the
//! institution's attributes repeated on each of its rows. Parsing reports every problem of
//! every row with its line and column; planning compares the good file with what the registry
//! holds. Whether a file with a bad row stores anything is the use case's decision (nothing).

use super::csv_table::{CsvTable, row_error};
use super::{
    Agreement, Grade, InstitutionFile, InstitutionKind, InstitutionVersion, ServiceKind, Tier,
};
use crate::domain::import::RowError;
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};
use yibao_core::{InstitutionCode, RegionCode, Scheme};

/// Columns of a roster file, in the order `docs/roster-format.md` explains them. The header
/// names them in any order; the first six are required.
pub const ROSTER_COLUMNS: [&str; 13] = [
    "institution_code",
    "name",
    "kind",
    "grade",
    "tier",
    "effective_from",
    "region_code",
    "beds",
    "agreement_no",
    "agreement_from",
    "agreement_to",
    "schemes",
    "service_kinds",
];

const REQUIRED: usize = 6;

/// Largest number of rows in one file.
pub const MAX_ROWS: usize = 100_000;

/// A good row: an institution version and the agreement the row carries, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    /// 1-based line where the row starts (the header is line 1).
    pub line: usize,
    /// The institution.
    pub code: InstitutionCode,
    /// Its attributes from the row's `effective_from`.
    pub version: InstitutionVersion,
    /// The agreement of the row.
    pub agreement: Option<Agreement>,
}

/// What a good roster writes, against the registry's files of its institutions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterPlan {
    /// Institutions new to the registry.
    pub created: Vec<InstitutionCode>,
    /// Versions to write: new ones, and corrections of a stored version with the same first
    /// day (`true`).
    pub versions: Vec<(InstitutionCode, InstitutionVersion, bool)>,
    /// Agreements to write: new ones, and changes of a stored one with the same number
    /// (`true`).
    pub agreements: Vec<(InstitutionCode, Agreement, bool)>,
    /// Rows that change nothing.
    pub unchanged_rows: usize,
}

impl RosterPlan {
    /// The institutions the plan writes to (their cached files must go).
    pub fn touched(&self) -> Vec<InstitutionCode> {
        let mut codes: Vec<InstitutionCode> = self
            .versions
            .iter()
            .map(|(c, _, _)| c.clone())
            .chain(self.agreements.iter().map(|(c, _, _)| c.clone()))
            .collect();
        codes.sort();
        codes.dedup();
        codes
    }
}

fn list<T>(s: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String>
where
    T: Ord + Copy,
{
    let mut out = Vec::new();
    for part in s.split([';', '|']).map(str::trim).filter(|p| !p.is_empty()) {
        match parse(part) {
            Some(v) => out.push(v),
            None => return Err(format!("`{part}` is not one of the allowed values")),
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err("at least one value is required (separate several with `;`)".into());
    }
    Ok(out)
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// Parses a roster file. Every problem of every row is reported (line and column); the
/// header's problems are reported on line 1. `within` is the region the file belongs to.
pub fn parse_roster(text: &str, within: &RegionCode) -> Result<Vec<RosterRow>, Vec<RowError>> {
    let table = CsvTable::read(text, &ROSTER_COLUMNS, REQUIRED, MAX_ROWS)?;
    let mut errors = table.errors.clone();
    let mut rows = Vec::new();
    for row in table.rows() {
        match parse_row(row.line, &|c| row.get(c), within) {
            Ok(r) => rows.push(r),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(row_error(1, "", "the file has no rows"));
    }
    check_consistency(&rows, &mut errors);
    if errors.is_empty() {
        Ok(rows)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

/// One row, every column checked.
fn parse_row<'a>(
    line: usize,
    get: &impl Fn(&str) -> &'a str,
    within: &RegionCode,
) -> Result<RosterRow, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, reason: String| {
        errors.push(RowError {
            line,
            field: field.to_string(),
            reason,
        })
    };
    let code = InstitutionCode::parse(get("institution_code"))
        .map_err(|e| bad("institution_code", e.to_string()))
        .ok();
    let name = get("name").to_string();
    if name.is_empty() || name.chars().count() > 100 {
        bad("name", "must be 1 to 100 characters".into());
    }
    let kind = InstitutionKind::parse(get("kind"));
    if kind.is_none() {
        bad(
            "kind",
            format!(
                "`{}` is not hospital, pharmacy, clinic or care_institution",
                get("kind")
            ),
        );
    }
    let grade = Grade::parse(get("grade"));
    if grade.is_none() {
        bad(
            "grade",
            format!("`{}` is not 1, 2, 3 or ungraded", get("grade")),
        );
    }
    let tier = Tier::parse(get("tier"));
    if tier.is_none() {
        bad(
            "tier",
            format!(
                "`{}` is not township, county, city or province",
                get("tier")
            ),
        );
    }
    let effective_from = date(get("effective_from"));
    if effective_from.is_none() {
        bad("effective_from", "must be a date YYYY-MM-DD".into());
    }
    let region = match (get("region_code"), &code) {
        ("", Some(c)) => Some(c.region()),
        ("", None) => None,
        (r, _) => RegionCode::parse(r)
            .map_err(|e| bad("region_code", e.to_string()))
            .ok(),
    };
    if let Some(r) = &region
        && !within.covers(r)
    {
        let field = if get("region_code").is_empty() {
            "institution_code"
        } else {
            "region_code"
        };
        bad(
            field,
            format!("{r} is outside the roster's region {within}"),
        );
    }
    let beds = match get("beds") {
        "" => Some(0),
        b => b.parse::<i64>().ok().filter(|n| (0..=100_000).contains(n)),
    };
    if beds.is_none() {
        bad("beds", "must be a whole number from 0 to 100000".into());
    }
    if let (Some(c), Some(k)) = (&code, kind)
        && c.is_pharmacy() != (k == InstitutionKind::Pharmacy)
    {
        bad(
            "kind",
            "a pharmacy has a P… code and every P… code is a pharmacy".into(),
        );
    }
    let agreement = parse_agreement(get, kind, &mut bad);
    match (code, kind, grade, tier, effective_from, region, beds) {
        (
            Some(code),
            Some(kind),
            Some(grade),
            Some(tier),
            Some(effective_from),
            Some(region),
            Some(beds),
        ) if errors.is_empty() => Ok(RosterRow {
            line,
            code,
            version: InstitutionVersion {
                effective_from,
                name,
                kind,
                grade,
                tier,
                region,
                beds,
            },
            agreement: agreement.flatten(),
        }),
        _ => Err(errors),
    }
}

/// The agreement columns: all empty (no agreement), or a number with its period, schemes and
/// services. `None` when a column is bad (reported through `bad`).
fn parse_agreement<'a>(
    get: &impl Fn(&str) -> &'a str,
    kind: Option<InstitutionKind>,
    bad: &mut impl FnMut(&str, String),
) -> Option<Option<Agreement>> {
    let no = get("agreement_no");
    let others = ["agreement_from", "agreement_to", "schemes", "service_kinds"];
    if no.is_empty() {
        let given: Vec<&str> = others.into_iter().filter(|c| !get(c).is_empty()).collect();
        for c in &given {
            bad(c, "given without agreement_no".into());
        }
        return given.is_empty().then_some(None);
    }
    let mut ok = true;
    if no.chars().count() > 64 {
        bad("agreement_no", "must be at most 64 characters".into());
        ok = false;
    }
    let from = date(get("agreement_from"));
    if from.is_none() {
        bad("agreement_from", "must be a date YYYY-MM-DD".into());
    }
    let to = date(get("agreement_to"));
    if to.is_none() {
        bad("agreement_to", "must be a date YYYY-MM-DD".into());
    }
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        bad("agreement_to", format!("{t} is before agreement_from {f}"));
        ok = false;
    }
    let schemes = list(get("schemes"), Scheme::parse)
        .map_err(|e| bad("schemes", format!("{e}: employee, resident")))
        .ok();
    let services = list(get("service_kinds"), ServiceKind::parse)
        .map_err(|e| {
            bad(
                "service_kinds",
                format!("{e}: inpatient, outpatient, chronic, pharmacy, ltc"),
            )
        })
        .ok();
    if kind == Some(InstitutionKind::Pharmacy)
        && services
            .as_ref()
            .is_some_and(|s| s.iter().any(|k| *k != ServiceKind::Pharmacy))
    {
        bad(
            "service_kinds",
            "a pharmacy's agreement covers pharmacy purchases only".into(),
        );
        ok = false;
    }
    match (from, to, schemes, services) {
        (Some(valid_from), Some(valid_to), Some(schemes), Some(services)) if ok => {
            Some(Some(Agreement {
                agreement_no: no.to_string(),
                valid_from,
                valid_to,
                schemes,
                services,
            }))
        }
        _ => None,
    }
}

/// Rows of one institution with one first day agree on its attributes; an agreement number
/// appears once per institution.
fn check_consistency(rows: &[RosterRow], errors: &mut Vec<RowError>) {
    let mut versions: HashMap<(&InstitutionCode, NaiveDate), &RosterRow> = HashMap::new();
    let mut agreements: HashMap<(&InstitutionCode, &str), usize> = HashMap::new();
    for row in rows {
        let v = &row.version;
        match versions.get(&(&row.code, v.effective_from)) {
            Some(first) => {
                let f = &first.version;
                let differs = [
                    ("name", f.name != v.name),
                    ("kind", f.kind != v.kind),
                    ("grade", f.grade != v.grade),
                    ("tier", f.tier != v.tier),
                    ("region_code", f.region != v.region),
                    ("beds", f.beds != v.beds),
                ];
                for (field, d) in differs {
                    if d {
                        errors.push(RowError {
                            line: row.line,
                            field: field.into(),
                            reason: format!(
                                "differs from line {} for {} from {}",
                                first.line, row.code, v.effective_from
                            ),
                        });
                    }
                }
            }
            None => {
                versions.insert((&row.code, v.effective_from), row);
            }
        }
        if let Some(a) = &row.agreement
            && let Some(first) = agreements.insert((&row.code, a.agreement_no.as_str()), row.line)
        {
            errors.push(RowError {
                line: row.line,
                field: "agreement_no".into(),
                reason: format!(
                    "agreement {} of {} is on line {first} already",
                    a.agreement_no, row.code
                ),
            });
        }
    }
}

/// What `rows` (a good roster) write against `existing` (the registry's files of the
/// institutions it names).
pub fn plan(
    rows: &[RosterRow],
    existing: &HashMap<InstitutionCode, InstitutionFile>,
) -> RosterPlan {
    let mut out = RosterPlan::default();
    let mut new_versions: BTreeMap<(InstitutionCode, NaiveDate), bool> = BTreeMap::new();
    for row in rows {
        let file = existing.get(&row.code);
        if file.is_none() && !out.created.contains(&row.code) {
            out.created.push(row.code.clone());
        }
        let stored_version = file.and_then(|f| {
            f.versions
                .iter()
                .find(|v| v.effective_from == row.version.effective_from)
        });
        let version_changes = stored_version != Some(&row.version);
        if version_changes
            && new_versions
                .insert((row.code.clone(), row.version.effective_from), true)
                .is_none()
        {
            out.versions.push((
                row.code.clone(),
                row.version.clone(),
                stored_version.is_some(),
            ));
        }
        let agreement_changes = match &row.agreement {
            None => false,
            Some(a) => {
                let stored = file.and_then(|f| {
                    f.agreements
                        .iter()
                        .find(|s| s.agreement_no == a.agreement_no)
                });
                if stored != Some(a) {
                    out.agreements
                        .push((row.code.clone(), a.clone(), stored.is_some()));
                    true
                } else {
                    false
                }
            }
        };
        if !version_changes && !agreement_changes {
            out.unchanged_rows += 1;
        }
    }
    out
}
