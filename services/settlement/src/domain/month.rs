//! What a month adds up to, with checked sums only: an institution's statement by scheme
//! ([`StatementTotals`]), the fund lines of a breakdown ([`fund_lines`]), the ledger
//! reconciliation's fold ([`LedgerFold`]), which takes one claim at a time so a month is never
//! held in memory, and an insurer's month ([`InsurerFold`]). Every sum is checked: a total beyond `i64` fen is an error
//! ([`MoneyOverflow`]), never a wrapped figure.

use super::{Breakdown, Scheme};
use std::collections::BTreeMap;
use yibao_core::MoneyOverflow;

/// Totals of one scheme in an institution's month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementTotals {
    /// Claims settled in the month and not fully reversed.
    pub claims: i64,
    /// Reversals and refunds posted in the month.
    pub reversals: i64,
    /// Net amounts (settled in the month less given back in the month).
    pub net: Breakdown,
}

impl StatementTotals {
    /// Adds a settlement of the month; `open` when its claim is not reversed or superseded.
    pub fn add_settlement(&mut self, b: &Breakdown, open: bool) -> Result<(), MoneyOverflow> {
        self.net = self.net.plus(b)?;
        if open {
            self.claims = self.claims.checked_add(1).ok_or(MoneyOverflow)?;
        }
        Ok(())
    }

    /// Takes off what a reversal or refund posted in the month gave back.
    pub fn add_refund(&mut self, b: &Breakdown) -> Result<(), MoneyOverflow> {
        self.net = self.net.less(b)?;
        self.reversals = self.reversals.checked_add(1).ok_or(MoneyOverflow)?;
        Ok(())
    }
}

/// The fund (and insurer) lines of a breakdown as `(fund_pay_type, fen)`, zeros left out.
/// The commercial line (990201) is a payer line, not a fund; the ledger carries it too.
pub fn fund_lines(scheme: Scheme, b: &Breakdown) -> Vec<(&'static str, i64)> {
    let pool = match scheme {
        Scheme::Employee => "310100",
        Scheme::Resident => "390100",
    };
    [
        (pool, b.hifp_pay.0),
        ("320100", b.cvlserv_pay.0),
        ("340100", b.hifes_pay.0),
        ("330100", b.hifob_pay.0),
        ("390200", b.hifmi_pay.0),
        ("610100", b.maf_pay.0),
        ("350100", b.hifdm_pay.0),
        ("990101", b.backstop_pay.0),
        ("990102", b.supplement_pay.0),
        ("990201", b.insurer_pay.0),
    ]
    .into_iter()
    .filter(|(_, v)| *v != 0)
    .collect()
}

/// Adds `sign ×` the fund lines of `b` to `into` (by fund_pay_type), checked.
pub fn add_fund_lines(
    into: &mut BTreeMap<String, i64>,
    scheme: Scheme,
    b: &Breakdown,
    sign: i64,
) -> Result<(), MoneyOverflow> {
    for (code, v) in fund_lines(scheme, b) {
        let v = v.checked_mul(sign).ok_or(MoneyOverflow)?;
        let e = into.entry(code.to_string()).or_insert(0);
        *e = e.checked_add(v).ok_or(MoneyOverflow)?;
    }
    Ok(())
}

/// One fund line of a ledger reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundTotal {
    /// fund_pay_type.
    pub fund_pay_type: String,
    /// From settlements and reversals.
    pub claims_total: i64,
    /// From the ledger.
    pub ledger_total: i64,
    /// `ledger_total − claims_total`.
    pub difference: i64,
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

/// The ledger reconciliation of a month, folded one claim at a time: per fund line the claims'
/// total and the ledger's, the claims whose lines differ (the first
/// [`LedgerFold::MAX_DISCREPANCIES`]), and all debits and credits. Memory is the fund lines
/// (ten at most) and the discrepancies kept, whatever the month's size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerFold {
    funds: BTreeMap<String, FundTotal>,
    discrepancies: Vec<Discrepancy>,
    /// Discrepancies found, including those not kept.
    discrepancies_found: u64,
    debits: i64,
    credits: i64,
}

impl LedgerFold {
    /// Discrepancies kept in the result.
    pub const MAX_DISCREPANCIES: usize = 1000;

    /// Folds one claim: what its settlements and reversals of the month come to per fund line
    /// (`expected`) against the net of its ledger lines (`recorded`).
    pub fn claim(
        &mut self,
        claim_id: &str,
        expected: &BTreeMap<String, i64>,
        recorded: &BTreeMap<String, i64>,
    ) -> Result<(), MoneyOverflow> {
        let funds: std::collections::BTreeSet<&String> =
            expected.keys().chain(recorded.keys()).collect();
        for fund in funds {
            let e = expected.get(fund).copied().unwrap_or(0);
            let r = recorded.get(fund).copied().unwrap_or(0);
            let f = self.funds.entry(fund.clone()).or_insert_with(|| FundTotal {
                fund_pay_type: fund.clone(),
                claims_total: 0,
                ledger_total: 0,
                difference: 0,
            });
            f.claims_total = f.claims_total.checked_add(e).ok_or(MoneyOverflow)?;
            f.ledger_total = f.ledger_total.checked_add(r).ok_or(MoneyOverflow)?;
            if e != r {
                self.discrepancies_found = self.discrepancies_found.saturating_add(1);
                if self.discrepancies.len() < Self::MAX_DISCREPANCIES {
                    self.discrepancies.push(Discrepancy {
                        claim_id: claim_id.to_string(),
                        fund_pay_type: fund.clone(),
                        expected: e,
                        recorded: r,
                    });
                }
            }
        }
        Ok(())
    }

    /// Folds one ledger line's debit and credit (any account) into the double entry.
    pub fn line(&mut self, debit: i64, credit: i64) -> Result<(), MoneyOverflow> {
        self.debits = self.debits.checked_add(debit).ok_or(MoneyOverflow)?;
        self.credits = self.credits.checked_add(credit).ok_or(MoneyOverflow)?;
        Ok(())
    }

    /// Discrepancies found, including those beyond the ones kept.
    pub fn discrepancies_found(&self) -> u64 {
        self.discrepancies_found
    }

    /// Per fund line (by fund_pay_type, with its difference), the discrepancies kept, and
    /// whether total debits equal total credits.
    pub fn finish(self) -> Result<(Vec<FundTotal>, Vec<Discrepancy>, bool), MoneyOverflow> {
        let funds = self
            .funds
            .into_values()
            .map(|mut f| {
                f.difference = f
                    .ledger_total
                    .checked_sub(f.claims_total)
                    .ok_or(MoneyOverflow)?;
                Ok(f)
            })
            .collect::<Result<Vec<_>, MoneyOverflow>>()?;
        Ok((funds, self.discrepancies, self.debits == self.credits))
    }
}

/// Per product totals of an insurer reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductTotal {
    /// Product.
    pub product_code: String,
    /// Claims.
    pub claims: i64,
    /// Paid on the insurer's behalf.
    pub insurer_pay: i64,
    /// Of which disputed.
    pub disputed: i64,
}

/// An insurer's month, folded one layer at a time: per product the claims, what was paid on
/// the insurer's behalf and what it disputes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsurerFold {
    products: BTreeMap<String, ProductTotal>,
}

/// The totals of an insurer's month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsurerTotals {
    /// Per product, by product code.
    pub products: Vec<ProductTotal>,
    /// Paid on the insurer's behalf, all products.
    pub paid: i64,
    /// Of which disputed.
    pub disputed: i64,
    /// What the insurer owes: paid less disputed.
    pub payable: i64,
}

impl InsurerFold {
    /// Folds one layer of a claim.
    pub fn layer(
        &mut self,
        product_code: &str,
        insurer_pay: i64,
        disputed: i64,
    ) -> Result<(), MoneyOverflow> {
        let p = self
            .products
            .entry(product_code.to_string())
            .or_insert_with(|| ProductTotal {
                product_code: product_code.to_string(),
                claims: 0,
                insurer_pay: 0,
                disputed: 0,
            });
        p.claims = p.claims.checked_add(1).ok_or(MoneyOverflow)?;
        p.insurer_pay = p
            .insurer_pay
            .checked_add(insurer_pay)
            .ok_or(MoneyOverflow)?;
        p.disputed = p.disputed.checked_add(disputed).ok_or(MoneyOverflow)?;
        Ok(())
    }

    /// The month's totals, checked.
    pub fn finish(self) -> Result<InsurerTotals, MoneyOverflow> {
        let products: Vec<ProductTotal> = self.products.into_values().collect();
        let sum = |f: fn(&ProductTotal) -> i64| {
            products
                .iter()
                .try_fold(0i64, |acc, p| acc.checked_add(f(p)).ok_or(MoneyOverflow))
        };
        let paid = sum(|p| p.insurer_pay)?;
        let disputed = sum(|p| p.disputed)?;
        Ok(InsurerTotals {
            payable: paid.checked_sub(disputed).ok_or(MoneyOverflow)?,
            products,
            paid,
            disputed,
        })
    }
}
