//! After the selection: agreed-volume completion against time progress, and retained savings
//! (结余留用). Completion counts purchases of the group's winning items; actual spending counts
//! every same-generic item of the round's catalogue, within the contract period.

use super::{AppError, Procurement, actor, selected};
use crate::domain::{
    self, CompletionInput, CompletionRules, InstitutionSavingsInput, Outcome, RetainedSavings,
    SavingsLine, SavingsPurchase, SavingsRules, VolumeCompletion,
};
use crate::store::{Purchase, StoredAllocation, StoredGroup, StoredRound};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};
use yibao_core::{Bp, Fen, InstitutionCode};
use yibao_runtime::Caller;

/// The parameters of one institution in a savings computation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionSavingsParams {
    /// The institution.
    pub institution: InstitutionCode,
    /// Share of spending the fund pays.
    pub fund_payment_rate: Bp,
    /// Assessment coefficient.
    pub assessment_coefficient: Bp,
}

/// A retained-savings computation as asked (field paths of errors are its indices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavingsRequest {
    /// Rules.
    pub rules: SavingsRules,
    /// Price before procurement per group, in request order.
    pub pre_procurement_prices: Vec<(String, Fen)>,
    /// Institutions, in request order (at least one).
    pub institutions: Vec<InstitutionSavingsParams>,
    /// Compute without storing.
    pub dry_run: bool,
}

/// Winning item codes of a group, and every item code of its generic.
type GroupItems = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

impl Procurement {
    /// Completion of agreed volumes of a selected round on `as_of`, of one institution or all.
    pub async fn volume_completion(
        &self,
        caller: &Caller,
        round_id: &str,
        institution: Option<&InstitutionCode>,
        as_of: NaiveDate,
        rules: &CompletionRules,
    ) -> Result<Vec<VolumeCompletion>, AppError> {
        let round = self.round_for(caller, round_id).await?;
        selected(&round)?;
        let out = self.outcome_of(round).await?;
        let round = out.round;
        let allocations = self
            .store
            .allocations(&round.id, institution.map(|i| i.as_str()))
            .await?;
        let items = self.group_items(&round, &out.outcome).await?;
        let winning: Vec<String> = items
            .values()
            .flat_map(|(w, _)| w.iter().cloned())
            .collect();
        let institutions: Vec<String> = allocations
            .iter()
            .map(|a| a.institution.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let until = as_of.min(round.contract_end);
        let purchases = if as_of < round.contract_start {
            Vec::new()
        } else {
            self.store
                .purchases(&institutions, &winning, round.contract_start, until)
                .await?
        };
        let mut inputs = Vec::with_capacity(allocations.len());
        for a in &allocations {
            let winners = items
                .get(&a.group_id)
                .map(|(w, _)| w.clone())
                .unwrap_or_default();
            let purchased = purchases
                .iter()
                .filter(|p| p.institution == a.institution && winners.contains(&p.item_code))
                .fold(0u64, |acc, p| acc.saturating_add(p.quantity));
            inputs.push(CompletionInput {
                institution: InstitutionCode::parse(&a.institution)
                    .map_err(|e| AppError::invalid("institution_code", e.to_string()))?,
                group_id: a.group_id.clone(),
                agreed_volume: a.agreed_volume,
                purchased_volume: purchased,
            });
        }
        Ok(domain::volume_completion(
            &inputs,
            round.contract_start,
            round.contract_end,
            as_of,
            rules,
        ))
    }

    /// Retained savings of institutions in a selected round (stored unless `dry_run`), in
    /// institution order, with their total.
    pub async fn retained_savings(
        &self,
        caller: &Caller,
        round_id: &str,
        req: &SavingsRequest,
    ) -> Result<(Vec<RetainedSavings>, Fen), AppError> {
        let round = self.round_for(caller, round_id).await?;
        selected(&round)?;
        let out = self.outcome_of(round).await?;
        let round = &out.round;
        let pre = pre_prices(req, &out.groups, &round.id)?;
        let allocations = self.store.allocations(&round.id, None).await?;
        let items = self.group_items(round, &out.outcome).await?;
        check_institutions(req, &allocations, &round.id)?;
        let all_items: Vec<String> = items
            .values()
            .flat_map(|(_, a)| a.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let institutions: Vec<String> = req
            .institutions
            .iter()
            .map(|p| p.institution.to_string())
            .collect();
        let purchases = self
            .store
            .purchases(
                &institutions,
                &all_items,
                round.contract_start,
                round.contract_end,
            )
            .await?;
        let mut results = Vec::with_capacity(req.institutions.len());
        for p in &req.institutions {
            let input = savings_input(p, &allocations, &pre, &items, &purchases)?;
            results
                .push(domain::retained_savings(&input, &req.rules).map_err(|e| {
                    AppError::invalid_code(e.code(), "institutions", e.to_string())
                })?);
        }
        results.sort_by(|a, b| a.institution.cmp(&b.institution));
        let total = domain::total_retained(&results).map_err(|_| {
            AppError::invalid_code(
                crate::error::MONEY_OVERFLOW.code,
                "institutions",
                "amounts are too large",
            )
        })?;
        if !req.dry_run {
            let t = self.store.begin().await?;
            let at = crate::store::now();
            let by = actor(caller);
            for r in &results {
                self.store
                    .upsert_savings(&t, &round.id, r, &by, &at)
                    .await?;
            }
            t.commit().await?;
        }
        Ok((results, total))
    }

    /// Winning item codes per group, and the same-generic item codes of each group.
    async fn group_items(
        &self,
        round: &StoredRound,
        outcome: &Outcome,
    ) -> Result<GroupItems, AppError> {
        let mut out = BTreeMap::new();
        for g in &outcome.groups {
            let winners: BTreeSet<String> =
                g.winners.iter().map(|w| w.item_code.to_string()).collect();
            let mut all: BTreeSet<String> = self
                .store
                .codes_of_generic(&round.region, &g.generic_name)
                .await?
                .into_iter()
                .collect();
            all.extend(winners.iter().cloned());
            all.extend(g.bids.iter().map(|b| b.item_code.to_string()));
            out.insert(g.group_id.clone(), (winners, all));
        }
        Ok(out)
    }
}

/// Pre-procurement prices by group; each group must be in the round, once.
fn pre_prices(
    req: &SavingsRequest,
    groups: &[StoredGroup],
    round_id: &str,
) -> Result<BTreeMap<String, Fen>, AppError> {
    let mut pre: BTreeMap<String, Fen> = BTreeMap::new();
    for (i, (group_id, price)) in req.pre_procurement_prices.iter().enumerate() {
        if !groups.iter().any(|g| &g.group.id == group_id) {
            return Err(AppError::invalid(
                format!("pre_procurement_prices[{i}].group_id"),
                format!("group `{group_id}` is not in round `{}`", round_id),
            ));
        }
        if pre.insert(group_id.clone(), *price).is_some() {
            return Err(AppError::invalid(
                format!("pre_procurement_prices[{i}].group_id"),
                format!("group `{group_id}` appears twice"),
            ));
        }
    }
    Ok(pre)
}

/// Each institution once, and with an agreed volume in the round.
fn check_institutions(
    req: &SavingsRequest,
    allocations: &[StoredAllocation],
    round_id: &str,
) -> Result<(), AppError> {
    let mut seen = BTreeSet::new();
    for (i, p) in req.institutions.iter().enumerate() {
        let field = format!("institutions[{i}].institution_code");
        let inst = &p.institution;
        if !seen.insert(inst.clone()) {
            return Err(AppError::invalid(field, format!("{inst} appears twice")));
        }
        if !allocations.iter().any(|a| a.institution == inst.as_str()) {
            return Err(AppError::invalid(
                field,
                format!("{inst} has no agreed volume in round `{}`", round_id),
            ));
        }
    }
    Ok(())
}

/// The savings input of one institution: per allocated group, its agreed volume,
/// pre-procurement price and purchases of the group's generic.
fn savings_input(
    p: &InstitutionSavingsParams,
    allocations: &[StoredAllocation],
    pre: &BTreeMap<String, Fen>,
    items: &GroupItems,
    purchases: &[Purchase],
) -> Result<InstitutionSavingsInput, AppError> {
    let mut lines = Vec::new();
    for a in allocations
        .iter()
        .filter(|a| a.institution == p.institution.as_str())
    {
        let price = *pre.get(&a.group_id).ok_or_else(|| {
            AppError::invalid(
                "pre_procurement_prices",
                format!("group `{}` needs a pre-procurement price", a.group_id),
            )
        })?;
        let (winners, all) = items.get(&a.group_id).cloned().unwrap_or_default();
        let bought = purchases
            .iter()
            .filter(|x| x.institution == p.institution.as_str() && all.contains(&x.item_code))
            .map(|x| SavingsPurchase {
                quantity: x.quantity,
                unit_price: x.unit_price,
                winning: winners.contains(&x.item_code),
            })
            .collect();
        lines.push(SavingsLine {
            group_id: a.group_id.clone(),
            agreed_volume: a.agreed_volume,
            pre_procurement_price: price,
            purchases: bought,
        });
    }
    Ok(InstitutionSavingsInput {
        institution: p.institution.clone(),
        fund_payment_rate: p.fund_payment_rate,
        assessment_coefficient: p.assessment_coefficient,
        lines,
    })
}
