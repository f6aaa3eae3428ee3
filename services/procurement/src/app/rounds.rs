//! Procurement rounds: creation, groups, demand, bids, the selection (run once; a repeat
//! returns the stored outcome), the outcome as each caller may see it, and price cuts.

use super::{AppError, Procurement, actor, selected};
use crate::domain::{self, Bid, CategoryCut, GroupOutcome, Outcome, PriceCutInput, RoundRules};
use crate::store::{
    Actor, Audit, RoundStatus, StoredBid, StoredGroup, StoredRound, Written, kind_str, new_id, now,
};
use chrono::NaiveDate;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_runtime::{Caller, Role};

/// A round to create (checked at the edge: the period is not backwards).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRound {
    /// Organising region.
    pub region: String,
    /// Name.
    pub name: String,
    /// Rules, validated.
    pub rules: RoundRules,
    /// First day of the contract period.
    pub contract_start: NaiveDate,
    /// Last day of the contract period.
    pub contract_end: NaiveDate,
}

/// Whose view of an outcome: a manufacturer sees the groups it bid in with its own bids and
/// the winners; a hospital the groups it was allocated with its own allocation and the
/// winners; everyone else all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// A manufacturer.
    Manufacturer(String),
    /// A hospital.
    Hospital(String),
    /// Operators, auditors and administrators.
    Everything,
}

impl Viewer {
    /// The view of a caller.
    pub fn of(c: &Caller) -> Viewer {
        match c.role {
            Role::Manufacturer => Viewer::Manufacturer(c.org.clone()),
            Role::Hospital => Viewer::Hospital(c.org.clone()),
            _ => Viewer::Everything,
        }
    }

    fn filter(&self, outcome: &mut Outcome) {
        match self {
            Viewer::Manufacturer(org) => {
                outcome
                    .groups
                    .retain(|g| g.bids.iter().any(|b| &b.manufacturer == org));
                for g in &mut outcome.groups {
                    g.bids.retain(|b| &b.manufacturer == org);
                    g.allocations.clear();
                }
            }
            Viewer::Hospital(org) => {
                outcome
                    .groups
                    .retain(|g| g.allocations.iter().any(|a| a.institution.as_str() == org));
                for g in &mut outcome.groups {
                    g.allocations.retain(|a| a.institution.as_str() == org);
                    g.bids.clear();
                }
            }
            Viewer::Everything => {}
        }
    }
}

/// A round's outcome with its stored groups (for their highest prices and categories).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundOutcome {
    /// The round (selected).
    pub round: StoredRound,
    /// The outcome, as the viewer may see it.
    pub outcome: Outcome,
    /// The round's groups.
    pub groups: Vec<StoredGroup>,
}

impl Procurement {
    /// Creates an open round.
    pub async fn create_round(
        &self,
        new: NewRound,
        actor: &Actor,
    ) -> Result<StoredRound, AppError> {
        let round = StoredRound {
            id: new_id(),
            region: new.region,
            name: new.name,
            rules: new.rules,
            contract_start: new.contract_start,
            contract_end: new.contract_end,
            status: RoundStatus::Open,
            created: Audit::by(actor, &now()),
            selected: None,
        };
        self.store.create_round(&round).await?;
        Ok(round)
    }

    /// Adds a group to an open round; an identical repeat finds the stored group.
    pub async fn add_group(
        &self,
        caller: &Caller,
        round_id: &str,
        group: &StoredGroup,
    ) -> Result<Written<StoredGroup>, AppError> {
        let round = self.round_for(caller, round_id).await?;
        let t = self.store.begin().await?;
        self.store.lock(&t, &format!("round:{}", round.id)).await?;
        if let Some(existing) = self
            .store
            .groups_in(&*t, &round.id)
            .await?
            .into_iter()
            .find(|g| g.group.id == group.group.id)
        {
            if existing == *group {
                return Ok(Written::Existing(existing));
            }
            return Err(AppError::conflict(
                crate::error::DUPLICATE_GROUP.code,
                format!(
                    "group `{}` exists in round `{}` with other content",
                    group.group.id, round.id
                ),
            ));
        }
        self.open_round_in(&t, &round.id).await?;
        self.store.insert_group(&t, &round.id, group).await?;
        t.commit().await?;
        Ok(Written::New(group.clone()))
    }

    /// Stores (or replaces) an institution's demand per group of an open round whose region
    /// holds the institution; `lines` are (group, quantity) without repeats.
    pub async fn report_demand(
        &self,
        caller: &Caller,
        round_id: &str,
        institution: &InstitutionCode,
        lines: &[(String, u64)],
    ) -> Result<(), AppError> {
        let round = self.round_for(caller, round_id).await?;
        let round_region = RegionCode::parse(&round.region)
            .map_err(|e| AppError::invalid("round_id", e.to_string()))?;
        if !round_region.covers(&institution.region()) {
            return Err(AppError::invalid(
                "institution_code",
                format!("{institution} is not in the round's region {round_region}"),
            ));
        }
        let t = self.store.begin().await?;
        self.store.lock(&t, &format!("round:{}", round.id)).await?;
        self.open_round_in(&t, &round.id).await?;
        let groups = self.store.groups_in(&*t, &round.id).await?;
        let at = now();
        for (i, (group_id, quantity)) in lines.iter().enumerate() {
            if !groups.iter().any(|g| &g.group.id == group_id) {
                return Err(AppError::invalid_code(
                    crate::error::UNKNOWN_GROUP.code,
                    format!("lines[{i}].group_id"),
                    format!("group `{group_id}` is not in round `{}`", round.id),
                ));
            }
            self.store
                .upsert_demand(
                    &t,
                    &round.id,
                    group_id,
                    institution.as_str(),
                    *quantity,
                    &at,
                )
                .await?;
        }
        t.commit().await?;
        Ok(())
    }

    /// Submits a bid of a catalogued item in an open round: a new bid, a replacement of the
    /// manufacturer's earlier bid in the group (`replaced`), or an identical repeat (nothing
    /// written, the first bid's id).
    pub async fn submit_bid(
        &self,
        round_id: &str,
        bid: &Bid,
    ) -> Result<(Written<String>, bool), AppError> {
        let round = self.round(round_id).await?;
        self.require_catalogued(&round.region, &bid.item_code, "item_code")
            .await?;
        let t = self.store.begin().await?;
        self.store.lock(&t, &format!("round:{}", round.id)).await?;
        self.open_round_in(&t, &round.id).await?;
        if !self
            .store
            .groups_in(&*t, &round.id)
            .await?
            .iter()
            .any(|g| g.group.id == bid.group_id)
        {
            return Err(AppError::invalid_code(
                crate::error::UNKNOWN_GROUP.code,
                "group_id",
                format!("group `{}` is not in round `{}`", bid.group_id, round.id),
            ));
        }
        let existing = self
            .store
            .bid_of(&t, &round.id, &bid.group_id, &bid.manufacturer)
            .await?;
        let replaced = match existing {
            Some(old) if old.bid == *bid => return Ok((Written::Existing(old.id), false)),
            Some(old) => {
                self.store.delete_bid(&t, &old.id).await?;
                true
            }
            None => false,
        };
        let stored = StoredBid {
            id: new_id(),
            bid: bid.clone(),
        };
        self.store
            .insert_bid(&t, &round.id, &stored, &now())
            .await?;
        t.commit().await?;
        Ok((Written::New(stored.id), replaced))
    }

    /// Runs the selection of an open round once and returns the stored outcome (also when
    /// the selection had run already).
    pub async fn run_selection(
        &self,
        caller: &Caller,
        round_id: &str,
    ) -> Result<RoundOutcome, AppError> {
        let mut round = self.round_for(caller, round_id).await?;
        if round.status == RoundStatus::Open {
            let groups = self.store.groups(&round.id).await?;
            let input = domain::Round {
                id: round.id.clone(),
                rules: round.rules.clone(),
                groups: groups.iter().map(|g| g.group.clone()).collect(),
                bids: self
                    .store
                    .bids(&round.id)
                    .await?
                    .into_iter()
                    .map(|b| b.bid)
                    .collect(),
                demands: self.store.demands(&round.id).await?,
            };
            let outcome = domain::select(&input)
                .map_err(|e| AppError::precondition(e.code(), e.to_string()))?;
            // A concurrent run that finished first wins; both read the same outcome below.
            self.save_selection(&round.id, &outcome.groups, &actor(caller))
                .await?;
            round = self.round(&round.id).await?;
        }
        self.outcome_of(round).await
    }

    /// Records a selection: the outcome of every group, the allocations, and the round as
    /// selected. Returns false (writing nothing) when the round was selected meanwhile.
    pub async fn save_selection(
        &self,
        round_id: &str,
        groups: &[GroupOutcome],
        actor: &Actor,
    ) -> Result<bool, AppError> {
        let t = self.store.begin().await?;
        self.store.lock(&t, &format!("round:{round_id}")).await?;
        let round = self
            .store
            .round_in(&*t, round_id)
            .await?
            .ok_or_else(|| super::round_not_found(round_id))?;
        if round.status != RoundStatus::Open {
            return Ok(false);
        }
        for g in groups {
            self.store.insert_outcome(&t, round_id, g).await?;
        }
        self.store
            .mark_selected(&t, round_id, actor, &now())
            .await?;
        t.commit().await?;
        Ok(true)
    }

    /// The outcome of a selected round as `viewer` may see it, optionally of one group.
    pub async fn round_outcome(
        &self,
        caller: &Caller,
        round_id: &str,
        group_id: &str,
    ) -> Result<RoundOutcome, AppError> {
        let round = self.round_for(caller, round_id).await?;
        selected(&round)?;
        let mut out = self.outcome_of(round).await?;
        if !group_id.is_empty() {
            out.outcome.groups.retain(|g| g.group_id == group_id);
            if out.outcome.groups.is_empty() {
                return Err(AppError::not_found(
                    crate::error::GROUP_NOT_FOUND.code,
                    format!("group `{group_id}` of round `{}`", out.round.id),
                ));
            }
        }
        Viewer::of(caller).filter(&mut out.outcome);
        Ok(out)
    }

    /// Price cuts of a selected round per category: before, the group's highest valid
    /// declared price; after, the winning unit price; each winner weighted by its group's
    /// agreed volume.
    pub async fn price_cut_statistics(
        &self,
        caller: &Caller,
        round_id: &str,
    ) -> Result<Vec<CategoryCut>, AppError> {
        let round = self.round_for(caller, round_id).await?;
        selected(&round)?;
        let RoundOutcome {
            round,
            outcome,
            groups,
        } = self.outcome_of(round).await?;
        let mut inputs = Vec::new();
        for g in &outcome.groups {
            let stored = groups
                .iter()
                .find(|s| s.group.id == g.group_id)
                .ok_or_else(|| {
                    AppError::Corrupt(format!("outcome of unknown group {}", g.group_id))
                })?;
            for w in &g.winners {
                let category = if stored.category.is_empty() {
                    domain::ItemCode::parse_any(w.item_code.as_str())
                        .map(|(k, _)| kind_str(k).to_string())
                        .unwrap_or_default()
                } else {
                    stored.category.clone()
                };
                inputs.push(PriceCutInput {
                    round_id: round.id.clone(),
                    category,
                    item_code: w.item_code.clone(),
                    before: stored.group.highest_valid_price,
                    after: w.unit_price,
                    quantity: g.agreed_volume,
                });
            }
        }
        domain::price_cut_statistics(&inputs).map_err(|e| AppError::Corrupt(e.to_string()))
    }

    /// The stored outcome and groups of a round.
    pub(super) async fn outcome_of(&self, round: StoredRound) -> Result<RoundOutcome, AppError> {
        let groups = self.store.groups(&round.id).await?;
        let outcome = Outcome {
            round_id: round.id.clone(),
            groups: self.store.outcome(&round.id).await?,
        };
        Ok(RoundOutcome {
            round,
            outcome,
            groups,
        })
    }
}
