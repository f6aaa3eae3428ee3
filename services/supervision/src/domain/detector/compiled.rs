//! A rule set compiled for fast lookups: one slot per rule family, `None` when switched off.

use std::collections::HashMap;
use yibao_core::{Bp, Fen, RegionCode, Sex};

use crate::domain::rules::{
    AgeRestriction, ReceiptTier, RuleParams, RuleSet, Severity, SupplyLimit,
};

/// Rules compiled from a rule set for fast lookups; `None` when switched off.
#[derive(Debug, Clone)]
pub(super) struct Compiled {
    pub(super) version: u32,
    pub(super) region: RegionCode,
    pub(super) retention_days: i64,
    pub(super) split: Option<(Severity, i64, Vec<String>)>,
    pub(super) overlap: Option<(Severity, bool)>,
    pub(super) after_death: Option<Severity>,
    pub(super) outside_enrolment: Option<(Severity, i64)>,
    pub(super) over_prescription: Option<(Severity, SupplyLimit, SupplyLimit)>,
    pub(super) frequency: Option<(Severity, HashMap<String, u32>)>,
    pub(super) sex: Option<(Severity, HashMap<String, Sex>)>,
    pub(super) age: Option<(Severity, HashMap<String, AgeRestriction>)>,
    pub(super) large_receipt: Option<(Severity, Vec<ReceiptTier>)>,
    pub(super) chronic_change: Option<Severity>,
    pub(super) cluster: Option<(Severity, usize, i64)>,
    pub(super) mark_up: Option<(Severity, Bp)>,
    pub(super) concurrent_admission: Option<Severity>,
    pub(super) daily_fees: Option<(Severity, Fen)>,
    pub(super) fee_outside_stay: Option<Severity>,
}

impl Compiled {
    pub(super) fn new(set: &RuleSet) -> Compiled {
        let mut c = Compiled {
            version: set.version,
            region: set.region.clone(),
            retention_days: i64::from(set.retention_days),
            split: None,
            overlap: None,
            after_death: None,
            outside_enrolment: None,
            over_prescription: None,
            frequency: None,
            sex: None,
            age: None,
            large_receipt: None,
            chronic_change: None,
            cluster: None,
            mark_up: None,
            concurrent_admission: None,
            daily_fees: None,
            fee_outside_stay: None,
        };
        for rule in set.rules.iter().filter(|r| r.enabled) {
            let s = rule.severity;
            match &rule.params {
                RuleParams::SplitHospitalisation {
                    window_days,
                    planned_diagnosis_prefixes,
                } => {
                    let prefixes = planned_diagnosis_prefixes
                        .iter()
                        .map(|p| p.trim().to_ascii_uppercase())
                        .collect();
                    c.split = Some((s, i64::from(*window_days), prefixes));
                }
                RuleParams::OverlappingStay { include_ltc } => c.overlap = Some((s, *include_ltc)),
                RuleParams::ServiceAfterDeath => c.after_death = Some(s),
                RuleParams::ServiceOutsideEnrolment { grace_days } => {
                    c.outside_enrolment = Some((s, i64::from(*grace_days)))
                }
                RuleParams::OverPrescription { chronic, acute } => {
                    c.over_prescription = Some((s, chronic.clone(), acute.clone()))
                }
                RuleParams::OverFrequency { limits } => {
                    c.frequency = Some((
                        s,
                        limits
                            .iter()
                            .map(|l| (l.item_code.clone(), l.max_per_day))
                            .collect(),
                    ))
                }
                RuleParams::SexLimit { restrictions } => {
                    c.sex = Some((
                        s,
                        restrictions
                            .iter()
                            .map(|r| (r.item_code.clone(), r.sex))
                            .collect(),
                    ))
                }
                RuleParams::AgeLimit { restrictions } => {
                    c.age = Some((
                        s,
                        restrictions
                            .iter()
                            .map(|r| (r.item_code.clone(), r.clone()))
                            .collect(),
                    ))
                }
                RuleParams::LargeReceipt { tiers } => c.large_receipt = Some((s, tiers.clone())),
                RuleParams::ChronicDiagnosisChange => c.chronic_change = Some(s),
                RuleParams::IdentityCluster {
                    min_persons,
                    window_hours,
                } => {
                    c.cluster = Some((
                        s,
                        usize::try_from(*min_persons).unwrap_or(usize::MAX),
                        i64::from(*window_hours),
                    ))
                }
                RuleParams::MarkUp { tolerance } => c.mark_up = Some((s, *tolerance)),
                RuleParams::ConcurrentAdmission => c.concurrent_admission = Some(s),
                RuleParams::DailyFeesAboveLimit { above } => c.daily_fees = Some((s, *above)),
                RuleParams::FeeOutsideStay => c.fee_outside_stay = Some(s),
            }
        }
        c
    }
}
