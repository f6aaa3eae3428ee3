//! Roster reconciliation.

use super::Reply;
use super::parse::{invalid, own_region, year};
use crate::app::Enrollment;
use crate::domain::roster::RosterOutcome;
use tonic::{Request, Response, Status};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::server::caller;

fn roster_pb(o: RosterOutcome) -> pb::RosterOutcome {
    match o {
        RosterOutcome::Enrolled => pb::RosterOutcome::Enrolled,
        RosterOutcome::Deceased => pb::RosterOutcome::Deceased,
        RosterOutcome::MovedOutOfProvince => pb::RosterOutcome::MovedOutOfProvince,
        RosterOutcome::EnrolledElsewhere => pb::RosterOutcome::EnrolledElsewhere,
        RosterOutcome::IdInvalid => pb::RosterOutcome::IdInvalid,
        RosterOutcome::NotFound => pb::RosterOutcome::NotFound,
        RosterOutcome::NotEnrolled => pb::RosterOutcome::NotEnrolled,
    }
}

/// The `id_number` column of a CSV roster, with line numbers (the header is line 1); a row
/// that does not read gives an empty ID number (reported as invalid).
fn id_numbers(csv_text: &str) -> Result<Vec<(i32, String)>, Status> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| invalid("csv", e.to_string()))?
        .clone();
    let col = headers
        .iter()
        .position(|h| h == "id_number")
        .ok_or_else(|| invalid("csv", "the header must include an id_number column"))?;
    Ok(reader
        .records()
        .enumerate()
        .map(|(i, rec)| {
            let raw = rec
                .as_ref()
                .ok()
                .and_then(|r| r.get(col))
                .unwrap_or_default()
                .to_string();
            (i as i32 + 2, raw)
        })
        .collect())
}

pub(super) async fn reconcile_roster(
    app: &Enrollment,
    req: Request<pb::ReconcileRosterRequest>,
) -> Reply<pb::ReconcileRosterResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&c, "region_code", &r.region_code)?;
    let year = year(r.year)?;
    let rows = id_numbers(&r.csv)?;
    let (lines, totals) = app.reconcile_roster(&region, year, rows).await?;
    Ok(Response::new(pb::ReconcileRosterResponse {
        rows: lines
            .into_iter()
            .map(|l| pb::RosterRow {
                line: l.line,
                id_number_masked: l.id_number_masked,
                outcome: roster_pb(l.outcome) as i32,
                detail: l.detail,
            })
            .collect(),
        totals,
    }))
}
