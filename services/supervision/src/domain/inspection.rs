//! Random inspections, 双随机一公开 ("two randoms, one publication", seed 003): `k` institutions
//! and `m` inspectors drawn at random, the result published. The draw is reproducible by anyone
//! from the published record: the pools are sorted and de-duplicated, then a partial
//! Fisher–Yates shuffle driven by SplitMix64 from the published seed picks the institutions,
//! and the same generator stream then picks the inspectors among those with no declared
//! conflict of interest with any drawn institution.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use yibao_core::{InstitutionCode, RegionCode};

/// Name and version of the algorithm, written into every draw record.
pub const DRAW_ALGORITHM: &str = "splitmix64+partial-fisher-yates/v1";

/// SplitMix64 (Steele, Lea & Flood 2014; the seeding generator of `java.util.SplittableRandom`
/// and xoshiro): state += 0x9E3779B97F4A7C15, then two xor-shift-multiply rounds. Tiny, fast,
/// passes BigCrush, and easy to re-implement from this description to check a draw.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (`n > 0`), without modulo bias: values from the incomplete
    /// last block of size `2^64 mod n` are rejected and redrawn. Returns 0 for `n = 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // r = 2^64 mod n; accepting x ≤ 2^64 − 1 − r keeps a whole number of blocks of n.
        let r = (u64::MAX % n + 1) % n;
        let accept_up_to = u64::MAX - r;
        loop {
            let x = self.next_u64();
            if x <= accept_up_to {
                return x % n;
            }
        }
    }
}

/// Chooses `k` of `pool` (which is not reordered beyond the first `k`): partial Fisher–Yates.
fn choose<T: Clone>(rng: &mut SplitMix64, pool: &[T], k: usize) -> Vec<T> {
    let mut v = pool.to_vec();
    let n = v.len();
    for i in 0..k.min(n) {
        let offset =
            usize::try_from(rng.below(u64::try_from(n - i).unwrap_or(u64::MAX))).unwrap_or(0);
        v.swap(i, i + offset);
    }
    v.truncate(k.min(n));
    v
}

/// What to draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawRequest {
    /// Id of the draw.
    pub draw_id: String,
    /// Region of the inspecting bureau; every institution must lie within it.
    pub region: RegionCode,
    /// The seed, published with the result (e.g. from a public lottery or a notary).
    pub seed: u64,
    /// When the draw is made.
    pub drawn_at: DateTime<Utc>,
    /// Institutions that may be drawn (检查对象名录库).
    pub institutions: Vec<InstitutionCode>,
    /// Inspectors that may be drawn (执法检查人员名录库), by staff id.
    pub inspectors: Vec<String>,
    /// How many institutions.
    pub institutions_to_draw: usize,
    /// How many inspectors.
    pub inspectors_to_draw: usize,
    /// Declared conflicts of interest: (inspector, institution) pairs that must not meet.
    pub conflicts: Vec<(String, InstitutionCode)>,
}

/// The publishable record of a draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectionDraw {
    /// Id of the draw.
    pub draw_id: String,
    /// Region.
    pub region: RegionCode,
    /// Seed.
    pub seed: u64,
    /// Algorithm name and version.
    pub algorithm: String,
    /// When.
    pub drawn_at: DateTime<Utc>,
    /// The institution pool, sorted and de-duplicated.
    pub institution_pool: Vec<InstitutionCode>,
    /// The inspector pool, sorted and de-duplicated.
    pub inspector_pool: Vec<String>,
    /// Declared conflicts, sorted.
    pub conflicts: Vec<(String, InstitutionCode)>,
    /// Inspectors excluded for a conflict with a drawn institution, sorted.
    pub excluded_inspectors: Vec<String>,
    /// Institutions drawn, in draw order.
    pub institutions: Vec<InstitutionCode>,
    /// Inspectors drawn, in draw order.
    pub inspectors: Vec<String>,
    /// Requested counts (institutions, inspectors).
    pub requested: (usize, usize),
}

/// Why a draw could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectionError {
    /// Nothing to draw.
    #[error("INSPECTION_EMPTY_DRAW: at least one institution and one inspector must be drawn")]
    EmptyDraw,
    /// An institution lies outside the bureau's region.
    #[error("INSPECTION_OUTSIDE_REGION: {0} is outside the region")]
    OutsideRegion(InstitutionCode),
    /// Too few institutions.
    #[error("INSPECTION_TOO_FEW_INSTITUTIONS: {wanted} wanted, {available} available")]
    TooFewInstitutions {
        /// Wanted.
        wanted: usize,
        /// Available.
        available: usize,
    },
    /// Too few inspectors free of conflicts with the drawn institutions.
    #[error("INSPECTION_TOO_FEW_INSPECTORS: {wanted} wanted, {available} free of conflicts")]
    TooFewInspectors {
        /// Wanted.
        wanted: usize,
        /// Available.
        available: usize,
    },
}

/// Makes a draw.
pub fn draw_inspection(req: &DrawRequest) -> Result<InspectionDraw, InspectionError> {
    if req.institutions_to_draw == 0 || req.inspectors_to_draw == 0 {
        return Err(InspectionError::EmptyDraw);
    }
    if let Some(out) = req
        .institutions
        .iter()
        .find(|i| !req.region.covers(&i.region()))
    {
        return Err(InspectionError::OutsideRegion(out.clone()));
    }
    let mut institution_pool = req.institutions.clone();
    institution_pool.sort();
    institution_pool.dedup();
    let mut inspector_pool: Vec<String> = req
        .inspectors
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    inspector_pool.sort();
    inspector_pool.dedup();
    let mut conflicts = req.conflicts.clone();
    conflicts.sort();
    conflicts.dedup();
    if institution_pool.len() < req.institutions_to_draw {
        return Err(InspectionError::TooFewInstitutions {
            wanted: req.institutions_to_draw,
            available: institution_pool.len(),
        });
    }
    let mut rng = SplitMix64::new(req.seed);
    let institutions = choose(&mut rng, &institution_pool, req.institutions_to_draw);
    let excluded_inspectors: Vec<String> = inspector_pool
        .iter()
        .filter(|p| {
            conflicts
                .iter()
                .any(|(who, inst)| who == *p && institutions.contains(inst))
        })
        .cloned()
        .collect();
    let free: Vec<String> = inspector_pool
        .iter()
        .filter(|p| !excluded_inspectors.contains(p))
        .cloned()
        .collect();
    if free.len() < req.inspectors_to_draw {
        return Err(InspectionError::TooFewInspectors {
            wanted: req.inspectors_to_draw,
            available: free.len(),
        });
    }
    let inspectors = choose(&mut rng, &free, req.inspectors_to_draw);
    Ok(InspectionDraw {
        draw_id: req.draw_id.clone(),
        region: req.region.clone(),
        seed: req.seed,
        algorithm: DRAW_ALGORITHM.to_string(),
        drawn_at: req.drawn_at,
        institution_pool,
        inspector_pool,
        conflicts,
        excluded_inspectors,
        institutions,
        inspectors,
        requested: (req.institutions_to_draw, req.inspectors_to_draw),
    })
}

impl InspectionDraw {
    /// Re-runs the draw from the published record and tells whether it gives the same result:
    /// anyone can check the publication.
    pub fn verify(&self) -> bool {
        let req = DrawRequest {
            draw_id: self.draw_id.clone(),
            region: self.region.clone(),
            seed: self.seed,
            drawn_at: self.drawn_at,
            institutions: self.institution_pool.clone(),
            inspectors: self.inspector_pool.clone(),
            institutions_to_draw: self.requested.0,
            inspectors_to_draw: self.requested.1,
            conflicts: self.conflicts.clone(),
        };
        self.algorithm == DRAW_ALGORITHM && draw_inspection(&req).is_ok_and(|d| d == *self)
    }
}
