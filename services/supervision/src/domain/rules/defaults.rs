//! The default policy bundle ([`RuleSet::default_for`]), one function per rule family. Values
//! tagged [S]/[K] in DOMAIN are configurable defaults; item codes marked [I] are illustrative.

use chrono::NaiveDate;
use yibao_core::{Bp, Fen, RegionCode, Sex};

use super::{
    AgeRestriction, FrequencyLimit, ReceiptTier, Rule, RuleParams, RuleSet, Severity,
    SexRestriction, SupplyLimit, VerificationKind,
};

impl RuleSet {
    /// The default policy bundle, version 1: every rule on.
    pub fn default_for(region: RegionCode, effective_from: NaiveDate) -> RuleSet {
        let mut rules = Vec::with_capacity(15);
        rules.extend(stay_rules());
        rules.extend(supply_rules());
        rules.extend(patient_restriction_rules());
        rules.extend(pattern_rules());
        rules.extend(in_stay_rules());
        RuleSet {
            region,
            version: 1,
            effective_from,
            retention_days: 180,
            rules,
        }
    }
}

/// A rule switched on.
fn rule(severity: Severity, params: RuleParams) -> Rule {
    Rule {
        enabled: true,
        severity,
        params,
    }
}

/// Stays and coverage: split hospitalisation, overlapping stays, care after death or after
/// enrolment ended.
fn stay_rules() -> [Rule; 4] {
    [
        rule(
            Severity::Medium,
            RuleParams::SplitHospitalisation {
                window_days: 15,
                // Z51.0 radiotherapy, Z51.1 chemotherapy, Z51.2 other chemotherapy sessions.
                planned_diagnosis_prefixes: vec!["Z51.0".into(), "Z51.1".into(), "Z51.2".into()],
            },
        ),
        rule(
            Severity::High,
            RuleParams::OverlappingStay { include_ltc: true },
        ),
        rule(Severity::High, RuleParams::ServiceAfterDeath),
        rule(
            Severity::Medium,
            RuleParams::ServiceOutsideEnrolment { grace_days: 0 },
        ),
    ]
}

/// Quantities: over-prescription (days of supply) and over-frequency (per-day limits).
fn supply_rules() -> [Rule; 2] {
    [
        rule(
            Severity::Medium,
            RuleParams::OverPrescription {
                chronic: SupplyLimit {
                    window_days: 90,
                    max_days_supply: 90,
                    tolerance_days: 0,
                },
                acute: SupplyLimit {
                    window_days: 7,
                    max_days_supply: 7,
                    tolerance_days: 0,
                },
            },
        ),
        rule(
            Severity::Medium,
            RuleParams::OverFrequency {
                // [I] illustrative 15-digit service-item codes: inpatient consultation
                // (住院诊查费), grade-I nursing (Ⅰ级护理), ward bed (普通病房床位费): 1/day.
                limits: vec![
                    FrequencyLimit {
                        item_code: "001102000010000".into(),
                        max_per_day: 1,
                    },
                    FrequencyLimit {
                        item_code: "001202000010000".into(),
                        max_per_day: 1,
                    },
                    FrequencyLimit {
                        item_code: "001101000010000".into(),
                        max_per_day: 1,
                    },
                ],
            },
        ),
    ]
}

/// Items restricted to one sex or an age band.
fn patient_restriction_rules() -> [Rule; 2] {
    [
        rule(
            Severity::Medium,
            RuleParams::SexLimit {
                // DOMAIN §6.2 batch 1: 输精管造影 → male, 阿帕他胺片 → male; [I] 子宫造影 → female.
                restrictions: vec![
                    SexRestriction {
                        item_code: "002101030290000".into(),
                        sex: Sex::Male,
                    },
                    SexRestriction {
                        item_code: "XL02BBA326A001010102180".into(),
                        sex: Sex::Male,
                    },
                    SexRestriction {
                        item_code: "002101040100000".into(),
                        sex: Sex::Female,
                    },
                ],
            },
        ),
        rule(
            Severity::Medium,
            RuleParams::AgeLimit {
                // DOMAIN §6.2 batch 1: 儿童龋齿预防保健 for children; cut-off is local [?], 17 here.
                restrictions: vec![AgeRestriction {
                    item_code: "001302000010000".into(),
                    min_age: None,
                    max_age: Some(17),
                }],
            },
        ),
    ]
}

/// Patterns across claims: large receipts, chronic diagnosis changes, identity clusters,
/// mark-ups.
fn pattern_rules() -> [Rule; 4] {
    [
        rule(
            Severity::Low,
            RuleParams::LargeReceipt {
                tiers: vec![
                    ReceiptTier {
                        above: Fen::yuan(10_000),
                        verification: VerificationKind::CheckRecord,
                    },
                    ReceiptTier {
                        above: Fen::yuan(50_000),
                        verification: VerificationKind::PhoneOrOnSite,
                    },
                ],
            },
        ),
        rule(Severity::Low, RuleParams::ChronicDiagnosisChange),
        rule(
            Severity::High,
            RuleParams::IdentityCluster {
                min_persons: 5,
                window_hours: 48,
            },
        ),
        rule(
            Severity::Medium,
            RuleParams::MarkUp {
                tolerance: Bp::ZERO,
            },
        ),
    ]
}

/// Judged during a stay, on settlement's encounter events: an admission while another stay is
/// open elsewhere, a day's fees above the limit, a fee line outside the stay's dates.
fn in_stay_rules() -> [Rule; 3] {
    [
        // As serious as overlapping stays after settlement: two beds at once (挂床, a lent
        // identity) is probable fraud.
        rule(Severity::High, RuleParams::ConcurrentAdmission),
        // [K] local threshold; 50,000.00 yuan of one day of one stay needs an explanation or a
        // check (the large-receipt rule's phone-or-on-site tier, for a single day).
        rule(
            Severity::Low,
            RuleParams::DailyFeesAboveLimit {
                above: Fen::yuan(50_000),
            },
        ),
        rule(Severity::Medium, RuleParams::FeeOutsideStay),
    ]
}
