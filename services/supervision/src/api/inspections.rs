//! Random inspections: `DrawInspection`, `GetInspectionDraw`.

use super::input::{institution_in, non_empty, own_region};
use super::{Res, map};
use crate::app::Supervision;
use crate::app::inspections::DrawInput;
use crate::error;
use tonic::{Request, Response};
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::ApiError;
use yibao_runtime::server::caller;

pub(super) async fn draw_inspection(
    app: &Supervision,
    req: Request<pb::DrawInspectionRequest>,
) -> Res<pb::DrawInspectionResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&caller, "region_code", &r.region_code)?;
    if r.institution_codes.is_empty() {
        return Err(error::INSPECTION_EMPTY_POOL
            .invalid(
                "institution_codes",
                "list the institutions that may be drawn",
            )
            .into());
    }
    let institutions = r
        .institution_codes
        .iter()
        .enumerate()
        .map(|(k, c)| institution_in(&format!("institution_codes[{k}]"), c))
        .collect::<Result<Vec<_>, _>>()?;
    let conflicts = r
        .conflicts
        .iter()
        .enumerate()
        .map(|(k, c)| {
            Ok((
                c.inspector_id.trim().to_string(),
                institution_in(
                    &format!("conflicts[{k}].institution_code"),
                    &c.institution_code,
                )?,
            ))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let input = DrawInput {
        region,
        seed: r.seed,
        institutions,
        inspectors: r.inspector_ids.clone(),
        institutions_to_draw: usize::try_from(r.institutions_to_draw).unwrap_or(usize::MAX),
        inspectors_to_draw: usize::try_from(r.inspectors_to_draw).unwrap_or(usize::MAX),
        conflicts,
    };
    let draw = app.draw_inspection(&caller, input).await?;
    Ok(Response::new(pb::DrawInspectionResponse {
        draw: Some(map::draw(&draw)),
    }))
}

pub(super) async fn get_inspection_draw(
    app: &Supervision,
    req: Request<pb::GetInspectionDrawRequest>,
) -> Res<pb::GetInspectionDrawResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let id = non_empty("draw_id", &r.draw_id)?;
    let draw = app.inspection_draw(&caller, &id).await?;
    Ok(Response::new(pb::GetInspectionDrawResponse {
        verified: draw.verify(),
        draw: Some(map::draw(&draw)),
    }))
}
