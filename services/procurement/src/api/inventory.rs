//! Inventory RPC: an institution's purchase-sale-inventory upload and its findings; the
//! proto ⇄ record and finding mapping.

use super::parse::{date, institution, item_code, text};
use super::{Reply, check_org, count, denied};
use crate::app::{AppError, Procurement};
use crate::domain::{
    Finding, FindingKind, InventoryRecord, InventoryRules, Movement, OpeningStock,
};
use std::collections::BTreeMap;
use tonic::{Request, Response};
use yibao_core::{Bp, Fen, InstitutionCode};
use yibao_proto::procurement::v1 as pb;
use yibao_runtime::server::caller;

pub(super) async fn upload_records(
    app: &Procurement,
    req: Request<pb::UploadInventoryRecordsRequest>,
) -> Reply<pb::UploadInventoryRecordsResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let inst = institution("institution_code", &r.institution_code)?;
    check_org(&c, "institution_code", inst.as_str())?;
    if !c.covers_region(&inst.region()) {
        return Err(denied(yibao_runtime::auth::AuthError::OutsideRegion {
            field: "institution_code".into(),
            value: inst.to_string(),
            region: c.region.as_ref().map(|r| r.to_string()).unwrap_or_default(),
        }));
    }
    if r.records.is_empty() && r.opening.is_empty() {
        return Err(AppError::invalid(
            "records",
            "at least one record or opening stock is required",
        )
        .into());
    }
    let records = records(&inst, &r.records)?;
    let opening = opening(&inst, &r.opening)?;
    let rules = InventoryRules {
        allowed_markup: Bp(r.allowed_markup_bp.unwrap_or(0)),
    };
    let upload = app
        .upload_inventory(&inst, &records, &opening, &rules)
        .await?;
    Ok(Response::new(pb::UploadInventoryRecordsResponse {
        accepted_count: count(records.len()),
        findings: upload.findings.iter().map(finding_pb).collect(),
        closing: upload
            .closing
            .iter()
            .map(|p| pb::StockPosition {
                item_code: p.item_code.to_string(),
                quantity: p.quantity,
                value_fen: p.value.0,
            })
            .collect(),
    }))
}

/// The records of an upload; a number used twice must carry the same record.
fn records(
    inst: &InstitutionCode,
    input: &[pb::InventoryRecord],
) -> Result<Vec<InventoryRecord>, AppError> {
    let mut records: Vec<InventoryRecord> = Vec::with_capacity(input.len());
    let mut numbers: BTreeMap<String, usize> = BTreeMap::new();
    for (i, x) in input.iter().enumerate() {
        let f = |name: &str| format!("records[{i}].{name}");
        let record_no = text(&f("record_no"), &x.record_no, 64)?;
        let record = InventoryRecord {
            institution: inst.clone(),
            item_code: item_code(&f("item_code"), &x.item_code)?,
            date: date(&f("date"), &x.date)?,
            movement: movement_of(&f("movement"), x.movement)?,
            quantity: if x.quantity == 0 || i64::try_from(x.quantity).is_err() {
                return Err(AppError::invalid(f("quantity"), "must be positive"));
            } else {
                x.quantity
            },
            unit_price: if x.unit_price_fen < 0 {
                return Err(AppError::invalid(
                    f("unit_price_fen"),
                    "must not be negative",
                ));
            } else {
                Fen(x.unit_price_fen)
            },
            record_no: record_no.clone(),
        };
        if let Some(first) = numbers.insert(record_no.clone(), i)
            && records.get(first) != Some(&record)
        {
            return Err(AppError::invalid(
                f("record_no"),
                format!("`{record_no}` is also records[{first}] with other content"),
            ));
        }
        records.push(record);
    }
    Ok(records)
}

/// The opening stock of an upload.
fn opening(
    inst: &InstitutionCode,
    input: &[pb::OpeningStock],
) -> Result<Vec<OpeningStock>, AppError> {
    let mut opening = Vec::with_capacity(input.len());
    for (i, o) in input.iter().enumerate() {
        let f = |name: &str| format!("opening[{i}].{name}");
        if i64::try_from(o.quantity).is_err() {
            return Err(AppError::invalid(f("quantity"), "is too large"));
        }
        if o.unit_cost_fen < 0 {
            return Err(AppError::invalid(
                f("unit_cost_fen"),
                "must not be negative",
            ));
        }
        opening.push(OpeningStock {
            institution: inst.clone(),
            item_code: item_code(&f("item_code"), &o.item_code)?,
            quantity: o.quantity,
            unit_cost: Fen(o.unit_cost_fen),
            as_of: date(&f("as_of_date"), &o.as_of_date)?,
        });
    }
    Ok(opening)
}

/// Movement from the proto.
pub fn movement_of(field: &str, v: i32) -> Result<Movement, AppError> {
    match pb::Movement::try_from(v) {
        Ok(pb::Movement::Purchase) => Ok(Movement::Purchase),
        Ok(pb::Movement::Sale) => Ok(Movement::Sale),
        _ => Err(AppError::invalid(
            field,
            "must be MOVEMENT_PURCHASE or MOVEMENT_SALE",
        )),
    }
}

/// A finding as proto.
pub fn finding_pb(f: &Finding) -> pb::Finding {
    pb::Finding {
        kind: match f.kind {
            FindingKind::UnlistedPurchase => pb::FindingKind::UnlistedPurchase,
            FindingKind::PurchaseAboveListedPrice => pb::FindingKind::PurchaseAboveListedPrice,
            FindingKind::MarkUp => pb::FindingKind::MarkUp,
            FindingKind::SaleWithoutStock => pb::FindingKind::SaleWithoutStock,
        } as i32,
        code: f.kind.code().to_string(),
        institution_code: f.institution.to_string(),
        item_code: f.item_code.to_string(),
        record_no: f.record_no.clone(),
        date: f.date.to_string(),
        purchase_date: f.purchase_date.map(|d| d.to_string()).unwrap_or_default(),
        quantity: f.quantity,
        purchase_price_fen: f.purchase_price.map(|p| p.0),
        sale_price_fen: f.sale_price.map(|p| p.0),
        listed_price_fen: f.listed_price.map(|p| p.0),
        amount_fen: f.amount.0,
        explanation: f.explanation.clone(),
    }
}
