//! Monthly LTC settlement of one beneficiary at one institution (one line).
//!
//! For each record the fund's share is the amount billed at the care type's rate, rounded
//! HALF-UP to the fen once, and limited to the unit fee standard × units (按床日/按次限额:
//! `min(actual × rate, standard × units)`). The month's fund total is then limited by the
//! monthly cap of the person's level, less what the fund already paid for the person in the
//! month at other institutions. The person pays the rest: fund + person = billed, to the fen.
//! A reversal is the exact negation of a line.

use super::DomainError;
use super::assessment::DisabilityLevel;
use super::policy::{BenefitPolicy, CareType};
use crate::error;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use yibao_core::{Fen, MoneyOverflow};

/// Stored records to settle: `count` identical records (same care type, units and amount)
/// between two dates. Each record's share is rounded on its own, so a group settles exactly as
/// its records one by one would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillableRecord {
    /// Care type.
    pub care_type: CareType,
    /// Date of the (first) record.
    pub service_date: NaiveDate,
    /// Date of the last record of the group.
    pub last_date: NaiveDate,
    /// Units of each record.
    pub units: u32,
    /// Amount billed by each record.
    pub amount: Fen,
    /// Number of identical records.
    pub count: u32,
}

impl BillableRecord {
    /// One record.
    pub fn one(
        care_type: CareType,
        service_date: NaiveDate,
        units: u32,
        amount: Fen,
    ) -> BillableRecord {
        BillableRecord {
            care_type,
            service_date,
            last_date: service_date,
            units,
            amount,
            count: 1,
        }
    }
}

/// The figures of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineFigures {
    /// Units.
    pub units: i64,
    /// Σ billed.
    pub billed: Fen,
    /// Σ per-record fund shares before the monthly cap.
    pub fund_before_cap: Fen,
    /// Paid by the fund.
    pub fund: Fen,
    /// Paid by the person.
    pub person: Fen,
    /// Cut by the monthly cap.
    pub capped: Fen,
    /// First service day.
    pub period_start: NaiveDate,
    /// Last service day.
    pub period_end: NaiveDate,
}

fn overflow(_: MoneyOverflow) -> DomainError {
    DomainError::invalid(
        error::AMOUNT_TOO_LARGE.code,
        "amount_fen",
        "amounts overflow",
    )
}

/// The fund's share of one record of the group before the monthly cap.
pub fn record_fund_share(policy: &BenefitPolicy, r: &BillableRecord) -> Result<Fen, DomainError> {
    let Some(terms) = policy.terms(r.care_type) else {
        return Ok(Fen::ZERO);
    };
    let at_rate = r.amount.at_rate(yibao_core::Bp(terms.rate_bp));
    if terms.unit_fee_standard_fen > 0 {
        let limit = Fen(terms.unit_fee_standard_fen)
            .checked_mul(i64::from(r.units))
            .map_err(overflow)?;
        Ok(at_rate.min(limit))
    } else {
        Ok(at_rate)
    }
}

/// Settles a beneficiary's records of a month at one institution. `level` is the level in force
/// on the last service day; `paid_elsewhere` is the fund already paid for the person in the same
/// month (other lines, net of reversals). Refused when there is nothing to settle.
pub fn settle_line(
    policy: &BenefitPolicy,
    level: DisabilityLevel,
    records: &[BillableRecord],
    paid_elsewhere: Fen,
) -> Result<LineFigures, DomainError> {
    let (Some(start), Some(end)) = (
        records.iter().map(|r| r.service_date).min(),
        records
            .iter()
            .map(|r| r.last_date.max(r.service_date))
            .max(),
    ) else {
        return Err(DomainError::precondition(
            error::NOTHING_TO_SETTLE.code,
            "no records",
        ));
    };
    let mut billed = Fen::ZERO;
    let mut before_cap = Fen::ZERO;
    let mut units: i64 = 0;
    for r in records {
        let n = i64::from(r.count);
        billed = billed
            .checked_add(r.amount.checked_mul(n).map_err(overflow)?)
            .map_err(overflow)?;
        before_cap = before_cap
            .checked_add(
                record_fund_share(policy, r)?
                    .checked_mul(n)
                    .map_err(overflow)?,
            )
            .map_err(overflow)?;
        units += i64::from(r.units) * n;
    }
    let room = policy
        .monthly_cap(level)
        .saturating_sub_floor0(paid_elsewhere);
    let fund = before_cap.min(room);
    let person = billed.checked_sub(fund).map_err(overflow)?;
    let capped = before_cap.checked_sub(fund).map_err(overflow)?;
    Ok(LineFigures {
        units,
        billed,
        fund_before_cap: before_cap,
        fund,
        person,
        capped,
        period_start: start,
        period_end: end,
    })
}

impl LineFigures {
    /// The reversal of this line: every amount negated.
    pub fn reversal(&self) -> LineFigures {
        LineFigures {
            units: -self.units,
            billed: Fen(-self.billed.get()),
            fund_before_cap: Fen(-self.fund_before_cap.get()),
            fund: Fen(-self.fund.get()),
            person: Fen(-self.person.get()),
            capped: Fen(-self.capped.get()),
            period_start: self.period_start,
            period_end: self.period_end,
        }
    }
}
