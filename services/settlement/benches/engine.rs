//! Adjudication throughput of the settlement engine: 30-item inpatient claims for a poor
//! patient (every layer runs) settled in a loop on one thread. Plain `main`, std::time only.
//!
//! Run with `cargo bench -p yibao-settlement --bench engine`.

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use chrono::NaiveDate;
use yibao_core::{Fen, IdNumber, InstitutionCode, RegionCode};
use yibao_settlement::domain::{
    Accumulators, Claim, ClaimItem, EligibilitySnapshot, EncounterKind, HospitalGrade,
    InstitutionTier, ItemClass, PersonCategory, Scheme, default_bundle, settle,
};

fn main() -> Result<(), Box<dyn Error>> {
    let bundle = default_bundle()?;
    let insured = RegionCode::parse("341522")?;
    let on = NaiveDate::from_ymd_opt(2018, 6, 15).ok_or("date")?;
    let policy = bundle
        .find(&insured, Scheme::Resident, on)
        .ok_or("no policy")?;
    let items: Vec<ClaimItem> = (0..30)
        .map(|i| {
            let class = [ItemClass::A, ItemClass::B, ItemClass::C][i % 3];
            let unit_price = Fen(1_000 + 37_311 * i as i64);
            let quantity = 1 + (i as i64 % 4);
            ClaimItem {
                national_code: format!("XA{i:04}"),
                name: String::new(),
                class,
                quantity,
                unit_price,
                amount: Fen(unit_price.0 * quantity),
                payment_standard: if i % 5 == 0 {
                    Some(Fen(unit_price.0 - 500))
                } else {
                    None
                },
                preselfpay_share: None,
            }
        })
        .collect();
    let claim = Claim {
        institution_code: InstitutionCode::parse("H34150200001")?,
        encounter_no: "BENCH-0001".into(),
        id_number: IdNumber::with_check_digit("34152219800101123")?,
        kind: EncounterKind::Inpatient,
        disease_code: None,
        grade: HospitalGrade::Grade3,
        tier: InstitutionTier::City,
        start_date: on,
        end_date: on,
        diagnoses: vec!["I10.x00x002".into(), "E14.900x001".into()],
        items,
    };
    let eligibility = EligibilitySnapshot {
        scheme: Scheme::Resident,
        insured_region: insured.clone(),
        categories: vec![PersonCategory::PovertyRegistered],
        chronic_registrations: vec![],
        supplement_products: vec![],
        cross_region_filing: None,
    };
    let accumulators = Accumulators::new(2018, insured);

    // Warm up, then measure.
    for _ in 0..20_000 {
        black_box(settle(
            black_box(&claim),
            &eligibility,
            &accumulators,
            policy,
        )?);
    }
    let rounds = 300_000u32;
    let start = Instant::now();
    let mut paid = 0i64;
    for _ in 0..rounds {
        let s = settle(
            black_box(&claim),
            black_box(&eligibility),
            black_box(&accumulators),
            policy,
        )?;
        paid = paid.wrapping_add(s.breakdown.fund_pay_sumamt.0);
    }
    let elapsed = start.elapsed();
    let per_second = f64::from(rounds) / elapsed.as_secs_f64();
    println!(
        "settlement engine: {rounds} adjudications of 30-item claims in {:.3} s = {:.0} adjudications/second (one thread; checksum {})",
        elapsed.as_secs_f64(),
        per_second,
        black_box(paid)
    );
    Ok(())
}
