//! Reconciling the fund ledger of a region's month against its settlements and reversals.

use super::{AppError, SettlementApp};
use crate::store::{Actor, new_id};
use std::collections::{BTreeMap, BTreeSet};

/// One fund line of a ledger reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundTotal {
    /// fund_pay_type.
    pub fund_pay_type: String,
    /// From settlements and reversals.
    pub claims_total: i64,
    /// From the ledger.
    pub ledger_total: i64,
}

/// A claim whose ledger lines differ from its settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discrepancy {
    /// Claim.
    pub claim_id: String,
    /// Fund line.
    pub fund_pay_type: String,
    /// From the settlement.
    pub expected: i64,
    /// In the ledger.
    pub recorded: i64,
}

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
    pub async fn reconcile_ledger(
        &self,
        region: &str,
        month: &str,
        actor: &Actor,
    ) -> Result<LedgerReconciliation, AppError> {
        let expected = self.store.expected_by_claim(region, month).await?;
        let recorded = self.store.ledger_by_claim(region, month).await?;
        let double_entry_balanced = match self.store.ledger_balance(region, month).await? {
            Some(b) => b.debits == b.credits,
            None => true,
        };
        let mut funds: BTreeMap<String, FundTotal> = BTreeMap::new();
        let mut discrepancies = Vec::new();
        let keys: BTreeSet<(String, String)> =
            expected.keys().chain(recorded.keys()).cloned().collect();
        for key in keys {
            let e = expected.get(&key).map(|x| x.1).unwrap_or(0);
            let r = recorded.get(&key).copied().unwrap_or(0);
            let f = funds.entry(key.1.clone()).or_insert_with(|| FundTotal {
                fund_pay_type: key.1.clone(),
                claims_total: 0,
                ledger_total: 0,
            });
            f.claims_total += e;
            f.ledger_total += r;
            if e != r && discrepancies.len() < 1000 {
                discrepancies.push(Discrepancy {
                    claim_id: key.0.clone(),
                    fund_pay_type: key.1.clone(),
                    expected: e,
                    recorded: r,
                });
            }
        }
        let result = LedgerReconciliation {
            run_id: new_id(),
            funds: funds.into_values().collect(),
            discrepancies,
            double_entry_balanced,
        };
        let summary = serde_json::json!({
            "balanced": result.balanced(),
            "funds": result.funds.iter().map(|f| serde_json::json!({"fund_pay_type": f.fund_pay_type, "claims": f.claims_total, "ledger": f.ledger_total})).collect::<Vec<_>>(),
            "discrepancies": result.discrepancies.len(),
        });
        self.store
            .record_run(&result.run_id, "ledger", region, month, &summary, actor)
            .await?;
        Ok(result)
    }
}
