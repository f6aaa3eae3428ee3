//! Care-service records: upload a batch, correct one.

use super::Reply;
use super::fields::{
    MAX_RECORD_FEN, authorization, care_type_of, care_type_pb, date_field, institution, invalid,
    text_field,
};
use crate::app::Ltc;
use crate::app::records::{Outcome, RecordFix, RecordResult, RecordUpload};
use crate::app::tenancy::check_institution;
use crate::domain::record::RecordIn;
use tonic::{Request, Response, Status};
use yibao_core::Fen;
use yibao_proto::ltc::v1 as pb;
use yibao_runtime::server::caller;

fn outcome_pb(o: Outcome) -> pb::RecordOutcome {
    match o {
        Outcome::Accepted => pb::RecordOutcome::Accepted,
        Outcome::Flagged => pb::RecordOutcome::Flagged,
        Outcome::Refused => pb::RecordOutcome::Refused,
        Outcome::Replayed => pb::RecordOutcome::Replayed,
    }
}

fn result_pb(r: RecordResult) -> pb::RecordResult {
    pb::RecordResult {
        record_no: r.record_no,
        outcome: outcome_pb(r.outcome) as i32,
        code: r.code,
        reason: r.reason,
    }
}

/// Shape first: a malformed record refuses the whole upload, naming it; nothing is written.
fn uploads(records: &[pb::ServiceRecord]) -> Result<Vec<RecordUpload>, Status> {
    if records.is_empty() || records.len() > 1000 {
        return Err(invalid("records", "1 to 1000 records"));
    }
    let today = chrono::Utc::now().date_naive();
    let mut parsed: Vec<RecordUpload> = Vec::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        let f = |name: &str| format!("records[{i}].{name}");
        let record_no = text_field(&f("record_no"), &rec.record_no, 64)?;
        if parsed.iter().any(|p| p.record_no == record_no) {
            return Err(invalid(f("record_no"), "listed twice in the upload"));
        }
        let beneficiary_id = text_field(&f("beneficiary_id"), &rec.beneficiary_id, 64)?;
        let care_type = care_type_of(&f("care_type"), rec.care_type)?;
        let service_date = date_field(&f("service_date"), &rec.service_date)?;
        if service_date > today {
            return Err(invalid(f("service_date"), "must not be in the future"));
        }
        if !(1..=100).contains(&rec.units) {
            return Err(invalid(f("units"), "must be 1 to 100"));
        }
        if !(0..=MAX_RECORD_FEN).contains(&rec.amount_fen) {
            return Err(invalid(
                f("amount_fen"),
                format!("must be 0 to {MAX_RECORD_FEN}"),
            ));
        }
        parsed.push(RecordUpload {
            record_no,
            beneficiary_id,
            record: RecordIn {
                care_type,
                service_date,
                units: rec.units,
                amount: Fen(rec.amount_fen),
            },
            items: rec
                .items
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        });
    }
    Ok(parsed)
}

pub(super) async fn upload(
    ltc: &Ltc,
    req: Request<pb::UploadServiceRecordsRequest>,
) -> Reply<pb::UploadServiceRecordsResponse> {
    let c = caller(&req)?;
    let auth = authorization(&req);
    let r = req.into_inner();
    let inst = institution("institution_code", &r.institution_code)?;
    // Another institution's caller is refused before the records are read.
    check_institution(&c, "institution_code", &inst).map_err(Status::from)?;
    let parsed = uploads(&r.records)?;
    let results = ltc.upload_service_records(&auth, &inst, &parsed).await?;
    let n_accepted = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Accepted | Outcome::Flagged))
        .count();
    let n_refused = results
        .iter()
        .filter(|r| r.outcome == Outcome::Refused)
        .count();
    Ok(Response::new(pb::UploadServiceRecordsResponse {
        results: results.into_iter().map(result_pb).collect(),
        accepted: u32::try_from(n_accepted).unwrap_or(u32::MAX),
        refused: u32::try_from(n_refused).unwrap_or(u32::MAX),
    }))
}

pub(super) async fn correct(
    ltc: &Ltc,
    req: Request<pb::CorrectServiceRecordRequest>,
) -> Reply<pb::CorrectServiceRecordResponse> {
    let c = caller(&req)?;
    let auth = authorization(&req);
    let r = req.into_inner();
    let inst = institution("institution_code", &r.institution_code)?;
    check_institution(&c, "institution_code", &inst).map_err(Status::from)?;
    let record_no = text_field("record_no", &r.record_no, 64)?;
    let reason = text_field("reason", &r.reason, 500)?;
    if !(1..=100).contains(&r.units) {
        return Err(invalid("units", "must be 1 to 100"));
    }
    if !(0..=MAX_RECORD_FEN).contains(&r.amount_fen) {
        return Err(invalid(
            "amount_fen",
            format!("must be 0 to {MAX_RECORD_FEN}"),
        ));
    }
    let (rec, needs) = ltc
        .correct_service_record(
            &c,
            &auth,
            &inst,
            RecordFix {
                record_no: &record_no,
                units: r.units,
                amount: Fen(r.amount_fen),
                reason: &reason,
            },
        )
        .await?;
    Ok(Response::new(pb::CorrectServiceRecordResponse {
        record: Some(pb::ServiceRecord {
            record_no: rec.record_no,
            beneficiary_id: rec.beneficiary_id,
            care_type: care_type_pb(rec.care_type),
            service_date: rec.service_date.to_string(),
            units: rec.units,
            amount_fen: rec.amount.get(),
            items: rec.items,
        }),
        needs_resettlement: needs,
    }))
}
