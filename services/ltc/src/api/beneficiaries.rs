//! Beneficiaries and care plans: read one, list the reassessments due, place with an
//! institution.

use super::Reply;
use super::fields::{
    audit, authorization, care_type_of, care_type_pb, date_field, date_or_today, institution,
    invalid, level_pb, masked,
};
use crate::app::beneficiaries::Placement;
use crate::app::{Ltc, region_scope};
use crate::store::beneficiaries::{BeneficiaryRow, PlanRow};
use tonic::{Request, Response, Status};
use yibao_proto::ltc::v1 as pb;
use yibao_runtime::page::Page;
use yibao_runtime::server::caller;

fn plan_pb(p: &PlanRow) -> pb::CarePlan {
    pb::CarePlan {
        care_plan_id: p.plan.id.clone(),
        beneficiary_id: p.beneficiary_id.clone(),
        institution_code: p.plan.institution.clone(),
        care_type: care_type_pb(p.plan.care_type),
        start_date: p.plan.start.to_string(),
        end_date: p.plan.end.map(|d| d.to_string()).unwrap_or_default(),
        audit: audit(&p.actor, &p.role, &p.at),
    }
}

pub(super) fn beneficiary_pb(b: &BeneficiaryRow) -> pb::Beneficiary {
    pb::Beneficiary {
        beneficiary_id: b.id.clone(),
        person_id: b.person_id.clone(),
        id_number_masked: masked(&b.id_number),
        name: b.name.clone(),
        region_code: b.region_code.clone(),
        levels: b
            .levels
            .iter()
            .map(|l| pb::LevelPeriod {
                level: level_pb(l.level),
                dementia: l.dementia,
                effective_from: l.effective_from.to_string(),
                application_id: l.application_id.clone(),
            })
            .collect(),
        care_plans: b.plans.iter().map(plan_pb).collect(),
        reassessment_due: b.reassessment_due.clone(),
    }
}

pub(super) async fn get(
    ltc: &Ltc,
    req: Request<pb::GetBeneficiaryRequest>,
) -> Reply<pb::GetBeneficiaryResponse> {
    let c = caller(&req)?;
    let b = ltc.beneficiary(&c, &req.get_ref().beneficiary_id).await?;
    Ok(Response::new(pb::GetBeneficiaryResponse {
        beneficiary: Some(beneficiary_pb(&b)),
    }))
}

pub(super) async fn reassessments_due(
    ltc: &Ltc,
    req: Request<pb::ListReassessmentsDueRequest>,
) -> Reply<pb::ListReassessmentsDueResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let page = Page::parse(r.page.as_ref())?;
    let on = date_or_today("date", &r.date)?;
    let reg = region_scope(&c, "region_code", &r.region_code)
        .map_err(Status::from)?
        .ok_or_else(|| invalid("region_code", "must not be empty"))?;
    let list = ltc.reassessments_due(&reg, on, &page).await?;
    let (list, next) = page.finish(list, |b| vec![b.reassessment_due.clone(), b.id.clone()]);
    Ok(Response::new(pb::ListReassessmentsDueResponse {
        page: Some(next),
        beneficiaries: list.iter().map(beneficiary_pb).collect(),
    }))
}

pub(super) async fn place_care(
    ltc: &Ltc,
    req: Request<pb::PlaceCareRequest>,
) -> Reply<pb::PlaceCareResponse> {
    let c = caller(&req)?;
    let auth = authorization(&req);
    let r = req.into_inner();
    let placement = Placement {
        institution: institution("institution_code", &r.institution_code)?,
        care_type: care_type_of("care_type", r.care_type)?,
        start: date_field("start_date", &r.start_date)?,
        beneficiary_id: r.beneficiary_id,
    };
    let (plan, ended, replayed) = ltc.place_care(&c, &auth, &placement).await?;
    Ok(Response::new(pb::PlaceCareResponse {
        care_plan: Some(plan_pb(&plan)),
        ended: ended.as_ref().map(plan_pb),
        replayed,
    }))
}
