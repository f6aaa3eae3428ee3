//! The eligibility answer's proto form (the handler itself is in `api/mod.rs`, kept as short
//! as it has always been: the hottest path of the platform).

use super::parse::{category_pb, scheme_pb};
use crate::app::eligibility::Answer;
use crate::domain::eligibility::IneligibleReason;
use yibao_core::IdNumber;
use yibao_proto::enrollment::v1 as pb;

fn reason_pb(r: IneligibleReason) -> pb::IneligibleReason {
    match r {
        IneligibleReason::NotEnrolled => pb::IneligibleReason::NotEnrolled,
        IneligibleReason::Unpaid => pb::IneligibleReason::Unpaid,
        IneligibleReason::WaitingPeriod => pb::IneligibleReason::WaitingPeriod,
        IneligibleReason::Deceased => pb::IneligibleReason::Deceased,
        IneligibleReason::MovedOut => pb::IneligibleReason::MovedOut,
        IneligibleReason::Suspended => pb::IneligibleReason::Suspended,
    }
}

pub(super) fn eligibility_pb(a: Answer) -> pb::CheckEligibilityResponse {
    let (file, e) = (a.file, a.eligibility);
    pb::CheckEligibilityResponse {
        eligible: e.eligible,
        reason: e.reason.map_or(0, |r| reason_pb(r) as i32),
        explanation: e.explanation,
        person_id: file.person_id,
        id_number_masked: file.id_masked,
        scheme: e.enrolment.as_ref().map_or(0, |en| scheme_pb(en.scheme)),
        region_code: e
            .enrolment
            .as_ref()
            .map(|en| en.region.to_string())
            .unwrap_or_default(),
        insured_since: e.insured_since.map(|d| d.to_string()).unwrap_or_default(),
        enrolment_id: e
            .enrolment
            .as_ref()
            .filter(|_| e.eligible)
            .map(|en| en.id.clone())
            .unwrap_or_default(),
        categories: e.categories.into_iter().map(category_pb).collect(),
        date: a.date.to_string(),
        name: file.name,
        sex: file.sex,
        birth_date: file.birth_date.to_string(),
    }
}

pub(super) fn unknown_person_pb(
    id: &IdNumber,
    date: chrono::NaiveDate,
) -> pb::CheckEligibilityResponse {
    pb::CheckEligibilityResponse {
        eligible: false,
        reason: pb::IneligibleReason::UnknownPerson as i32,
        explanation: "no person is registered with this ID number".into(),
        id_number_masked: id.masked(),
        date: date.to_string(),
        ..Default::default()
    }
}
