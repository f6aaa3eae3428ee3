//! The reads behind a region's monthly statistics.

use super::sql::{all, int, int32, one, t, text};
use super::{StoreError, date, level_of, region_like};
use crate::domain::Month;
use crate::domain::care::LevelPeriod;
use sea_orm::ConnectionTrait;
use std::collections::BTreeMap;
use yibao_core::RegionCode;

/// A care plan in force in a month: (beneficiary, institution, care type).
pub type PlanInMonth = (String, String, String);

/// The beneficiaries of a region with their region and levels, by id.
pub async fn levels_in_region<C: ConnectionTrait>(
    c: &C,
    region: &RegionCode,
) -> Result<BTreeMap<String, (String, Vec<LevelPeriod>)>, StoreError> {
    let mut people: BTreeMap<String, (String, Vec<LevelPeriod>)> = BTreeMap::new();
    for r in all(
        c,
        "SELECT b.id, b.region_code, l.level, l.dementia, l.effective_from FROM ltc_beneficiaries b JOIN ltc_levels l ON l.beneficiary_id = b.id WHERE b.region_code LIKE ?",
        vec![t(region_like(region))],
    )
    .await?
    {
        people.entry(text(&r, "id")?).or_insert_with(|| (text(&r, "region_code").unwrap_or_default(), Vec::new())).1.push(LevelPeriod {
            level: level_of(int32(&r, "level")?)?,
            dementia: int32(&r, "dementia")? != 0,
            effective_from: date(&text(&r, "effective_from")?)?,
        });
    }
    Ok(people)
}

/// The care plans of the region's beneficiaries in force at some time in the month.
pub async fn plans_in_month<C: ConnectionTrait>(
    c: &C,
    region: &RegionCode,
    month: Month,
) -> Result<Vec<PlanInMonth>, StoreError> {
    all(
        c,
        "SELECT p.beneficiary_id, p.institution_code, p.care_type FROM ltc_care_plans p JOIN ltc_beneficiaries b ON b.id = p.beneficiary_id WHERE b.region_code LIKE ? AND p.start_date <= ? AND (p.end_date IS NULL OR p.end_date >= ?)",
        vec![t(region_like(region)), t(month.last_day().to_string()), t(month.first_day().to_string())],
    )
    .await?
    .iter()
    .map(|r| {
        Ok((
            text(r, "beneficiary_id")?,
            text(r, "institution_code")?,
            text(r, "care_type")?,
        ))
    })
    .collect()
}

/// Fund paid for the region's lines of the month, net of reversals.
pub async fn fund_paid<C: ConnectionTrait>(
    c: &C,
    region: &RegionCode,
    month: Month,
) -> Result<i64, StoreError> {
    let fund = one(c, "SELECT CAST(SUM(fund_fen) AS BIGINT) AS f FROM ltc_lines WHERE month = ? AND region_code LIKE ?", vec![t(month.to_string()), t(region_like(region))]).await?;
    Ok(fund.as_ref().map(|r| int(r, "f")).transpose()?.unwrap_or(0))
}
