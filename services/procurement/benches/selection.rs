//! Selection of a large round: 500 groups, 20,000 bids (40 per group, with ties, bids above the
//! line and above the ceiling) and 50 institutions' demand per group, shuffled. Plain `main`,
//! std::time only. Target: under 1 second.
//!
//! Run with `cargo bench -p yibao-procurement --bench selection`.

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use yibao_core::{Fen, InstitutionCode};
use yibao_procurement::domain::{
    Bid, Demand, Group, ItemCode, ItemKind, Round, RoundRules, select,
};

const GROUPS: u32 = 500;
const BIDS_PER_GROUP: u32 = 40;
const INSTITUTIONS: u32 = 50;

fn round() -> Result<Round, Box<dyn Error>> {
    let mut groups = Vec::new();
    let mut bids = Vec::new();
    let mut demands = Vec::new();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for g in 0..GROUPS {
        let id = format!("G{g:04}");
        groups.push(Group {
            id: id.clone(),
            generic_name: format!("generic-{g}"),
            specification: "20mg".into(),
            highest_valid_price: Fen(1_000),
        });
        for m in 0..BIDS_PER_GROUP {
            let unit_price = Fen(40 + (next() % 1_000) as i64);
            bids.push(Bid {
                group_id: id.clone(),
                manufacturer: format!("M{m:03}"),
                item_code: ItemCode::parse(
                    ItemKind::WesternDrug,
                    &format!("XC10AAA{:03}A0010101{m:05}", g % 1000),
                )?,
                unit_price,
                declared_price: Fen(unit_price.0 * 28),
            });
        }
        for i in 0..INSTITUTIONS {
            demands.push(Demand {
                group_id: id.clone(),
                institution: InstitutionCode::parse(&format!("H442000{i:05}"))?,
                quantity: 1_000 + next() % 100_000,
            });
        }
    }
    // Deterministic shuffle so the input is not pre-sorted.
    for i in (1..bids.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        bids.swap(i, j);
    }
    Ok(Round {
        id: "bench".into(),
        rules: RoundRules::national_default(),
        groups,
        bids,
        demands,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let round = round()?;
    // Warm-up.
    let first = select(&round)?;
    let runs = 5;
    let start = Instant::now();
    for _ in 0..runs {
        black_box(select(black_box(&round))?);
    }
    let per_run = start.elapsed().as_secs_f64() * 1_000.0 / f64::from(runs);
    let winners: usize = first.groups.iter().map(|g| g.winners.len()).sum();
    println!(
        "selection: {} groups, {} bids, {} demand reports: {per_run:.1} ms per round ({winners} winners; target < 1000 ms)",
        round.groups.len(),
        round.bids.len(),
        round.demands.len()
    );
    Ok(())
}
