//! Reconciling an imported roster (e.g. the civil-affairs list of vulnerable people) against
//! enrolment: for each row, enrolled or not and why, with totals per outcome.

use super::{AppError, Enrollment};
use crate::domain::roster::{RosterOutcome, reconcile};
use std::collections::HashMap;
use yibao_core::{IdNumber, RegionCode};

/// One reconciled row.
#[derive(Debug, Clone)]
pub struct RosterLine {
    /// Line in the file (the header is line 1).
    pub line: i32,
    /// Masked ID number (empty when invalid).
    pub id_number_masked: String,
    /// Outcome.
    pub outcome: RosterOutcome,
    /// Why, for people.
    pub detail: String,
}

impl Enrollment {
    /// Reconciles the ID numbers of a roster (`(line, raw ID number)`, in file order) against
    /// enrolment in `year` within `region` (already checked against the caller).
    pub async fn reconcile_roster(
        &self,
        region: &RegionCode,
        year: i32,
        rows: Vec<(i32, String)>,
    ) -> Result<(Vec<RosterLine>, HashMap<String, i64>), AppError> {
        let mut lines = Vec::with_capacity(rows.len());
        let mut totals = HashMap::<String, i64>::new();
        for (line, raw) in rows {
            let (outcome, masked, detail) = match IdNumber::parse(&raw) {
                Err(e) => (RosterOutcome::IdInvalid, String::new(), e.to_string()),
                Ok(id) => match self.store.person_by_id_number(&id).await? {
                    None => (
                        RosterOutcome::NotFound,
                        id.masked(),
                        "no person with this ID number".into(),
                    ),
                    Some(p) => {
                        let file = self.store.person_file(&p).await?;
                        let (o, d) = reconcile(&file, year, region);
                        (o, id.masked(), d)
                    }
                },
            };
            *totals.entry(outcome.name().to_string()).or_default() += 1;
            lines.push(RosterLine {
                line,
                id_number_masked: masked,
                outcome,
                detail,
            });
        }
        Ok((lines, totals))
    }
}
