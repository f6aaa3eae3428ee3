//! The medical-insurance catalogue: versions written one by one or imported from a CSV file
//! (all or nothing), read by code with their history, listed, resolved for a claim's lines
//! (from the cache), and the trail of changes auditors read.
//!
//! Writes run in one transaction behind one lock (`catalogue`): the versions of the codes
//! written are read inside it, the new state of each history is planned in memory
//! ([`domain::apply_version`]: identical → nothing, same first day → replaced, later first day
//! → created, closing the open-ended latest version the day before; any other overlap
//! refused), then the final rows and one change per event are written. After the commit the
//! codes' cache entries are deleted ([`super::CatalogueCache::invalidate`]).

use super::{AppError, Procurement};
use crate::domain::{
    self, CatalogueEntry, CatalogueImport, ItemCode, ItemKind, LineQuery, ResolveContext, Resolved,
    RowError, VersionChange,
};
use crate::store::{Actor, ChangeKind, NewChange, StoredChange, StoredItem, now};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use yibao_core::{Fen, RegionCode};

/// A page of a region's catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueQuery {
    /// Only entries of this kind.
    pub kind: Option<ItemKind>,
    /// Only entries whose generic name contains this (empty: all).
    pub name_contains: String,
    /// Only entries valid on this day.
    pub on_date: Option<NaiveDate>,
    /// Versions after this (code, first day).
    pub after: (String, String),
    /// At most this many.
    pub limit: u64,
}

/// What an import did (or, with `dry_run` or a bad row, would have done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Every refused row of the file; when there is one, nothing is stored.
    pub errors: Vec<RowError>,
    /// Rows that create a version.
    pub created: usize,
    /// Rows that replace the version of the same first day.
    pub replaced: usize,
    /// Rows identical to the stored version.
    pub unchanged: usize,
    /// Open-ended versions ended the day before a new one.
    pub closed: usize,
    /// True when the file was written (no bad row, not a dry run).
    pub stored: bool,
    /// Id of the import, naming its changes in the trail (empty when nothing was stored).
    pub import_id: String,
}

/// What writing one version did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    /// The version as stored.
    pub stored: StoredItem,
    /// True when a new version was created.
    pub created: bool,
    /// The version it replaced or closed, as it was before.
    pub previous: Option<CatalogueEntry>,
}

/// One row to write: its region, version and line (0 for a single upsert).
struct Row {
    region: String,
    entry: CatalogueEntry,
    line: usize,
}

/// The planned outcome of a batch of rows.
#[derive(Default)]
struct Plan {
    /// Per row, in order: its change, or its refusal.
    changes: Vec<Result<VersionChange, domain::VersionConflict>>,
    /// The final versions of each touched (region, code), keyed by first day, with whether the
    /// version is stored already.
    finals: BTreeMap<(String, String), Vec<(CatalogueEntry, bool)>>,
    /// The stored versions before, to tell updates from inserts and unchanged ones.
    before: HashMap<(String, String, NaiveDate), CatalogueEntry>,
}

impl Procurement {
    /// Plans `rows` against the stored versions (read with `c`, inside the write transaction).
    async fn plan(
        &self,
        c: &impl sea_orm::ConnectionTrait,
        rows: &[Row],
    ) -> Result<Plan, AppError> {
        let codes: Vec<String> = rows
            .iter()
            .map(|r| r.entry.code.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut histories: BTreeMap<(String, String), Vec<CatalogueEntry>> = BTreeMap::new();
        let mut plan = Plan::default();
        for s in self.store.versions_of_codes(c, &codes).await? {
            plan.before.insert(
                (
                    s.region.clone(),
                    s.entry.code.to_string(),
                    s.entry.valid_from,
                ),
                s.entry.clone(),
            );
            histories
                .entry((s.region, s.entry.code.to_string()))
                .or_default()
                .push(s.entry);
        }
        let touched: BTreeSet<(String, String)> = rows
            .iter()
            .map(|r| (r.region.clone(), r.entry.code.to_string()))
            .collect();
        for r in rows {
            let history = histories
                .entry((r.region.clone(), r.entry.code.to_string()))
                .or_default();
            plan.changes
                .push(domain::apply_version(history, r.entry.clone()));
        }
        for key in touched {
            let versions = histories.remove(&key).unwrap_or_default();
            let finals = versions
                .into_iter()
                .map(|v| {
                    let stored =
                        plan.before
                            .contains_key(&(key.0.clone(), key.1.clone(), v.valid_from));
                    (v, stored)
                })
                .collect();
            plan.finals.insert(key, finals);
        }
        Ok(plan)
    }

    /// Writes the planned batch inside `t` and records one change per event; returns the
    /// codes written.
    async fn write_plan(
        &self,
        t: &crate::store::Txn,
        rows: &[Row],
        plan: &Plan,
        source: &str,
        actor: &Actor,
        at: &str,
    ) -> Result<Vec<String>, AppError> {
        let mut inserts: Vec<(&str, &CatalogueEntry)> = Vec::new();
        let mut codes = Vec::new();
        for ((region, code), versions) in &plan.finals {
            let mut wrote = false;
            for (v, stored) in versions {
                if !stored {
                    inserts.push((region.as_str(), v));
                    wrote = true;
                } else if plan
                    .before
                    .get(&(region.clone(), code.clone(), v.valid_from))
                    != Some(v)
                {
                    if !self.store.replace_version(t, region, v, actor, at).await? {
                        return Err(AppError::Corrupt(format!(
                            "catalogue version {region} {code} {} vanished",
                            v.valid_from
                        )));
                    }
                    wrote = true;
                }
            }
            if wrote {
                codes.push(code.clone());
            }
        }
        self.store.insert_versions(t, &inserts, actor, at).await?;
        let mut closed_after = Vec::new();
        for (row, change) in rows.iter().zip(&plan.changes) {
            if let Ok(VersionChange::Created { closed: Some(prev) }) = change {
                let mut after = prev.clone();
                after.valid_to = row.entry.valid_from.pred_opt();
                closed_after.push(after);
            }
        }
        let mut closed_iter = closed_after.iter();
        let mut changes = Vec::new();
        for (row, change) in rows.iter().zip(&plan.changes) {
            let region = row.region.as_str();
            match change {
                Ok(VersionChange::Created { closed }) => {
                    if let (Some(prev), Some(after)) = (closed, closed_iter.next()) {
                        changes.push(NewChange {
                            region,
                            kind: ChangeKind::Closed,
                            before: Some(prev),
                            after,
                        });
                    }
                    changes.push(NewChange {
                        region,
                        kind: ChangeKind::Created,
                        before: None,
                        after: &row.entry,
                    });
                }
                Ok(VersionChange::Replaced { before }) => changes.push(NewChange {
                    region,
                    kind: ChangeKind::Replaced,
                    before: Some(before),
                    after: &row.entry,
                }),
                Ok(VersionChange::Unchanged) | Err(_) => {}
            }
        }
        self.store
            .insert_changes(t, &changes, source, actor, at)
            .await?;
        Ok(codes)
    }

    /// Writes one version of a region's catalogue (errors name `item.valid_from_date` for a
    /// period that overlaps another version's); returns it as stored, whether it was created
    /// and the version it replaced or closed.
    pub async fn upsert_catalogue_item(
        &self,
        region: &str,
        entry: CatalogueEntry,
        actor: &Actor,
    ) -> Result<Upserted, AppError> {
        let rows = [Row {
            region: region.to_string(),
            entry,
            line: 0,
        }];
        let t = self.store.begin().await?;
        self.store.lock(&t, "catalogue").await?;
        let plan = self.plan(&*t, &rows).await?;
        let change = match plan.changes.first() {
            Some(Ok(c)) => c.clone(),
            Some(Err(conflict)) => {
                return Err(AppError::invalid_code(
                    crate::error::PERIOD_OVERLAP.code,
                    "item.valid_from_date",
                    conflict.to_string(),
                ));
            }
            None => return Err(AppError::Corrupt("no change planned".into())),
        };
        let codes = self
            .write_plan(&t, &rows, &plan, "UpsertCatalogueItem", actor, &now())
            .await?;
        t.commit().await?;
        self.catalogue.invalidate(&codes).await;
        let entry = &rows[0].entry;
        let stored = self
            .store
            .catalogue_history(region, entry.code.as_str())
            .await?
            .into_iter()
            .find(|s| s.entry.valid_from == entry.valid_from)
            .ok_or_else(|| AppError::Corrupt("catalogue version vanished after upsert".into()))?;
        let (created, previous) = match change {
            VersionChange::Unchanged => (false, None),
            VersionChange::Created { closed } => (true, closed),
            VersionChange::Replaced { before } => (false, Some(before)),
        };
        Ok(Upserted {
            stored,
            created,
            previous,
        })
    }

    /// Parses a catalogue file and, when no row is refused and not `dry_run`, writes all of
    /// it in one transaction; a file with any refused row writes nothing. Each row lies in
    /// `region` or, with a `region_code` column, in its own region, which `region` must cover.
    pub async fn import_catalogue(
        &self,
        region: &RegionCode,
        csv_text: &str,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<ImportReport, AppError> {
        let CatalogueImport {
            entries,
            origins,
            mut errors,
        } = domain::parse_catalogue_csv(csv_text);
        let mut rows = Vec::with_capacity(entries.len());
        for (entry, origin) in entries.into_iter().zip(origins) {
            let row_region = match &origin.region {
                None => region.to_string(),
                Some(r) => {
                    let covered = RegionCode::parse(r).is_ok_and(|r| region.covers(&r));
                    if !covered {
                        errors.push(RowError {
                            line: origin.line,
                            field: "region_code".into(),
                            reason: format!("{r} lies outside the region of the import ({region})"),
                        });
                        continue;
                    }
                    r.clone()
                }
            };
            rows.push(Row {
                region: row_region,
                entry,
                line: origin.line,
            });
        }
        if rows.is_empty() && errors.is_empty() {
            errors.push(RowError {
                line: 1,
                field: String::new(),
                reason: "the file has no rows".into(),
            });
        }
        let t = self.store.begin().await?;
        self.store.lock(&t, "catalogue").await?;
        let plan = self.plan(&*t, &rows).await?;
        let mut report = ImportReport::default();
        for (row, change) in rows.iter().zip(&plan.changes) {
            match change {
                Ok(VersionChange::Unchanged) => report.unchanged += 1,
                Ok(VersionChange::Created { closed }) => {
                    report.created += 1;
                    report.closed += usize::from(closed.is_some());
                }
                Ok(VersionChange::Replaced { .. }) => report.replaced += 1,
                Err(conflict) => errors.push(RowError {
                    line: row.line,
                    field: "valid_from".into(),
                    reason: conflict.to_string(),
                }),
            }
        }
        errors.sort_by_key(|e| e.line);
        report.errors = errors;
        if dry_run || !report.errors.is_empty() {
            // Dropped without commit: nothing of the file is written.
            drop(t);
            return Ok(report);
        }
        let import_id = crate::store::new_id();
        let codes = self
            .write_plan(
                &t,
                &rows,
                &plan,
                &format!("ImportCatalogue {import_id}"),
                actor,
                &now(),
            )
            .await?;
        t.commit().await?;
        self.catalogue.invalidate(&codes).await;
        report.stored = true;
        report.import_id = import_id;
        Ok(report)
    }

    /// The version of `code` in `region`'s own catalogue valid on `on` (without a date: the
    /// latest), and all its versions, oldest first.
    pub async fn catalogue_item(
        &self,
        region: &str,
        code: &ItemCode,
        on: Option<NaiveDate>,
    ) -> Result<(StoredItem, Vec<StoredItem>), AppError> {
        let not_found = || {
            AppError::not_found(
                crate::error::ITEM_NOT_FOUND.code,
                format!(
                    "catalogue entry `{code}` of region {region}{}",
                    on.map(|d| format!(" valid on {d}")).unwrap_or_default()
                ),
            )
        };
        let history = self.store.catalogue_history(region, code.as_str()).await?;
        let chosen = match on {
            Some(d) => history.iter().find(|s| s.entry.is_valid_on(d)),
            None => history.last(),
        }
        .cloned()
        .ok_or_else(not_found)?;
        Ok((chosen, history))
    }

    /// A page of a region's catalogue in (code, first day) order.
    pub async fn list_catalogue(
        &self,
        region: &str,
        q: &CatalogueQuery,
    ) -> Result<Vec<StoredItem>, AppError> {
        Ok(self
            .store
            .list_catalogue(
                region,
                q.kind,
                &q.name_contains,
                q.on_date,
                (&q.after.0, &q.after.1),
                q.limit,
            )
            .await?)
    }

    /// Changes of the versions that apply in `region` (its own, its sub-regions', those of
    /// the regions above it), newest first, before change `before`, optionally of one code.
    pub async fn catalogue_changes(
        &self,
        region: &RegionCode,
        code: Option<&ItemCode>,
        before: &str,
        limit: u64,
    ) -> Result<Vec<StoredChange>, AppError> {
        Ok(self
            .store
            .catalogue_changes(
                region.as_str(),
                region.prefix(),
                code.map(ItemCode::as_str),
                before,
                limit,
            )
            .await?)
    }

    /// Resolves claim lines at a place of treatment (`region`) on `on`: per line the version
    /// in force (county, then city, then province), its class (丙 when there is none, or when
    /// the code is not a national code), first self-pay share, payment standard (procurement's
    /// standard in force wins over the version's own), negotiated flag and the restrictions
    /// the line violates or that could not be checked. One cache read per code for the
    /// versions and one for the standards, all in flight at once.
    pub async fn resolve_catalogue(
        &self,
        region: &str,
        on: NaiveDate,
        ctx: &ResolveContext,
        lines: &[LineQuery<'_>],
    ) -> Result<Vec<Resolved>, AppError> {
        let national: Vec<String> = lines
            .iter()
            .filter(|l| ItemCode::parse_any(l.code).is_ok())
            .map(|l| l.code.trim().to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let (versions, standards) = if national.is_empty() {
            (HashMap::new(), Vec::new())
        } else {
            tokio::try_join!(
                self.catalogue.lookup(&self.store, &national),
                self.standards.lookup(&self.store, region, &national, on),
            )?
        };
        let standards: HashMap<&str, Fen> = national
            .iter()
            .zip(standards)
            .filter_map(|(code, s)| s.map(|s| (code.as_str(), Fen(s.amount_fen))))
            .collect();
        let chain = crate::store::region_chain(region);
        Ok(lines
            .iter()
            .map(|l| {
                let code = l.code.trim();
                let versions = versions.get(code).map_or(&[][..], Vec::as_slice);
                domain::resolve_line(versions, &chain, on, ctx, l, standards.get(code).copied())
            })
            .collect())
    }

    /// Refused naming `field` unless `code` is in the catalogue of `region`'s chain.
    pub(super) async fn require_catalogued(
        &self,
        region: &str,
        code: &ItemCode,
        field: &str,
    ) -> Result<(), AppError> {
        if self
            .store
            .catalogue_item_in_chain(region, code.as_str())
            .await?
            .is_none()
        {
            return Err(AppError::invalid_code(
                crate::error::ITEM_NOT_FOUND.code,
                field,
                format!("{code} is not in the catalogue of region {region}"),
            ));
        }
        Ok(())
    }
}
