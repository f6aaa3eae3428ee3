//! Assessments: an assessor's score sheet, read one, list assignments.

use super::Reply;
use super::error::refused;
use super::fields::{audit, level_pb};
use crate::app::Ltc;
use crate::domain::assessment::{AssessmentResult, Impairment, ScoreSheet};
use crate::store::assessments::AssessmentRow;
use std::collections::BTreeMap;
use tonic::{Request, Response};
use yibao_proto::ltc::v1 as pb;
use yibao_runtime::page::Page;
use yibao_runtime::server::caller;

fn impairment_pb(i: Impairment) -> i32 {
    match i {
        Impairment::Intact => pb::Impairment::Intact as i32,
        Impairment::Mild => pb::Impairment::Mild as i32,
        Impairment::Moderate => pb::Impairment::Moderate as i32,
        Impairment::Severe => pb::Impairment::Severe as i32,
    }
}

fn result_pb(r: &AssessmentResult) -> pb::AssessmentResult {
    pb::AssessmentResult {
        adl_score: r.adl_score,
        cognition_score: r.cognition_score,
        perception_score: r.perception_score,
        adl: impairment_pb(r.adl),
        cognition: impairment_pb(r.cognition),
        perception: impairment_pb(r.perception),
        level: level_pb(r.level),
        dementia: r.dementia,
    }
}

pub(super) fn assessment_pb(a: &AssessmentRow) -> pb::Assessment {
    pb::Assessment {
        assessment_id: a.id.clone(),
        application_id: a.application_id.clone(),
        assessor_codes: a.assessors.clone(),
        scheduled_on: a.scheduled_on.clone(),
        status: if a.completed {
            pb::AssessmentStatus::Completed as i32
        } else {
            pb::AssessmentStatus::Scheduled as i32
        },
        sheets: a
            .sheets
            .iter()
            .map(|s| pb::ScoreSheet {
                assessor_code: s.assessor_code.clone(),
                items: s.items.clone().into_iter().collect(),
                dementia: s.dementia,
                audit: audit(&s.actor, &s.role, &s.at),
            })
            .collect(),
        result: a.result.as_ref().map(result_pb),
        region_code: a.region_code.clone(),
    }
}

pub(super) async fn submit_sheet(
    ltc: &Ltc,
    req: Request<pb::SubmitScoreSheetRequest>,
) -> Reply<pb::SubmitScoreSheetResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let raw: BTreeMap<String, u32> = r.items.into_iter().collect();
    // The sheet is parsed here so that a malformed one is refused naming the item.
    let sheet = ScoreSheet::parse("items", &raw, r.dementia).map_err(refused)?;
    let (a, replayed) = ltc
        .submit_score_sheet(&c, &r.assessment_id, &raw, r.dementia)
        .await?;
    Ok(Response::new(pb::SubmitScoreSheetResponse {
        assessment: Some(assessment_pb(&a)),
        sheet_result: Some(result_pb(&sheet.result())),
        replayed,
    }))
}

pub(super) async fn get(
    ltc: &Ltc,
    req: Request<pb::GetAssessmentRequest>,
) -> Reply<pb::GetAssessmentResponse> {
    let c = caller(&req)?;
    let a = ltc.assessment(&c, &req.get_ref().assessment_id).await?;
    Ok(Response::new(pb::GetAssessmentResponse {
        assessment: Some(assessment_pb(&a)),
    }))
}

pub(super) async fn list(
    ltc: &Ltc,
    req: Request<pb::ListAssignmentsRequest>,
) -> Reply<pb::ListAssignmentsResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let page = Page::parse(r.page.as_ref())?;
    let list = ltc.list_assignments(&c, r.open_only, &page).await?;
    let (list, next) = page.finish(list, |a| vec![a.id.clone()]);
    Ok(Response::new(pb::ListAssignmentsResponse {
        page: Some(next),
        assessments: list.iter().map(assessment_pb).collect(),
    }))
}
