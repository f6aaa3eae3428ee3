//! Backfill of one rule over stored history with the store on SQLite: `YIBAO_BENCH_EVENTS`
//! generated claim events (default 200,000; Huoqiu county) are stored as the consumer stores
//! them, then split hospitalisation is replayed over all of them, page by page, through a
//! fresh detector. Prints events/s and the time 10 million events would take at that rate.
//! Plain `main`, std::time only.
//!
//! Run with `cargo test -p yibao-supervision --bench backfill` (debug build: a lower bound) or
//! `cargo bench -p yibao-supervision --bench backfill`.

use base64::Engine as _;
use chrono::NaiveDate;
use prost::Message;
use std::error::Error;
use std::time::Instant;
use yibao_core::RegionCode;
use yibao_runtime::config::DatabaseConfig;
use yibao_supervision::convert;
use yibao_supervision::domain::{RuleCode, StreamConfig, SupervisionEvent, SyntheticStream};
use yibao_supervision::store::{B64, Batch, EventRow, EventStatus, Store, migration::Migrator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let n: usize = std::env::var("YIBAO_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let dir = std::env::temp_dir().join(format!("yibao-sup-bench-backfill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = Store::new(yibao_runtime::db::connect_and_migrate::<Migrator>(&DatabaseConfig::sqlite(&dir.join("supervision.db"))).await?);
    let loading = Instant::now();
    let mut seq = 1;
    let mut batch = Batch::default();
    let mut span: Option<(NaiveDate, NaiveDate)> = None;
    for e in SyntheticStream::new(&StreamConfig::huoqiu(2018, 60_000))?.take(n) {
        let SupervisionEvent::Claim(c) = &e else { continue };
        let day = c.settled_at.date();
        span = Some(span.map_or((day, day), |(a, _)| (a, day)));
        batch.events.push(EventRow {
            event_id: c.event_id.clone(),
            stream: convert::CLAIMS_STREAM.into(),
            kind: "claim".into(),
            region: c.institution.region().to_string(),
            at: c.settled_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            status: EventStatus::Accepted,
            reason: String::new(),
            payload: B64.encode(convert::claim_to_proto(c).encode_to_vec()),
        });
        if batch.events.len() == 5_000 {
            store.commit_batch(&batch, seq).await?;
            seq += 5_000;
            batch = Batch::default();
        }
    }
    if !batch.events.is_empty() {
        store.commit_batch(&batch, seq).await?;
    }
    let (from, to) = span.ok_or("no events")?;
    println!("stored {n} claim events ({from} → {to}) in {:.2?}", loading.elapsed());
    let started = Instant::now();
    let report = yibao_supervision::api::backfill(&store, &RegionCode::parse("341522")?, RuleCode::SplitHospitalisation, (from, to)).await?;
    let elapsed = started.elapsed();
    let per_second = report.events_seen as f64 / elapsed.as_secs_f64();
    println!(
        "backfill of SPLIT_HOSPITALISATION: {} events in {elapsed:.2?}: {per_second:.0} events/s, {} findings; 10 million events would take {:.0} s at this rate",
        report.events_seen,
        report.findings.len(),
        10_000_000.0 / per_second
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
