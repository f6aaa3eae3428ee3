use super::*;
use chrono::TimeZone;

/// A 2207 envelope as public HIS client code builds it.
fn body(overrides: &[(&str, serde_json::Value)]) -> Vec<u8> {
    let mut v = serde_json::json!({
        "infno": "2207",
        "msgid": "H34152200001202612011931220001",
        "mdtrtarea_admvs": "341522",
        "insuplc_admdvs": "341522",
        "recer_sys_code": "YBXT",
        "dev_no": "",
        "dev_safe_info": "",
        "cainfo": "",
        "signtype": "SM3",
        "infver": "V1.0",
        "opter_type": 1,
        "opter": "0001",
        "opter_name": "收费员",
        "inf_time": "2026-12-01 19:31:22",
        "fixmedins_code": "H34152200001",
        "fixmedins_name": "霍邱县第一人民医院",
        "sign_no": "",
        "input": {"data": {"psn_no": "34000000000000000001", "medfee_sumamt": 23442.46}}
    });
    for (k, val) in overrides {
        v[*k] = val.clone();
    }
    serde_json::to_vec(&v).unwrap()
}

fn check(b: &[u8]) -> Result<Request, Vec<FieldError>> {
    RawRequest::parse(b).map_err(|e| vec![e])?.check()
}

#[test]
fn a_his_envelope_is_read() {
    let r = check(&body(&[])).unwrap();
    assert_eq!(r.infno, "2207");
    assert_eq!(r.opter_type, OperatorType::Clerk);
    assert_eq!(
        r.msg_time,
        NaiveDateTime::parse_from_str("20261201193122", "%Y%m%d%H%M%S").unwrap()
    );
    assert_eq!(r.insuplc_admdvs.as_deref(), Some("341522"));
    assert_eq!(r.dev_no, None, "empty strings are absent");
    // The input keeps its text: money in it is read exactly later.
    assert!(r.input.get().contains("23442.46"), "{}", r.input.get());
}

#[test]
fn every_bad_field_is_named() {
    let errors = check(&body(&[
        ("msgid", "H34152200001202613011931220001".into()),
        ("mdtrtarea_admvs", "34152".into()),
        ("opter_type", "9".into()),
        ("inf_time", "2026/12/01".into()),
        ("input", serde_json::json!([1])),
    ]))
    .unwrap_err();
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "msgid",
            "mdtrtarea_admvs",
            "opter_type",
            "inf_time",
            "input"
        ],
        "{errors:?}"
    );
    assert!(errors[0].to_string().starts_with("msgid: characters 13-26"));
}

#[test]
fn missing_fields_are_required_by_name() {
    let errors = check(br#"{"infno": "1101"}"#).unwrap_err();
    let msg = err_msg(&errors);
    assert!(
        msg.starts_with("fixmedins_code: is required; msgid: is required"),
        "{msg}"
    );
    assert!(msg.chars().count() <= MAX_ERR_MSG_CHARS);
    let e = check(b"[]").unwrap_err();
    assert_eq!(e[0].path, "body");
}

#[test]
fn msgid_must_be_the_institutions() {
    let errors = check(&body(&[("msgid", "H34152200002202612011931220001".into())])).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .message
            .contains("must begin with fixmedins_code `H34152200001`"),
        "{errors:?}"
    );
    let errors = check(&body(&[("msgid", "H3415220000120261201193122".into())])).unwrap_err();
    assert!(
        errors[0].message.contains("must be 30 characters"),
        "{errors:?}"
    );
}

#[test]
fn input_is_bounded() {
    let long = "x".repeat(MAX_INPUT_CHARS);
    let errors = check(&body(&[("input", serde_json::json!({ "data": long }))])).unwrap_err();
    assert_eq!(errors[0].path, "input");
    assert!(errors[0].message.contains("longer than 40000"));
}

#[test]
fn ids_and_stamps_have_the_interfaces_shape() {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 19, 31, 22).unwrap();
    let id = inf_refmsgid("341522", at, 12_345_678_901);
    assert_eq!(id, "341522202612011931222345678901");
    assert_eq!(id.len(), 30);
    assert_eq!(stamp(at), "20261201193122000");
}

#[test]
fn answers_have_the_envelope_fields() {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 19, 31, 22).unwrap();
    let a = Answering {
        inf_refmsgid: inf_refmsgid("341522", at, 1),
        received: at,
        responded: at,
    };
    let ok =
        serde_json::to_value(Response::success(&a, serde_json::json!({"x": 1}), None)).unwrap();
    assert_eq!(ok["infcode"], 0);
    assert_eq!(ok["output"]["x"], 1);
    assert_eq!(ok["err_msg"], serde_json::Value::Null);
    let long = "é".repeat(300);
    let bad = serde_json::to_value(Response::<()>::failure(&a, &long)).unwrap();
    assert_eq!(bad["infcode"], -1);
    assert_eq!(bad["output"], serde_json::Value::Null);
    assert_eq!(
        bad["err_msg"].as_str().unwrap().chars().count(),
        MAX_ERR_MSG_CHARS
    );
    assert_eq!(bad["refmsg_time"], "20261201193122000");
}
