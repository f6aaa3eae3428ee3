//! Long-term care admits only the registry's designated providers (issue 14: nothing the caller
//! declares makes an institution a care provider), through the gateway and straight at the
//! service port, with nothing written by a refusal:
//! - an institution the registry does not know cannot apply for a person or upload care;
//! - a hospital whose agreement covers no long-term care cannot either;
//! - a designated care home applies, and once the registry suspends it, its new care records
//!   are refused with the registry's reason; reinstated, they are accepted again.

#[path = "support/ltc.rs"]
mod ltc;
#[path = "support/refusals.rs"]
mod refusals;

use ltc::{items, policy};
use refusals::{Refusal, refused_at_both_ports, settled, wrote_nothing};
use serde_json::json;
use yibao_integration_tests::{
    Suite, enrolled_person, id_number, n, register_care_institution, register_institution, s,
    this_year,
};
use yibao_runtime::Role;

const CITY: &str = "370200";
const COUNTY: &str = "370281";
/// Designated: a care institution with an LTC agreement.
const CARE_HOME: &str = "H37028100011";
/// Registered, but its agreement covers hospital care only.
const HOSPITAL: &str = "H37028100012";
/// Not in the registry.
const STRANGER: &str = "H37028100013";

const SUBMIT: &str = "yibao.ltc.v1.LtcService/SubmitApplication";
const UPLOAD: &str = "yibao.ltc.v1.LtcService/UploadServiceRecords";

fn application(institution: &str, no: &str, id: &str, y: i32) -> serde_json::Value {
    json!({"institution_code": institution, "application_no": no, "id_number": id, "name": "孙宗德",
           "region_code": COUNTY, "kind": "APPLICATION_KIND_INITIAL", "medical_records": ["病历"],
           "applied_on": format!("{y}-07-01")})
}

/// A refused application of `institution`, made with its own token, at both ports.
fn refused_application(
    suite: &Suite,
    institution: &str,
    id: &str,
    y: i32,
) -> (Refusal, serde_json::Value) {
    let token = suite.token(Role::CareInstitution, institution, "");
    let body = application(institution, "JZ-R", id, y);
    (
        Refusal::post(&token, "/v1/ltc/applications", SUBMIT, body.clone())
            .because("LTC_INSTITUTION_NOT_DESIGNATED", "institution_code")
            .answered(400, tonic::Code::FailedPrecondition),
        body,
    )
}

#[tokio::test]
async fn only_the_registrys_designated_care_providers_apply_and_record_care() {
    let suite = Suite::start().await;
    let y = this_year();
    let op = suite.operator(CITY);
    let id = id_number("37028119500101051");
    enrolled_person(&suite, &op, &id, COUNTY, true).await;
    register_care_institution(&suite, CARE_HOME).await;
    register_institution(&suite, HOSPITAL, "2", "county").await;

    // A stranger and a hospital without an LTC agreement: refused alike at both ports, with
    // the registry's reason, and nothing is written anywhere.
    let before = settled(&suite).await;
    let (stranger, _) = refused_application(&suite, STRANGER, &id, y);
    let (hospital, body) = refused_application(&suite, HOSPITAL, &id, y);
    refused_at_both_ports(&suite, &[stranger, hospital]).await;
    wrote_nothing(&suite, &before).await;
    let token = suite.token(Role::CareInstitution, HOSPITAL, "");
    let (status, problem) = suite
        .call(
            http::Method::POST,
            "/v1/ltc/applications",
            Some(&token),
            Some(body),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        s(&problem["detail"]).contains("ltc"),
        "the refusal says what the agreements in force cover: {problem}"
    );
    let ci = suite.token(Role::CareInstitution, STRANGER, "");
    let (_, problem) = suite
        .call(
            http::Method::POST,
            "/v1/ltc/applications",
            Some(&ci),
            Some(application(STRANGER, "JZ-R", &id, y)),
        )
        .await;
    assert!(
        s(&problem["detail"]).contains("not in the designated-institution registry"),
        "{problem}"
    );

    // The designated care home applies; the person becomes a beneficiary and is placed.
    let ci = suite.token(Role::CareInstitution, CARE_HOME, "");
    let ben = beneficiary(&suite, &op, &ci, &id, y).await;
    suite
        .ok(
            "/v1/ltc/care-plans",
            &ci,
            json!({"beneficiary_id": ben, "institution_code": CARE_HOME,
                   "care_type": "CARE_TYPE_INSTITUTIONAL", "start_date": format!("{y}-07-01")}),
        )
        .await;
    let record = |d: u32| {
        json!({"record_no": format!("R{d:02}"), "beneficiary_id": ben, "care_type": "CARE_TYPE_INSTITUTIONAL",
               "service_date": format!("{y}-07-{d:02}"), "units": 1, "amount_fen": 15000})
    };
    let path = format!("/v1/ltc/institutions/{CARE_HOME}/service-records");
    let up = suite
        .ok(&path, &ci, json!({"records": [record(1), record(2)]}))
        .await;
    assert_eq!(n(&up["accepted"]), 2, "{up}");

    // The registry suspends the care home from the 10th: care on the 10th is refused at both
    // ports with the registry's reason, and nothing is written.
    let change = |status: &str, reason: &str| json!({"status": status, "effective_on": format!("{y}-07-10"), "reason": reason});
    let county_op = suite.operator(COUNTY);
    suite
        .ok(
            &format!("/v1/institutions/{CARE_HOME}:changeStatus"),
            &county_op,
            change("INSTITUTION_STATUS_SUSPENDED", "虚假护理记录"),
        )
        .await;
    let before = settled(&suite).await;
    let records = json!({"records": [record(10)]});
    let mut request = records.clone();
    request["institution_code"] = json!(CARE_HOME);
    refused_at_both_ports(
        &suite,
        &[Refusal::post(&ci, &path, UPLOAD, records.clone())
            .with_request(request)
            .because("LTC_INSTITUTION_NOT_DESIGNATED", "institution_code")
            .answered(400, tonic::Code::FailedPrecondition)],
    )
    .await;
    wrote_nothing(&suite, &before).await;
    let (_, problem) = suite
        .call(http::Method::POST, &path, Some(&ci), Some(records.clone()))
        .await;
    assert!(
        s(&problem["detail"]).contains(&format!("suspended from {y}-07-10"))
            && s(&problem["detail"]).contains("虚假护理记录"),
        "{problem}"
    );
    // Care before the suspension is still recorded.
    let up = suite.ok(&path, &ci, json!({"records": [record(3)]})).await;
    assert_eq!(n(&up["accepted"]), 1, "{up}");

    // Reinstated from the same day: the care on the 10th is accepted.
    suite
        .ok(
            &format!("/v1/institutions/{CARE_HOME}:changeStatus"),
            &county_op,
            change("INSTITUTION_STATUS_ACTIVE", "整改完成"),
        )
        .await;
    let up = suite.ok(&path, &ci, records).await;
    assert_eq!(n(&up["accepted"]), 1, "{up}");
    suite.stop().await;
}

/// The person's application by `ci`, assessed by two assessors and decided at level 4: the
/// beneficiary's id.
async fn beneficiary(suite: &Suite, op: &str, ci: &str, id: &str, y: i32) -> String {
    let policy = policy();
    suite
        .ok(
            "/v1/ltc/policies",
            op,
            json!({"region_code": CITY, "year": y, "document_json": policy.to_string()}),
        )
        .await;
    let app = suite
        .ok(
            "/v1/ltc/applications",
            ci,
            application(CARE_HOME, "JZ-1", id, y),
        )
        .await;
    let app_id = s(&app["application"]["application_id"]).to_string();
    let sch = suite
        .ok(
            &format!("/v1/ltc/applications/{app_id}:schedule"),
            op,
            json!({"assessor_codes": ["A001", "A002"], "scheduled_on": format!("{y}-07-01")}),
        )
        .await;
    let assessment = s(&sch["assessment"]["assessment_id"]).to_string();
    for assessor in ["A001", "A002"] {
        let t = suite.token(Role::Assessor, assessor, "");
        suite
            .ok(
                &format!("/v1/ltc/assessments/{assessment}:submit"),
                &t,
                json!({"items": items(15, 10)}),
            )
            .await;
    }
    let d = suite
        .ok(
            &format!("/v1/ltc/applications/{app_id}:decide"),
            op,
            json!({"approve": true, "decided_on": format!("{y}-07-01")}),
        )
        .await;
    s(&d["beneficiary"]["beneficiary_id"]).to_string()
}
