//! Reconciling the fund ledger of a region's month against its settlements and reversals.

use super::{AppError, SettlementApp};
use crate::domain::month::add_fund_lines;
use crate::store::months::{ClaimPages, Cursor, LinePages, RefundPages, Scope};
use crate::store::{Actor, StoreError, new_id};
use std::collections::BTreeMap;

pub use crate::domain::{Discrepancy, FundTotal, LedgerFold};

/// Result of a ledger reconciliation.
#[derive(Debug, Clone)]
pub struct LedgerReconciliation {
    /// Run id.
    pub run_id: String,
    /// Per fund line.
    pub funds: Vec<FundTotal>,
    /// Mismatching claims.
    pub discrepancies: Vec<Discrepancy>,
    /// Total debits equal total credits.
    pub double_entry_balanced: bool,
}

impl LedgerReconciliation {
    /// True when every fund line and the double entry match.
    pub fn balanced(&self) -> bool {
        self.double_entry_balanced
            && self.discrepancies.is_empty()
            && self.funds.iter().all(|f| f.claims_total == f.ledger_total)
    }
}

impl SettlementApp {
    /// Reconciles the ledger of a region prefix and month against settlements and reversals
    /// (a settlement counts in the month of its date, a reversal in the month it happened),
    /// and records the run.
    ///
    /// The month is streamed: the claims settled in it, the reversals posted in it and its
    /// ledger lines are read in keyset pages ordered by claim id and walked side by side, one
    /// claim at a time, into a [`LedgerFold`] (checked sums). Memory is three pages and one
    /// claim's lines, whatever the month's size.
    pub async fn reconcile_ledger(
        &self,
        region: &str,
        month: &str,
        actor: &Actor,
    ) -> Result<LedgerReconciliation, AppError> {
        let overflow =
            || StoreError::Overflow(format!("the ledger reconciliation of {region} for {month}"));
        let store = &self.store;
        let rows = store.read_page();
        let scope = Scope::Region(region);
        let mut claims = Cursor::new(
            ClaimPages {
                store,
                scope,
                month,
            },
            rows,
        );
        let mut refunds = Cursor::new(
            RefundPages {
                store,
                scope,
                month,
            },
            rows,
        );
        let mut lines = Cursor::new(
            LinePages {
                store,
                region,
                month,
            },
            rows,
        );
        let mut fold = LedgerFold::default();
        let mut previous: Option<String> = None;
        loop {
            let heads = [
                claims.next_claim().await?.map(str::to_string),
                refunds.next_claim().await?.map(str::to_string),
                lines.next_claim().await?.map(str::to_string),
            ];
            let Some(claim) = heads.into_iter().flatten().min() else {
                break;
            };
            // The three reads are ordered by the database; a claim coming back after a later
            // one means its order is not the bytewise one the walk compares with.
            if previous.as_ref().is_some_and(|p| *p >= claim) {
                return Err(StoreError::Corrupt(format!(
                    "claim {claim} read out of order during the ledger reconciliation"
                ))
                .into());
            }
            let mut expected: BTreeMap<String, i64> = BTreeMap::new();
            let mut recorded: BTreeMap<String, i64> = BTreeMap::new();
            while let Some(c) = claims.take_of(&claim).await? {
                add_fund_lines(&mut expected, c.scheme, &c.breakdown, 1).map_err(|_| overflow())?;
            }
            while let Some(r) = refunds.take_of(&claim).await? {
                add_fund_lines(&mut expected, r.scheme, &r.refund, -1).map_err(|_| overflow())?;
            }
            while let Some(l) = lines.take_of(&claim).await? {
                fold.line(l.debit, l.credit).map_err(|_| overflow())?;
                if l.account.starts_with("fund:") {
                    let net = l.debit.checked_sub(l.credit).ok_or_else(overflow)?;
                    let e = recorded.entry(l.fund_pay_type).or_insert(0);
                    *e = e.checked_add(net).ok_or_else(overflow)?;
                }
            }
            fold.claim(&claim, &expected, &recorded)
                .map_err(|_| overflow())?;
            previous = Some(claim);
        }
        let found = fold.discrepancies_found();
        let (funds, discrepancies, double_entry_balanced) =
            fold.finish().map_err(|_| overflow())?;
        let result = LedgerReconciliation {
            run_id: new_id(),
            funds,
            discrepancies,
            double_entry_balanced,
        };
        let summary = serde_json::json!({
            "balanced": result.balanced(),
            "funds": result.funds.iter().map(|f| serde_json::json!({"fund_pay_type": f.fund_pay_type, "claims": f.claims_total, "ledger": f.ledger_total})).collect::<Vec<_>>(),
            "discrepancies": found,
        });
        self.store
            .record_run(&result.run_id, "ledger", region, month, &summary, actor)
            .await?;
        Ok(result)
    }
}
