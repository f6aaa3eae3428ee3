//! Agreed-volume completion (约定采购量完成率 vs 序时进度) and retained savings (结余留用,
//! DOMAIN §5.4).
//!
//! Retained savings of an institution, per the round's formula:
//!
//! ```text
//! budget   = (Σ agreed volume × pre-procurement weighted average price) × fund payment rate
//! actual   = (Σ actual purchases (winning and same-generic non-winning) × price) × fund payment rate
//! saving   = max(0, budget − actual)
//! retained = saving × retention rate × assessment coefficient
//! ```
//!
//! Products of quantity and price are exact; each rate application rounds once, half-up to the
//! fen (four roundings: budget, actual, retention, coefficient). An institution that did not
//! complete its agreed volume (winning-product purchases below the agreed volume in any line)
//! retains nothing when the rules require completion.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use yibao_core::{Bp, Fen, InstitutionCode, MoneyOverflow};

/// Rules of completion monitoring, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionRules {
    /// An institution is behind when its completion is below this share of the time progress
    /// (8000 = below 80% of time progress, a public operations prompt [S]).
    pub alert_share_of_time_progress: Bp,
}

impl Default for CompletionRules {
    /// 80% of time progress.
    fn default() -> Self {
        CompletionRules {
            alert_share_of_time_progress: Bp(8_000),
        }
    }
}

/// An institution's agreed and purchased volume of a group over the contract period so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionInput {
    /// Institution.
    pub institution: InstitutionCode,
    /// Group.
    pub group_id: String,
    /// Agreed volume for the whole contract period.
    pub agreed_volume: u64,
    /// Winning-product volume purchased so far.
    pub purchased_volume: u64,
}

/// Completion state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionStatus {
    /// Agreed volume reached.
    Completed,
    /// Not yet reached, but keeping pace with time.
    OnPace,
    /// Below the alert share of the time progress.
    Behind,
}

/// Completion of one institution and group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeCompletion {
    /// Institution.
    pub institution: InstitutionCode,
    /// Group.
    pub group_id: String,
    /// Agreed volume.
    pub agreed_volume: u64,
    /// Purchased volume.
    pub purchased_volume: u64,
    /// Purchased ÷ agreed in bp, rounded down (never shows 100% before it is reached); may
    /// exceed 10000. 10000 when nothing was agreed.
    pub completion: Bp,
    /// Elapsed share of the contract period in bp, rounded down.
    pub time_progress: Bp,
    /// State.
    pub status: CompletionStatus,
    /// One line, e.g. `completion 45.00% vs time progress 60.00% (alert below 48.00%): behind`.
    pub explanation: String,
}

/// Elapsed share of the period `from..=to` on `as_of` (days elapsed including `as_of`), in bp
/// rounded down, between 0 and 10000.
pub fn time_progress(from: NaiveDate, to: NaiveDate, as_of: NaiveDate) -> Bp {
    let total = (to - from).num_days() + 1;
    if total <= 0 || as_of < from {
        return Bp::ZERO;
    }
    let elapsed = ((as_of - from).num_days() + 1).min(total);
    Bp(u32::try_from(elapsed * 10_000 / total).unwrap_or(10_000))
}

/// Completion of each input on `as_of` for a contract period `from..=to`, in (institution,
/// group) order.
pub fn volume_completion(
    inputs: &[CompletionInput],
    from: NaiveDate,
    to: NaiveDate,
    as_of: NaiveDate,
    rules: &CompletionRules,
) -> Vec<VolumeCompletion> {
    let progress = time_progress(from, to, as_of);
    let alert_line = Bp(u32::try_from(
        u64::from(progress.0) * u64::from(rules.alert_share_of_time_progress.0) / 10_000,
    )
    .unwrap_or(u32::MAX));
    let mut out: Vec<VolumeCompletion> = inputs
        .iter()
        .map(|i| {
            let completion = if i.agreed_volume == 0 {
                Bp::FULL
            } else {
                let bp = u128::from(i.purchased_volume) * 10_000 / u128::from(i.agreed_volume);
                Bp(u32::try_from(bp).unwrap_or(u32::MAX))
            };
            // Exact: purchased/agreed < progress × alert  (both rounded-down bp figures would
            // let a borderline case slip either way; compare the fractions instead).
            let behind = u128::from(i.purchased_volume) * 100_000_000
                < u128::from(i.agreed_volume)
                    * u128::from(progress.0)
                    * u128::from(rules.alert_share_of_time_progress.0);
            let status = if i.purchased_volume >= i.agreed_volume {
                CompletionStatus::Completed
            } else if behind {
                CompletionStatus::Behind
            } else {
                CompletionStatus::OnPace
            };
            let word = match status {
                CompletionStatus::Completed => "completed",
                CompletionStatus::OnPace => "on pace",
                CompletionStatus::Behind => "behind",
            };
            VolumeCompletion {
                institution: i.institution.clone(),
                group_id: i.group_id.clone(),
                agreed_volume: i.agreed_volume,
                purchased_volume: i.purchased_volume,
                completion,
                time_progress: progress,
                status,
                explanation: format!(
                    "completion {completion} ({} of {}) vs time progress {progress} (alert below {alert_line}): {word}",
                    i.purchased_volume, i.agreed_volume
                ),
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.institution, &a.group_id).cmp(&(&b.institution, &b.group_id)));
    out
}

/// Rules of retained savings, as data (local: 留用比例 and whether completion is required).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingsRules {
    /// Retention rate (留用比例, ≤ 100%).
    pub retention_rate: Bp,
    /// When true, an institution that did not complete its agreed volume retains nothing.
    pub require_completion: bool,
}

/// A purchase counted in the actual spending of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingsPurchase {
    /// Quantity.
    pub quantity: u64,
    /// Price per unit paid.
    pub unit_price: Fen,
    /// True for the winning product (counts towards completion).
    pub winning: bool,
}

/// One procured generic of an institution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingsLine {
    /// Group.
    pub group_id: String,
    /// Agreed volume (约定采购量).
    pub agreed_volume: u64,
    /// Pre-procurement weighted average price per unit (集采前加权平均价).
    pub pre_procurement_price: Fen,
    /// Actual purchases of winning and same-generic non-winning products.
    pub purchases: Vec<SavingsPurchase>,
}

/// An institution's figures for the retained-savings computation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstitutionSavingsInput {
    /// Institution.
    pub institution: InstitutionCode,
    /// Fund payment rate (医保基金平均支付比例, ≤ 100%) applied to budget and actual spending.
    pub fund_payment_rate: Bp,
    /// Assessment coefficient (考核系数, ≤ 100%).
    pub assessment_coefficient: Bp,
    /// Lines, one per group.
    pub lines: Vec<SavingsLine>,
}

/// The retained savings of one institution, with the formula's intermediate figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainedSavings {
    /// Institution.
    pub institution: InstitutionCode,
    /// Σ agreed × pre-procurement price (before the fund rate).
    pub budget_spending: Fen,
    /// Fund budget (医保资金预算).
    pub budget: Fen,
    /// Σ actual purchases × price (before the fund rate).
    pub actual_spending: Fen,
    /// Actual fund spending (实际医保支出).
    pub actual: Fen,
    /// max(0, budget − actual) (结余).
    pub saving: Fen,
    /// True when every line's winning purchases reached its agreed volume.
    pub completed: bool,
    /// Retained amount (留用金额).
    pub retained: Fen,
    /// The computation, one line per step.
    pub explanation: Vec<String>,
}

/// Why retained savings could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavingsError {
    /// A rate is above 100%.
    #[error("{field} {rate} is above 100%")]
    RateAboveFull {
        /// Field.
        field: &'static str,
        /// Rate.
        rate: Bp,
    },
    /// A price is negative.
    #[error("group {group_id}: a price is negative")]
    NegativePrice {
        /// Group.
        group_id: String,
    },
    /// Money arithmetic overflowed.
    #[error(transparent)]
    Overflow(#[from] MoneyOverflow),
}

impl SavingsError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SavingsError::RateAboveFull { .. } => crate::error::RATE_ABOVE_FULL.code,
            SavingsError::NegativePrice { .. } => crate::error::NEGATIVE_PRICE.code,
            SavingsError::Overflow(_) => crate::error::MONEY_OVERFLOW.code,
        }
    }
}

fn times(price: Fen, quantity: u64) -> Result<Fen, MoneyOverflow> {
    price.checked_mul(i64::try_from(quantity).map_err(|_| MoneyOverflow)?)
}

/// Computes an institution's retained savings by the formula of the module documentation.
pub fn retained_savings(
    input: &InstitutionSavingsInput,
    rules: &SavingsRules,
) -> Result<RetainedSavings, SavingsError> {
    for (field, rate) in [
        ("fund_payment_rate", input.fund_payment_rate),
        ("assessment_coefficient", input.assessment_coefficient),
        ("retention_rate", rules.retention_rate),
    ] {
        if rate > Bp::FULL {
            return Err(SavingsError::RateAboveFull { field, rate });
        }
    }
    let mut budget_spending = Fen::ZERO;
    let mut actual_spending = Fen::ZERO;
    let mut completed = true;
    let mut lines = Vec::new();
    let mut sorted: Vec<&SavingsLine> = input.lines.iter().collect();
    sorted.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    for l in sorted {
        if l.pre_procurement_price.is_negative()
            || l.purchases.iter().any(|p| p.unit_price.is_negative())
        {
            return Err(SavingsError::NegativePrice {
                group_id: l.group_id.clone(),
            });
        }
        let line_budget = times(l.pre_procurement_price, l.agreed_volume)?;
        budget_spending = budget_spending.checked_add(line_budget)?;
        let mut line_actual = Fen::ZERO;
        let mut winning = 0u64;
        for p in &l.purchases {
            line_actual = line_actual.checked_add(times(p.unit_price, p.quantity)?)?;
            if p.winning {
                winning = winning.saturating_add(p.quantity);
            }
        }
        actual_spending = actual_spending.checked_add(line_actual)?;
        let done = winning >= l.agreed_volume;
        completed &= done;
        lines.push(format!(
            "group {}: budget {} × {} = {line_budget}; actual {line_actual}; winning volume {winning} of {} agreed{}",
            l.group_id,
            l.agreed_volume,
            l.pre_procurement_price,
            l.agreed_volume,
            if done { "" } else { " (not completed)" }
        ));
    }
    let budget = budget_spending.at_rate(input.fund_payment_rate);
    let actual = actual_spending.at_rate(input.fund_payment_rate);
    let saving = budget.checked_sub(actual)?.max(Fen::ZERO);
    let retained_full = saving
        .at_rate(rules.retention_rate)
        .at_rate(input.assessment_coefficient);
    let retained = if rules.require_completion && !completed {
        Fen::ZERO
    } else {
        retained_full
    };
    lines.push(format!(
        "budget = {budget_spending} × {} = {budget}",
        input.fund_payment_rate
    ));
    lines.push(format!(
        "actual = {actual_spending} × {} = {actual}",
        input.fund_payment_rate
    ));
    lines.push(format!("saving = max(0, {budget} − {actual}) = {saving}"));
    if rules.require_completion && !completed {
        lines.push("retained = 0: agreed volume not completed".to_string());
    } else {
        lines.push(format!(
            "retained = {saving} × {} × {} = {retained}",
            rules.retention_rate, input.assessment_coefficient
        ));
    }
    Ok(RetainedSavings {
        institution: input.institution.clone(),
        budget_spending,
        budget,
        actual_spending,
        actual,
        saving,
        completed,
        retained,
        explanation: lines,
    })
}

/// Σ retained over institutions (e.g. 51 institutions, 26.35 million yuan).
pub fn total_retained(results: &[RetainedSavings]) -> Result<Fen, MoneyOverflow> {
    Fen::sum(results.iter().map(|r| r.retained))
}
