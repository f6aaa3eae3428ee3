//! Validation of a policy document, one validator per section; every problem names its field
//! path. The sections are checked in document order, so the errors come in that order.

use chrono::Datelike;
use std::collections::BTreeSet;
use yibao_core::{Bp, Fen};

use super::{Band, DeductibleBasis, LevelBasis, PolicyDocument, PolicyError};
use crate::domain::{EncounterKind, FieldError, LevelKey};

impl PolicyDocument {
    /// Checks the document's internal consistency; every problem names its field path.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut v = Validator { errors: Vec::new() };
        self.validate_header(&mut v);
        self.validate_basic(&mut v);
        if let Some(m) = &self.maternity {
            v.non_negative("maternity.flat_amount", m.flat_amount);
        }
        self.validate_outpatient_pools(&mut v);
        self.validate_chronic_diseases(&mut v);
        self.validate_critical_illness(&mut v);
        self.validate_assistance(&mut v);
        self.validate_backstop(&mut v);
        self.validate_chronic_supplement(&mut v);
        self.validate_cross_region(&mut v);
        self.validate_supplements(&mut v);
        if v.errors.is_empty() {
            Ok(())
        } else {
            Err(PolicyError::Invalid(v.errors))
        }
    }

    /// `id`, `year`, `effective_from`, `preselfpay_share`.
    fn validate_header(&self, v: &mut Validator) {
        if self.id.trim().is_empty() {
            v.err("id", "must not be empty");
        }
        if !(2000..=2100).contains(&self.year) {
            v.err("year", "must be between 2000 and 2100");
        }
        if self.effective_from.year() != self.year {
            v.err("effective_from", "must fall within the policy year");
        }
        v.share("preselfpay_share", self.preselfpay_share);
    }

    /// `outpatient_pools[i]`.
    fn validate_outpatient_pools(&self, v: &mut Validator) {
        let mut codes = BTreeSet::new();
        for (i, p) in self.outpatient_pools.iter().enumerate() {
            let at = format!("outpatient_pools[{i}]");
            v.code(&format!("{at}.code"), &p.code, &mut codes);
            v.share(&format!("{at}.rate"), p.rate);
            v.non_negative(
                &format!("{at}.per_visit_deductible"),
                p.per_visit_deductible,
            );
            v.non_negative(&format!("{at}.annual_limit"), p.annual_limit);
            v.kinds(&format!("{at}.encounter_kinds"), &p.encounter_kinds);
            if p.encounter_kinds.iter().any(|k| {
                !matches!(
                    k,
                    EncounterKind::GeneralOutpatient | EncounterKind::Pharmacy
                )
            }) {
                v.err(
                    &format!("{at}.encounter_kinds"),
                    "an outpatient pool covers general_outpatient or pharmacy only",
                );
            }
        }
    }

    /// `chronic_diseases[i]`.
    fn validate_chronic_diseases(&self, v: &mut Validator) {
        let mut codes = BTreeSet::new();
        for (i, d) in self.chronic_diseases.iter().enumerate() {
            let at = format!("chronic_diseases[{i}]");
            v.code(&format!("{at}.code"), &d.code, &mut codes);
            v.share(&format!("{at}.rate"), d.rate);
            v.positive(&format!("{at}.annual_cap"), d.annual_cap);
        }
    }

    /// `critical_illness`.
    fn validate_critical_illness(&self, v: &mut Validator) {
        let Some(c) = &self.critical_illness else {
            return;
        };
        v.kinds("critical_illness.encounter_kinds", &c.encounter_kinds);
        v.non_negative("critical_illness.threshold", c.threshold);
        v.bands("critical_illness.bands", &c.bands);
        if let Some(cap) = c.annual_cap {
            v.non_negative("critical_illness.annual_cap", cap);
        }
        if let Some(t) = &c.poor_tilt {
            v.share(
                "critical_illness.poor_tilt.threshold_share",
                t.threshold_share,
            );
            v.share("critical_illness.poor_tilt.rate_plus", t.rate_plus);
            if t.categories.is_empty() {
                v.err(
                    "critical_illness.poor_tilt.categories",
                    "must name at least one category",
                );
            }
        }
    }

    /// `assistance`.
    fn validate_assistance(&self, v: &mut Validator) {
        let Some(a) = &self.assistance else {
            return;
        };
        v.kinds("assistance.encounter_kinds", &a.encounter_kinds);
        let mut cats = BTreeSet::new();
        for (i, r) in a.rules.iter().enumerate() {
            let at = format!("assistance.rules[{i}]");
            if !cats.insert(r.category) {
                v.err(&format!("{at}.category"), "duplicate category");
            }
            v.share(&format!("{at}.rate"), r.rate);
            v.non_negative(&format!("{at}.annual_deductible"), r.annual_deductible);
            if let Some(l) = r.annual_limit {
                v.non_negative(&format!("{at}.annual_limit"), l);
            }
        }
    }

    /// `backstop`.
    fn validate_backstop(&self, v: &mut Validator) {
        let Some(b) = &self.backstop else {
            return;
        };
        v.kinds("backstop.encounter_kinds", &b.encounter_kinds);
        if b.categories.is_empty() {
            v.err("backstop.categories", "must name at least one category");
        }
        if b.tier_caps.is_empty() {
            v.err(
                "backstop.tier_caps",
                "must give a cap for at least one tier",
            );
        }
        let mut tiers = BTreeSet::new();
        for (i, t) in b.tier_caps.iter().enumerate() {
            if !tiers.insert(t.tier) {
                v.err(&format!("backstop.tier_caps[{i}].tier"), "duplicate tier");
            }
            v.non_negative(&format!("backstop.tier_caps[{i}].cap"), t.cap);
        }
    }

    /// `chronic_supplement`.
    fn validate_chronic_supplement(&self, v: &mut Validator) {
        let Some(s) = &self.chronic_supplement else {
            return;
        };
        v.kinds("chronic_supplement.encounter_kinds", &s.encounter_kinds);
        v.share("chronic_supplement.rate", s.rate);
        if s.categories.is_empty() {
            v.err(
                "chronic_supplement.categories",
                "must name at least one category",
            );
        }
        if let Some(cap) = s.annual_cap {
            v.non_negative("chronic_supplement.annual_cap", cap);
        }
    }

    /// `cross_region`.
    fn validate_cross_region(&self, v: &mut Validator) {
        let cr = &self.cross_region;
        v.share("cross_region.long_term_reduction", cr.long_term_reduction);
        v.share("cross_region.referral_reduction", cr.referral_reduction);
        v.share("cross_region.emergency_reduction", cr.emergency_reduction);
        v.share(
            "cross_region.other_temporary_reduction",
            cr.other_temporary_reduction,
        );
        v.share("cross_region.unfiled_reduction", cr.unfiled_reduction);
    }

    /// `supplements[i]`.
    fn validate_supplements(&self, v: &mut Validator) {
        let mut codes = BTreeSet::new();
        for (i, s) in self.supplements.iter().enumerate() {
            let at = format!("supplements[{i}]");
            v.code(&format!("{at}.code"), &s.code, &mut codes);
            if s.insurer_code.trim().is_empty() {
                v.err(&format!("{at}.insurer_code"), "must not be empty");
            }
            v.kinds(&format!("{at}.encounter_kinds"), &s.encounter_kinds);
            v.non_negative(&format!("{at}.annual_deductible"), s.annual_deductible);
            v.share(&format!("{at}.rate"), s.rate);
            v.non_negative(&format!("{at}.annual_cap"), s.annual_cap);
        }
    }

    /// `basic`: rates and deductibles per level (matching `level_basis`, one each, every rated
    /// level with a deductible), category tilts, the annual cap.
    fn validate_basic(&self, v: &mut Validator) {
        let basis_ok = |k: LevelKey| match self.level_basis {
            LevelBasis::Tier => k.is_tier(),
            LevelBasis::Grade => !k.is_tier(),
        };
        if self.basic.rates.is_empty() {
            v.err("basic.rates", "must give a rate for at least one level");
        }
        let mut levels = BTreeSet::new();
        for (i, r) in self.basic.rates.iter().enumerate() {
            let at = format!("basic.rates[{i}]");
            if !basis_ok(r.level) {
                v.err(&format!("{at}.level"), "does not match level_basis");
            }
            if !levels.insert(r.level) {
                v.err(&format!("{at}.level"), "duplicate level");
            }
            v.share(&format!("{at}.rate"), r.rate);
        }
        let mut dlevels = BTreeSet::new();
        for (i, d) in self.basic.deductibles.iter().enumerate() {
            let at = format!("basic.deductibles[{i}]");
            if !basis_ok(d.level) {
                v.err(&format!("{at}.level"), "does not match level_basis");
            }
            if !dlevels.insert(d.level) {
                v.err(&format!("{at}.level"), "duplicate level");
            }
            if !levels.contains(&d.level) {
                v.err(&format!("{at}.level"), "has no rate in basic.rates");
            }
            v.non_negative(&format!("{at}.amount"), d.amount);
            if let Some(r) = d.repeat_admission {
                v.non_negative(&format!("{at}.repeat_admission"), r);
                if self.basic.deductible_basis == DeductibleBasis::Annual {
                    v.err(
                        &format!("{at}.repeat_admission"),
                        "only meaningful with deductible_basis per_admission",
                    );
                }
            }
            for (j, c) in d.by_category.iter().enumerate() {
                v.non_negative(&format!("{at}.by_category[{j}].amount"), c.amount);
            }
        }
        for l in &levels {
            if !dlevels.contains(l) {
                v.err(
                    "basic.deductibles",
                    format!("missing a deductible for level {l:?}").as_str(),
                );
            }
        }
        for (i, t) in self.basic.category_tilts.iter().enumerate() {
            v.share(&format!("basic.category_tilts[{i}].plus"), t.plus);
        }
        if let Some(cap) = self.basic.annual_cap {
            v.positive("basic.annual_cap", cap);
        }
    }
}

struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    fn err(&mut self, path: &str, message: &str) {
        self.errors.push(FieldError::new(path, message));
    }
    fn share(&mut self, path: &str, rate: Bp) {
        if rate.0 > Bp::FULL.0 {
            self.err(path, "a rate must not exceed 10000 bp (100%)");
        }
    }
    fn non_negative(&mut self, path: &str, amount: Fen) {
        if amount.is_negative() {
            self.err(path, "must not be negative");
        }
    }
    fn positive(&mut self, path: &str, amount: Fen) {
        if amount.0 <= 0 {
            self.err(path, "must be positive");
        }
    }
    fn code<'a>(&mut self, path: &str, code: &'a str, seen: &mut BTreeSet<&'a str>) {
        if code.trim().is_empty() {
            self.err(path, "must not be empty");
        } else if !seen.insert(code) {
            self.err(path, "duplicate code");
        }
    }
    fn kinds(&mut self, path: &str, kinds: &[EncounterKind]) {
        if kinds.is_empty() {
            self.err(path, "must name at least one encounter kind");
        }
    }
    fn bands(&mut self, path: &str, bands: &[Band]) {
        if bands.is_empty() {
            self.err(path, "must give at least one band");
            return;
        }
        let mut previous = Fen::ZERO;
        for (i, b) in bands.iter().enumerate() {
            self.share(&format!("{path}[{i}].rate"), b.rate);
            let last = i + 1 == bands.len();
            match (b.up_to, last) {
                (None, false) => self.err(
                    &format!("{path}[{i}].up_to"),
                    "only the last band may be open",
                ),
                (Some(_), true) => self.err(
                    &format!("{path}[{i}].up_to"),
                    "the last band must be open (no up_to)",
                ),
                (Some(u), false) => {
                    if u <= previous {
                        self.err(&format!("{path}[{i}].up_to"), "bands must increase");
                    }
                    previous = u;
                }
                (None, true) => {}
            }
        }
    }
}
