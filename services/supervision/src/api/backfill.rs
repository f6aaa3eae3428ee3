//! Backfills: `RunBackfill`.

use super::input::{date_in, own_region};
use super::{Res, map};
use crate::app::Supervision;
use crate::error;
use tonic::{Request, Response};
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::server::caller;

pub(super) async fn run_backfill(
    app: &Supervision,
    req: Request<pb::RunBackfillRequest>,
) -> Res<pb::RunBackfillResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&caller, "region_code", &r.region_code)?;
    let rule = map::rule_code_in("rule_code", r.rule_code)?
        .ok_or_else(|| error::RULE_UNKNOWN.invalid("rule_code", "is required"))?;
    let from = date_in("from_date", &r.from_date)?
        .ok_or_else(|| error::DATE_INVALID.invalid("from_date", "is required"))?;
    let to = date_in("to_date", &r.to_date)?
        .ok_or_else(|| error::DATE_INVALID.invalid("to_date", "is required"))?;
    if to < from {
        return Err(error::DATE_INVALID
            .invalid("to_date", "is before from_date")
            .into());
    }
    let run = app
        .run_backfill(&caller, &region, rule, (from, to), r.dry_run)
        .await?;
    Ok(Response::new(pb::RunBackfillResponse {
        run_id: run.run_id,
        rule_code: map::rule_code(run.rule),
        rule_version: run.rule_version,
        events_seen: run.events_seen,
        events_refused: run.events_refused,
        findings_raised: run.findings_raised,
        amount_at_risk_fen: run.amount_at_risk,
    }))
}
