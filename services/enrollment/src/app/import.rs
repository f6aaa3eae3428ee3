//! Bulk import: each validated row registers the person if new, enrols them if not enrolled,
//! and records the payment and subsidy with references derived from the row's key, so a
//! re-import of the same file changes nothing.

use super::{AppError, Enrollment};
use crate::domain::enrolment::ContributionKind;
use crate::domain::enrolment::ContributionStandard;
use crate::domain::import::{ImportRow, RowError};
use crate::domain::{EnrolmentError, PersonFile};
use crate::store::enrolments::Contribution;
use crate::store::import::ImportedPerson;
use crate::store::{NewPerson, StoreError, scheme_str};
use yibao_core::{Fen, RegionCode};
use yibao_runtime::Actor;

/// The format of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Rows that changed something.
    pub committed: u64,
    /// Rows already fully present.
    pub unchanged: u64,
    /// Rows refused by the rules (e.g. over-payment).
    pub errors: Vec<RowError>,
}

impl Enrollment {
    /// Imports a file of people, enrolments and contributions within `region` (already
    /// checked against the caller): rows that do not parse and rows the rules refuse are
    /// reported by line; good rows are committed whatever the bad ones.
    pub async fn import_records(
        &self,
        region: &RegionCode,
        format: ImportFormat,
        content: &str,
        actor: &Actor,
    ) -> Result<ImportReport, AppError> {
        let (rows, errors) = match format {
            ImportFormat::Csv => crate::domain::import::parse_csv(content, region),
            ImportFormat::JsonLines => crate::domain::import::parse_json_lines(content, region),
        };
        let mut report = import_rows(self, rows, actor).await?;
        report.errors.splice(0..0, errors);
        report.errors.sort_by_key(|e| e.line);
        Ok(report)
    }
}

/// Rows per bulk transaction.
const BATCH: usize = 2000;

/// Bulk transactions in flight at once: while they are written, the next batch is read and
/// prepared, so the database and the rules work at the same time.
const WRITERS: usize = 2;

/// A batch being written: its task and what to do once it is done.
struct Writing<'r> {
    task: tokio::task::JoinHandle<Result<(), StoreError>>,
    /// Rows written by the task, with their ID numbers.
    fresh: Vec<&'r ImportRow>,
    keys: Vec<String>,
    /// Rows of the batch that take the one-by-one path after the task.
    one_by_one: Vec<&'r ImportRow>,
}

/// Imports validated rows. People new to the register (the bulk of a first import) are
/// prepared by the rules in memory and written in one transaction of bulk statements per
/// batch, up to [`WRITERS`] batches at once while the next is prepared; rows about people
/// already registered, or whose ID number came earlier in this import, take the one-by-one path
/// (each row its own transactions: a bad row never undoes a good one) once their batch and
/// every batch before it are written.
pub async fn import_rows(
    app: &Enrollment,
    rows: Vec<ImportRow>,
    actor: &Actor,
) -> Result<ImportReport, AppError> {
    let store = app.store();
    let mut report = ImportReport::default();
    let mut standards = std::collections::HashMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut writing: std::collections::VecDeque<Writing<'_>> = std::collections::VecDeque::new();
    for batch in rows.chunks(BATCH) {
        let registered = store
            .registered_id_numbers(
                batch
                    .iter()
                    .map(|r| r.id_number.expose().to_string())
                    .collect(),
            )
            .await?;
        let (mut fresh, mut one_by_one) = (Vec::new(), Vec::new());
        for row in batch {
            let id = row.id_number.expose();
            if !registered.contains(id) && seen.insert(id.to_string()) {
                fresh.push(row)
            } else {
                one_by_one.push(row)
            }
        }
        let mut prepared = Vec::with_capacity(fresh.len());
        let mut written = Vec::with_capacity(fresh.len());
        let mut keys = Vec::with_capacity(fresh.len());
        for row in fresh {
            let key = (row.region.clone(), row.year, row.scheme);
            let std = match standards.get(&key) {
                Some(s) => *s,
                None => {
                    let s = store.standard(&row.region, row.year, row.scheme).await?;
                    standards.insert(key, s);
                    s
                }
            };
            match prepare(row, std) {
                Ok(p) => {
                    keys.push(p.person.id_number.expose().to_string());
                    prepared.push(p);
                    written.push(row);
                }
                Err(e) => report.errors.push(RowError {
                    line: row.line,
                    field: e.field().unwrap_or("row").into(),
                    reason: e.to_string(),
                }),
            }
        }
        if writing.len() == WRITERS
            && let Some(w) = writing.pop_front()
            && let Err(e) = finish(app, w, actor, &mut report).await
        {
            return Err(settle_then(writing, e).await);
        }
        let (store, actor) = (store.clone(), actor.clone());
        let task = tokio::spawn(async move { store.insert_imported(prepared, &actor).await });
        writing.push_back(Writing {
            task,
            fresh: written,
            keys,
            one_by_one,
        });
    }
    while let Some(w) = writing.pop_front() {
        if let Err(e) = finish(app, w, actor, &mut report).await {
            return Err(settle_then(writing, e).await);
        }
    }
    report.errors.sort_by_key(|e| e.line);
    Ok(report)
}

/// On a failure, lets the batches still being written finish (a re-import of the same file
/// completes what is missing) so that nothing is written after the answer.
async fn settle_then(writing: std::collections::VecDeque<Writing<'_>>, e: AppError) -> AppError {
    for w in writing {
        let _ = w.task.await;
    }
    e
}

/// Waits for a batch's bulk transaction, then takes its one-by-one rows (and, if someone
/// registered one of its people meanwhile, all its rows) the careful way.
async fn finish(
    app: &Enrollment,
    w: Writing<'_>,
    actor: &Actor,
    report: &mut ImportReport,
) -> Result<(), AppError> {
    let mut one_by_one = w.one_by_one;
    match w
        .task
        .await
        .map_err(|e| AppError::Internal(format!("import batch task: {e}")))?
    {
        Ok(()) => {
            report.committed += w.fresh.len() as u64;
            app.invalidate_ids(&w.keys.iter().map(String::as_str).collect::<Vec<_>>())
                .await;
        }
        Err(StoreError::Exists(_)) => one_by_one.extend(w.fresh),
        Err(e) => return Err(e.into()),
    }
    one_by_one.sort_by_key(|r| r.line);
    for row in one_by_one {
        match import_row(app, row, actor).await {
            Ok(true) => report.committed += 1,
            Ok(false) => report.unchanged += 1,
            // The database failing stops the import; anything else is this row's error.
            Err(AppError::Store(StoreError::Db(e))) => return Err(StoreError::Db(e).into()),
            Err(e) => report.errors.push(RowError {
                line: row.line,
                field: e.field().into(),
                reason: e.to_string(),
            }),
        }
    }
    Ok(())
}

/// The rules applied to a row about a person not yet registered: the enrolment, then the
/// payment and the subsidy, exactly as the one-by-one path would record them.
fn prepare(
    row: &ImportRow,
    standard: Option<ContributionStandard>,
) -> Result<ImportedPerson, EnrolmentError> {
    let std = standard.ok_or_else(|| no_standard(row))?;
    let person = NewPerson {
        id_number: row.id_number.clone(),
        name: row.name.clone(),
        region: row.region.clone(),
        household_id: None,
        contact: String::new(),
    };
    let file = PersonFile {
        person_id: String::new(),
        id_masked: row.id_number.masked(),
        name: row.name.clone(),
        sex: String::new(),
        birth_date: row.id_number.birth_date(),
        region: row.region.clone(),
        death_date: None,
        moved_out_of_province: None,
        enrolments: Vec::new(),
        categories: Vec::new(),
        suspensions: Vec::new(),
    };
    let (enrolled_on, paid_on) = import_dates(row.year);
    let mut enrolment = crate::domain::enrolment::enrol(
        &file,
        uuid::Uuid::now_v7().to_string(),
        row.year,
        row.scheme,
        row.region.clone(),
        enrolled_on,
        &std,
    )?;
    let mut contributions = Vec::new();
    for (kind, amount, tag) in contributions_of(row) {
        enrolment = crate::domain::enrolment::contribute(&enrolment, kind, amount, paid_on)?;
        contributions.push((
            Contribution {
                kind,
                amount,
                paid_on,
                reference: reference(row, tag),
            },
            enrolment.paid_on.is_some(),
        ));
    }
    Ok(ImportedPerson {
        person,
        enrolment,
        contributions,
    })
}

fn no_standard(row: &ImportRow) -> EnrolmentError {
    EnrolmentError::Precondition(format!(
        "no contribution standard for region {}, year {}",
        row.region, row.year
    ))
}

/// Imported enrolments are taken as made before the year (or today, if later), and paid then.
fn import_dates(year: i32) -> (chrono::NaiveDate, chrono::NaiveDate) {
    let day = chrono::NaiveDate::from_ymd_opt(year - 1, 12, 31)
        .unwrap_or_default()
        .min(chrono::Utc::now().date_naive());
    (day, day)
}

fn contributions_of(
    row: &ImportRow,
) -> impl Iterator<Item = (ContributionKind, Fen, &'static str)> {
    [
        (ContributionKind::Payment, row.contribution, "payment"),
        (ContributionKind::Subsidy, row.subsidy, "subsidy"),
    ]
    .into_iter()
    .filter(|(_, a, _)| a.0 != 0)
}

/// The contribution's reference, derived from the row's key so a re-import changes nothing.
fn reference(row: &ImportRow, tag: &str) -> String {
    format!(
        "import:{tag}:{}:{}:{}",
        row.year,
        scheme_str(row.scheme),
        row.region
    )
}

async fn import_row(app: &Enrollment, row: &ImportRow, actor: &Actor) -> Result<bool, AppError> {
    let store = app.store();
    let mut changed = false;
    let person = match store.person_by_id_number(&row.id_number).await? {
        Some(p) => {
            if p.name != row.name {
                return Err(EnrolmentError::invalid(
                    "name",
                    "differs from the registered name; correct the person first",
                )
                .into());
            }
            p
        }
        None => {
            changed = true;
            let new = NewPerson {
                id_number: row.id_number.clone(),
                name: row.name.clone(),
                region: row.region.clone(),
                household_id: None,
                contact: String::new(),
            };
            store.register_person(new, actor).await?
        }
    };
    let existing = store.enrolments(&person.id).await?.into_iter().find(|e| {
        e.year == row.year
            && e.scheme == row.scheme
            && e.region == row.region
            && e.end_reason.is_none()
    });
    let enrolment = match existing {
        Some(e) => e,
        None => {
            let std = store
                .standard(&row.region, row.year, row.scheme)
                .await?
                .ok_or_else(|| no_standard(row))?;
            let file = store.person_file(&person).await?;
            let e = crate::domain::enrolment::enrol(
                &file,
                uuid::Uuid::now_v7().to_string(),
                row.year,
                row.scheme,
                row.region.clone(),
                import_dates(row.year).0,
                &std,
            )?;
            store.insert_enrolment(&person.id, &e, actor).await?;
            changed = true;
            e
        }
    };
    let paid_on = import_dates(row.year).1;
    for (kind, amount, tag) in contributions_of(row) {
        let before = store.enrolment(&enrolment.id).await?.1;
        let c = Contribution {
            kind,
            amount,
            paid_on,
            reference: reference(row, tag),
        };
        let after = app.contribute(&enrolment.id, c, actor).await?;
        changed |= after.enrolment != before;
    }
    if changed {
        app.invalidate_id(&person.id_number).await;
    }
    Ok(changed)
}
