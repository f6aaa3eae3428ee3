//! Random inspections (双随机一公开): a reproducible draw from a published seed, stored so
//! that anyone can verify it.

use super::{AppError, Supervision, audit, covers};
use crate::domain::{DrawRequest, InspectionDraw, draw_inspection};
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::Caller;

/// What a draw is asked for.
#[derive(Debug, Clone)]
pub struct DrawInput {
    /// Region.
    pub region: RegionCode,
    /// Published seed.
    pub seed: u64,
    /// Institutions that may be drawn.
    pub institutions: Vec<InstitutionCode>,
    /// Inspectors that may be drawn.
    pub inspectors: Vec<String>,
    /// How many institutions.
    pub institutions_to_draw: usize,
    /// How many inspectors.
    pub inspectors_to_draw: usize,
    /// Inspector × institution pairs that may not be drawn together.
    pub conflicts: Vec<(String, InstitutionCode)>,
}

impl Supervision {
    /// Draws and stores an inspection.
    pub async fn draw_inspection(
        &self,
        caller: &Caller,
        input: DrawInput,
    ) -> Result<InspectionDraw, AppError> {
        let made = audit(caller);
        let request = DrawRequest {
            draw_id: uuid::Uuid::now_v7().to_string(),
            region: input.region,
            seed: input.seed,
            drawn_at: made.at,
            institutions: input.institutions,
            inspectors: input.inspectors,
            institutions_to_draw: input.institutions_to_draw,
            inspectors_to_draw: input.inspectors_to_draw,
            conflicts: input.conflicts,
        };
        let draw = draw_inspection(&request)?;
        self.store.insert_draw(&draw, &made).await?;
        Ok(draw)
    }

    /// A stored draw of the caller's region.
    pub async fn inspection_draw(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<InspectionDraw, AppError> {
        let draw = self
            .store
            .draw(id)
            .await?
            .ok_or_else(|| AppError::DrawNotFound(id.to_string()))?;
        covers(caller, "region_code", &draw.region)?;
        Ok(draw)
    }
}
