//! Catalogue RPCs: upsert, import, get and list; the proto ⇄ catalogue-entry mapping.

use super::parse::{date, item_code, opt_date, region};
use super::{Reply, audit_pb, check_region, count, required};
use crate::app::catalogue::CatalogueQuery;
use crate::app::{AppError, Procurement, actor};
use crate::domain::{CatalogueEntry, InsuranceClass, ItemCode, ItemKind};
use crate::store::StoredItem;
use tonic::{Request, Response};
use yibao_proto::procurement::v1 as pb;
use yibao_runtime::page::Page;
use yibao_runtime::server::caller;

pub(super) async fn upsert_item(
    app: &Procurement,
    req: Request<pb::UpsertCatalogueItemRequest>,
) -> Reply<pb::UpsertCatalogueItemResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let reg = region("region_code", &r.region_code)?;
    check_region(&c, "region_code", reg.as_str())?;
    let entry = catalogue_entry(&required("item", r.item)?)?;
    let (stored, created) = app
        .upsert_catalogue_item(reg.as_str(), entry, &actor(&c))
        .await?;
    Ok(Response::new(pb::UpsertCatalogueItemResponse {
        item: Some(catalogue_pb(&stored)),
        created,
    }))
}

pub(super) async fn import(
    app: &Procurement,
    req: Request<pb::ImportCatalogueRequest>,
) -> Reply<pb::ImportCatalogueResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let reg = region("region_code", &r.region_code)?;
    check_region(&c, "region_code", reg.as_str())?;
    if r.csv_text.trim().is_empty() {
        return Err(AppError::invalid("csv_text", "is empty").into());
    }
    let import = app
        .import_catalogue(reg.as_str(), &r.csv_text, r.dry_run, &actor(&c))
        .await?;
    Ok(Response::new(pb::ImportCatalogueResponse {
        imported_count: count(import.entries.len()),
        errors: import
            .errors
            .iter()
            .map(|e| pb::RowError {
                line: count(e.line),
                field: e.field.clone(),
                reason: e.reason.clone(),
            })
            .collect(),
    }))
}

pub(super) async fn get_item(
    app: &Procurement,
    req: Request<pb::GetCatalogueItemRequest>,
) -> Reply<pb::GetCatalogueItemResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let reg = region("region_code", &r.region_code)?;
    check_region(&c, "region_code", reg.as_str())?;
    let code = item_code("code", &r.code)?;
    let on = opt_date("on_date", &r.on_date)?;
    let stored = app.catalogue_item(reg.as_str(), &code, on).await?;
    Ok(Response::new(pb::GetCatalogueItemResponse {
        item: Some(catalogue_pb(&stored)),
    }))
}

pub(super) async fn list(
    app: &Procurement,
    req: Request<pb::ListCatalogueRequest>,
) -> Reply<pb::ListCatalogueResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let reg = region("region_code", &r.region_code)?;
    check_region(&c, "region_code", reg.as_str())?;
    let kind = if r.kind == 0 {
        None
    } else {
        Some(kind_of("kind", r.kind)?)
    };
    let on_date = opt_date("on_date", &r.on_date)?;
    let page = Page::parse(r.page.as_ref())?;
    let query = CatalogueQuery {
        kind,
        name_contains: r.generic_name.trim().to_string(),
        on_date,
        after: page.after_key(0).to_string(),
        limit: page.fetch(),
    };
    let items = app.list_catalogue(reg.as_str(), &query).await?;
    let (items, page) = page.finish(items, |i| vec![i.entry.code.to_string()]);
    Ok(Response::new(pb::ListCatalogueResponse {
        items: items.iter().map(catalogue_pb).collect(),
        page: Some(page),
    }))
}

/// Item kind from the proto.
pub fn kind_of(field: &str, v: i32) -> Result<ItemKind, AppError> {
    match pb::ItemKind::try_from(v) {
        Ok(pb::ItemKind::WesternDrug) => Ok(ItemKind::WesternDrug),
        Ok(pb::ItemKind::ChinesePatentMedicine) => Ok(ItemKind::ChinesePatentMedicine),
        Ok(pb::ItemKind::Consumable) => Ok(ItemKind::Consumable),
        Ok(pb::ItemKind::Reagent) => Ok(ItemKind::Reagent),
        Ok(pb::ItemKind::ServiceItem) => Ok(ItemKind::ServiceItem),
        _ => Err(AppError::invalid(
            field,
            "must be an ItemKind other than UNSPECIFIED",
        )),
    }
}

fn kind_pb(k: ItemKind) -> pb::ItemKind {
    match k {
        ItemKind::WesternDrug => pb::ItemKind::WesternDrug,
        ItemKind::ChinesePatentMedicine => pb::ItemKind::ChinesePatentMedicine,
        ItemKind::Consumable => pb::ItemKind::Consumable,
        ItemKind::Reagent => pb::ItemKind::Reagent,
        ItemKind::ServiceItem => pb::ItemKind::ServiceItem,
    }
}

fn class_of(field: &str, v: i32) -> Result<InsuranceClass, AppError> {
    match pb::InsuranceClass::try_from(v) {
        Ok(pb::InsuranceClass::A) => Ok(InsuranceClass::A),
        Ok(pb::InsuranceClass::B) => Ok(InsuranceClass::B),
        Ok(pb::InsuranceClass::C) => Ok(InsuranceClass::C),
        _ => Err(AppError::invalid(
            field,
            "must be INSURANCE_CLASS_A, _B or _C",
        )),
    }
}

fn class_pb(c: InsuranceClass) -> pb::InsuranceClass {
    match c {
        InsuranceClass::A => pb::InsuranceClass::A,
        InsuranceClass::B => pb::InsuranceClass::B,
        InsuranceClass::C => pb::InsuranceClass::C,
    }
}

/// A catalogue entry from the proto, checked (code format of its kind, required fields,
/// dates); every problem names its field under `item.`.
pub fn catalogue_entry(item: &pb::CatalogueItem) -> Result<CatalogueEntry, AppError> {
    let kind = kind_of("item.kind", item.kind)?;
    let code = ItemCode::parse(kind, &item.code).map_err(|e| {
        AppError::invalid_code(
            crate::error::INVALID_ITEM_CODE.code,
            "item.code",
            e.to_string(),
        )
    })?;
    let entry = CatalogueEntry {
        code,
        kind,
        generic_name: item.generic_name.trim().to_string(),
        dosage_form: item.dosage_form.trim().to_string(),
        specification: item.specification.trim().to_string(),
        manufacturer: item.manufacturer.trim().to_string(),
        class: class_of("item.insurance_class", item.insurance_class)?,
        negotiated: item.negotiated,
        valid_from: date("item.valid_from_date", &item.valid_from_date)?,
        valid_to: opt_date("item.valid_to_date", &item.valid_to_date)?,
    };
    entry.validate().map_err(|problems| {
        let p = &problems[0];
        let field = match p.field {
            "valid_to" => "valid_to_date".to_string(),
            f => f.to_string(),
        };
        AppError::invalid(format!("item.{field}"), p.reason.clone())
    })?;
    Ok(entry)
}

/// A stored catalogue entry as proto.
pub fn catalogue_pb(s: &StoredItem) -> pb::CatalogueItem {
    let e = &s.entry;
    pb::CatalogueItem {
        code: e.code.to_string(),
        kind: kind_pb(e.kind) as i32,
        generic_name: e.generic_name.clone(),
        dosage_form: e.dosage_form.clone(),
        specification: e.specification.clone(),
        manufacturer: e.manufacturer.clone(),
        insurance_class: class_pb(e.class) as i32,
        negotiated: e.negotiated,
        valid_from_date: e.valid_from.to_string(),
        valid_to_date: e.valid_to.map(|d| d.to_string()).unwrap_or_default(),
        updated: Some(audit_pb(&s.updated)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::field_of;

    fn drug() -> pb::CatalogueItem {
        pb::CatalogueItem {
            code: "XC10AAA123A000000000001".into(),
            kind: pb::ItemKind::WesternDrug as i32,
            generic_name: "阿托伐他汀钙片".into(),
            dosage_form: "片剂".into(),
            specification: "20mg".into(),
            manufacturer: "药企".into(),
            insurance_class: pb::InsuranceClass::B as i32,
            valid_from_date: "2025-01-01".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_catalogue_entry_is_refused_naming_the_field_under_item() {
        assert!(catalogue_entry(&drug()).is_ok());
        let no_form = pb::CatalogueItem {
            dosage_form: String::new(),
            ..drug()
        };
        assert_eq!(
            field_of(catalogue_entry(&no_form).unwrap_err()),
            (
                crate::app::error::INVALID_ARGUMENT,
                "item.dosage_form".into()
            )
        );
        let consumable_code = pb::CatalogueItem {
            code: "C0101010010000000001".into(),
            ..drug()
        };
        assert_eq!(
            field_of(catalogue_entry(&consumable_code).unwrap_err()),
            ("PROCUREMENT_INVALID_ITEM_CODE", "item.code".into())
        );
        let backwards = pb::CatalogueItem {
            valid_to_date: "2024-12-31".into(),
            ..drug()
        };
        assert_eq!(
            field_of(catalogue_entry(&backwards).unwrap_err()).1,
            "item.valid_to_date"
        );
        let no_class = pb::CatalogueItem {
            insurance_class: 0,
            ..drug()
        };
        assert_eq!(
            field_of(catalogue_entry(&no_class).unwrap_err()).1,
            "item.insurance_class"
        );
    }
}
