//! What the detector remembers between events: per person its stays, visits, long-term care,
//! supplies and daily item counts within the retention horizon; per institution and home
//! region the claims of the identity-cluster window.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use std::collections::{BTreeSet, HashMap, VecDeque};
use yibao_core::{Fen, InstitutionCode};

use crate::domain::event::{ClaimEvent, PersonKey};

#[derive(Debug, Clone)]
pub(super) struct StayRec {
    pub(super) claim_id: String,
    pub(super) institution: InstitutionCode,
    pub(super) admission: NaiveDate,
    pub(super) discharge: NaiveDate,
    pub(super) category: Option<String>,
    pub(super) diagnosis: Option<String>,
    pub(super) planned: bool,
    pub(super) fund_paid: Fen,
    pub(super) contradicted: BTreeSet<NaiveDate>,
}

impl StayRec {
    /// Nights `[admission, discharge)`; a same-day stay counts its admission day as one night.
    pub(super) fn night_range(&self) -> (NaiveDate, NaiveDate) {
        let end = if self.discharge > self.admission {
            self.discharge
        } else {
            self.admission + Duration::days(1)
        };
        (self.admission, end)
    }

    pub(super) fn nights(&self) -> i64 {
        let (a, e) = self.night_range();
        (e - a).num_days()
    }
}

#[derive(Debug, Clone)]
pub(super) struct VisitRec {
    pub(super) claim_id: String,
    pub(super) institution: InstitutionCode,
    pub(super) date: NaiveDate,
}

#[derive(Debug, Clone)]
pub(super) struct CareRec {
    pub(super) claim_id: String,
    pub(super) institution: InstitutionCode,
    pub(super) start: NaiveDate,
    pub(super) end: NaiveDate,
    pub(super) fund_paid: Fen,
}

#[derive(Debug, Clone)]
pub(super) struct SupplyRec {
    pub(super) claim_id: String,
    pub(super) date: NaiveDate,
    pub(super) days: u32,
}

#[derive(Debug, Clone, Default)]
pub(super) struct DailyRec {
    pub(super) quantity: u64,
    pub(super) claim_ids: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct PersonState {
    pub(super) stays: Vec<StayRec>,
    pub(super) visits: Vec<VisitRec>,
    pub(super) care: Vec<CareRec>,
    pub(super) supplies: HashMap<String, VecDeque<SupplyRec>>,
    pub(super) daily: HashMap<(NaiveDate, InstitutionCode, String), DailyRec>,
    pub(super) chronic: Option<(String, String, NaiveDate)>,
    pub(super) death_date: Option<NaiveDate>,
    pub(super) latest: Option<NaiveDate>,
    pub(super) events_since_prune: u32,
}

impl PersonState {
    /// Remembers what a claim tells about the person (death date, latest day of care) and
    /// prunes the windows every 32 claims.
    pub(super) fn remember(&mut self, e: &ClaimEvent, retention_days: i64) {
        if let Some(d) = e.death_date {
            self.death_date = Some(self.death_date.map_or(d, |k| k.min(d)));
        }
        self.latest = Some(self.latest.map_or(e.end_date, |l| l.max(e.end_date)));
        self.events_since_prune += 1;
        if self.events_since_prune >= 32 {
            self.prune(retention_days);
            self.events_since_prune = 0;
        }
    }

    pub(super) fn prune(&mut self, retention_days: i64) {
        let Some(latest) = self.latest else { return };
        let horizon = latest - Duration::days(retention_days);
        self.stays.retain(|s| s.discharge >= horizon);
        self.visits.retain(|v| v.date >= horizon);
        self.care.retain(|c| c.end >= horizon);
        for q in self.supplies.values_mut() {
            while q.front().is_some_and(|r| r.date < horizon) {
                q.pop_front();
            }
        }
        self.supplies.retain(|_, q| !q.is_empty());
        self.daily.retain(|(d, _, _), _| *d >= horizon);
    }

    pub(super) fn forget_claim(&mut self, claim_id: &str) {
        self.stays.retain(|s| s.claim_id != claim_id);
        self.visits.retain(|v| v.claim_id != claim_id);
        for q in self.supplies.values_mut() {
            q.retain(|r| r.claim_id != claim_id);
        }
        for rec in self.daily.values_mut() {
            rec.claim_ids.retain(|c| c != claim_id);
        }
        self.daily.retain(|_, r| !r.claim_ids.is_empty());
    }
}

#[derive(Debug, Clone)]
pub(super) struct ClusterEntry {
    pub(super) at: NaiveDateTime,
    pub(super) person: PersonKey,
    pub(super) claim_id: String,
    pub(super) fund_paid: Fen,
}

#[derive(Debug, Clone, Default)]
pub(super) struct ClusterState {
    pub(super) entries: VecDeque<ClusterEntry>,
    pub(super) counts: HashMap<PersonKey, u32>,
    pub(super) open: bool,
}
