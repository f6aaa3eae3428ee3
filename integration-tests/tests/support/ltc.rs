//! Long-term care's test data shared by `ltc.rs` and `ltc_registry.rs`: the city's benefit
//! policy and a score sheet.

use serde_json::{Value, json};

/// The benefit policy of the tours: levels 3–5 and 重度失智 qualify, institutional care at 90 %
/// up to 130 yuan a day, 3,450 yuan a month at most, two assessors, reassessed yearly.
pub fn policy() -> Value {
    json!({
        "qualifying_levels": [3, 4, 5], "dementia_qualifies": true,
        "care_types": [{"care_type": "institutional", "rate_bp": 9000, "unit": "day", "unit_fee_standard_fen": 13000}],
        "monthly_cap_fen": 345000, "two_assessors": true, "reassessment_months": 12
    })
}

/// A score sheet: ADL from transfer and walking (15 + 10 give 25, level 4 with the rest),
/// cognition 10 (4+4+2+0), perception 9 (4+4+1).
pub fn items(adl_transfer: u32, adl_walking: u32) -> Value {
    json!({
        "adl.transfer": adl_transfer, "adl.walking": adl_walking, "adl.feeding": 0, "adl.dressing": 0, "adl.grooming": 0,
        "adl.bowel": 0, "adl.bladder": 0, "adl.toilet": 0, "adl.bathing": 0, "adl.stairs": 0,
        "cognition.time": 4, "cognition.person": 4, "cognition.place": 2, "cognition.memory": 0,
        "perception.vision": 4, "perception.hearing": 4, "perception.communication": 1
    })
}
