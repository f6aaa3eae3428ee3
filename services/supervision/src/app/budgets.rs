//! Global budgets per institution (总额控制): budgets and regional policies, the monthly
//! warnings re-evaluated whenever spending or a budget changes, and the fund summary.

use super::{AppError, Supervision};
use crate::domain::{BudgetLedger, BudgetPolicy, BudgetStatus, BudgetWarning, FundSummary};
use crate::store::{Audit, LedgerRows, Page, Store};
use chrono::{Datelike, Utc};
use sea_orm::DatabaseTransaction;
use yibao_core::{Fen, InstitutionCode, RegionCode};

/// Warnings a fund summary lists at most.
const FUND_SUMMARY_WARNINGS: u64 = 1000;

/// A ledger of the rows; an institution no stored policy covers gets its province's default
/// policy.
pub fn ledger_of(rows: LedgerRows, year: i32) -> Result<BudgetLedger, AppError> {
    let mut policies = rows.policies;
    let codes = rows
        .budgets
        .iter()
        .map(|(c, _)| c)
        .chain(rows.spending.iter().map(|(c, _, _)| c));
    for code in codes {
        let region = code.region();
        if !policies.iter().any(|p| p.region.covers(&region)) {
            policies.push(BudgetPolicy::default_for(region.province()));
        }
    }
    let mut ledger = BudgetLedger::new(policies).map_err(AppError::corrupt)?;
    for (code, amount) in rows.budgets {
        ledger
            .set_budget(code, year, amount)
            .map_err(AppError::corrupt)?;
    }
    for (code, month, amount) in rows.spending {
        ledger
            .add_spending(code, year, month, amount)
            .map_err(AppError::corrupt)?;
    }
    Ok(ledger)
}

/// Re-evaluates the warnings of `institutions` at the end of (year, month) inside the
/// caller's transaction, replacing theirs for that month.
pub async fn reevaluate(
    store: &Store,
    txn: &DatabaseTransaction,
    year: i32,
    month: u32,
    institutions: &[String],
) -> Result<(), AppError> {
    if institutions.is_empty() {
        return Ok(());
    }
    let budgeted = store.budgeted(txn, year, institutions).await?;
    if budgeted.is_empty() {
        return Ok(());
    }
    let rows = store.ledger_rows(txn, year, Some(&budgeted), None).await?;
    let mut ledger = ledger_of(rows, year)?;
    let warnings = ledger
        .evaluate_month(year, month)
        .map_err(AppError::corrupt)?;
    store
        .replace_warnings(txn, year, month, &budgeted, &warnings)
        .await?;
    Ok(())
}

/// Sets an institution's budget of a year and re-evaluates the months it has spending in.
pub async fn put_budget(
    store: &Store,
    institution: &InstitutionCode,
    year: i32,
    amount: Fen,
    audit: &Audit,
) -> Result<(), AppError> {
    let txn = store.begin().await?;
    store
        .put_budget_row(&txn, institution, year, amount, audit)
        .await?;
    for month in store.spending_months(&txn, institution, year).await? {
        reevaluate(store, &txn, year, month, &[institution.to_string()]).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The ledger of one institution in a year (budget, spending, policies).
pub async fn institution_ledger(
    store: &Store,
    institution: &InstitutionCode,
    year: i32,
) -> Result<BudgetLedger, AppError> {
    let rows = store
        .ledger_rows(store.db(), year, Some(&[institution.to_string()]), None)
        .await?;
    ledger_of(rows, year)
}

impl Supervision {
    /// Sets an institution's budget; returns its status at today's month of that year (its
    /// last month for a past year, its first for a future one).
    pub async fn set_budget(
        &self,
        made: &Audit,
        institution: &InstitutionCode,
        year: i32,
        amount: Fen,
    ) -> Result<BudgetStatus, AppError> {
        put_budget(&self.store, institution, year, amount, made).await?;
        let today = Utc::now().date_naive();
        let month = if year == today.year() {
            today.month()
        } else if year < today.year() {
            12
        } else {
            1
        };
        let ledger = institution_ledger(&self.store, institution, year).await?;
        ledger
            .status(institution, year, month)
            .map_err(AppError::corrupt)
    }

    /// Sets a region's budget policy (validated first).
    pub async fn set_budget_policy(
        &self,
        made: &Audit,
        policy: &BudgetPolicy,
    ) -> Result<(), AppError> {
        policy.validate().map_err(AppError::BudgetPolicy)?;
        self.store.put_budget_policy(policy, made).await?;
        Ok(())
    }

    /// An institution's budget status at the end of (year, month), with its payment hold.
    pub async fn budget_status(
        &self,
        institution: &InstitutionCode,
        year: i32,
        month: u32,
    ) -> Result<BudgetStatus, AppError> {
        let ledger = institution_ledger(&self.store, institution, year).await?;
        let mut status =
            ledger
                .status(institution, year, month)
                .map_err(|_| AppError::BudgetNotSet {
                    institution: institution.clone(),
                    year,
                })?;
        status.payment_held = self
            .store
            .hold_of(institution.as_str(), year, month)
            .await?
            .is_some();
        Ok(status)
    }

    /// Stored warnings of a month for institutions of a region (prefix), worst first.
    pub async fn warnings(
        &self,
        region_prefix: &str,
        year: i32,
        month: u32,
        page: &Page,
    ) -> Result<Vec<BudgetWarning>, AppError> {
        Ok(self
            .store
            .warnings(region_prefix, year, month, page)
            .await?)
    }

    /// The fund summary of a region at the end of (year, month), with the month's warnings
    /// (up to 1,000).
    pub async fn fund_summary(
        &self,
        region: &RegionCode,
        year: i32,
        month: u32,
    ) -> Result<(FundSummary, Vec<BudgetWarning>), AppError> {
        let rows = self
            .store
            .ledger_rows(self.store.db(), year, None, Some(region.prefix()))
            .await?;
        let ledger = ledger_of(rows, year)?;
        let summary = ledger
            .fund_summary(region, year, month)
            .map_err(AppError::corrupt)?;
        let mut warnings = self
            .store
            .warnings(
                region.prefix(),
                year,
                month,
                &Page::first(FUND_SUMMARY_WARNINGS),
            )
            .await?;
        warnings.truncate(usize::try_from(FUND_SUMMARY_WARNINGS).unwrap_or(usize::MAX));
        Ok((summary, warnings))
    }
}
