//! Reversal (2208/2305 结算撤销), per-item refund and re-settlement of a corrected claim. A
//! full reversal applies the negated delta of the current settlement (restores the counters
//! exactly); a refund re-settles the remaining items against the counters as they were before
//! the claim (`domain::refund_items`); a re-settlement reverses the old claim fully (status
//! `superseded`) and settles the correction, in one transaction.

use super::settle::write_settlement;
use super::{AppError, SettleInput, SettlementApp};
use crate::domain::{self, Breakdown, Layer, Settlement, apply_delta, refund_items};
use crate::events::{self, Action};
use crate::store::{
    Actor, ClaimRow, ClaimStatus, Store, StoredClaim, month_of, new_id, now, today,
};
use chrono::Datelike;
use sea_orm::DatabaseTransaction;
use yibao_runtime::Caller;
use yibao_runtime::outbox;

/// A reversal or refund, new or replayed.
#[derive(Debug, Clone)]
pub struct Reversed {
    /// Claim id.
    pub claim_id: String,
    /// Amounts given back.
    pub refund: Breakdown,
    /// Re-settlement of the remaining items.
    pub settlement: Option<Settlement>,
    /// Status afterwards.
    pub status: ClaimStatus,
}

/// A corrected claim settled in place of a previous one.
#[derive(Debug, Clone)]
pub struct Resettled {
    /// New claim id.
    pub claim_id: String,
    /// Superseded claim id.
    pub previous_claim_id: String,
    /// New settlement.
    pub settlement: Settlement,
    /// New minus previous.
    pub difference: Breakdown,
}

/// What a reversal writes besides the accumulators.
struct ReversalWrite<'a> {
    row: &'a ClaimRow,
    stored: &'a StoredClaim,
    person_id: &'a str,
    reversal_no: &'a str,
    items: &'a [usize],
    refund: &'a Breakdown,
    new_settlement: Option<&'a Settlement>,
    status: ClaimStatus,
    superseded_by: Option<&'a str>,
    reason: &'a str,
    actor: &'a Actor,
}

impl SettlementApp {
    /// Reverses the caller's claim fully (`items` empty) or refunds some of its items.
    /// `institution` is the institution the request names (empty: the claim's). Idempotent on
    /// (institution, reversal number).
    pub async fn reverse(
        &self,
        c: &Caller,
        claim_id: &str,
        institution: &str,
        reversal_no: &str,
        items: &[usize],
        reason: &str,
    ) -> Result<Reversed, AppError> {
        let row = self.load_claim(c, claim_id).await?;
        if !institution.is_empty() && institution != row.stored.institution_code {
            return Err(AppError::invalid(
                "institution_code",
                "is not the claim's institution",
            ));
        }
        self.reverse_claim(
            &row.claim_id,
            &row.stored.institution_code,
            reversal_no,
            items,
            reason,
            &Actor::from(c),
        )
        .await
    }

    /// Reverses or refunds a claim in one transaction (no tenancy check: the caller's claim).
    pub async fn reverse_claim(
        &self,
        claim_id: &str,
        institution: &str,
        reversal_no: &str,
        items: &[usize],
        reason: &str,
        actor: &Actor,
    ) -> Result<Reversed, AppError> {
        let txn = self.store.begin().await?;
        if let Some(earlier) = Store::reversal_by_no(&txn, institution, reversal_no).await? {
            drop(txn);
            return self.replayed_reversal(claim_id, earlier).await;
        }
        let (row, person_id, eligibility) = self
            .store
            .lock_claim(&txn, claim_id)
            .await?
            .ok_or_else(|| AppError::NotFound("claim", claim_id.to_string()))?;
        check_reversible(&row, institution, items)?;
        let current = &row.settlement;
        let (acc, version) = self
            .store
            .lock_accumulators(
                &txn,
                &row.stored.id_number,
                current.year,
                &current.insured_region,
            )
            .await?;
        let (remaining_claim, keep) = row.stored.remaining()?;
        let removed_positions: Vec<usize> = keep
            .iter()
            .enumerate()
            .filter(|(_, orig)| items.contains(orig))
            .map(|(p, _)| p)
            .collect();
        let full = items.is_empty() || removed_positions.len() == keep.len();
        let (refund, new_settlement, acc_after) = if full {
            let undo = domain::reverse(current)?;
            (current.breakdown, None, apply_delta(&acc, &undo)?)
        } else {
            let policy = self
                .store
                .policy_document(&*txn, &current.policy_id, current.policy_version)
                .await?;
            let r = refund_items(
                current,
                &remaining_claim,
                &removed_positions,
                &eligibility,
                &acc,
                &policy,
            )?;
            (r.refund, r.settlement, r.accumulators_after)
        };
        let status = if full {
            ClaimStatus::Reversed
        } else {
            ClaimStatus::PartiallyRefunded
        };
        let mut stored = row.stored.clone();
        if full {
            stored.refunded = (0..stored.items.len()).collect();
        } else {
            stored.refunded.extend(items.iter().copied());
        }
        write_reversal(
            &txn,
            &ReversalWrite {
                row: &row,
                stored: &stored,
                person_id: &person_id,
                reversal_no,
                items,
                refund: &refund,
                new_settlement: new_settlement.as_ref(),
                status,
                superseded_by: None,
                reason,
                actor,
            },
        )
        .await?;
        Store::save_accumulators(&txn, &row.stored.id_number, &acc_after, version).await?;
        txn.commit().await?;
        self.wake_relay();
        Ok(Reversed {
            claim_id: claim_id.to_string(),
            refund,
            settlement: new_settlement,
            status,
        })
    }

    /// The answer to a reversal number used before: the same refund and the claim as it is
    /// now, if the number was used for this claim.
    async fn replayed_reversal(
        &self,
        claim_id: &str,
        (earlier, refund): (String, Breakdown),
    ) -> Result<Reversed, AppError> {
        if earlier != claim_id {
            return Err(AppError::invalid(
                "reversal_no",
                format!("already used for claim {earlier}"),
            ));
        }
        let row = self
            .store
            .claim(claim_id)
            .await?
            .ok_or_else(|| AppError::NotFound("claim", claim_id.to_string()))?;
        let settlement = (row.status != ClaimStatus::Reversed).then_some(row.settlement);
        Ok(Reversed {
            claim_id: claim_id.to_string(),
            refund,
            settlement,
            status: row.status,
        })
    }

    /// Re-settles the caller's corrected claim in place of `previous_id`.
    pub async fn resettle(
        &self,
        c: &Caller,
        authorization: super::Authorization,
        previous_id: &str,
        claim: impl FnOnce() -> Result<super::ClaimRequest, AppError>,
        reason: &str,
    ) -> Result<Resettled, AppError> {
        let row = self.load_claim(c, previous_id).await?;
        let input = self.prepare(c, authorization, claim()?).await?;
        self.resettle_prepared(&row.claim_id, &input, reason, &Actor::from(c))
            .await
    }

    /// Re-settles a corrected claim in place of `previous_id`: reverses the previous claim
    /// fully and settles the correction, in one transaction.
    pub async fn resettle_prepared(
        &self,
        previous_id: &str,
        input: &SettleInput,
        reason: &str,
        actor: &Actor,
    ) -> Result<Resettled, AppError> {
        let txn = self.store.begin().await?;
        let (row, person_id, _) = self
            .store
            .lock_claim(&txn, previous_id)
            .await?
            .ok_or_else(|| AppError::NotFound("claim", previous_id.to_string()))?;
        check_correction(&row, input)?;
        let st = &input.stored;
        let previous = &row.settlement;
        let (acc, version) = self
            .store
            .lock_accumulators(&txn, &st.id_number, previous.year, &previous.insured_region)
            .await?;
        let undone = apply_delta(&acc, &domain::reverse(previous)?)?;
        let s = domain::settle(&input.claim, &input.eligibility, &undone, &input.policy)?;
        let claim_id = new_id();
        let mut old = row.stored.clone();
        old.refunded = (0..old.items.len()).collect();
        write_reversal(
            &txn,
            &ReversalWrite {
                row: &row,
                stored: &old,
                person_id: &person_id,
                reversal_no: &format!("RESETTLE-{claim_id}"),
                items: &[],
                refund: &previous.breakdown,
                new_settlement: None,
                status: ClaimStatus::Superseded,
                superseded_by: Some(&claim_id),
                reason,
                actor,
            },
        )
        .await?;
        write_settlement(&txn, &claim_id, input, &s, actor, Some(previous_id)).await?;
        Store::point_encounter(&txn, &st.institution_code, &st.encounter_no, &claim_id).await?;
        Store::save_accumulators(&txn, &st.id_number, &s.accumulators_after, version).await?;
        txn.commit().await?;
        self.wake_relay();
        let difference = s.breakdown.minus(&previous.breakdown)?;
        Ok(Resettled {
            claim_id,
            previous_claim_id: previous_id.to_string(),
            settlement: s,
            difference,
        })
    }
}

/// The claim is open, the institution's, and every item index names an item not refunded yet.
fn check_reversible(row: &ClaimRow, institution: &str, items: &[usize]) -> Result<(), AppError> {
    if !row.status.open() {
        return Err(AppError::Precondition(
            crate::error::CLAIM_CLOSED,
            format!(
                "claim {} is {} and cannot be reversed",
                row.claim_id,
                row.status.as_str()
            ),
        ));
    }
    if row.stored.institution_code != institution {
        return Err(AppError::invalid(
            "institution_code",
            "is not the claim's institution",
        ));
    }
    let mut seen = Vec::new();
    for (n, ix) in items.iter().enumerate() {
        if *ix >= row.stored.items.len() {
            return Err(AppError::invalid(
                format!("item_indexes[{n}]"),
                format!("the claim has {} items", row.stored.items.len()),
            ));
        }
        if row.stored.refunded.contains(ix) || seen.contains(ix) {
            return Err(AppError::invalid(
                format!("item_indexes[{n}]"),
                "item already refunded or listed twice",
            ));
        }
        seen.push(*ix);
    }
    Ok(())
}

/// The previous claim is open and the correction keeps its institution, encounter, person,
/// insurance year and insured region.
fn check_correction(row: &ClaimRow, input: &SettleInput) -> Result<(), AppError> {
    if !row.status.open() {
        return Err(AppError::Precondition(
            crate::error::CLAIM_CLOSED,
            format!(
                "claim {} is {} and cannot be re-settled",
                row.claim_id,
                row.status.as_str()
            ),
        ));
    }
    let st = &input.stored;
    if st.institution_code != row.stored.institution_code
        || st.encounter_no != row.stored.encounter_no
    {
        return Err(AppError::invalid(
            "claim.encounter_no",
            "the corrected claim must keep the institution and encounter number",
        ));
    }
    if st.id_number != row.stored.id_number {
        return Err(AppError::invalid(
            "claim.id_number",
            "the corrected claim must be the same person's",
        ));
    }
    let previous = &row.settlement;
    if input.claim.end_date.year() != previous.year
        || input.eligibility.insured_region != previous.insured_region
    {
        return Err(AppError::invalid(
            "claim.end_date",
            "the corrected claim must stay in the same insurance year and insured region",
        ));
    }
    Ok(())
}

/// Writes a reversal: the reversal row, compensating ledger lines, the claim's new state,
/// the insurers' layers, the explanations of a re-settlement and the events (`REVERSED` of
/// the previous state, `SETTLED` of the remainder).
async fn write_reversal(txn: &DatabaseTransaction, w: &ReversalWrite<'_>) -> Result<(), AppError> {
    let (row, stored) = (w.row, w.stored);
    let claim_id = row.claim_id.as_str();
    let month = month_of(today());
    let at = now();
    Store::insert_reversal(
        txn,
        claim_id,
        &stored.institution_code,
        w.reversal_no,
        &month,
        w.items,
        w.refund,
        w.reason,
        w.actor,
        &at,
    )
    .await?;
    Store::post_ledger(
        txn,
        claim_id,
        &month,
        &row.settlement,
        &stored.institution_code,
        w.refund,
        -1,
    )
    .await?;
    let shown = w.new_settlement.unwrap_or(&row.settlement);
    Store::update_claim_state(txn, claim_id, w.status, stored, shown, w.superseded_by).await?;
    let revision = i32::try_from(row.stored.refunded.len() + 1).unwrap_or(i32::MAX);
    match w.new_settlement {
        Some(s) => {
            Store::insert_explanations(txn, claim_id, revision, s).await?;
            for line in s.layers.iter().filter(|l| l.layer == Layer::Commercial) {
                let Some(code) = &line.code else { continue };
                let deductible = s
                    .delta
                    .supplements
                    .get(code)
                    .map(|u| u.deductible_used.0)
                    .unwrap_or(0);
                Store::update_insurer_layer(
                    txn,
                    claim_id,
                    code,
                    line.base.0,
                    deductible,
                    line.amount.0,
                )
                .await?;
            }
        }
        None => Store::reverse_insurer_layers(txn, claim_id).await?,
    }
    let at_event = now();
    let mut out = Vec::with_capacity(2);
    let reversed = events::claim_event(
        claim_id,
        Action::Reversed,
        w.person_id,
        stored,
        &row.settlement,
        &row.stored.remaining()?.0.items,
        &at_event,
    )?;
    out.push(events::outbox_event(&reversed));
    if let Some(s) = w.new_settlement {
        let remaining = stored.remaining()?.0.items;
        let settled = events::claim_event(
            claim_id,
            Action::Settled,
            w.person_id,
            stored,
            s,
            &remaining,
            &at_event,
        )?;
        out.push(events::outbox_event(&settled));
    }
    outbox::enqueue(txn, &out).await?;
    Ok(())
}
