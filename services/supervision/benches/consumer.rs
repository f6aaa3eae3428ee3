//! Throughput and lag of the streaming consumer with its store on SQLite: generated claim
//! events (Huoqiu county) are published on the in-process bus as settlement publishes them
//! (protobuf), and the consumer decodes, judges with every rule of the default rule set, writes
//! each batch in one transaction (event ids, findings, spending, warnings) and acknowledges.
//! Plain `main`, std::time only.
//!
//! Phase 1, sustained: a producer publishes at `YIBAO_BENCH_RATE` events/s (default 20,000) for
//! `YIBAO_BENCH_SECONDS` (default 5) while the consumer runs; the lag (undelivered plus
//! unacknowledged events) is sampled every 50 ms and reported in events and in seconds of
//! production. Phase 2, drain: `YIBAO_BENCH_EVENTS` (default 100,000) events published at once,
//! consumed as fast as possible.
//!
//! Run with `cargo test -p yibao-supervision --bench consumer` (debug build: a lower bound) or
//! `cargo bench -p yibao-supervision --bench consumer`.

use prost::Message;
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use yibao_runtime::bus::{Bus, MemoryBus};
use yibao_runtime::config::DatabaseConfig;
use yibao_supervision::consumer::{Consumer, ConsumerConfig};
use yibao_supervision::convert;
use yibao_supervision::domain::{StreamConfig, SupervisionEvent, SyntheticStream};
use yibao_supervision::store::{Store, migration::Migrator};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn payloads(seed: u64, n: usize) -> Result<Vec<(String, Vec<u8>)>, Box<dyn Error>> {
    Ok(SyntheticStream::new(&StreamConfig::huoqiu(seed, 60_000))?
        .take(n)
        .filter_map(|e| match e {
            SupervisionEvent::Claim(c) => Some((c.event_id.clone(), convert::claim_to_proto(&c).encode_to_vec())),
            _ => None,
        })
        .collect())
}

async fn store(tag: &str) -> Result<(Store, std::path::PathBuf), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("yibao-sup-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let db = yibao_runtime::db::connect_and_migrate::<Migrator>(&DatabaseConfig::sqlite(&dir.join("supervision.db"))).await?;
    Ok((Store::new(db), dir))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let rate = env("YIBAO_BENCH_RATE", 20_000);
    let seconds = env("YIBAO_BENCH_SECONDS", 5);
    let drain_n = usize::try_from(env("YIBAO_BENCH_EVENTS", 100_000))?;
    let cfg = ConsumerConfig { batch: 1_000, ..ConsumerConfig::default() };

    // Phase 1: sustained rate.
    let total = usize::try_from(rate * seconds)?;
    let events = payloads(2018, total)?;
    let (store1, dir1) = store("rate").await?;
    let bus = MemoryBus::new();
    let lag = Arc::new(AtomicU64::new(0));
    let mut consumer = Consumer::new(store1, Arc::new(bus.clone()), cfg.clone(), Arc::clone(&lag));
    let done = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn({
        let bus = bus.clone();
        let done = Arc::clone(&done);
        async move {
            let tick = Duration::from_millis(10);
            let per_tick = usize::try_from(rate / 100).unwrap_or(1).max(1);
            let start = Instant::now();
            for (k, chunk) in events.chunks(per_tick).enumerate() {
                for (id, payload) in chunk {
                    let _ = bus.publish(convert::CLAIMS_STREAM, id, payload).await;
                }
                let due = start + tick * u32::try_from(k + 1).unwrap_or(u32::MAX);
                tokio::time::sleep_until(due.into()).await;
            }
            done.store(true, Ordering::SeqCst);
        }
    });
    let started = Instant::now();
    let mut max_lag = 0u64;
    let mut processed = 0usize;
    let mut last_sample = Instant::now();
    loop {
        let r = consumer.poll_once(Duration::from_millis(5)).await?;
        processed += r.accepted + r.rejected;
        if last_sample.elapsed() >= Duration::from_millis(50) {
            last_sample = Instant::now();
            max_lag = max_lag.max(consumer.measure_lag().await?);
        }
        if done.load(Ordering::SeqCst) && consumer.measure_lag().await? == 0 {
            break;
        }
    }
    producer.await?;
    let elapsed = started.elapsed();
    let max_lag_secs = max_lag as f64 / rate as f64;
    println!(
        "sustained: {processed} claim events offered at {rate}/s for {seconds} s, consumed in {elapsed:.2?} (SQLite); max lag {max_lag} events = {max_lag_secs:.3} s of production"
    );
    let _ = std::fs::remove_dir_all(dir1);

    // Phase 2: drain as fast as possible.
    let events = payloads(2019, drain_n)?;
    let (store2, dir2) = store("drain").await?;
    let bus = MemoryBus::new();
    for (id, payload) in &events {
        bus.publish(convert::CLAIMS_STREAM, id, payload).await?;
    }
    let mut consumer = Consumer::new(store2.clone(), Arc::new(bus.clone()), cfg, Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let mut findings = 0usize;
    let mut n = 0usize;
    loop {
        let r = consumer.poll_once(Duration::from_millis(1)).await?;
        if r.messages == 0 {
            break;
        }
        n += r.accepted;
        findings += r.findings;
    }
    let elapsed = started.elapsed();
    let per_second = n as f64 / elapsed.as_secs_f64();
    println!("drain: {n} claim events consumed in {elapsed:.2?}: {per_second:.0} events/s through decode, detector and store (SQLite), {findings} findings");
    let (accepted, rejected) = store2.event_counts().await?;
    println!("stored: {accepted} accepted, {rejected} rejected");
    let _ = std::fs::remove_dir_all(dir2);
    if max_lag_secs >= 1.0 {
        return Err(format!("lag above 1 s at {rate}/s: {max_lag_secs:.3} s").into());
    }
    Ok(())
}
