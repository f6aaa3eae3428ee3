//! The lines of a claim: its item rows (with their split) and the explanation of every amount
//! (breakdown lines, one revision per settlement or refund).

use super::StoredClaim;
use crate::domain::{ItemClass, Settlement};
use crate::store::{Store, StoreError};
use sea_orm::DatabaseTransaction;
use yibao_runtime::sql::{i, i4, insert_rows, oi, t};

pub fn rule_name(rule: &crate::domain::Rule) -> String {
    match serde_json::to_value(rule) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(m)) => m
            .iter()
            .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
        _ => "unknown".into(),
    }
}

/// Inserts the items of a claim with their split (`st.items` zipped with the settlement's
/// `s.items`, in item order).
pub(super) async fn insert_items(
    txn: &DatabaseTransaction,
    claim_id: &str,
    st: &StoredClaim,
    s: &Settlement,
) -> Result<(), StoreError> {
    let items = st
        .items
        .iter()
        .zip(&s.items)
        .enumerate()
        .map(|(n, (it, sp))| {
            vec![
                t(claim_id),
                i4(i32::try_from(n).unwrap_or(i32::MAX)),
                t(&it.national_code),
                t(&it.name),
                t(class_str(it.class)),
                i(it.quantity),
                i(it.unit_price.0),
                i(it.amount.0),
                oi(it.payment_standard.map(|f| f.0)),
                i(sp.fulamt_ownpay_amt.0),
                i(sp.overlmt_selfpay.0),
                i(sp.preselfpay_amt.0),
                i(sp.inscp_scp_amt.0),
            ]
        })
        .collect();
    insert_rows(
        txn,
        "claim_items",
        &[
            "claim_id",
            "item_index",
            "national_code",
            "name",
            "item_class",
            "quantity",
            "unit_price_fen",
            "amount_fen",
            "payment_standard_fen",
            "fulamt_ownpay_amt_fen",
            "overlmt_selfpay_fen",
            "preselfpay_amt_fen",
            "inscp_scp_amt_fen",
        ],
        items,
    )
    .await?;
    Ok(())
}

impl Store {
    /// Inserts the explanations of a settlement under `revision` (0, then one per refund).
    pub async fn insert_explanations(
        txn: &DatabaseTransaction,
        claim_id: &str,
        revision: i32,
        s: &Settlement,
    ) -> Result<(), StoreError> {
        let rows = s
            .explanations
            .iter()
            .enumerate()
            .map(|(n, e)| {
                vec![
                    t(claim_id),
                    i4(revision),
                    i4(i32::try_from(n).unwrap_or(i32::MAX)),
                    t(e.field.name()),
                    t(rule_name(&e.rule)),
                    i(e.amount.0),
                    i(e.base.0),
                    i(e.less.0),
                    oi(e.rate.map(|r| i64::from(r.0))),
                    oi(e.limit.map(|l| l.0)),
                    t(e.words()),
                ]
            })
            .collect();
        insert_rows(
            txn,
            "breakdown_lines",
            &[
                "claim_id",
                "revision",
                "seq",
                "field",
                "rule",
                "amount_fen",
                "base_fen",
                "less_fen",
                "rate_bp",
                "limit_fen",
                "text",
            ],
            rows,
        )
        .await?;
        Ok(())
    }
}

/// Text form of an item class as stored.
fn class_str(c: ItemClass) -> &'static str {
    match c {
        ItemClass::A => "A",
        ItemClass::B => "B",
        ItemClass::C => "C",
    }
}
