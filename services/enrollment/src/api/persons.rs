//! People: registration, corrections, look-ups, history, categories.

use super::Reply;
use super::parse::{category_of, category_pb, check_region, date, invalid, parse_id};
use crate::app::Enrollment;
use crate::app::persons::{Correction, PersonView};
use crate::domain::CategoryGrant;
use crate::error::INVALID_ARGUMENT;
use crate::store::{NewPerson, PersonChanges};
use tonic::{Request, Response};
use yibao_core::{IdNumber, RegionCode};
use yibao_proto::common::v1 as common;
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::server::caller;

pub(super) fn person_pb(v: PersonView) -> pb::Person {
    let p = v.person;
    pb::Person {
        id_number_masked: IdNumber::parse(&p.id_number)
            .map(|i| i.masked())
            .unwrap_or_default(),
        person_id: p.id,
        id_number: p.id_number,
        name: p.name,
        sex: p.sex,
        birth_date: p.birth_date,
        region_code: p.region_code,
        household_id: p.household_id.unwrap_or_default(),
        contact: p.contact,
        death_date: p.death_date.unwrap_or_default(),
        version: p.version,
        categories: v
            .categories
            .iter()
            .map(|g| pb::CategoryGrant {
                category: category_pb(g.category),
                valid_from: g.valid_from.to_string(),
                valid_to: g.valid_to.map(|d| d.to_string()).unwrap_or_default(),
            })
            .collect(),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= 64
}

pub(super) async fn register_person(
    app: &Enrollment,
    req: Request<pb::RegisterPersonRequest>,
) -> Reply<pb::RegisterPersonResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let mut violations = Vec::new();
    let id = IdNumber::parse(&r.id_number)
        .map_err(|e| violations.push(("id_number".to_string(), e.to_string())))
        .ok();
    let name = r.name.trim().to_string();
    if !valid_name(&name) {
        violations.push(("name".into(), "must be 1 to 64 characters".into()));
    }
    let region = RegionCode::parse(&r.region_code)
        .map_err(|e| violations.push(("region_code".to_string(), e.to_string())))
        .ok();
    let (Some(id), Some(region), true) = (id, region, violations.is_empty()) else {
        return Err(INVALID_ARGUMENT.invalid_fields(violations).into());
    };
    check_region(&c, "region_code", region.as_str())?;
    let new = NewPerson {
        id_number: id,
        name,
        region,
        household_id: Some(r.household_id).filter(|h| !h.is_empty()),
        contact: r.contact,
    };
    let p = app.register_person(&c, new).await?;
    Ok(Response::new(pb::RegisterPersonResponse {
        person: Some(person_pb(p)),
    }))
}

pub(super) async fn correct_person(
    app: &Enrollment,
    req: Request<pb::CorrectPersonRequest>,
) -> Reply<pb::CorrectPersonResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    if r.reason.trim().is_empty() {
        return Err(invalid(
            "reason",
            "a correction needs a reason (kept in the history)",
        ));
    }
    if !r.name.is_empty() && r.name.trim().chars().count() > 64 {
        return Err(invalid("name", "must be 1 to 64 characters"));
    }
    let correction = Correction {
        changes: PersonChanges {
            name: Some(r.name.trim().to_string()).filter(|s| !s.is_empty()),
            contact: Some(r.contact).filter(|s| !s.is_empty()),
            household_id: Some(r.household_id).filter(|s| !s.is_empty()),
        },
        expected_version: r.expected_version,
        reason: r.reason.trim().to_string(),
        person_id: r.person_id,
    };
    let p = app.correct_person(&c, correction).await?;
    Ok(Response::new(pb::CorrectPersonResponse {
        person: Some(person_pb(p)),
    }))
}

pub(super) async fn get_person(
    app: &Enrollment,
    req: Request<pb::GetPersonRequest>,
) -> Reply<pb::GetPersonResponse> {
    let c = caller(&req)?;
    let p = app.get_person(&c, &req.get_ref().person_id).await?;
    Ok(Response::new(pb::GetPersonResponse {
        person: Some(person_pb(p)),
    }))
}

pub(super) async fn lookup_person(
    app: &Enrollment,
    req: Request<pb::LookupPersonRequest>,
) -> Reply<pb::LookupPersonResponse> {
    let c = caller(&req)?;
    let id = parse_id("id_number", &req.get_ref().id_number)?;
    let p = app.lookup_person(&c, &id).await?;
    Ok(Response::new(pb::LookupPersonResponse {
        person: Some(person_pb(p)),
    }))
}

pub(super) async fn get_person_history(
    app: &Enrollment,
    req: Request<pb::GetPersonHistoryRequest>,
) -> Reply<pb::GetPersonHistoryResponse> {
    let c = caller(&req)?;
    let entries = app
        .person_history(&c, &req.get_ref().person_id)
        .await?
        .into_iter()
        .map(|h| pb::HistoryEntry {
            kind: h.kind,
            detail_json: h.detail_json,
            audit: Some(common::Audit {
                actor: h.actor,
                role: h.role,
                at: h.at,
            }),
        })
        .collect();
    Ok(Response::new(pb::GetPersonHistoryResponse { entries }))
}

pub(super) async fn grant_category(
    app: &Enrollment,
    req: Request<pb::GrantCategoryRequest>,
) -> Reply<pb::GrantCategoryResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let category = category_of("category", r.category)?;
    let valid_from = date("valid_from", &r.valid_from)?;
    let valid_to = if r.valid_to.is_empty() {
        None
    } else {
        Some(date("valid_to", &r.valid_to)?)
    };
    if valid_to.is_some_and(|t| t < valid_from) {
        return Err(invalid("valid_to", "must not be before valid_from"));
    }
    let grant = CategoryGrant {
        category,
        valid_from,
        valid_to,
    };
    let p = app.grant_category(&c, &r.person_id, &grant).await?;
    Ok(Response::new(pb::GrantCategoryResponse {
        person: Some(person_pb(p)),
    }))
}
