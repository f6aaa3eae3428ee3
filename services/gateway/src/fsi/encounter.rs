//! The encounter lifecycle: 2201/2401 open, 2202/2404 cancel, 2203/2403 visit information,
//! 2204/2301 fee upload, 2205/2302 fee cancel, 2402/2405 discharge (and its cancel).

use super::input::{self, Node};
use super::{Call, Output, Refusal};
use serde::Serialize;
use yibao_core::{Bp, Fen};
use yibao_fsi::decimal::{Quantity, Ratio, Yuan};
use yibao_proto::settlement::v1 as pb;
use yibao_proto::settlement::v1::settlement_service_client::SettlementServiceClient;

/// True for the inpatient numbers (2301–2405).
fn inpatient(infno: &str) -> bool {
    infno.starts_with("23") || infno.starts_with("24")
}

/// The encounter kind of a `med_type` (11 general outpatient, 14 chronic/special outpatient,
/// 21 inpatient, 41 pharmacy, 51/52 maternity).
pub fn kind_of(med_type: &str) -> Option<pb::EncounterKind> {
    Some(match med_type {
        "11" | "12" | "13" => pb::EncounterKind::GeneralOutpatient,
        "14" | "15" | "16" => pb::EncounterKind::OutpatientChronic,
        "21" | "22" | "23" => pb::EncounterKind::Inpatient,
        "41" => pb::EncounterKind::Pharmacy,
        "51" | "52" => pb::EncounterKind::Maternity,
        _ => return None,
    })
}

/// The `med_type` of an encounter kind.
pub fn med_type(kind: i32) -> &'static str {
    match pb::EncounterKind::try_from(kind) {
        Ok(pb::EncounterKind::Inpatient) => "21",
        Ok(pb::EncounterKind::GeneralOutpatient) => "11",
        Ok(pb::EncounterKind::OutpatientChronic) => "14",
        Ok(pb::EncounterKind::Maternity) => "51",
        Ok(pb::EncounterKind::Pharmacy) => "41",
        _ => "",
    }
}

/// The interface id of a service's UUID.
pub fn id_of(uuid: &str) -> Result<String, Refusal> {
    yibao_fsi::ids::from_uuid(uuid)
        .map_err(|e| Refusal::new(tonic::Code::Internal, format!("id: {e}")))
}

#[derive(Serialize)]
struct Opened {
    mdtrt_id: String,
    psn_no: String,
    ipt_otp_no: String,
}

/// 2201 registration / 2401 admission.
pub async fn open(c: &Call<'_>) -> Result<Output, Refusal> {
    let ipt = inpatient(&c.req.infno);
    let d = Node::of(&c.req.input, if ipt { "mdtrtinfo" } else { "data" })?;
    let psn = d.id("psn_no")?;
    if d.req("mdtrt_cert_type")? == "01" {
        return Err(Refusal::field(
            d.at("mdtrt_cert_type"),
            "01 (e-voucher) cannot open an encounter here yet: send the ID card (02) or social-security card (03) number",
        ));
    }
    let start = d
        .date("begntime")?
        .ok_or_else(|| Refusal::field(d.at("begntime"), "is required"))?;
    let e = super::person::eligibility(
        c,
        &d,
        "mdtrt_cert_type",
        "mdtrt_cert_no",
        Some(start.clone()),
    )
    .await?;
    if e.person_id != psn {
        return Err(Refusal::field(
            d.at("psn_no"),
            "is not the person of mdtrt_cert_no (take psn_no from 1101)",
        ));
    }
    let default_type = if ipt { "21" } else { "11" };
    let mt = d.text("med_type")?.unwrap_or_else(|| default_type.into());
    let kind = kind_of(&mt)
        .filter(|k| (*k == pb::EncounterKind::Inpatient) == ipt)
        .ok_or_else(|| {
            Refusal::field(
                d.at("med_type"),
                format!("`{mt}` is not a medical type of {}", c.req.infno),
            )
        })?;
    let no_field = if ipt { "ipt_no" } else { "ipt_otp_no" };
    let encounter_no = d.req(no_field)?;
    let main = match d.text("dscg_maindiag_code")? {
        Some(m) => Some(m),
        None => d.text("dise_codg")?,
    };
    let diagnoses = input::diagnoses(&c.req.input, main)?;
    let disease_code = if kind == pb::EncounterKind::OutpatientChronic {
        d.text("dise_codg")?.unwrap_or_default()
    } else {
        String::new()
    };
    let msg = pb::OpenEncounterRequest {
        institution_code: c.institution.clone(),
        encounter_no: encounter_no.clone(),
        id_number: d.req("mdtrt_cert_no")?,
        insured_region_code: c.req.insuplc_admdvs.clone().unwrap_or_default(),
        kind: kind as i32,
        disease_code,
        start_date: start,
        diagnoses,
        attending_physician_code: d.req("atddr_no")?,
        request_ref: c.req.msgid.clone(),
    };
    let paths = [
        ("id_number", d.at("mdtrt_cert_no")),
        ("encounter_no", d.at(no_field)),
        ("attending_physician_code", d.at("atddr_no")),
        ("start_date", d.at("begntime")),
        ("kind", d.at("med_type")),
        ("disease_code", d.at("dise_codg")),
        ("diagnoses", "input.diseinfo".to_string()),
        ("insured_region_code", "insuplc_admdvs".to_string()),
    ];
    let fields: Vec<(&str, &str)> = paths.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let out = c
        .rpc(
            "settlement",
            "OpenEncounter",
            msg,
            &fields,
            |ch, r| async move { SettlementServiceClient::new(ch).open_encounter(r).await },
        )
        .await?;
    let enc = out.encounter.unwrap_or_default();
    let opened = Opened {
        mdtrt_id: id_of(&enc.encounter_id)?,
        psn_no: id_of(&e.person_id)?,
        ipt_otp_no: encounter_no,
    };
    #[derive(Serialize)]
    struct Data {
        data: Opened,
    }
    #[derive(Serialize)]
    struct Result {
        result: Opened,
    }
    if ipt {
        Output::of(&Result { result: opened })
    } else {
        Output::of(&Data { data: opened })
    }
}

/// The encounter `id` that `d` names by `mdtrt_id`, read from settlement.
pub(super) async fn get(c: &Call<'_>, d: &Node, id: &str) -> Result<pb::Encounter, Refusal> {
    let p = d.at("mdtrt_id");
    let msg = pb::GetEncounterRequest {
        encounter_id: id.to_string(),
    };
    Ok(c.rpc(
        "settlement",
        "GetEncounter",
        msg,
        &[("encounter_id", &p)],
        |ch, r| async move { SettlementServiceClient::new(ch).get_encounter(r).await },
    )
    .await?
    .encounter
    .unwrap_or_default())
}

/// The encounter (UUID) a node names by `mdtrt_id`, its `psn_no` checked for form.
fn encounter_of(d: &Node) -> Result<String, Refusal> {
    d.id("psn_no")?;
    Ok(d.id("mdtrt_id")?)
}

fn empty() -> Result<Output, Refusal> {
    Output::of(&serde_json::Map::new())
}

/// 2202 / 2404: cancels the registration or admission.
pub async fn cancel(c: &Call<'_>) -> Result<Output, Refusal> {
    let d = Node::of(&c.req.input, "data")?;
    let id = encounter_of(&d)?;
    let p = d.at("mdtrt_id");
    let msg = pb::CancelEncounterRequest { encounter_id: id };
    c.rpc(
        "settlement",
        "CancelEncounter",
        msg,
        &[("encounter_id", &p)],
        |ch, r| async move { SettlementServiceClient::new(ch).cancel_encounter(r).await },
    )
    .await?;
    empty()
}

/// 2203 visit information / 2403 admission change.
pub async fn update(c: &Call<'_>) -> Result<Output, Refusal> {
    let node = if inpatient(&c.req.infno) {
        "adminfo"
    } else {
        "mdtrtinfo"
    };
    let d = Node::of(&c.req.input, node)?;
    let id = encounter_of(&d)?;
    let p = d.at("mdtrt_id");
    if let Some(mt) = d.text("med_type")? {
        let enc = get(c, &d, &id).await?;
        if kind_of(&mt).map(|k| k as i32) != Some(enc.kind) {
            return Err(Refusal::field(
                d.at("med_type"),
                format!(
                    "`{mt}` differs from the encounter's medical type {}: the type is set when it is opened",
                    med_type(enc.kind)
                ),
            ));
        }
    }
    let main = match d.text("dscg_maindiag_code")? {
        Some(m) => Some(m),
        None => d.text("dise_codg")?,
    };
    let msg = pb::UpdateEncounterRequest {
        encounter_id: id,
        diagnoses: input::diagnoses(&c.req.input, main)?,
        disease_code: if d.text("med_type")?.as_deref() == Some("14") {
            d.text("dise_codg")?.unwrap_or_default()
        } else {
            String::new()
        },
        attending_physician_code: d.text("atddr_no")?.unwrap_or_default(),
    };
    let (a, b) = (d.at("atddr_no"), d.at("dise_codg"));
    let fields = [
        ("encounter_id", p.as_str()),
        ("attending_physician_code", a.as_str()),
        ("disease_code", b.as_str()),
        ("diagnoses", "input.diseinfo"),
    ];
    c.rpc(
        "settlement",
        "UpdateEncounter",
        msg,
        &fields,
        |ch, r| async move { SettlementServiceClient::new(ch).update_encounter(r).await },
    )
    .await?;
    empty()
}

/// A fee line as read, with what the result echoes.
struct Line {
    line: pb::FeeLine,
    cnt: Quantity,
    pric: Yuan,
    category: String,
}

fn fee_line(n: &Node) -> Result<(String, Line), Refusal> {
    let mdtrt = n.id("mdtrt_id")?;
    n.id("psn_no")?;
    let sn = n.req("feedetl_sn")?;
    let amount = n.req_yuan("det_item_fee_sumamt")?;
    let cnt = n.req_quantity("cnt")?;
    let pric = n.req_yuan("pric")?;
    if cnt.0 <= 0 || cnt.0 % 10_000 != 0 {
        return Err(Refusal::field(
            n.at("cnt"),
            format!("must be a whole, positive number of dispensing units, got {cnt}"),
        ));
    }
    let quantity = cnt.0 / 10_000;
    let want = pric.fen().get().checked_mul(quantity);
    if want != Some(amount.fen().get()) {
        return Err(Refusal::field(
            n.at("det_item_fee_sumamt"),
            format!("{amount} is not pric × cnt ({pric} × {quantity})"),
        ));
    }
    let days = match n.text("prd_days")? {
        Some(t) => Some(
            Quantity::parse(&t)
                .ok()
                .filter(|q| q.0 > 0 && q.0 % 10_000 == 0)
                .and_then(|q| u32::try_from(q.0 / 10_000).ok())
                .ok_or_else(|| {
                    Refusal::field(n.at("prd_days"), format!("must be whole days, got `{t}`"))
                })?,
        ),
        None => None,
    };
    let code = n.req("med_list_codg")?;
    let name = match n.text("medins_list_name")? {
        Some(x) => x,
        None => n.text("med_list_name")?.unwrap_or_else(|| code.clone()),
    };
    let category = n.text("med_chrgitm_type")?.unwrap_or_default();
    let item = pb::ClaimItem {
        national_code: code,
        name,
        item_class: 0,
        quantity,
        unit_price_fen: pric.fen().get(),
        amount_fen: amount.fen().get(),
        payment_standard_fen: None,
        preselfpay_share_bp: None,
        charge_category: category.clone(),
        days_supply: days,
    };
    let fee_time = n.req("fee_ocur_time")?;
    Ok((
        mdtrt,
        Line {
            line: pb::FeeLine {
                feedetl_sn: sn,
                fee_time,
                item: Some(item),
            },
            cnt,
            pric,
            category,
        },
    ))
}

#[derive(Serialize)]
struct FeeResult {
    feedetl_sn: String,
    det_item_fee_sumamt: Yuan,
    cnt: Quantity,
    pric: Yuan,
    pric_uplmt_amt: Yuan,
    selfpay_prop: Ratio,
    fulamt_ownpay_amt: Yuan,
    overlmt_amt: Yuan,
    preselfpay_amt: Yuan,
    inscp_scp_amt: Yuan,
    chrgitm_lv: &'static str,
    med_chrgitm_type: String,
    bas_medn_flag: &'static str,
    hi_nego_drug_flag: &'static str,
    list_sp_item_flag: &'static str,
    lmt_used_flag: &'static str,
    drt_reim_flag: &'static str,
    memo: String,
}

fn y(fen: i64) -> Yuan {
    Yuan(Fen(fen))
}

/// The `result[]` row of a priced line.
fn fee_result(l: &Line, p: &pb::PricedFeeLine) -> FeeResult {
    let split = p.split.unwrap_or_default();
    let class = pb::ItemClass::try_from(p.item_class).unwrap_or(pb::ItemClass::C);
    let (lv, prop) = match class {
        pb::ItemClass::A => ("01", 0),
        pb::ItemClass::B => ("02", p.preselfpay_share_bp),
        _ => ("03", 10_000),
    };
    FeeResult {
        feedetl_sn: p.feedetl_sn.clone(),
        det_item_fee_sumamt: y(split.medfee_sumamt_fen),
        cnt: l.cnt,
        pric: l.pric,
        pric_uplmt_amt: y(p.payment_standard_fen.unwrap_or_default()),
        selfpay_prop: Ratio(Bp(prop.min(10_000))),
        fulamt_ownpay_amt: y(split.fulamt_ownpay_amt_fen),
        overlmt_amt: y(split.overlmt_selfpay_fen),
        preselfpay_amt: y(split.preselfpay_amt_fen),
        inscp_scp_amt: y(split.inscp_scp_amt_fen),
        chrgitm_lv: lv,
        med_chrgitm_type: l.category.clone(),
        bas_medn_flag: "0",
        hi_nego_drug_flag: if p.negotiated { "1" } else { "0" },
        list_sp_item_flag: "0",
        lmt_used_flag: if p.note.is_empty() { "0" } else { "1" },
        drt_reim_flag: "0",
        memo: p.note.clone(),
    }
}

/// 2204 / 2301: uploads fee lines, each priced and split at once.
pub async fn upload(c: &Call<'_>) -> Result<Output, Refusal> {
    let nodes = Node::list(&c.req.input, "feedetail")?;
    if nodes.is_empty() {
        return Err(Refusal::field(
            "input.feedetail",
            "is required (1 to 1000 lines)",
        ));
    }
    let mut lines = Vec::with_capacity(nodes.len());
    let mut encounter = String::new();
    for n in &nodes {
        let (mdtrt, line) = fee_line(n)?;
        if encounter.is_empty() {
            encounter = mdtrt;
        } else if mdtrt != encounter {
            return Err(Refusal::field(
                n.at("mdtrt_id"),
                "differs from the first line's: one encounter per upload",
            ));
        }
        lines.push(line);
    }
    let msg = pb::UploadFeesRequest {
        encounter_id: encounter,
        lines: lines.iter().map(|l| l.line.clone()).collect(),
        request_ref: c.req.msgid.clone(),
    };
    let out = c
        .rpc(
            "settlement",
            "UploadFees",
            msg,
            &[
                ("encounter_id", "input.feedetail[0].mdtrt_id"),
                ("lines", "input.feedetail"),
            ],
            |ch, r| async move { SettlementServiceClient::new(ch).upload_fees(r).await },
        )
        .await?;
    #[derive(Serialize)]
    struct Out {
        result: Vec<FeeResult>,
    }
    let result = lines
        .iter()
        .zip(&out.lines)
        .map(|(l, p)| fee_result(l, p))
        .collect();
    Output::of(&Out { result })
}

/// 2205 / 2302: cancels one line (`feedetl_sn`) or, with `0000` or none, every line.
pub async fn cancel_fees(c: &Call<'_>) -> Result<Output, Refusal> {
    let d = Node::of(&c.req.input, "data")?;
    let id = encounter_of(&d)?;
    let sns = match d.text("feedetl_sn")? {
        Some(sn) if sn != "0000" => vec![sn],
        _ => Vec::new(),
    };
    let (p, q) = (d.at("mdtrt_id"), d.at("feedetl_sn"));
    let msg = pb::CancelFeesRequest {
        encounter_id: id,
        feedetl_sns: sns,
    };
    let out = c
        .rpc(
            "settlement",
            "CancelFees",
            msg,
            &[("encounter_id", &p), ("feedetl_sns", &q)],
            |ch, r| async move { SettlementServiceClient::new(ch).cancel_fees(r).await },
        )
        .await?;
    #[derive(Serialize)]
    struct Out {
        cancelled: u32,
    }
    Output::of(&Out {
        cancelled: out.cancelled,
    })
}

/// 2402 discharge / 2405 its cancel.
pub async fn discharge(c: &Call<'_>) -> Result<Output, Refusal> {
    let cancel = c.req.infno == "2405";
    let d = Node::of(&c.req.input, if cancel { "data" } else { "dscginfo" })?;
    let id = encounter_of(&d)?;
    let end_date = if cancel {
        String::new()
    } else {
        d.date("endtime")?
            .ok_or_else(|| Refusal::field(d.at("endtime"), "is required"))?
    };
    let diagnoses = if cancel {
        Vec::new()
    } else {
        input::diagnoses(&c.req.input, d.text("dise_codg")?)?
    };
    let (p, q) = (d.at("mdtrt_id"), d.at("endtime"));
    let msg = pb::DischargeEncounterRequest {
        encounter_id: id,
        end_date,
        diagnoses,
        cancel,
    };
    let fields = [
        ("encounter_id", p.as_str()),
        ("end_date", q.as_str()),
        ("diagnoses", "input.diseinfo"),
    ];
    c.rpc(
        "settlement",
        "DischargeEncounter",
        msg,
        &fields,
        |ch, r| async move {
            SettlementServiceClient::new(ch)
                .discharge_encounter(r)
                .await
        },
    )
    .await?;
    empty()
}
