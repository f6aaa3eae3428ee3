//! How a claim's items are classified and priced: only by procurement's medical-insurance
//! catalogue (decision 0009), asked with `ResolveCatalogue` at the place of treatment on the
//! claim's date with the facts its payment restrictions (限定支付) are checked against. The
//! class, payment standard and first self-pay share a claim declares are never used.
//!
//! A line is paid as 丙 (by the patient in full) when procurement finds no version in force
//! (whatever the code), when it violates a restriction, and when a restriction cannot be
//! checked because the claim lacks the fact (days of supply, institution grade, or diagnoses
//! for a diagnosis-bound indication): the fund pays only what the catalogue allows. An
//! indication stated in words only is left to the physician and supervision's review.

use super::upstream::{Authorization, CatalogueLine, ClaimFacts, Resolution};
use super::{AppError, SettlementApp};
use crate::domain::{Claim, HospitalGrade, ItemClass};

impl SettlementApp {
    /// Procurement's answer for each item of `claim`, in item order.
    pub(super) async fn resolve_items(
        &self,
        authorization: Authorization,
        claim: &Claim,
        days_supply: &[Option<u32>],
    ) -> Result<Vec<Resolution>, AppError> {
        let facts = ClaimFacts {
            institution: &claim.institution_code,
            date: claim.end_date,
            institution_grade: Some(match claim.grade {
                HospitalGrade::Grade1 => 1,
                HospitalGrade::Grade2 => 2,
                HospitalGrade::Grade3 => 3,
            }),
            sex: claim.id_number.sex(),
            age: claim.id_number.age_on(claim.end_date),
            diagnoses: &claim.diagnoses,
        };
        let lines: Vec<CatalogueLine> = claim
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| CatalogueLine {
                code: it.national_code.clone(),
                days_supply: days_supply.get(i).copied().flatten(),
            })
            .collect();
        let resolved = self
            .upstreams
            .catalogue
            .resolve(authorization, &facts, &lines)
            .await?;
        if resolved.len() != lines.len() {
            return Err(AppError::Upstream(
                crate::error::PROCUREMENT_UNAVAILABLE,
                format!(
                    "procurement classified {} of {} items",
                    resolved.len(),
                    lines.len()
                ),
            ));
        }
        Ok(resolved)
    }
}

/// True when the fund may pay the line as the catalogue classes it: no restriction violated,
/// and none left unchecked but an indication in words (with diagnoses on the claim).
pub fn payable(r: &Resolution, claim_has_diagnoses: bool) -> bool {
    r.violations.is_empty()
        && r.unchecked
            .iter()
            .all(|k| k == "INDICATION" && claim_has_diagnoses)
}

/// Sets each item's class, payment standard and first self-pay share from procurement's
/// answer; a line the fund may not pay ([`payable`]) is 丙.
pub fn price(claim: &mut Claim, resolved: &[Resolution]) {
    let has_diagnoses = !claim.diagnoses.is_empty();
    for (it, r) in claim.items.iter_mut().zip(resolved) {
        it.class = if payable(r, has_diagnoses) {
            r.class
        } else {
            ItemClass::C
        };
        it.payment_standard = r.payment_standard;
        it.preselfpay_share = r.preselfpay_share;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolution(class: ItemClass) -> Resolution {
        Resolution {
            in_catalogue: class != ItemClass::C,
            class,
            preselfpay_share: None,
            payment_standard: None,
            negotiated: false,
            violations: Vec::new(),
            unchecked: Vec::new(),
            indication: String::new(),
            explanation: String::new(),
        }
    }

    #[test]
    fn a_violated_or_uncheckable_restriction_makes_the_line_c() {
        let clean = resolution(ItemClass::A);
        assert!(payable(&clean, true));
        let violated = Resolution {
            violations: vec!["paid for male (男) patients only".into()],
            ..clean.clone()
        };
        assert!(!payable(&violated, true));
        let no_days = Resolution {
            unchecked: vec!["DAYS_SUPPLY".into()],
            ..clean.clone()
        };
        assert!(
            !payable(&no_days, true),
            "a limit the claim gives no days for"
        );
        let words = Resolution {
            unchecked: vec!["INDICATION".into()],
            indication: "限二线用药".into(),
            ..clean.clone()
        };
        assert!(
            payable(&words, true),
            "an indication in words is the physician's"
        );
        assert!(
            !payable(&words, false),
            "without diagnoses a diagnosis-bound indication cannot be told from words"
        );
    }
}
