//! Budget policies per region, yearly budgets per institution (总额控制), the spending per
//! institution and month the consumer adds to, and the warnings evaluated from them.

use super::{
    Audit, BIGINT, Col, INSTITUTION_REGION, Page, Store, StoreError, TEXT, fetch, i, json, rfc3339,
    s, to_json,
};
use crate::domain::{BudgetPolicy, BudgetWarning, WarningLevel};
use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseTransaction, Value};
use std::collections::BTreeMap;
use yibao_core::{Fen, InstitutionCode};

const SPENDING_COLS: &[Col] = &[
    ("institution_code", TEXT),
    ("year", BIGINT),
    ("month", BIGINT),
    ("amount_fen", BIGINT),
];

/// Text of a warning level in the database.
pub fn level_str(l: WarningLevel) -> &'static str {
    match l {
        WarningLevel::Yellow => "yellow",
        WarningLevel::Orange => "orange",
        WarningLevel::Red => "red",
    }
}

/// Rank of a warning level in SQL (red worst).
const LEVEL_RANK: &str = "(CASE level WHEN 'red' THEN 3 WHEN 'orange' THEN 2 ELSE 1 END)";

fn level_rank(l: WarningLevel) -> i64 {
    match l {
        WarningLevel::Yellow => 1,
        WarningLevel::Orange => 2,
        WarningLevel::Red => 3,
    }
}

/// The page key of a warning: (level rank, institution), worst first.
pub fn warning_key(w: &BudgetWarning) -> Vec<String> {
    vec![
        level_rank(w.level).to_string(),
        w.status.institution.to_string(),
    ]
}

/// What a budget ledger of a year is built from.
#[derive(Debug, Clone, Default)]
pub struct LedgerRows {
    /// Every stored policy.
    pub policies: Vec<BudgetPolicy>,
    /// Budgets: (institution, amount).
    pub budgets: Vec<(InstitutionCode, Fen)>,
    /// Spending: (institution, month, amount).
    pub spending: Vec<(InstitutionCode, u32, Fen)>,
}

impl Store {
    /// Sets a region's budget policy.
    pub async fn put_budget_policy(
        &self,
        policy: &BudgetPolicy,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        self.exec(
            &*txn,
            "INSERT INTO budget_policies (region_code, doc, actor, at) VALUES (?, ?, ?, ?) ON CONFLICT (region_code) DO UPDATE SET doc = excluded.doc, actor = excluded.actor, at = excluded.at",
            vec![policy.region.to_string().into(), to_json(policy)?.into(), audit.actor.clone().into(), rfc3339(audit.at).into()],
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Every stored budget policy.
    pub async fn budget_policies<C: ConnectionTrait>(
        &self,
        c: &C,
    ) -> Result<Vec<BudgetPolicy>, StoreError> {
        self.all(
            c,
            "SELECT doc FROM budget_policies ORDER BY region_code",
            vec![],
        )
        .await?
        .iter()
        .map(|r| json(r, "doc"))
        .collect()
    }

    /// Sets an institution's budget of a year.
    pub async fn put_budget_row(
        &self,
        txn: &DatabaseTransaction,
        institution: &InstitutionCode,
        year: i32,
        amount: Fen,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        self.exec(
            txn,
            "INSERT INTO budgets (institution_code, year, amount_fen, actor, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (institution_code, year) DO UPDATE SET amount_fen = excluded.amount_fen, actor = excluded.actor, at = excluded.at",
            vec![institution.to_string().into(), i64::from(year).into(), amount.0.into(), audit.actor.clone().into(), rfc3339(audit.at).into()],
        )
        .await?;
        Ok(())
    }

    /// The months of a year an institution has spending in, in order.
    pub async fn spending_months(
        &self,
        txn: &DatabaseTransaction,
        institution: &InstitutionCode,
        year: i32,
    ) -> Result<Vec<u32>, StoreError> {
        self.all(
            txn,
            "SELECT month FROM spending WHERE institution_code = ? AND year = ? ORDER BY month",
            vec![institution.to_string().into(), i64::from(year).into()],
        )
        .await?
        .iter()
        .map(|m| Ok(u32::try_from(i(m, "month")?).unwrap_or(0)))
        .collect()
    }

    /// Adds spending deltas per (institution, year, month) in one multi-row upsert.
    pub async fn add_spending(
        &self,
        txn: &DatabaseTransaction,
        spending: &BTreeMap<(String, i32, u32), i64>,
    ) -> Result<(), StoreError> {
        let rows = spending
            .iter()
            .map(|((inst, year, month), delta)| {
                vec![
                    Value::from(inst.as_str()),
                    i64::from(*year).into(),
                    i64::from(*month).into(),
                    (*delta).into(),
                ]
            })
            .collect();
        // One row per key (the map's keys are distinct), so one statement may upsert them all.
        self.insert_many(
            txn,
            "spending",
            SPENDING_COLS,
            rows,
            "ON CONFLICT (institution_code, year, month) DO UPDATE SET amount_fen = spending.amount_fen + excluded.amount_fen",
            None,
        )
        .await?;
        Ok(())
    }

    /// Those of `institutions` that have a budget in `year`.
    pub async fn budgeted(
        &self,
        txn: &DatabaseTransaction,
        year: i32,
        institutions: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let marks = vec!["?"; institutions.len()].join(", ");
        let mut args: Vec<Value> = vec![i64::from(year).into()];
        args.extend(institutions.iter().map(|s| Value::from(s.clone())));
        self.all(txn, &format!("SELECT institution_code FROM budgets WHERE year = ? AND institution_code IN ({marks})"), args)
            .await?
            .iter()
            .map(|r| s(r, "institution_code"))
            .collect()
    }

    /// The policies, and for `institutions` (all when `None`, or those of a region prefix) in
    /// `year` their budgets and spending.
    pub async fn ledger_rows<C: ConnectionTrait>(
        &self,
        c: &C,
        year: i32,
        institutions: Option<&[String]>,
        region_prefix: Option<&str>,
    ) -> Result<LedgerRows, StoreError> {
        let policies = self.budget_policies(c).await?;
        let (filter, mut values): (String, Vec<Value>) = match (institutions, region_prefix) {
            (Some(list), _) if !list.is_empty() => (
                format!(
                    " AND institution_code IN ({})",
                    vec!["?"; list.len()].join(", ")
                ),
                list.iter().map(|s| Value::from(s.clone())).collect(),
            ),
            (_, Some(prefix)) => (
                format!(" AND {INSTITUTION_REGION} LIKE ?"),
                vec![format!("{prefix}%").into()],
            ),
            _ => (String::new(), Vec::new()),
        };
        let mut args: Vec<Value> = vec![i64::from(year).into()];
        args.append(&mut values);
        let budgets = self
            .all(
                c,
                &format!("SELECT institution_code, amount_fen FROM budgets WHERE year = ?{filter}"),
                args.clone(),
            )
            .await?;
        let spending = self.all(c, &format!("SELECT institution_code, month, amount_fen FROM spending WHERE year = ?{filter}"), args).await?;
        let code = |r: &sea_orm::QueryResult| {
            InstitutionCode::parse(&s(r, "institution_code")?).map_err(StoreError::corrupt)
        };
        Ok(LedgerRows {
            policies,
            budgets: budgets
                .iter()
                .map(|r| Ok((code(r)?, Fen(i(r, "amount_fen")?))))
                .collect::<Result<_, StoreError>>()?,
            spending: spending
                .iter()
                .map(|r| {
                    let month = u32::try_from(i(r, "month")?).unwrap_or(0);
                    Ok((code(r)?, month, Fen(i(r, "amount_fen")?)))
                })
                .collect::<Result<_, StoreError>>()?,
        })
    }

    /// Replaces the warnings of `institutions` for (year, month) by `warnings`.
    pub async fn replace_warnings(
        &self,
        txn: &DatabaseTransaction,
        year: i32,
        month: u32,
        institutions: &[String],
        warnings: &[BudgetWarning],
    ) -> Result<(), StoreError> {
        let marks = vec!["?"; institutions.len()].join(", ");
        let mut args: Vec<Value> = vec![i64::from(year).into(), i64::from(month).into()];
        args.extend(institutions.iter().map(|s| Value::from(s.clone())));
        self.exec(txn, &format!("DELETE FROM warnings WHERE year = ? AND month = ? AND institution_code IN ({marks})"), args).await?;
        let now = rfc3339(Utc::now());
        for w in warnings {
            let (hy, hm) = w.hold_payment_of.unwrap_or((0, 0));
            self.exec(
                txn,
                "INSERT INTO warnings (year, month, institution_code, region_code, level, hold_year, hold_month, doc, evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    i64::from(year).into(),
                    i64::from(month).into(),
                    w.status.institution.to_string().into(),
                    w.status.institution.region().to_string().into(),
                    level_str(w.level).into(),
                    i64::from(hy).into(),
                    i64::from(hm).into(),
                    to_json(w)?.into(),
                    now.clone().into(),
                ],
            )
            .await?;
        }
        Ok(())
    }

    /// Stored warnings of a month for institutions of a region (prefix), worst first (keyset
    /// [`warning_key`]), one more than the page.
    pub async fn warnings(
        &self,
        region_prefix: &str,
        year: i32,
        month: u32,
        page: &Page,
    ) -> Result<Vec<BudgetWarning>, StoreError> {
        let mut sql = String::from(
            "SELECT doc FROM warnings WHERE year = ? AND month = ? AND region_code LIKE ?",
        );
        let mut values: Vec<Value> = vec![
            i64::from(year).into(),
            i64::from(month).into(),
            format!("{region_prefix}%").into(),
        ];
        if !page.is_first() {
            let rank: i64 = page
                .after_key(0)
                .parse()
                .map_err(|_| StoreError::corrupt("warning page key"))?;
            sql.push_str(&format!(
                " AND ({LEVEL_RANK} < ? OR ({LEVEL_RANK} = ? AND institution_code > ?))"
            ));
            values.push(rank.into());
            values.push(rank.into());
            values.push(page.after_key(1).into());
        }
        sql.push_str(&format!(
            " ORDER BY {LEVEL_RANK} DESC, institution_code LIMIT ?"
        ));
        values.push(fetch(page));
        self.all(self.db(), &sql, values)
            .await?
            .iter()
            .map(|r| json(r, "doc"))
            .collect()
    }

    /// The warning that holds an institution's payment of (year, month), if any.
    pub async fn hold_of(
        &self,
        institution: &str,
        year: i32,
        month: u32,
    ) -> Result<Option<BudgetWarning>, StoreError> {
        let row = self
            .one(self.db(), "SELECT doc FROM warnings WHERE institution_code = ? AND hold_year = ? AND hold_month = ?", vec![institution.to_string().into(), i64::from(year).into(), i64::from(month).into()])
            .await?;
        row.map(|r| json(&r, "doc")).transpose()
    }
}
