//! Largest-remainder allocation of an agreed volume.

/// Splits `total` among weights in proportion, exactly: each gets `⌊total × wᵢ / Σw⌋`, and the
/// units left over go one each to the largest remainders, ties to the earlier index. The
/// result sums to `total` (all zero when every weight is zero and `total` is zero; when the
/// weights sum to zero and `total` is not, everything goes to nobody and the result is zeros —
/// callers derive `total` from the weights, so this does not happen).
pub fn allocate_largest_remainder(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let total128 = u128::from(total);
    let mut out = Vec::with_capacity(weights.len());
    let mut rems = Vec::with_capacity(weights.len());
    let mut given: u128 = 0;
    for (i, w) in weights.iter().enumerate() {
        let p = total128 * u128::from(*w);
        let q = p / sum;
        given += q;
        out.push(u64::try_from(q).unwrap_or(u64::MAX));
        rems.push((p % sum, i));
    }
    let left = usize::try_from(total128.saturating_sub(given)).unwrap_or(0);
    // Largest remainder first; equal remainders: lower index first.
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems.into_iter().take(left) {
        if let Some(v) = out.get_mut(i) {
            *v += 1;
        }
    }
    out
}
