//! Settlement: 2206/2303 pre-settle, 2207/2304 settle, 2208/2305 reverse, 2601 reversal by
//! `msgid` (冲正), 5203 query. Every `setlinfo` is built with [`yibao_fsi::setl`] and its
//! identities checked to the fen before it is answered; `setldetail` must sum to
//! `fund_pay_sumamt`.

use super::encounter::{id_of, med_type};
use super::input::Node;
use super::person::{age, gend, insutype};
use super::{Call, Output, Refusal};
use serde::Serialize;
use yibao_core::{Bp, Fen};
use yibao_fsi::decimal::{Ratio, Yuan};
use yibao_fsi::setl::{SetlDetail, SetlInfo};
use yibao_proto::enrollment::v1 as enrollment;
use yibao_proto::settlement::v1 as pb;
use yibao_proto::settlement::v1::settlement_service_client::SettlementServiceClient;

fn y(fen: i64) -> Yuan {
    Yuan(Fen(fen))
}

/// The name of a layer's fund.
fn fund_name(layer: i32) -> &'static str {
    match pb::Layer::try_from(layer) {
        Ok(pb::Layer::BasicPool) => "基本医疗保险统筹基金",
        Ok(pb::Layer::Maternity) => "生育保险基金",
        Ok(pb::Layer::OutpatientPool) => "门诊统筹基金",
        Ok(pb::Layer::ChronicDisease) => "门诊慢特病基金",
        Ok(pb::Layer::CriticalIllness) => "大病保险基金",
        Ok(pb::Layer::MedicalAssistance) => "医疗救助基金",
        Ok(pb::Layer::Backstop) => "政府兜底资金",
        Ok(pb::Layer::ChronicSupplement) => "慢性病补充医疗保障资金",
        Ok(pb::Layer::Commercial) => "商业补充保险",
        _ => "",
    }
}

/// Who and what a settlement answer is about, besides its amounts.
#[derive(Debug, Default)]
pub struct About {
    /// `mdtrt_id`.
    pub mdtrt_id: String,
    /// `setl_id` (empty for a pre-settlement).
    pub setl_id: String,
    /// `psn_no`.
    pub psn_no: String,
    /// The person, when eligibility was asked.
    pub person: Option<enrollment::CheckEligibilityResponse>,
    /// The masked ID number, when no eligibility was asked.
    pub certno: String,
    /// `mdtrt_cert_type`.
    pub mdtrt_cert_type: String,
    /// `setl_time`.
    pub setl_time: String,
    /// `medins_setl_id`: the msgid it was settled with.
    pub medins_setl_id: String,
}

/// `setlinfo` and `setldetail` of a settlement, checked. The commercial insurers' layer (paid
/// out of the person's share, not a fund, in Yibao's breakdown) is reported on the interface
/// as `oth_pay`, in `fund_pay_sumamt`, and as a `setldetail` row: the institution collects it
/// from the platform, not the patient (decision 0012).
pub fn setl(s: &pb::Settlement, about: &About) -> Result<(SetlInfo, Vec<SetlDetail>), Refusal> {
    let b = s.breakdown.unwrap_or_default();
    let insurer = b.insurer_pay_fen;
    let p = about.person.as_ref();
    let on = chrono::NaiveDate::parse_from_str(&s.settled_on, "%Y-%m-%d")
        .unwrap_or_else(|_| chrono::Local::now().date_naive());
    let info = SetlInfo {
        mdtrt_id: about.mdtrt_id.clone(),
        setl_id: about.setl_id.clone(),
        psn_no: about.psn_no.clone(),
        psn_name: p.map(|p| p.name.clone()).unwrap_or_default(),
        psn_cert_type: "01".into(),
        certno: p.map_or_else(|| about.certno.clone(), |p| p.id_number_masked.clone()),
        gend: p.map(|p| gend(&p.sex).to_string()).unwrap_or_default(),
        naty: String::new(),
        brdy: p.map(|p| p.birth_date.clone()).unwrap_or_default(),
        age: p.map(|p| age(&p.birth_date, on)).unwrap_or_default(),
        insutype: insutype(s.scheme).into(),
        psn_type: match insutype(s.scheme) {
            "310" => "11".into(),
            _ => "15".into(),
        },
        cvlserv_flag: "0".into(),
        setl_time: about.setl_time.clone(),
        mdtrt_cert_type: about.mdtrt_cert_type.clone(),
        med_type: med_type(s.kind).into(),
        medfee_sumamt: y(b.medfee_sumamt_fen),
        fulamt_ownpay_amt: y(b.fulamt_ownpay_amt_fen),
        overlmt_selfpay: y(b.overlmt_selfpay_fen),
        preselfpay_amt: y(b.preselfpay_amt_fen),
        inscp_scp_amt: y(b.inscp_scp_amt_fen),
        act_pay_dedc: y(b.act_pay_dedc_fen),
        hifp_pay: y(b.hifp_pay_fen),
        pool_prop_selfpay: Ratio(Bp(b.pool_prop_selfpay_bp.min(10_000))),
        cvlserv_pay: y(b.cvlserv_pay_fen),
        hifes_pay: y(b.hifes_pay_fen),
        hifmi_pay: y(b.hifmi_pay_fen),
        hifob_pay: y(b.hifob_pay_fen),
        maf_pay: y(b.maf_pay_fen),
        hifdm_pay: y(b.hifdm_pay_fen),
        oth_pay: y(b.oth_pay_fen + insurer),
        fund_pay_sumamt: y(b.fund_pay_sumamt_fen + insurer),
        psn_part_amt: y(b.psn_part_amt_fen - insurer),
        acct_pay: y(b.acct_pay_fen),
        psn_cash_pay: y(b.psn_cash_pay_fen),
        hosp_part_amt: y(b.hosp_part_amt_fen),
        balc: Yuan::default(),
        acct_mulaid_pay: y(b.acct_mulaid_pay_fen),
        medins_setl_id: about.medins_setl_id.clone(),
        clr_optins: s.insured_region_code.clone(),
        clr_way: "1".into(),
        clr_type: if med_type(s.kind) == "21" { "21" } else { "11" }.into(),
    };
    let details: Vec<SetlDetail> = s
        .layers
        .iter()
        .map(|l| SetlDetail {
            fund_pay_type: l.fund_pay_type.clone(),
            inscp_scp_amt: y(l.base_fen),
            crt_payb_lmt_amt: y(l.crt_payb_lmt_amt_fen.unwrap_or_default()),
            fund_payamt: y(l.fund_payamt_fen),
            fund_pay_type_name: fund_name(l.layer).into(),
            setl_proc_info: format!(
                "base {} at {} bp{}",
                y(l.base_fen),
                l.rate_bp,
                if l.code.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", l.code)
                }
            ),
        })
        .collect();
    check(&info, &details)?;
    Ok((info, details))
}

/// The identities, and `setldetail` summing to `fund_pay_sumamt`: an answer that fails them is
/// never given.
pub fn check(info: &SetlInfo, details: &[SetlDetail]) -> Result<(), Refusal> {
    info.check_identities()
        .map_err(|e| Refusal::new(tonic::Code::Internal, e.to_string()))?;
    let sum: i64 = details.iter().map(|d| d.fund_payamt.fen().get()).sum();
    if sum != info.fund_pay_sumamt.fen().get() {
        return Err(Refusal::new(
            tonic::Code::Internal,
            format!(
                "setldetail: sums to {}, fund_pay_sumamt is {}",
                y(sum),
                info.fund_pay_sumamt
            ),
        ));
    }
    Ok(())
}

#[derive(Serialize)]
struct SetlOut {
    setlinfo: SetlInfo,
    setldetail: Vec<SetlDetail>,
}

fn now_text() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// What 2206/2207 and 2303/2304 send: the encounter, what settlement must find it to be (its
/// patient `psn_no`, its uncancelled lines totalling the declared `medfee_sumamt`: checked by
/// settlement, which reads the encounter anyway, before anything is computed or written), and
/// the person the certificate names, when one is sent (it must be `psn_no`).
async fn prepare(
    c: &Call<'_>,
    d: &Node,
) -> Result<(String, pb::EncounterExpectation, About), Refusal> {
    let encounter = d.id("mdtrt_id")?;
    let psn = d.id("psn_no")?;
    let declared = d.req_yuan("medfee_sumamt")?;
    for f in [
        "fulamt_ownpay_amt",
        "overlmt_selfpay",
        "preselfpay_amt",
        "inscp_scp_amt",
    ] {
        d.yuan(f)?;
    }
    if d.text("mid_setl_flag")?.as_deref() == Some("1") {
        return Err(Refusal::field(
            d.at("mid_setl_flag"),
            "mid-stay settlement (1) is not supported: settle at discharge",
        ));
    }
    let cert_type = d.text("mdtrt_cert_type")?.unwrap_or_default();
    let person = if matches!(cert_type.as_str(), "02" | "03") && d.text("mdtrt_cert_no")?.is_some()
    {
        // Who the certificate names, on the discharge date (today without one).
        let e = super::person::eligibility(
            c,
            d,
            "mdtrt_cert_type",
            "mdtrt_cert_no",
            d.date("dscg_time")?,
        )
        .await?;
        if e.person_id != psn {
            return Err(Refusal::field(
                d.at("psn_no"),
                "is not the person of mdtrt_cert_no",
            ));
        }
        Some(e)
    } else {
        None
    };
    let expect = pb::EncounterExpectation {
        person_id: psn,
        total_fen: Some(declared.fen().get()),
    };
    Ok((
        encounter,
        expect,
        About {
            mdtrt_id: d.req("mdtrt_id")?.to_uppercase(),
            psn_no: d.req("psn_no")?.to_uppercase(),
            person,
            mdtrt_cert_type: cert_type,
            setl_time: now_text(),
            ..About::default()
        },
    ))
}

/// How settlement's names of a (pre-)settlement's fields read in the interface.
fn settle_fields(d: &Node) -> [(&'static str, String); 4] {
    [
        ("encounter_id", d.at("mdtrt_id")),
        ("end_date", d.at("dscg_time")),
        ("expect.person_id", d.at("psn_no")),
        ("expect.total_fen", d.at("medfee_sumamt")),
    ]
}

/// 2206 / 2303: what settling would give; nothing is written.
pub async fn presettle(c: &Call<'_>) -> Result<Output, Refusal> {
    let d = Node::of(&c.req.input, "data")?;
    let (encounter, expect, mut about) = prepare(c, &d).await?;
    let fields = settle_fields(&d);
    let msg = pb::PreSettleEncounterRequest {
        encounter_id: encounter,
        end_date: d.date("dscg_time")?.unwrap_or_default(),
        expect: Some(expect),
    };
    let out = c
        .rpc(
            "settlement",
            "PreSettleEncounter",
            msg,
            &fields.each_ref().map(|(f, p)| (*f, p.as_str())),
            |ch, r| async move {
                SettlementServiceClient::new(ch)
                    .pre_settle_encounter(r)
                    .await
            },
        )
        .await?;
    about.certno = out.id_number;
    let (setlinfo, setldetail) = setl(&out.settlement.unwrap_or_default(), &about)?;
    Output::of(&SetlOut {
        setlinfo,
        setldetail,
    })
}

/// 2207 / 2304: settles the encounter over its uploaded lines (`request_ref` = msgid).
pub async fn settle(c: &Call<'_>) -> Result<Output, Refusal> {
    let d = Node::of(&c.req.input, "data")?;
    let (encounter, expect, mut about) = prepare(c, &d).await?;
    let fields = settle_fields(&d);
    let msg = pb::SettleEncounterRequest {
        encounter_id: encounter,
        end_date: d.date("dscg_time")?.unwrap_or_default(),
        request_ref: c.req.msgid.clone(),
        expect: Some(expect),
    };
    let out = c
        .rpc(
            "settlement",
            "SettleEncounter",
            msg,
            &fields.each_ref().map(|(f, p)| (*f, p.as_str())),
            |ch, r| async move { SettlementServiceClient::new(ch).settle_encounter(r).await },
        )
        .await?;
    about.certno = out.id_number.clone();
    about.setl_id = id_of(&out.claim_id)?;
    about.medins_setl_id = c.req.msgid.clone();
    let (setlinfo, setldetail) = setl(&out.settlement.unwrap_or_default(), &about)?;
    let answer = Output::of(&SetlOut {
        setlinfo,
        setldetail,
    })?;
    Ok(if out.replayed {
        answer.warn("settled before: this is the settlement in force, nothing was written")
    } else {
        answer
    })
}

async fn claim(c: &Call<'_>, d: &Node) -> Result<(String, pb::ClaimRecord), Refusal> {
    let claim_id = d.id("setl_id")?;
    let p = d.at("setl_id");
    let msg = pb::GetClaimRequest {
        claim_id: claim_id.clone(),
    };
    let record = c
        .rpc(
            "settlement",
            "GetClaim",
            msg,
            &[("claim_id", &p)],
            |ch, r| async move { SettlementServiceClient::new(ch).get_claim(r).await },
        )
        .await?
        .claim
        .unwrap_or_default();
    Ok((claim_id, record))
}

fn about_claim(d: &Node, record: &pb::ClaimRecord) -> Result<About, Refusal> {
    Ok(About {
        mdtrt_id: d.text("mdtrt_id")?.unwrap_or_default().to_uppercase(),
        setl_id: d.req("setl_id")?.to_uppercase(),
        psn_no: d.text("psn_no")?.unwrap_or_default().to_uppercase(),
        certno: record
            .claim
            .as_ref()
            .map(|c| c.id_number.clone())
            .unwrap_or_default(),
        setl_time: record
            .settled
            .as_ref()
            .and_then(|a| chrono::DateTime::parse_from_rfc3339(&a.at).ok())
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default(),
        ..About::default()
    })
}

/// 2208 / 2305: reverses the settlement (`reversal_no` = msgid); the answer is its
/// `setlinfo` / `setldetail` with the amounts negated.
pub async fn reverse(c: &Call<'_>) -> Result<Output, Refusal> {
    let d = Node::of(&c.req.input, "data")?;
    d.id("psn_no")?;
    let (claim_id, record) = claim(c, &d).await?;
    let p = d.at("setl_id");
    let msg = pb::ReverseRequest {
        claim_id,
        institution_code: c.institution.clone(),
        insured_region_code: c.req.insuplc_admdvs.clone().unwrap_or_default(),
        reversal_no: c.req.msgid.clone(),
        item_indexes: Vec::new(),
        reason: format!("national interface {} {}", c.req.infno, c.req.msgid),
    };
    let out = c
        .rpc(
            "settlement",
            "Reverse",
            msg,
            &[("claim_id", &p), ("insured_region_code", "insuplc_admdvs")],
            |ch, r| async move { SettlementServiceClient::new(ch).reverse(r).await },
        )
        .await?;
    let mut original = record.settlement.clone().unwrap_or_default();
    let refund = out.refund.unwrap_or_default();
    let layers_match = original.breakdown.as_ref().map(|b| b.fund_pay_sumamt_fen)
        == Some(refund.fund_pay_sumamt_fen);
    if !layers_match {
        original.layers.clear();
    }
    original.breakdown = Some(refund);
    let mut about = about_claim(&d, &record)?;
    about.setl_time = now_text();
    about.medins_setl_id = c.req.msgid.clone();
    let (info, details) = setl(&original, &about)?;
    let neg = |y: Yuan| Yuan(Fen(-y.fen().get()));
    let setldetail: Vec<SetlDetail> = details
        .into_iter()
        .map(|d| SetlDetail {
            inscp_scp_amt: neg(d.inscp_scp_amt),
            crt_payb_lmt_amt: d.crt_payb_lmt_amt,
            fund_payamt: neg(d.fund_payamt),
            ..d
        })
        .collect();
    let setlinfo = info.reversed();
    check(&setlinfo, &setldetail)?;
    Output::of(&SetlOut {
        setlinfo,
        setldetail,
    })
}

/// 2601: undoes what the request `omsgid` committed; one that committed nothing is answered
/// so (infcode 0, `warn_msg`) and nothing is written.
pub async fn reverse_by_request(c: &Call<'_>) -> Result<Output, Refusal> {
    let d = Node::of(&c.req.input, "data")?;
    d.id("psn_no")?;
    let omsgid = d.req("omsgid")?;
    let oinfno = d.req("oinfno")?;
    let p = d.at("omsgid");
    let msg = pb::ReverseByRequestRequest {
        institution_code: c.institution.clone(),
        request_ref: omsgid.clone(),
        reversal_ref: c.req.msgid.clone(),
    };
    let out = c
        .rpc(
            "settlement",
            "ReverseByRequest",
            msg,
            &[("request_ref", &p)],
            |ch, r| async move { SettlementServiceClient::new(ch).reverse_by_request(r).await },
        )
        .await?;
    let undone = pb::RequestUndone::try_from(out.undone).unwrap_or(pb::RequestUndone::Unspecified);
    #[derive(Serialize)]
    struct Data {
        omsgid: String,
        oinfno: String,
        undone: &'static str,
        mdtrt_id: String,
        setl_id: String,
    }
    #[derive(Serialize)]
    struct Out {
        data: Data,
    }
    let id = |u: &str| {
        if u.is_empty() {
            Ok(String::new())
        } else {
            id_of(u)
        }
    };
    let answer = Output::of(&Out {
        data: Data {
            omsgid: omsgid.clone(),
            oinfno,
            undone: match undone {
                pb::RequestUndone::SettlementReversed => "settlement_reversed",
                pb::RequestUndone::FeesCancelled => "fees_cancelled",
                pb::RequestUndone::EncounterCancelled => "encounter_cancelled",
                _ => "nothing_committed",
            },
            mdtrt_id: id(&out.encounter_id)?,
            setl_id: id(&out.claim_id)?,
        },
    })?;
    Ok(match undone {
        pb::RequestUndone::NothingCommitted | pb::RequestUndone::Unspecified => answer.warn(
            format!("omsgid {omsgid} committed nothing that is in force: nothing was undone"),
        ),
        _ => answer,
    })
}

/// 5203: a settlement's `setlinfo` and `setldetail` as they stand.
pub async fn query(c: &Call<'_>) -> Result<Output, Refusal> {
    let d = Node::of(&c.req.input, "data")?;
    d.id("psn_no")?;
    let (_, record) = claim(c, &d).await?;
    let about = about_claim(&d, &record)?;
    let (setlinfo, setldetail) = setl(&record.settlement.clone().unwrap_or_default(), &about)?;
    let answer = Output::of(&SetlOut {
        setlinfo,
        setldetail,
    })?;
    Ok(match pb::ClaimStatus::try_from(record.status) {
        Ok(pb::ClaimStatus::Reversed) => answer.warn("this settlement is reversed"),
        Ok(pb::ClaimStatus::PartiallyRefunded) => answer.warn(
            "some items of this settlement are refunded; the amounts are the remaining items'",
        ),
        _ => answer,
    })
}
