//! The designated-institution registry: roster imports (all or nothing), reads, history and
//! status changes, and the institution cache settlement's look-ups go through. Institutions
//! change rarely and are asked about on every claim, so each institution's file is cached
//! (Redis, or in process) with the eligibility cache's mechanism (`app::eligibility`): keys
//! under an epoch kept in the database, every change deleting the keys of the institutions it
//! touched at once, a failed delete moving every replica to a new epoch.

use super::eligibility::{CacheKind, EpochCache};
use super::{AppError, Enrollment};
use crate::domain::import::RowError;
use crate::domain::registry::roster::{parse_roster, plan};
use crate::domain::registry::{
    InstitutionFile, InstitutionKind, InstitutionStatus, StatusChange, check_status_change,
};
use crate::store::cache_epochs::INSTITUTIONS;
use crate::store::registry::RegistryEntry;
use crate::store::{Entity, StoreError};
use chrono::NaiveDate;
use std::time::Duration;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::page::Page;
use yibao_runtime::{Actor, Caller};

/// The institution cache: one institution's file (or its absence) per code.
pub const INSTITUTION_CACHE: CacheKind = CacheKind {
    epoch_name: INSTITUTIONS,
    key_prefix: "yibao:inst:v1",
    label: b"|institution|",
};

/// How long an institution's file stays cached (every change deletes it at once).
pub const INSTITUTION_TTL: Duration = Duration::from_secs(3600);

/// What a roster import did (or, with errors or a dry run, would have done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterOutcome {
    /// True when written.
    pub stored: bool,
    /// Institutions new to the registry.
    pub created: usize,
    /// Versions added or corrected.
    pub versions: usize,
    /// Agreements added or changed.
    pub agreements: usize,
    /// Rows that change nothing.
    pub unchanged: usize,
    /// Bad rows; any means nothing was written.
    pub errors: Vec<RowError>,
}

/// A requested status change.
#[derive(Debug, Clone)]
pub struct StatusRequest {
    /// The institution.
    pub code: InstitutionCode,
    /// The new status.
    pub status: InstitutionStatus,
    /// Its first day.
    pub effective_on: NaiveDate,
    /// Why.
    pub reason: String,
}

impl Enrollment {
    /// The institution cache (its epoch, its watch).
    pub fn institution_cache(&self) -> &EpochCache {
        &self.institutions
    }

    /// An institution's file from the cache, or the database (then cached); `None` when the
    /// code is not registered (cached too: a registration deletes it).
    pub async fn institution_file(
        &self,
        code: &InstitutionCode,
    ) -> Result<Option<InstitutionFile>, AppError> {
        let (hit, key) = self
            .institutions
            .read::<Option<InstitutionFile>>(code.as_str())
            .await;
        if let Some(file) = hit {
            return Ok(file);
        }
        let file = self.store.institution_file(code).await?;
        if let Some(key) = key {
            self.institutions.fill(&key, &file, INSTITUTION_TTL).await;
        }
        Ok(file)
    }

    /// Imports a roster within `within` (the caller covers it): every row checked, and nothing
    /// written when any row is bad or `dry_run` is set. An institution already registered must
    /// lie within `within` too.
    pub async fn import_roster(
        &self,
        caller: &Caller,
        within: &RegionCode,
        csv: &str,
        dry_run: bool,
    ) -> Result<RosterOutcome, AppError> {
        let rows = match parse_roster(csv, within) {
            Ok(rows) => rows,
            Err(errors) => {
                return Ok(RosterOutcome {
                    errors,
                    ..RosterOutcome::default()
                });
            }
        };
        let mut codes: Vec<InstitutionCode> = rows.iter().map(|r| r.code.clone()).collect();
        codes.sort();
        codes.dedup();
        let existing = self.store.institution_files(&codes).await?;
        let errors: Vec<RowError> = rows
            .iter()
            .filter_map(|r| {
                let stored = existing.get(&r.code)?.region();
                (!within.covers(&stored)).then(|| RowError {
                    line: r.line,
                    field: "institution_code".into(),
                    reason: format!(
                        "{} is registered in region {stored}, outside the roster's region {within}",
                        r.code
                    ),
                })
            })
            .collect();
        if !errors.is_empty() {
            return Ok(RosterOutcome {
                errors,
                ..RosterOutcome::default()
            });
        }
        let plan = plan(&rows, &existing);
        let mut out = RosterOutcome {
            stored: false,
            created: plan.created.len(),
            versions: plan.versions.len(),
            agreements: plan.agreements.len(),
            unchanged: plan.unchanged_rows,
            errors: Vec::new(),
        };
        if dry_run {
            return Ok(out);
        }
        let touched = plan.touched();
        if !touched.is_empty() {
            self.store.write_roster(&plan, &Actor::from(caller)).await?;
            let ids: Vec<&str> = touched.iter().map(InstitutionCode::as_str).collect();
            self.institutions.invalidate_ids(&ids).await;
        }
        out.stored = true;
        Ok(out)
    }

    /// The file of an institution the caller may read: operators and auditors of its region,
    /// the institution itself.
    pub async fn get_institution(
        &self,
        caller: &Caller,
        code: &InstitutionCode,
    ) -> Result<InstitutionFile, AppError> {
        caller.check_org("institution_code", code.as_str())?;
        let file = self
            .store
            .institution_file(code)
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::Institution, code.as_str()))?;
        scope(caller, &file)?;
        Ok(file)
    }

    /// Institutions within a region prefix (the caller's region covers it), of one kind or
    /// all, a page at a time by code.
    pub async fn list_institutions(
        &self,
        prefix: &str,
        kind: Option<InstitutionKind>,
        page: &Page,
    ) -> Result<Vec<InstitutionFile>, AppError> {
        let codes = self
            .store
            .institution_codes(prefix, kind, page.after_key(0), page.fetch())
            .await?;
        let mut files = self.store.institution_files(&codes).await?;
        Ok(codes.iter().filter_map(|c| files.remove(c)).collect())
    }

    /// The registry's journal of an institution the caller may read.
    pub async fn institution_history(
        &self,
        caller: &Caller,
        code: &InstitutionCode,
    ) -> Result<Vec<RegistryEntry>, AppError> {
        self.get_institution(caller, code).await?;
        Ok(self.store.institution_history(code).await?)
    }

    /// Suspends, terminates or reinstates an institution of the caller's region.
    pub async fn change_institution_status(
        &self,
        caller: &Caller,
        r: StatusRequest,
    ) -> Result<InstitutionFile, AppError> {
        let file = self.get_institution(caller, &r.code).await?;
        check_status_change(&file, r.status, r.effective_on, &r.reason)?;
        let actor = Actor::from(caller);
        let change = StatusChange {
            status: r.status,
            effective_on: r.effective_on,
            reason: r.reason.trim().to_string(),
            actor: actor.subject.clone(),
            role: actor.role.clone(),
            at: crate::store::codec::now(),
        };
        self.store
            .record_status_change(&r.code, &change, file.status_changes.len(), &actor)
            .await?;
        self.institutions.invalidate(r.code.as_str()).await;
        self.get_institution(caller, &r.code).await
    }
}

/// Region-scoped callers reach only institutions of their region.
fn scope(caller: &Caller, file: &InstitutionFile) -> Result<(), AppError> {
    Ok(caller.check_region("institution_code", file.region().as_str())?)
}
