//! Throughput and lag of the streaming consumer: generated claim events (Huoqiu county) are
//! published as settlement publishes them (protobuf), and the consumer decodes, judges with every
//! rule of the default rule set, writes each batch in one transaction (event ids, findings,
//! spending, warnings) and acknowledges. The store is SQLite, or a fresh PostgreSQL database
//! when `YIBAO_TEST_DATABASE_URL` is set (dropped at the end); the bus is the in-process one, or
//! Redis Streams under a unique prefix when `YIBAO_TEST_REDIS_URL` is set (deleted at the end).
//! Plain `main`, std::time only.
//!
//! Phase 1, sustained: a producer publishes at `YIBAO_BENCH_RATE` events/s (default 20,000) for
//! `YIBAO_BENCH_SECONDS` (default 5) while the consumer runs; the lag (undelivered plus
//! unacknowledged events) is sampled every 50 ms and reported in events and in seconds of
//! production. Phase 2, drain: `YIBAO_BENCH_EVENTS` (default 100,000) events published at once,
//! consumed as fast as possible. `YIBAO_BENCH_BATCH` sets the messages per read (default: the
//! consumer's default) and `YIBAO_BENCH_PART` the events per transaction.
//!
//! Run with `cargo test -p yibao-supervision --bench consumer` (debug build: a lower bound) or
//! `cargo bench -p yibao-supervision --bench consumer`.

mod common;

use prost::Message;
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use yibao_runtime::bus::Bus;
use yibao_supervision::domain::{StreamConfig, SupervisionEvent, SyntheticStream};
use yibao_supervision::events::decode as convert;
use yibao_supervision::events::{Consumer, ConsumerConfig};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (event id, bus payload) of each generated event.
type Payloads = Vec<(String, Vec<u8>)>;

fn payloads(seed: u64, n: usize) -> Result<Payloads, Box<dyn Error>> {
    Ok(SyntheticStream::new(&StreamConfig::huoqiu(seed, 60_000))?
        .take(n)
        .filter_map(|e| match e {
            SupervisionEvent::Claim(c) => Some((
                c.event_id.clone(),
                convert::claim_to_proto(&c).encode_to_vec(),
            )),
            _ => None,
        })
        .collect())
}

/// Publishes `events` with `lanes` concurrent publishers (a Redis round trip per message would
/// otherwise cap the producer, not the consumer).
async fn publish_all(
    bus: &Arc<dyn Bus>,
    stream: &str,
    events: &[(String, Vec<u8>)],
    lanes: usize,
) -> Result<(), Box<dyn Error>> {
    let per = events.len().div_ceil(lanes.max(1)).max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for part in events.chunks(per) {
        let bus = Arc::clone(bus);
        let stream = stream.to_string();
        let part = part.to_vec();
        tasks.spawn(async move {
            for (id, payload) in &part {
                bus.publish(&stream, id, payload).await?;
            }
            Ok::<(), yibao_runtime::bus::BusError>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let rate = env("YIBAO_BENCH_RATE", 20_000);
    let seconds = env("YIBAO_BENCH_SECONDS", 5);
    let drain_n = usize::try_from(env("YIBAO_BENCH_EVENTS", 100_000))?;
    let batch = usize::try_from(env(
        "YIBAO_BENCH_BATCH",
        ConsumerConfig::default().batch as u64,
    ))?;
    let part = usize::try_from(env(
        "YIBAO_BENCH_PART",
        ConsumerConfig::default().part as u64,
    ))?;

    // Phase 1: sustained rate.
    let total = usize::try_from(rate * seconds)?;
    let events = payloads(2018, total)?;
    let db = common::store("rate").await?;
    let b = common::bus().await?;
    let backends = format!("{} + {}", db.label, b.label);
    let cfg = ConsumerConfig {
        batch,
        part,
        ..b.cfg.clone()
    };
    let lag = Arc::new(AtomicU64::new(0));
    let mut consumer = Consumer::new(
        db.store.clone(),
        Arc::clone(&b.bus),
        cfg.clone(),
        Arc::clone(&lag),
    );
    consumer.measure_lag().await?;
    let done = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn({
        let bus = Arc::clone(&b.bus);
        let stream = cfg.claims_stream.clone();
        let done = Arc::clone(&done);
        async move {
            let tick = Duration::from_millis(10);
            let per_tick = usize::try_from(rate / 100).unwrap_or(1).max(1);
            let start = Instant::now();
            for (k, chunk) in events.chunks(per_tick).enumerate() {
                if let Err(e) = publish_all(&bus, &stream, chunk, 8).await {
                    eprintln!("publish failed: {e}");
                }
                let due = start + tick * u32::try_from(k + 1).unwrap_or(u32::MAX);
                tokio::time::sleep_until(due.into()).await;
            }
            done.store(true, Ordering::SeqCst);
            start.elapsed()
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
    let produced_in = producer.await?;
    let elapsed = started.elapsed();
    let max_lag_secs = max_lag as f64 / rate as f64;
    println!(
        "sustained ({backends}, batch {batch}, part {part}): {processed} claim events offered at {rate}/s for {seconds} s (published in {produced_in:.2?}), consumed in {elapsed:.2?}; max lag {max_lag} events = {max_lag_secs:.3} s of production"
    );
    db.remove().await?;
    b.remove().await?;

    // Phase 2: drain as fast as possible.
    let events = payloads(2019, drain_n)?;
    let db = common::store("drain").await?;
    let b = common::bus().await?;
    let cfg = ConsumerConfig {
        batch,
        part,
        ..b.cfg.clone()
    };
    publish_all(&b.bus, &cfg.claims_stream, &events, 8).await?;
    let mut consumer = Consumer::new(
        db.store.clone(),
        Arc::clone(&b.bus),
        cfg,
        Arc::new(AtomicU64::new(0)),
    );
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
    println!(
        "drain ({backends}, batch {batch}, part {part}): {n} claim events consumed in {elapsed:.2?}: {per_second:.0} events/s through decode, detector and store, {findings} findings"
    );
    let (accepted, rejected) = db.store.event_counts().await?;
    println!("stored: {accepted} accepted, {rejected} rejected");
    db.remove().await?;
    b.remove().await?;
    if max_lag_secs >= 1.0 {
        return Err(format!("lag above 1 s at {rate}/s: {max_lag_secs:.3} s").into());
    }
    Ok(())
}
