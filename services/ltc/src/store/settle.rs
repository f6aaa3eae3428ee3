//! Monthly settlement runs, their reversal, statistics, hospital stays from settlement's
//! events, and the outbox.

use super::sql::{all, exec, i, insert_bulk, int, int32, one, opt_text, t, text, unhex};
use super::{
    Actor, LINE_TYPES, LTC_STREAM, LineRow, NewLine, SettlementRow, Statistics, Store, date,
    level_of, line_row, ltc_event, new_id, now, region_like,
};
use crate::domain::care::{LevelPeriod, level_on};
use crate::domain::policy::{BenefitPolicy, CareType};
use crate::domain::settlement::{BillableRecord, settle_line};
use crate::domain::{DomainError, Month};
use crate::error::LtcError;
use sea_orm::ConnectionTrait;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use yibao_core::{Fen, RegionCode};

/// An outbox entry waiting for the bus.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    /// Row id.
    pub id: String,
    /// Stream.
    pub stream: String,
    /// Event id.
    pub event_id: String,
    /// Encoded event.
    pub payload: Vec<u8>,
}

/// The run just written, as `settlement_in` would read it back (lines by beneficiary, a
/// beneficiary's new line before its reversal line).
#[allow(clippy::too_many_arguments)]
fn run_row(
    id: &str,
    institution: &str,
    month: &str,
    is_reversal: bool,
    (billed, fund, person): (i64, i64, i64),
    actor: &Actor,
    at: &str,
    lines: &[NewLine<'_>],
) -> SettlementRow {
    let mut rows: Vec<LineRow> = lines
        .iter()
        .map(|l| LineRow {
            id: l.id.clone(),
            beneficiary_id: l.beneficiary_id.to_string(),
            reversal: l.reversal,
            reverses_line_id: l.reverses.clone(),
            level: l.level,
            figures: l.f,
        })
        .collect();
    rows.sort_by(|a, b| {
        a.beneficiary_id
            .cmp(&b.beneficiary_id)
            .then(a.reversal.cmp(&b.reversal))
    });
    SettlementRow {
        id: id.to_string(),
        institution_code: institution.to_string(),
        month: month.to_string(),
        is_reversal,
        reversed: false,
        billed,
        fund,
        person,
        actor: actor.subject.clone(),
        role: actor.role.clone(),
        at: at.to_string(),
        lines: rows,
    }
}

/// Columns of an outbox entry with their PostgreSQL array types.
const OUTBOX_TYPES: [(&str, &str); 6] = [
    ("id", "text[]"),
    ("stream", "text[]"),
    ("event_id", "text[]"),
    ("payload_hex", "text[]"),
    ("created_at", "text[]"),
    ("published_at", "text[]"),
];

impl Store {
    /// ` ORDER BY id FOR UPDATE` on PostgreSQL, where write transactions run at once; nothing
    /// on SQLite, whose one writer already runs them one after the other.
    fn lock_in_id_order(&self) -> &'static str {
        if self.db().get_database_backend() == sea_orm::DbBackend::Postgres {
            " ORDER BY id FOR UPDATE"
        } else {
            ""
        }
    }

    async fn settlement_in<C: ConnectionTrait>(c: &C, id: &str) -> Result<SettlementRow, LtcError> {
        let r = one(c, "SELECT * FROM ltc_settlements WHERE id = ?", vec![t(id)])
            .await?
            .ok_or_else(|| LtcError::NotFound("settlement", id.into()))?;
        let lines = all(
            c,
            "SELECT * FROM ltc_lines WHERE settlement_id = ? ORDER BY beneficiary_id, kind DESC",
            vec![t(id)],
        )
        .await?
        .iter()
        .map(line_row)
        .collect::<Result<_, _>>()?;
        Ok(SettlementRow {
            id: text(&r, "id")?,
            institution_code: text(&r, "institution_code")?,
            month: text(&r, "month")?,
            is_reversal: text(&r, "kind")? == "reversal",
            reversed: int32(&r, "reversed")? != 0,
            billed: int(&r, "billed_fen")?,
            fund: int(&r, "fund_fen")?,
            person: int(&r, "person_fen")?,
            actor: text(&r, "actor")?,
            role: text(&r, "role")?,
            at: text(&r, "at")?,
            lines,
        })
    }

    /// Reads a settlement run with its lines.
    pub async fn settlement(&self, id: &str) -> Result<SettlementRow, LtcError> {
        Self::settlement_in(self.db(), id).await
    }

    async fn replayed_run(&self, request_id: &str) -> Result<Option<SettlementRow>, LtcError> {
        match one(
            self.db(),
            "SELECT id FROM ltc_settlements WHERE request_id = ?",
            vec![t(request_id)],
        )
        .await?
        {
            Some(r) => Ok(Some(self.settlement(&text(&r, "id")?).await?)),
            None => Ok(None),
        }
    }

    async fn insert_run<C: ConnectionTrait>(
        c: &C,
        id: &str,
        request_id: &str,
        institution: &str,
        month: &str,
        reverses: Option<&str>,
        actor: &Actor,
        at: &str,
    ) -> Result<(), LtcError> {
        let kind = if reverses.is_some() {
            "reversal"
        } else {
            "settle"
        };
        exec(
            c,
            "INSERT INTO ltc_settlements (id, request_id, institution_code, month, kind, reverses_id, reversed, billed_fen, fund_fen, person_fen, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?, ?, ?)",
            vec![t(id), t(request_id), t(institution), t(month), t(kind), super::sql::ot(reverses.map(str::to_string)), t(actor.subject.clone()), t(actor.role.clone()), t(at)],
        )
        .await
        .map_err(|e| if yibao_runtime::db::is_unique_violation(&e) { LtcError::Conflict(format!("request_id `{request_id}` was used concurrently; retry")) } else { e.into() })?;
        Ok(())
    }

    /// Settles a month of an institution. For each beneficiary with accepted records of the
    /// institution in the month: when the line in force covers exactly the current records
    /// (same highest revision and count) nothing is done; otherwise the line in force (if any) is
    /// reversed and a new line settles all the records, under the policy of the beneficiary's
    /// region and the month's year and the monthly cap less what other lines of the month paid.
    /// Records are read, never written. Idempotent on `request_id`.
    pub async fn settle_month(
        &self,
        institution: &str,
        month: Month,
        request_id: &str,
        actor: &Actor,
    ) -> Result<(SettlementRow, bool), LtcError> {
        let m = month.to_string();
        if let Some(run) = self.replayed_run(request_id).await? {
            if run.institution_code != institution || run.month != m || run.is_reversal {
                return Err(DomainError::invalid(
                    "LTC_REQUEST_ID_REUSED",
                    "request_id",
                    "was used for another settlement run",
                )
                .into());
            }
            return Ok((run, true));
        }
        let mut policies: HashMap<String, Option<BenefitPolicy>> = HashMap::new();
        let (_g, txn) = self.begin().await?;
        let sid = new_id();
        let at = now();
        exec(&txn, "INSERT INTO ltc_month_locks (institution_code, month, last_run_at) VALUES (?, ?, ?) ON CONFLICT (institution_code, month) DO NOTHING", vec![t(institution), t(m.clone()), t(at.clone())]).await?;
        exec(
            &txn,
            "UPDATE ltc_month_locks SET last_run_at = ? WHERE institution_code = ? AND month = ?",
            vec![t(at.clone()), t(institution), t(m.clone())],
        )
        .await?;
        Self::insert_run(&txn, &sid, request_id, institution, &m, None, actor, &at).await?;

        // The records as they are now, identical records (care type, units, amount) grouped.
        let rows = all(
            &txn,
            "SELECT beneficiary_id, care_type, units, amount_fen, COUNT(*) AS n, MIN(service_date) AS first_date, MAX(service_date) AS last_date, MAX(revision) AS max_revision
             FROM ltc_records WHERE institution_code = ? AND month = ? AND status = 'accepted' GROUP BY beneficiary_id, care_type, units, amount_fen",
            vec![t(institution), t(m.clone())],
        )
        .await?;
        struct Current {
            region: String,
            records: Vec<BillableRecord>,
            max_revision: i64,
            count: i64,
        }
        let mut current: BTreeMap<String, Current> = BTreeMap::new();
        for r in &rows {
            let care_type = CareType::parse(&text(r, "care_type")?)
                .ok_or_else(|| LtcError::Corrupt("care type".into()))?;
            let n = int(r, "n")?;
            let rec = BillableRecord {
                care_type,
                service_date: date(&text(r, "first_date")?)?,
                last_date: date(&text(r, "last_date")?)?,
                units: u32::try_from(int(r, "units")?).unwrap_or(0),
                amount: Fen(int(r, "amount_fen")?),
                count: u32::try_from(n).unwrap_or(0),
            };
            let c = current
                .entry(text(r, "beneficiary_id")?)
                .or_insert_with(|| Current {
                    region: String::new(),
                    records: Vec::new(),
                    max_revision: 0,
                    count: 0,
                });
            c.records.push(rec);
            c.max_revision = c.max_revision.max(int(r, "max_revision")?);
            c.count += n;
        }
        // Lines in force at this institution in the month.
        let mut live: HashMap<String, (LineRow, String, i64, i64)> = HashMap::new();
        for r in all(&txn, "SELECT * FROM ltc_lines WHERE institution_code = ? AND month = ? AND kind = 'settled' AND reversed_by IS NULL", vec![t(institution), t(m.clone())]).await? {
            live.insert(text(&r, "beneficiary_id")?, (line_row(&r)?, text(&r, "region_code")?, int(&r, "max_revision")?, int(&r, "record_count")?));
        }
        let changed: Vec<&String> = current
            .iter()
            .filter(|(b, c)| {
                live.get(*b)
                    .is_none_or(|(_, _, rev, n)| *rev != c.max_revision || *n != c.count)
            })
            .map(|(b, _)| b)
            .collect();
        if changed.is_empty() {
            return Err(DomainError::precondition(
                "LTC_NOTHING_TO_SETTLE",
                format!("no new or corrected accepted records of {institution} in {m}"),
            )
            .into());
        }
        // Person/region, levels and fund already paid in the month of the institution's
        // beneficiaries of the month (semi-joins on the covering index: no long IN lists, whose
        // cost a planner without fresh statistics may multiply by the table's size).
        let ids: Vec<String> = changed.iter().map(|b| (*b).clone()).collect();
        let in_month = "SELECT DISTINCT beneficiary_id FROM ltc_records WHERE institution_code = ? AND month = ?";
        let scope = || vec![t(institution), t(m.clone())];
        // The monthly cap is the person's across institutions: runs of different institutions
        // may run at once, so the beneficiaries are locked (in id order, so that two runs sharing
        // people cannot deadlock) before the fund already paid is read. SQLite has one writer.
        let mut persons: HashMap<String, String> = HashMap::new();
        for r in all(&txn, &format!("SELECT id, person_id, region_code FROM ltc_beneficiaries WHERE id IN ({in_month}){}", self.lock_in_id_order()), scope()).await? {
            let id = text(&r, "id")?;
            persons.insert(id.clone(), text(&r, "person_id")?);
            if let Some(c) = current.get_mut(&id) {
                c.region = text(&r, "region_code")?;
            }
        }
        let mut levels: HashMap<String, Vec<LevelPeriod>> = HashMap::new();
        for r in all(&txn, &format!("SELECT beneficiary_id, level, dementia, effective_from FROM ltc_levels WHERE beneficiary_id IN ({in_month})"), scope()).await? {
            levels.entry(text(&r, "beneficiary_id")?).or_default().push(LevelPeriod {
                level: level_of(int32(&r, "level")?)?,
                dementia: int32(&r, "dementia")? != 0,
                effective_from: date(&text(&r, "effective_from")?)?,
            });
        }
        let mut paid: HashMap<String, i64> = HashMap::new();
        let mut v = vec![t(m.clone())];
        v.extend(scope());
        for r in all(&txn, &format!("SELECT beneficiary_id, CAST(SUM(fund_fen) AS BIGINT) AS paid FROM ltc_lines WHERE month = ? AND beneficiary_id IN ({in_month}) GROUP BY beneficiary_id"), v).await? {
            paid.insert(text(&r, "beneficiary_id")?, int(&r, "paid")?);
        }
        let changed = ids;
        let mut lines: Vec<NewLine<'_>> = Vec::with_capacity(changed.len() + 8);
        for ben in &changed {
            let Some(c) = current.get(ben) else { continue };
            let mut paid_elsewhere = paid.get(ben).copied().unwrap_or(0);
            if let Some((line, region, ..)) = live.get(ben) {
                // The line in force gives its fund back before the new line takes the cap.
                paid_elsewhere -= line.figures.fund.get();
                lines.push(NewLine {
                    id: new_id(),
                    beneficiary_id: ben,
                    reversal: true,
                    reverses: Some(line.id.clone()),
                    region,
                    level: line.level,
                    f: line.figures.reversal(),
                    covered: (0, 0),
                });
            }
            let region = &c.region;
            if !policies.contains_key(region) {
                policies.insert(region.clone(), self.policy_for(region, month.year).await?);
            }
            let policy = policies
                .get(region)
                .and_then(Option::as_ref)
                .ok_or_else(|| {
                    LtcError::from(DomainError::precondition(
                        "LTC_NO_POLICY",
                        format!("no benefit policy for region {region} in {}", month.year),
                    ))
                })?;
            let last = c
                .records
                .iter()
                .map(|r| r.last_date)
                .max()
                .unwrap_or(month.last_day());
            let periods = levels.get(ben).map(Vec::as_slice).unwrap_or_default();
            let level = level_on(periods, last)
                .ok_or_else(|| {
                    LtcError::Corrupt(format!("beneficiary {ben} has records without a level"))
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
        insert_bulk(
            &txn,
            "ltc_lines",
            &LINE_TYPES,
            lines
                .iter()
                .map(|l| l.values(&sid, institution, &m))
                .collect(),
        )
        .await?;
        if lines.iter().any(|l| l.reversal) {
            // Each line given back is marked by its reversal line of this run, in one statement.
            exec(
                &txn,
                "UPDATE ltc_lines SET reversed_by = (SELECT r.id FROM ltc_lines r WHERE r.settlement_id = ? AND r.beneficiary_id = ltc_lines.beneficiary_id AND r.kind = 'reversal')
                 WHERE institution_code = ? AND month = ? AND kind = 'settled' AND reversed_by IS NULL AND settlement_id <> ?
                   AND beneficiary_id IN (SELECT beneficiary_id FROM ltc_lines WHERE settlement_id = ? AND kind = 'reversal')",
                vec![t(sid.clone()), t(institution), t(m.clone()), t(sid.clone()), t(sid.clone())],
            )
            .await?;
        }
        let totals =
            Self::write_outbox_and_totals(&txn, &sid, institution, &lines, &persons, &at).await?;
        txn.commit().await?;
        Ok((
            run_row(&sid, institution, &m, false, totals, actor, &at, &lines),
            false,
        ))
    }

    /// Writes the run's outbox events (one per line: settled, or reversed naming the line it gives
    /// back) and totals; returns the totals (billed, fund, person).
    async fn write_outbox_and_totals<C: ConnectionTrait>(
        c: &C,
        sid: &str,
        institution: &str,
        lines: &[NewLine<'_>],
        persons: &HashMap<String, String>,
        at: &str,
    ) -> Result<(i64, i64, i64), LtcError> {
        use yibao_proto::events::v1::LtcAction;
        let mut outbox = Vec::new();
        for l in lines {
            let person = persons.get(l.beneficiary_id).cloned().unwrap_or_default();
            // A reversal line tells consumers which settled line no longer counts, with that
            // line's own figures, as settlement's reversed claims do.
            let (event_id, payload) = match (&l.reverses, l.reversal) {
                (Some(reversed), true) => ltc_event(
                    LtcAction::Reversed,
                    reversed,
                    at,
                    &person,
                    l.region,
                    institution,
                    &l.f.reversal(),
                ),
                _ => ltc_event(
                    LtcAction::Settled,
                    &l.id,
                    at,
                    &person,
                    l.region,
                    institution,
                    &l.f,
                ),
            };
            outbox.push(vec![
                t(new_id()),
                t(LTC_STREAM),
                t(event_id),
                t(super::sql::hex(&payload)),
                t(at),
                super::sql::ot(None),
            ]);
        }
        insert_bulk(c, "ltc_outbox", &OUTBOX_TYPES, outbox).await?;
        let (mut billed, mut fund, mut person) = (0i64, 0i64, 0i64);
        for l in lines {
            billed += l.f.billed.get();
            fund += l.f.fund.get();
            person += l.f.person.get();
        }
        exec(
            c,
            "UPDATE ltc_settlements SET billed_fen = ?, fund_fen = ?, person_fen = ? WHERE id = ?",
            vec![i(billed), i(fund), i(person), t(sid)],
        )
        .await?;
        Ok((billed, fund, person))
    }

    /// Reverses a settlement run in full: a reversal line for every line still in force, the
    /// records released for a new settlement. Idempotent on `request_id`.
    pub async fn reverse_settlement(
        &self,
        settlement_id: &str,
        request_id: &str,
        reason: &str,
        actor: &Actor,
    ) -> Result<(SettlementRow, bool), LtcError> {
        if let Some(run) = self.replayed_run(request_id).await? {
            let target = one(
                self.db(),
                "SELECT reverses_id FROM ltc_settlements WHERE id = ?",
                vec![t(run.id.clone())],
            )
            .await?;
            let reverses = target
                .as_ref()
                .map(|r| opt_text(r, "reverses_id"))
                .transpose()?
                .flatten();
            if reverses.as_deref() != Some(settlement_id) {
                return Err(DomainError::invalid(
                    "LTC_REQUEST_ID_REUSED",
                    "request_id",
                    "was used for another settlement run",
                )
                .into());
            }
            return Ok((run, true));
        }
        let (_g, txn) = self.begin().await?;
        let target = Self::settlement_in(&txn, settlement_id).await?;
        exec(
            &txn,
            "UPDATE ltc_month_locks SET last_run_at = ? WHERE institution_code = ? AND month = ?",
            vec![
                t(now()),
                t(target.institution_code.clone()),
                t(target.month.clone()),
            ],
        )
        .await?;
        if target.is_reversal {
            return Err(DomainError::precondition(
                "LTC_SETTLEMENT_IS_REVERSAL",
                "a reversal run cannot be reversed",
            )
            .into());
        }
        if target.reversed {
            return Err(DomainError::precondition(
                "LTC_SETTLEMENT_REVERSED",
                "the settlement is already reversed",
            )
            .into());
        }
        let n = exec(
            &txn,
            "UPDATE ltc_settlements SET reversed = 1 WHERE id = ? AND reversed = 0",
            vec![t(settlement_id)],
        )
        .await?;
        if n == 0 {
            return Err(LtcError::Conflict(
                "the settlement changed concurrently; retry".into(),
            ));
        }
        let rid = new_id();
        let at = now();
        Self::insert_run(
            &txn,
            &rid,
            request_id,
            &target.institution_code,
            &target.month,
            Some(settlement_id),
            actor,
            &at,
        )
        .await?;
        // The fund given back changes what other institutions' runs of the month may pay these
        // people: they are locked as a settlement run locks them.
        let mut persons: HashMap<String, String> = HashMap::new();
        let live_sql = "SELECT beneficiary_id FROM ltc_lines WHERE settlement_id = ? AND kind = 'settled' AND reversed_by IS NULL";
        for r in all(
            &txn,
            &format!(
                "SELECT id, person_id FROM ltc_beneficiaries WHERE id IN ({live_sql}){}",
                self.lock_in_id_order()
            ),
            vec![t(settlement_id)],
        )
        .await?
        {
            persons.insert(text(&r, "id")?, text(&r, "person_id")?);
        }
        let mut regions = HashMap::new();
        for r in all(&txn, "SELECT id, region_code FROM ltc_lines WHERE settlement_id = ? AND kind = 'settled' AND reversed_by IS NULL", vec![t(settlement_id)]).await? {
            regions.insert(text(&r, "id")?, text(&r, "region_code")?);
        }
        let live: Vec<&LineRow> = target
            .lines
            .iter()
            .filter(|l| regions.contains_key(&l.id))
            .collect();
        let ids: Vec<String> = live.iter().map(|_| new_id()).collect();
        let lines: Vec<NewLine<'_>> = live
            .iter()
            .zip(&ids)
            .map(|(l, id)| NewLine {
                id: id.clone(),
                beneficiary_id: &l.beneficiary_id,
                reversal: true,
                reverses: Some(l.id.clone()),
                region: regions.get(&l.id).map(String::as_str).unwrap_or_default(),
                level: l.level,
                f: l.figures.reversal(),
                covered: (0, 0),
            })
            .collect();
        insert_bulk(
            &txn,
            "ltc_lines",
            &LINE_TYPES,
            lines
                .iter()
                .map(|l| l.values(&rid, &target.institution_code, &target.month))
                .collect(),
        )
        .await?;
        // Each line given back is marked by its reversal line, in one statement.
        exec(
            &txn,
            "UPDATE ltc_lines SET reversed_by = (SELECT r.id FROM ltc_lines r WHERE r.settlement_id = ? AND r.beneficiary_id = ltc_lines.beneficiary_id AND r.kind = 'reversal')
             WHERE settlement_id = ? AND kind = 'settled' AND reversed_by IS NULL",
            vec![t(rid.clone()), t(settlement_id)],
        )
        .await?;
        let totals = Self::write_outbox_and_totals(
            &txn,
            &rid,
            &target.institution_code,
            &lines,
            &persons,
            &at,
        )
        .await?;
        tracing::info!(settlement = settlement_id, reason, "settlement reversed");
        txn.commit().await?;
        Ok((
            run_row(
                &rid,
                &target.institution_code,
                &target.month,
                true,
                totals,
                actor,
                &at,
                &lines,
            ),
            false,
        ))
    }

    /// Statistics of the beneficiaries of a region in a month.
    pub async fn statistics(
        &self,
        region: &RegionCode,
        month: Month,
    ) -> Result<Statistics, LtcError> {
        let like = region_like(region);
        let mut people: BTreeMap<String, (String, Vec<LevelPeriod>)> = BTreeMap::new();
        for r in all(
            self.db(),
            "SELECT b.id, b.region_code, l.level, l.dementia, l.effective_from FROM ltc_beneficiaries b JOIN ltc_levels l ON l.beneficiary_id = b.id WHERE b.region_code LIKE ?",
            vec![t(like.clone())],
        )
        .await?
        {
            people.entry(text(&r, "id")?).or_insert_with(|| (text(&r, "region_code").unwrap_or_default(), Vec::new())).1.push(LevelPeriod {
                level: level_of(int32(&r, "level")?)?,
                dementia: int32(&r, "dementia")? != 0,
                effective_from: date(&text(&r, "effective_from")?)?,
            });
        }
        // Who has a qualifying level in force on the last day of each month compared.
        let mut policies: HashMap<(String, i32), Option<BenefitPolicy>> = HashMap::new();
        let mut qualifying: Vec<Vec<(String, String, u8)>> = Vec::new();
        for m in [
            month,
            month.previous(),
            Month {
                year: month.year - 1,
                month: month.month,
            },
        ] {
            let mut out = Vec::new();
            for (id, (reg, periods)) in &people {
                let Some(p) = level_on(periods, m.last_day()) else {
                    continue;
                };
                let key = (reg.clone(), m.year);
                if !policies.contains_key(&key) {
                    policies.insert(key.clone(), self.policy_for(reg, m.year).await?);
                }
                // Without a policy for the year the level alone counts.
                if policies
                    .get(&key)
                    .and_then(Option::as_ref)
                    .is_none_or(|pol| pol.qualifies(p.level, p.dementia))
                {
                    out.push((id.clone(), reg.clone(), p.level.number()));
                }
            }
            qualifying.push(out);
        }
        let mut s = Statistics {
            beneficiaries: qualifying[0].len() as u64,
            previous_month: qualifying[1].len() as u64,
            same_month_last_year: qualifying[2].len() as u64,
            ..Statistics::default()
        };
        let current: BTreeSet<&String> = qualifying[0].iter().map(|(id, ..)| id).collect();
        for (_, reg, level) in &qualifying[0] {
            *s.by_level.entry(level.to_string()).or_default() += 1;
            *s.by_region.entry(reg.clone()).or_default() += 1;
        }
        let mut by_type: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut institutions = BTreeSet::new();
        for r in all(
            self.db(),
            "SELECT p.beneficiary_id, p.institution_code, p.care_type FROM ltc_care_plans p JOIN ltc_beneficiaries b ON b.id = p.beneficiary_id WHERE b.region_code LIKE ? AND p.start_date <= ? AND (p.end_date IS NULL OR p.end_date >= ?)",
            vec![t(like.clone()), t(month.last_day().to_string()), t(month.first_day().to_string())],
        )
        .await?
        {
            let ben = text(&r, "beneficiary_id")?;
            if current.contains(&ben) {
                by_type.entry(text(&r, "care_type")?).or_default().insert(ben);
                institutions.insert(text(&r, "institution_code")?);
            }
        }
        s.by_care_type = by_type
            .into_iter()
            .map(|(k, v)| (k, v.len() as u64))
            .collect();
        s.institutions = institutions.len() as u64;
        let fund = one(self.db(), "SELECT CAST(SUM(fund_fen) AS BIGINT) AS f FROM ltc_lines WHERE month = ? AND region_code LIKE ?", vec![t(month.to_string()), t(like)]).await?;
        s.fund_paid = fund.as_ref().map(|r| int(r, "f")).transpose()?.unwrap_or(0);
        Ok(s)
    }

    // ---- hospital stays from settlement ------------------------------------------------------

    /// Records an inpatient stay settled by settlement (idempotent by claim id).
    pub async fn record_stay(
        &self,
        claim_id: &str,
        person_id: &str,
        admitted: &str,
        discharged: &str,
        event_id: &str,
    ) -> Result<(), LtcError> {
        let (_g, txn) = self.begin().await?;
        let exists = one(
            &txn,
            "SELECT claim_id FROM ltc_hospital_stays WHERE claim_id = ?",
            vec![t(claim_id)],
        )
        .await?;
        if exists.is_none() {
            exec(
                &txn,
                "INSERT INTO ltc_hospital_stays (claim_id, person_id, admitted, discharged, reversed, event_id) VALUES (?, ?, ?, ?, 0, ?)",
                vec![t(claim_id), t(person_id), t(admitted), t(discharged), t(event_id)],
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Marks a stay reversed (its claim was reversed in settlement).
    pub async fn reverse_stay(&self, claim_id: &str) -> Result<(), LtcError> {
        let (_g, txn) = self.begin().await?;
        exec(
            &txn,
            "UPDATE ltc_hospital_stays SET reversed = 1 WHERE claim_id = ?",
            vec![t(claim_id)],
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    // ---- outbox ------------------------------------------------------------------------------

    /// Unpublished outbox entries, oldest first.
    pub async fn unpublished(&self, limit: u64) -> Result<Vec<OutboxEntry>, LtcError> {
        all(self.db(), &format!("SELECT id, stream, event_id, payload_hex FROM ltc_outbox WHERE published_at IS NULL ORDER BY id LIMIT {limit}"), vec![])
            .await?
            .iter()
            .map(|r| {
                Ok(OutboxEntry {
                    id: text(r, "id")?,
                    stream: text(r, "stream")?,
                    event_id: text(r, "event_id")?,
                    payload: unhex(&text(r, "payload_hex")?).ok_or_else(|| LtcError::Corrupt("outbox payload".into()))?,
                })
            })
            .collect()
    }

    /// Marks entries published.
    pub async fn mark_published(&self, ids: &[String]) -> Result<(), LtcError> {
        if ids.is_empty() {
            return Ok(());
        }
        let (_g, txn) = self.begin().await?;
        let at = now();
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut v = vec![t(at.clone())];
            v.extend(chunk.iter().map(|id| t(id.clone())));
            exec(
                &txn,
                &format!("UPDATE ltc_outbox SET published_at = ? WHERE id IN ({marks})"),
                v,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
