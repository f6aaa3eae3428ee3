//! `yibao.events.v1.InventoryEvent`: the encoding of an inventory finding for the bus.

use crate::domain::{Finding, FindingKind};
use prost::Message;
use yibao_proto::events::v1::InventoryEvent;
use yibao_runtime::outbox::OutboxEvent;
use yibao_runtime::streams::PROCUREMENT_INVENTORY;

/// The event of a finding, or `None` for purchase findings (they stay in the response).
///
/// A mark-up carries the purchase price of the lot sold. A sale without stock carries a
/// purchase price of 0: nothing was bought for what was sold, so the whole sale value is the
/// amount supervision sees. `ordinal` numbers the findings of one record (a sale drawing on
/// two lots yields two).
pub fn inventory_event(f: &Finding, ordinal: usize) -> Option<OutboxEvent> {
    let purchase = match f.kind {
        FindingKind::MarkUp => f.purchase_price.map_or(0, |p| p.0),
        FindingKind::SaleWithoutStock => 0,
        FindingKind::UnlistedPurchase | FindingKind::PurchaseAboveListedPrice => return None,
    };
    let event_id = format!(
        "procurement-inventory:{}:{}:{}:{ordinal}",
        f.institution,
        f.record_no,
        f.kind.code()
    );
    let event = InventoryEvent {
        event_id: event_id.clone(),
        record_no: f.record_no.clone(),
        recorded_at: format!("{}T00:00:00", f.date),
        institution_code: f.institution.to_string(),
        item_code: f.item_code.to_string(),
        quantity: u32::try_from(f.quantity).unwrap_or(u32::MAX),
        purchase_unit_price_fen: purchase,
        sale_unit_price_fen: f.sale_price.map_or(0, |p| p.0),
    };
    Some(
        OutboxEvent::new(PROCUREMENT_INVENTORY, event_id, event.encode_to_vec())
            .for_institution(&event.institution_code),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ItemCode;
    use chrono::NaiveDate;
    use yibao_core::{Fen, InstitutionCode};

    fn finding(kind: FindingKind, purchase: Option<i64>) -> Finding {
        Finding {
            kind,
            institution: InstitutionCode::parse("H34152200001").unwrap(),
            item_code: ItemCode::parse_any("C0101010010000000001").unwrap().1,
            record_no: "S1".into(),
            date: NaiveDate::from_ymd_opt(2026, 1, 6).unwrap(),
            purchase_date: None,
            quantity: 4,
            purchase_price: purchase.map(Fen),
            sale_price: Some(Fen(1_100)),
            listed_price: None,
            amount: Fen(400),
            explanation: String::new(),
        }
    }

    #[test]
    fn a_mark_up_becomes_a_sale_record_with_the_lots_purchase_price() {
        let e = inventory_event(&finding(FindingKind::MarkUp, Some(1_000)), 0).unwrap();
        assert_eq!(e.stream, PROCUREMENT_INVENTORY);
        assert_eq!(
            e.event_id,
            "procurement-inventory:H34152200001:S1:PROCUREMENT_MARK_UP:0"
        );
        let decoded = InventoryEvent::decode(e.payload.as_slice()).unwrap();
        assert_eq!(decoded.event_id, e.event_id);
        assert_eq!(
            (
                decoded.quantity,
                decoded.purchase_unit_price_fen,
                decoded.sale_unit_price_fen
            ),
            (4, 1_000, 1_100)
        );
        assert_eq!(decoded.recorded_at, "2026-01-06T00:00:00");
        assert_eq!(
            (
                decoded.institution_code.as_str(),
                decoded.record_no.as_str()
            ),
            ("H34152200001", "S1")
        );
    }

    #[test]
    fn a_sale_without_stock_carries_no_purchase_price_and_purchase_findings_stay_home() {
        let e = inventory_event(&finding(FindingKind::SaleWithoutStock, None), 1).unwrap();
        let decoded = InventoryEvent::decode(e.payload.as_slice()).unwrap();
        assert_eq!(
            (decoded.purchase_unit_price_fen, decoded.sale_unit_price_fen),
            (0, 1_100)
        );
        assert!(e.event_id.ends_with(":PROCUREMENT_SALE_WITHOUT_STOCK:1"));
        assert!(inventory_event(&finding(FindingKind::UnlistedPurchase, Some(1_000)), 0).is_none());
        assert!(
            inventory_event(
                &finding(FindingKind::PurchaseAboveListedPrice, Some(1_000)),
                0
            )
            .is_none()
        );
    }
}
