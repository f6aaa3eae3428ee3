//! Random inspections (双随机一公开).

use super::*;

fn request(seed: u64) -> DrawRequest {
    DrawRequest {
        draw_id: "2018-Q2".into(),
        region: region("341522"),
        seed,
        drawn_at: utc(4, 2, 9),
        institutions: (1..=45).map(|i| inst(&format!("H341522{i:05}"))).collect(),
        inspectors: (1..=12).map(|i| format!("inspector-{i:02}")).collect(),
        institutions_to_draw: 5,
        inspectors_to_draw: 4,
        conflicts: vec![],
    }
}

#[test]
fn splitmix64_matches_the_reference_sequence() {
    let mut g = SplitMix64::new(0);
    assert_eq!(
        [g.next_u64(), g.next_u64(), g.next_u64()],
        [
            0xE220_A839_7B1D_CDAF,
            0x6E78_9E6A_A1B9_65F4,
            0x06C4_5D18_8009_454F
        ]
    );
}

#[test]
fn the_draw_is_reproducible_from_the_seed_whatever_the_order_of_the_pools() {
    let a = draw_inspection(&request(20_180_402)).unwrap();
    let mut shuffled = request(20_180_402);
    shuffled.institutions.reverse();
    shuffled.inspectors.reverse();
    shuffled.institutions.push(inst("H34152200003")); // duplicates do not weigh
    let b = draw_inspection(&shuffled).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.institutions.len(), 5);
    assert_eq!(a.inspectors.len(), 4);
    assert_eq!(a.algorithm, DRAW_ALGORITHM);
    let mut distinct = a.institutions.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5);
    assert_ne!(
        draw_inspection(&request(20_180_403)).unwrap().institutions,
        a.institutions
    );
}

#[test]
fn the_published_record_verifies_and_a_tampered_one_does_not() {
    let d = draw_inspection(&request(42)).unwrap();
    assert!(d.verify());
    let json = serde_json::to_string(&d).unwrap();
    let back: InspectionDraw = serde_json::from_str(&json).unwrap();
    assert!(back.verify());
    let mut tampered = d.clone();
    let undrawn = d
        .institution_pool
        .iter()
        .find(|i| !d.institutions.contains(i))
        .unwrap()
        .clone();
    tampered.institutions[0] = undrawn;
    assert!(!tampered.verify());
}

#[test]
fn inspectors_with_a_conflict_of_interest_with_a_drawn_institution_are_excluded() {
    let plain = draw_inspection(&request(7)).unwrap();
    let target = plain.institutions[0].clone();
    let mut req = request(7);
    // Every inspector but three declares a conflict with the first drawn institution.
    req.conflicts = (1..=9)
        .map(|i| (format!("inspector-{i:02}"), target.clone()))
        .collect();
    req.inspectors_to_draw = 3;
    let d = draw_inspection(&req).unwrap();
    assert_eq!(
        d.institutions, plain.institutions,
        "institutions are drawn first, from the same stream"
    );
    assert_eq!(d.excluded_inspectors.len(), 9);
    let mut inspectors = d.inspectors.clone();
    inspectors.sort();
    assert_eq!(inspectors, ["inspector-10", "inspector-11", "inspector-12"]);
    assert!(d.verify());
    req.inspectors_to_draw = 4;
    assert_eq!(
        draw_inspection(&req),
        Err(InspectionError::TooFewInspectors {
            wanted: 4,
            available: 3
        })
    );
}

#[test]
fn draws_outside_the_region_or_larger_than_the_pool_are_refused() {
    let mut req = request(1);
    req.institutions.push(inst("H34150200001"));
    assert_eq!(
        draw_inspection(&req),
        Err(InspectionError::OutsideRegion(inst("H34150200001")))
    );
    let mut req = request(1);
    req.institutions_to_draw = 46;
    assert_eq!(
        draw_inspection(&req),
        Err(InspectionError::TooFewInstitutions {
            wanted: 46,
            available: 45
        })
    );
    let mut req = request(1);
    req.inspectors_to_draw = 0;
    assert_eq!(draw_inspection(&req), Err(InspectionError::EmptyDraw));
}

#[test]
fn below_is_uniform_enough_over_small_ranges() {
    let mut g = SplitMix64::new(99);
    let mut counts = [0u32; 6];
    for _ in 0..60_000 {
        counts[g.below(6) as usize] += 1;
    }
    assert!(
        counts.iter().all(|c| (9_500..=10_500).contains(c)),
        "{counts:?}"
    );
}
