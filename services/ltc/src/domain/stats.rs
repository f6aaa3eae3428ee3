//! Statistics figures.

/// Growth from `previous` to `current` in basis points, rounded half away from zero; 0 when
/// there was nothing before. Seed 001: 258 → 516 beneficiaries is +10000 bp (+100%).
pub fn growth_bp(previous: u64, current: u64) -> i64 {
    if previous == 0 {
        return 0;
    }
    let diff = i128::from(current) - i128::from(previous);
    let num = diff * 10_000;
    let den = i128::from(previous);
    let q = num / den;
    let r = num % den;
    let rounded = if r.abs() * 2 >= den {
        q + num.signum()
    } else {
        q
    };
    i64::try_from(rounded).unwrap_or(i64::MAX)
}
