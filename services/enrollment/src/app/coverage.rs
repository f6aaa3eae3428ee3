//! Coverage of a population: targets per region, year, scheme and category, and the share
//! of them enrolled (with who is missing when a category is asked for).

use super::{AppError, Enrollment};
use crate::domain::{EnrolmentError, PersonCategory, Scheme, year_bounds};
use yibao_core::RegionCode;

/// Most missing people listed in one answer.
const MISSING_LISTED: usize = 1000;

/// Coverage within a region prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// People enrolled (and paid) in the year.
    pub enrolled: i64,
    /// The target (for a category without one: the people holding it).
    pub target: i64,
    /// enrolled / target in basis points (0 without a target).
    pub coverage_bp: u32,
    /// Holders of the category not enrolled (at most [`MISSING_LISTED`]).
    pub missing_person_ids: Vec<String>,
}

impl Enrollment {
    /// Sets a coverage target (`None`: all schemes / all categories); the caller's region
    /// was checked against the request.
    pub async fn set_coverage_target(
        &self,
        region: &RegionCode,
        year: i32,
        scheme: Option<Scheme>,
        category: Option<PersonCategory>,
        target: i64,
    ) -> Result<(), AppError> {
        Ok(self
            .store
            .set_target(region, year, scheme, category, target)
            .await?)
    }

    /// Coverage in `year` within the region prefix (already checked against the caller),
    /// optionally of one scheme and of the holders of one category.
    pub async fn coverage(
        &self,
        prefix: &str,
        year: i32,
        scheme: Option<Scheme>,
        category: Option<PersonCategory>,
    ) -> Result<Coverage, AppError> {
        let enrolled_people = self.store.enrolled_people(prefix, year, scheme).await?;
        let (enrolled, target, missing) = match category {
            None => (
                enrolled_people.len() as i64,
                self.store.target(prefix, year, scheme, None).await?,
                vec![],
            ),
            Some(cat) => {
                let bounds = year_bounds(year)
                    .ok_or_else(|| EnrolmentError::invalid("year", "out of range"))?;
                let holders = self.store.people_with_category(prefix, bounds, cat).await?;
                let missing: Vec<String> = holders
                    .iter()
                    .filter(|p| !enrolled_people.contains(*p))
                    .cloned()
                    .collect();
                let target = self.store.target(prefix, year, scheme, Some(cat)).await?;
                let target = if target == 0 {
                    holders.len() as i64
                } else {
                    target
                };
                (holders.len() as i64 - missing.len() as i64, target, missing)
            }
        };
        let coverage_bp = if target > 0 {
            u32::try_from(enrolled.saturating_mul(10_000) / target).unwrap_or(u32::MAX)
        } else {
            0
        };
        Ok(Coverage {
            enrolled,
            target,
            coverage_bp,
            missing_person_ids: missing.into_iter().take(MISSING_LISTED).collect(),
        })
    }
}
