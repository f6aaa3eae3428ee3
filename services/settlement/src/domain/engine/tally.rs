//! What the layers share while one claim is settled: the [`Context`] they read (claim, person,
//! policy, level, tilt, cross-region reduction) and the [`Tally`] they write (accumulators,
//! breakdown, layer lines, explanations), opened with the item split's amounts.

use std::collections::BTreeMap;
use yibao_core::{Bp, Fen, MoneyOverflow};

use super::eligibility::Place;
use super::{
    Accumulators, Breakdown, EligibilitySnapshot, EngineError, Explanation, Field, FundPayType,
    LayerLine, Rule,
};
use crate::domain::claim::{Claim, ClaimSplit};
use crate::domain::policy::{LevelBasis, PolicyDocument};
use crate::domain::{EncounterKind, ItemClass, LevelKey, Scheme};

/// What every layer reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct Context<'a> {
    /// The claim.
    pub(super) claim: &'a Claim,
    /// The person on the claim date.
    pub(super) eligibility: &'a EligibilitySnapshot,
    /// The insured region's policy.
    pub(super) policy: &'a PolicyDocument,
    /// The key of the level-dependent tables (tier or grade).
    pub(super) level: LevelKey,
    /// The largest category tilt of the basic pool's rate the person holds.
    pub(super) tilt: Bp,
    /// Rate reduction of cross-region care.
    pub(super) reduction: Bp,
    /// True when treated in the insured province.
    pub(super) in_province: bool,
    /// The basic pool's fund line.
    pub(super) pool_type: FundPayType,
}

impl<'a> Context<'a> {
    pub(super) fn new(
        claim: &'a Claim,
        eligibility: &'a EligibilitySnapshot,
        policy: &'a PolicyDocument,
        place: &Place,
    ) -> Context<'a> {
        let pool_type = match policy.scheme {
            Scheme::Employee => FundPayType::EmployeePool,
            Scheme::Resident => FundPayType::ResidentPool,
        };
        let level = level_key(policy, claim);
        let tilt = policy
            .basic
            .category_tilts
            .iter()
            .filter(|ct| eligibility.categories.contains(&ct.category))
            .map(|ct| ct.plus)
            .max()
            .unwrap_or(Bp::ZERO);
        Context {
            claim,
            eligibility,
            policy,
            level,
            tilt,
            reduction: place.reduction,
            in_province: place.in_province,
            pool_type,
        }
    }
}

/// What the layers write, in the order they run.
#[derive(Debug)]
pub(super) struct Tally {
    /// The accumulators, updated layer by layer.
    pub(super) acc: Accumulators,
    /// The breakdown.
    pub(super) bd: Breakdown,
    /// One line per layer that paid (or was in scope).
    pub(super) layers: Vec<LayerLine>,
    /// One explanation per amount, in the order of the breakdown.
    pub(super) ex: Vec<Explanation>,
    /// The kind the later layers scope on: a chronic disease settled as inpatient counts as an
    /// inpatient stay.
    pub(super) scope_kind: EncounterKind,
}

impl Tally {
    /// Opens the tally with the item split's amounts and their explanations.
    pub(super) fn open(
        cx: &Context<'_>,
        accumulators: &Accumulators,
        split: &ClaimSplit,
    ) -> Result<Tally, EngineError> {
        let Context { claim, policy, .. } = *cx;
        let t = split.totals;
        let acc = accumulators.clone();
        let bd = Breakdown {
            medfee_sumamt: t.medfee_sumamt,
            fulamt_ownpay_amt: t.fulamt_ownpay_amt,
            overlmt_selfpay: t.overlmt_selfpay,
            preselfpay_amt: t.preselfpay_amt,
            inscp_scp_amt: t.inscp_scp_amt,
            ..Breakdown::default()
        };
        let layers = Vec::with_capacity(6);
        let mut ex = Vec::with_capacity(26);
        ex.push(Explanation::new(
            Field::MedfeeSumamt,
            Rule::ItemsTotal,
            t.medfee_sumamt,
            t.medfee_sumamt,
        ));
        ex.push(Explanation::new(
            Field::FulamtOwnpayAmt,
            Rule::OutOfCatalogue,
            t.fulamt_ownpay_amt,
            t.fulamt_ownpay_amt,
        ));
        ex.push(Explanation::new(
            Field::OverlmtSelfpay,
            Rule::AbovePaymentStandard,
            t.overlmt_selfpay,
            t.overlmt_selfpay,
        ));
        let b_eligible = claim
            .items
            .iter()
            .zip(&split.items)
            .filter(|(it, _)| it.class == ItemClass::B)
            .try_fold(Fen::ZERO, |s, (_, sp)| {
                s.checked_add(sp.preselfpay_amt)?
                    .checked_add(sp.inscp_scp_amt)
            })?;
        ex.push(Explanation {
            rate: Some(policy.preselfpay_share),
            ..Explanation::new(
                Field::PreselfpayAmt,
                Rule::FirstSelfPay,
                t.preselfpay_amt,
                b_eligible,
            )
        });
        ex.push(Explanation::new(
            Field::InscpScpAmt,
            Rule::PolicyRange,
            t.inscp_scp_amt,
            t.medfee_sumamt,
        ));
        Ok(Tally {
            acc,
            bd,
            layers,
            ex,
            scope_kind: claim.kind,
        })
    }
}

pub(super) fn level_key(policy: &PolicyDocument, claim: &Claim) -> LevelKey {
    match policy.level_basis {
        LevelBasis::Tier => claim.tier.into(),
        LevelBasis::Grade => claim.grade.into(),
    }
}

pub(super) fn minus_bp(rate: Bp, less: Bp) -> Bp {
    Bp(rate.0.saturating_sub(less.0))
}

pub(super) fn add_to(
    map: &mut BTreeMap<String, Fen>,
    key: &str,
    amount: Fen,
) -> Result<(), MoneyOverflow> {
    if amount != Fen::ZERO {
        let cur = map.get(key).copied().unwrap_or(Fen::ZERO);
        map.insert(key.to_string(), cur.checked_add(amount)?);
    }
    Ok(())
}

/// Remaining room under an optional limit.
pub(super) fn room(limit: Option<Fen>, used: Fen) -> Option<Fen> {
    limit.map(|l| l.saturating_sub_floor0(used))
}

pub(super) fn bounded(raw: Fen, room: Option<Fen>) -> (Fen, Option<Fen>) {
    match room {
        Some(r) if raw > r => (r, Some(r)),
        _ => (raw, None),
    }
}
