//! Mark-up (零差率): an item sold above its purchase price beyond the tolerance;
//! (sale − purchase price) × quantity.

use yibao_core::Fen;

use super::{Draft, Evidence, Out};
use crate::domain::event::InventoryEvent;
use crate::domain::rules::RuleCode;

/// A sale of an inventory record above its purchase price.
pub(super) fn check(out: &mut Out<'_>, e: &InventoryEvent) {
    if let Some((severity, tolerance)) = out.c.mark_up {
        let limit = i128::from(e.purchase_unit_price.0) * i128::from(10_000 + tolerance.0);
        if i128::from(e.sale_unit_price.0) * 10_000 > limit {
            let unit = e.sale_unit_price.0.saturating_sub(e.purchase_unit_price.0);
            let amount = Fen(unit.saturating_mul(i64::from(e.quantity)));
            out.push(Draft {
                rule: RuleCode::MarkUp,
                severity,
                institution: e.institution.clone(),
                person: None,
                physician: None,
                event_id: &e.event_id,
                at: e.recorded_at,
                evidence: Evidence {
                    claim_ids: vec![e.record_no.clone()],
                    item_codes: vec![e.item_code.clone()],
                    dates: vec![e.recorded_at.date()],
                    ..Evidence::default()
                },
                amount,
                verification: None,
                explanation: format!(
                    "{} sold {} × {} at {} yuan against a purchase price of {} yuan (mark-up {} yuan; zero mark-up policy)",
                    e.institution, e.quantity, e.item_code, e.sale_unit_price, e.purchase_unit_price, amount
                ),
            });
        }
    }
}
