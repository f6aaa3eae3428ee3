//! Claims: pre-settle, settle (a retry answers the first settlement), reverse and refund,
//! re-settle a correction, read a claim, list claims, read a person-year's accumulators.

use super::enums::{kind_of_pb, kind_pb, scheme_pb, status_of_pb, status_pb};
use super::messages::{accumulators_pb, breakdown_pb, claim_pb, settlement_pb};
use super::{
    Reply, SettlementApi, auth, authorization, invalid, list_region, page, page_key, parse_id,
    parse_month, parse_region,
};
use crate::app::{AppError, ClaimRequest};
use crate::domain::registry::Declared;
use crate::domain::{
    Claim, ClaimItem, CrossRegionFiling, EncounterKind, HospitalGrade, InstitutionTier, ItemClass,
};
use crate::store::ClaimFilter;
use crate::store::care::PatientKey;
use chrono::NaiveDate;
use tonic::{Request, Response, Status};
use yibao_core::{Fen, IdNumber, InstitutionCode, RegionCode};
use yibao_proto::common::v1 as common;
use yibao_proto::settlement::v1 as pb;
use yibao_runtime::auth::Role;
use yibao_runtime::server::caller;

/// Parses a claim; every problem names its path under `claim.`.
fn parse_claim(c: Option<&pb::Claim>) -> Result<ClaimRequest, AppError> {
    let Some(c) = c else {
        return Err(AppError::invalid("claim", "required"));
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
    let kind = kind_of_pb(c.kind);
    if kind.is_none() {
        bad("kind", "required: the kind of encounter".into());
    }
    // Grade, tier and filing are the registries' (app::registry): a declared value is only
    // checked against them.
    let grade = match pb::HospitalGrade::try_from(c.hospital_grade) {
        Ok(pb::HospitalGrade::Unspecified) => None,
        Ok(pb::HospitalGrade::Primary) => Some(HospitalGrade::Grade1),
        Ok(pb::HospitalGrade::Secondary) => Some(HospitalGrade::Grade2),
        Ok(pb::HospitalGrade::Tertiary) => Some(HospitalGrade::Grade3),
        Err(_) => {
            bad("hospital_grade", "unknown value".into());
            None
        }
    };
    let tier = match pb::InstitutionTier::try_from(c.institution_tier) {
        Ok(pb::InstitutionTier::Unspecified) => None,
        Ok(pb::InstitutionTier::Township) => Some(InstitutionTier::Township),
        Ok(pb::InstitutionTier::County) => Some(InstitutionTier::County),
        Ok(pb::InstitutionTier::City) => Some(InstitutionTier::City),
        Ok(pb::InstitutionTier::Province) => Some(InstitutionTier::Province),
        Err(_) => {
            bad("institution_tier", "unknown value".into());
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
    let (items, days_supply) = parse_items(&c.items, &mut bad);
    let disease = Some(c.disease_code.trim().to_string()).filter(|d| !d.is_empty());
    let physician = parse_physician(&c.attending_physician_code, kind, &mut bad);
    match (institution, id, region, kind, start, end) {
        (
            Some(institution_code),
            Some(id_number),
            Some(insured_region),
            Some(kind),
            Some(start_date),
            Some(end_date),
        ) if v.is_empty() => {
            let claim = Claim {
                institution_code,
                encounter_no: c.encounter_no.clone(),
                id_number,
                kind,
                disease_code: disease,
                // Until the registry's are set by `app::registry` (before anything uses them).
                grade: grade.unwrap_or(HospitalGrade::Grade1),
                tier: tier.unwrap_or(InstitutionTier::Township),
                start_date,
                end_date,
                diagnoses: c.diagnoses.clone(),
                items,
            };
            Ok(ClaimRequest {
                claim,
                insured_region,
                declared: Declared {
                    grade,
                    tier,
                    filing,
                    physician,
                },
                days_supply,
            })
        }
        _ => Err(AppError::Invalid(v)),
    }
}

/// The attending physician: `D` + 12 digits, required except for pharmacy claims.
pub(super) fn parse_physician(
    code: &str,
    kind: Option<EncounterKind>,
    bad: &mut impl FnMut(&str, String),
) -> Option<String> {
    let code = code.trim();
    if code.is_empty() {
        if kind.is_some_and(|k| k != EncounterKind::Pharmacy) {
            bad(
                "attending_physician_code",
                "required: the attending insurance physician (医保医师, D + 12 digits)".into(),
            );
        }
        return None;
    }
    let b = code.as_bytes();
    if b.len() != 13 || b[0] != b'D' || !b[1..].iter().all(u8::is_ascii_digit) {
        bad(
            "attending_physician_code",
            "must be D followed by 12 digits (e.g. D341522000001)".into(),
        );
        return None;
    }
    Some(code.to_string())
}

/// Longest days of supply of one item.
const MAX_DAYS_SUPPLY: u32 = 366;

/// Parses the items; problems go to `bad` with their path under `claim.`. Returns the items
/// and their days of supply. The class, payment standard and first self-pay share an item
/// declares are checked for shape only and never used: the items are classified and priced
/// by procurement's catalogue (`app::catalogue`); until then each is 丙 without standard.
pub(super) fn parse_items(
    items_pb: &[pb::ClaimItem],
    bad: &mut impl FnMut(&str, String),
) -> (Vec<ClaimItem>, Vec<Option<u32>>) {
    let mut items = Vec::with_capacity(items_pb.len());
    let mut days = Vec::with_capacity(items_pb.len());
    for (n, it) in items_pb.iter().enumerate() {
        if pb::ItemClass::try_from(it.item_class).is_err() {
            bad(&format!("items[{n}].item_class"), "unknown value".into());
        }
        if it.preselfpay_share_bp.is_some_and(|s| s > 10_000) {
            bad(
                &format!("items[{n}].preselfpay_share_bp"),
                "must not exceed 10000 bp (100%)".into(),
            );
        }
        if let Some(d) = it.days_supply
            && !(1..=MAX_DAYS_SUPPLY).contains(&d)
        {
            bad(
                &format!("items[{n}].days_supply"),
                format!("must be 1 to {MAX_DAYS_SUPPLY} days"),
            );
        }
        days.push(it.days_supply);
        items.push(ClaimItem {
            national_code: it.national_code.clone(),
            name: it.name.clone(),
            class: ItemClass::C,
            quantity: it.quantity,
            unit_price: Fen(it.unit_price_fen),
            amount: Fen(it.amount_fen),
            payment_standard: None,
            preselfpay_share: None,
        });
    }
    (items, days)
}

pub(super) fn reversal_no(s: &str) -> Result<String, Status> {
    let t = s.trim();
    if t.is_empty() || t.len() > 64 {
        return Err(invalid("reversal_no", "must be 1 to 64 characters"));
    }
    Ok(t.to_string())
}

impl SettlementApi {
    pub(super) async fn pre_settle_claim(
        &self,
        req: Request<pb::PreSettleRequest>,
    ) -> Reply<pb::PreSettleResponse> {
        let c = caller(&req)?;
        let claim = parse_claim(req.get_ref().claim.as_ref())?;
        let s = self.app.pre_settle(&c, authorization(&req), claim).await?;
        Ok(Response::new(pb::PreSettleResponse {
            settlement: Some(settlement_pb("", &s)),
        }))
    }

    pub(super) async fn settle_claim(
        &self,
        req: Request<pb::SettleRequest>,
    ) -> Reply<pb::SettleResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let key = r
            .claim
            .as_ref()
            .map(|cl| (cl.institution_code.as_str(), cl.encounter_no.as_str()));
        let done = self
            .app
            .settle(&c, authorization(&req), key, || {
                parse_claim(r.claim.as_ref())
            })
            .await?;
        Ok(Response::new(pb::SettleResponse {
            claim_id: done.claim_id.clone(),
            settlement: Some(settlement_pb(&done.claim_id, &done.settlement)),
            replayed: done.replayed,
        }))
    }

    pub(super) async fn reverse_claim(
        &self,
        req: Request<pb::ReverseRequest>,
    ) -> Reply<pb::ReverseResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let no = reversal_no(&r.reversal_no)?;
        let items: Vec<usize> = r.item_indexes.iter().map(|i| *i as usize).collect();
        let done = self
            .app
            .reverse(
                &c,
                &r.claim_id,
                &r.institution_code,
                &no,
                &items,
                r.reason.trim(),
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

    pub(super) async fn resettle_claim(
        &self,
        req: Request<pb::ResettleRequest>,
    ) -> Reply<pb::ResettleResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let done = self
            .app
            .resettle(
                &c,
                authorization(&req),
                &r.claim_id,
                || parse_claim(r.claim.as_ref()),
                r.reason.trim(),
            )
            .await?;
        Ok(Response::new(pb::ResettleResponse {
            claim_id: done.claim_id.clone(),
            previous_claim_id: done.previous_claim_id,
            settlement: Some(settlement_pb(&done.claim_id, &done.settlement)),
            difference: Some(breakdown_pb(&done.difference)),
        }))
    }

    pub(super) async fn read_claim(
        &self,
        req: Request<pb::GetClaimRequest>,
    ) -> Reply<pb::GetClaimResponse> {
        let c = caller(&req)?;
        let row = self.app.load_claim(&c, &req.get_ref().claim_id).await?;
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

    pub(super) async fn claim_list(
        &self,
        req: Request<pb::ListClaimsRequest>,
    ) -> Reply<pb::ListClaimsResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let page = page(r.page.as_ref())?;
        let after = page_key(&page, 2)?.map(|k| (k[0].as_str(), k[1].as_str()));
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
        let rows = self.app.list_claims(&f, after, page.fetch()).await?;
        let (rows, next) = page.finish(rows, |x| vec![x.settled_at.clone(), x.claim_id.clone()]);
        Ok(Response::new(pb::ListClaimsResponse {
            page: Some(next),
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

    pub(super) async fn accumulators_read(
        &self,
        req: Request<pb::GetAccumulatorsRequest>,
    ) -> Reply<pb::GetAccumulatorsResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        if !(1900..=2999).contains(&r.year) {
            return Err(invalid("year", "required: the insurance year"));
        }
        // A hospital reads the counters of its own patients only (a person it has an encounter
        // or claim of), named by enrollment's person id or the ID number; their region is the
        // one its encounters and claims were insured in.
        let acc = if c.role == Role::Hospital {
            let key = if r.person_id.trim().is_empty() {
                parse_id("id_number", &r.id_number)?;
                PatientKey::IdNumber(r.id_number.trim())
            } else {
                PatientKey::PersonId(r.person_id.trim())
            };
            let (id, region) = self.app.patient_of(&c, key).await?;
            let region = parse_region("region_code", &region)?;
            self.app.accumulators(&id, r.year, &region).await?
        } else {
            let id = parse_id("id_number", &r.id_number)?;
            let region = parse_region("region_code", &r.region_code)?;
            c.check_region("region_code", region.as_str())
                .map_err(auth)?;
            self.app.accumulators(id.expose(), r.year, &region).await?
        };
        Ok(Response::new(pb::GetAccumulatorsResponse {
            accumulators: Some(accumulators_pb(&acc)),
        }))
    }
}
