//! The rules of a round as data: the qualifying ratio and alternatives, the winners table and
//! the agreed-volume share table.

use serde::{Deserialize, Serialize};
use yibao_core::{Bp, Fen};

use super::SelectionError;

/// One row of the winners table: from `min_qualified` qualified bidders on, at most
/// `max_winners` win (until the next row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinnersBand {
    /// Smallest number of qualified bidders this row applies to (≥ 1).
    pub min_qualified: u32,
    /// Maximum number of winners.
    pub max_winners: u32,
}

/// One row of the agreed-volume table: from `min_winners` winners on, the agreed volume is
/// `share` of the reported demand (until the next row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareBand {
    /// Smallest number of winners this row applies to (≥ 1).
    pub min_winners: u32,
    /// Share of the reported first-year demand (≤ 100%).
    pub share: Bp,
}

/// The rules of a round, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundRules {
    /// Maximum ratio to the lowest unit comparable price that still qualifies (18000 = 1.8×).
    pub max_ratio_to_lowest: Bp,
    /// Alternative qualifier: a cut of at least this much against the group's highest valid
    /// declared price (与最高有效申报价相比降幅, e.g. 5000 = 50%). `None`: not offered.
    pub min_cut_alternative: Option<Bp>,
    /// Alternative qualifier: a unit comparable price at or below this (e.g. 10 fen = 0.10
    /// yuan, low-price drugs). `None`: not offered.
    pub low_price_alternative: Option<Fen>,
    /// Winners table, rows in ascending `min_qualified`, the first row starting at 1.
    pub winners_by_qualified: Vec<WinnersBand>,
    /// Agreed-volume share table, rows in ascending `min_winners`, the first starting at 1.
    pub agreed_share_by_winners: Vec<ShareBand>,
}

impl RoundRules {
    /// The national defaults of DOMAIN §5.1–5.2: 1.8× (10th batch "规则一" [S]), ≥ 50% cut or
    /// ≤ 0.10 yuan alternatives [K], shares 1→50%, 2→60%, 3→70%, ≥4→80% [K]. The winners table
    /// is illustrative [I] (batches publish their own): 1→1, 2–3→2, 4→3, 5–6→4, 7–8→5, 9–10→6,
    /// ≥11→8.
    pub fn national_default() -> RoundRules {
        let w = |min_qualified, max_winners| WinnersBand {
            min_qualified,
            max_winners,
        };
        let s = |min_winners, share| ShareBand {
            min_winners,
            share: Bp(share),
        };
        RoundRules {
            max_ratio_to_lowest: Bp(18_000),
            min_cut_alternative: Some(Bp(5_000)),
            low_price_alternative: Some(Fen(10)),
            winners_by_qualified: vec![
                w(1, 1),
                w(2, 2),
                w(4, 3),
                w(5, 4),
                w(7, 5),
                w(9, 6),
                w(11, 8),
            ],
            agreed_share_by_winners: vec![s(1, 5_000), s(2, 6_000), s(3, 7_000), s(4, 8_000)],
        }
    }

    /// Checks the tables: non-empty, first row at 1, strictly ascending, winners ≥ 1, shares ≤
    /// 100%, ratio ≥ 100%, cut ≤ 100%.
    pub fn validate(&self) -> Result<(), SelectionError> {
        let bad = |reason: &str| {
            Err(SelectionError::InvalidRules {
                reason: reason.to_string(),
            })
        };
        if self.max_ratio_to_lowest < Bp::FULL {
            return bad("max_ratio_to_lowest must be at least 10000 bp (1×)");
        }
        if self.min_cut_alternative.is_some_and(|c| c > Bp::FULL) {
            return bad("min_cut_alternative must be at most 10000 bp");
        }
        let w = &self.winners_by_qualified;
        if w.first().map(|b| b.min_qualified) != Some(1) {
            return bad("winners_by_qualified must start at 1 qualified bidder");
        }
        if w.windows(2)
            .any(|p| p[0].min_qualified >= p[1].min_qualified)
        {
            return bad("winners_by_qualified must be strictly ascending");
        }
        if w.iter().any(|b| b.max_winners == 0) {
            return bad("max_winners must be at least 1");
        }
        let s = &self.agreed_share_by_winners;
        if s.first().map(|b| b.min_winners) != Some(1) {
            return bad("agreed_share_by_winners must start at 1 winner");
        }
        if s.windows(2).any(|p| p[0].min_winners >= p[1].min_winners) {
            return bad("agreed_share_by_winners must be strictly ascending");
        }
        if s.iter().any(|b| b.share > Bp::FULL) {
            return bad("an agreed share must be at most 10000 bp");
        }
        Ok(())
    }

    /// Maximum number of winners for `qualified` qualified bidders (0 for none).
    pub fn max_winners(&self, qualified: u32) -> u32 {
        if qualified == 0 {
            return 0;
        }
        self.winners_by_qualified
            .iter()
            .rev()
            .find(|b| b.min_qualified <= qualified)
            .map_or(0, |b| b.max_winners.min(qualified))
    }

    /// Agreed-volume share for `winners` winners (0 for none).
    pub fn agreed_share(&self, winners: u32) -> Bp {
        if winners == 0 {
            return Bp::ZERO;
        }
        self.agreed_share_by_winners
            .iter()
            .rev()
            .find(|b| b.min_winners <= winners)
            .map_or(Bp::ZERO, |b| b.share)
    }
}
