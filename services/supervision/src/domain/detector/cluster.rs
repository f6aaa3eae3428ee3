//! Identity cluster (冒用身份): many persons of another region billed at one institution
//! within a window; the fund payments of every claim of the cluster in the window.

use chrono::Duration;
use std::collections::HashMap;
use yibao_core::{Fen, InstitutionCode, RegionCode};

use super::windows::{ClusterEntry, ClusterState};
use super::{Evidence, Out, claim_draft};
use crate::domain::add;
use crate::domain::event::{ClaimEvent, PersonKey};
use crate::domain::rules::RuleCode;

pub(super) fn observe_cluster(
    out: &mut Out<'_>,
    clusters: &mut HashMap<(InstitutionCode, RegionCode), ClusterState>,
    e: &ClaimEvent,
) {
    let inst_region = e.institution.region();
    if inst_region.covers(&e.home_region) {
        return;
    }
    let Some((severity, min_persons, window_hours)) = out.c.cluster else {
        return;
    };
    let key = (e.institution.clone(), e.home_region.clone());
    let state = clusters.entry(key).or_default();
    let horizon = e.settled_at - Duration::hours(window_hours);
    while state.entries.front().is_some_and(|x| x.at < horizon) {
        if let Some(old) = state.entries.pop_front()
            && let Some(n) = state.counts.get_mut(&old.person)
        {
            *n -= 1;
            if *n == 0 {
                state.counts.remove(&old.person);
            }
        }
    }
    if state.counts.len() < min_persons {
        state.open = false;
    }
    state.entries.push_back(ClusterEntry {
        at: e.settled_at,
        person: e.person.clone(),
        claim_id: e.claim_id.clone(),
        fund_paid: e.fund_paid,
    });
    *state.counts.entry(e.person.clone()).or_insert(0) += 1;
    if !state.open && state.counts.len() >= min_persons {
        state.open = true;
        let amount = state
            .entries
            .iter()
            .fold(Fen::ZERO, |acc, x| add(acc, x.fund_paid));
        let mut persons: Vec<PersonKey> = state.counts.keys().cloned().collect();
        persons.sort();
        let first = state.entries.front().map_or(e.settled_at, |x| x.at);
        let mut d = claim_draft(e, RuleCode::IdentityCluster, severity);
        d.person = None;
        d.physician = e.physician.clone();
        d.explanation = format!(
            "{} persons enrolled in {} were billed at {} (region {inst_region}) within {window_hours} hours ({} → {}): suspected use of other people's identities (冒用身份); {amount} yuan at risk",
            persons.len(),
            e.home_region,
            e.institution,
            first,
            e.settled_at
        );
        d.evidence = Evidence {
            claim_ids: state.entries.iter().map(|x| x.claim_id.clone()).collect(),
            dates: vec![first.date(), e.settled_at.date()],
            persons,
            ..Evidence::default()
        };
        d.amount = amount;
        out.push(d);
    }
}
