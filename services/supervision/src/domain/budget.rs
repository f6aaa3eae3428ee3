//! Global budgets (总额控制, seed 003: "总量控制、结构调整、按月拨付、按月监测、超支不补") and
//! fund early warning (DOMAIN §6.4).
//!
//! Each institution has a yearly budget of fund payments. Spending comes from settlement
//! events (a reversal takes its payment back). At the end of month `m` the balanced pace
//! (均衡进度) is `m / 12` of the budget; an institution whose cumulative spending runs ahead of
//! the pace by at least the region's thresholds gets a yellow, orange or red warning (defaults
//! +10/+20/+30 percentage points, [I] — the seed leaves them as "x%"). A red warning flags the
//! institution's next monthly payment for hold (视情况暂缓拨付次月医保基金).
//!
//! The monthly fund summary of a region reports income, spending, balance and months of
//! payable balance (累计结余可支付月数: reasonable 6–9, under 3 insufficient, over 15 excessive
//! [K]) with the month's warnings.

use chrono::Datelike;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use yibao_core::{Bp, Fen, InstitutionCode, RegionCode};

use super::add;
use super::event::{ClaimAction, ClaimEvent};

/// Warning levels (预警).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningLevel {
    /// 黄色: explain the growth, control unreasonable costs.
    Yellow,
    /// 橙色: report an analysis of the growth and measures.
    Orange,
    /// 红色: rectify at once, on-site check, next month's payment may be held.
    Red,
}

/// Warning thresholds and fund-balance bands of a region, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetPolicy {
    /// Region (a province or city policy covers its counties; the most specific applies).
    pub region: RegionCode,
    /// Spending ahead of pace by at least this much: yellow.
    pub yellow_over_pace: Bp,
    /// … orange.
    pub orange_over_pace: Bp,
    /// … red.
    pub red_over_pace: Bp,
    /// Whether a red warning holds the next monthly payment.
    pub hold_on_red: bool,
    /// Below this many months of payable balance: insufficient (结余不足).
    pub insufficient_below_months: u32,
    /// Reasonable band, lower bound (months).
    pub reasonable_from_months: u32,
    /// Reasonable band, upper bound (months).
    pub reasonable_to_months: u32,
    /// Above this many months: excessive (结余过多).
    pub excessive_above_months: u32,
}

impl BudgetPolicy {
    /// The default bundle for a region: +10/+20/+30 pp, hold on red, bands 3/6–9/15 months.
    pub fn default_for(region: RegionCode) -> BudgetPolicy {
        BudgetPolicy {
            region,
            yellow_over_pace: Bp(1_000),
            orange_over_pace: Bp(2_000),
            red_over_pace: Bp(3_000),
            hold_on_red: true,
            insufficient_below_months: 3,
            reasonable_from_months: 6,
            reasonable_to_months: 9,
            excessive_above_months: 15,
        }
    }

    /// Checks that thresholds ascend (yellow < orange < red, yellow above 0) and bands are ordered.
    pub fn validate(&self) -> Result<(), BudgetError> {
        let ok = self.yellow_over_pace.0 > 0
            && self.yellow_over_pace < self.orange_over_pace
            && self.orange_over_pace < self.red_over_pace
            && self.insufficient_below_months <= self.reasonable_from_months
            && self.reasonable_from_months <= self.reasonable_to_months
            && self.reasonable_to_months <= self.excessive_above_months;
        if ok {
            Ok(())
        } else {
            Err(BudgetError::Policy(self.region.clone()))
        }
    }

    /// The warning level for `spent` against `budget` at the end of `month`, exact in integers:
    /// level L applies when `spent / budget − month / 12 ≥ threshold_L`.
    pub fn level(&self, spent: Fen, budget: Fen, month: u32) -> Option<WarningLevel> {
        if budget.0 <= 0 {
            return None;
        }
        let lhs = i128::from(spent.0) * 12 * 10_000;
        let at = |t: Bp| {
            lhs >= i128::from(budget.0) * (i128::from(month) * 10_000 + 12 * i128::from(t.0))
        };
        if at(self.red_over_pace) {
            Some(WarningLevel::Red)
        } else if at(self.orange_over_pace) {
            Some(WarningLevel::Orange)
        } else if at(self.yellow_over_pace) {
            Some(WarningLevel::Yellow)
        } else {
            None
        }
    }
}

/// Why a budget operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// Thresholds not ascending or bands out of order.
    #[error(
        "BUDGET_POLICY_INVALID: thresholds of {0} must ascend (yellow < orange < red) and bands be ordered"
    )]
    Policy(RegionCode),
    /// No policy covers the institution's region.
    #[error("BUDGET_NO_POLICY: no policy covers {0}")]
    NoPolicy(InstitutionCode),
    /// Month outside 1..=12.
    #[error("BUDGET_MONTH_INVALID: month must be 1 to 12, got {0}")]
    Month(u32),
    /// The budget is not positive.
    #[error("BUDGET_AMOUNT_NOT_POSITIVE: a budget must be above 0")]
    AmountNotPositive,
    /// No budget for the institution and year.
    #[error("BUDGET_NOT_SET: no budget for {0} in {1}")]
    NotSet(InstitutionCode, i32),
}

/// Where an institution stands against its budget at the end of a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetStatus {
    /// Institution.
    pub institution: InstitutionCode,
    /// Year.
    pub year: i32,
    /// Month (1–12), end of.
    pub month: u32,
    /// Yearly budget.
    pub annual_budget: Fen,
    /// Spent in the month.
    pub spent_in_month: Fen,
    /// Spent from January to the end of the month.
    pub spent_to_date: Fen,
    /// `spent_to_date / annual_budget` in bp, half-up.
    pub spend_progress_bp: i64,
    /// `month / 12` in bp, half-up.
    pub time_progress_bp: i64,
    /// Difference, in bp (percentage points × 100).
    pub over_pace_bp: i64,
    /// Warning level, exact.
    pub level: Option<WarningLevel>,
    /// Whether this month's payment is held (by a red warning of the previous month).
    pub payment_held: bool,
}

/// A warning issued for a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetWarning {
    /// Region of the policy applied.
    pub region: RegionCode,
    /// Level.
    pub level: WarningLevel,
    /// The status behind it.
    pub status: BudgetStatus,
    /// Payment flagged for hold (year, month), on red.
    pub hold_payment_of: Option<(i32, u32)>,
}

/// Months of payable balance, banded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundBalanceStatus {
    /// Under the insufficient threshold (结余不足).
    Insufficient,
    /// Between insufficient and reasonable.
    Low,
    /// In the reasonable band.
    Reasonable,
    /// Between reasonable and excessive.
    High,
    /// Above the excessive threshold (结余过多).
    Excessive,
    /// No spending yet: cannot be computed.
    Unknown,
}

/// The monthly fund-operation summary of a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundSummary {
    /// Region.
    pub region: RegionCode,
    /// Year.
    pub year: i32,
    /// Month.
    pub month: u32,
    /// Income in the month.
    pub income: Fen,
    /// Spending in the month.
    pub spending: Fen,
    /// Balance at the start of the year.
    pub opening_balance: Fen,
    /// Balance at the end of the month.
    pub balance: Fen,
    /// Months of payable balance × 100 (floor), against the year's average monthly spending.
    pub months_payable_hundredths: Option<i64>,
    /// Band of the months of payable balance.
    pub balance_status: FundBalanceStatus,
    /// Warnings of the month for institutions of the region.
    pub warnings: Vec<BudgetWarning>,
}

/// Budgets, spending and income, with the warnings issued.
#[derive(Debug, Clone, Default)]
pub struct BudgetLedger {
    policies: Vec<BudgetPolicy>,
    budgets: BTreeMap<(InstitutionCode, i32), Fen>,
    spending: BTreeMap<(InstitutionCode, i32, u32), Fen>,
    income: BTreeMap<(RegionCode, i32, u32), Fen>,
    opening: BTreeMap<(RegionCode, i32), Fen>,
    seen: HashSet<String>,
    holds: BTreeSet<(InstitutionCode, i32, u32)>,
    warnings: BTreeMap<(i32, u32), Vec<BudgetWarning>>,
}

fn check_month(month: u32) -> Result<(), BudgetError> {
    if (1..=12).contains(&month) {
        Ok(())
    } else {
        Err(BudgetError::Month(month))
    }
}

fn next_month(year: i32, month: u32) -> (i32, u32) {
    if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

fn ratio_bp(num: i128, den: i128) -> i64 {
    if den == 0 {
        return 0;
    }
    let scaled = num * 10_000;
    let q = scaled / den;
    let r = scaled % den;
    let rounded = if r.abs() * 2 >= den.abs() {
        q + scaled.signum() * den.signum()
    } else {
        q
    };
    i64::try_from(rounded).unwrap_or(0)
}

impl BudgetLedger {
    /// A ledger with the regions' policies.
    pub fn new(policies: Vec<BudgetPolicy>) -> Result<BudgetLedger, BudgetError> {
        for p in &policies {
            p.validate()?;
        }
        Ok(BudgetLedger {
            policies,
            ..BudgetLedger::default()
        })
    }

    /// The most specific policy covering an institution.
    pub fn policy_for(&self, institution: &InstitutionCode) -> Result<&BudgetPolicy, BudgetError> {
        let region = institution.region();
        self.policies
            .iter()
            .filter(|p| p.region.covers(&region))
            .max_by_key(|p| p.region.prefix().len())
            .ok_or_else(|| BudgetError::NoPolicy(institution.clone()))
    }

    /// Sets (or replaces) the yearly budget of an institution.
    pub fn set_budget(
        &mut self,
        institution: InstitutionCode,
        year: i32,
        amount: Fen,
    ) -> Result<(), BudgetError> {
        if amount.0 <= 0 {
            return Err(BudgetError::AmountNotPositive);
        }
        self.policy_for(&institution)?;
        self.budgets.insert((institution, year), amount);
        Ok(())
    }

    /// The yearly budget of an institution.
    pub fn budget(&self, institution: &InstitutionCode, year: i32) -> Option<Fen> {
        self.budgets.get(&(institution.clone(), year)).copied()
    }

    /// Records a claim's fund payment in the month it was settled (a reversal subtracts).
    /// Returns false for an event id already recorded.
    pub fn record_claim(&mut self, e: &ClaimEvent) -> bool {
        if !self.seen.insert(e.event_id.clone()) {
            return false;
        }
        let key = (
            e.institution.clone(),
            e.settled_at.year(),
            e.settled_at.month(),
        );
        let entry = self.spending.entry(key).or_insert(Fen::ZERO);
        *entry = match e.action {
            ClaimAction::Settled => add(*entry, e.fund_paid),
            ClaimAction::Reversed => Fen(entry.0.saturating_sub(e.fund_paid.0)),
        };
        true
    }

    /// Adds an amount (negative for reversals) to an institution's spending of a month, as
    /// kept by the store: the ledger is rebuilt from stored totals rather than from events.
    pub fn add_spending(
        &mut self,
        institution: InstitutionCode,
        year: i32,
        month: u32,
        amount: Fen,
    ) -> Result<(), BudgetError> {
        check_month(month)?;
        let entry = self
            .spending
            .entry((institution, year, month))
            .or_insert(Fen::ZERO);
        *entry = add(*entry, amount);
        Ok(())
    }

    /// Every policy of the ledger.
    pub fn policies(&self) -> &[BudgetPolicy] {
        &self.policies
    }

    /// Records fund income (contributions, subsidies) of a region in a month.
    pub fn record_income(
        &mut self,
        region: RegionCode,
        year: i32,
        month: u32,
        amount: Fen,
    ) -> Result<(), BudgetError> {
        check_month(month)?;
        let entry = self
            .income
            .entry((region, year, month))
            .or_insert(Fen::ZERO);
        *entry = add(*entry, amount);
        Ok(())
    }

    /// Sets the balance of a region's fund at the start of a year.
    pub fn set_opening_balance(&mut self, region: RegionCode, year: i32, amount: Fen) {
        self.opening.insert((region, year), amount);
    }

    fn spent(
        &self,
        institution: &InstitutionCode,
        year: i32,
        months: std::ops::RangeInclusive<u32>,
    ) -> Fen {
        months.fold(Fen::ZERO, |acc, m| {
            add(
                acc,
                self.spending
                    .get(&(institution.clone(), year, m))
                    .copied()
                    .unwrap_or(Fen::ZERO),
            )
        })
    }

    /// Where an institution stands at the end of `month`.
    pub fn status(
        &self,
        institution: &InstitutionCode,
        year: i32,
        month: u32,
    ) -> Result<BudgetStatus, BudgetError> {
        check_month(month)?;
        let budget = self
            .budget(institution, year)
            .ok_or_else(|| BudgetError::NotSet(institution.clone(), year))?;
        let policy = self.policy_for(institution)?;
        let spent_to_date = self.spent(institution, year, 1..=month);
        let spend_progress_bp = ratio_bp(i128::from(spent_to_date.0), i128::from(budget.0));
        let time_progress_bp = ratio_bp(i128::from(month), 12);
        Ok(BudgetStatus {
            institution: institution.clone(),
            year,
            month,
            annual_budget: budget,
            spent_in_month: self.spent(institution, year, month..=month),
            spent_to_date,
            spend_progress_bp,
            time_progress_bp,
            over_pace_bp: ratio_bp(
                i128::from(spent_to_date.0) * 12 - i128::from(budget.0) * i128::from(month),
                i128::from(budget.0) * 12,
            ),
            level: policy.level(spent_to_date, budget, month),
            payment_held: self.payment_held(institution, year, month),
        })
    }

    /// Monthly monitoring: evaluates every budgeted institution at the end of `month`, issues
    /// the warnings and flags next month's payment of red-warned institutions for hold.
    /// Re-evaluating a month replaces its warnings (and their holds).
    pub fn evaluate_month(
        &mut self,
        year: i32,
        month: u32,
    ) -> Result<Vec<BudgetWarning>, BudgetError> {
        check_month(month)?;
        let (ny, nm) = next_month(year, month);
        self.holds.retain(|(_, y, m)| !(*y == ny && *m == nm));
        let institutions: Vec<InstitutionCode> = self
            .budgets
            .keys()
            .filter(|(_, y)| *y == year)
            .map(|(i, _)| i.clone())
            .collect();
        let mut warnings = Vec::new();
        for inst in institutions {
            let status = self.status(&inst, year, month)?;
            let policy = self.policy_for(&inst)?;
            let Some(level) = status.level else { continue };
            let hold = (level == WarningLevel::Red && policy.hold_on_red).then_some((ny, nm));
            warnings.push(BudgetWarning {
                region: policy.region.clone(),
                level,
                status,
                hold_payment_of: hold,
            });
        }
        for w in &warnings {
            if let Some((y, m)) = w.hold_payment_of {
                self.holds.insert((w.status.institution.clone(), y, m));
            }
        }
        self.warnings.insert((year, month), warnings.clone());
        Ok(warnings)
    }

    /// True when the institution's payment for (year, month) is flagged for hold.
    pub fn payment_held(&self, institution: &InstitutionCode, year: i32, month: u32) -> bool {
        self.holds.contains(&(institution.clone(), year, month))
    }

    /// Warnings issued for a month to institutions within `region`.
    pub fn warnings(&self, region: &RegionCode, year: i32, month: u32) -> Vec<BudgetWarning> {
        self.warnings
            .get(&(year, month))
            .map(|ws| {
                ws.iter()
                    .filter(|w| region.covers(&w.status.institution.region()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The monthly fund-operation summary of a region.
    pub fn fund_summary(
        &self,
        region: &RegionCode,
        year: i32,
        month: u32,
    ) -> Result<FundSummary, BudgetError> {
        check_month(month)?;
        let in_region = |i: &InstitutionCode| region.covers(&i.region());
        let spending_in = |m: u32| {
            self.spending
                .iter()
                .filter(|((i, y, mm), _)| *y == year && *mm == m && in_region(i))
                .fold(Fen::ZERO, |acc, (_, v)| add(acc, *v))
        };
        let income_in = |m: u32| {
            self.income
                .iter()
                .filter(|((r, y, mm), _)| *y == year && *mm == m && region.covers(r))
                .fold(Fen::ZERO, |acc, (_, v)| add(acc, *v))
        };
        let cumulative_spending = (1..=month).fold(Fen::ZERO, |acc, m| add(acc, spending_in(m)));
        let cumulative_income = (1..=month).fold(Fen::ZERO, |acc, m| add(acc, income_in(m)));
        let opening_balance = self
            .opening
            .iter()
            .filter(|((r, y), _)| *y == year && region.covers(r))
            .fold(Fen::ZERO, |acc, (_, v)| add(acc, *v));
        let balance = Fen(add(opening_balance, cumulative_income)
            .0
            .saturating_sub(cumulative_spending.0));
        // balance / (cumulative spending / month), in hundredths of a month, floored.
        let months_payable_hundredths = (cumulative_spending.0 > 0).then(|| {
            let v =
                i128::from(balance.0) * 100 * i128::from(month) / i128::from(cumulative_spending.0);
            i64::try_from(v).unwrap_or(i64::MAX)
        });
        let policy = self
            .policies
            .iter()
            .filter(|p| p.region.covers(region) || region.covers(&p.region))
            .max_by_key(|p| p.region.prefix().len());
        let balance_status = match (months_payable_hundredths, policy) {
            (Some(h), Some(p)) => {
                let months = |n: u32| i64::from(n) * 100;
                if h < months(p.insufficient_below_months) {
                    FundBalanceStatus::Insufficient
                } else if h < months(p.reasonable_from_months) {
                    FundBalanceStatus::Low
                } else if h <= months(p.reasonable_to_months) {
                    FundBalanceStatus::Reasonable
                } else if h <= months(p.excessive_above_months) {
                    FundBalanceStatus::High
                } else {
                    FundBalanceStatus::Excessive
                }
            }
            _ => FundBalanceStatus::Unknown,
        };
        Ok(FundSummary {
            region: region.clone(),
            year,
            month,
            income: income_in(month),
            spending: spending_in(month),
            opening_balance,
            balance,
            months_payable_hundredths,
            balance_status,
            warnings: self.warnings(region, year, month),
        })
    }
}
