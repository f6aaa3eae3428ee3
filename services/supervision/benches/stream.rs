//! Throughput of the detector: 1,000,000 generated claim events (120,000 persons, Huoqiu
//! county) through a detector with every rule of the default rule set on. Plain `main`,
//! std::time only. Target: at least 20,000 claims per second.
//!
//! Run with `cargo bench -p yibao-supervision --bench stream`.

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use yibao_core::RegionCode;
use yibao_supervision::domain::{Detector, RuleSet, StreamConfig, SyntheticStream};

const EVENTS: usize = 1_000_000;

fn main() -> Result<(), Box<dyn Error>> {
    let config = StreamConfig::huoqiu(2018, 120_000);
    let rules = RuleSet::default_for(RegionCode::parse("341522")?, config.start);
    assert!(rules.rules.iter().all(|r| r.enabled), "every rule on");

    // Generated lazily (a million events held at once would take hundreds of MB on a shared
    // machine); only the time inside `observe` counts.
    let mut detector = Detector::new(rules)?;
    let mut in_detector = std::time::Duration::ZERO;
    let mut findings = 0usize;
    let mut count = 0usize;
    let mut span = None;
    let wall = Instant::now();
    for e in SyntheticStream::new(&config)?.take(EVENTS) {
        let started = Instant::now();
        findings += detector.observe(black_box(&e))?.len();
        in_detector += started.elapsed();
        count += 1;
        span = Some(span.map_or((e.at(), e.at()), |(first, _)| (first, e.at())));
    }
    let per_second = count as f64 / in_detector.as_secs_f64();
    println!(
        "{count} generated claim events settled {span:?}, {:.2?} wall time with generation",
        wall.elapsed()
    );
    println!(
        "detector: {:.2?}: {per_second:.0} claims/second, {findings} findings",
        in_detector
    );
    if per_second < 20_000.0 {
        return Err(format!("below target: {per_second:.0} < 20,000 claims/second").into());
    }
    Ok(())
}
