//! 1101 person information and 5206 accumulators.

use super::input::Node;
use super::{Call, Output, Refusal};
use serde::Serialize;
use yibao_fsi::decimal::Yuan;
use yibao_proto::common::v1::{PersonCategory, Scheme};
use yibao_proto::enrollment::v1 as enrollment;
use yibao_proto::enrollment::v1::enrollment_service_client::EnrollmentServiceClient;
use yibao_proto::settlement::v1 as settlement;
use yibao_proto::settlement::v1::settlement_service_client::SettlementServiceClient;

/// The interface's `insutype` of a scheme: 310 employees' basic, 390 residents' basic.
pub fn insutype(scheme: i32) -> &'static str {
    match Scheme::try_from(scheme) {
        Ok(Scheme::Employee) => "310",
        Ok(Scheme::Resident) => "390",
        _ => "",
    }
}

/// `gend`: 1 male, 2 female.
pub fn gend(sex: &str) -> &'static str {
    match sex {
        "male" | "SEX_MALE" | "1" => "1",
        "female" | "SEX_FEMALE" | "2" => "2",
        _ => "9",
    }
}

/// Full years between `birth` (`yyyy-MM-dd`) and `on`.
pub fn age(birth: &str, on: chrono::NaiveDate) -> u32 {
    use chrono::Datelike;
    let Ok(b) = chrono::NaiveDate::parse_from_str(birth, "%Y-%m-%d") else {
        return 0;
    };
    let mut years = on.year() - b.year();
    if (on.month(), on.day()) < (b.month(), b.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// `psn_idet_type` of a person category (the province's dictionary; docs/national-interface.md).
fn idet_type(c: PersonCategory) -> (&'static str, &'static str) {
    match c {
        PersonCategory::MinimumLiving => ("2201", "低保对象"),
        PersonCategory::ExtremePoverty => ("2202", "特困人员"),
        PersonCategory::FiveGuarantees => ("2203", "五保户"),
        PersonCategory::LowIncome => ("2204", "低保边缘家庭成员"),
        PersonCategory::PovertyRegistered => ("2301", "脱贫人口（建档立卡）"),
        PersonCategory::Disabled => ("2401", "残疾人"),
        PersonCategory::Student => ("1403", "中小学生"),
        PersonCategory::Retiree => ("1201", "退休人员"),
        PersonCategory::Unspecified => ("", ""),
    }
}

#[derive(Serialize)]
struct BaseInfo {
    psn_no: String,
    psn_cert_type: &'static str,
    certno: String,
    psn_name: String,
    gend: &'static str,
    naty: String,
    brdy: String,
    age: u32,
}

#[derive(Serialize)]
struct InsuInfo {
    balc: Yuan,
    insutype: &'static str,
    psn_type: &'static str,
    psn_insu_stas: &'static str,
    psn_insu_date: String,
    paus_insu_date: String,
    cvlserv_flag: &'static str,
    insuplc_admdvs: String,
    emp_name: String,
}

#[derive(Serialize)]
struct IdetInfo {
    psn_idet_type: &'static str,
    psn_type_lv: String,
    memo: &'static str,
    begntime: String,
    endtime: String,
}

#[derive(Serialize)]
struct Out1101 {
    baseinfo: BaseInfo,
    insuinfo: Vec<InsuInfo>,
    idetinfo: Vec<IdetInfo>,
}

/// Eligibility of the person a 1101/2201/2401 certificate names: (eligibility, name). An ID
/// card (02) or social-security card (03) carries the ID number; an e-voucher (01) is resolved.
pub async fn eligibility(
    c: &Call<'_>,
    node: &Node,
    cert_type_field: &str,
    cert_no_field: &str,
    date: Option<String>,
) -> Result<enrollment::CheckEligibilityResponse, Refusal> {
    let cert_type = node.req(cert_type_field)?;
    let cert_no = node.req(cert_no_field)?;
    let no_path = node.at(cert_no_field);
    let fields = [
        ("id_number", no_path.as_str()),
        ("qr_payload", no_path.as_str()),
    ];
    let e = match cert_type.as_str() {
        "02" | "03" => {
            let msg = enrollment::CheckEligibilityRequest {
                id_number: cert_no,
                date: date.unwrap_or_default(),
            };
            c.rpc(
                "enrollment",
                "CheckEligibility",
                msg,
                &fields,
                |ch, r| async move { EnrollmentServiceClient::new(ch).check_eligibility(r).await },
            )
            .await?
        }
        "01" => {
            let msg = enrollment::ResolveVoucherRequest {
                qr_payload: cert_no,
            };
            let v = c
                .rpc("enrollment", "ResolveVoucher", msg, &fields, |ch, r| async move {
                    EnrollmentServiceClient::new(ch).resolve_voucher(r).await
                })
                .await?;
            let mut e = v.eligibility.unwrap_or_default();
            if e.name.is_empty() {
                e.name = v.name;
            }
            if e.person_id.is_empty() {
                e.person_id = v.person_id;
            }
            e
        }
        other => {
            return Err(Refusal::field(
                node.at(cert_type_field),
                format!(
                    "must be 01 (e-voucher), 02 (ID card) or 03 (social-security card), got `{other}`"
                ),
            ));
        }
    };
    if e.person_id.is_empty() {
        return Err(Refusal::new(
            tonic::Code::NotFound,
            format!("{no_path}: no insured person holds this certificate"),
        ));
    }
    Ok(e)
}

/// 1101: who the certificate names, their insurance and categories.
pub async fn info(c: &Call<'_>) -> Result<Output, Refusal> {
    let d = Node::of(&c.req.input, "data")?;
    let date = d.date("begntime")?;
    let e = eligibility(c, &d, "mdtrt_cert_type", "mdtrt_cert_no", date.clone()).await?;
    let on = date
        .as_deref()
        .and_then(|t| chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let psn_no = yibao_fsi::ids::from_uuid(&e.person_id)
        .map_err(|err| Refusal::new(tonic::Code::Internal, format!("person_id: {err}")))?;
    let categories: Vec<PersonCategory> = e
        .categories
        .iter()
        .filter_map(|c| PersonCategory::try_from(*c).ok())
        .collect();
    let insutype = insutype(e.scheme);
    let insuinfo = if insutype.is_empty() {
        Vec::new()
    } else {
        vec![InsuInfo {
            balc: Yuan::default(),
            insutype,
            psn_type: match (
                Scheme::try_from(e.scheme),
                categories.contains(&PersonCategory::Retiree),
            ) {
                (Ok(Scheme::Employee), true) => "12",
                (Ok(Scheme::Employee), false) => "11",
                _ => "15",
            },
            // 1 normal (参保缴费), 2 suspended (暂停: enrolled but not covered on the date).
            psn_insu_stas: if e.eligible { "1" } else { "2" },
            psn_insu_date: e.insured_since.clone(),
            paus_insu_date: String::new(),
            cvlserv_flag: "0",
            insuplc_admdvs: e.region_code.clone(),
            emp_name: String::new(),
        }]
    };
    let idetinfo = categories
        .iter()
        .map(|cat| {
            let (t, memo) = idet_type(*cat);
            IdetInfo {
                psn_idet_type: t,
                psn_type_lv: String::new(),
                memo,
                begntime: String::new(),
                endtime: String::new(),
            }
        })
        .filter(|i| !i.psn_idet_type.is_empty())
        .collect();
    let out = Output::of(&Out1101 {
        baseinfo: BaseInfo {
            psn_no,
            psn_cert_type: "01",
            certno: e.id_number_masked.clone(),
            psn_name: e.name.clone(),
            gend: gend(&e.sex),
            naty: String::new(),
            brdy: e.birth_date.clone(),
            age: age(&e.birth_date, on),
        },
        insuinfo,
        idetinfo,
    })?;
    Ok(if e.eligible {
        out
    } else {
        out.warn(format!("not covered on {}: {}", e.date, e.explanation))
    })
}

#[derive(Serialize)]
struct CumInfo {
    insutype: String,
    year: i32,
    cum_ym: String,
    cum_type_code: String,
    cum: Yuan,
}

#[derive(Serialize)]
struct Out5206 {
    cuminfo: Vec<CumInfo>,
}

/// 5206: the person's counters of a year (`cum_ym` yyyyMM, else this year), one `cuminfo` row
/// per counter (`cum_type_code` names it; docs/national-interface.md lists them).
pub async fn accumulators(c: &Call<'_>) -> Result<Output, Refusal> {
    use chrono::Datelike;
    let d = Node::of(&c.req.input, "data")?;
    let person_id = d.id("psn_no")?;
    let cum_ym = d.text("cum_ym")?;
    let year = match &cum_ym {
        Some(ym) => ym
            .get(..4)
            .and_then(|y| y.parse::<i32>().ok())
            .filter(|_| ym.len() == 6 && ym.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| Refusal::field(d.at("cum_ym"), format!("must be yyyyMM, got `{ym}`")))?,
        None => chrono::Local::now().year(),
    };
    let region = c.req.insuplc_admdvs.clone().unwrap_or_default();
    let psn_path = d.at("psn_no");
    let fields = [
        ("person_id", psn_path.as_str()),
        ("region_code", "insuplc_admdvs"),
    ];
    let msg = settlement::GetAccumulatorsRequest {
        id_number: String::new(),
        person_id,
        region_code: region,
        year,
    };
    let a = c
        .rpc(
            "settlement",
            "GetAccumulators",
            msg,
            &fields,
            |ch, r| async move { SettlementServiceClient::new(ch).get_accumulators(r).await },
        )
        .await?
        .accumulators
        .unwrap_or_default();
    let insutype = d.text("insutype")?.unwrap_or_else(|| "390".into());
    let ym = cum_ym.unwrap_or_else(|| format!("{year}12"));
    let mut rows: Vec<(String, i64)> = vec![
        ("deductible_used".into(), a.deductible_used_fen),
        ("admissions".into(), a.admissions * 100),
        ("pool_paid".into(), a.pool_paid_fen),
        ("critical_base".into(), a.critical_base_fen),
        ("critical_paid".into(), a.critical_paid_fen),
        (
            "assistance_deductible_used".into(),
            a.assistance_deductible_used_fen,
        ),
        ("assistance_paid".into(), a.assistance_paid_fen),
        ("backstop_oop".into(), a.backstop_oop_fen),
        ("backstop_paid".into(), a.backstop_paid_fen),
        (
            "chronic_supplement_paid".into(),
            a.chronic_supplement_paid_fen,
        ),
    ];
    let mut pools: Vec<_> = a.outpatient_pool_paid_fen.into_iter().collect();
    pools.sort();
    rows.extend(
        pools
            .into_iter()
            .map(|(k, v)| (format!("outpatient_pool_paid:{k}"), v)),
    );
    let mut diseases: Vec<_> = a.chronic_disease_paid_fen.into_iter().collect();
    diseases.sort();
    rows.extend(
        diseases
            .into_iter()
            .map(|(k, v)| (format!("chronic_disease_paid:{k}"), v)),
    );
    Output::of(&Out5206 {
        cuminfo: rows
            .into_iter()
            .map(|(code, fen)| CumInfo {
                insutype: insutype.clone(),
                year,
                cum_ym: ym.clone(),
                cum_type_code: code,
                cum: Yuan(yibao_core::Fen(fen)),
            })
            .collect(),
    })
}
