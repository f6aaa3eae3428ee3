//! Insurance physicians (医保医师): imports (all or nothing; every physician's institution
//! must be in the registry), reads by code and by institution.

use super::{AppError, Enrollment};
use crate::domain::import::RowError;
use crate::domain::registry::physicians::{Physician, parse_physicians};
use crate::store::{Entity, StoreError};
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::page::Page;
use yibao_runtime::{Actor, Caller};

/// What a physician import did (or, with errors or a dry run, would have done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhysicianOutcome {
    /// True when written.
    pub stored: bool,
    /// Physicians added or changed.
    pub written: usize,
    /// Rows identical to what is registered.
    pub unchanged: usize,
    /// Bad rows; any means nothing was written.
    pub errors: Vec<RowError>,
}

impl Enrollment {
    /// Imports a physician file within `within` (the caller covers it).
    pub async fn import_physicians(
        &self,
        caller: &Caller,
        within: &RegionCode,
        csv: &str,
        dry_run: bool,
    ) -> Result<PhysicianOutcome, AppError> {
        let rows = match parse_physicians(csv, within) {
            Ok(rows) => rows,
            Err(errors) => {
                return Ok(PhysicianOutcome {
                    errors,
                    ..PhysicianOutcome::default()
                });
            }
        };
        let mut institutions: Vec<InstitutionCode> = rows
            .iter()
            .map(|r| r.physician.institution.clone())
            .collect();
        institutions.sort();
        institutions.dedup();
        let registered = self.store.institution_files(&institutions).await?;
        let codes: Vec<String> = rows.iter().map(|r| r.physician.code.clone()).collect();
        let stored = self.store.physicians_by_code(&codes).await?;
        let mut errors = Vec::new();
        for r in &rows {
            let p = &r.physician;
            if !registered.contains_key(&p.institution) {
                errors.push(RowError {
                    line: r.line,
                    field: "institution_code".into(),
                    reason: format!("{} is not in the institution registry", p.institution),
                });
            }
            if let Some(s) = stored.get(&p.code)
                && !within.covers(&s.institution.region())
            {
                errors.push(RowError {
                    line: r.line,
                    field: "physician_code".into(),
                    reason: format!(
                        "{} practises at {}, outside the file's region {within}",
                        p.code, s.institution
                    ),
                });
            }
        }
        if !errors.is_empty() {
            return Ok(PhysicianOutcome {
                errors,
                ..PhysicianOutcome::default()
            });
        }
        let changed: Vec<&Physician> = rows
            .iter()
            .map(|r| &r.physician)
            .filter(|p| stored.get(&p.code) != Some(*p))
            .collect();
        let mut out = PhysicianOutcome {
            stored: false,
            written: changed.len(),
            unchanged: rows.len() - changed.len(),
            errors: Vec::new(),
        };
        if dry_run {
            return Ok(out);
        }
        if !changed.is_empty() {
            self.store
                .write_physicians(&changed, &Actor::from(caller))
                .await?;
        }
        out.stored = true;
        Ok(out)
    }

    /// A physician the caller may read: operators and auditors of the institution's region,
    /// the institution itself.
    pub async fn get_physician(&self, caller: &Caller, code: &str) -> Result<Physician, AppError> {
        let p = self
            .store
            .physician(code)
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::Physician, code))?;
        self.get_institution(caller, &p.institution).await?;
        Ok(p)
    }

    /// The physicians of an institution the caller may read, a page at a time by code.
    pub async fn list_physicians(
        &self,
        caller: &Caller,
        institution: &InstitutionCode,
        page: &Page,
    ) -> Result<Vec<Physician>, AppError> {
        self.get_institution(caller, institution).await?;
        Ok(self
            .store
            .physicians_of(institution, page.after_key(0), page.fetch())
            .await?)
    }
}
