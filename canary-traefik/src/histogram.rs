//! Quantiles from cumulative histogram buckets, computed exactly as PromQL's `histogram_quantile`
//! does, so the scrape source and Prometheus agree on the same bucket counts.

/// The `q` quantile of cumulative `buckets` (`(upper bound, count ≤ bound)`, any order), with
/// linear interpolation inside the bucket the rank falls in. As in PromQL: NaN without a `+Inf`
/// bucket or without observations; the highest finite bound when the rank falls in `+Inf`; the
/// first bound when it is ≤ 0 and the rank falls in it; counts that go down are raised to keep
/// them cumulative; `q < 0` is `-Inf` and `q > 1` is `+Inf`.
pub(crate) fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut b: Vec<(f64, f64)> = buckets
        .iter()
        .copied()
        .filter(|(le, _)| !le.is_nan())
        .collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if b.last().is_none_or(|(le, _)| *le != f64::INFINITY) {
        return f64::NAN;
    }
    // Buckets of the same bound (from several series) add up.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(b.len());
    for (le, n) in b {
        match merged.last_mut() {
            Some((l, c)) if *l == le => *c += n,
            _ => merged.push((le, n)),
        }
    }
    for i in 1..merged.len() {
        if merged[i].1 < merged[i - 1].1 {
            merged[i].1 = merged[i - 1].1;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 || observations.is_nan() {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let last = merged.len() - 1;
    let i = merged[..last]
        .iter()
        .position(|(_, c)| *c >= rank)
        .unwrap_or(last);
    if i == last {
        return merged[last - 1].0;
    }
    if i == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (mut start, end, mut count) = (0.0, merged[i].0, merged[i].1);
    if i > 0 {
        start = merged[i - 1].0;
        count -= merged[i - 1].1;
        rank -= merged[i - 1].1;
    }
    start + (end - start) * (rank / count)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    #[test]
    fn interpolates_like_promql() {
        // The live capture: every request under 0.1s gives p99 = 0.099, as Prometheus answered.
        let b = [
            (0.1, 124.0),
            (0.3, 124.0),
            (1.2, 124.0),
            (5.0, 124.0),
            (INF, 124.0),
        ];
        assert!((histogram_quantile(0.99, &b) - 0.099).abs() < 1e-12);
        // Rank 50 of 100 falls in (0.1, 0.3] holding 40 of them, 10 in: 0.1 + 0.2 * 10/40.
        let b = [(0.1, 40.0), (0.3, 80.0), (INF, 100.0)];
        assert!((histogram_quantile(0.5, &b) - 0.15).abs() < 1e-12);
        // In +Inf: the highest finite bound.
        assert_eq!(histogram_quantile(0.99, &b), 0.3);
        assert_eq!(histogram_quantile(1.0, &b), 0.3);
        assert_eq!(histogram_quantile(0.0, &b), 0.0);
    }

    #[test]
    fn edge_cases() {
        assert!(
            histogram_quantile(0.5, &[(0.1, 1.0), (0.3, 2.0)]).is_nan(),
            "no +Inf"
        );
        assert!(
            histogram_quantile(0.5, &[(0.1, 0.0), (INF, 0.0)]).is_nan(),
            "no observations"
        );
        assert!(
            histogram_quantile(0.5, &[(INF, 3.0)]).is_nan(),
            "one bucket"
        );
        assert_eq!(
            histogram_quantile(-0.1, &[(1.0, 1.0), (INF, 1.0)]),
            f64::NEG_INFINITY
        );
        assert_eq!(histogram_quantile(1.1, &[(1.0, 1.0), (INF, 1.0)]), INF);
        assert_eq!(histogram_quantile(0.5, &[(-1.0, 5.0), (INF, 6.0)]), -1.0);
        // Unsorted, duplicate bounds (two series) and a non-monotonic count.
        let b = [
            (INF, 50.0),
            (0.3, 20.0),
            (0.1, 10.0),
            (0.1, 30.0),
            (0.3, 15.0),
            (INF, 50.0),
        ];
        // merged: 0.1→40, 0.3→35→raised to 40, +Inf→100; rank 50 falls in +Inf → 0.3.
        assert_eq!(histogram_quantile(0.5, &b), 0.3);
        assert!((histogram_quantile(0.2, &b) - 0.05).abs() < 1e-12);
    }
}
