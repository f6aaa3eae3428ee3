//! gRPC mapping of the settlement service: proto ⇄ domain, tenancy re-checks, errors →
//! `Status`. Bad input is refused with the field path before anything is written.

use crate::domain::{
    self, Accumulators, Breakdown, CatalogueEntry, Claim, ClaimItem, CrossRegionFiling,
    EligibilitySnapshot, EncounterKind, HospitalGrade, InstitutionTier, ItemClass, Layer,
    PersonCategory, PolicyDocument, Scheme, Settlement,
};
use crate::error::SettleError;
use crate::store::{
    self, Actor, ClaimFilter, ClaimStatus, InsurerFilter, SettleInput, Store, StoredClaim,
};
use chrono::NaiveDate;
use std::collections::BTreeSet;
use tonic::{Request, Response, Status};
use yibao_core::{Bp, Fen, IdNumber, InstitutionCode, RegionCode};
use yibao_proto::common::v1 as common;
use yibao_proto::enrollment::v1 as enr;
use yibao_proto::procurement::v1 as proc;
use yibao_proto::settlement::v1 as pb;
use yibao_proto::supervision::v1 as sup;
use yibao_runtime::auth::{Caller, Role};
use yibao_runtime::server::{Forward, ServiceDeps, caller};
use yibao_runtime::{ApiError, ErrorKind};

type Reply<T> = Result<Response<T>, Status>;

/// The SettlementService implementation.
#[derive(Debug, Clone)]
pub struct SettlementApi {
    store: Store,
    enrollment: tonic::transport::Channel,
    procurement: tonic::transport::Channel,
    supervision: tonic::transport::Channel,
}

const ENROLLMENT_UNAVAILABLE: &str = "SETTLEMENT_ENROLLMENT_UNAVAILABLE";
const PROCUREMENT_UNAVAILABLE: &str = "SETTLEMENT_PROCUREMENT_UNAVAILABLE";

/// An upstream's failure to answer becomes `Unavailable` with our code; its refusals pass on.
fn upstream(code: &'static str, s: Status) -> Status {
    match s.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown => {
            SettleError::Upstream(code, s.message().to_string()).into()
        }
        _ => s,
    }
}

fn lazy_channel(name: &str, uri: &str) -> Result<tonic::transport::Channel, String> {
    Ok(tonic::transport::Endpoint::from_shared(uri.to_string())
        .map_err(|e| format!("upstreams.{name} `{uri}`: {e}"))?
        .connect_lazy())
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Status {
    ApiError::invalid("SETTLEMENT_INVALID_ARGUMENT", field, reason).into()
}

fn auth(e: yibao_runtime::auth::AuthError) -> Status {
    ApiError::from(e).into()
}

fn actor(c: &Caller) -> Actor {
    Actor {
        subject: c.subject.clone(),
        role: c.role.as_str().to_string(),
    }
}

fn parse_date(field: &str, s: &str) -> Result<NaiveDate, Status> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| invalid(field, "must be a date YYYY-MM-DD"))
}

fn parse_month(field: &str, s: &str) -> Result<String, Status> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .map_err(|_| invalid(field, "must be a month YYYY-MM"))?;
    if s.len() != 7 {
        return Err(invalid(field, "must be a month YYYY-MM"));
    }
    Ok(s.to_string())
}

fn parse_region(field: &str, s: &str) -> Result<RegionCode, Status> {
    RegionCode::parse(s).map_err(|e| invalid(field, e.to_string()))
}

fn parse_id(field: &str, s: &str) -> Result<IdNumber, Status> {
    IdNumber::parse(s).map_err(|e| invalid(field, e.to_string()))
}

fn page(p: Option<&common::PageRequest>) -> Result<(u64, u64), Status> {
    let (size, token) = p
        .map(|p| (p.page_size, p.page_token.as_str()))
        .unwrap_or((0, ""));
    let size = match size {
        0 => 50,
        n if (1..=500).contains(&n) => u64::try_from(n).unwrap_or(50),
        _ => return Err(invalid("page.page_size", "must be 1 to 500")),
    };
    let offset = if token.is_empty() {
        0
    } else {
        token
            .parse::<u64>()
            .map_err(|_| invalid("page.page_token", "not a token from a previous page"))?
    };
    Ok((size, offset))
}

fn next_page(size: u64, offset: u64, got: usize) -> Option<common::PageResponse> {
    Some(common::PageResponse {
        next_page_token: if got as u64 == size {
            (offset + size).to_string()
        } else {
            String::new()
        },
    })
}

/// The region a region-scoped caller lists by default.
fn list_region(c: &Caller, field: &str, requested: &str) -> Result<Option<String>, Status> {
    if requested.is_empty() {
        return Ok(c
            .region
            .as_ref()
            .filter(|_| c.role.is_region_scoped())
            .map(ToString::to_string));
    }
    parse_region(field, requested)?;
    c.check_region(field, requested).map_err(auth)?;
    Ok(Some(requested.to_string()))
}

// ---- enum mapping --------------------------------------------------------------------

fn scheme_pb(s: Scheme) -> i32 {
    match s {
        Scheme::Employee => common::Scheme::Employee as i32,
        Scheme::Resident => common::Scheme::Resident as i32,
    }
}

fn scheme_of_pb(v: i32) -> Option<Scheme> {
    match common::Scheme::try_from(v).ok()? {
        common::Scheme::Employee => Some(Scheme::Employee),
        common::Scheme::Resident => Some(Scheme::Resident),
        common::Scheme::Unspecified => None,
    }
}

fn category_of_pb(v: i32) -> Option<PersonCategory> {
    use common::PersonCategory as P;
    Some(match P::try_from(v).ok()? {
        P::MinimumLiving => PersonCategory::MinimumLiving,
        P::ExtremePoverty => PersonCategory::ExtremePoverty,
        P::PovertyRegistered => PersonCategory::PovertyRegistered,
        P::FiveGuarantees => PersonCategory::FiveGuarantees,
        P::Disabled => PersonCategory::Disabled,
        P::LowIncome => PersonCategory::LowIncome,
        P::Student => PersonCategory::Student,
        P::Retiree => PersonCategory::Retiree,
        P::Unspecified => return None,
    })
}

fn category_pb(c: PersonCategory) -> i32 {
    use common::PersonCategory as P;
    (match c {
        PersonCategory::MinimumLiving => P::MinimumLiving,
        PersonCategory::ExtremePoverty => P::ExtremePoverty,
        PersonCategory::PovertyRegistered => P::PovertyRegistered,
        PersonCategory::FiveGuarantees => P::FiveGuarantees,
        PersonCategory::Disabled => P::Disabled,
        PersonCategory::LowIncome => P::LowIncome,
        PersonCategory::Student => P::Student,
        PersonCategory::Retiree => P::Retiree,
    }) as i32
}

fn kind_pb(k: EncounterKind) -> i32 {
    (match k {
        EncounterKind::Inpatient => pb::EncounterKind::Inpatient,
        EncounterKind::GeneralOutpatient => pb::EncounterKind::GeneralOutpatient,
        EncounterKind::OutpatientChronic => pb::EncounterKind::OutpatientChronic,
        EncounterKind::Maternity => pb::EncounterKind::Maternity,
        EncounterKind::Pharmacy => pb::EncounterKind::Pharmacy,
    }) as i32
}

fn class_pb(c: ItemClass) -> i32 {
    (match c {
        ItemClass::A => pb::ItemClass::A,
        ItemClass::B => pb::ItemClass::B,
        ItemClass::C => pb::ItemClass::C,
    }) as i32
}

fn grade_pb(g: HospitalGrade) -> i32 {
    (match g {
        HospitalGrade::Grade1 => pb::HospitalGrade::Primary,
        HospitalGrade::Grade2 => pb::HospitalGrade::Secondary,
        HospitalGrade::Grade3 => pb::HospitalGrade::Tertiary,
    }) as i32
}

fn tier_pb(t: InstitutionTier) -> i32 {
    (match t {
        InstitutionTier::Township => pb::InstitutionTier::Township,
        InstitutionTier::County => pb::InstitutionTier::County,
        InstitutionTier::City => pb::InstitutionTier::City,
        InstitutionTier::Province => pb::InstitutionTier::Province,
    }) as i32
}

fn filing_pb(f: Option<CrossRegionFiling>) -> i32 {
    (match f {
        None => pb::CrossRegionFiling::Unspecified,
        Some(CrossRegionFiling::LongTermResident) => pb::CrossRegionFiling::LongTermResident,
        Some(CrossRegionFiling::Referral) => pb::CrossRegionFiling::Referral,
        Some(CrossRegionFiling::Emergency) => pb::CrossRegionFiling::Emergency,
        Some(CrossRegionFiling::OtherTemporary) => pb::CrossRegionFiling::OtherTemporary,
    }) as i32
}

fn layer_pb(l: Layer) -> i32 {
    (match l {
        Layer::BasicPool => pb::Layer::BasicPool,
        Layer::Maternity => pb::Layer::Maternity,
        Layer::OutpatientPool => pb::Layer::OutpatientPool,
        Layer::ChronicDisease => pb::Layer::ChronicDisease,
        Layer::CriticalIllness => pb::Layer::CriticalIllness,
        Layer::MedicalAssistance => pb::Layer::MedicalAssistance,
        Layer::Backstop => pb::Layer::Backstop,
        Layer::ChronicSupplement => pb::Layer::ChronicSupplement,
        Layer::Commercial => pb::Layer::Commercial,
    }) as i32
}

fn status_pb(s: ClaimStatus) -> i32 {
    (match s {
        ClaimStatus::Settled => pb::ClaimStatus::Settled,
        ClaimStatus::PartiallyRefunded => pb::ClaimStatus::PartiallyRefunded,
        ClaimStatus::Reversed => pb::ClaimStatus::Reversed,
        ClaimStatus::Superseded => pb::ClaimStatus::Superseded,
    }) as i32
}

fn status_of_pb(v: i32) -> Option<ClaimStatus> {
    match pb::ClaimStatus::try_from(v).ok()? {
        pb::ClaimStatus::Settled => Some(ClaimStatus::Settled),
        pb::ClaimStatus::PartiallyRefunded => Some(ClaimStatus::PartiallyRefunded),
        pb::ClaimStatus::Reversed => Some(ClaimStatus::Reversed),
        pb::ClaimStatus::Superseded => Some(ClaimStatus::Superseded),
        pb::ClaimStatus::Unspecified => None,
    }
}

fn insurer_status_pb(s: &str) -> i32 {
    (match s {
        "settled" => pb::InsurerClaimStatus::Settled,
        "reconciled" => pb::InsurerClaimStatus::Reconciled,
        "disputed" => pb::InsurerClaimStatus::Disputed,
        "resolved" => pb::InsurerClaimStatus::Resolved,
        "reversed" => pb::InsurerClaimStatus::Reversed,
        _ => pb::InsurerClaimStatus::Unspecified,
    }) as i32
}

fn insurer_status_of_pb(v: i32) -> Option<&'static str> {
    match pb::InsurerClaimStatus::try_from(v).ok()? {
        pb::InsurerClaimStatus::Settled => Some("settled"),
        pb::InsurerClaimStatus::Reconciled => Some("reconciled"),
        pb::InsurerClaimStatus::Disputed => Some("disputed"),
        pb::InsurerClaimStatus::Resolved => Some("resolved"),
        pb::InsurerClaimStatus::Reversed => Some("reversed"),
        pb::InsurerClaimStatus::Unspecified => None,
    }
}

// ---- message mapping -----------------------------------------------------------------

/// A breakdown in the national vocabulary.
pub fn breakdown_pb(b: &Breakdown) -> pb::Breakdown {
    pb::Breakdown {
        medfee_sumamt_fen: b.medfee_sumamt.0,
        fulamt_ownpay_amt_fen: b.fulamt_ownpay_amt.0,
        overlmt_selfpay_fen: b.overlmt_selfpay.0,
        preselfpay_amt_fen: b.preselfpay_amt.0,
        inscp_scp_amt_fen: b.inscp_scp_amt.0,
        act_pay_dedc_fen: b.act_pay_dedc.0,
        hifp_pay_fen: b.hifp_pay.0,
        pool_prop_selfpay_bp: b.pool_prop_selfpay.0,
        cvlserv_pay_fen: b.cvlserv_pay.0,
        hifes_pay_fen: b.hifes_pay.0,
        hifmi_pay_fen: b.hifmi_pay.0,
        hifob_pay_fen: b.hifob_pay.0,
        maf_pay_fen: b.maf_pay.0,
        hifdm_pay_fen: b.hifdm_pay.0,
        oth_pay_fen: b.oth_pay.0,
        backstop_pay_fen: b.backstop_pay.0,
        supplement_pay_fen: b.supplement_pay.0,
        fund_pay_sumamt_fen: b.fund_pay_sumamt.0,
        hosp_part_amt_fen: b.hosp_part_amt.0,
        psn_part_amt_fen: b.psn_part_amt.0,
        insurer_pay_fen: b.insurer_pay.0,
        acct_pay_fen: b.acct_pay.0,
        acct_mulaid_pay_fen: b.acct_mulaid_pay.0,
        psn_cash_pay_fen: b.psn_cash_pay.0,
    }
}

/// A settlement as the contract shows it.
pub fn settlement_pb(claim_id: &str, s: &Settlement) -> pb::Settlement {
    pb::Settlement {
        claim_id: claim_id.to_string(),
        institution_code: s.institution_code.clone(),
        encounter_no: s.encounter_no.clone(),
        kind: kind_pb(s.kind),
        disease_code: s.disease_code.clone().unwrap_or_default(),
        settled_on: s.settled_on.to_string(),
        year: s.year,
        policy_id: s.policy_id.clone(),
        policy_version: s.policy_version,
        scheme: scheme_pb(s.scheme),
        insured_region_code: s.insured_region.to_string(),
        treatment_region_code: s.treatment_region.to_string(),
        cross_region: s.cross_region,
        categories: s.categories.iter().map(|c| category_pb(*c)).collect(),
        breakdown: Some(breakdown_pb(&s.breakdown)),
        items: s
            .items
            .iter()
            .enumerate()
            .map(|(n, it)| pb::ItemSplit {
                item_index: u32::try_from(n).unwrap_or(u32::MAX),
                medfee_sumamt_fen: it.medfee_sumamt.0,
                fulamt_ownpay_amt_fen: it.fulamt_ownpay_amt.0,
                overlmt_selfpay_fen: it.overlmt_selfpay.0,
                preselfpay_amt_fen: it.preselfpay_amt.0,
                inscp_scp_amt_fen: it.inscp_scp_amt.0,
            })
            .collect(),
        layers: s
            .layers
            .iter()
            .map(|l| pb::LayerLine {
                layer: layer_pb(l.layer),
                fund_pay_type: l.fund_pay_type.code().to_string(),
                code: l.code.clone().unwrap_or_default(),
                base_fen: l.base.0,
                rate_bp: l.rate.0,
                fund_payamt_fen: l.amount.0,
                crt_payb_lmt_amt_fen: l.crt_payb_lmt_amt.map(|f| f.0),
                limit_remaining_fen: l.limit_remaining.map(|f| f.0),
            })
            .collect(),
        explanations: s
            .explanations
            .iter()
            .map(|e| pb::Explanation {
                field: e.field.name().to_string(),
                rule: store::rule_name(&e.rule),
                amount_fen: e.amount.0,
                base_fen: e.base.0,
                less_fen: e.less.0,
                rate_bp: e.rate.map(|r| r.0),
                limit_fen: e.limit.map(|l| l.0),
                text: e.words(),
            })
            .collect(),
    }
}

fn claim_pb(c: &StoredClaim) -> pb::Claim {
    pb::Claim {
        institution_code: c.institution_code.clone(),
        encounter_no: c.encounter_no.clone(),
        id_number: IdNumber::parse(&c.id_number)
            .map(|i| i.masked())
            .unwrap_or_default(),
        insured_region_code: c.insured_region_code.clone(),
        kind: kind_pb(c.kind),
        disease_code: c.disease_code.clone().unwrap_or_default(),
        hospital_grade: grade_pb(c.grade),
        institution_tier: tier_pb(c.tier),
        start_date: c.start_date.to_string(),
        end_date: c.end_date.to_string(),
        diagnoses: c.diagnoses.clone(),
        items: c
            .items
            .iter()
            .map(|it| pb::ClaimItem {
                national_code: it.national_code.clone(),
                name: it.name.clone(),
                item_class: class_pb(it.class),
                quantity: it.quantity,
                unit_price_fen: it.unit_price.0,
                amount_fen: it.amount.0,
                payment_standard_fen: it.payment_standard.map(|f| f.0),
                preselfpay_share_bp: it.preselfpay_share.map(|b| b.0),
                charge_category: String::new(),
            })
            .collect(),
        cross_region_filing: filing_pb(c.cross_region_filing),
    }
}

fn accumulators_pb(a: &Accumulators) -> pb::Accumulators {
    pb::Accumulators {
        year: a.year,
        region_code: a.region.to_string(),
        deductible_used_fen: a.deductible_used.0,
        admissions: a.admissions,
        pool_paid_fen: a.pool_paid.0,
        critical_base_fen: a.critical_base.0,
        critical_paid_fen: a.critical_paid.0,
        assistance_deductible_used_fen: a.assistance_deductible_used.0,
        assistance_paid_fen: a.assistance_paid.0,
        backstop_oop_fen: a.backstop_oop.0,
        backstop_paid_fen: a.backstop_paid.0,
        highest_tier: a.highest_tier().map(tier_pb).unwrap_or(0),
        tier_visits: a
            .tier_visits
            .iter()
            .map(|(t, n)| pb::TierVisits {
                tier: tier_pb(*t),
                claims: *n,
            })
            .collect(),
        chronic_supplement_paid_fen: a.chronic_supplement_paid.0,
        outpatient_pool_paid_fen: a
            .outpatient_pools
            .iter()
            .map(|(k, v)| (k.clone(), v.0))
            .collect(),
        chronic_disease_paid_fen: a
            .chronic_used
            .iter()
            .map(|(k, v)| (k.clone(), v.0))
            .collect(),
        supplements: a
            .supplements
            .iter()
            .map(|(k, u)| pb::SupplementUse {
                product_code: k.clone(),
                deductible_used_fen: u.deductible_used.0,
                paid_fen: u.paid.0,
            })
            .collect(),
    }
}

fn policy_pb(h: &store::PolicyHeader) -> pb::PolicySummary {
    pb::PolicySummary {
        policy_id: h.policy_id.clone(),
        version: h.version,
        name: h.name.clone(),
        region_code: h.region_code.clone(),
        year: h.year,
        scheme: scheme_pb(h.scheme),
        effective_from: h.effective_from.clone(),
        uploaded: Some(common::Audit {
            actor: h.uploaded_by.clone(),
            role: h.uploaded_role.clone(),
            at: h.uploaded_at.clone(),
        }),
    }
}

fn insurer_claim_pb(r: &store::InsurerClaimRow) -> pb::InsurerClaim {
    pb::InsurerClaim {
        claim_id: r.claim_id.clone(),
        product_code: r.product_code.clone(),
        insurer_code: r.insurer_code.clone(),
        institution_code: r.institution_code.clone(),
        settled_on: r.settled_on.clone(),
        id_number_masked: r.id_number_masked.clone(),
        covered_base_fen: r.covered_base,
        deductible_fen: r.deductible,
        rate_bp: u32::try_from(r.rate_bp).unwrap_or(0),
        insurer_pay_fen: r.insurer_pay,
        status: insurer_status_pb(&r.status),
        dispute_reason: r.dispute_reason.clone(),
    }
}

/// A claim parsed at the edge, before pricing and eligibility.
struct ParsedClaim {
    claim: Claim,
    insured_region: RegionCode,
    filing: Option<CrossRegionFiling>,
    /// Items whose class the caller left to the catalogue.
    unclassified: Vec<bool>,
}

/// Parses a claim; every problem names its path under `claim.`.
fn parse_claim(c: Option<&pb::Claim>) -> Result<ParsedClaim, Status> {
    let Some(c) = c else {
        return Err(invalid("claim", "required"));
    };
    let mut v: Vec<(String, String)> = Vec::new();
    let mut bad = |f: &str, r: String| v.push((format!("claim.{f}"), r));
    let institution = InstitutionCode::parse(&c.institution_code)
        .map_err(|e| bad("institution_code", e.to_string()))
        .ok();
    let id = IdNumber::parse(&c.id_number)
        .map_err(|e| bad("id_number", e.to_string()))
        .ok();
    let region = RegionCode::parse(&c.insured_region_code)
        .map_err(|e| bad("insured_region_code", e.to_string()))
        .ok();
    let kind = match pb::EncounterKind::try_from(c.kind) {
        Ok(pb::EncounterKind::Inpatient) => Some(EncounterKind::Inpatient),
        Ok(pb::EncounterKind::GeneralOutpatient) => Some(EncounterKind::GeneralOutpatient),
        Ok(pb::EncounterKind::OutpatientChronic) => Some(EncounterKind::OutpatientChronic),
        Ok(pb::EncounterKind::Maternity) => Some(EncounterKind::Maternity),
        Ok(pb::EncounterKind::Pharmacy) => Some(EncounterKind::Pharmacy),
        _ => {
            bad("kind", "required: the kind of encounter".into());
            None
        }
    };
    let grade = match pb::HospitalGrade::try_from(c.hospital_grade) {
        Ok(pb::HospitalGrade::Primary) => Some(HospitalGrade::Grade1),
        Ok(pb::HospitalGrade::Secondary) => Some(HospitalGrade::Grade2),
        Ok(pb::HospitalGrade::Tertiary) => Some(HospitalGrade::Grade3),
        _ => {
            bad("hospital_grade", "required".into());
            None
        }
    };
    let tier = match pb::InstitutionTier::try_from(c.institution_tier) {
        Ok(pb::InstitutionTier::Township) => Some(InstitutionTier::Township),
        Ok(pb::InstitutionTier::County) => Some(InstitutionTier::County),
        Ok(pb::InstitutionTier::City) => Some(InstitutionTier::City),
        Ok(pb::InstitutionTier::Province) => Some(InstitutionTier::Province),
        _ => {
            bad("institution_tier", "required".into());
            None
        }
    };
    let filing = match pb::CrossRegionFiling::try_from(c.cross_region_filing) {
        Ok(pb::CrossRegionFiling::Unspecified) => None,
        Ok(pb::CrossRegionFiling::LongTermResident) => Some(CrossRegionFiling::LongTermResident),
        Ok(pb::CrossRegionFiling::Referral) => Some(CrossRegionFiling::Referral),
        Ok(pb::CrossRegionFiling::Emergency) => Some(CrossRegionFiling::Emergency),
        Ok(pb::CrossRegionFiling::OtherTemporary) => Some(CrossRegionFiling::OtherTemporary),
        Err(_) => {
            bad("cross_region_filing", "unknown value".into());
            None
        }
    };
    let start = NaiveDate::parse_from_str(&c.start_date, "%Y-%m-%d")
        .map_err(|_| bad("start_date", "must be a date YYYY-MM-DD".into()))
        .ok();
    let end = NaiveDate::parse_from_str(&c.end_date, "%Y-%m-%d")
        .map_err(|_| bad("end_date", "must be a date YYYY-MM-DD".into()))
        .ok();
    let mut items = Vec::with_capacity(c.items.len());
    let mut unclassified = Vec::with_capacity(c.items.len());
    for (n, it) in c.items.iter().enumerate() {
        let class = match pb::ItemClass::try_from(it.item_class) {
            Ok(pb::ItemClass::A) => ItemClass::A,
            Ok(pb::ItemClass::B) => ItemClass::B,
            Ok(pb::ItemClass::C) | Ok(pb::ItemClass::Unspecified) => ItemClass::C,
            Err(_) => {
                bad(&format!("items[{n}].item_class"), "unknown value".into());
                ItemClass::C
            }
        };
        unclassified.push(it.item_class == pb::ItemClass::Unspecified as i32);
        let share = match it.preselfpay_share_bp {
            Some(s) if s > 10_000 => {
                bad(
                    &format!("items[{n}].preselfpay_share_bp"),
                    "must not exceed 10000 bp (100%)".into(),
                );
                None
            }
            s => s.map(Bp),
        };
        items.push(ClaimItem {
            national_code: it.national_code.clone(),
            name: it.name.clone(),
            class,
            quantity: it.quantity,
            unit_price: Fen(it.unit_price_fen),
            amount: Fen(it.amount_fen),
            payment_standard: it.payment_standard_fen.map(Fen),
            preselfpay_share: share,
        });
    }
    let disease = Some(c.disease_code.trim().to_string()).filter(|d| !d.is_empty());
    match (institution, id, region, kind, grade, tier, start, end) {
        (
            Some(institution_code),
            Some(id_number),
            Some(insured_region),
            Some(kind),
            Some(grade),
            Some(tier),
            Some(start_date),
            Some(end_date),
        ) if v.is_empty() => {
            let claim = Claim {
                institution_code,
                encounter_no: c.encounter_no.clone(),
                id_number,
                kind,
                disease_code: disease,
                grade,
                tier,
                start_date,
                end_date,
                diagnoses: c.diagnoses.clone(),
                items,
            };
            // The engine's checks, early: nothing is asked of enrollment for a malformed claim.
            domain::validate_claim(&claim)
                .map_err(|e| Status::from(SettleError::Engine(e.into())))?;
            Ok(ParsedClaim {
                claim,
                insured_region,
                filing,
                unclassified,
            })
        }
        _ => Err(ApiError::invalid_fields("SETTLEMENT_INVALID_ARGUMENT", v).into()),
    }
}

impl SettlementApi {
    /// Builds the API over a store; the upstream channels connect lazily.
    pub fn new(store: Store, deps: &ServiceDeps) -> Result<Self, String> {
        let enrollment = lazy_channel("enrollment", &deps.upstreams.enrollment)?;
        let procurement = lazy_channel("procurement", &deps.upstreams.procurement)?;
        let supervision = lazy_channel("supervision", &deps.upstreams.supervision)?;
        Ok(Self {
            store,
            enrollment,
            procurement,
            supervision,
        })
    }

    /// Supervision's decision on paying `institution`'s statement of `month` ("YYYY-MM"), which
    /// is paid the month after. An unreachable supervision gives no decision, with the reason.
    async fn payment_decision(
        &self,
        authorization: Option<http::HeaderValue>,
        institution: &InstitutionCode,
        month: &str,
    ) -> (pb::PaymentDecision, Vec<String>, u32) {
        use chrono::{Datelike, Months};
        let Some(paid_in) = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.checked_add_months(Months::new(1)))
        else {
            return (
                pb::PaymentDecision::Unspecified,
                vec![format!("month `{month}` has no following month")],
                0,
            );
        };
        let mut client =
            sup::supervision_service_client::SupervisionServiceClient::with_interceptor(
                self.supervision.clone(),
                Forward { authorization },
            );
        let ask = sup::CheckSettlementHoldRequest {
            region_code: institution.region().to_string(),
            institution_code: institution.to_string(),
            year: paid_in.year(),
            month: paid_in.month(),
        };
        match client.check_settlement_hold(ask).await {
            Ok(r) => {
                let r = r.into_inner();
                let decision = match sup::SettlementDecision::try_from(r.decision) {
                    Ok(sup::SettlementDecision::Settle) => pb::PaymentDecision::Pay,
                    Ok(sup::SettlementDecision::Hold) => pb::PaymentDecision::Hold,
                    Ok(sup::SettlementDecision::Refuse) => pb::PaymentDecision::Refuse,
                    _ => pb::PaymentDecision::Unspecified,
                };
                (decision, r.reasons, r.credit_score)
            }
            Err(e) => {
                tracing::warn!(error = %e.message(), institution = %institution, "supervision did not answer the payment check");
                (
                    pb::PaymentDecision::Unspecified,
                    vec![format!("supervision could not be asked: {}", e.message())],
                    0,
                )
            }
        }
    }

    /// Asks enrollment who the person is on the claim date, forwarding the caller's token.
    async fn eligibility(
        &self,
        authorization: Option<http::HeaderValue>,
        id: &IdNumber,
        date: NaiveDate,
    ) -> Result<enr::CheckEligibilityResponse, Status> {
        let mut client = enr::enrollment_service_client::EnrollmentServiceClient::with_interceptor(
            self.enrollment.clone(),
            Forward { authorization },
        );
        client
            .check_eligibility(enr::CheckEligibilityRequest {
                id_number: id.expose().to_string(),
                date: date.to_string(),
            })
            .await
            .map(Response::into_inner)
            .map_err(|s| upstream(ENROLLMENT_UNAVAILABLE, s))
    }

    /// Asks procurement for the payment standards (医保支付标准) of `codes` in force at the
    /// place of treatment on `date` (its county, city or province, most specific first). The
    /// answer comes from procurement's cache, which it invalidates on every change.
    async fn payment_standards(
        &self,
        authorization: Option<http::HeaderValue>,
        treatment: &RegionCode,
        codes: &[String],
        date: NaiveDate,
    ) -> Result<std::collections::HashMap<String, Fen>, Status> {
        let mut client =
            proc::procurement_service_client::ProcurementServiceClient::with_interceptor(
                self.procurement.clone(),
                Forward { authorization },
            );
        let mut found = std::collections::HashMap::new();
        for chunk in codes.chunks(1_000) {
            let answer = client
                .get_payment_standards(proc::GetPaymentStandardsRequest {
                    region_code: treatment.to_string(),
                    item_codes: chunk.to_vec(),
                    on_date: date.to_string(),
                    skip_non_national_codes: true,
                })
                .await
                .map_err(|s| upstream(PROCUREMENT_UNAVAILABLE, s))?;
            for r in answer.into_inner().results {
                if let Some(st) = r.standard.filter(|_| r.found) {
                    found.insert(r.item_code, Fen(st.amount_fen));
                }
            }
        }
        Ok(found)
    }

    /// Parses, checks tenancy, resolves eligibility, prices by the catalogue and finds the
    /// policy: everything a settlement needs before the transaction.
    async fn prepare<T>(
        &self,
        req: &Request<T>,
        c: &Caller,
        claim: Option<&pb::Claim>,
    ) -> Result<SettleInput, Status> {
        let parsed = parse_claim(claim)?;
        let mut claim = parsed.claim;
        c.check_org("claim.institution_code", claim.institution_code.as_str())
            .map_err(auth)?;
        c.check_region("claim.insured_region_code", parsed.insured_region.as_str())
            .map_err(auth)?;
        let authorization = req
            .metadata()
            .get("authorization")
            .and_then(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok());
        // Who the person is, the place of treatment's catalogue and procurement's payment
        // standards are independent: asked at once.
        let treatment = claim.institution_code.region();
        let codes: Vec<String> = claim
            .items
            .iter()
            .map(|i| i.national_code.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let (e, catalogue, standards) = tokio::try_join!(
            self.eligibility(authorization.clone(), &claim.id_number, claim.end_date),
            async {
                self.store
                    .catalogue_for(&treatment, &codes, claim.end_date)
                    .await
                    .map_err(Status::from)
            },
            self.payment_standards(authorization, &treatment, &codes, claim.end_date),
        )?;
        if !e.eligible {
            return Err(ApiError::new(
                ErrorKind::FailedPrecondition,
                "SETTLEMENT_NOT_ELIGIBLE",
                format!(
                    "claim.id_number: not covered on {}: {}",
                    claim.end_date, e.explanation
                ),
            )
            .into());
        }
        if e.region_code != parsed.insured_region.as_str() {
            return Err(invalid(
                "claim.insured_region_code",
                format!(
                    "the person is insured in {}, not {}",
                    e.region_code, parsed.insured_region
                ),
            ));
        }
        let scheme = scheme_of_pb(e.scheme).ok_or_else(|| {
            Status::from(SettleError::Upstream(
                ENROLLMENT_UNAVAILABLE,
                "enrollment answered without a scheme".into(),
            ))
        })?;
        // Place of treatment's catalogue: class, payment standard and share of listed items;
        // procurement's payment standard, where one is in force, is the one that counts.
        for (it, unclassified) in claim.items.iter_mut().zip(&parsed.unclassified) {
            match catalogue.get(&it.national_code) {
                Some(row) => {
                    it.class = row.entry.class;
                    it.payment_standard = row.entry.payment_standard.or(it.payment_standard);
                    it.preselfpay_share = row.entry.preselfpay_share.or(it.preselfpay_share);
                }
                None if *unclassified => {
                    it.class = ItemClass::C;
                }
                None => {}
            }
            if let Some(standard) = standards.get(&it.national_code) {
                it.payment_standard = Some(*standard);
            }
        }
        let year = {
            use chrono::Datelike;
            claim.end_date.year()
        };
        let policy: std::sync::Arc<PolicyDocument> = self
            .store
            .find_policy(&parsed.insured_region, scheme, claim.end_date)
            .await?
            .ok_or_else(|| {
                Status::from(SettleError::Precondition(
                    "SETTLEMENT_NO_POLICY",
                    format!(
                        "no policy of region {} for the {:?} scheme is in force on {}",
                        parsed.insured_region, scheme, claim.end_date
                    ),
                ))
            })?;
        let eligibility = EligibilitySnapshot {
            scheme,
            insured_region: parsed.insured_region.clone(),
            categories: e
                .categories
                .iter()
                .filter_map(|c| category_of_pb(*c))
                .collect(),
            // Enrollment keeps no 认定 of chronic diseases yet: the designated institution's
            // disease code on the claim stands for it (the engine still checks the policy list).
            chronic_registrations: claim.disease_code.iter().cloned().collect(),
            supplement_products: self.store.member_products(&claim.id_number, year).await?,
            cross_region_filing: parsed.filing,
        };
        let stored = StoredClaim::of(&claim, &parsed.insured_region, parsed.filing);
        Ok(SettleInput {
            claim,
            stored,
            person_id: e.person_id,
            eligibility,
            policy,
        })
    }

    async fn load_claim(&self, c: &Caller, claim_id: &str) -> Result<store::ClaimRow, Status> {
        if claim_id.is_empty() {
            return Err(invalid("claim_id", "required"));
        }
        let row =
            self.store.claim(claim_id).await?.ok_or_else(|| {
                Status::from(SettleError::NotFound("claim", claim_id.to_string()))
            })?;
        c.check_org("institution_code", &row.stored.institution_code)
            .map_err(auth)?;
        c.check_region("insured_region_code", &row.stored.insured_region_code)
            .map_err(auth)?;
        if c.role == Role::Insurer {
            return Err(auth(yibao_runtime::auth::AuthError::OtherOrganisation {
                field: "institution_code".into(),
                value: row.stored.institution_code,
            }));
        }
        Ok(row)
    }
}

fn reversal_no(s: &str) -> Result<String, Status> {
    let t = s.trim();
    if t.is_empty() || t.len() > 64 {
        return Err(invalid("reversal_no", "must be 1 to 64 characters"));
    }
    Ok(t.to_string())
}

#[tonic::async_trait]
impl pb::settlement_service_server::SettlementService for SettlementApi {
    async fn pre_settle(&self, req: Request<pb::PreSettleRequest>) -> Reply<pb::PreSettleResponse> {
        let c = caller(&req)?;
        let input = self.prepare(&req, &c, req.get_ref().claim.as_ref()).await?;
        let year = {
            use chrono::Datelike;
            input.claim.end_date.year()
        };
        let acc = self
            .store
            .accumulators(
                &input.stored.id_number,
                year,
                &input.eligibility.insured_region,
            )
            .await?;
        let s = domain::settle(&input.claim, &input.eligibility, &acc, &input.policy)
            .map_err(SettleError::from)?;
        Ok(Response::new(pb::PreSettleResponse {
            settlement: Some(settlement_pb("", &s)),
        }))
    }

    async fn settle(&self, req: Request<pb::SettleRequest>) -> Reply<pb::SettleResponse> {
        let c = caller(&req)?;
        // A retry of a settled encounter is answered from the store without asking enrollment.
        if let Some(cl) = req.get_ref().claim.as_ref() {
            if !cl.institution_code.is_empty() && !cl.encounter_no.is_empty() {
                c.check_org("claim.institution_code", &cl.institution_code)
                    .map_err(auth)?;
                if let Some(done) = self
                    .store
                    .settled_encounter(&cl.institution_code, &cl.encounter_no)
                    .await?
                {
                    c.check_region(
                        "claim.insured_region_code",
                        done.settlement.insured_region.as_str(),
                    )
                    .map_err(auth)?;
                    return Ok(Response::new(pb::SettleResponse {
                        claim_id: done.claim_id.clone(),
                        settlement: Some(settlement_pb(&done.claim_id, &done.settlement)),
                        replayed: true,
                    }));
                }
            }
        }
        let input = self.prepare(&req, &c, req.get_ref().claim.as_ref()).await?;
        let done = self.store.settle(&input, &actor(&c)).await?;
        Ok(Response::new(pb::SettleResponse {
            claim_id: done.claim_id.clone(),
            settlement: Some(settlement_pb(&done.claim_id, &done.settlement)),
            replayed: done.replayed,
        }))
    }

    async fn reverse(&self, req: Request<pb::ReverseRequest>) -> Reply<pb::ReverseResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let no = reversal_no(&r.reversal_no)?;
        let row = self.load_claim(&c, &r.claim_id).await?;
        if !r.institution_code.is_empty() && r.institution_code != row.stored.institution_code {
            return Err(invalid(
                "institution_code",
                "is not the claim's institution",
            ));
        }
        let items: Vec<usize> = r.item_indexes.iter().map(|i| *i as usize).collect();
        let done = self
            .store
            .reverse(
                &row.claim_id,
                &row.stored.institution_code,
                &no,
                &items,
                r.reason.trim(),
                &actor(&c),
            )
            .await?;
        Ok(Response::new(pb::ReverseResponse {
            claim_id: done.claim_id.clone(),
            refund: Some(breakdown_pb(&done.refund)),
            settlement: done
                .settlement
                .as_ref()
                .map(|s| settlement_pb(&done.claim_id, s)),
            status: status_pb(done.status),
        }))
    }

    async fn resettle(&self, req: Request<pb::ResettleRequest>) -> Reply<pb::ResettleResponse> {
        let c = caller(&req)?;
        let row = self.load_claim(&c, &req.get_ref().claim_id).await?;
        let input = self.prepare(&req, &c, req.get_ref().claim.as_ref()).await?;
        let done = self
            .store
            .resettle(
                &row.claim_id,
                &input,
                req.get_ref().reason.trim(),
                &actor(&c),
            )
            .await?;
        Ok(Response::new(pb::ResettleResponse {
            claim_id: done.claim_id.clone(),
            previous_claim_id: done.previous_claim_id,
            settlement: Some(settlement_pb(&done.claim_id, &done.settlement)),
            difference: Some(breakdown_pb(&done.difference)),
        }))
    }

    async fn get_claim(&self, req: Request<pb::GetClaimRequest>) -> Reply<pb::GetClaimResponse> {
        let c = caller(&req)?;
        let row = self.load_claim(&c, &req.get_ref().claim_id).await?;
        Ok(Response::new(pb::GetClaimResponse {
            claim: Some(pb::ClaimRecord {
                claim_id: row.claim_id.clone(),
                claim: Some(claim_pb(&row.stored)),
                settlement: Some(settlement_pb(&row.claim_id, &row.settlement)),
                status: status_pb(row.status),
                reversals: row
                    .reversals
                    .iter()
                    .map(|x| pb::ReversalRecord {
                        reversal_no: x.reversal_no.clone(),
                        item_indexes: x
                            .item_indexes
                            .iter()
                            .map(|i| u32::try_from(*i).unwrap_or(u32::MAX))
                            .collect(),
                        refund: Some(breakdown_pb(&x.refund)),
                        reason: x.reason.clone(),
                        audit: Some(common::Audit {
                            actor: x.actor.clone(),
                            role: x.role.clone(),
                            at: x.at.clone(),
                        }),
                    })
                    .collect(),
                superseded_by: row.superseded_by.clone().unwrap_or_default(),
                corrects: row.corrects.clone().unwrap_or_default(),
                settled: Some(common::Audit {
                    actor: row.settled_by.clone(),
                    role: row.settled_role.clone(),
                    at: row.settled_at.clone(),
                }),
            }),
        }))
    }

    async fn list_claims(
        &self,
        req: Request<pb::ListClaimsRequest>,
    ) -> Reply<pb::ListClaimsResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let (size, offset) = page(r.page.as_ref())?;
        let mut f = ClaimFilter::default();
        if c.role == Role::Hospital {
            let inst = if r.institution_code.is_empty() {
                c.org.clone()
            } else {
                r.institution_code.clone()
            };
            c.check_org("institution_code", &inst).map_err(auth)?;
            f.institution_code = Some(inst);
        } else if !r.institution_code.is_empty() {
            f.institution_code = Some(r.institution_code.clone());
        }
        if c.role != Role::Hospital {
            f.region_prefix = list_region(&c, "region_code", &r.region_code)?;
        }
        if !r.month.is_empty() {
            f.month = Some(parse_month("month", &r.month)?);
        }
        f.status = status_of_pb(r.status);
        let rows = self.store.list_claims(&f, size, offset).await?;
        Ok(Response::new(pb::ListClaimsResponse {
            page: next_page(size, offset, rows.len()),
            claims: rows
                .iter()
                .map(|x| pb::ClaimSummary {
                    claim_id: x.claim_id.clone(),
                    institution_code: x.institution_code.clone(),
                    encounter_no: x.encounter_no.clone(),
                    kind: kind_pb(x.kind),
                    settled_on: x.settled_on.clone(),
                    status: status_pb(x.status),
                    scheme: scheme_pb(x.scheme),
                    medfee_sumamt_fen: x.medfee_sumamt,
                    fund_pay_sumamt_fen: x.fund_pay_sumamt,
                    psn_part_amt_fen: x.psn_part_amt,
                    insurer_pay_fen: x.insurer_pay,
                })
                .collect(),
        }))
    }

    async fn upload_policy(
        &self,
        req: Request<pb::UploadPolicyRequest>,
    ) -> Reply<pb::UploadPolicyResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let region = parse_region("region_code", &r.region_code)?;
        c.check_region("region_code", region.as_str())
            .map_err(auth)?;
        if r.document_json.trim().is_empty() {
            return Err(invalid("document_json", "required"));
        }
        let doc = PolicyDocument::from_json(&r.document_json).map_err(SettleError::from)?;
        if doc.region != region {
            return Err(invalid(
                "document_json.region",
                format!("must equal region_code {region}"),
            ));
        }
        let header = self.store.insert_policy(&doc, &actor(&c)).await?;
        Ok(Response::new(pb::UploadPolicyResponse {
            policy: Some(policy_pb(&header)),
        }))
    }

    async fn list_policies(
        &self,
        req: Request<pb::ListPoliciesRequest>,
    ) -> Reply<pb::ListPoliciesResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let (size, offset) = page(r.page.as_ref())?;
        let region = list_region(&c, "region_code", &r.region_code)?.unwrap_or_default();
        let year = (r.year != 0).then_some(r.year);
        let rows = self
            .store
            .list_policies(&region, year, scheme_of_pb(r.scheme), size, offset)
            .await?;
        Ok(Response::new(pb::ListPoliciesResponse {
            page: next_page(size, offset, rows.len()),
            policies: rows.iter().map(policy_pb).collect(),
        }))
    }

    async fn get_policy(&self, req: Request<pb::GetPolicyRequest>) -> Reply<pb::GetPolicyResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        if r.policy_id.is_empty() {
            return Err(invalid("policy_id", "required"));
        }
        let (h, doc) = self
            .store
            .get_policy(&r.policy_id, r.version)
            .await?
            .ok_or_else(|| Status::from(SettleError::NotFound("policy", r.policy_id.clone())))?;
        // An operator reads the policies of their region and those that apply to it.
        let pr = parse_region("region_code", &h.region_code)?;
        let applies = c.region.as_ref().is_some_and(|own| pr.covers(own));
        if !applies {
            c.check_region("region_code", &h.region_code)
                .map_err(auth)?;
        }
        Ok(Response::new(pb::GetPolicyResponse {
            policy: Some(policy_pb(&h)),
            document_json: doc,
        }))
    }

    async fn get_accumulators(
        &self,
        req: Request<pb::GetAccumulatorsRequest>,
    ) -> Reply<pb::GetAccumulatorsResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let id = parse_id("id_number", &r.id_number)?;
        let region = parse_region("region_code", &r.region_code)?;
        c.check_region("region_code", region.as_str())
            .map_err(auth)?;
        if !(1900..=2999).contains(&r.year) {
            return Err(invalid("year", "required: the insurance year"));
        }
        let acc = self
            .store
            .accumulators(id.expose(), r.year, &region)
            .await?;
        Ok(Response::new(pb::GetAccumulatorsResponse {
            accumulators: Some(accumulators_pb(&acc)),
        }))
    }

    async fn get_institution_statement(
        &self,
        req: Request<pb::GetInstitutionStatementRequest>,
    ) -> Reply<pb::GetInstitutionStatementResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let inst = InstitutionCode::parse(&r.institution_code)
            .map_err(|e| invalid("institution_code", e.to_string()))?;
        c.check_org("institution_code", inst.as_str())
            .map_err(auth)?;
        if c.role.is_region_scoped() && !c.covers_region(&inst.region()) {
            return Err(auth(yibao_runtime::auth::AuthError::OutsideRegion {
                field: "institution_code".into(),
                value: inst.as_str().to_string(),
                region: c
                    .region
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            }));
        }
        let month = parse_month("month", &r.month)?;
        let authorization = req
            .metadata()
            .get("authorization")
            .and_then(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok());
        let (totals, (decision, reasons, credit_score)) = tokio::join!(
            self.store.statement(inst.as_str(), &month),
            self.payment_decision(authorization, &inst, &month)
        );
        let totals = totals?;
        Ok(Response::new(pb::GetInstitutionStatementResponse {
            institution_code: inst.as_str().to_string(),
            month,
            lines: totals
                .iter()
                .map(|(scheme, t)| pb::StatementLine {
                    scheme: scheme_pb(*scheme),
                    claims: t.claims,
                    reversals: t.reversals,
                    medfee_sumamt_fen: t.net.medfee_sumamt.0,
                    hifp_pay_fen: t.net.hifp_pay.0,
                    hifmi_pay_fen: t.net.hifmi_pay.0,
                    hifob_pay_fen: t.net.hifob_pay.0,
                    maf_pay_fen: t.net.maf_pay.0,
                    oth_pay_fen: t.net.oth_pay.0,
                    fund_pay_sumamt_fen: t.net.fund_pay_sumamt.0,
                    insurer_pay_fen: t.net.insurer_pay.0,
                    psn_cash_pay_fen: t.net.psn_cash_pay.0,
                })
                .collect(),
            generated_at: chrono::Utc::now().to_rfc3339(),
            payment_decision: decision as i32,
            payment_reasons: reasons,
            credit_score,
        }))
    }

    async fn reconcile_ledger(
        &self,
        req: Request<pb::ReconcileLedgerRequest>,
    ) -> Reply<pb::ReconcileLedgerResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let region = parse_region("region_code", &r.region_code)?;
        c.check_region("region_code", region.as_str())
            .map_err(auth)?;
        let month = parse_month("month", &r.month)?;
        let rec = self
            .store
            .reconcile_ledger(region.as_str(), &month, &actor(&c))
            .await?;
        Ok(Response::new(pb::ReconcileLedgerResponse {
            run_id: rec.run_id.clone(),
            balanced: rec.balanced(),
            funds: rec
                .funds
                .iter()
                .map(|f| pb::LedgerFundTotal {
                    fund_pay_type: f.fund_pay_type.clone(),
                    claims_total_fen: f.claims_total,
                    ledger_total_fen: f.ledger_total,
                    difference_fen: f.ledger_total - f.claims_total,
                })
                .collect(),
            discrepancies: rec
                .discrepancies
                .iter()
                .map(|d| pb::LedgerDiscrepancy {
                    claim_id: d.claim_id.clone(),
                    fund_pay_type: d.fund_pay_type.clone(),
                    expected_fen: d.expected,
                    recorded_fen: d.recorded,
                })
                .collect(),
        }))
    }

    async fn list_insurer_claims(
        &self,
        req: Request<pb::ListInsurerClaimsRequest>,
    ) -> Reply<pb::ListInsurerClaimsResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        if r.insurer_code.is_empty() {
            return Err(invalid("insurer_code", "required"));
        }
        c.check_org("insurer_code", &r.insurer_code).map_err(auth)?;
        let (size, offset) = page(r.page.as_ref())?;
        let f = InsurerFilter {
            insurer_code: r.insurer_code.clone(),
            product_code: Some(r.product_code.clone()).filter(|p| !p.is_empty()),
            month: if r.month.is_empty() {
                None
            } else {
                Some(parse_month("month", &r.month)?)
            },
            status: insurer_status_of_pb(r.status).map(str::to_string),
            region_prefix: list_region(&c, "region_code", &r.region_code)?,
        };
        let rows = self.store.insurer_claims(&f, size, offset).await?;
        Ok(Response::new(pb::ListInsurerClaimsResponse {
            page: next_page(size, offset, rows.len()),
            claims: rows.iter().map(insurer_claim_pb).collect(),
        }))
    }

    async fn reconcile_insurer(
        &self,
        req: Request<pb::ReconcileInsurerRequest>,
    ) -> Reply<pb::ReconcileInsurerResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        if r.insurer_code.is_empty() {
            return Err(invalid("insurer_code", "required"));
        }
        c.check_org("insurer_code", &r.insurer_code).map_err(auth)?;
        let month = parse_month("month", &r.month)?;
        let region = list_region(&c, "region_code", &r.region_code)?;
        let (run_id, products) = self
            .store
            .reconcile_insurer(&r.insurer_code, &month, region.as_deref(), &actor(&c))
            .await?;
        let disputed: i64 = products.iter().map(|p| p.disputed).sum();
        let paid: i64 = products.iter().map(|p| p.insurer_pay).sum();
        Ok(Response::new(pb::ReconcileInsurerResponse {
            run_id,
            payable_fen: paid - disputed,
            disputed_fen: disputed,
            products: products
                .iter()
                .map(|p| pb::InsurerProductTotal {
                    product_code: p.product_code.clone(),
                    claims: p.claims,
                    insurer_pay_fen: p.insurer_pay,
                    disputed_fen: p.disputed,
                })
                .collect(),
        }))
    }

    async fn dispute_insurer_claim(
        &self,
        req: Request<pb::DisputeInsurerClaimRequest>,
    ) -> Reply<pb::DisputeInsurerClaimResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        if r.insurer_code.is_empty() {
            return Err(invalid("insurer_code", "required"));
        }
        c.check_org("insurer_code", &r.insurer_code).map_err(auth)?;
        if r.claim_id.is_empty() {
            return Err(invalid("claim_id", "required"));
        }
        if r.product_code.is_empty() {
            return Err(invalid("product_code", "required"));
        }
        if r.reason.trim().is_empty() {
            return Err(invalid("reason", "required"));
        }
        let row = self
            .store
            .dispute(
                &r.insurer_code,
                &r.claim_id,
                &r.product_code,
                r.disputed_amount_fen,
                r.reason.trim(),
                &actor(&c),
            )
            .await?;
        Ok(Response::new(pb::DisputeInsurerClaimResponse {
            claim: Some(insurer_claim_pb(&row)),
        }))
    }

    async fn resolve_insurer_dispute(
        &self,
        req: Request<pb::ResolveInsurerDisputeRequest>,
    ) -> Reply<pb::ResolveInsurerDisputeResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        for (field, value) in [
            ("insurer_code", &r.insurer_code),
            ("claim_id", &r.claim_id),
            ("product_code", &r.product_code),
        ] {
            if value.is_empty() {
                return Err(invalid(field, "required"));
            }
        }
        if r.resolution.trim().is_empty() {
            return Err(invalid("resolution", "required: the decision in words"));
        }
        let region = list_region(&c, "region_code", &r.region_code)?
            .map(|x| parse_region("region_code", &x))
            .transpose()?;
        let row = self
            .store
            .resolve_dispute(
                &r.insurer_code,
                &r.claim_id,
                &r.product_code,
                region.as_ref(),
                r.upheld,
                r.resolution.trim(),
                &actor(&c),
            )
            .await?;
        Ok(Response::new(pb::ResolveInsurerDisputeResponse {
            claim: Some(insurer_claim_pb(&row)),
        }))
    }

    async fn upsert_catalogue_item(
        &self,
        req: Request<pb::UpsertCatalogueItemRequest>,
    ) -> Reply<pb::UpsertCatalogueItemResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let region = parse_region("region_code", &r.region_code)?;
        c.check_region("region_code", region.as_str())
            .map_err(auth)?;
        let Some(it) = r.item.as_ref() else {
            return Err(invalid("item", "required"));
        };
        if it.national_code.trim().is_empty() {
            return Err(invalid("item.national_code", "required"));
        }
        let class = match pb::ItemClass::try_from(it.item_class) {
            Ok(pb::ItemClass::A) => ItemClass::A,
            Ok(pb::ItemClass::B) => ItemClass::B,
            Ok(pb::ItemClass::C) => ItemClass::C,
            _ => return Err(invalid("item.item_class", "required: A, B or C")),
        };
        if it.payment_standard_fen.is_some_and(|f| f < 0) {
            return Err(invalid("item.payment_standard_fen", "must not be negative"));
        }
        if it.preselfpay_share_bp.is_some_and(|s| s > 10_000) {
            return Err(invalid(
                "item.preselfpay_share_bp",
                "must not exceed 10000 bp (100%)",
            ));
        }
        let from = parse_date("item.effective_from", &it.effective_from)?;
        let row = store::CatalogueRow {
            region_code: region.to_string(),
            entry: CatalogueEntry {
                national_code: it.national_code.trim().to_string(),
                class,
                payment_standard: it.payment_standard_fen.map(Fen),
                preselfpay_share: it.preselfpay_share_bp.map(Bp),
            },
            name: it.name.clone(),
            effective_from: from,
        };
        let created = self.store.upsert_catalogue(&row).await?;
        Ok(Response::new(pb::UpsertCatalogueItemResponse {
            item: Some(pb::CatalogueItem {
                national_code: row.entry.national_code.clone(),
                name: row.name.clone(),
                item_class: class_pb(class),
                payment_standard_fen: row.entry.payment_standard.map(|f| f.0),
                preselfpay_share_bp: row.entry.preselfpay_share.map(|b| b.0),
                effective_from: from.to_string(),
            }),
            created,
        }))
    }

    async fn register_supplement_member(
        &self,
        req: Request<pb::RegisterSupplementMemberRequest>,
    ) -> Reply<pb::RegisterSupplementMemberResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        if r.insurer_code.is_empty() {
            return Err(invalid("insurer_code", "required"));
        }
        c.check_org("insurer_code", &r.insurer_code).map_err(auth)?;
        let region = parse_region("region_code", &r.region_code)?;
        c.check_region("region_code", region.as_str())
            .map_err(auth)?;
        let id = parse_id("id_number", &r.id_number)?;
        if !(1900..=2999).contains(&r.year) {
            return Err(invalid("year", "required: the insurance year"));
        }
        if r.product_code.is_empty() {
            return Err(invalid("product_code", "required"));
        }
        match self
            .store
            .product_insurer(&region, r.year, &r.product_code)
            .await?
        {
            None => {
                return Err(SettleError::NotFound(
                    "product",
                    format!("{} in region {region}, {}", r.product_code, r.year),
                )
                .into());
            }
            Some(ins) if ins != r.insurer_code => {
                return Err(invalid(
                    "product_code",
                    format!("the product is offered by insurer {ins}"),
                ));
            }
            Some(_) => {}
        }
        let created = self
            .store
            .register_member(&r.product_code, &r.insurer_code, &id, r.year)
            .await?;
        Ok(Response::new(pb::RegisterSupplementMemberResponse {
            product_code: r.product_code.clone(),
            id_number_masked: id.masked(),
            year: r.year,
            created,
        }))
    }
}
