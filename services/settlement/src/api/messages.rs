//! Message mapping: app and domain records → contract messages.

use super::enums::{
    category_pb, class_pb, filing_pb, grade_pb, insurer_status_pb, kind_pb, layer_pb, scheme_pb,
    tier_pb,
};
use crate::domain::{Accumulators, Breakdown, ItemSplit, Settlement};
use crate::store::{self, StoredClaim};
use yibao_core::IdNumber;
use yibao_proto::common::v1 as common;
use yibao_proto::settlement::v1 as pb;

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

/// The split of the `n`th item.
pub fn item_split_pb(n: usize, it: &ItemSplit) -> pb::ItemSplit {
    pb::ItemSplit {
        item_index: u32::try_from(n).unwrap_or(u32::MAX),
        medfee_sumamt_fen: it.medfee_sumamt.0,
        fulamt_ownpay_amt_fen: it.fulamt_ownpay_amt.0,
        overlmt_selfpay_fen: it.overlmt_selfpay.0,
        preselfpay_amt_fen: it.preselfpay_amt.0,
        inscp_scp_amt_fen: it.inscp_scp_amt.0,
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
            .map(|(n, it)| item_split_pb(n, it))
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

/// The contract's form.
pub fn claim_pb(c: &StoredClaim) -> pb::Claim {
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
                days_supply: None,
            })
            .collect(),
        cross_region_filing: filing_pb(c.cross_region_filing),
        attending_physician_code: c
            .registry
            .as_ref()
            .and_then(|r| r.attending_physician.clone())
            .unwrap_or_default(),
    }
}

/// The contract's form.
pub fn accumulators_pb(a: &Accumulators) -> pb::Accumulators {
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

/// The contract's form.
pub fn policy_pb(h: &store::PolicyHeader) -> pb::PolicySummary {
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

/// The contract's form.
pub fn insurer_claim_pb(r: &store::InsurerClaimRow) -> pb::InsurerClaim {
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
