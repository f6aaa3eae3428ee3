//! Statistics of a region's beneficiaries in a month, compared with the month before and the
//! same month a year before.

use super::{AppError, Ltc, policies};
use crate::domain::Month;
use crate::domain::care::{LevelPeriod, level_on};
use crate::domain::policy::BenefitPolicy;
use crate::store::statistics;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use yibao_core::RegionCode;

/// Statistics of a region and month.
#[derive(Debug, Clone, Default)]
pub struct Statistics {
    /// Beneficiaries with a qualifying level in force at the end of the month.
    pub beneficiaries: u64,
    /// By level number.
    pub by_level: BTreeMap<String, u64>,
    /// By care type.
    pub by_care_type: BTreeMap<String, u64>,
    /// By region.
    pub by_region: BTreeMap<String, u64>,
    /// Previous month.
    pub previous_month: u64,
    /// Same month a year before.
    pub same_month_last_year: u64,
    /// Institutions with a plan in the month.
    pub institutions: u64,
    /// Fund paid for the month, net.
    pub fund_paid: i64,
}

/// A beneficiary qualifying at the end of a month: (id, region, level number).
type Qualifying = (String, String, u8);

impl Ltc {
    /// Statistics of the beneficiaries of a region in a month.
    pub async fn statistics(
        &self,
        region: &RegionCode,
        month: Month,
    ) -> Result<Statistics, AppError> {
        let db = self.store.db();
        let people = statistics::levels_in_region(db, region).await?;
        let previous_year = Month {
            year: month.year - 1,
            month: month.month,
        };
        let mut policies = HashMap::new();
        let mut qualifying = Vec::new();
        for m in [month, month.previous(), previous_year] {
            qualifying.push(self.qualifying(&people, m, &mut policies).await?);
        }
        let mut s = Statistics {
            beneficiaries: qualifying[0].len() as u64,
            previous_month: qualifying[1].len() as u64,
            same_month_last_year: qualifying[2].len() as u64,
            ..Statistics::default()
        };
        let current: BTreeSet<&String> = qualifying[0].iter().map(|(id, ..)| id).collect();
        for (_, reg, level) in &qualifying[0] {
            *s.by_level.entry(level.to_string()).or_default() += 1;
            *s.by_region.entry(reg.clone()).or_default() += 1;
        }
        let mut by_type: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut institutions = BTreeSet::new();
        for (ben, inst, care_type) in statistics::plans_in_month(db, region, month).await? {
            if current.contains(&ben) {
                by_type.entry(care_type).or_default().insert(ben);
                institutions.insert(inst);
            }
        }
        s.by_care_type = by_type
            .into_iter()
            .map(|(k, v)| (k, v.len() as u64))
            .collect();
        s.institutions = institutions.len() as u64;
        s.fund_paid = statistics::fund_paid(db, region, month).await?;
        Ok(s)
    }

    /// Who has a qualifying level in force on the last day of `m` (without a policy for the
    /// year the level alone counts).
    async fn qualifying(
        &self,
        people: &BTreeMap<String, (String, Vec<LevelPeriod>)>,
        m: Month,
        policies: &mut HashMap<(String, i32), Option<BenefitPolicy>>,
    ) -> Result<Vec<Qualifying>, AppError> {
        let mut out = Vec::new();
        for (id, (reg, periods)) in people {
            let Some(p) = level_on(periods, m.last_day()) else {
                continue;
            };
            let key = (reg.clone(), m.year);
            if !policies.contains_key(&key) {
                let pol = policies::in_force(&self.store, reg, m.year).await?;
                policies.insert(key.clone(), pol);
            }
            if policies
                .get(&key)
                .and_then(Option::as_ref)
                .is_none_or(|pol| pol.qualifies(p.level, p.dementia))
            {
                out.push((id.clone(), reg.clone(), p.level.number()));
            }
        }
        Ok(out)
    }
}
