//! Pure rules of the supervision service (基金监管): no I/O, no async.
//!
//! - [`event`]: what the rules see — settled/reversed claim events, long-term-care events,
//!   inventory sale events and encounters' steps during care, keyed by an opaque [`PersonKey`]
//!   (never the clear ID number);
//! - [`rules`]: the rule library (规则库) as data, per region and versioned (DOMAIN §6.3);
//! - [`detector`]: the incremental detector over the event stream, idempotent by event id, and
//!   backfills of one rule over history; the in-stay rules over a [`StayBook`] of the stays the
//!   store keeps;
//! - [`review`]: the review workflow of a finding (seed 002: automatic review → institution
//!   feedback → review → final review, with the third-party appeal review of seed 003) and the
//!   verification tasks of large receipts (seed 000);
//! - [`cases`]: cases opened from findings or whistle-blower tips (举报), recovered funds and
//!   rewards;
//! - [`credit`]: credit scores of institutions and insurance physicians, the blacklist and the
//!   settlement gate;
//! - [`budget`]: global budgets per institution (总额控制), monthly yellow/orange/red warnings
//!   against the balanced pace, payment holds and the regional fund summary (DOMAIN §6.4);
//! - [`inspection`]: random inspections (双随机一公开) drawn reproducibly from a published seed;
//! - [`synthetic`]: a seeded generator of clean claim streams for tests, benchmarks and demos.
//!
//! Money is [`yibao_core::Fen`], rates [`yibao_core::Bp`]. Prorations round half-up to the fen,
//! once. Threshold comparisons are exact in integers.

pub mod budget;
pub mod cases;
pub mod credit;
pub mod detector;
pub mod event;
pub mod inspection;
pub mod review;
pub mod rules;
pub mod synthetic;

#[cfg(test)]
mod tests;

use yibao_core::Fen;

pub use budget::{
    BudgetError, BudgetLedger, BudgetPolicy, BudgetStatus, BudgetWarning, FundBalanceStatus,
    FundSummary, WarningLevel,
};
pub use cases::{
    Case, CaseError, CaseSource, CaseStatus, Recovery, RewardPayment, RewardPolicy, Tip,
};
pub use credit::{
    CreditError, CreditPolicy, CreditRecord, CreditRegistry, Decision, Deduction, PhysicianCode,
    Sanction, Subject, sanction_of,
};
pub use detector::{BackfillReport, Detector, Evidence, Finding, Stay, StayBook, StayStatus};
pub use event::{
    ClaimAction, ClaimEvent, ClaimItem, ClaimKind, EncounterAction, EncounterEvent,
    EncounterFeeLine, EventError, InventoryEvent, LtcEvent, PersonKey, SupervisionEvent, age_on,
    icd10_category,
};
pub use inspection::{
    DRAW_ALGORITHM, DrawRequest, InspectionDraw, InspectionError, SplitMix64, draw_inspection,
};
pub use review::{
    Actor, FeedbackKind, Review, ReviewError, ReviewOutcome, ReviewRole, ReviewState, Step,
    VerificationCompletion, VerificationMethod, VerificationOutcome, VerificationTask,
};
pub use rules::{
    AgeRestriction, FrequencyLimit, ReceiptTier, Rule, RuleCode, RuleError, RuleParams, RuleSet,
    RuleUpdate, Severity, SexRestriction, SupplyLimit, VerificationKind,
};
pub use synthetic::{StreamConfig, SyntheticStream};

/// `amount × part / whole`, rounded half-up to the fen; zero when `whole ≤ 0` or `part ≤ 0`,
/// the whole amount when `part ≥ whole`.
pub fn prorate(amount: Fen, part: i64, whole: i64) -> Fen {
    if whole <= 0 || part <= 0 {
        return Fen::ZERO;
    }
    if part >= whole {
        return amount;
    }
    let num = i128::from(amount.0) * i128::from(part);
    let den = i128::from(whole);
    let q = num / den;
    let r = num % den;
    let rounded = if r.abs() * 2 >= den {
        q + num.signum()
    } else {
        q
    };
    // |amount × part / whole| ≤ |amount| because part < whole: always fits.
    Fen(i64::try_from(rounded).unwrap_or(amount.0))
}

/// Sum of amounts that saturates instead of overflowing: validated events carry sane amounts,
/// and a sum of findings must never panic.
pub(crate) fn add(a: Fen, b: Fen) -> Fen {
    Fen(a.0.saturating_add(b.0))
}
