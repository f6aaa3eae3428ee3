//! Bulk import of people, enrolments and contributions.

use super::Reply;
use super::parse::{invalid, own_region};
use crate::app::Enrollment;
use crate::app::import::ImportFormat;
use tonic::{Request, Response};
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::Actor;
use yibao_runtime::server::caller;

pub(super) async fn import_records(
    app: &Enrollment,
    req: Request<pb::ImportRecordsRequest>,
) -> Reply<pb::ImportRecordsResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&c, "region_code", &r.region_code)?;
    let format = match pb::ImportFormat::try_from(r.format) {
        Ok(pb::ImportFormat::Csv) => ImportFormat::Csv,
        Ok(pb::ImportFormat::JsonLines) => ImportFormat::JsonLines,
        _ => {
            return Err(invalid(
                "format",
                "must be IMPORT_FORMAT_CSV or IMPORT_FORMAT_JSON_LINES",
            ));
        }
    };
    let report = app
        .import_records(&region, format, &r.content, &Actor::from(&c))
        .await?;
    Ok(Response::new(pb::ImportRecordsResponse {
        committed: report.committed as i64,
        unchanged: report.unchanged as i64,
        errors: report
            .errors
            .into_iter()
            .map(|e| pb::RowError {
                line: e.line as i32,
                field: e.field,
                reason: e.reason,
            })
            .collect(),
    }))
}
