//! Procurement rounds and what hangs off them: groups (`round_groups`), demand (`demands`),
//! bids (`bids`), the selection's outcome per group (`group_outcomes`) and the agreed volumes
//! (`allocations`).

use super::{
    Actor, Audit, Store, StoreError, Txn, audit, code, date, from_json, get_n, get_os, get_s,
    institution, json, n, qty, s, uqty,
};
use crate::domain::{Bid, Demand, Group, GroupOutcome, RoundRules};
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, QueryResult};
use yibao_core::Fen;

/// State of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundStatus {
    /// Accepting groups, demand and bids.
    Open,
    /// Selection run.
    Selected,
}

impl RoundStatus {
    fn as_str(self) -> &'static str {
        match self {
            RoundStatus::Open => "open",
            RoundStatus::Selected => "selected",
        }
    }

    fn parse(s: &str) -> Result<RoundStatus, StoreError> {
        match s {
            "open" => Ok(RoundStatus::Open),
            "selected" => Ok(RoundStatus::Selected),
            _ => Err(StoreError::Corrupt(format!("round status `{s}`"))),
        }
    }
}

/// A stored round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRound {
    /// Id.
    pub id: String,
    /// Organising region.
    pub region: String,
    /// Name.
    pub name: String,
    /// Rules.
    pub rules: RoundRules,
    /// First day of the contract period.
    pub contract_start: NaiveDate,
    /// Last day of the contract period.
    pub contract_end: NaiveDate,
    /// State.
    pub status: RoundStatus,
    /// Creation.
    pub created: Audit,
    /// Selection, once run.
    pub selected: Option<Audit>,
}

/// A stored group with its price-cut category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGroup {
    /// The group.
    pub group: Group,
    /// Category for price-cut statistics.
    pub category: String,
}

/// A stored bid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBid {
    /// Id.
    pub id: String,
    /// The bid.
    pub bid: Bid,
}

/// An agreed volume of an institution in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAllocation {
    /// Group.
    pub group_id: String,
    /// Institution.
    pub institution: String,
    /// Reported demand.
    pub demand: u64,
    /// Agreed volume.
    pub agreed_volume: u64,
}

fn round_row(r: &QueryResult) -> Result<StoredRound, StoreError> {
    let rules: RoundRules = from_json(&get_s(r, "rules_json")?, "round rules")?;
    let selected = match get_os(r, "selected_at")? {
        Some(at) => Some(Audit {
            actor: get_os(r, "selected_by")?.unwrap_or_default(),
            role: get_os(r, "selected_role")?.unwrap_or_default(),
            at,
        }),
        None => None,
    };
    Ok(StoredRound {
        id: get_s(r, "id")?,
        region: get_s(r, "region_code")?,
        name: get_s(r, "name")?,
        rules,
        contract_start: date(&get_s(r, "contract_start")?)?,
        contract_end: date(&get_s(r, "contract_end")?)?,
        status: RoundStatus::parse(&get_s(r, "status")?)?,
        created: audit(r, "created_by", "created_role", "created_at")?,
        selected,
    })
}

fn group_row(r: &QueryResult) -> Result<StoredGroup, StoreError> {
    Ok(StoredGroup {
        group: Group {
            id: get_s(r, "group_id")?,
            generic_name: get_s(r, "generic_name")?,
            specification: get_s(r, "specification")?,
            highest_valid_price: Fen(get_n(r, "highest_valid_price_fen")?),
        },
        category: get_s(r, "category")?,
    })
}

fn bid_row(r: &QueryResult) -> Result<StoredBid, StoreError> {
    Ok(StoredBid {
        id: get_s(r, "id")?,
        bid: Bid {
            group_id: get_s(r, "group_id")?,
            manufacturer: get_s(r, "manufacturer_code")?,
            item_code: code(&get_s(r, "item_code")?)?,
            unit_price: Fen(get_n(r, "unit_price_fen")?),
            declared_price: Fen(get_n(r, "declared_price_fen")?),
        },
    })
}

impl Store {
    /// Stores a new round.
    pub async fn create_round(&self, round: &StoredRound) -> Result<(), StoreError> {
        let rules = json(&round.rules)?;
        let t = self.begin().await?;
        self.exec(
            &*t,
            "INSERT INTO rounds (id, region_code, name, rules_json, contract_start, contract_end, status, created_by, created_role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                s(round.id.clone()),
                s(round.region.clone()),
                s(round.name.clone()),
                s(rules),
                s(round.contract_start.to_string()),
                s(round.contract_end.to_string()),
                s(round.status.as_str()),
                s(round.created.actor.clone()),
                s(round.created.role.clone()),
                s(round.created.at.clone()),
            ],
        )
        .await?;
        Ok(t.commit().await?)
    }

    /// A round, read over `c`.
    pub async fn round_in(
        &self,
        c: &impl ConnectionTrait,
        id: &str,
    ) -> Result<Option<StoredRound>, StoreError> {
        self.one(c, "SELECT * FROM rounds WHERE id = $1", vec![s(id)])
            .await?
            .as_ref()
            .map(round_row)
            .transpose()
    }

    /// Marks a round selected by `actor` at `at`.
    pub async fn mark_selected(
        &self,
        t: &Txn,
        round_id: &str,
        actor: &Actor,
        at: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            &**t,
            "UPDATE rounds SET status = $1, selected_by = $2, selected_role = $3, selected_at = $4 WHERE id = $5",
            vec![s(RoundStatus::Selected.as_str()), s(actor.subject.clone()), s(actor.role.clone()), s(at), s(round_id)],
        )
        .await?;
        Ok(())
    }

    /// Groups of a round in id order, read over `c`.
    pub async fn groups_in(
        &self,
        c: &impl ConnectionTrait,
        round_id: &str,
    ) -> Result<Vec<StoredGroup>, StoreError> {
        self.all(
            c,
            "SELECT * FROM round_groups WHERE round_id = $1 ORDER BY group_id",
            vec![s(round_id)],
        )
        .await?
        .iter()
        .map(group_row)
        .collect()
    }

    /// Groups of a round in id order.
    pub async fn groups(&self, round_id: &str) -> Result<Vec<StoredGroup>, StoreError> {
        self.groups_in(self.db(), round_id).await
    }

    /// Adds a group to a round.
    pub async fn insert_group(
        &self,
        t: &Txn,
        round_id: &str,
        group: &StoredGroup,
    ) -> Result<(), StoreError> {
        let g = &group.group;
        self.exec(
            &**t,
            "INSERT INTO round_groups (round_id, group_id, generic_name, specification, highest_valid_price_fen, category) VALUES ($1, $2, $3, $4, $5, $6)",
            vec![s(round_id), s(g.id.clone()), s(g.generic_name.clone()), s(g.specification.clone()), n(g.highest_valid_price.0), s(group.category.clone())],
        )
        .await?;
        Ok(())
    }

    /// Stores (or replaces) an institution's demand in a group.
    pub async fn upsert_demand(
        &self,
        t: &Txn,
        round_id: &str,
        group_id: &str,
        institution: &str,
        quantity: u64,
        at: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            &**t,
            "INSERT INTO demands (round_id, group_id, institution_code, quantity, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (round_id, group_id, institution_code) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at",
            vec![s(round_id), s(group_id), s(institution), n(qty(quantity)?), s(at)],
        )
        .await?;
        Ok(())
    }

    /// Demand of a round.
    pub async fn demands(&self, round_id: &str) -> Result<Vec<Demand>, StoreError> {
        self.all(
            self.db(),
            "SELECT * FROM demands WHERE round_id = $1 ORDER BY group_id, institution_code",
            vec![s(round_id)],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Demand {
                group_id: get_s(r, "group_id")?,
                institution: institution(&get_s(r, "institution_code")?)?,
                quantity: uqty(get_n(r, "quantity")?)?,
            })
        })
        .collect()
    }

    /// A manufacturer's bid in a group, read inside the transaction.
    pub async fn bid_of(
        &self,
        t: &Txn,
        round_id: &str,
        group_id: &str,
        manufacturer: &str,
    ) -> Result<Option<StoredBid>, StoreError> {
        self.one(
            &**t,
            "SELECT * FROM bids WHERE round_id = $1 AND group_id = $2 AND manufacturer_code = $3",
            vec![s(round_id), s(group_id), s(manufacturer)],
        )
        .await?
        .as_ref()
        .map(bid_row)
        .transpose()
    }

    /// Removes a bid (replaced by a new one).
    pub async fn delete_bid(&self, t: &Txn, id: &str) -> Result<(), StoreError> {
        self.exec(&**t, "DELETE FROM bids WHERE id = $1", vec![s(id)])
            .await?;
        Ok(())
    }

    /// Stores a bid submitted at `at`.
    pub async fn insert_bid(
        &self,
        t: &Txn,
        round_id: &str,
        bid: &StoredBid,
        at: &str,
    ) -> Result<(), StoreError> {
        let b = &bid.bid;
        self.exec(
            &**t,
            "INSERT INTO bids (id, round_id, group_id, manufacturer_code, item_code, unit_price_fen, declared_price_fen, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                s(bid.id.clone()),
                s(round_id),
                s(b.group_id.clone()),
                s(b.manufacturer.clone()),
                s(b.item_code.as_str()),
                n(b.unit_price.0),
                n(b.declared_price.0),
                s(at),
            ],
        )
        .await?;
        Ok(())
    }

    /// Bids of a round.
    pub async fn bids(&self, round_id: &str) -> Result<Vec<StoredBid>, StoreError> {
        self.all(
            self.db(),
            "SELECT * FROM bids WHERE round_id = $1 ORDER BY group_id, manufacturer_code",
            vec![s(round_id)],
        )
        .await?
        .iter()
        .map(bid_row)
        .collect()
    }

    /// Stores a group's outcome and its allocations.
    pub async fn insert_outcome(
        &self,
        t: &Txn,
        round_id: &str,
        outcome: &GroupOutcome,
    ) -> Result<(), StoreError> {
        self.exec(
            &**t,
            "INSERT INTO group_outcomes (round_id, group_id, outcome_json) VALUES ($1, $2, $3)",
            vec![s(round_id), s(outcome.group_id.clone()), s(json(outcome)?)],
        )
        .await?;
        for a in &outcome.allocations {
            self.exec(
                &**t,
                "INSERT INTO allocations (round_id, group_id, institution_code, demand_quantity, agreed_volume) VALUES ($1, $2, $3, $4, $5)",
                vec![s(round_id), s(outcome.group_id.clone()), s(a.institution.as_str()), n(qty(a.demand)?), n(qty(a.agreed_volume)?)],
            )
            .await?;
        }
        Ok(())
    }

    /// The stored outcome of a round's groups, in group order.
    pub async fn outcome(&self, round_id: &str) -> Result<Vec<GroupOutcome>, StoreError> {
        self.all(
            self.db(),
            "SELECT outcome_json FROM group_outcomes WHERE round_id = $1 ORDER BY group_id",
            vec![s(round_id)],
        )
        .await?
        .iter()
        .map(|r| from_json(&get_s(r, "outcome_json")?, "group outcome"))
        .collect()
    }

    /// Allocations of a round, optionally of one institution, in (institution, group) order.
    pub async fn allocations(
        &self,
        round_id: &str,
        institution: Option<&str>,
    ) -> Result<Vec<StoredAllocation>, StoreError> {
        let (sql, values) = match institution {
            Some(i) => (
                "SELECT * FROM allocations WHERE round_id = $1 AND institution_code = $2 ORDER BY institution_code, group_id",
                vec![s(round_id), s(i)],
            ),
            None => (
                "SELECT * FROM allocations WHERE round_id = $1 ORDER BY institution_code, group_id",
                vec![s(round_id)],
            ),
        };
        self.all(self.db(), sql, values)
            .await?
            .iter()
            .map(|r| {
                Ok(StoredAllocation {
                    group_id: get_s(r, "group_id")?,
                    institution: get_s(r, "institution_code")?,
                    demand: uqty(get_n(r, "demand_quantity")?)?,
                    agreed_volume: uqty(get_n(r, "agreed_volume")?)?,
                })
            })
            .collect()
    }
}
