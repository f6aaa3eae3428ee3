//! Refunding some items of a settled claim (部分退费).

use serde::{Deserialize, Serialize};

use super::{
    AccumulatorDelta, Accumulators, Breakdown, EligibilitySnapshot, EngineError, Settlement,
    apply_delta, settle,
};
use crate::domain::FieldError;
use crate::domain::claim::Claim;
use crate::domain::policy::PolicyDocument;

/// The result of refunding some items of a settled claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRefund {
    /// The re-settlement of the remaining items; none when no item remains (a full reversal).
    pub settlement: Option<Settlement>,
    /// Amounts given back per field (original − new).
    pub refund: Breakdown,
    /// Change to apply to the current accumulators (new delta − original delta).
    pub delta: AccumulatorDelta,
    /// The current accumulators with `delta` applied.
    pub accumulators_after: Accumulators,
}

/// Refunds the items at `removed` (indices into `claim.items`) of a settled claim: re-settles
/// the remaining items against the accumulators as they were before the original claim
/// (`current − original.delta`), gives back the difference and returns the combined delta.
pub fn refund_items(
    original: &Settlement,
    claim: &Claim,
    removed: &[usize],
    eligibility: &EligibilitySnapshot,
    current: &Accumulators,
    policy: &PolicyDocument,
) -> Result<ItemRefund, EngineError> {
    let errors: Vec<FieldError> = removed
        .iter()
        .filter(|i| **i >= claim.items.len())
        .map(|i| FieldError::new(format!("items[{i}]"), "no such item"))
        .collect();
    if !errors.is_empty() {
        return Err(EngineError::InvalidClaim(errors));
    }
    let undo = original.delta.negated()?;
    let before = apply_delta(current, &undo)?;
    let mut rest = claim.clone();
    rest.items = claim
        .items
        .iter()
        .enumerate()
        .filter(|(i, _)| !removed.contains(i))
        .map(|(_, it)| it.clone())
        .collect();
    if rest.items.is_empty() {
        let accumulators_after = apply_delta(current, &undo)?;
        return Ok(ItemRefund {
            settlement: None,
            refund: original.breakdown,
            delta: undo,
            accumulators_after,
        });
    }
    let new = settle(&rest, eligibility, &before, policy)?;
    let delta = undo.plus(&new.delta)?;
    let accumulators_after = apply_delta(current, &delta)?;
    let refund = original.breakdown.minus(&new.breakdown)?;
    Ok(ItemRefund {
        settlement: Some(new),
        refund,
        delta,
        accumulators_after,
    })
}
