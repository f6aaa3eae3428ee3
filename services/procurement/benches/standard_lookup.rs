//! Payment-standard look-ups (`standard_on(item, date)`) from the in-memory index: 10,000
//! items with 6 periods of history each, random items and dates. Plain `main`, std::time
//! only. Target: at least 100,000 look-ups per second.
//!
//! Run with `cargo bench -p yibao-procurement --bench standard_lookup`.

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use yibao_core::Fen;
use yibao_procurement::domain::{
    ItemCode, ItemKind, PaymentStandard, PaymentStandardIndex, Period,
};

const ITEMS: u32 = 10_000;
const PERIODS: u64 = 6;
const LOOKUPS: usize = 2_000_000;

fn main() -> Result<(), Box<dyn Error>> {
    let start_date = NaiveDate::from_ymd_opt(2019, 1, 1).ok_or("date")?;
    let mut index = PaymentStandardIndex::new();
    let mut codes = Vec::new();
    for i in 0..ITEMS {
        let code = ItemCode::parse(
            ItemKind::WesternDrug,
            &format!("XC10AAA001A001{i:04}{:05}", i % 997),
        )?;
        for p in 0..PERIODS {
            let from = start_date
                .checked_add_days(Days::new(p * 180))
                .ok_or("date")?;
            index.set(PaymentStandard {
                item_code: code.clone(),
                amount: Fen(10_000 - p as i64 * 1_000),
                period: Period::from(from),
                basis: "bench".into(),
            })?;
        }
        codes.push(code.as_str().to_string());
    }
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let queries: Vec<(usize, NaiveDate)> = (0..LOOKUPS)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let item = (seed % u64::from(ITEMS)) as usize;
            let day = start_date + Days::new((seed >> 20) % (PERIODS * 180 + 30));
            (item, day)
        })
        .collect();
    let start = Instant::now();
    let mut found = 0usize;
    for (item, day) in &queries {
        if black_box(index.standard_on(&codes[*item], *day)).is_some() {
            found += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "standard_lookup: {LOOKUPS} look-ups over {ITEMS} items × {PERIODS} periods in {:.1} ms: {:.0} look-ups/s ({found} found; target ≥ 100000/s)",
        secs * 1_000.0,
        LOOKUPS as f64 / secs
    );
    Ok(())
}
