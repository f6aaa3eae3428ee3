//! Encounters in care: open, read, change, upload and cancel fee lines, discharge, cancel,
//! pre-settle, settle, undo a request by its reference. Every refusal of bad input names its
//! field before anything is asked or written.

use super::claims::{parse_items, parse_physician};
use super::enums::{class_pb, kind_of_pb, kind_pb, status_pb};
use super::messages::{breakdown_pb, item_split_pb, settlement_pb};
use super::{Reply, SettlementApi, authorization, invalid};
use crate::app::AppError;
use crate::app::encounters::{
    EncounterView, OpenEncounter, PricedLine, Undone, UploadLine, VisitChange,
};
use crate::domain::encounter::{EncounterStatus, Expectation, FeeLine, MAX_ENCOUNTER_NO};
use chrono::NaiveDate;
use tonic::{Request, Response, Status};
use yibao_core::{Fen, IdNumber, InstitutionCode, RegionCode};
use yibao_proto::common::v1 as common;
use yibao_proto::settlement::v1 as pb;
use yibao_runtime::server::caller;

/// Longest request reference (the interface's msgid is 30 characters).
const MAX_REF: usize = 64;

fn reference(field: &str, s: &str, required: bool) -> Result<String, Status> {
    let t = s.trim();
    if (required && t.is_empty()) || t.len() > MAX_REF {
        return Err(invalid(
            field,
            format!(
                "must be {} to {MAX_REF} characters",
                if required { 1 } else { 0 }
            ),
        ));
    }
    Ok(t.to_string())
}

fn encounter_id(s: &str) -> Result<&str, Status> {
    if s.trim().is_empty() {
        return Err(invalid("encounter_id", "required"));
    }
    Ok(s.trim())
}

fn optional_date(field: &str, s: &str) -> Result<Option<NaiveDate>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| invalid(field, "must be a date YYYY-MM-DD"))
}

/// A fee time: `YYYY-MM-DD`, or with a time of day `YYYY-MM-DD HH:MM:SS` (its date counts).
fn fee_date(s: &str) -> Option<NaiveDate> {
    let day = s.get(..10)?;
    let rest = &s[10..];
    if !(rest.is_empty()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_ok())
    {
        return None;
    }
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

fn parse_open(r: &pb::OpenEncounterRequest) -> Result<OpenEncounter, AppError> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut bad = |f: &str, why: String| v.push((f.to_string(), why));
    let institution = InstitutionCode::parse(&r.institution_code)
        .map_err(|e| bad("institution_code", e.to_string()))
        .ok();
    let no = r.encounter_no.trim();
    if no.is_empty() || no.len() > MAX_ENCOUNTER_NO {
        bad(
            "encounter_no",
            format!("must be 1 to {MAX_ENCOUNTER_NO} characters"),
        );
    }
    let id = IdNumber::parse(&r.id_number)
        .map_err(|e| bad("id_number", e.to_string()))
        .ok();
    let region = RegionCode::parse(&r.insured_region_code)
        .map_err(|e| bad("insured_region_code", e.to_string()))
        .ok();
    let kind = kind_of_pb(r.kind);
    if kind.is_none() {
        bad("kind", "required: the kind of encounter".into());
    }
    let start = NaiveDate::parse_from_str(&r.start_date, "%Y-%m-%d")
        .map_err(|_| bad("start_date", "must be a date YYYY-MM-DD".into()))
        .ok();
    let physician = parse_physician(&r.attending_physician_code, kind, &mut bad);
    let request_ref = r.request_ref.trim();
    if request_ref.len() > MAX_REF {
        bad("request_ref", format!("at most {MAX_REF} characters"));
    }
    match (institution, id, region, kind, start) {
        (
            Some(institution),
            Some(id_number),
            Some(insured_region),
            Some(kind),
            Some(start_date),
        ) if v.is_empty() => Ok(OpenEncounter {
            institution,
            encounter_no: no.to_string(),
            id_number,
            insured_region,
            kind,
            disease_code: Some(r.disease_code.trim().to_string()).filter(|d| !d.is_empty()),
            start_date,
            diagnoses: r.diagnoses.clone(),
            physician,
            request_ref: request_ref.to_string(),
        }),
        _ => Err(AppError::Invalid(v)),
    }
}

fn parse_lines(lines: &[pb::FeeLine]) -> Result<Vec<UploadLine>, AppError> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut items_pb = Vec::with_capacity(lines.len());
    let mut dates = Vec::with_capacity(lines.len());
    for (n, l) in lines.iter().enumerate() {
        match &l.item {
            Some(it) => items_pb.push(it.clone()),
            None => {
                v.push((format!("lines[{n}].item"), "required".into()));
                items_pb.push(pb::ClaimItem::default());
            }
        }
        let date = fee_date(&l.fee_time);
        if date.is_none() {
            v.push((
                format!("lines[{n}].fee_time"),
                "must be YYYY-MM-DD or YYYY-MM-DD HH:MM:SS".into(),
            ));
        }
        dates.push(date);
    }
    let (items, days) = parse_items(&items_pb, &mut |f: &str, why: String| {
        // `items[n].x` of the claim parser is `lines[n].item.x` here.
        let path = match f.strip_prefix("items[").and_then(|r| r.split_once("].")) {
            Some((n, rest)) => format!("lines[{n}].item.{rest}"),
            None => f.to_string(),
        };
        v.push((path, why));
    });
    if !v.is_empty() {
        return Err(AppError::Invalid(v));
    }
    Ok(lines
        .iter()
        .zip(items)
        .zip(days)
        .zip(dates)
        .map(|(((l, item), days_supply), date)| UploadLine {
            line: FeeLine {
                feedetl_sn: l.feedetl_sn.trim().to_string(),
                fee_date: date.unwrap_or_default(),
                item,
                days_supply,
            },
            charge_category: l
                .item
                .as_ref()
                .map(|i| i.charge_category.clone())
                .unwrap_or_default(),
        })
        .collect())
}

fn status_of(v: &EncounterView) -> i32 {
    (if v.state().settled {
        pb::EncounterStatus::Settled
    } else {
        match v.row.status {
            EncounterStatus::Open => pb::EncounterStatus::Open,
            EncounterStatus::Discharged => pb::EncounterStatus::Discharged,
            EncounterStatus::Cancelled => pb::EncounterStatus::Cancelled,
        }
    }) as i32
}

fn fee_line_pb(l: &FeeLine, category: &str) -> pb::FeeLine {
    pb::FeeLine {
        feedetl_sn: l.feedetl_sn.clone(),
        fee_time: l.fee_date.to_string(),
        item: Some(pb::ClaimItem {
            national_code: l.item.national_code.clone(),
            name: l.item.name.clone(),
            item_class: pb::ItemClass::Unspecified as i32,
            quantity: l.item.quantity,
            unit_price_fen: l.item.unit_price.0,
            amount_fen: l.item.amount.0,
            payment_standard_fen: None,
            preselfpay_share_bp: None,
            charge_category: category.to_string(),
            days_supply: l.days_supply,
        }),
    }
}

/// An ID number as answers show it: masked.
fn masked(id_number: &str) -> String {
    IdNumber::parse(id_number)
        .map(|n| n.masked())
        .unwrap_or_default()
}

/// What a (pre-)settlement's caller expects of the encounter.
fn expectation(e: Option<&pb::EncounterExpectation>) -> Result<Expectation, Status> {
    let Some(e) = e else {
        return Ok(Expectation::default());
    };
    let total = match e.total_fen {
        Some(t) if t < 0 => {
            return Err(invalid("expect.total_fen", "must not be negative"));
        }
        t => t.map(Fen),
    };
    Ok(Expectation {
        person_id: Some(e.person_id.trim().to_string()).filter(|p| !p.is_empty()),
        total,
    })
}

fn encounter_pb(v: &EncounterView) -> pb::Encounter {
    let r = &v.row;
    pb::Encounter {
        encounter_id: r.encounter_id.clone(),
        institution_code: r.institution_code.clone(),
        encounter_no: r.encounter_no.clone(),
        id_number: masked(&r.id_number),
        insured_region_code: r.insured_region.clone(),
        kind: kind_pb(r.kind),
        disease_code: r.disease_code.clone().unwrap_or_default(),
        start_date: r.start_date.to_string(),
        end_date: r.end_date.map(|d| d.to_string()).unwrap_or_default(),
        diagnoses: r.diagnoses.clone(),
        attending_physician_code: r.physician_code.clone().unwrap_or_default(),
        status: status_of(v),
        lines: v
            .lines
            .iter()
            .map(|l| pb::PricedFeeLine {
                feedetl_sn: l.line.feedetl_sn.clone(),
                cancelled: l.cancelled,
                line: Some(fee_line_pb(&l.line, &l.charge_category)),
                ..pb::PricedFeeLine::default()
            })
            .collect(),
        settlements: v
            .settlements
            .iter()
            .map(|(s, status)| pb::EncounterSettlement {
                claim_id: s.claim_id.clone(),
                request_ref: s.request_ref.clone(),
                status: status_pb(*status),
            })
            .collect(),
        opened: Some(common::Audit {
            actor: r.opened_by.clone(),
            role: r.opened_role.clone(),
            at: r.opened_at.clone(),
        }),
        person_id: r.person_id.clone(),
    }
}

fn priced_pb(p: &PricedLine) -> pb::PricedFeeLine {
    pb::PricedFeeLine {
        feedetl_sn: p.feedetl_sn.clone(),
        item_class: class_pb(p.item.class),
        preselfpay_share_bp: p.preselfpay_share.0,
        payment_standard_fen: p.item.payment_standard.map(|f| f.0),
        negotiated: p.negotiated,
        split: Some(item_split_pb(0, &p.split)),
        cancelled: false,
        note: p.note.clone(),
        line: None,
    }
}

fn one(v: &EncounterView) -> Option<pb::Encounter> {
    Some(encounter_pb(v))
}

impl SettlementApi {
    pub(super) async fn encounter_open(
        &self,
        req: Request<pb::OpenEncounterRequest>,
    ) -> Reply<pb::OpenEncounterResponse> {
        let c = caller(&req)?;
        let o = parse_open(req.get_ref())?;
        let (v, replayed) = self.app.open_encounter(&c, authorization(&req), o).await?;
        Ok(Response::new(pb::OpenEncounterResponse {
            encounter: one(&v),
            replayed,
        }))
    }

    pub(super) async fn encounter_read(
        &self,
        req: Request<pb::GetEncounterRequest>,
    ) -> Reply<pb::GetEncounterResponse> {
        let c = caller(&req)?;
        let id = encounter_id(&req.get_ref().encounter_id)?;
        let v = self.app.get_encounter(&c, id).await?;
        Ok(Response::new(pb::GetEncounterResponse {
            encounter: one(&v),
        }))
    }

    pub(super) async fn encounter_update(
        &self,
        req: Request<pb::UpdateEncounterRequest>,
    ) -> Reply<pb::UpdateEncounterResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let id = encounter_id(&r.encounter_id)?;
        let mut bad = Vec::new();
        let physician = if r.attending_physician_code.trim().is_empty() {
            None
        } else {
            parse_physician(&r.attending_physician_code, None, &mut |f: &str, why| {
                bad.push((f.to_string(), why))
            })
        };
        if !bad.is_empty() {
            return Err(AppError::Invalid(bad).into());
        }
        let change = VisitChange {
            diagnoses: r.diagnoses.clone(),
            disease_code: Some(r.disease_code.trim().to_string()).filter(|d| !d.is_empty()),
            physician,
        };
        let v = self.app.update_encounter(&c, id, change).await?;
        Ok(Response::new(pb::UpdateEncounterResponse {
            encounter: one(&v),
        }))
    }

    pub(super) async fn fees_upload(
        &self,
        req: Request<pb::UploadFeesRequest>,
    ) -> Reply<pb::UploadFeesResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let id = encounter_id(&r.encounter_id)?;
        let request_ref = reference("request_ref", &r.request_ref, false)?;
        let lines = parse_lines(&r.lines)?;
        let priced = self
            .app
            .upload_fees(&c, authorization(&req), id, lines, &request_ref)
            .await?;
        Ok(Response::new(pb::UploadFeesResponse {
            lines: priced.iter().map(priced_pb).collect(),
        }))
    }

    pub(super) async fn fees_cancel(
        &self,
        req: Request<pb::CancelFeesRequest>,
    ) -> Reply<pb::CancelFeesResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let id = encounter_id(&r.encounter_id)?;
        let n = self.app.cancel_fees(&c, id, &r.feedetl_sns).await?;
        Ok(Response::new(pb::CancelFeesResponse {
            cancelled: u32::try_from(n).unwrap_or(u32::MAX),
        }))
    }

    pub(super) async fn encounter_discharge(
        &self,
        req: Request<pb::DischargeEncounterRequest>,
    ) -> Reply<pb::DischargeEncounterResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let id = encounter_id(&r.encounter_id)?;
        let end = optional_date("end_date", &r.end_date)?;
        if !r.cancel && end.is_none() {
            return Err(invalid("end_date", "required: the discharge date"));
        }
        let v = self
            .app
            .discharge_encounter(&c, id, end, r.diagnoses.clone(), r.cancel)
            .await?;
        Ok(Response::new(pb::DischargeEncounterResponse {
            encounter: one(&v),
        }))
    }

    pub(super) async fn encounter_cancel(
        &self,
        req: Request<pb::CancelEncounterRequest>,
    ) -> Reply<pb::CancelEncounterResponse> {
        let c = caller(&req)?;
        let id = encounter_id(&req.get_ref().encounter_id)?;
        let v = self.app.cancel_encounter(&c, id).await?;
        Ok(Response::new(pb::CancelEncounterResponse {
            encounter: one(&v),
        }))
    }

    pub(super) async fn encounter_pre_settle(
        &self,
        req: Request<pb::PreSettleEncounterRequest>,
    ) -> Reply<pb::PreSettleEncounterResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let id = encounter_id(&r.encounter_id)?;
        let date = optional_date("end_date", &r.end_date)?;
        let expect = expectation(r.expect.as_ref())?;
        let (s, row) = self
            .app
            .pre_settle_encounter(&c, authorization(&req), id, date, &expect)
            .await?;
        Ok(Response::new(pb::PreSettleEncounterResponse {
            settlement: Some(settlement_pb("", &s)),
            id_number: masked(&row.id_number),
            start_date: row.start_date.to_string(),
        }))
    }

    pub(super) async fn encounter_settle(
        &self,
        req: Request<pb::SettleEncounterRequest>,
    ) -> Reply<pb::SettleEncounterResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let id = encounter_id(&r.encounter_id)?;
        let date = optional_date("end_date", &r.end_date)?;
        let request_ref = reference("request_ref", &r.request_ref, false)?;
        let expect = expectation(r.expect.as_ref())?;
        let (done, row) = self
            .app
            .settle_encounter(&c, authorization(&req), id, date, &request_ref, &expect)
            .await?;
        Ok(Response::new(pb::SettleEncounterResponse {
            claim_id: done.claim_id.clone(),
            settlement: Some(settlement_pb(&done.claim_id, &done.settlement)),
            replayed: done.replayed,
            id_number: masked(&row.id_number),
            start_date: row.start_date.to_string(),
        }))
    }

    pub(super) async fn request_reverse(
        &self,
        req: Request<pb::ReverseByRequestRequest>,
    ) -> Reply<pb::ReverseByRequestResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let institution = InstitutionCode::parse(&r.institution_code)
            .map_err(|e| invalid("institution_code", e.to_string()))?;
        let request_ref = reference("request_ref", &r.request_ref, true)?;
        let reversal_ref = reference("reversal_ref", &r.reversal_ref, true)?;
        let a = self
            .app
            .reverse_by_request(&c, &institution, &request_ref, &reversal_ref)
            .await?;
        Ok(Response::new(pb::ReverseByRequestResponse {
            undone: (match a.undone {
                Undone::NothingCommitted => pb::RequestUndone::NothingCommitted,
                Undone::SettlementReversed => pb::RequestUndone::SettlementReversed,
                Undone::FeesCancelled => pb::RequestUndone::FeesCancelled,
                Undone::EncounterCancelled => pb::RequestUndone::EncounterCancelled,
            }) as i32,
            encounter_id: a.encounter_id,
            claim_id: a.claim_id,
            refund: a.refund.as_ref().map(breakdown_pb),
        }))
    }
}
