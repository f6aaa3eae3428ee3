//! Settling a claim: validate → look up (the person and the registries' facts from enrollment,
//! admitting the claim on them (`app::registry`), each item's class, share and payment standard
//! from procurement's catalogue at the place of treatment, the insured region's policy) → open the
//! transaction and lock the person-year's accumulators → run the engine → write the claim, its
//! ledger lines and insurer layers → enqueue the event → commit and wake the relay. A repeated
//! (institution, encounter number) returns the claim's current settlement and writes nothing,
//! or is refused with `SETTLEMENT_CLAIM_REVERSED` once the claim is fully reversed.

use super::upstream::{Authorization, Resolution};
use super::{AppError, SettlementApp};
use crate::domain::registry::Declared;
use crate::domain::{self, Claim, EligibilitySnapshot, Layer, PolicyDocument, Settlement};
use crate::events::{self, Action};
use crate::store::insurers::{LayerClaim, NewInsurerLayer};
use crate::store::{Actor, NewClaim, Store, StoreError, StoredClaim, month_of, new_id, now};
use chrono::Datelike;
use sea_orm::DatabaseTransaction;
use std::sync::Arc;
use yibao_core::{IdNumber, RegionCode};
use yibao_runtime::Caller;
use yibao_runtime::outbox;

/// A claim as parsed at the edge, before validation, pricing and eligibility.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// The claim.
    pub claim: Claim,
    /// The insured region the hospital names.
    pub insured_region: RegionCode,
    /// What the claim declares that the registries decide (grade, tier, filing) or check
    /// (the attending physician).
    pub declared: Declared,
    /// Days of supply of each item (in item order), when the claim gives them.
    pub days_supply: Vec<Option<u32>>,
}

/// Everything a settlement needs besides the accumulators.
#[derive(Debug, Clone)]
pub struct SettleInput {
    /// The priced claim.
    pub claim: Claim,
    /// Its stored form.
    pub stored: StoredClaim,
    /// Enrollment's person id (the person key of events).
    pub person_id: String,
    /// Eligibility snapshot.
    pub eligibility: EligibilitySnapshot,
    /// The insured region's policy.
    pub policy: Arc<PolicyDocument>,
}

/// A settlement, new or replayed.
#[derive(Debug, Clone)]
pub struct Settled {
    /// Claim id.
    pub claim_id: String,
    /// The settlement.
    pub settlement: Settlement,
    /// True when an earlier settlement of the same encounter was returned.
    pub replayed: bool,
}

impl SettlementApp {
    /// Settles a claim. `key` is the (institution, encounter number) as sent: a retry of a
    /// settled encounter is answered from the store before the claim is parsed (`claim`) or
    /// enrollment is asked.
    pub async fn settle(
        &self,
        c: &Caller,
        authorization: Authorization,
        key: Option<(&str, &str)>,
        claim: impl FnOnce() -> Result<ClaimRequest, AppError>,
    ) -> Result<Settled, AppError> {
        if let Some(done) = self.replayed(c, key).await? {
            return Ok(done);
        }
        let input = self.prepare(c, authorization, claim()?).await?;
        self.settle_prepared(&input, &Actor::from(c)).await
    }

    /// Settles a claim without writing anything: what `settle` would answer now.
    pub async fn pre_settle(
        &self,
        c: &Caller,
        authorization: Authorization,
        claim: ClaimRequest,
    ) -> Result<Settlement, AppError> {
        let input = self.prepare(c, authorization, claim).await?;
        let year = input.claim.end_date.year();
        let acc = self
            .store
            .accumulators(
                &input.stored.id_number,
                year,
                &input.eligibility.insured_region,
            )
            .await?;
        Ok(domain::settle(
            &input.claim,
            &input.eligibility,
            &acc,
            &input.policy,
        )?)
    }

    /// The current state of a retried encounter (see [`current_state`]).
    async fn replayed(
        &self,
        c: &Caller,
        key: Option<(&str, &str)>,
    ) -> Result<Option<Settled>, AppError> {
        let Some((institution, encounter_no)) = key.filter(|(i, n)| !i.is_empty() && !n.is_empty())
        else {
            return Ok(None);
        };
        c.check_org("claim.institution_code", institution)?;
        let Some(row) = self.store.encounter(institution, encounter_no).await? else {
            return Ok(None);
        };
        c.check_region(
            "claim.insured_region_code",
            row.settlement.insured_region.as_str(),
        )?;
        current_state(row).map(Some)
    }

    /// Validates, checks tenancy, asks enrollment about the person and the registries and
    /// admits the claim on their facts, classifies and prices the items by procurement's
    /// catalogue and finds the policy: everything a settlement needs before the transaction.
    pub async fn prepare(
        &self,
        c: &Caller,
        authorization: Authorization,
        request: ClaimRequest,
    ) -> Result<SettleInput, AppError> {
        Ok(self.prepare_priced(c, authorization, request).await?.0)
    }

    /// [`Self::prepare`], with procurement's answer for each item (in item order).
    pub(super) async fn prepare_priced(
        &self,
        c: &Caller,
        authorization: Authorization,
        request: ClaimRequest,
    ) -> Result<(SettleInput, Vec<Resolution>), AppError> {
        let ClaimRequest {
            mut claim,
            insured_region,
            declared,
            days_supply,
        } = request;
        // The engine's checks and the amounts' bounds, early: nothing is asked of enrollment
        // and nothing is written for a malformed claim or one above the limits.
        domain::validate_claim_within(&claim, &self.limits)
            .map_err(|e| AppError::Engine(e.into()))?;
        c.check_org("claim.institution_code", claim.institution_code.as_str())?;
        c.check_region("claim.insured_region_code", insured_region.as_str())?;
        // Who the person is and what the registries say about the claim: one call to
        // enrollment (with the catalogue at once when the claim declares its grade).
        let (facts, resolved) = self
            .ask_registries(
                authorization.clone(),
                &mut claim,
                &insured_region,
                &declared,
                &days_supply,
            )
            .await?;
        let e = facts.person;
        let scheme = admit_person(&e, &insured_region, claim.end_date, "claim.")?;
        let admitted = super::registry::admit_claim(&mut claim, &declared, &facts.registry)?;
        let resolved = match resolved {
            Some(r) => r,
            None => {
                self.resolve_items(authorization, &claim, &days_supply)
                    .await?
            }
        };
        super::catalogue::price(&mut claim, &resolved);
        let year = claim.end_date.year();
        let policy = self
            .store
            .find_policy(&insured_region, scheme, claim.end_date)
            .await?
            .ok_or_else(|| {
                AppError::Precondition(
                    crate::error::NO_POLICY,
                    format!(
                        "no policy of region {} for the {:?} scheme is in force on {}",
                        insured_region, scheme, claim.end_date
                    ),
                )
            })?;
        let eligibility = EligibilitySnapshot {
            scheme,
            insured_region: insured_region.clone(),
            categories: e.categories,
            // The certification in force that the registry found for the claim's disease.
            chronic_registrations: claim
                .disease_code
                .iter()
                .filter(|_| admitted.certification_id.is_some())
                .cloned()
                .collect(),
            supplement_products: self.store.member_products(&claim.id_number, year).await?,
            cross_region_filing: admitted.filing,
        };
        let mut stored = StoredClaim::of(&claim, &insured_region, admitted.filing);
        stored.registry = Some(admitted);
        Ok((
            SettleInput {
                claim,
                stored,
                person_id: e.person_id,
                eligibility,
                policy,
            },
            resolved,
        ))
    }

    /// Settles a prepared claim in one transaction: the claim, items, explanations,
    /// accumulators, ledger lines, insurer layers and an outbox event. A repeated
    /// (institution, encounter) writes nothing and answers the claim's current state
    /// ([`current_state`]).
    pub async fn settle_prepared(
        &self,
        input: &SettleInput,
        actor: &Actor,
    ) -> Result<Settled, AppError> {
        self.settle_prepared_linked(input, actor, None).await
    }

    /// [`Self::settle_prepared`]; with `link`, the claim is recorded in the same transaction
    /// as a settlement of an encounter in care (`app::encounters`).
    pub(super) async fn settle_prepared_linked(
        &self,
        input: &SettleInput,
        actor: &Actor,
        link: Option<&super::encounters::CareLink>,
    ) -> Result<Settled, AppError> {
        let (inst, no) = (&input.stored.institution_code, &input.stored.encounter_no);
        let txn = self.store.begin().await?;
        // Claim the encounter: a key already taken (or taken by a concurrent settlement that
        // commits while this insert waits on the key) inserts nothing, and the first
        // settlement is returned instead.
        let claim_id = new_id();
        if !Store::claim_encounter(&txn, inst, no, &claim_id).await? {
            drop(txn);
            let row = self
                .store
                .encounter(inst, no)
                .await?
                .ok_or_else(|| StoreError::Corrupt("encounter vanished".into()))?;
            return current_state(row);
        }
        let year = input.claim.end_date.year();
        let (acc, version) = self
            .store
            .lock_accumulators(
                &txn,
                &input.stored.id_number,
                year,
                &input.eligibility.insured_region,
            )
            .await?;
        let s = domain::settle(&input.claim, &input.eligibility, &acc, &input.policy)?;
        write_settlement(&txn, &claim_id, input, &s, actor, None).await?;
        if let Some(link) = link {
            self.link_settlement(&txn, link, &claim_id).await?;
        }
        Store::save_accumulators(
            &txn,
            &input.stored.id_number,
            &s.accumulators_after,
            version,
        )
        .await?;
        txn.commit().await?;
        self.wake_relay();
        Ok(Settled {
            claim_id,
            settlement: s,
            replayed: false,
        })
    }
}

/// The person as enrollment found them on `date`, admitted for a claim or an encounter of
/// `insured_region`: covered, insured there, with a scheme (which is returned). Refusals name
/// the request's fields under `prefix` (`claim.` for a claim).
pub(super) fn admit_person(
    e: &super::upstream::PersonOnDate,
    insured_region: &RegionCode,
    date: chrono::NaiveDate,
    prefix: &str,
) -> Result<crate::domain::Scheme, AppError> {
    if !e.eligible {
        return Err(AppError::Precondition(
            crate::error::NOT_ELIGIBLE,
            format!(
                "{prefix}id_number: not covered on {date}: {}",
                e.explanation
            ),
        ));
    }
    if e.region_code != insured_region.as_str() {
        return Err(AppError::invalid(
            format!("{prefix}insured_region_code"),
            format!(
                "the person is insured in {}, not {}",
                e.region_code, insured_region
            ),
        ));
    }
    e.scheme.ok_or_else(|| {
        AppError::Upstream(
            crate::error::ENROLLMENT_UNAVAILABLE,
            "enrollment answered without a scheme".into(),
        )
    })
}

/// The answer to a re-sent encounter from its current claim: the settlement as it stands now
/// (after any refund or correction) marked replayed, or — once the claim is fully reversed —
/// a refusal naming the encounter, so a hospital's retry is never read as a payment of a
/// claim that pays nothing any more. Settling the care again needs a new encounter number.
pub(super) fn current_state(row: crate::store::ClaimRow) -> Result<Settled, AppError> {
    if row.status == crate::store::ClaimStatus::Reversed {
        let (inst, no) = (&row.stored.institution_code, &row.stored.encounter_no);
        let when = row
            .reversals
            .iter()
            .rev()
            .find(|r| r.item_indexes.is_empty())
            .map(|r| format!(" by reversal {} at {}", r.reversal_no, r.at))
            .unwrap_or_default();
        return Err(AppError::Precondition(
            crate::error::CLAIM_REVERSED,
            format!(
                "claim.encounter_no: encounter {no} of {inst} was settled as claim {} and fully reversed{when}; nothing is paid for it. To settle the care again send the claim with a new encounter_no",
                row.claim_id
            ),
        ));
    }
    Ok(Settled {
        claim_id: row.claim_id,
        settlement: row.settlement,
        replayed: true,
    })
}

/// Writes a new settlement inside the transaction: the claim with its items and
/// explanations, the ledger lines, the insurers' layers (one per product the person holds)
/// and the `SETTLED` event.
pub(super) async fn write_settlement(
    txn: &DatabaseTransaction,
    claim_id: &str,
    input: &SettleInput,
    s: &Settlement,
    actor: &Actor,
    corrects: Option<&str>,
) -> Result<(), AppError> {
    let st = &input.stored;
    let month = month_of(s.settled_on);
    Store::insert_claim(
        txn,
        &NewClaim {
            claim_id,
            stored: st,
            person_id: &input.person_id,
            eligibility: &input.eligibility,
            settlement: s,
            month: &month,
            actor,
            corrects,
        },
    )
    .await?;
    Store::post_ledger(
        txn,
        claim_id,
        &month,
        s,
        &st.institution_code,
        &s.breakdown,
        1,
    )
    .await?;
    let layers: Vec<NewInsurerLayer<'_>> = s
        .layers
        .iter()
        .filter(|l| l.layer == Layer::Commercial)
        .filter_map(|line| {
            let code = line.code.as_deref()?;
            Some(NewInsurerLayer {
                product_code: code,
                insurer_code: input
                    .policy
                    .supplements
                    .iter()
                    .find(|p| p.code == code)
                    .map_or("", |p| p.insurer_code.as_str()),
                covered_base: line.base.0,
                deductible: s
                    .delta
                    .supplements
                    .get(code)
                    .map(|u| u.deductible_used.0)
                    .unwrap_or(0),
                rate_bp: i64::from(line.rate.0),
                insurer_pay: line.amount.0,
            })
        })
        .collect();
    if !layers.is_empty() {
        let masked = IdNumber::parse(&st.id_number)
            .map(|n| n.masked())
            .unwrap_or_default();
        let settled_on = s.settled_on.to_string();
        let claim = LayerClaim {
            claim_id,
            institution_code: &st.institution_code,
            region_code: s.insured_region.as_str(),
            settled_on: &settled_on,
            month: &month,
            id_number_masked: &masked,
        };
        Store::insert_insurer_layers(txn, &claim, &layers).await?;
    }
    let event = events::claim_event(
        claim_id,
        Action::Settled,
        &input.person_id,
        st,
        s,
        &st.items,
        &now(),
    )?;
    outbox::enqueue(txn, &[events::outbox_event(&event)]).await?;
    Ok(())
}
