//! The versions of one code in one region's catalogue: at most one in force on any day. A
//! version is keyed by its first day; writing one either changes nothing (identical), replaces
//! the version of the same first day (a correction), or adds a new one — closing the open-ended
//! latest version the day before it starts. Any other overlap is refused.

use chrono::NaiveDate;

use super::CatalogueEntry;

/// What writing a version does to the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionChange {
    /// An identical version exists: nothing changes.
    Unchanged,
    /// A new version; `closed` is the open-ended version it ended the day before (as it was).
    Created {
        /// The version closed, before closing.
        closed: Option<CatalogueEntry>,
    },
    /// The version with the same first day was replaced (it is returned as it was).
    Replaced {
        /// The version replaced.
        before: CatalogueEntry,
    },
}

/// A version whose period overlaps another one's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{from}–{} overlaps the version valid {existing_from}–{}", fmt_to(*to), fmt_to(*existing_to))]
pub struct VersionConflict {
    /// First day of the version refused.
    pub from: NaiveDate,
    /// Its last day.
    pub to: Option<NaiveDate>,
    /// First day of the version it overlaps.
    pub existing_from: NaiveDate,
    /// Its last day.
    pub existing_to: Option<NaiveDate>,
}

fn fmt_to(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "open-ended".to_string(), |d| d.to_string())
}

fn overlaps(a: &CatalogueEntry, b: &CatalogueEntry) -> bool {
    let a_before_b = a.valid_to.is_some_and(|to| to < b.valid_from);
    let b_before_a = b.valid_to.is_some_and(|to| to < a.valid_from);
    !(a_before_b || b_before_a)
}

fn conflict(new: &CatalogueEntry, existing: &CatalogueEntry) -> VersionConflict {
    VersionConflict {
        from: new.valid_from,
        to: new.valid_to,
        existing_from: existing.valid_from,
        existing_to: existing.valid_to,
    }
}

/// Writes `entry` into `history` (the versions of one code in one region, sorted by first day,
/// none overlapping) and says what changed; on a conflict the history is left as it was.
/// `entry.valid_to` must not be before `entry.valid_from` ([`CatalogueEntry::validate`]).
pub fn apply_version(
    history: &mut Vec<CatalogueEntry>,
    entry: CatalogueEntry,
) -> Result<VersionChange, VersionConflict> {
    if let Some(i) = history
        .iter()
        .position(|v| v.valid_from == entry.valid_from)
    {
        if history[i] == entry {
            return Ok(VersionChange::Unchanged);
        }
        if let Some(other) = history
            .iter()
            .enumerate()
            .find(|(j, v)| *j != i && overlaps(v, &entry))
            .map(|(_, v)| v)
        {
            return Err(conflict(&entry, other));
        }
        let before = std::mem::replace(&mut history[i], entry);
        return Ok(VersionChange::Replaced { before });
    }
    let at = history.partition_point(|v| v.valid_from < entry.valid_from);
    if let Some(next) = history.get(at)
        && overlaps(next, &entry)
    {
        return Err(conflict(&entry, next));
    }
    let mut closed = None;
    if let Some(i) = at.checked_sub(1) {
        let prev = &history[i];
        if prev.valid_to.is_none() && at == history.len() {
            let day_before = entry.valid_from.pred_opt();
            closed = Some(prev.clone());
            history[i].valid_to = day_before;
        } else if overlaps(prev, &entry) {
            return Err(conflict(&entry, prev));
        }
    }
    history.insert(at, entry);
    Ok(VersionChange::Created { closed })
}
