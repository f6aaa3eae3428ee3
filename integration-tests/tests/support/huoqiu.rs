//! The Huoqiu setting of the settlement suites (`settlement.rs`, `encounters.rs`): this year's
//! Huoqiu resident policy, procurement's catalogue of Anhui and Guangdong with a 甲 service, a
//! 甲 bed and a 乙 drug, the institutions in the registry, and a poor (脱贫) resident.
// Each suite uses a part of this module.
#![allow(dead_code)]

use serde_json::{Value, json};
use yibao_integration_tests::{
    Suite, enrolled_person, id_number, register_institution, s, this_year,
};

pub const HUOQIU: &str = "341522";
pub const ANHUI: &str = "340000";
/// The Lu'an city hospital (三级, city).
pub const CITY_HOSPITAL: &str = "H34150200001";
/// The Huoqiu county hospital (二级, county).
pub const OTHER_HOSPITAL: &str = "H34152200001";
pub const ZHONGSHAN: &str = "442000";
pub const ZS_HOSPITAL: &str = "H44200000001";

/// 住院诊查费, 甲类 in procurement's catalogue of Anhui and Guangdong.
pub const A_SERVICES: &str = "001102000050000";
/// A drug, 乙类 (the policy's first self-pay share).
pub const B_DRUGS: &str = "XC10AAA123A000000000009";
/// 普通病房床位费, 甲类.
pub const A_BED: &str = "001109000010300";

/// Uploads this year's version of a seeded policy (same rules, new id and year).
pub async fn upload_this_years(suite: &Suite, op: &str, seeded_id: &str, region: &str) -> Value {
    let y = this_year();
    let got = suite
        .get_ok(
            &format!("/v1/policies/{seeded_id}?region_code={region}"),
            op,
        )
        .await;
    let mut doc: Value = serde_json::from_str(s(&got["document_json"])).unwrap_or(Value::Null);
    let scheme = s(&doc["scheme"]).to_string();
    doc["id"] = json!(format!("{region}-{y}-{scheme}"));
    doc["version"] = json!(1);
    doc["year"] = json!(y);
    doc["effective_from"] = json!(format!("{y}-01-01"));
    let up = suite
        .ok(
            "/v1/policies",
            op,
            json!({"region_code": region, "document_json": doc.to_string()}),
        )
        .await;
    assert_eq!(up["policy"]["year"], json!(y), "{up}");
    up
}

/// A poor (脱贫) resident of Huoqiu, enrolled and paid for this year; returns the ID number.
pub async fn poor_huoqiu_resident(suite: &Suite, op: &str, first17: &str) -> String {
    let id = id_number(first17);
    let (pid, _) = enrolled_person(suite, op, &id, HUOQIU, true).await;
    suite
        .ok(
            &format!("/v1/persons/{pid}/categories"),
            op,
            json!({"category": "PERSON_CATEGORY_POVERTY_REGISTERED", "valid_from": "2016-01-01"}),
        )
        .await;
    id
}

/// The suites' catalogue: their 甲 and 乙 items; `C-OUT` and `UNLISTED` are in no catalogue.
pub fn catalogue_csv() -> String {
    format!(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,valid_from\n\
         {A_SERVICES},service_item,住院诊查费,,日,,甲,2000-01-01\n\
         {A_BED},service_item,普通病房床位费,,日,,甲,2000-01-01\n\
         {B_DRUGS},drug,阿托伐他汀钙片,片剂,20mg,药企,乙,2000-01-01\n"
    )
}

/// Imports the suites' catalogue into procurement's catalogues of Anhui and Guangdong.
pub async fn catalogue(suite: &Suite) {
    for province in [ANHUI, "440000"] {
        let out = suite
            .ok(
                "/v1/procurement/catalogue:import",
                &suite.operator(province),
                json!({"region_code": province, "csv_text": catalogue_csv()}),
            )
            .await;
        assert_eq!(out["stored"], true, "{out}");
    }
}

/// The institutions the suites settle at, in the registry, each with an agreement and a
/// physician.
pub async fn registry(suite: &Suite) {
    for (code, grade, tier) in [
        (CITY_HOSPITAL, "3", "city"),
        (OTHER_HOSPITAL, "2", "county"),
        ("H34010000001", "3", "city"),
        (ZS_HOSPITAL, "3", "city"),
    ] {
        register_institution(suite, code, grade, tier).await;
    }
}

/// A person-year's accumulators, read by an operator.
pub async fn accumulators(suite: &Suite, op: &str, id: &str, region: &str) -> Value {
    suite
        .ok(
            "/v1/accumulators:lookup",
            op,
            json!({"id_number": id, "region_code": region, "year": this_year()}),
        )
        .await["accumulators"]
        .clone()
}

/// Huoqiu this year, an operator of Anhui, a poor patient.
pub async fn huoqiu(suite: &Suite, first17: &str) -> (String, String) {
    let op = suite.operator(ANHUI);
    catalogue(suite).await;
    registry(suite).await;
    upload_this_years(suite, &op, "341522-2018-resident", HUOQIU).await;
    let id = poor_huoqiu_resident(suite, &op, first17).await;
    (op, id)
}
