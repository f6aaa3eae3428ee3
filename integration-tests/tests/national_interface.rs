//! The national interface for designated institutions through the gateway
//! (`POST /fsi/api/rsfComIfsService/callService`, decision 0012), as a HIS drives it, on
//! whichever backend the run uses: a whole session 9001 → 1101 → 2401 → 2301 twice (two days)
//! → 2302 → 2403 → 2402 → 2303 → 2304 → 5206 → 2305 → 3201 settling DOMAIN §1.7's worked
//! example to the fen, equal to the native settlement of the same lines; bad envelopes that
//! name their field and write nothing; a repeated msgid that returns the first settlement; and
//! 2601 (冲正) by msgid.

use http::Method;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use yibao_gateway::fsi::yibao_fsi::{self, ids, setl::SetlDetail, setl::SetlInfo, signature};
use yibao_integration_tests::{
    Suite, enrolled_person, id_number, n, physician_of, register_institution, s, this_year, yuan,
};

const HUOQIU: &str = "341522";
const ANHUI: &str = "340000";
/// 三级, city tier: DOMAIN §1.7's hospital.
const CITY_HOSPITAL: &str = "H34150200001";
const COUNTY_HOSPITAL: &str = "H34152200001";
const A_SERVICES: &str = "001102000050000";
const B_DRUGS: &str = "XC10AAA123A000000000009";
const A_BED: &str = "001109000010300";
const PATH: &str = "/fsi/api/rsfComIfsService/callService";

/// The catalogue (甲 services and bed, 乙 drug), the institutions, this year's Huoqiu policy and
/// a poverty-registered Huoqiu resident; returns the ID number.
async fn setup(suite: &Suite, first17: &str) -> String {
    let csv = format!(
        "code,kind,generic_name,dosage_form,specification,manufacturer,class,valid_from\n\
         {A_SERVICES},service_item,住院诊查费,,日,,甲,2000-01-01\n\
         {A_BED},service_item,普通病房床位费,,日,,甲,2000-01-01\n\
         {B_DRUGS},drug,阿托伐他汀钙片,片剂,20mg,药企,乙,2000-01-01\n"
    );
    let op = suite.operator(ANHUI);
    let out = suite
        .ok(
            "/v1/procurement/catalogue:import",
            &op,
            json!({"region_code": ANHUI, "csv_text": csv}),
        )
        .await;
    assert_eq!(out["stored"], true, "{out}");
    register_institution(suite, CITY_HOSPITAL, "3", "city").await;
    register_institution(suite, COUNTY_HOSPITAL, "2", "county").await;
    let y = this_year();
    let got = suite
        .get_ok(
            &format!("/v1/policies/341522-2018-resident?region_code={HUOQIU}"),
            &op,
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
            &op,
            json!({"region_code": HUOQIU, "document_json": doc.to_string()}),
        )
        .await;
    let id = id_number(first17);
    let (pid, _) = enrolled_person(suite, &op, &id, HUOQIU, true).await;
    suite
        .ok(
            &format!("/v1/persons/{pid}/categories"),
            &op,
            json!({"category": "PERSON_CATEGORY_POVERTY_REGISTERED", "valid_from": "2016-01-01"}),
        )
        .await;
    id
}

/// A HIS: its institution, its credentials (issued through the gateway by an operator), its
/// sign-in and its message sequence.
struct His<'a> {
    suite: &'a Suite,
    org: String,
    paasid: String,
    token: String,
    sign_no: String,
    seq: AtomicU32,
}

/// An answer: the envelope as JSON, and its text (money read exactly from it).
struct Answer {
    v: Value,
    text: String,
    infno: String,
}

impl Answer {
    fn ok(&self) -> &Value {
        assert_eq!(self.v["infcode"], 0, "{}: {}", self.infno, self.text);
        &self.v["output"]
    }

    fn refused(&self) -> &str {
        assert_eq!(self.v["infcode"], -1, "{}: {}", self.infno, self.text);
        assert!(self.v["output"].is_null(), "{}", self.text);
        s(&self.v["err_msg"])
    }

    /// `output.setlinfo` and `output.setldetail`, read from the text.
    fn setl(&self) -> (SetlInfo, Vec<SetlDetail>) {
        self.ok();
        let top: HashMap<String, Box<RawValue>> =
            serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}"));
        let out: HashMap<String, Box<RawValue>> =
            serde_json::from_str(top["output"].get()).unwrap_or_else(|e| panic!("{e}"));
        let info: SetlInfo =
            serde_json::from_str(out["setlinfo"].get()).unwrap_or_else(|e| panic!("setlinfo: {e}"));
        let details: Vec<SetlDetail> = serde_json::from_str(out["setldetail"].get())
            .unwrap_or_else(|e| panic!("setldetail: {e}"));
        (info, details)
    }
}

fn headers(paasid: &str, token: &str, ts: i64, nonce: &str) -> Vec<(&'static str, String)> {
    let t = ts.to_string();
    vec![
        ("x-tif-paasid", paasid.to_string()),
        ("x-tif-timestamp", t.clone()),
        ("x-tif-nonce", nonce.to_string()),
        ("x-tif-signature", signature::signature(&t, token, nonce)),
    ]
}

impl<'a> His<'a> {
    async fn connect(suite: &'a Suite, org: &str) -> His<'a> {
        let op = suite.operator(&org[1..7]);
        let out = suite
            .ok(
                &format!("/v1/institutions/{org}:issueInterfaceCredential"),
                &op,
                json!({}),
            )
            .await;
        let mut his = His {
            suite,
            org: org.to_string(),
            paasid: s(&out["credential"]["paasid"]).to_string(),
            token: s(&out["credential"]["paas_token"]).to_string(),
            sign_no: String::new(),
            seq: AtomicU32::new(0),
        };
        assert!(!his.paasid.is_empty() && !his.token.is_empty(), "{out}");
        let a = his
            .call("9001", json!({"signIn": {"opter_no": "001", "mac": "00-16-3E-00-00-01", "ip": "10.0.0.8"}}))
            .await;
        his.sign_no = s(&a.ok()["signinoutb"]["sign_no"]).to_string();
        assert_eq!(his.sign_no.len(), 30, "{}", a.text);
        his
    }

    fn msgid(&self) -> String {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        format!(
            "{}{}{:04}",
            self.org,
            chrono::Local::now().format("%Y%m%d%H%M%S"),
            seq % 10_000
        )
    }

    fn fresh(&self) -> Vec<(&'static str, String)> {
        headers(
            &self.paasid,
            &self.token,
            chrono::Utc::now().timestamp(),
            &uuid::Uuid::new_v4().simple().to_string(),
        )
    }

    fn envelope(&self, infno: &str, msgid: &str, input: Value) -> Value {
        json!({
            "infno": infno, "msgid": msgid, "mdtrtarea_admvs": &self.org[1..7], "insuplc_admdvs": HUOQIU,
            "recer_sys_code": "YBXT", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "SM3",
            "infver": "V1.0", "opter_type": "1", "opter": "001", "opter_name": "收费员",
            "inf_time": chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string(),
            "fixmedins_code": &self.org, "fixmedins_name": "测试机构", "sign_no": &self.sign_no,
            "input": input
        })
    }

    /// Posts `body` with `headers`.
    async fn post(&self, headers: &[(&str, String)], body: String) -> Answer {
        let mut req = self
            .suite
            .http
            .post(format!("{}{PATH}", self.suite.base))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resp.status().as_u16(), 200, "every answer is HTTP 200");
        let text = resp.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let infno = serde_json::from_str::<Value>(&body)
            .map(|b| s(&b["infno"]).to_string())
            .unwrap_or_default();
        Answer { v, text, infno }
    }

    async fn call(&self, infno: &str, input: Value) -> Answer {
        self.call_as(infno, &self.msgid(), input).await
    }

    async fn call_as(&self, infno: &str, msgid: &str, input: Value) -> Answer {
        let body = self.envelope(infno, msgid, input).to_string();
        self.post(&self.fresh(), body).await
    }
}

/// A fee line of the encounter `of` = (mdtrt_id, psn_no).
fn line(
    sn: &str,
    of: (&str, &str),
    day: &str,
    code: &str,
    price: &str,
    cnt: u32,
    total: &str,
) -> Value {
    json!({
        "feedetl_sn": sn, "mdtrt_id": of.0, "psn_no": of.1, "chrg_bchno": "B1", "rx_circ_flag": "0",
        "fee_ocur_time": format!("{}-{day} 09:00:00", this_year()), "med_list_codg": code,
        "medins_list_codg": format!("HIS-{code}"), "det_item_fee_sumamt": total, "cnt": cnt, "pric": price,
        "bilg_dept_codg": "0301", "bilg_dr_codg": "D001", "hosp_appr_flag": "1"
    })
}

/// 1101 of an ID card, then 2401: (psn_no, mdtrt_id).
async fn admit(his: &His<'_>, id: &str, ipt_no: &str) -> (String, String) {
    let a = his
        .call("1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id, "card_sn": "", "begntime": "", "psn_cert_type": "01", "certno": id, "psn_name": "测试"}}))
        .await;
    let out = a.ok();
    let psn_no = s(&out["baseinfo"]["psn_no"]).to_string();
    let y = this_year();
    let a = his
        .call("2401", json!({
            "mdtrtinfo": {"psn_no": psn_no, "insutype": "390", "coner_name": "家属", "tel": "13800000000",
                "begntime": format!("{y}-06-10 08:30:00"), "mdtrt_cert_type": "02", "mdtrt_cert_no": id,
                "med_type": "21", "ipt_no": ipt_no, "medrcdno": "", "atddr_no": physician_of(&his.org),
                "chfpdr_name": "测试医师", "adm_diag_dscr": "高血压", "adm_dept_codg": "0301", "adm_dept_name": "内科",
                "adm_bed": "12", "dscg_maindiag_code": "I10.x00x002", "dscg_maindiag_name": "高血压"},
            "diseinfo": [{"psn_no": psn_no, "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1", "diag_code": "I10.x00x002", "diag_name": "高血压"}]
        }))
        .await;
    let mdtrt_id = s(&a.ok()["result"]["mdtrt_id"]).to_string();
    assert_eq!(mdtrt_id.len(), 26, "{}", a.text);
    (psn_no, mdtrt_id)
}

fn settle_input(psn: &str, mdtrt: &str, id: &str, total: &str) -> Value {
    json!({"data": {"psn_no": psn, "mdtrt_cert_type": "02", "mdtrt_cert_no": id, "med_type": "21",
        "medfee_sumamt": total, "psn_setlway": "01", "mdtrt_id": mdtrt, "insutype": "390",
        "acct_used_flag": "0", "invono": "", "mid_setl_flag": "0", "fulamt_ownpay_amt": "0.00",
        "overlmt_selfpay": "0.00", "preselfpay_amt": "0.00", "inscp_scp_amt": "0.00",
        "dscg_time": format!("{}-06-15 10:00:00", this_year())}})
}

fn fen(y: yibao_fsi::Yuan) -> i64 {
    y.fen().get()
}

#[tokio::test]
async fn a_his_session_settles_the_worked_example_to_the_fen_as_the_native_path_does() {
    let _t = yibao_runtime::telemetry::init(
        "test",
        &yibao_runtime::config::TelemetryConfig {
            log_level: "warn".into(),
            ..Default::default()
        },
    );
    let suite = Suite::start().await;
    let id = setup(&suite, "34152219580312002").await;
    let his = His::connect(&suite, CITY_HOSPITAL).await;
    let y = this_year();

    // 1101: the person, the insurance, the categories.
    let a = his
        .call("1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id, "psn_cert_type": "01", "certno": id}}))
        .await;
    let out = a.ok();
    assert_eq!(out["baseinfo"]["psn_name"], "测试", "{}", a.text);
    assert_eq!(
        out["baseinfo"]["gend"], "2",
        "the 17th digit is even: female"
    );
    assert_eq!(out["baseinfo"]["brdy"], "1958-03-12");
    assert!(
        s(&out["baseinfo"]["certno"]).contains('*'),
        "the ID number is masked: {}",
        a.text
    );
    assert_eq!(out["insuinfo"][0]["insutype"], "390");
    assert_eq!(out["insuinfo"][0]["psn_insu_stas"], "1");
    assert_eq!(out["insuinfo"][0]["insuplc_admdvs"], HUOQIU);
    assert!(
        a.text.contains(r#""balc":0.00"#),
        "money has two decimals: {}",
        a.text
    );
    assert_eq!(
        out["idetinfo"][0]["psn_idet_type"], "2301",
        "poverty-registered"
    );

    let (psn, mdtrt) = admit(&his, &id, "ZY-NI-0001").await;
    let person_id = ids::to_uuid(&psn).unwrap_or_default();
    assert_eq!(person_id.len(), 36);
    // 2301 on the day of admission, and again two days later (a line to be cancelled in it).
    let a = his
        .call(
            "2301",
            json!({"feedetail": [
                line("1", (&mdtrt, &psn), "06-10", "C-OUT", "10000.00", 1, "10000.00"),
                line("2", (&mdtrt, &psn), "06-10", B_DRUGS, "400.00", 100, "40000.00"),
            ]}),
        )
        .await;
    let r = &a.ok()["result"];
    assert_eq!(r[0]["chrgitm_lv"], "03", "{}", a.text);
    assert_eq!(r[1]["chrgitm_lv"], "02", "{}", a.text);
    assert!(
        a.text.contains(r#""fulamt_ownpay_amt":10000.00"#),
        "{}",
        a.text
    );
    assert!(
        a.text.contains(r#""preselfpay_amt":4000.00"#),
        "乙 10% first self-pay: {}",
        a.text
    );
    assert!(a.text.contains(r#""selfpay_prop":0.1000"#), "{}", a.text);
    let a = his
        .call(
            "2301",
            json!({"feedetail": [
                line("3", (&mdtrt, &psn), "06-12", A_SERVICES, "100000.00", 1, "100000.00"),
                line("4", (&mdtrt, &psn), "06-12", A_BED, "80.00", 3, "240.00"),
            ]}),
        )
        .await;
    assert_eq!(a.ok()["result"][0]["chrgitm_lv"], "01", "{}", a.text);
    let a = his
        .call("2302", json!({"data": {"mdtrt_id": mdtrt, "psn_no": psn, "chrg_bchno": "B1", "feedetl_sn": "4"}}))
        .await;
    assert_eq!(a.ok()["cancelled"], 1, "{}", a.text);
    let a = his
        .call("2403", json!({"adminfo": {"mdtrt_id": mdtrt, "psn_no": psn, "atddr_no": physician_of(CITY_HOSPITAL)},
            "diseinfo": [{"diag_code": "I10.x00x002", "maindiag_flag": "1"}, {"diag_code": "E11.900", "maindiag_flag": "0"}]}))
        .await;
    a.ok();
    let a = his
        .call("2402", json!({"dscginfo": {"mdtrt_id": mdtrt, "psn_no": psn, "endtime": format!("{y}-06-15 10:00:00"), "dise_codg": "I10.x00x002", "dscg_way": "1"}}))
        .await;
    a.ok();

    // The native path over the same lines, pre-settled (nothing written).
    let item = |code: &str, qty: i64, price: i64| json!({"national_code": code, "name": code, "quantity": qty, "unit_price_fen": price, "amount_fen": qty * price});
    let native = suite
        .ok(
            "/v1/claims:presettle",
            &suite.hospital(CITY_HOSPITAL),
            json!({"claim": {"institution_code": CITY_HOSPITAL, "encounter_no": "NATIVE-1", "id_number": id,
                "insured_region_code": HUOQIU, "kind": "ENCOUNTER_KIND_INPATIENT", "attending_physician_code": physician_of(CITY_HOSPITAL),
                "start_date": format!("{y}-06-10"), "end_date": format!("{y}-06-15"), "diagnoses": ["I10.x00x002", "E11.900"],
                "items": [item("C-OUT", 1, yuan(10_000)), item(B_DRUGS, 100, yuan(400)), item(A_SERVICES, 1, yuan(100_000))]}}),
        )
        .await;
    let nb = &native["settlement"]["breakdown"];

    // 2303 then 2304: the declared total must be the lines'.
    let a = his
        .call("2303", settle_input(&psn, &mdtrt, &id, "150000.01"))
        .await;
    assert!(
        a.refused().starts_with(
            "input.data.medfee_sumamt: 150000.01 differs from the uploaded lines' total 150000.00"
        ),
        "{}",
        a.text
    );
    let (pre, _) = his
        .call("2303", settle_input(&psn, &mdtrt, &id, "150000.00"))
        .await
        .setl();
    let msgid = his.msgid();
    let settled = his
        .call_as("2304", &msgid, settle_input(&psn, &mdtrt, &id, "150000.00"))
        .await;
    let (info, details) = settled.setl();
    assert_eq!(
        pre.fund_pay_sumamt, info.fund_pay_sumamt,
        "pre-settlement = settlement"
    );
    assert_eq!(info.check_identities(), Ok(()), "{}", settled.text);
    assert_eq!(
        details.iter().map(|d| fen(d.fund_payamt)).sum::<i64>(),
        fen(info.fund_pay_sumamt),
        "setldetail sums to fund_pay_sumamt"
    );
    // DOMAIN §1.7, to the fen.
    assert_eq!(fen(info.medfee_sumamt), yuan(150_000));
    assert_eq!(fen(info.fulamt_ownpay_amt), yuan(10_000));
    assert_eq!(fen(info.preselfpay_amt), yuan(4_000));
    assert_eq!(fen(info.inscp_scp_amt), yuan(136_000));
    assert_eq!(fen(info.hifp_pay), yuan(87_750));
    assert_eq!(fen(info.hifmi_pay), 2_811_250);
    assert_eq!(fen(info.maf_pay), 1_409_625);
    assert_eq!(fen(info.oth_pay), 104_125);
    assert_eq!(fen(info.fund_pay_sumamt), yuan(131_000));
    assert_eq!(fen(info.psn_part_amt), yuan(19_000));
    // … and equal to the native settlement of the same lines, field by field.
    for (name, ours, native) in [
        (
            "medfee_sumamt",
            info.medfee_sumamt,
            &nb["medfee_sumamt_fen"],
        ),
        (
            "fulamt_ownpay_amt",
            info.fulamt_ownpay_amt,
            &nb["fulamt_ownpay_amt_fen"],
        ),
        (
            "overlmt_selfpay",
            info.overlmt_selfpay,
            &nb["overlmt_selfpay_fen"],
        ),
        (
            "preselfpay_amt",
            info.preselfpay_amt,
            &nb["preselfpay_amt_fen"],
        ),
        (
            "inscp_scp_amt",
            info.inscp_scp_amt,
            &nb["inscp_scp_amt_fen"],
        ),
        ("act_pay_dedc", info.act_pay_dedc, &nb["act_pay_dedc_fen"]),
        ("hifp_pay", info.hifp_pay, &nb["hifp_pay_fen"]),
        ("hifmi_pay", info.hifmi_pay, &nb["hifmi_pay_fen"]),
        ("maf_pay", info.maf_pay, &nb["maf_pay_fen"]),
        ("oth_pay", info.oth_pay, &nb["oth_pay_fen"]),
        (
            "fund_pay_sumamt",
            info.fund_pay_sumamt,
            &nb["fund_pay_sumamt_fen"],
        ),
        ("psn_part_amt", info.psn_part_amt, &nb["psn_part_amt_fen"]),
        ("psn_cash_pay", info.psn_cash_pay, &nb["psn_cash_pay_fen"]),
    ] {
        assert_eq!(
            fen(ours),
            n(native),
            "{name}: interface {ours}, native {native}"
        );
    }
    assert_eq!(info.psn_no, psn);
    assert_eq!(info.mdtrt_id, mdtrt);
    assert_eq!(info.insutype, "390");
    assert_eq!(info.med_type, "21");
    assert_eq!(info.psn_name, "测试");
    assert_eq!(info.medins_setl_id, msgid);
    let claim_id = ids::to_uuid(&info.setl_id).unwrap_or_default();
    let claim = suite
        .get_ok(
            &format!("/v1/claims/{claim_id}"),
            &suite.hospital(CITY_HOSPITAL),
        )
        .await;
    assert_eq!(
        claim["claim"]["status"], "CLAIM_STATUS_SETTLED",
        "setl_id is the claim"
    );

    // 5206: the year's counters.
    let a = his
        .call(
            "5206",
            json!({"data": {"psn_no": psn, "cum_ym": format!("{y}06")}}),
        )
        .await;
    let rows = a.ok()["cuminfo"].as_array().cloned().unwrap_or_default();
    let backstop = rows
        .iter()
        .find(|r| r["cum_type_code"] == "backstop_oop")
        .cloned()
        .unwrap_or(Value::Null);
    assert!(
        a.text
            .contains(r#""cum_type_code":"backstop_oop","cum":5000.00"#),
        "{}",
        a.text
    );
    assert_eq!(backstop["year"], y);

    // 5203: the settlement as it stands.
    let a = his
        .call(
            "5203",
            json!({"data": {"psn_no": psn, "mdtrt_id": mdtrt, "setl_id": info.setl_id}}),
        )
        .await;
    let (queried, _) = a.setl();
    assert_eq!(queried.fund_pay_sumamt, info.fund_pay_sumamt);

    // 3202, answered inline: the HIS's rows against the settlements in force.
    let detail = |fund: &str| {
        json!({"data": {"insutype": "390", "clr_type": "21", "setl_optins": HUOQIU,
            "stmt_begndate": format!("{y}-06-01"), "stmt_enddate": format!("{y}-06-30"),
            "medfee_sumamt": "150000.00", "fund_pay_sumamt": fund, "acct_pay": "0.00", "fixmedins_setl_cnt": 1},
            "details": [{"setl_id": info.setl_id, "medfee_sumamt": "150000.00", "fund_pay_sumamt": fund}]})
    };
    let a = his.call("3202", detail("131000.00")).await;
    assert_eq!(a.ok()["stmtinfo"]["stmt_rslt"], "0", "{}", a.text);
    assert_eq!(a.ok()["details"][0]["stmt_rslt"], "0", "{}", a.text);
    assert_eq!(a.ok()["details"][0]["setl_id"], json!(info.setl_id));
    let a = his.call("3202", detail("130999.99")).await;
    assert_eq!(a.ok()["details"][0]["stmt_rslt"], "1", "{}", a.text);
    assert!(
        s(&a.ok()["details"][0]["memo"])
            .contains("fund_pay_sumamt: institution 130999.99, Yibao 131000.00"),
        "{}",
        a.text
    );

    // 2305: the same shape, negated; the counters restored.
    let a = his
        .call(
            "2305",
            json!({"data": {"psn_no": psn, "mdtrt_id": mdtrt, "setl_id": info.setl_id}}),
        )
        .await;
    let (rev, rev_details) = a.setl();
    assert_eq!(rev.check_identities(), Ok(()), "{}", a.text);
    assert_eq!(fen(rev.medfee_sumamt), -yuan(150_000));
    assert_eq!(fen(rev.fund_pay_sumamt), -yuan(131_000));
    assert_eq!(fen(rev.hifp_pay), -yuan(87_750));
    assert_eq!(
        rev_details.iter().map(|d| fen(d.fund_payamt)).sum::<i64>(),
        -yuan(131_000)
    );
    let a = his
        .call(
            "5206",
            json!({"data": {"psn_no": psn, "cum_ym": format!("{y}06")}}),
        )
        .await;
    assert!(
        a.text
            .contains(r#""cum_type_code":"backstop_oop","cum":0.00"#),
        "{}",
        a.text
    );

    // 3201: nothing in force this year — agreed at zero, refused figures named.
    let stmt = |medfee: &str, fund: &str, cnt: u32| {
        json!({"data": {"insutype": "390", "clr_type": "21", "setl_optins": HUOQIU,
            "stmt_begndate": format!("{y}-01-01"), "stmt_enddate": format!("{y}-12-31"),
            "medfee_sumamt": medfee, "fund_pay_sumamt": fund, "acct_pay": "0.00", "fixmedins_setl_cnt": cnt}})
    };
    let a = his.call("3201", stmt("0.00", "0.00", 0)).await;
    assert_eq!(a.ok()["stmtinfo"]["stmt_rslt"], "0", "{}", a.text);
    let a = his.call("3201", stmt("150000.00", "131000.00", 1)).await;
    let dscr = s(&a.ok()["stmtinfo"]["stmt_rslt_dscr"]).to_string();
    assert_eq!(a.ok()["stmtinfo"]["stmt_rslt"], "1");
    assert!(
        dscr.contains("medfee_sumamt: institution 150000.00, Yibao 0.00"),
        "{dscr}"
    );
    assert!(
        dscr.contains("fixmedins_setl_cnt: institution 1, Yibao 0"),
        "{dscr}"
    );

    // 9002 ends the sign-in: a later call needs a new one.
    his.call(
        "9002",
        json!({"signOut": {"sign_no": his.sign_no, "opter_no": "001"}}),
    )
    .await
    .ok();
    let a = his.call("5206", json!({"data": {"psn_no": psn}})).await;
    assert!(a.refused().starts_with("sign_no: "), "{}", a.text);
    suite.stop().await;
}

/// The encounter's fee lines and the institution's claims, as the services hold them.
async fn written(suite: &Suite, org: &str, mdtrt: &str) -> (usize, usize) {
    let h = suite.hospital(org);
    let enc = suite
        .get_ok(
            &format!("/v1/encounters/{}", ids::to_uuid(mdtrt).unwrap_or_default()),
            &h,
        )
        .await;
    let lines = enc["encounter"]["lines"].as_array().map_or(0, Vec::len);
    // Claims are listed by the month of their end date (the discharge, 06-15).
    let month = format!("{}-06", this_year());
    let claims = suite
        .get_ok(
            &format!("/v1/claims?institution_code={org}&month={month}"),
            &h,
        )
        .await;
    (lines, claims["claims"].as_array().map_or(0, Vec::len))
}

#[tokio::test]
async fn bad_envelopes_name_the_field_and_write_nothing_and_retries_are_answered_once() {
    let suite = Suite::start().await;
    let id = setup(&suite, "34152219800101011").await;
    let his = His::connect(&suite, COUNTY_HOSPITAL).await;
    let (psn, mdtrt) = admit(&his, &id, "ZY-NI-0002").await;
    let fee = |sn: &str, price: Value| {
        json!({"feedetail": [{
            "feedetl_sn": sn, "mdtrt_id": mdtrt, "psn_no": psn, "fee_ocur_time": format!("{}-06-11 09:00:00", this_year()),
            "med_list_codg": A_BED, "det_item_fee_sumamt": price, "cnt": 1, "pric": price}]})
    };
    his.call("2301", fee("1", json!("80.00"))).await.ok();
    let before = written(&suite, COUNTY_HOSPITAL, &mdtrt).await;
    assert_eq!(before, (1, 0));

    let mut refusals = Vec::new();
    // Unknown transaction; a missing input field; three decimals.
    refusals.push(his.call("2399", fee("2", json!("80.00"))).await);
    let mut missing = fee("2", json!("80.00"));
    missing["feedetail"][0]["med_list_codg"] = Value::Null;
    refusals.push(his.call("2301", missing).await);
    refusals.push(his.call("2301", fee("2", json!(80.001))).await);
    // Another institution's code under these credentials.
    let other = "H34152200002";
    let mut env = his.envelope(
        "2301",
        &his.msgid().replace(COUNTY_HOSPITAL, other),
        fee("2", json!("80.00")),
    );
    env["fixmedins_code"] = json!(other);
    refusals.push(his.post(&his.fresh(), env.to_string()).await);
    // A bad signature; a stale timestamp; a nonce used before.
    let env = his
        .envelope("2301", &his.msgid(), fee("2", json!("80.00")))
        .to_string();
    let mut bad = his.fresh();
    bad[3].1 = signature::signature(&bad[1].1, "not-the-token", &bad[2].1);
    refusals.push(his.post(&bad, env.clone()).await);
    let stale = headers(
        &his.paasid,
        &his.token,
        chrono::Utc::now().timestamp() - 3_600,
        "stale-1",
    );
    refusals.push(his.post(&stale, env.clone()).await);
    let once = his.fresh();
    his.post(
        &once,
        his.envelope("5206", &his.msgid(), json!({"data": {"psn_no": psn}}))
            .to_string(),
    )
    .await
    .ok();
    refusals.push(his.post(&once, env).await);
    // A msgid used for another request.
    let used = his.msgid();
    his.call_as("2303", &used, settle_input(&psn, &mdtrt, &id, "80.00"))
        .await
        .ok();
    refusals.push(his.call_as("2301", &used, fee("2", json!("80.00"))).await);
    // A settlement naming another person than the encounter's.
    let stranger = yibao_fsi::ids::from_uuid(&uuid::Uuid::now_v7().to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    refusals.push(
        his.call("2304", settle_input(&stranger, &mdtrt, &id, "80.00"))
            .await,
    );
    // The same without a certificate: settlement finds the encounter is another person's.
    let mut no_cert = settle_input(&stranger, &mdtrt, &id, "80.00");
    no_cert["data"]["mdtrt_cert_no"] = Value::Null;
    refusals.push(his.call("2304", no_cert).await);
    let expected = [
        "infno: `2399` is not a transaction",
        "input.feedetail[0].med_list_codg: is required",
        "input.feedetail[0].det_item_fee_sumamt: `80.001` has more than 2 decimals",
        "fixmedins_code: `H34152200002` is not the institution of x-tif-paasid",
        "x-tif-signature: does not match",
        "x-tif-timestamp: ",
        "x-tif-nonce: already used",
        "msgid: already used for another request",
        "input.data.psn_no: is not the person of mdtrt_cert_no",
        "input.data.psn_no: is not the person of the encounter",
    ];
    assert_eq!(refusals.len(), expected.len());
    for (a, want) in refusals.iter().zip(expected) {
        assert!(
            a.refused().starts_with(want),
            "`{}` should start with `{want}`",
            a.refused()
        );
    }
    assert_eq!(
        written(&suite, COUNTY_HOSPITAL, &mdtrt).await,
        before,
        "nothing written"
    );

    // 2304 twice under one msgid: one settlement.
    let msgid = his.msgid();
    let first = his
        .call_as("2304", &msgid, settle_input(&psn, &mdtrt, &id, "80.00"))
        .await;
    let (info, _) = first.setl();
    assert_eq!(info.check_identities(), Ok(()));
    let acc = |a: &Answer| a.text.clone();
    let counters = acc(&his.call("5206", json!({"data": {"psn_no": psn}})).await);
    let again = his
        .call_as("2304", &msgid, settle_input(&psn, &mdtrt, &id, "80.00"))
        .await;
    let (info2, _) = again.setl();
    assert_eq!(info2.setl_id, info.setl_id, "{}", again.text);
    assert_eq!(info2.fund_pay_sumamt, info.fund_pay_sumamt);
    assert!(
        s(&again.v["warn_msg"]).contains("settled before"),
        "{}",
        again.text
    );
    assert_eq!(
        written(&suite, COUNTY_HOSPITAL, &mdtrt).await.1,
        1,
        "one claim"
    );
    let counters_after = acc(&his.call("5206", json!({"data": {"psn_no": psn}})).await);
    let strip = |t: &str| t.split("\"output\"").nth(1).unwrap_or_default().to_string();
    assert_eq!(
        strip(&counters),
        strip(&counters_after),
        "the counters did not move"
    );

    // 2601 of a msgid that committed nothing: answered so; of the settlement's: reversed.
    let a = his
        .call("2601", json!({"data": {"psn_no": psn, "omsgid": format!("{COUNTY_HOSPITAL}{}9999", chrono::Local::now().format("%Y%m%d%H%M%S")), "oinfno": "2304"}}))
        .await;
    assert_eq!(a.ok()["data"]["undone"], "nothing_committed", "{}", a.text);
    assert!(
        s(&a.v["warn_msg"]).contains("committed nothing"),
        "{}",
        a.text
    );
    let a = his
        .call(
            "2601",
            json!({"data": {"psn_no": psn, "omsgid": msgid, "oinfno": "2304"}}),
        )
        .await;
    assert_eq!(
        a.ok()["data"]["undone"],
        "settlement_reversed",
        "{}",
        a.text
    );
    assert_eq!(a.ok()["data"]["setl_id"], json!(info.setl_id));
    let claim = suite
        .get_ok(
            &format!(
                "/v1/claims/{}",
                ids::to_uuid(&info.setl_id).unwrap_or_default()
            ),
            &suite.hospital(COUNTY_HOSPITAL),
        )
        .await;
    assert_eq!(claim["claim"]["status"], "CLAIM_STATUS_REVERSED");
    suite.stop().await;
}

#[tokio::test]
async fn the_endpoint_is_observed_and_needs_no_jwt() {
    let suite = Suite::start().await;
    // No credentials at all: the interface's own refusal, not the gateway's 401.
    let (status, body) = suite
        .call(Method::POST, PATH, None, Some(json!({"infno": "9001"})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["infcode"], -1);
    assert!(s(&body["err_msg"]).contains("msgid: is required"), "{body}");
    let (_, metrics) = suite.call(Method::GET, "/metrics", None, None).await;
    let text = s(&metrics).to_string();
    assert!(
        text.contains("service=\"fsi\",method=\"fsi.9001\",code=\"INVALID_ARGUMENT\"}"),
        "counted as fsi.9001"
    );
    suite.stop().await;
}
