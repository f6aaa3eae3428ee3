//! An institution's monthly statement by scheme, with supervision's decision on paying it
//! (`CheckSettlementHold`): the statement of a month is paid the month after.

use super::upstream::{Authorization, PaymentCheck, PaymentDecision};
use super::{AppError, SettlementApp};
use crate::domain::Scheme;
use crate::store::StatementTotals;
use chrono::{Datelike, Months, NaiveDate};
use std::collections::BTreeMap;
use yibao_core::InstitutionCode;

/// An institution's month.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Totals by scheme.
    pub lines: BTreeMap<Scheme, StatementTotals>,
    /// Supervision's decision on paying it, with reasons and the credit score.
    pub payment: PaymentCheck,
}

impl SettlementApp {
    /// The statement of `institution`'s `month` ("YYYY-MM") and supervision's decision on
    /// paying it, asked at once.
    pub async fn statement(
        &self,
        authorization: Authorization,
        institution: &InstitutionCode,
        month: &str,
    ) -> Result<Statement, AppError> {
        let (totals, payment) = tokio::join!(
            self.store.statement(institution.as_str(), month),
            self.payment_decision(authorization, institution, month)
        );
        Ok(Statement {
            lines: totals?,
            payment,
        })
    }

    /// Supervision's decision on paying `institution`'s statement of `month`, which is paid
    /// the month after. An unreachable supervision gives no decision, with the reason.
    async fn payment_decision(
        &self,
        authorization: Authorization,
        institution: &InstitutionCode,
        month: &str,
    ) -> PaymentCheck {
        let Some(paid_in) = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.checked_add_months(Months::new(1)))
        else {
            return PaymentCheck {
                decision: PaymentDecision::Unspecified,
                reasons: vec![format!("month `{month}` has no following month")],
                credit_score: 0,
            };
        };
        match self
            .upstreams
            .holds
            .check(authorization, institution, paid_in.year(), paid_in.month())
            .await
        {
            Ok(check) => check,
            Err(e) => {
                tracing::warn!(error = %e, institution = %institution, "supervision did not answer the payment check");
                PaymentCheck {
                    decision: PaymentDecision::Unspecified,
                    reasons: vec![format!("supervision could not be asked: {e}")],
                    credit_score: 0,
                }
            }
        }
    }
}
