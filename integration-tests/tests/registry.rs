//! The registries through the gateway's REST, on whichever backend the run uses (SQLite; a
//! fresh PostgreSQL database and Redis with `YIBAO_TEST_DATABASE_URL` / `YIBAO_TEST_REDIS_URL`):
//! the cases refused or settled by the registry's facts, never the claim's — the demo
//! county hospital declaring 三级 / province gets county deductible and rate or a refusal naming
//! the field; no agreement, a suspension, an unregistered institution are refused; a chronic
//! claim settles only with a certification in force; the filing kind is the person's filing;
//! an unknown, foreign or suspended physician is refused — and the registry's own RPCs (roster
//! import all or nothing, keyset pages, reads by role, history, status changes).

use http::Method;
use serde_json::{Value, json};
use yibao_integration_tests::{
    Suite, enrolled_person, id_number, n, physician_of, register_institution, s, this_year, yuan,
};
use yibao_runtime::Role;

const HUOQIU: &str = "341522";
const ANHUI: &str = "340000";
const COUNTY_HOSPITAL: &str = "H34152200001";
/// 住院诊查费, 甲类 in the tests' catalogue.
const A_SERVICES: &str = "001102000050000";

/// The demo county's roster and physicians, procurement's catalogue of one 甲 item, and this
/// year's Huoqiu policy; returns an operator of Anhui.
async fn county(suite: &Suite) -> String {
    let y = this_year();
    let op = suite.operator(HUOQIU);
    let roster = suite
        .ok(
            "/v1/institutions:import",
            &op,
            json!({"region_code": HUOQIU, "csv": yibao::demo::roster(y)}),
        )
        .await;
    assert_eq!(roster["stored"], true, "{roster}");
    let physicians = suite
        .ok(
            "/v1/physicians:import",
            &op,
            json!({"region_code": HUOQIU, "csv": yibao::demo::physicians()}),
        )
        .await;
    assert_eq!(physicians["stored"], true, "{physicians}");
    let anhui = suite.operator(ANHUI);
    let catalogue = format!(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,valid_from\n\
         {A_SERVICES},service_item,住院诊查费,,日,,甲,2000-01-01\n"
    );
    let out = suite
        .ok(
            "/v1/procurement/catalogue:import",
            &anhui,
            json!({"region_code": ANHUI, "csv_text": catalogue}),
        )
        .await;
    assert_eq!(out["stored"], true, "{out}");
    let got = suite
        .get_ok(
            &format!("/v1/policies/341522-2018-resident?region_code={HUOQIU}"),
            &anhui,
        )
        .await;
    let mut doc: Value = serde_json::from_str(s(&got["document_json"])).unwrap_or(Value::Null);
    doc["id"] = json!(format!("{HUOQIU}-{y}-resident"));
    doc["version"] = json!(1);
    doc["year"] = json!(y);
    doc["effective_from"] = json!(format!("{y}-01-01"));
    suite
        .ok(
            "/v1/policies",
            &anhui,
            json!({"region_code": HUOQIU, "document_json": doc.to_string()}),
        )
        .await;
    anhui
}

/// A self-paid resident of Huoqiu enrolled this year: (ID number, person id).
async fn resident(suite: &Suite, op: &str, first17: &str) -> (String, String) {
    let id = id_number(first17);
    let (pid, _) = enrolled_person(suite, op, &id, HUOQIU, true).await;
    (id, pid)
}

/// A claim of `kind` at `institution` ending on `end` in this year (`MM-DD`), one 甲 item of
/// `amount` yuan, naming `physician`.
fn claim(
    institution: &str,
    encounter: &str,
    id: &str,
    kind: &str,
    end: &str,
    amount: i64,
    physician: &str,
) -> Value {
    let y = this_year();
    json!({"claim": {
        "institution_code": institution, "encounter_no": encounter, "id_number": id, "insured_region_code": HUOQIU,
        "kind": kind, "attending_physician_code": physician,
        "start_date": format!("{y}-{end}"), "end_date": format!("{y}-{end}"), "diagnoses": ["I10.x00x002"],
        "items": [{"national_code": A_SERVICES, "name": "诊查", "quantity": 1, "unit_price_fen": yuan(amount), "amount_fen": yuan(amount)}]
    }})
}

fn inpatient(institution: &str, encounter: &str, id: &str, end: &str, amount: i64) -> Value {
    claim(
        institution,
        encounter,
        id,
        "ENCOUNTER_KIND_INPATIENT",
        end,
        amount,
        &roster_physician(institution),
    )
}

/// The physician the demo roster gives an institution (the county hospital's active one).
fn roster_physician(institution: &str) -> String {
    if institution == COUNTY_HOSPITAL {
        return yibao::demo::PHYSICIAN.to_string();
    }
    let seq: usize = institution
        .get(7..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    format!("D{HUOQIU}{:06}", 100 + seq)
}

/// A refused call's (status, code, first field).
async fn refused(suite: &Suite, path: &str, token: &str, body: Value) -> (u16, String, String) {
    let (status, p) = suite
        .call(Method::POST, path, Some(token), Some(body))
        .await;
    (
        status,
        s(&p["code"]).to_string(),
        s(&p["errors"][0]["field"]).to_string(),
    )
}

async fn admissions(suite: &Suite, op: &str, id: &str) -> i64 {
    let a = suite
        .ok(
            "/v1/accumulators:lookup",
            op,
            json!({"id_number": id, "region_code": HUOQIU, "year": this_year()}),
        )
        .await;
    n(&a["accumulators"]["admissions"])
}

#[tokio::test]
async fn the_county_hospital_declaring_tertiary_and_province_is_refused_and_settles_at_county_deductible_and_rate()
 {
    let suite = Suite::start().await;
    let op = county(&suite).await;
    let (id, _) = resident(&suite, &op, "34152219800101002").await;
    let h = suite.hospital(COUNTY_HOSPITAL);
    // The case: the claim declares 三级 and province although the registry holds a
    // 二级 county hospital.
    let mut declared = inpatient(COUNTY_HOSPITAL, "ZY-R1", &id, "06-15", 10_000);
    declared["claim"]["hospital_grade"] = json!("HOSPITAL_GRADE_TERTIARY");
    declared["claim"]["institution_tier"] = json!("INSTITUTION_TIER_PROVINCE");
    for path in ["/v1/claims:presettle", "/v1/claims:settle"] {
        assert_eq!(
            refused(&suite, path, &h, declared.clone()).await,
            (
                400,
                "SETTLEMENT_DECLARED_FACT_MISMATCH".into(),
                "claim.hospital_grade".into()
            )
        );
    }
    declared["claim"]["hospital_grade"] = json!("HOSPITAL_GRADE_SECONDARY");
    assert_eq!(
        refused(&suite, "/v1/claims:settle", &h, declared.clone()).await,
        (
            400,
            "SETTLEMENT_DECLARED_FACT_MISMATCH".into(),
            "claim.institution_tier".into()
        )
    );
    assert_eq!(
        admissions(&suite, &op, &id).await,
        0,
        "a refusal writes nothing"
    );
    // Declaring what the registry holds, or nothing, settles at the county deductible (500)
    // and rate (75%): (10,000 − 500) × 75% = 7,125.
    declared["claim"]["institution_tier"] = json!("INSTITUTION_TIER_COUNTY");
    let pre = suite.ok("/v1/claims:presettle", &h, declared).await;
    let done = suite
        .ok(
            "/v1/claims:settle",
            &h,
            inpatient(COUNTY_HOSPITAL, "ZY-R1", &id, "06-15", 10_000),
        )
        .await;
    for b in [
        &pre["settlement"]["breakdown"],
        &done["settlement"]["breakdown"],
    ] {
        assert_eq!(n(&b["act_pay_dedc_fen"]), yuan(500), "{b}");
        assert_eq!(b["pool_prop_selfpay_bp"], 7500, "{b}");
        assert_eq!(n(&b["hifp_pay_fen"]), yuan(7_125), "{b}");
    }
    // The stored claim shows the registry's grade and tier, and the physician.
    let claim_id = s(&done["claim_id"]).to_string();
    let got = suite.get_ok(&format!("/v1/claims/{claim_id}"), &h).await;
    let c = &got["claim"]["claim"];
    assert_eq!(c["hospital_grade"], "HOSPITAL_GRADE_SECONDARY");
    assert_eq!(c["institution_tier"], "INSTITUTION_TIER_COUNTY");
    assert_eq!(c["attending_physician_code"], yibao::demo::PHYSICIAN);
    suite.stop().await;
}

#[tokio::test]
async fn an_institution_must_be_registered_active_and_agreed_for_the_scheme_and_service_on_the_claim_date()
 {
    let suite = Suite::start().await;
    let op = county(&suite).await;
    let county_op = suite.operator(HUOQIU);
    let (id, _) = resident(&suite, &op, "34152219800101010").await;
    let y = this_year();
    // Not in the registry at all.
    let stranger = "H34152299999";
    assert_eq!(
        refused(
            &suite,
            "/v1/claims:settle",
            &suite.hospital(stranger),
            inpatient(stranger, "X-1", &id, "06-15", 1_000)
        )
        .await,
        (
            400,
            "SETTLEMENT_INSTITUTION_NOT_REGISTERED".into(),
            "claim.institution_code".into()
        )
    );
    // Registered without an agreement, with an agreement that ended, with an outpatient-only
    // agreement.
    let roster = format!(
        "institution_code,name,kind,grade,tier,effective_from,agreement_no,agreement_from,agreement_to,schemes,service_kinds\n\
         H34152200046,无协议诊所,clinic,ungraded,township,2020-01-01,,,,,\n\
         H34152200047,协议已到期医院,hospital,1,township,2020-01-01,OLD-1,2020-01-01,{last}-12-31,resident,inpatient\n\
         H34152200048,门诊协议医院,hospital,1,township,2020-01-01,OPD-1,{y}-01-01,{y}-12-31,resident,outpatient\n",
        last = y - 1
    );
    let out = suite
        .ok(
            "/v1/institutions:import",
            &county_op,
            json!({"region_code": HUOQIU, "csv": roster}),
        )
        .await;
    assert_eq!(out["stored"], true, "{out}");
    for (code, says) in [
        ("H34152200046", "has no agreement in force"),
        ("H34152200047", "has no agreement in force"),
        (
            "H34152200048",
            "covers inpatient care under the resident scheme",
        ),
    ] {
        let (status, p) = suite
            .call(
                Method::POST,
                "/v1/claims:settle",
                Some(&suite.hospital(code)),
                Some(inpatient(code, "X-2", &id, "06-15", 1_000)),
            )
            .await;
        assert_eq!(
            (status, s(&p["code"]), s(&p["errors"][0]["field"])),
            (400, "SETTLEMENT_NO_AGREEMENT", "claim.institution_code"),
            "{code}: {p}"
        );
        assert!(s(&p["errors"][0]["detail"]).contains(says), "{code}: {p}");
    }
    // Suspended from 1 June: a claim ending on 15 June is refused with the reason, one ending
    // on 20 May still settles; reinstated from 1 July.
    let h3 = "H34152200003";
    let suspended = suite
        .ok(
            &format!("/v1/institutions/{h3}:changeStatus"),
            &county_op,
            json!({"status": "INSTITUTION_STATUS_SUSPENDED", "effective_on": format!("{y}-06-01"), "reason": "phantom bed stays found by inspection"}),
        )
        .await;
    assert_eq!(
        suspended["institution"]["status"],
        "INSTITUTION_STATUS_SUSPENDED"
    );
    let hosp = suite.hospital(h3);
    let (status, p) = suite
        .call(
            Method::POST,
            "/v1/claims:settle",
            Some(&hosp),
            Some(inpatient(h3, "S-1", &id, "06-15", 1_000)),
        )
        .await;
    assert_eq!(
        (status, s(&p["code"])),
        (400, "SETTLEMENT_INSTITUTION_NOT_ACTIVE"),
        "{p}"
    );
    assert!(
        s(&p["errors"][0]["detail"]).contains("phantom bed stays"),
        "{p}"
    );
    suite
        .ok(
            "/v1/claims:settle",
            &hosp,
            inpatient(h3, "S-2", &id, "05-20", 1_000),
        )
        .await;
    suite
        .ok(
            &format!("/v1/institutions/{h3}:changeStatus"),
            &county_op,
            json!({"status": "INSTITUTION_STATUS_ACTIVE", "effective_on": format!("{y}-07-01"), "reason": "corrected after review"}),
        )
        .await;
    suite
        .ok(
            "/v1/claims:settle",
            &hosp,
            inpatient(h3, "S-3", &id, "07-02", 1_000),
        )
        .await;
    // The tier is the one in force on the claim's date: a township health centre counted as
    // county tier from 1 July pays the township deductible (200) before and the county one
    // (500) after.
    let t = "H34152200016";
    let upgraded = format!(
        "institution_code,name,kind,grade,tier,effective_from\n\
         {t},霍邱县城关镇卫生院,hospital,2,county,{y}-07-01\n"
    );
    let out = suite
        .ok(
            "/v1/institutions:import",
            &county_op,
            json!({"region_code": HUOQIU, "csv": upgraded}),
        )
        .await;
    assert_eq!(
        (out["stored"].clone(), n(&out["versions_written"])),
        (json!(true), 1),
        "{out}"
    );
    let ht = suite.hospital(t);
    // A person without an admission this year (the first pays the full deductible).
    let (id, _) = resident(&suite, &op, "34152219800101053").await;
    let before = suite
        .ok(
            "/v1/claims:presettle",
            &ht,
            inpatient(t, "T-1", &id, "06-30", 1_000),
        )
        .await;
    let after = suite
        .ok(
            "/v1/claims:presettle",
            &ht,
            inpatient(t, "T-2", &id, "07-01", 1_000),
        )
        .await;
    assert_eq!(
        n(&before["settlement"]["breakdown"]["act_pay_dedc_fen"]),
        yuan(200)
    );
    assert_eq!(
        n(&after["settlement"]["breakdown"]["act_pay_dedc_fen"]),
        yuan(500)
    );
    suite.stop().await;
}

#[tokio::test]
async fn a_chronic_claim_is_refused_without_a_certification_in_force_and_settles_with_one() {
    let suite = Suite::start().await;
    let op = county(&suite).await;
    let county_op = suite.operator(HUOQIU);
    let (id, pid) = resident(&suite, &op, "34152219800101029").await;
    let y = this_year();
    let h = suite.hospital(COUNTY_HOSPITAL);
    let chronic = |encounter: &str| {
        let mut c = claim(
            COUNTY_HOSPITAL,
            encounter,
            &id,
            "ENCOUNTER_KIND_OUTPATIENT_CHRONIC",
            "03-03",
            1_000,
            yibao::demo::PHYSICIAN,
        );
        c["claim"]["disease_code"] = json!("M03900");
        c
    };
    // The disease code on the claim is no certification.
    assert_eq!(
        refused(&suite, "/v1/claims:settle", &h, chronic("MB-1")).await,
        (
            400,
            "SETTLEMENT_CHRONIC_NOT_REGISTERED".into(),
            "claim.disease_code".into()
        )
    );
    // A pharmacy does not certify; the county hospital does, from 1 January.
    let (status, p) = suite.call(Method::POST, &format!("/v1/persons/{pid}/chronic-certifications"), Some(&county_op), Some(json!({"disease_code": "M03900", "certifying_institution_code": "P34152200001", "valid_from": format!("{y}-01-01")}))).await;
    assert_eq!(
        (status, s(&p["errors"][0]["field"])),
        (400, "certifying_institution_code"),
        "{p}"
    );
    let cert = suite.ok(&format!("/v1/persons/{pid}/chronic-certifications"), &county_op, json!({"disease_code": "M03900", "certifying_institution_code": COUNTY_HOSPITAL, "valid_from": format!("{y}-01-01"), "valid_to": format!("{y}-12-31")})).await;
    let cert_id = s(&cert["certification"]["certification_id"]).to_string();
    assert_eq!(cert["certification"]["status"], "RECORD_STATUS_ACTIVE");
    // An overlapping second one of the same disease is refused.
    let (status, p) = suite.call(Method::POST, &format!("/v1/persons/{pid}/chronic-certifications"), Some(&county_op), Some(json!({"disease_code": "M03900", "certifying_institution_code": COUNTY_HOSPITAL, "valid_from": format!("{y}-06-01")}))).await;
    assert_eq!(
        (status, s(&p["code"])),
        (400, "ENROLLMENT_PRECONDITION_FAILED"),
        "{p}"
    );
    // Now it settles in the chronic pool: 60% of 1,000, no deductible.
    let done = suite.ok("/v1/claims:settle", &h, chronic("MB-1")).await;
    let b = &done["settlement"]["breakdown"];
    assert_eq!(n(&b["hifp_pay_fen"]), yuan(600), "{b}");
    assert_eq!(
        done["settlement"]["layers"][0]["layer"],
        "LAYER_CHRONIC_DISEASE"
    );
    // Revoked: the next chronic claim is refused again.
    let revoked = suite
        .ok(
            &format!("/v1/chronic-certifications/{cert_id}:revoke"),
            &county_op,
            json!({"reason": "diagnosis not confirmed on review"}),
        )
        .await;
    assert_eq!(revoked["certification"]["status"], "RECORD_STATUS_REVOKED");
    assert_eq!(
        refused(&suite, "/v1/claims:settle", &h, chronic("MB-2"))
            .await
            .1,
        "SETTLEMENT_CHRONIC_NOT_REGISTERED"
    );
    // The person's history says who certified and who revoked; auditors read the list, other
    // regions do not.
    let history = suite
        .get_ok(&format!("/v1/persons/{pid}/history"), &county_op)
        .await;
    let kinds: Vec<&str> = history["entries"]
        .as_array()
        .map(|a| a.iter().map(|e| s(&e["kind"])).collect())
        .unwrap_or_default();
    assert!(
        kinds.contains(&"certification.added") && kinds.contains(&"certification.revoked"),
        "{kinds:?}"
    );
    let auditor = suite.token(Role::Auditor, "", HUOQIU);
    let list = suite
        .get_ok(
            &format!("/v1/persons/{pid}/chronic-certifications"),
            &auditor,
        )
        .await;
    assert_eq!(list["certifications"].as_array().map(Vec::len), Some(1));
    let (status, _) = suite
        .call(
            Method::GET,
            &format!("/v1/persons/{pid}/chronic-certifications"),
            Some(&suite.operator("340100")),
            None,
        )
        .await;
    assert_eq!(status, 403);
    suite.stop().await;
}

#[tokio::test]
async fn the_filing_kind_of_a_cross_region_claim_is_the_persons_filing() {
    let suite = Suite::start().await;
    let op = county(&suite).await;
    let county_op = suite.operator(HUOQIU);
    let (id, pid) = resident(&suite, &op, "34152219800101037").await;
    let y = this_year();
    let hefei = "H34010000001";
    register_institution(&suite, hefei, "3", "city").await;
    let h = suite.hospital(hefei);
    let stay = || {
        claim(
            hefei,
            "HF-1",
            &id,
            "ENCOUNTER_KIND_INPATIENT",
            "06-15",
            10_000,
            &physician_of(hefei),
        )
    };
    // Unfiled: the city rate 65% less the unfiled reduction of 20 points.
    let unfiled = suite.ok("/v1/claims:presettle", &h, stay()).await;
    assert_eq!(unfiled["settlement"]["cross_region"], true);
    assert_eq!(
        unfiled["settlement"]["breakdown"]["pool_prop_selfpay_bp"],
        4500
    );
    // Declaring a referral the person does not hold is refused naming the field.
    let mut declared = stay();
    declared["claim"]["cross_region_filing"] = json!("CROSS_REGION_FILING_REFERRAL");
    assert_eq!(
        refused(&suite, "/v1/claims:presettle", &h, declared.clone()).await,
        (
            400,
            "SETTLEMENT_DECLARED_FACT_MISMATCH".into(),
            "claim.cross_region_filing".into()
        )
    );
    // The referral filed (转诊, no reduction): the claim is settled at 65%, declared or not.
    let (status, p) = suite.call(Method::POST, &format!("/v1/persons/{pid}/cross-region-filings"), Some(&county_op), Some(json!({"kind": "FILING_KIND_REFERRAL", "destination_region_code": "341500", "valid_from": format!("{y}-01-01")}))).await;
    assert_eq!(
        (status, s(&p["errors"][0]["field"])),
        (400, "destination_region_code"),
        "Lu'an city is not outside the person's region: {p}"
    );
    suite.ok(&format!("/v1/persons/{pid}/cross-region-filings"), &county_op, json!({"kind": "FILING_KIND_REFERRAL", "destination_region_code": "340100", "valid_from": format!("{y}-01-01")})).await;
    for body in [stay(), declared] {
        let filed = suite.ok("/v1/claims:presettle", &h, body).await;
        assert_eq!(
            filed["settlement"]["breakdown"]["pool_prop_selfpay_bp"], 6500,
            "{filed}"
        );
    }
    suite.stop().await;
}

#[tokio::test]
async fn an_unknown_foreign_or_suspended_physician_is_refused() {
    let suite = Suite::start().await;
    let op = county(&suite).await;
    let (id, _) = resident(&suite, &op, "34152219800101045").await;
    let h = suite.hospital(COUNTY_HOSPITAL);
    let with = |physician: &str| {
        claim(
            COUNTY_HOSPITAL,
            "DR-1",
            &id,
            "ENCOUNTER_KIND_INPATIENT",
            "06-15",
            1_000,
            physician,
        )
    };
    for (physician, says) in [
        ("D341522999999", "is not a registered insurance physician"),
        (yibao::demo::SUSPENDED_PHYSICIAN, "is suspended"),
        ("D341522000102", "practises at H34152200002"),
    ] {
        let (status, p) = suite
            .call(
                Method::POST,
                "/v1/claims:settle",
                Some(&h),
                Some(with(physician)),
            )
            .await;
        assert_eq!(
            (status, s(&p["code"]), s(&p["errors"][0]["field"]),),
            (
                400,
                "SETTLEMENT_PHYSICIAN_NOT_ACCEPTED",
                "claim.attending_physician_code"
            ),
            "{physician}: {p}"
        );
        assert!(s(&p["errors"][0]["detail"]).contains(says), "{p}");
    }
    let (status, p) = suite
        .call(Method::POST, "/v1/claims:settle", Some(&h), Some(with("")))
        .await;
    assert_eq!(
        (status, s(&p["errors"][0]["field"])),
        (400, "claim.attending_physician_code"),
        "a claim names its physician: {p}"
    );
    suite
        .ok("/v1/claims:settle", &h, with(yibao::demo::PHYSICIAN))
        .await;
    // The hospital reads its own physicians, not another's.
    let own = suite
        .get_ok(
            &format!("/v1/institutions/{COUNTY_HOSPITAL}/physicians"),
            &h,
        )
        .await;
    assert_eq!(own["physicians"].as_array().map(Vec::len), Some(2));
    let (status, _) = suite
        .call(Method::GET, "/v1/physicians/D341522000102", Some(&h), None)
        .await;
    assert_eq!(status, 403);
    suite.stop().await;
}

#[tokio::test]
async fn the_roster_is_imported_all_or_nothing_paged_by_code_and_read_by_role() {
    let suite = Suite::start().await;
    let op = suite.operator(HUOQIU);
    let y = this_year();
    // Two bad rows among good ones: each named by line and column, nothing stored.
    let mut bad = yibao::demo::roster(y);
    bad.push_str("H34152200099,,hospital,4,county,2015-01-01,341522,10,,,,,\n");
    bad.push_str(&format!(
        "H34152200098,某医院,hospital,1,county,2015-01-01,341522,10,X-1,{y}-01-01,{y}-12-31,farmer,inpatient\n"
    ));
    let out = suite
        .ok(
            "/v1/institutions:import",
            &op,
            json!({"region_code": HUOQIU, "csv": bad}),
        )
        .await;
    assert_eq!(out["stored"], false);
    let errors: Vec<(i64, &str)> = out["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| (n(&e["line"]), s(&e["field"]))).collect())
        .unwrap_or_default();
    assert_eq!(errors, [(210, "name"), (210, "grade"), (211, "schemes")]);
    let empty = suite
        .get_ok(&format!("/v1/institutions?region_code={HUOQIU}"), &op)
        .await;
    assert_eq!(empty["institutions"].as_array().map(Vec::len), Some(0));
    // Another region's operator cannot import it; a dry run stores nothing.
    let (status, _) = suite
        .call(
            Method::POST,
            "/v1/institutions:import",
            Some(&suite.operator("340100")),
            Some(json!({"region_code": HUOQIU, "csv": yibao::demo::roster(y)})),
        )
        .await;
    assert_eq!(status, 403);
    let dry = suite
        .ok(
            "/v1/institutions:import",
            &op,
            json!({"region_code": HUOQIU, "csv": yibao::demo::roster(y), "dry_run": true}),
        )
        .await;
    assert_eq!(
        (dry["stored"].clone(), n(&dry["institutions_created"])),
        (json!(false), 208)
    );
    // Seed 000's 45 hospital and 163 pharmacy agreements.
    let out = suite
        .ok(
            "/v1/institutions:import",
            &op,
            json!({"region_code": HUOQIU, "csv": yibao::demo::roster(y)}),
        )
        .await;
    assert_eq!(
        (
            n(&out["institutions_created"]),
            n(&out["versions_written"]),
            n(&out["agreements_written"])
        ),
        (208, 208, 208),
        "{out}"
    );
    let again = suite
        .ok(
            "/v1/institutions:import",
            &op,
            json!({"region_code": HUOQIU, "csv": yibao::demo::roster(y)}),
        )
        .await;
    assert_eq!(n(&again["unchanged_rows"]), 208);
    // Keyset pages by code: 100 + 100 + 8, and 163 pharmacies.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = suite
            .get_ok(
                &format!(
                    "/v1/institutions?region_code={HUOQIU}&page.page_size=100&page.page_token={token}"
                ),
                &op,
            )
            .await;
        for i in page["institutions"].as_array().into_iter().flatten() {
            seen.push(s(&i["institution_code"]).to_string());
        }
        token = s(&page["page"]["next_page_token"]).to_string();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 208);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in code order");
    let pharmacies = suite
        .get_ok(
            &format!(
                "/v1/institutions?region_code={HUOQIU}&kind=INSTITUTION_KIND_PHARMACY&page.page_size=1000"
            ),
            &op,
        )
        .await;
    assert_eq!(
        pharmacies["institutions"].as_array().map(Vec::len),
        Some(163)
    );
    // Reads: the hospital its own, the region's auditor; not another hospital or region.
    let own = suite
        .get_ok(
            &format!("/v1/institutions/{COUNTY_HOSPITAL}"),
            &suite.hospital(COUNTY_HOSPITAL),
        )
        .await;
    let current = &own["institution"]["current"];
    assert_eq!(
        (
            s(&current["grade"]),
            s(&current["tier"]),
            s(&current["kind"])
        ),
        (
            "INSTITUTION_GRADE_2",
            "INSTITUTION_TIER_COUNTY",
            "INSTITUTION_KIND_HOSPITAL"
        )
    );
    assert_eq!(own["institution"]["status"], "INSTITUTION_STATUS_ACTIVE");
    suite
        .get_ok(
            &format!("/v1/institutions/{COUNTY_HOSPITAL}"),
            &suite.token(Role::Auditor, "", HUOQIU),
        )
        .await;
    for token in [suite.hospital("H34152200002"), suite.operator("340100")] {
        let (status, _) = suite
            .call(
                Method::GET,
                &format!("/v1/institutions/{COUNTY_HOSPITAL}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, 403);
    }
    // Status changes: operators of the region only, journalled with the reason.
    let (status, _) = suite
        .call(
            Method::POST,
            &format!("/v1/institutions/{COUNTY_HOSPITAL}:changeStatus"),
            Some(&suite.token(Role::Auditor, "", HUOQIU)),
            Some(json!({"status": "INSTITUTION_STATUS_SUSPENDED", "effective_on": format!("{y}-09-01"), "reason": "x"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, p) = suite
        .call(
            Method::POST,
            &format!("/v1/institutions/{COUNTY_HOSPITAL}:changeStatus"),
            Some(&op),
            Some(json!({"status": "INSTITUTION_STATUS_TERMINATED", "effective_on": format!("{y}-09-01"), "reason": ""})),
        )
        .await;
    assert_eq!((status, s(&p["errors"][0]["field"])), (400, "reason"));
    suite
        .ok(
            &format!("/v1/institutions/{COUNTY_HOSPITAL}:changeStatus"),
            &op,
            json!({"status": "INSTITUTION_STATUS_TERMINATED", "effective_on": format!("{y}-09-01"), "reason": "agreement terminated for fraud"}),
        )
        .await;
    let history = suite
        .get_ok(
            &format!("/v1/institutions/{COUNTY_HOSPITAL}/history"),
            &suite.hospital(COUNTY_HOSPITAL),
        )
        .await;
    let kinds: Vec<&str> = history["entries"]
        .as_array()
        .map(|a| a.iter().map(|e| s(&e["kind"])).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds,
        [
            "institution.registered",
            "institution.version_written",
            "agreement.written",
            "status.changed"
        ]
    );
    assert_eq!(history["entries"][3]["audit"]["role"], "operator");
    let (status, p) = suite
        .call(
            Method::POST,
            &format!("/v1/institutions/{COUNTY_HOSPITAL}:changeStatus"),
            Some(&op),
            Some(json!({"status": "INSTITUTION_STATUS_ACTIVE", "effective_on": format!("{y}-10-01"), "reason": "appeal"})),
        )
        .await;
    assert_eq!(
        (status, s(&p["code"])),
        (400, "ENROLLMENT_PRECONDITION_FAILED"),
        "termination is final: {p}"
    );
    suite.stop().await;
}
