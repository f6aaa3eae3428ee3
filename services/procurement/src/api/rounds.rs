//! Round RPCs: creation, groups, demand, bids, selection, outcome and price cuts; the proto
//! ⇄ round, rules and outcome mapping.

use super::parse::{date, institution, item_code, positive, region, text};
use super::{Reply, audit_pb, check_org, check_region, count, required};
use crate::app::rounds::RoundOutcome;
use crate::app::{AppError, NewRound, Procurement, actor};
use crate::domain::{
    self, BidStatus, GroupOutcome, QualifiedBy, RoundRules, ShareBand, WinnersBand,
};
use crate::store::{RoundStatus, StoredGroup, StoredRound};
use std::collections::BTreeSet;
use tonic::{Request, Response};
use yibao_core::{Bp, Fen};
use yibao_proto::procurement::v1 as pb;
use yibao_runtime::server::caller;

pub(super) async fn create_round(
    app: &Procurement,
    req: Request<pb::CreateRoundRequest>,
) -> Reply<pb::CreateRoundResponse> {
    let c = caller(&req)?;
    let r = required("round", req.into_inner().round)?;
    let reg = region("round.region_code", &r.region_code)?;
    check_region(&c, "round.region_code", reg.as_str())?;
    let name = text("round.name", &r.name, 200)?;
    let rules = round_rules(required("round.rules", r.rules.as_ref())?)?;
    let start = date("round.contract_start_date", &r.contract_start_date)?;
    let end = date("round.contract_end_date", &r.contract_end_date)?;
    if end < start {
        return Err(AppError::invalid(
            "round.contract_end_date",
            format!("{end} is before the contract start {start}"),
        )
        .into());
    }
    let new = NewRound {
        region: reg.to_string(),
        name,
        rules,
        contract_start: start,
        contract_end: end,
    };
    let round = app.create_round(new, &actor(&c)).await?;
    Ok(Response::new(pb::CreateRoundResponse {
        round: Some(round_pb(&round)),
    }))
}

pub(super) async fn add_group(
    app: &Procurement,
    req: Request<pb::AddGroupRequest>,
) -> Reply<pb::AddGroupResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let g = required("group", r.group)?;
    let group = StoredGroup {
        group: domain::Group {
            id: text("group.group_id", &g.group_id, 64)?,
            generic_name: text("group.generic_name", &g.generic_name, 200)?,
            specification: text("group.specification", &g.specification, 200)?,
            highest_valid_price: positive(
                "group.highest_valid_price_fen",
                g.highest_valid_price_fen,
            )?,
        },
        category: g.category.trim().to_string(),
    };
    let stored = app.add_group(&c, &r.round_id, &group).await?.into_inner();
    Ok(Response::new(pb::AddGroupResponse {
        group: Some(group_pb(&stored)),
    }))
}

pub(super) async fn report_demand(
    app: &Procurement,
    req: Request<pb::ReportDemandRequest>,
) -> Reply<pb::ReportDemandResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let inst = institution("institution_code", &r.institution_code)?;
    check_org(&c, "institution_code", inst.as_str())?;
    if r.lines.is_empty() {
        return Err(AppError::invalid("lines", "at least one line is required").into());
    }
    let mut seen = BTreeSet::new();
    let mut lines = Vec::with_capacity(r.lines.len());
    for (i, l) in r.lines.iter().enumerate() {
        let group = text(&format!("lines[{i}].group_id"), &l.group_id, 64)?;
        if !seen.insert(group.clone()) {
            return Err(AppError::invalid(
                format!("lines[{i}].group_id"),
                format!("group `{group}` appears twice"),
            )
            .into());
        }
        if i64::try_from(l.quantity).is_err() {
            return Err(AppError::invalid(format!("lines[{i}].quantity"), "is too large").into());
        }
        lines.push((group, l.quantity));
    }
    app.report_demand(&c, &r.round_id, &inst, &lines).await?;
    Ok(Response::new(pb::ReportDemandResponse {
        accepted_count: count(lines.len()),
    }))
}

pub(super) async fn submit_bid(
    app: &Procurement,
    req: Request<pb::SubmitBidRequest>,
) -> Reply<pb::SubmitBidResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let manufacturer = text("manufacturer_code", &r.manufacturer_code, 64)?;
    check_org(&c, "manufacturer_code", &manufacturer)?;
    let bid = domain::Bid {
        item_code: item_code("item_code", &r.item_code)?,
        group_id: text("group_id", &r.group_id, 64)?,
        manufacturer,
        unit_price: positive("unit_price_fen", r.unit_price_fen)?,
        declared_price: positive("declared_price_fen", r.declared_price_fen)?,
    };
    let (id, replaced) = app.submit_bid(&r.round_id, &bid).await?;
    Ok(Response::new(pb::SubmitBidResponse {
        bid_id: id.into_inner(),
        replaced,
    }))
}

pub(super) async fn run_selection(
    app: &Procurement,
    req: Request<pb::RunSelectionRequest>,
) -> Reply<pb::RunSelectionResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let out = app.run_selection(&c, &r.round_id).await?;
    Ok(Response::new(pb::RunSelectionResponse {
        outcome: Some(outcome_pb(&out)),
    }))
}

pub(super) async fn get_round_outcome(
    app: &Procurement,
    req: Request<pb::GetRoundOutcomeRequest>,
) -> Reply<pb::GetRoundOutcomeResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let out = app.round_outcome(&c, &r.round_id, &r.group_id).await?;
    Ok(Response::new(pb::GetRoundOutcomeResponse {
        outcome: Some(outcome_pb(&out)),
    }))
}

pub(super) async fn get_price_cut_statistics(
    app: &Procurement,
    req: Request<pb::GetPriceCutStatisticsRequest>,
) -> Reply<pb::GetPriceCutStatisticsResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let cuts = app.price_cut_statistics(&c, &r.round_id).await?;
    Ok(Response::new(pb::GetPriceCutStatisticsResponse {
        categories: cuts
            .iter()
            .map(|k| pb::CategoryCut {
                category: k.category.clone(),
                item_count: k.items,
                average_cut_bp: k.average_cut_bp,
                weighted_cut_bp: k.weighted_cut_bp,
                before_total_fen: k.before_total.0,
                after_total_fen: k.after_total.0,
            })
            .collect(),
    }))
}

/// A round's outcome as proto.
fn outcome_pb(out: &RoundOutcome) -> pb::RoundOutcome {
    pb::RoundOutcome {
        round_id: out.round.id.clone(),
        groups: out
            .outcome
            .groups
            .iter()
            .map(|g| group_outcome_pb(g, out.groups.iter().find(|s| s.group.id == g.group_id)))
            .collect(),
        selected: out.round.selected.as_ref().map(audit_pb),
    }
}

/// Round rules from the proto, validated by the domain.
pub fn round_rules(r: &pb::RoundRules) -> Result<RoundRules, AppError> {
    let rules = RoundRules {
        max_ratio_to_lowest: Bp(r.max_ratio_to_lowest_bp),
        min_cut_alternative: r.min_cut_alternative_bp.map(Bp),
        low_price_alternative: r.low_price_alternative_fen.map(Fen),
        winners_by_qualified: r
            .winners_by_qualified
            .iter()
            .map(|b| WinnersBand {
                min_qualified: b.min_qualified,
                max_winners: b.max_winners,
            })
            .collect(),
        agreed_share_by_winners: r
            .agreed_share_by_winners
            .iter()
            .map(|b| ShareBand {
                min_winners: b.min_winners,
                share: Bp(b.share_bp),
            })
            .collect(),
    };
    if rules.low_price_alternative.is_some_and(|f| f.0 <= 0) {
        return Err(AppError::invalid(
            "round.rules.low_price_alternative_fen",
            "must be positive",
        ));
    }
    rules
        .validate()
        .map_err(|e| AppError::invalid_code(e.code(), "round.rules", e.to_string()))?;
    Ok(rules)
}

fn rules_pb(r: &RoundRules) -> pb::RoundRules {
    pb::RoundRules {
        max_ratio_to_lowest_bp: r.max_ratio_to_lowest.0,
        min_cut_alternative_bp: r.min_cut_alternative.map(|b| b.0),
        low_price_alternative_fen: r.low_price_alternative.map(|f| f.0),
        winners_by_qualified: r
            .winners_by_qualified
            .iter()
            .map(|b| pb::WinnersBand {
                min_qualified: b.min_qualified,
                max_winners: b.max_winners,
            })
            .collect(),
        agreed_share_by_winners: r
            .agreed_share_by_winners
            .iter()
            .map(|b| pb::ShareBand {
                min_winners: b.min_winners,
                share_bp: b.share.0,
            })
            .collect(),
    }
}

/// A stored round as proto.
pub fn round_pb(r: &StoredRound) -> pb::Round {
    pb::Round {
        round_id: r.id.clone(),
        region_code: r.region.clone(),
        name: r.name.clone(),
        rules: Some(rules_pb(&r.rules)),
        contract_start_date: r.contract_start.to_string(),
        contract_end_date: r.contract_end.to_string(),
        // A selected round is closed once its contract period has ended.
        status: match r.status {
            RoundStatus::Open => pb::RoundStatus::Open,
            RoundStatus::Selected if chrono::Utc::now().date_naive() > r.contract_end => {
                pb::RoundStatus::Closed
            }
            RoundStatus::Selected => pb::RoundStatus::Selected,
        } as i32,
        created: Some(audit_pb(&r.created)),
    }
}

/// A stored group as proto.
pub fn group_pb(g: &StoredGroup) -> pb::Group {
    pb::Group {
        group_id: g.group.id.clone(),
        generic_name: g.group.generic_name.clone(),
        specification: g.group.specification.clone(),
        highest_valid_price_fen: g.group.highest_valid_price.0,
        category: g.category.clone(),
    }
}

fn qualified_pb(q: QualifiedBy) -> pb::QualifiedBy {
    match q {
        QualifiedBy::PriceRatio => pb::QualifiedBy::PriceRatio,
        QualifiedBy::DeepCut => pb::QualifiedBy::DeepCut,
        QualifiedBy::LowPrice => pb::QualifiedBy::LowPrice,
    }
}

/// A group's outcome as proto (with the stored group for its highest price and category).
pub fn group_outcome_pb(o: &GroupOutcome, group: Option<&StoredGroup>) -> pb::GroupOutcome {
    let bids = o
        .bids
        .iter()
        .map(|b| {
            let (status, by, rank, slots) = match b.status {
                BidStatus::Invalid => (pb::BidStatus::Invalid, None, 0, 0),
                BidStatus::NotQualified => (pb::BidStatus::NotQualified, None, 0, 0),
                BidStatus::NotSelected { by, rank } => {
                    (pb::BidStatus::NotSelected, Some(by), rank, 0)
                }
                BidStatus::Won { by, slot, of } => (pb::BidStatus::Won, Some(by), slot, of),
            };
            pb::BidResult {
                manufacturer_code: b.manufacturer.clone(),
                item_code: b.item_code.to_string(),
                unit_price_fen: b.unit_price.0,
                declared_price_fen: b.declared_price.0,
                status: status as i32,
                qualified_by: by.map_or(pb::QualifiedBy::Unspecified, qualified_pb) as i32,
                rank,
                slots,
                explanation: b.explanation.clone(),
            }
        })
        .collect();
    pb::GroupOutcome {
        group: Some(group.map(group_pb).unwrap_or_else(|| pb::Group {
            group_id: o.group_id.clone(),
            generic_name: o.generic_name.clone(),
            specification: o.specification.clone(),
            ..Default::default()
        })),
        lowest_unit_price_fen: o.lowest_unit_price.map_or(0, |f| f.0),
        qualified_count: o.qualified,
        winners: o
            .winners
            .iter()
            .map(|w| pb::Winner {
                slot: w.slot,
                manufacturer_code: w.manufacturer.clone(),
                item_code: w.item_code.to_string(),
                unit_price_fen: w.unit_price.0,
                declared_price_fen: w.declared_price.0,
            })
            .collect(),
        bids,
        total_demand: o.total_demand,
        agreed_share_bp: o.agreed_share.0,
        agreed_volume: o.agreed_volume,
        allocations: o
            .allocations
            .iter()
            .map(|a| pb::Allocation {
                institution_code: a.institution.to_string(),
                demand_quantity: a.demand,
                agreed_volume: a.agreed_volume,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::field_of;

    #[test]
    fn round_rules_are_validated_by_the_domain() {
        let rules = pb::RoundRules {
            max_ratio_to_lowest_bp: 18_000,
            min_cut_alternative_bp: Some(5_000),
            low_price_alternative_fen: Some(10),
            winners_by_qualified: vec![pb::WinnersBand {
                min_qualified: 1,
                max_winners: 1,
            }],
            agreed_share_by_winners: vec![pb::ShareBand {
                min_winners: 1,
                share_bp: 5_000,
            }],
        };
        let parsed = round_rules(&rules).unwrap();
        assert_eq!(parsed.max_ratio_to_lowest, Bp(18_000));
        let gap = pb::RoundRules {
            winners_by_qualified: vec![pb::WinnersBand {
                min_qualified: 2,
                max_winners: 1,
            }],
            ..rules.clone()
        };
        assert_eq!(
            field_of(round_rules(&gap).unwrap_err()),
            ("PROCUREMENT_INVALID_ROUND_RULES", "round.rules".into())
        );
        let free = pb::RoundRules {
            low_price_alternative_fen: Some(0),
            ..rules
        };
        assert_eq!(
            field_of(round_rules(&free).unwrap_err()).1,
            "round.rules.low_price_alternative_fen"
        );
    }
}
