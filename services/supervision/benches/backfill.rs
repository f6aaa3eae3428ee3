//! Backfill of one rule over stored history: split hospitalisation replayed over every stored
//! claim event of Huoqiu county through a fresh detector, and its findings recorded with their
//! opened reviews, as `RunBackfill` does. Prints events/s and the time of the whole run.
//!
//! - On PostgreSQL (`YIBAO_TEST_DATABASE_URL` set; a fresh database, dropped at the end):
//!   `YIBAO_BENCH_EVENTS` (default 10,000,000) claim events are generated *in the database*
//!   with SQL, not timed: 100,000 template claims of a generated stream (about a year of 8,000
//!   persons) are stored as protobuf without their ids, person and dates, and
//!   `generate_series` makes one copy per 100,000 events for as many distinct persons, each
//!   payload completed in SQL (protobuf fields may come in any order) and stored base64 as the
//!   consumer stores it. One stay in 20 gets a planted readmission 5 days after its discharge at
//!   the same hospital for the same diagnosis, which the rule must find.
//! - On SQLite: `YIBAO_BENCH_EVENTS` (default 200,000) generated claims are stored through the
//!   consumer's batch write (not timed), without planted readmissions.
//!
//! Plain `main`, std::time only. Run with `cargo bench -p yibao-supervision --bench backfill`.

mod common;

use base64::Engine as _;
use chrono::{NaiveDate, Utc};
use prost::Message;
use sea_orm::{ConnectionTrait, Statement, Value};
use std::error::Error;
use std::time::Instant;
use yibao_core::RegionCode;
use yibao_runtime::streams;
use yibao_supervision::app::backfill::{backfill, record_backfill};
use yibao_supervision::app::ingest::commit_batch;
use yibao_supervision::domain::{
    Review, RuleCode, StreamConfig, SupervisionEvent, SyntheticStream,
};
use yibao_supervision::events::decode::{self as convert, B64};
use yibao_supervision::store::{Audit, BackfillRun, Batch, EventRow, EventStatus, Store};

const TEMPLATES: usize = 100_000;
const READMISSION_EVERY: usize = 20;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let db = common::store("backfill").await?;
    let default_n = if db.is_postgres() {
        10_000_000
    } else {
        200_000
    };
    let n: usize = std::env::var("YIBAO_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_n);
    let loading = Instant::now();
    let (from, to, stored, planted) = if db.is_postgres() {
        generate_in_postgres(&db.store, n).await?
    } else {
        load_through_batches(&db.store, n).await?
    };
    println!(
        "stored {stored} claim events plus {planted} planted readmissions ({from} → {to}) on {} in {:.2?} (not timed)",
        db.label,
        loading.elapsed()
    );

    let region = RegionCode::parse("341522")?;
    let started = Instant::now();
    let report = backfill(
        &db.store,
        &region,
        RuleCode::SplitHospitalisation,
        (from, to),
    )
    .await?;
    let detected = started.elapsed();
    let now = Utc::now();
    let findings: Vec<_> = report
        .findings
        .into_iter()
        .map(|f| {
            let review = Review::open(&f, now, now + chrono::Duration::days(15));
            (f, review)
        })
        .collect();
    let audit = Audit {
        actor: "bench".into(),
        role: "operator".into(),
        at: now,
    };
    let run_id = uuid::Uuid::now_v7().to_string();
    let written = Instant::now();
    let amount_at_risk = findings
        .iter()
        .fold(0i64, |acc, (f, _)| acc.saturating_add(f.amount_at_risk.0));
    let run = BackfillRun {
        run_id: &run_id,
        region: &region,
        rule: RuleCode::SplitHospitalisation,
        version: report.rule_version,
        range: (from, to),
        dry_run: false,
        counts: (report.events_seen, report.events_refused),
        findings_raised: findings.len() as u64,
        amount_at_risk,
    };
    let new = record_backfill(&db.store, &run, &findings, &audit).await?;
    let writing = written.elapsed();
    let elapsed = started.elapsed();
    let per_second = report.events_seen as f64 / elapsed.as_secs_f64();
    println!(
        "backfill of SPLIT_HOSPITALISATION on {}: {} events ({} refused) in {elapsed:.2?} = {per_second:.0} events/s: replay and rule {detected:.2?}, {} findings ({new} new) written in {writing:.2?}",
        db.label,
        report.events_seen,
        report.events_refused,
        findings.len()
    );
    if planted > 0 && (findings.len() as u64) < planted {
        return Err(format!(
            "{planted} readmissions were planted but only {} findings raised",
            findings.len()
        )
        .into());
    }
    db.remove().await?;
    Ok(())
}

/// Generated claims stored through the consumer's batch write.
async fn load_through_batches(
    store: &Store,
    n: usize,
) -> Result<(NaiveDate, NaiveDate, u64, u64), Box<dyn Error>> {
    let mut seq = 1;
    let mut batch = Batch::default();
    let mut span: Option<(NaiveDate, NaiveDate)> = None;
    for e in SyntheticStream::new(&StreamConfig::huoqiu(2018, 60_000))?.take(n) {
        let SupervisionEvent::Claim(c) = &e else {
            continue;
        };
        let day = c.settled_at.date();
        span = Some(span.map_or((day, day), |(a, _)| (a, day)));
        batch.events.push(EventRow {
            event_id: c.event_id.clone(),
            stream: streams::SETTLEMENT_CLAIMS.into(),
            kind: "claim".into(),
            region: c.institution.region().to_string(),
            at: c.settled_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            status: EventStatus::Accepted,
            reason: String::new(),
            payload: B64.encode(convert::claim_to_proto(c).encode_to_vec()),
        });
        if batch.events.len() == 5_000 {
            commit_batch(store, &batch).await?;
            seq += 5_000;
            batch = Batch::default();
        }
    }
    if !batch.events.is_empty() {
        commit_batch(store, &batch).await?;
    }
    let (from, to) = span.ok_or("no events")?;
    Ok((
        from,
        to,
        u64::try_from(seq - 1)? + u64::try_from(batch.events.len())?,
        0,
    ))
}

/// `n` claim events (rounded up to whole copies of the templates) and the planted readmissions,
/// generated by SQL inside PostgreSQL.
async fn generate_in_postgres(
    store: &Store,
    n: usize,
) -> Result<(NaiveDate, NaiveDate, u64, u64), Box<dyn Error>> {
    let db = store.db();
    let templates = TEMPLATES.min(n.max(1));
    let copies = n.div_ceil(templates);
    db.execute_unprepared("CREATE TABLE bench_templates (t BIGINT PRIMARY KEY, tail BYTEA NOT NULL, at TEXT NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL, person TEXT NOT NULL, readmit BIGINT NOT NULL)").await?;
    // A protobuf string field of number < 16 and length < 128: tag byte, length byte, UTF-8.
    db.execute_unprepared(
        "CREATE FUNCTION bench_pb(tag INT, s TEXT) RETURNS BYTEA LANGUAGE sql IMMUTABLE AS $$ SELECT set_byte(set_byte('\\x0000'::bytea, 0, tag * 8 + 2), 1, octet_length(s)) || convert_to(s, 'UTF8') $$",
    )
    .await?;
    let mut rows: Vec<Value> = Vec::new();
    let mut span: Option<(NaiveDate, NaiveDate)> = None;
    let mut t = 0usize;
    let mut inpatient = 0usize;
    for e in SyntheticStream::new(&StreamConfig::huoqiu(2018, 8_000))? {
        if t == templates {
            break;
        }
        let SupervisionEvent::Claim(c) = &e else {
            continue;
        };
        let mut pb = convert::claim_to_proto(c);
        // Completed per copy in SQL.
        for f in [
            &mut pb.event_id,
            &mut pb.claim_id,
            &mut pb.settled_at,
            &mut pb.person_key,
            &mut pb.start_date,
            &mut pb.end_date,
        ] {
            f.clear();
        }
        let readmit = c.kind == yibao_supervision::domain::ClaimKind::Inpatient && {
            inpatient += 1;
            inpatient.is_multiple_of(READMISSION_EVERY)
        };
        let day = c.settled_at.date();
        span = Some(span.map_or((day, day), |(a, _)| (a, day)));
        rows.extend([
            Value::from(i64::try_from(t)?),
            Value::Bytes(Some(pb.encode_to_vec())),
            c.settled_at.format("%Y-%m-%dT%H:%M:%S").to_string().into(),
            c.start_date.to_string().into(),
            c.end_date.to_string().into(),
            c.person.as_str().to_string().into(),
            i64::from(readmit).into(),
        ]);
        t += 1;
        if rows.len() >= 7 * 500 || t == templates {
            let marks = vec!["(?, ?, ?, ?, ?, ?, ?)"; rows.len() / 7].join(", ");
            let sql = yibao_runtime::sql::dialect(
                db.get_database_backend(),
                &format!("INSERT INTO bench_templates VALUES {marks}"),
            );
            db.execute_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                sql,
                std::mem::take(&mut rows),
            ))
            .await?;
        }
    }
    let (from, last) = span.ok_or("no events")?;
    // One copy per persons' replica r: ids and person key suffixed with r. LATERAL keeps the
    // templates as the outer loop, so rows are stored in time order as a live stream stores them.
    let payload = |eid: &str, cid: &str, at: &str, start: &str, end: &str| {
        format!(
            "translate(encode(t.tail || bench_pb(1, {eid}) || bench_pb(2, {cid}) || bench_pb(4, {at}) || bench_pb(5, t.person || '-' || g.r) || bench_pb(12, {start}) || bench_pb(13, {end}), 'base64'), E'\\n', '')"
        )
    };
    let insert = format!(
        "INSERT INTO events (event_id, seq, stream, kind, region_code, at, status, reason, payload, received_at)
         SELECT x.eid, t.t * {copies} + g.r + 1, '{stream}', 'claim', '341522', t.at, 'accepted', '', {p}, '2026-01-01T00:00:00.000Z'
         FROM bench_templates t
         CROSS JOIN LATERAL generate_series(0, {last_copy} + 0 * t.t) AS g(r)
         CROSS JOIN LATERAL (SELECT 'E' || lpad(t.t::text, 7, '0') || '-' || lpad(g.r::text, 4, '0') AS eid, 'C' || lpad(t.t::text, 7, '0') || '-' || lpad(g.r::text, 4, '0') AS cid) x",
        stream = streams::SETTLEMENT_CLAIMS,
        last_copy = copies - 1,
        p = payload("x.eid", "x.cid", "t.at", "t.start_date", "t.end_date"),
    );
    let stored = db.execute_unprepared(&insert).await?.rows_affected();
    // The planted readmission: admitted 5 days after the discharge, 3 nights, settled that day.
    let planted = format!(
        "INSERT INTO events (event_id, seq, stream, kind, region_code, at, status, reason, payload, received_at)
         SELECT x.eid, {offset} + t.t * {copies} + g.r + 1, '{stream}', 'claim', '341522', x.at, 'accepted', '', {p}, '2026-01-01T00:00:00.000Z'
         FROM bench_templates t
         CROSS JOIN LATERAL generate_series(0, {last_copy} + 0 * t.t) AS g(r)
         CROSS JOIN LATERAL (SELECT 'R' || lpad(t.t::text, 7, '0') || '-' || lpad(g.r::text, 4, '0') AS eid, 'D' || lpad(t.t::text, 7, '0') || '-' || lpad(g.r::text, 4, '0') AS cid,
                                    (t.end_date::date + 5)::text AS adm, (t.end_date::date + 8)::text AS dis, (t.end_date::date + 8)::text || 'T20:00:00' AS at) x
         WHERE t.readmit = 1",
        offset = templates * copies,
        stream = streams::SETTLEMENT_CLAIMS,
        last_copy = copies - 1,
        p = payload("x.eid", "x.cid", "x.at", "x.adm", "x.dis"),
    );
    let planted_rows = db.execute_unprepared(&planted).await?.rows_affected();
    db.execute_unprepared("DROP TABLE bench_templates").await?;
    db.execute_unprepared("DROP FUNCTION bench_pb").await?;
    // Stored history is settled: hint bits set and statistics fresh, as on a live database.
    db.execute_unprepared("VACUUM ANALYZE events").await?;
    db.execute_unprepared("CHECKPOINT").await?;
    let to = last + chrono::Duration::days(30);
    Ok((from, to, stored, planted_rows))
}
