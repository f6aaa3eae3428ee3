//! Large receipts (seed 000): a claim above a tier's amount needs the tier's verification;
//! its fund payment is at risk until verified.

use super::{Evidence, Out, claim_draft};
use crate::domain::event::ClaimEvent;
use crate::domain::rules::{RuleCode, VerificationKind};

/// A claim above a large-receipt tier.
pub(super) fn check(out: &mut Out<'_>, e: &ClaimEvent) {
    let c = out.c;
    if let Some((severity, tiers)) = &c.large_receipt
        && let Some(tier) = tiers.iter().rev().find(|t| e.total > t.above)
    {
        let mut d = claim_draft(e, RuleCode::LargeReceipt, *severity);
        d.evidence = Evidence {
            claim_ids: vec![e.claim_id.clone()],
            dates: vec![e.end_date],
            ..Evidence::default()
        };
        d.amount = e.fund_paid;
        d.verification = Some(tier.verification);
        d.explanation = format!(
            "receipt {} of {} yuan is above {} yuan: {}",
            e.claim_id,
            e.total,
            tier.above,
            match tier.verification {
                VerificationKind::CheckRecord => "a check record (核实记录) is required",
                VerificationKind::PhoneOrOnSite =>
                    "verification by phone or on site (电话或实地查验) is required",
            }
        );
        out.push(d);
    }
}
