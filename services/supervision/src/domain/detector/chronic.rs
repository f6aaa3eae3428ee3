//! Chronic-disease diagnosis change: a chronic claim for another disease than the person's
//! previous one must be explained; its fund payment is at risk.

use super::windows::PersonState;
use super::{Evidence, Out, claim_draft};
use crate::domain::event::{ClaimEvent, ClaimKind};
use crate::domain::rules::RuleCode;

/// Remembers the person's chronic disease and checks a change.
pub(super) fn check(out: &mut Out<'_>, person: &mut PersonState, e: &ClaimEvent) {
    let c = out.c;
    if let (ClaimKind::Chronic, Some(disease)) = (e.kind, &e.chronic_disease) {
        if let Some((prev, prev_claim, prev_date)) = &person.chronic
            && prev != disease
            && let Some(severity) = c.chronic_change
        {
            let mut d = claim_draft(e, RuleCode::ChronicDiagnosisChange, severity);
            d.evidence = Evidence {
                claim_ids: vec![prev_claim.clone(), e.claim_id.clone()],
                diagnoses: vec![prev.clone(), disease.clone()],
                dates: vec![*prev_date, e.start_date],
                ..Evidence::default()
            };
            d.amount = e.fund_paid;
            d.explanation = format!(
                "chronic disease changed from {prev} (claim {prev_claim}, {prev_date}) to {disease} (claim {}): the change must be explained (病种变化须查明原由)",
                e.claim_id
            );
            out.push(d);
        }
        person.chronic = Some((disease.clone(), e.claim_id.clone(), e.start_date));
    }
}
