//! The one-stop multi-layer settlement engine (一站式结算, DOMAIN §1).
//!
//! [`settle`] splits the items (claim.rs), then runs the layers strictly in order, each on the
//! residual compliant self-pay the previous layer left (DOMAIN §1.2, §1.8):
//!
//! 1. basic pool (`hifp_pay`): inpatient deductible and rate by level, or a general-outpatient
//!    pool, or a chronic/special disease's own rate and cap, or a maternity flat benefit;
//! 2. critical illness (`hifmi_pay` for residents, `hifob_pay` for employees): progressive bands
//!    on the year's cumulative compliant self-pay above the threshold, with the poverty tilt;
//! 3. medical assistance (`maf_pay`) by category, with annual deductible and limit;
//! 4. government backstop "351" (`oth_pay`, backstop line): caps the year's compliant
//!    out-of-pocket by the highest tier visited;
//! 5. "180" chronic-disease supplement (`oth_pay`, supplement line);
//! 6. commercial supplementary products (惠民保; `insurer_pay`), which pay part of the person's
//!    share and are not fund payments.
//!
//! Every layer rounds its own payout once (half-up to the fen) and passes the exact remainder
//! on. The accounting identities of DOMAIN §1.1 are checked on every settlement; the fourth is
//! extended by the commercial line: `psn_part_amt = acct_pay + acct_mulaid_pay + insurer_pay +
//! psn_cash_pay`.
//!
//! **Accumulators and reversal.** A settlement carries the accumulators after it and the delta
//! from those before it. A full reversal applies the negated delta ([`reverse`], [`apply_delta`]),
//! which restores the counters exactly, whatever was settled in between, because every counter
//! (including the tiers visited, kept as counts per tier) is additive. A per-item refund
//! ([`refund_items`]) re-settles the remaining items against the accumulators as they were
//! before the original claim (current − original delta) and applies `new delta − original
//! delta` to the current counters. Claims settled between the original and the refund are not
//! re-settled: they keep the layer amounts they were given.
//!
//! One module per layer, run in that order by [`settle`]: [`eligibility`] (the policy and the
//! accumulators apply; place of treatment), [`basic_pool`] (with the deductible),
//! [`critical_illness`], [`assistance`], [`backstop`], [`chronic_supplement`], [`insurers`]; the
//! layers share a [`tally`] and end in the [`totals`].

mod accumulators;
mod assistance;
mod backstop;
mod basic_pool;
mod breakdown;
mod chronic_supplement;
mod critical_illness;
mod eligibility;
mod error;
mod explanation;
mod insurers;
mod refund;
mod tally;
mod totals;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use yibao_core::{Fen, RegionCode};

use super::claim::{Claim, ItemSplit, split_claim, validate_claim};
use super::policy::PolicyDocument;
use super::{EncounterKind, PersonCategory, Scheme};
use tally::{Context, Tally};

pub use accumulators::{AccumulatorDelta, Accumulators, SupplementUse, apply_delta, reverse};
pub use breakdown::{Breakdown, FundPayType, Layer, LayerLine};
pub use eligibility::{CrossRegionFiling, EligibilitySnapshot};
pub use error::EngineError;
pub use explanation::{Explanation, Field, Reason, Rule};
pub use refund::{ItemRefund, refund_items};

/// The result of a settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// Institution.
    pub institution_code: String,
    /// Encounter number.
    pub encounter_no: String,
    /// Kind.
    pub kind: EncounterKind,
    /// Disease code of a chronic claim.
    pub disease_code: Option<String>,
    /// Date settled (the claim's end date).
    pub settled_on: NaiveDate,
    /// Insurance year.
    pub year: i32,
    /// Policy id applied.
    pub policy_id: String,
    /// Policy version applied.
    pub policy_version: u32,
    /// Scheme.
    pub scheme: Scheme,
    /// Insured region (参保地).
    pub insured_region: RegionCode,
    /// Place of treatment (就医地).
    pub treatment_region: RegionCode,
    /// True when treated outside the insured pooling region.
    pub cross_region: bool,
    /// Categories snapshot.
    pub categories: Vec<PersonCategory>,
    /// Breakdown.
    pub breakdown: Breakdown,
    /// Per-item split, in claim order.
    pub items: Vec<ItemSplit>,
    /// Layer lines.
    pub layers: Vec<LayerLine>,
    /// One explanation per breakdown amount (and per commercial product).
    pub explanations: Vec<Explanation>,
    /// Accumulators after this settlement.
    pub accumulators_after: Accumulators,
    /// Change of the accumulators made by this settlement.
    pub delta: AccumulatorDelta,
}

/// Settles a claim for a person against their accumulators and the insured region's policy.
/// Side-effect free: the caller commits `accumulators_after` (settle) or discards it (pre-settle).
pub fn settle(
    claim: &Claim,
    eligibility: &EligibilitySnapshot,
    accumulators: &Accumulators,
    policy: &PolicyDocument,
) -> Result<Settlement, EngineError> {
    validate_claim(claim)?;
    let place = eligibility::check(claim, eligibility, accumulators, policy)?;
    let split = split_claim(&claim.items, policy.preselfpay_share)?;
    let cx = Context::new(claim, eligibility, policy, &place);
    let mut t = Tally::open(&cx, accumulators, &split)?;
    let residual = basic_pool::apply(&cx, &mut t)?;
    let residual = critical_illness::apply(&cx, &mut t, residual)?;
    let residual = assistance::apply(&cx, &mut t, residual)?;
    let (residual, backstop_applies) = backstop::apply(&cx, &mut t, residual)?;
    let residual = chronic_supplement::apply(&cx, &mut t, residual)?;
    if backstop_applies {
        // The backstop counts what the person finally pays of the compliant cost.
        t.acc.backstop_oop = t.acc.backstop_oop.checked_add(residual)?;
    }
    totals::funds_and_person(&mut t)?;
    insurers::apply(&cx, &mut t, residual)?;
    totals::cash(&mut t)?;

    let Tally {
        acc,
        bd,
        layers,
        ex,
        ..
    } = t;
    bd.check_identities()?;
    check_layers(&bd, &layers)?;
    let delta = AccumulatorDelta::between(accumulators, &acc)?;

    Ok(Settlement {
        institution_code: claim.institution_code.as_str().to_string(),
        encounter_no: claim.encounter_no.clone(),
        kind: claim.kind,
        disease_code: claim.disease_code.clone(),
        settled_on: claim.end_date,
        year: claim.end_date.year(),
        policy_id: policy.id.clone(),
        policy_version: policy.version,
        scheme: policy.scheme,
        insured_region: eligibility.insured_region.clone(),
        treatment_region: place.treatment_region,
        cross_region: place.cross_region,
        categories: eligibility.categories.clone(),
        breakdown: bd,
        items: split.items,
        layers,
        explanations: ex,
        accumulators_after: acc,
        delta,
    })
}

/// The layer lines must add up to the breakdown's lines.
fn check_layers(bd: &Breakdown, layers: &[LayerLine]) -> Result<(), EngineError> {
    let total = |pred: &dyn Fn(&LayerLine) -> bool| {
        Fen::sum(layers.iter().filter(|l| pred(l)).map(|l| l.amount))
    };
    let l1 = total(&|l| {
        matches!(
            l.layer,
            Layer::BasicPool | Layer::Maternity | Layer::OutpatientPool | Layer::ChronicDisease
        )
    })?;
    let checks = [
        (l1, bd.hifp_pay),
        (
            total(&|l| l.layer == Layer::CriticalIllness)?,
            bd.hifmi_pay.checked_add(bd.hifob_pay)?,
        ),
        (total(&|l| l.layer == Layer::MedicalAssistance)?, bd.maf_pay),
        (total(&|l| l.layer == Layer::Backstop)?, bd.backstop_pay),
        (
            total(&|l| l.layer == Layer::ChronicSupplement)?,
            bd.supplement_pay,
        ),
        (total(&|l| l.layer == Layer::Commercial)?, bd.insurer_pay),
    ];
    if checks.iter().any(|(a, b)| a != b) {
        return Err(EngineError::IdentityViolated(
            "layer lines add up to the breakdown",
        ));
    }
    Ok(())
}
