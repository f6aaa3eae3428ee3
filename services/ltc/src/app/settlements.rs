//! The monthly settlement of an institution, its full reversal, and reading a run.
//!
//! A run, in one transaction: take the month lock → read the month's records (identical ones
//! grouped) and the lines in force → keep the beneficiaries whose records changed since their
//! line → lock them and read their levels and what the month already paid them → per
//! beneficiary, reverse the line in force and settle a new one under the policy of their
//! region and year and the monthly cap less what other lines paid (`domain::settlement`) →
//! write the lines, mark the lines given back, enqueue one event per line, set the totals.

use super::tenancy::check_institution;
use super::{AppError, Credentials, Ltc, actor, institution, policies};
use crate::domain::care::{LevelPeriod, level_on};
use crate::domain::policy::BenefitPolicy;
use crate::domain::registry::{InstitutionFile, admit_on_all, days_into};
use crate::domain::settlement::settle_line;
use crate::domain::{DomainError, Month};
use crate::error;
use crate::events::ltc::{LineEvent, line_event};
use crate::store::settlements::{
    self, LiveLine, LockedBeneficiary, MonthRecords, NewLine, NewRun, SettlementRow,
};
use crate::store::{Store, StoreError, Tx, new_id, now};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use yibao_core::{Fen, InstitutionCode};
use yibao_proto::events::v1::LtcAction;
use yibao_runtime::outbox::{self, OutboxEvent};
use yibao_runtime::{Actor, Caller};

/// Events written per outbox statement.
const ENQUEUE_SLICE: usize = 2000;

fn request_id_reused() -> AppError {
    DomainError::invalid(
        error::REQUEST_ID_REUSED.code,
        "request_id",
        "was used for another settlement run",
    )
    .into()
}

impl Ltc {
    /// Settles a month of an institution (see the module). Records are read, never written.
    /// The institution must be a designated LTC provider (enrollment's registry) on every date
    /// the run settles. Idempotent on `request_id`.
    pub async fn settle_month(
        &self,
        c: &Caller,
        credentials: &Credentials,
        institution: &InstitutionCode,
        month: Month,
        request_id: &str,
    ) -> Result<(SettlementRow, bool), AppError> {
        check_institution(c, "institution_code", institution)?;
        let out = settle(
            &self.store,
            self,
            credentials,
            institution,
            month,
            request_id,
            &actor(c),
        )
        .await?;
        self.kick_relay();
        Ok(out)
    }

    /// Reverses a settlement run in full: a reversal line for every line still in force, the
    /// records released for a new settlement. Idempotent on `request_id`.
    pub async fn reverse_settlement(
        &self,
        c: &Caller,
        settlement_id: &str,
        request_id: &str,
        reason: &str,
    ) -> Result<(SettlementRow, bool), AppError> {
        let target = self.settlement(c, settlement_id).await?;
        let out = reverse(&self.store, &target.id, request_id, reason, &actor(c)).await?;
        self.kick_relay();
        Ok(out)
    }

    /// Reads a run of an institution the caller may see.
    pub async fn settlement(&self, c: &Caller, id: &str) -> Result<SettlementRow, AppError> {
        let s = settlements::get(self.store.db(), id).await?;
        let inst = institution("institution_code", &s.institution_code)?;
        check_institution(c, "institution_code", &inst)?;
        Ok(s)
    }
}

/// What a run settles from, read inside its transaction.
struct MonthInputs {
    current: BTreeMap<String, MonthRecords>,
    live: HashMap<String, LiveLine>,
    locked: HashMap<String, LockedBeneficiary>,
    levels: HashMap<String, Vec<LevelPeriod>>,
    paid: HashMap<String, i64>,
}

async fn settle(
    store: &Store,
    ltc: &Ltc,
    credentials: &Credentials,
    code: &InstitutionCode,
    month: Month,
    request_id: &str,
    actor: &Actor,
) -> Result<(SettlementRow, bool), AppError> {
    let inst = code.as_str();
    let m = month.to_string();
    if let Some((id, _)) = settlements::by_request(store.db(), request_id).await? {
        let run = settlements::get(store.db(), &id).await?;
        if run.institution_code != inst || run.month != m || run.is_reversal {
            return Err(request_id_reused());
        }
        return Ok((run, true));
    }
    let registry = ltc.registry_file(credentials, code).await?;
    let tx = store.begin().await?;
    let at = now();
    let run = NewRun {
        id: new_id(),
        request_id,
        institution: inst,
        month: &m,
        reverses: None,
        actor,
        at: &at,
    };
    settlements::lock_month(&tx, inst, &m, &at).await?;
    settlements::insert_run(&tx, &run).await?;
    let current = settlements::month_records(&tx, inst, &m).await?;
    let live = settlements::live_lines(&tx, inst, &m).await?;
    let changed: Vec<String> = current
        .iter()
        .filter(|(b, c)| {
            live.get(*b)
                .is_none_or(|l| l.max_revision != c.max_revision || l.record_count != c.count)
        })
        .map(|(b, _)| b.clone())
        .collect();
    if changed.is_empty() {
        return Err(DomainError::precondition(
            error::NOTHING_TO_SETTLE.code,
            format!("no new or corrected accepted records of {inst} in {m}"),
        )
        .into());
    }
    check_registry(inst, &current, &changed, registry.as_ref())?;
    // The monthly cap is the person's across institutions: runs of different institutions may
    // run at once, so the beneficiaries are locked before the fund already paid is read.
    let inputs = MonthInputs {
        current,
        live,
        locked: settlements::lock_month_beneficiaries(&tx, inst, &m).await?,
        levels: settlements::month_levels(&tx, inst, &m).await?,
        paid: settlements::month_paid(&tx, inst, &m).await?,
    };
    let lines = settle_lines(store, month, &inputs, &changed).await?;
    settlements::insert_lines(&tx, &run, &lines).await?;
    if lines.iter().any(|l| l.reversal) {
        settlements::mark_given_back(&tx, &run).await?;
    }
    let persons = |b: &str| inputs.locked.get(b).map(|(p, _)| p.clone());
    let totals = enqueue_and_total(&tx, &run, &lines, persons).await?;
    tx.commit().await?;
    Ok((settlements::as_written(&run, totals, &lines), false))
}

/// The institution is a designated LTC provider on every date the run settles: each record of
/// the changed beneficiaries (a group of identical records on every day of its span). A
/// refusal drops the run's transaction: nothing is written.
fn check_registry(
    inst: &str,
    current: &BTreeMap<String, MonthRecords>,
    changed: &[String],
    registry: Option<&InstitutionFile>,
) -> Result<(), AppError> {
    let mut dates = BTreeSet::new();
    for r in changed
        .iter()
        .filter_map(|b| current.get(b))
        .flat_map(|c| c.records.iter())
    {
        days_into(r.service_date, r.last_date, &mut dates);
    }
    Ok(admit_on_all(inst, &dates, registry)?)
}

/// The lines of the changed beneficiaries: the line in force reversed (it gives its fund back
/// before the new line takes the cap), then a new line over all the month's records.
async fn settle_lines<'a>(
    store: &Store,
    month: Month,
    inputs: &'a MonthInputs,
    changed: &'a [String],
) -> Result<Vec<NewLine<'a>>, AppError> {
    let mut policies: HashMap<&str, Option<BenefitPolicy>> = HashMap::new();
    let mut lines = Vec::with_capacity(changed.len() + 8);
    for ben in changed {
        let Some(c) = inputs.current.get(ben) else {
            continue;
        };
        let mut paid_elsewhere = inputs.paid.get(ben).copied().unwrap_or(0);
        if let Some(live) = inputs.live.get(ben) {
            paid_elsewhere -= live.line.figures.fund.get();
            lines.push(NewLine {
                id: new_id(),
                beneficiary_id: ben,
                reversal: true,
                reverses: Some(live.line.id.clone()),
                region: &live.region,
                level: live.line.level,
                f: live.line.figures.reversal(),
                covered: (0, 0),
            });
        }
        let region = inputs.locked.get(ben).map_or("", |(_, r)| r.as_str());
        if !policies.contains_key(region) {
            let p = policies::in_force(store, region, month.year).await?;
            policies.insert(region, p);
        }
        let policy = policies
            .get(region)
            .and_then(Option::as_ref)
            .ok_or_else(|| policies::no_policy(region, month.year))?;
        let last = c
            .records
            .iter()
            .map(|r| r.last_date)
            .max()
            .unwrap_or(month.last_day());
        let periods = inputs
            .levels
            .get(ben)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let level = level_on(periods, last)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("beneficiary {ben} has records without a level"))
            })?
            .level;
        let f = settle_line(policy, level, &c.records, Fen(paid_elsewhere))?;
        lines.push(NewLine {
            id: new_id(),
            beneficiary_id: ben,
            reversal: false,
            reverses: None,
            region,
            level,
            f,
            covered: (c.max_revision, c.count),
        });
    }
    Ok(lines)
}

/// Enqueues the run's events (one per line: settled, or reversed naming the line it gives
/// back, with that line's own figures, as settlement's reversed claims do) and sets its
/// totals; returns the totals (billed, fund, person).
async fn enqueue_and_total(
    tx: &Tx,
    run: &NewRun<'_>,
    lines: &[NewLine<'_>],
    person_of: impl Fn(&str) -> Option<String>,
) -> Result<(i64, i64, i64), AppError> {
    let events: Vec<OutboxEvent> = lines
        .iter()
        .map(|l| {
            let person = person_of(l.beneficiary_id).unwrap_or_default();
            let mut e = LineEvent {
                action: LtcAction::Settled,
                line_id: &l.id,
                settled_at: run.at,
                person_id: &person,
                region: l.region,
                institution: run.institution,
            };
            match (&l.reverses, l.reversal) {
                (Some(reversed), true) => {
                    e.action = LtcAction::Reversed;
                    e.line_id = reversed;
                    line_event(&e, &l.f.reversal())
                }
                _ => line_event(&e, &l.f),
            }
        })
        .collect();
    // In slices: one statement's bind parameters stay far below PostgreSQL's 65,535.
    for slice in events.chunks(ENQUEUE_SLICE) {
        outbox::enqueue(&**tx, slice).await?;
    }
    let (mut billed, mut fund, mut person) = (0i64, 0i64, 0i64);
    for l in lines {
        billed += l.f.billed.get();
        fund += l.f.fund.get();
        person += l.f.person.get();
    }
    settlements::set_totals(tx, &run.id, (billed, fund, person)).await?;
    Ok((billed, fund, person))
}

async fn reverse(
    store: &Store,
    settlement_id: &str,
    request_id: &str,
    reason: &str,
    actor: &Actor,
) -> Result<(SettlementRow, bool), AppError> {
    if let Some((id, reverses)) = settlements::by_request(store.db(), request_id).await? {
        let run = settlements::get(store.db(), &id).await?;
        if reverses.as_deref() != Some(settlement_id) {
            return Err(request_id_reused());
        }
        return Ok((run, true));
    }
    let tx = store.begin().await?;
    let target = settlements::get(&*tx, settlement_id).await?;
    settlements::touch_month(&tx, &target.institution_code, &target.month, &now()).await?;
    if target.is_reversal {
        return Err(DomainError::precondition(
            error::SETTLEMENT_IS_REVERSAL.code,
            "a reversal run cannot be reversed",
        )
        .into());
    }
    if target.reversed {
        return Err(DomainError::precondition(
            error::SETTLEMENT_REVERSED.code,
            "the settlement is already reversed",
        )
        .into());
    }
    settlements::mark_reversed(&tx, settlement_id).await?;
    let at = now();
    let run = NewRun {
        id: new_id(),
        request_id,
        institution: &target.institution_code,
        month: &target.month,
        reverses: Some(settlement_id),
        actor,
        at: &at,
    };
    settlements::insert_run(&tx, &run).await?;
    // The fund given back changes what other institutions' runs of the month may pay these
    // people: they are locked as a settlement run locks them.
    let persons = settlements::lock_run_beneficiaries(&tx, settlement_id).await?;
    let regions = settlements::live_line_regions(&tx, settlement_id).await?;
    let lines: Vec<NewLine<'_>> = target
        .lines
        .iter()
        .filter_map(|l| {
            let region = regions.get(&l.id)?;
            Some(NewLine {
                id: new_id(),
                beneficiary_id: &l.beneficiary_id,
                reversal: true,
                reverses: Some(l.id.clone()),
                region,
                level: l.level,
                f: l.figures.reversal(),
                covered: (0, 0),
            })
        })
        .collect();
    settlements::insert_lines(&tx, &run, &lines).await?;
    settlements::mark_run_given_back(&tx, &run.id, settlement_id).await?;
    let totals = enqueue_and_total(&tx, &run, &lines, |b| persons.get(b).cloned()).await?;
    tracing::info!(settlement = settlement_id, reason, "settlement reversed");
    tx.commit().await?;
    Ok((settlements::as_written(&run, totals, &lines), false))
}
