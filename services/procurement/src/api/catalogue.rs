//! Catalogue RPCs: upsert, import, get, list, resolve and the trail of changes; the proto ⇄
//! catalogue-entry mapping.

use super::parse::{date, institution, item_code, opt_date, region};
use super::{Reply, audit_pb, check_org, check_region, count, required};
use crate::app::catalogue::CatalogueQuery;
use crate::app::{AppError, Procurement, actor};
use crate::domain::{
    CatalogueEntry, InsuranceClass, ItemCode, ItemKind, LineQuery, MAX_AGE_YEARS, ResolveContext,
    Resolved, RestrictionKind, Restrictions, StandardSource,
};
use crate::store::{ChangeKind, StoredChange, StoredItem};
use tonic::{Request, Response};
use yibao_core::{Bp, Fen, Sex};
use yibao_proto::procurement::v1 as pb;
use yibao_runtime::page::Page;
use yibao_runtime::server::caller;

/// Most lines of one resolution.
const MAX_RESOLVE_LINES: usize = 1000;

/// Most diagnoses of one resolution.
const MAX_DIAGNOSES: usize = 100;

pub(super) async fn upsert_item(
    app: &Procurement,
    req: Request<pb::UpsertCatalogueItemRequest>,
) -> Reply<pb::UpsertCatalogueItemResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let reg = region("region_code", &r.region_code)?;
    check_region(&c, "region_code", reg.as_str())?;
    let entry = catalogue_entry(&required("item", r.item)?)?;
    let up = app
        .upsert_catalogue_item(reg.as_str(), entry, &actor(&c))
        .await?;
    Ok(Response::new(pb::UpsertCatalogueItemResponse {
        item: Some(catalogue_pb(&up.stored)),
        created: up.created,
        previous: up
            .previous
            .as_ref()
            .map(|e| entry_pb(reg.as_str(), e, None)),
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
    let report = app
        .import_catalogue(&reg, &r.csv_text, r.dry_run, &actor(&c))
        .await?;
    let written = if report.errors.is_empty() {
        report.created + report.replaced
    } else {
        0
    };
    Ok(Response::new(pb::ImportCatalogueResponse {
        imported_count: count(written),
        errors: report
            .errors
            .iter()
            .map(|e| pb::RowError {
                line: count(e.line),
                field: e.field.clone(),
                reason: e.reason.clone(),
            })
            .collect(),
        stored: report.stored,
        unchanged_count: count(report.unchanged),
        closed_count: count(report.closed),
        import_id: report.import_id,
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
    let (stored, history) = app.catalogue_item(reg.as_str(), &code, on).await?;
    Ok(Response::new(pb::GetCatalogueItemResponse {
        item: Some(catalogue_pb(&stored)),
        history: history.iter().map(catalogue_pb).collect(),
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
        after: (page.after_key(0).to_string(), page.after_key(1).to_string()),
        limit: page.fetch(),
    };
    let items = app.list_catalogue(reg.as_str(), &query).await?;
    let (items, page) = page.finish(items, |i| {
        vec![i.entry.code.to_string(), i.entry.valid_from.to_string()]
    });
    Ok(Response::new(pb::ListCatalogueResponse {
        items: items.iter().map(catalogue_pb).collect(),
        page: Some(page),
    }))
}

pub(super) async fn resolve(
    app: &Procurement,
    req: Request<pb::ResolveCatalogueRequest>,
) -> Reply<pb::ResolveCatalogueResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    // Organisation-scoped callers resolve for their own institution only; the catalogue is
    // published data, so region-scoped callers resolve in any region.
    check_org(&c, "institution_code", &r.institution_code)?;
    let inst = if r.institution_code.trim().is_empty() {
        None
    } else {
        Some(institution("institution_code", &r.institution_code)?)
    };
    let reg = match (&inst, r.region_code.trim()) {
        (Some(i), "") => i.region(),
        (Some(i), given) => {
            let reg = region("region_code", given)?;
            if reg != i.region() {
                return Err(AppError::invalid(
                    "region_code",
                    format!(
                        "{reg} is not the region of institution {i} ({})",
                        i.region()
                    ),
                )
                .into());
            }
            reg
        }
        (None, given) => region("region_code", given)?,
    };
    let on = date("on_date", &r.on_date)?;
    let ctx = resolve_context(&r)?;
    if r.lines.is_empty() || r.lines.len() > MAX_RESOLVE_LINES {
        return Err(AppError::invalid(
            "lines",
            format!("must hold 1 to {MAX_RESOLVE_LINES} lines"),
        )
        .into());
    }
    let mut lines = Vec::with_capacity(r.lines.len());
    for (i, l) in r.lines.iter().enumerate() {
        let code = l.code.trim();
        if code.is_empty() || code.chars().count() > 64 {
            return Err(AppError::invalid(
                format!("lines[{i}].code"),
                "must be 1 to 64 characters",
            )
            .into());
        }
        lines.push(LineQuery {
            code,
            days_supply: l.days_supply,
        });
    }
    let resolved = app
        .resolve_catalogue(reg.as_str(), on, &ctx, &lines)
        .await?;
    Ok(Response::new(pb::ResolveCatalogueResponse {
        lines: lines
            .iter()
            .zip(&resolved)
            .map(|(l, r)| resolved_pb(l.code, r))
            .collect(),
    }))
}

/// The facts of a resolution, checked: grade 0–3, age at most 150, at most 100 diagnoses.
fn resolve_context(r: &pb::ResolveCatalogueRequest) -> Result<ResolveContext, AppError> {
    let institution_grade = match r.institution_grade {
        0 => None,
        g @ 1..=3 => Some(g as u8),
        _ => {
            return Err(AppError::invalid(
                "institution_grade",
                "must be 1, 2 or 3 (0: not given)",
            ));
        }
    };
    let sex = match pb::Sex::try_from(r.person_sex) {
        Ok(pb::Sex::Unspecified) => None,
        Ok(pb::Sex::Male) => Some(Sex::Male),
        Ok(pb::Sex::Female) => Some(Sex::Female),
        Err(_) => return Err(AppError::invalid("person_sex", "is not a Sex")),
    };
    if let Some(a) = r.person_age_years
        && a > MAX_AGE_YEARS
    {
        return Err(AppError::invalid(
            "person_age_years",
            format!("must be at most {MAX_AGE_YEARS}"),
        ));
    }
    if r.diagnoses.len() > MAX_DIAGNOSES {
        return Err(AppError::invalid(
            "diagnoses",
            format!("at most {MAX_DIAGNOSES} diagnoses"),
        ));
    }
    Ok(ResolveContext {
        institution_grade,
        sex,
        age: r.person_age_years,
        diagnoses: r
            .diagnoses
            .iter()
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect(),
    })
}

fn restriction_kind_pb(k: RestrictionKind) -> pb::RestrictionKind {
    match k {
        RestrictionKind::Sex => pb::RestrictionKind::Sex,
        RestrictionKind::Age => pb::RestrictionKind::Age,
        RestrictionKind::InstitutionGrade => pb::RestrictionKind::InstitutionGrade,
        RestrictionKind::Indication => pb::RestrictionKind::Indication,
        RestrictionKind::DaysSupply => pb::RestrictionKind::DaysSupply,
    }
}

/// One resolved line as proto.
fn resolved_pb(code: &str, r: &Resolved) -> pb::ResolvedLine {
    let (standard, source) = match r.payment_standard {
        Some((f, StandardSource::PaymentStandard)) => {
            (Some(f.0), pb::StandardSource::PaymentStandard)
        }
        Some((f, StandardSource::Catalogue)) => (Some(f.0), pb::StandardSource::Catalogue),
        None => (None, pb::StandardSource::Unspecified),
    };
    pb::ResolvedLine {
        code: code.to_string(),
        in_catalogue: r.version.is_some(),
        insurance_class: class_pb(r.class) as i32,
        preselfpay_share_bp: r.preselfpay_share.map(|b| b.0),
        payment_standard_fen: standard,
        payment_standard_source: source as i32,
        negotiated: r.negotiated,
        violations: r
            .violations
            .iter()
            .map(|v| pb::RestrictionViolation {
                kind: restriction_kind_pb(v.kind) as i32,
                reason: v.reason.clone(),
            })
            .collect(),
        unchecked: r
            .unchecked
            .iter()
            .map(|k| restriction_kind_pb(*k) as i32)
            .collect(),
        indication: r
            .version
            .as_ref()
            .map(|v| v.entry.restrictions.indication.clone())
            .unwrap_or_default(),
        entry_region_code: r
            .version
            .as_ref()
            .map(|v| v.region.clone())
            .unwrap_or_default(),
        entry_valid_from_date: r
            .version
            .as_ref()
            .map(|v| v.entry.valid_from.to_string())
            .unwrap_or_default(),
        explanation: r.explanation.clone(),
    }
}

pub(super) async fn list_changes(
    app: &Procurement,
    req: Request<pb::ListCatalogueChangesRequest>,
) -> Reply<pb::ListCatalogueChangesResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let reg = region("region_code", &r.region_code)?;
    check_region(&c, "region_code", reg.as_str())?;
    let code = if r.code.trim().is_empty() {
        None
    } else {
        Some(item_code("code", &r.code)?)
    };
    let page = Page::parse(r.page.as_ref())?;
    let changes = app
        .catalogue_changes(&reg, code.as_ref(), page.after_key(0), page.fetch())
        .await?;
    let (changes, page) = page.finish(changes, |c| vec![c.id.clone()]);
    Ok(Response::new(pb::ListCatalogueChangesResponse {
        changes: changes.iter().map(change_pb).collect(),
        page: Some(page),
    }))
}

fn change_pb(c: &StoredChange) -> pb::CatalogueChange {
    let kind = match c.kind {
        ChangeKind::Created => pb::CatalogueChangeKind::Created,
        ChangeKind::Replaced => pb::CatalogueChangeKind::Replaced,
        ChangeKind::Closed => pb::CatalogueChangeKind::Closed,
    };
    pb::CatalogueChange {
        change_id: c.id.clone(),
        kind: kind as i32,
        before: c.before.as_ref().map(|e| entry_pb(&c.region, e, None)),
        after: Some(entry_pb(&c.region, &c.after, Some(&c.changed))),
        changed: Some(audit_pb(&c.changed)),
        source: c.source.clone(),
    }
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
/// dates, share, standard, restrictions); every problem names its field under `item.`.
pub fn catalogue_entry(item: &pb::CatalogueItem) -> Result<CatalogueEntry, AppError> {
    let kind = kind_of("item.kind", item.kind)?;
    let code = ItemCode::parse(kind, &item.code).map_err(|e| {
        AppError::invalid_code(
            crate::error::INVALID_ITEM_CODE.code,
            "item.code",
            e.to_string(),
        )
    })?;
    let r = item.restrictions.clone().unwrap_or_default();
    let sex = match pb::Sex::try_from(r.sex) {
        Ok(pb::Sex::Unspecified) => None,
        Ok(pb::Sex::Male) => Some(Sex::Male),
        Ok(pb::Sex::Female) => Some(Sex::Female),
        Err(_) => return Err(AppError::invalid("item.restrictions.sex", "is not a Sex")),
    };
    let grade = match r.min_institution_grade {
        0 => None,
        g => Some(u8::try_from(g).unwrap_or(u8::MAX)),
    };
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
        preselfpay_share: item.preselfpay_share_bp.map(Bp),
        payment_standard: item.payment_standard_fen.map(Fen),
        restrictions: Restrictions {
            sex,
            min_age: r.min_age_years,
            max_age: r.max_age_years,
            min_institution_grade: grade,
            indication: r.indication.trim().to_string(),
            indication_diagnoses: r
                .indication_diagnoses
                .iter()
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty())
                .collect(),
            max_days_supply: r.max_days_supply,
        },
    };
    entry.validate().map_err(|problems| {
        let p = &problems[0];
        let field = match p.field {
            "valid_to" => "valid_to_date",
            "sex" => "restrictions.sex",
            "min_age" => "restrictions.min_age_years",
            "max_age" => "restrictions.max_age_years",
            "min_institution_grade" => "restrictions.min_institution_grade",
            "indication" => "restrictions.indication",
            "indication_diagnoses" => "restrictions.indication_diagnoses",
            "max_days_supply" => "restrictions.max_days_supply",
            f => f,
        };
        AppError::invalid(format!("item.{field}"), p.reason.clone())
    })?;
    Ok(entry)
}

/// A stored catalogue version as proto.
pub fn catalogue_pb(s: &StoredItem) -> pb::CatalogueItem {
    entry_pb(&s.region, &s.entry, Some(&s.updated))
}

/// A version of `region`'s catalogue as proto, with its last change when known.
fn entry_pb(
    region: &str,
    e: &CatalogueEntry,
    updated: Option<&crate::store::Audit>,
) -> pb::CatalogueItem {
    let r = &e.restrictions;
    let sex = match r.sex {
        None => pb::Sex::Unspecified,
        Some(Sex::Male) => pb::Sex::Male,
        Some(Sex::Female) => pb::Sex::Female,
    };
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
        updated: updated.map(audit_pb),
        preselfpay_share_bp: e.preselfpay_share.map(|b| b.0),
        payment_standard_fen: e.payment_standard.map(|f| f.0),
        restrictions: (!r.is_empty()).then(|| pb::PaymentRestrictions {
            sex: sex as i32,
            min_age_years: r.min_age,
            max_age_years: r.max_age,
            min_institution_grade: r.min_institution_grade.map_or(0, u32::from),
            indication: r.indication.clone(),
            indication_diagnoses: r.indication_diagnoses.clone(),
            max_days_supply: r.max_days_supply,
        }),
        region_code: region.to_string(),
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
