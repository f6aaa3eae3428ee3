//! Monthly settlement runs and their lines, the month locks runs take, and the reads a run
//! settles from (the month's records grouped, the lines in force, the beneficiaries locked,
//! their levels and what the month already paid them). A run reads records, never writes them.

use super::sql::{all, exec, i, i4, insert_bulk, int, int32, one, opt_text, ot, t, text};
use super::{StoreError, conflict_on_unique, date, level_of};
use crate::domain::assessment::DisabilityLevel;
use crate::domain::care::LevelPeriod;
use crate::domain::policy::CareType;
use crate::domain::settlement::{BillableRecord, LineFigures};
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult};
use std::collections::{BTreeMap, HashMap};
use yibao_core::Fen;
use yibao_runtime::Actor;

/// A settlement line as stored.
#[derive(Debug, Clone)]
pub struct LineRow {
    /// Id.
    pub id: String,
    /// Beneficiary.
    pub beneficiary_id: String,
    /// True for a reversal line.
    pub reversal: bool,
    /// The line reversed.
    pub reverses_line_id: Option<String>,
    /// Level applied.
    pub level: DisabilityLevel,
    /// Figures.
    pub figures: LineFigures,
}

/// A settlement run as stored.
#[derive(Debug, Clone)]
pub struct SettlementRow {
    /// Id.
    pub id: String,
    /// Institution.
    pub institution_code: String,
    /// Month.
    pub month: String,
    /// True when this run is the full reversal of another.
    pub is_reversal: bool,
    /// True when reversed in full.
    pub reversed: bool,
    /// Σ billed.
    pub billed: i64,
    /// Σ fund.
    pub fund: i64,
    /// Σ person.
    pub person: i64,
    /// Subject.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
    /// Lines.
    pub lines: Vec<LineRow>,
}

/// A run to insert (its totals follow once its lines are written).
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// Id.
    pub id: String,
    /// The caller's idempotency key.
    pub request_id: &'a str,
    /// Institution.
    pub institution: &'a str,
    /// Month `YYYY-MM`.
    pub month: &'a str,
    /// The run this one reverses in full.
    pub reverses: Option<&'a str>,
    /// Who.
    pub actor: &'a Actor,
    /// When.
    pub at: &'a str,
}

/// A line to insert.
#[derive(Debug, Clone)]
pub struct NewLine<'a> {
    /// Id.
    pub id: String,
    /// Beneficiary.
    pub beneficiary_id: &'a str,
    /// True for a reversal line.
    pub reversal: bool,
    /// The line a reversal gives back.
    pub reverses: Option<String>,
    /// The beneficiary's region.
    pub region: &'a str,
    /// Level applied.
    pub level: DisabilityLevel,
    /// Figures.
    pub f: LineFigures,
    /// Highest revision and count of the records covered (0, 0 for a reversal).
    pub covered: (i64, i64),
}

/// A beneficiary's accepted records of the month at the institution, identical records (care
/// type, units, amount) grouped.
#[derive(Debug, Clone, Default)]
pub struct MonthRecords {
    /// The groups.
    pub records: Vec<BillableRecord>,
    /// Highest revision among the records.
    pub max_revision: i64,
    /// Number of records.
    pub count: i64,
}

/// A line in force at the institution in the month, with what it covered.
#[derive(Debug, Clone)]
pub struct LiveLine {
    /// The line.
    pub line: LineRow,
    /// The beneficiary's region when settled.
    pub region: String,
    /// Highest revision of the records covered.
    pub max_revision: i64,
    /// Number of records covered.
    pub record_count: i64,
}

/// A beneficiary of the month, locked for the run: (person id, region).
pub type LockedBeneficiary = (String, String);

/// Columns of a line with their PostgreSQL array types, for the bulk insert of a run.
const LINE_TYPES: [(&str, &str); 20] = [
    ("id", "text[]"),
    ("settlement_id", "text[]"),
    ("beneficiary_id", "text[]"),
    ("kind", "text[]"),
    ("reverses_line_id", "text[]"),
    ("reversed_by", "text[]"),
    ("institution_code", "text[]"),
    ("region_code", "text[]"),
    ("month", "text[]"),
    ("level", "int[]"),
    ("units", "bigint[]"),
    ("billed_fen", "bigint[]"),
    ("fund_before_cap_fen", "bigint[]"),
    ("fund_fen", "bigint[]"),
    ("person_fen", "bigint[]"),
    ("capped_fen", "bigint[]"),
    ("period_start", "text[]"),
    ("period_end", "text[]"),
    ("max_revision", "bigint[]"),
    ("record_count", "bigint[]"),
];

impl NewLine<'_> {
    fn values(&self, settlement_id: &str, institution: &str, month: &str) -> Vec<sea_orm::Value> {
        vec![
            t(self.id.clone()),
            t(settlement_id),
            t(self.beneficiary_id),
            t(if self.reversal { "reversal" } else { "settled" }),
            ot(self.reverses.clone()),
            ot(None),
            t(institution),
            t(self.region),
            t(month),
            i4(i32::from(self.level.number())),
            i(self.f.units),
            i(self.f.billed.get()),
            i(self.f.fund_before_cap.get()),
            i(self.f.fund.get()),
            i(self.f.person.get()),
            i(self.f.capped.get()),
            t(self.f.period_start.to_string()),
            t(self.f.period_end.to_string()),
            i(self.covered.0),
            i(self.covered.1),
        ]
    }
}

fn line_row(r: &QueryResult) -> Result<LineRow, StoreError> {
    Ok(LineRow {
        id: text(r, "id")?,
        beneficiary_id: text(r, "beneficiary_id")?,
        reversal: text(r, "kind")? == "reversal",
        reverses_line_id: opt_text(r, "reverses_line_id")?,
        level: level_of(int32(r, "level")?)?,
        figures: LineFigures {
            units: int(r, "units")?,
            billed: Fen(int(r, "billed_fen")?),
            fund_before_cap: Fen(int(r, "fund_before_cap_fen")?),
            fund: Fen(int(r, "fund_fen")?),
            person: Fen(int(r, "person_fen")?),
            capped: Fen(int(r, "capped_fen")?),
            period_start: date(&text(r, "period_start")?)?,
            period_end: date(&text(r, "period_end")?)?,
        },
    })
}

/// ` ORDER BY id FOR UPDATE` on PostgreSQL, where write transactions run at once; nothing on
/// SQLite, whose one writer already runs them one after the other.
fn lock_in_id_order<C: ConnectionTrait>(c: &C) -> &'static str {
    if c.get_database_backend() == sea_orm::DbBackend::Postgres {
        " ORDER BY id FOR UPDATE"
    } else {
        ""
    }
}

/// Reads a settlement run with its lines (by beneficiary, a new line before its reversal).
pub async fn get<C: ConnectionTrait>(c: &C, id: &str) -> Result<SettlementRow, StoreError> {
    let r = one(c, "SELECT * FROM ltc_settlements WHERE id = ?", vec![t(id)])
        .await?
        .ok_or_else(|| StoreError::SettlementNotFound(id.into()))?;
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

/// The run written under an idempotency key: (id, the run it reverses).
pub async fn by_request<C: ConnectionTrait>(
    c: &C,
    request_id: &str,
) -> Result<Option<(String, Option<String>)>, StoreError> {
    one(
        c,
        "SELECT id, reverses_id FROM ltc_settlements WHERE request_id = ?",
        vec![t(request_id)],
    )
    .await?
    .map(|r| Ok((text(&r, "id")?, opt_text(&r, "reverses_id")?)))
    .transpose()
}

/// The run just written, as [`get`] would read it back.
pub fn as_written(
    run: &NewRun<'_>,
    (billed, fund, person): (i64, i64, i64),
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
        id: run.id.clone(),
        institution_code: run.institution.to_string(),
        month: run.month.to_string(),
        is_reversal: run.reverses.is_some(),
        reversed: false,
        billed,
        fund,
        person,
        actor: run.actor.subject.clone(),
        role: run.actor.role.clone(),
        at: run.at.to_string(),
        lines: rows,
    }
}

/// Takes the month lock of an institution (created on the month's first run): runs of one
/// institution and month follow one another.
pub async fn lock_month(
    txn: &DatabaseTransaction,
    institution: &str,
    month: &str,
    at: &str,
) -> Result<(), StoreError> {
    exec(txn, "INSERT INTO ltc_month_locks (institution_code, month, last_run_at) VALUES (?, ?, ?) ON CONFLICT (institution_code, month) DO NOTHING", vec![t(institution), t(month), t(at)]).await?;
    touch_month(txn, institution, month, at).await
}

/// Takes the existing month lock of an institution.
pub async fn touch_month(
    txn: &DatabaseTransaction,
    institution: &str,
    month: &str,
    at: &str,
) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_month_locks SET last_run_at = ? WHERE institution_code = ? AND month = ?",
        vec![t(at), t(institution), t(month)],
    )
    .await?;
    Ok(())
}

/// Inserts a run with zero totals; a conflict when its request id was taken concurrently.
pub async fn insert_run(txn: &DatabaseTransaction, run: &NewRun<'_>) -> Result<(), StoreError> {
    let kind = if run.reverses.is_some() {
        "reversal"
    } else {
        "settle"
    };
    let request_id = run.request_id;
    exec(
        txn,
        "INSERT INTO ltc_settlements (id, request_id, institution_code, month, kind, reverses_id, reversed, billed_fen, fund_fen, person_fen, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?, ?, ?)",
        vec![t(run.id.clone()), t(request_id), t(run.institution), t(run.month), t(kind), ot(run.reverses.map(str::to_string)), t(run.actor.subject.clone()), t(run.actor.role.clone()), t(run.at)],
    )
    .await
    .map_err(|e| conflict_on_unique(e, || format!("request_id `{request_id}` was used concurrently; retry")))?;
    Ok(())
}

/// The institution's accepted records of the month by beneficiary, identical ones grouped.
pub async fn month_records(
    txn: &DatabaseTransaction,
    institution: &str,
    month: &str,
) -> Result<BTreeMap<String, MonthRecords>, StoreError> {
    let rows = all(
        txn,
        "SELECT beneficiary_id, care_type, units, amount_fen, COUNT(*) AS n, MIN(service_date) AS first_date, MAX(service_date) AS last_date, MAX(revision) AS max_revision
         FROM ltc_records WHERE institution_code = ? AND month = ? AND status = 'accepted' GROUP BY beneficiary_id, care_type, units, amount_fen",
        vec![t(institution), t(month)],
    )
    .await?;
    let mut current: BTreeMap<String, MonthRecords> = BTreeMap::new();
    for r in &rows {
        let care_type = CareType::parse(&text(r, "care_type")?)
            .ok_or_else(|| StoreError::Corrupt("care type".into()))?;
        let n = int(r, "n")?;
        let rec = BillableRecord {
            care_type,
            service_date: date(&text(r, "first_date")?)?,
            last_date: date(&text(r, "last_date")?)?,
            units: u32::try_from(int(r, "units")?).unwrap_or(0),
            amount: Fen(int(r, "amount_fen")?),
            count: u32::try_from(n).unwrap_or(0),
        };
        let c = current.entry(text(r, "beneficiary_id")?).or_default();
        c.records.push(rec);
        c.max_revision = c.max_revision.max(int(r, "max_revision")?);
        c.count += n;
    }
    Ok(current)
}

/// The lines in force at the institution in the month, by beneficiary.
pub async fn live_lines(
    txn: &DatabaseTransaction,
    institution: &str,
    month: &str,
) -> Result<HashMap<String, LiveLine>, StoreError> {
    let mut live = HashMap::new();
    for r in all(txn, "SELECT * FROM ltc_lines WHERE institution_code = ? AND month = ? AND kind = 'settled' AND reversed_by IS NULL", vec![t(institution), t(month)]).await? {
        live.insert(text(&r, "beneficiary_id")?, LiveLine { line: line_row(&r)?, region: text(&r, "region_code")?, max_revision: int(&r, "max_revision")?, record_count: int(&r, "record_count")? });
    }
    Ok(live)
}

/// Beneficiaries with records of the institution in the month (a semi-join on the covering
/// index: no long `IN` lists, whose cost a planner without fresh statistics may multiply by
/// the table's size).
const IN_MONTH: &str =
    "SELECT DISTINCT beneficiary_id FROM ltc_records WHERE institution_code = ? AND month = ?";

/// Locks the month's beneficiaries of the institution (in id order, so that two runs sharing
/// people cannot deadlock; SQLite has one writer) and returns their person and region.
pub async fn lock_month_beneficiaries(
    txn: &DatabaseTransaction,
    institution: &str,
    month: &str,
) -> Result<HashMap<String, LockedBeneficiary>, StoreError> {
    let mut out = HashMap::new();
    let sql = format!(
        "SELECT id, person_id, region_code FROM ltc_beneficiaries WHERE id IN ({IN_MONTH}){}",
        lock_in_id_order(txn)
    );
    for r in all(txn, &sql, vec![t(institution), t(month)]).await? {
        out.insert(
            text(&r, "id")?,
            (text(&r, "person_id")?, text(&r, "region_code")?),
        );
    }
    Ok(out)
}

/// The levels of the month's beneficiaries of the institution.
pub async fn month_levels(
    txn: &DatabaseTransaction,
    institution: &str,
    month: &str,
) -> Result<HashMap<String, Vec<LevelPeriod>>, StoreError> {
    let mut levels: HashMap<String, Vec<LevelPeriod>> = HashMap::new();
    for r in all(txn, &format!("SELECT beneficiary_id, level, dementia, effective_from FROM ltc_levels WHERE beneficiary_id IN ({IN_MONTH})"), vec![t(institution), t(month)]).await? {
        levels.entry(text(&r, "beneficiary_id")?).or_default().push(LevelPeriod {
            level: level_of(int32(&r, "level")?)?,
            dementia: int32(&r, "dementia")? != 0,
            effective_from: date(&text(&r, "effective_from")?)?,
        });
    }
    Ok(levels)
}

/// What the month's lines (all institutions, net of reversals) paid the institution's
/// beneficiaries of the month.
pub async fn month_paid(
    txn: &DatabaseTransaction,
    institution: &str,
    month: &str,
) -> Result<HashMap<String, i64>, StoreError> {
    let mut paid = HashMap::new();
    let v = vec![t(month), t(institution), t(month)];
    for r in all(txn, &format!("SELECT beneficiary_id, CAST(SUM(fund_fen) AS BIGINT) AS paid FROM ltc_lines WHERE month = ? AND beneficiary_id IN ({IN_MONTH}) GROUP BY beneficiary_id"), v).await? {
        paid.insert(text(&r, "beneficiary_id")?, int(&r, "paid")?);
    }
    Ok(paid)
}

/// Writes a run's lines in one statement.
pub async fn insert_lines(
    txn: &DatabaseTransaction,
    run: &NewRun<'_>,
    lines: &[NewLine<'_>],
) -> Result<(), StoreError> {
    insert_bulk(
        txn,
        "ltc_lines",
        &LINE_TYPES,
        lines
            .iter()
            .map(|l| l.values(&run.id, run.institution, run.month))
            .collect(),
    )
    .await?;
    Ok(())
}

/// Marks each line of the institution's month given back by a reversal line of `run`, in one
/// statement.
pub async fn mark_given_back(
    txn: &DatabaseTransaction,
    run: &NewRun<'_>,
) -> Result<(), StoreError> {
    let sid = &run.id;
    exec(
        txn,
        "UPDATE ltc_lines SET reversed_by = (SELECT r.id FROM ltc_lines r WHERE r.settlement_id = ? AND r.beneficiary_id = ltc_lines.beneficiary_id AND r.kind = 'reversal')
         WHERE institution_code = ? AND month = ? AND kind = 'settled' AND reversed_by IS NULL AND settlement_id <> ?
           AND beneficiary_id IN (SELECT beneficiary_id FROM ltc_lines WHERE settlement_id = ? AND kind = 'reversal')",
        vec![t(sid.clone()), t(run.institution), t(run.month), t(sid.clone()), t(sid.clone())],
    )
    .await?;
    Ok(())
}

/// Sets a run's totals (billed, fund, person).
pub async fn set_totals(
    txn: &DatabaseTransaction,
    id: &str,
    (billed, fund, person): (i64, i64, i64),
) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_settlements SET billed_fen = ?, fund_fen = ?, person_fen = ? WHERE id = ?",
        vec![i(billed), i(fund), i(person), t(id)],
    )
    .await?;
    Ok(())
}

/// Marks a run reversed in full; a conflict when it already was.
pub async fn mark_reversed(txn: &DatabaseTransaction, id: &str) -> Result<(), StoreError> {
    let n = exec(
        txn,
        "UPDATE ltc_settlements SET reversed = 1 WHERE id = ? AND reversed = 0",
        vec![t(id)],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::Conflict(
            "the settlement changed concurrently; retry".into(),
        ));
    }
    Ok(())
}

/// Lines of a run still in force.
const LIVE_OF_RUN: &str = "SELECT beneficiary_id FROM ltc_lines WHERE settlement_id = ? AND kind = 'settled' AND reversed_by IS NULL";

/// Locks the beneficiaries of a run's lines still in force, as a settlement run locks them;
/// returns their person ids.
pub async fn lock_run_beneficiaries(
    txn: &DatabaseTransaction,
    settlement_id: &str,
) -> Result<HashMap<String, String>, StoreError> {
    let mut persons = HashMap::new();
    let sql = format!(
        "SELECT id, person_id FROM ltc_beneficiaries WHERE id IN ({LIVE_OF_RUN}){}",
        lock_in_id_order(txn)
    );
    for r in all(txn, &sql, vec![t(settlement_id)]).await? {
        persons.insert(text(&r, "id")?, text(&r, "person_id")?);
    }
    Ok(persons)
}

/// The regions of a run's lines still in force, by line id.
pub async fn live_line_regions(
    txn: &DatabaseTransaction,
    settlement_id: &str,
) -> Result<HashMap<String, String>, StoreError> {
    let mut regions = HashMap::new();
    for r in all(txn, "SELECT id, region_code FROM ltc_lines WHERE settlement_id = ? AND kind = 'settled' AND reversed_by IS NULL", vec![t(settlement_id)]).await? {
        regions.insert(text(&r, "id")?, text(&r, "region_code")?);
    }
    Ok(regions)
}

/// Marks each line of `settlement_id` still in force given back by its reversal line of
/// `reversal`, in one statement.
pub async fn mark_run_given_back(
    txn: &DatabaseTransaction,
    reversal: &str,
    settlement_id: &str,
) -> Result<(), StoreError> {
    exec(
        txn,
        "UPDATE ltc_lines SET reversed_by = (SELECT r.id FROM ltc_lines r WHERE r.settlement_id = ? AND r.beneficiary_id = ltc_lines.beneficiary_id AND r.kind = 'reversal')
         WHERE settlement_id = ? AND kind = 'settled' AND reversed_by IS NULL",
        vec![t(reversal), t(settlement_id)],
    )
    .await?;
    Ok(())
}

/// True when a line of the institution's month is in force for the beneficiary.
pub async fn has_live_line<C: ConnectionTrait>(
    c: &C,
    institution: &str,
    month: &str,
    beneficiary_id: &str,
) -> Result<bool, StoreError> {
    let line = one(
        c,
        "SELECT id FROM ltc_lines WHERE institution_code = ? AND month = ? AND beneficiary_id = ? AND kind = 'settled' AND reversed_by IS NULL",
        vec![t(institution), t(month), t(beneficiary_id)],
    )
    .await?;
    Ok(line.is_some())
}
