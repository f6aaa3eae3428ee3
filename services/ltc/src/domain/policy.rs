//! The benefit policy of a region and year, as data (a JSON document): which levels qualify,
//! whether 重度失智 qualifies on its own, the care types offered with their reimbursement rate
//! and unit fee standard (per bed-day or per visit: the most the fund pays per unit), the monthly
//! cap (by level where it differs), the two-assessor rule, the reassessment interval and what
//! happens to care billed during a hospital stay. Seed 001 (Qingdao/Jiaozhou): 院护, 家护, 巡护
//! and 失智专区; 70–90%; at most 3,450 yuan a month.

use super::DomainError;
use super::assessment::DisabilityLevel;
use crate::error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use yibao_core::{Bp, Fen};

/// Care type (护理形式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CareType {
    /// 院护: care in the institution, per bed-day.
    Institutional,
    /// 家护: home care by the institution's staff.
    Home,
    /// 巡护: visiting care, per visit.
    Visiting,
    /// 失智专区: dementia unit, per bed-day; for persons with 重度失智.
    DementiaUnit,
}

impl CareType {
    /// Every care type.
    pub const ALL: [CareType; 4] = [
        CareType::Institutional,
        CareType::Home,
        CareType::Visiting,
        CareType::DementiaUnit,
    ];

    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            CareType::Institutional => "institutional",
            CareType::Home => "home",
            CareType::Visiting => "visiting",
            CareType::DementiaUnit => "dementia_unit",
        }
    }

    /// Parses stored text.
    pub fn parse(s: &str) -> Option<CareType> {
        CareType::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What a unit of care is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A bed-day (按床日): one unit per record and day.
    Day,
    /// A visit: several a day possible.
    Visit,
}

/// What to do with care billed while the person is in hospital.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapAction {
    /// Refuse the record.
    #[default]
    Refuse,
    /// Store it flagged for review; it is not paid by the fund until cleared.
    Flag,
}

/// Terms of one care type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareTerms {
    /// The care type.
    pub care_type: CareType,
    /// Fund share of the amount billed (70–90% in seed 001).
    pub rate_bp: u32,
    /// Day or visit.
    pub unit: Unit,
    /// Most the fund pays per unit (daily or per-visit fee standard); 0 = no unit limit.
    #[serde(default)]
    pub unit_fee_standard_fen: i64,
    /// Most units billed in a month; 0 = the days of the month for day units, no limit for visits.
    #[serde(default)]
    pub max_units_per_month: u32,
}

/// A benefit policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenefitPolicy {
    /// Levels (0–5) that qualify.
    pub qualifying_levels: Vec<u8>,
    /// True when 重度失智 qualifies whatever the level (Qingdao: 完全失能 and 重度失智).
    #[serde(default)]
    pub dementia_qualifies: bool,
    /// Care types offered.
    pub care_types: Vec<CareTerms>,
    /// Most the fund pays for a person in a month, all institutions together.
    pub monthly_cap_fen: i64,
    /// Monthly cap by level number where it differs from `monthly_cap_fen`.
    #[serde(default)]
    pub monthly_cap_by_level: BTreeMap<String, i64>,
    /// True when two assessors must score every assessment.
    #[serde(default)]
    pub two_assessors: bool,
    /// Months between reassessments.
    pub reassessment_months: u32,
    /// Care during a hospital stay.
    #[serde(default)]
    pub inpatient_overlap: OverlapAction,
}

impl BenefitPolicy {
    /// Parses and validates a document; every problem is named by its path in the document.
    pub fn from_json(text: &str) -> Result<BenefitPolicy, DomainError> {
        let p: BenefitPolicy = serde_json::from_str(text).map_err(|e| {
            DomainError::invalid(error::POLICY_INVALID.code, "document_json", e.to_string())
        })?;
        p.validate()?;
        Ok(p)
    }

    /// Checks the document's values.
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut v: Vec<(String, String)> = Vec::new();
        if self.qualifying_levels.is_empty() && !self.dementia_qualifies {
            v.push((
                "qualifying_levels".into(),
                "no level qualifies and dementia does not either".into(),
            ));
        }
        for (i, l) in self.qualifying_levels.iter().enumerate() {
            if *l > 5 {
                v.push((
                    format!("qualifying_levels[{i}]"),
                    "levels are 0 to 5".into(),
                ));
            }
        }
        if self.care_types.is_empty() {
            v.push(("care_types".into(), "at least one care type".into()));
        }
        for (i, t) in self.care_types.iter().enumerate() {
            if self.care_types[..i]
                .iter()
                .any(|o| o.care_type == t.care_type)
            {
                v.push((format!("care_types[{i}].care_type"), "listed twice".into()));
            }
            if t.rate_bp > 10_000 {
                v.push((
                    format!("care_types[{i}].rate_bp"),
                    "at most 10000 (100%)".into(),
                ));
            }
            if t.unit_fee_standard_fen < 0 {
                v.push((
                    format!("care_types[{i}].unit_fee_standard_fen"),
                    "must not be negative".into(),
                ));
            }
            if t.unit == Unit::Day && t.max_units_per_month > 31 {
                v.push((
                    format!("care_types[{i}].max_units_per_month"),
                    "a month has at most 31 bed-days".into(),
                ));
            }
        }
        if self.monthly_cap_fen <= 0 {
            v.push(("monthly_cap_fen".into(), "must be positive".into()));
        }
        for (k, cap) in &self.monthly_cap_by_level {
            if k.parse::<u8>()
                .ok()
                .and_then(DisabilityLevel::from_number)
                .is_none()
            {
                v.push((
                    format!("monthly_cap_by_level.{k}"),
                    "key must be a level 0 to 5".into(),
                ));
            }
            if *cap <= 0 {
                v.push((
                    format!("monthly_cap_by_level.{k}"),
                    "must be positive".into(),
                ));
            }
        }
        if !(1..=120).contains(&self.reassessment_months) {
            v.push(("reassessment_months".into(), "must be 1 to 120".into()));
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(DomainError::InvalidFields {
                code: error::POLICY_INVALID.code,
                violations: v,
            })
        }
    }

    /// True when a person at `level` (with or without 重度失智) qualifies.
    pub fn qualifies(&self, level: DisabilityLevel, dementia: bool) -> bool {
        self.qualifying_levels.contains(&level.number()) || (dementia && self.dementia_qualifies)
    }

    /// Terms of a care type, if offered.
    pub fn terms(&self, care_type: CareType) -> Option<&CareTerms> {
        self.care_types.iter().find(|t| t.care_type == care_type)
    }

    /// The monthly cap at a level.
    pub fn monthly_cap(&self, level: DisabilityLevel) -> Fen {
        Fen(self
            .monthly_cap_by_level
            .get(&level.number().to_string())
            .copied()
            .unwrap_or(self.monthly_cap_fen))
    }

    /// The rate of a care type (0 when not offered).
    pub fn rate(&self, care_type: CareType) -> Bp {
        Bp(self.terms(care_type).map_or(0, |t| t.rate_bp))
    }

    /// Seed 001's figures as a default document (Qingdao/Jiaozhou): levels 3–5 and 重度失智
    /// qualify; 院护 per bed-day at 90% up to 120 yuan, 家护 per visit at 90% up to 80 yuan,
    /// 巡护 per visit at 80% up to 50 yuan, 失智专区 per bed-day at 70% up to 150 yuan; at most
    /// 3,450 yuan a month; two assessors; reassessment every 12 months. The unit standards are
    /// illustrative \[I\]; a bureau uploads its own.
    pub fn qingdao_default() -> BenefitPolicy {
        let t = |care_type, rate_bp, unit, yuan| CareTerms {
            care_type,
            rate_bp,
            unit,
            unit_fee_standard_fen: Fen::yuan(yuan).get(),
            max_units_per_month: 0,
        };
        BenefitPolicy {
            qualifying_levels: vec![3, 4, 5],
            dementia_qualifies: true,
            care_types: vec![
                t(CareType::Institutional, 9_000, Unit::Day, 120),
                t(CareType::Home, 9_000, Unit::Visit, 80),
                t(CareType::Visiting, 8_000, Unit::Visit, 50),
                t(CareType::DementiaUnit, 7_000, Unit::Day, 150),
            ],
            monthly_cap_fen: Fen::yuan(3_450).get(),
            monthly_cap_by_level: BTreeMap::new(),
            two_assessors: true,
            reassessment_months: 12,
            inpatient_overlap: OverlapAction::Refuse,
        }
    }
}

/// Regions whose policy applies to `region`, most specific first: the county, its city, its
/// province.
pub fn policy_regions(region: &str) -> Vec<String> {
    let mut out = vec![region.to_string()];
    if region.len() == 6 {
        for r in [
            format!("{}00", &region[..4]),
            format!("{}0000", &region[..2]),
        ] {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}
