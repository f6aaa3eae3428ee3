//! Bulk import: each validated row registers the person if new, enrols them if not enrolled,
//! and records the payment and subsidy with references derived from the row's key, so a
//! re-import of the same file changes nothing.

use crate::api::EnrollmentApi;
use crate::domain::enrolment::ContributionKind;
use crate::domain::import::{ImportRow, RowError};
use crate::error::EnrollError;
use crate::store::{Actor, NewPerson, scheme_str};

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

/// Imports validated rows one by one (each row is its own set of transactions: a bad row
/// never undoes a good one).
pub async fn import_rows(api: &EnrollmentApi, rows: Vec<ImportRow>, actor: &Actor) -> Result<ImportReport, EnrollError> {
    let store = api.store();
    let mut report = ImportReport::default();
    for row in rows {
        match import_row(api, &row, actor).await {
            Ok(true) => report.committed += 1,
            Ok(false) => report.unchanged += 1,
            Err(EnrollError::Db(e)) => return Err(EnrollError::Db(e)),
            Err(e) => report.errors.push(RowError { line: row.line, field: field_of(&e), reason: e.to_string() }),
        }
    }
    let _ = store;
    Ok(report)
}

fn field_of(e: &EnrollError) -> String {
    match e {
        EnrollError::Domain(crate::domain::EnrolmentError::Invalid { field, .. }) => (*field).to_string(),
        _ => "row".into(),
    }
}

async fn import_row(api: &EnrollmentApi, row: &ImportRow, actor: &Actor) -> Result<bool, EnrollError> {
    let store = api.store();
    let mut changed = false;
    let person = match store.person_by_id_number(&row.id_number).await? {
        Some(p) => {
            if p.name != row.name {
                return Err(EnrollError::Domain(crate::domain::EnrolmentError::invalid("name", "differs from the registered name; correct the person first")));
            }
            p
        }
        None => {
            changed = true;
            let new = NewPerson { id_number: row.id_number.clone(), name: row.name.clone(), region: row.region.clone(), household_id: None, contact: String::new() };
            store.register_person(new, actor).await?
        }
    };
    let existing = store.enrolments(&person.id).await?.into_iter().find(|e| e.year == row.year && e.scheme == row.scheme && e.region == row.region && e.end_reason.is_none());
    let enrolment = match existing {
        Some(e) => e,
        None => {
            let std = store.standard(&row.region, row.year, row.scheme).await?.ok_or_else(|| {
                EnrollError::Domain(crate::domain::EnrolmentError::Precondition(format!("no contribution standard for region {}, year {}", row.region, row.year)))
            })?;
            let file = store.person_file(&person).await?;
            let before_year = chrono::NaiveDate::from_ymd_opt(row.year - 1, 12, 31).unwrap_or_default();
            let today = chrono::Utc::now().date_naive();
            let e = crate::domain::enrolment::enrol(&file, uuid::Uuid::now_v7().to_string(), row.year, row.scheme, row.region.clone(), today.min(before_year), &std)?;
            store.insert_enrolment(&person.id, &e, actor).await?;
            changed = true;
            e
        }
    };
    let paid_on = chrono::NaiveDate::from_ymd_opt(row.year - 1, 12, 31).unwrap_or_default().min(chrono::Utc::now().date_naive());
    for (kind, amount, tag) in [(ContributionKind::Payment, row.contribution, "payment"), (ContributionKind::Subsidy, row.subsidy, "subsidy")] {
        if amount.0 == 0 {
            continue;
        }
        let reference = format!("import:{tag}:{}:{}:{}", row.year, scheme_str(row.scheme), row.region);
        let before = store.enrolment(&enrolment.id).await?.1;
        let after = store.contribute(&enrolment.id, kind, amount, paid_on, &reference, actor).await?;
        changed |= after.enrolment != before;
    }
    if changed {
        api.invalidate_id(&person.id_number).await;
    }
    Ok(changed)
}
