//! Fault injection: a lock-free SplitMix64 generator decides which requests fail.

use std::sync::atomic::{AtomicU64, Ordering};

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64 output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Decides, per request, whether to answer with an injected 500.
#[derive(Debug)]
pub(crate) struct Faults {
    rate: f64,
    state: AtomicU64,
}

impl Faults {
    /// `rate` is the share (0..=1) of requests that fail; `seed` starts the generator.
    pub(crate) fn new(rate: f64, seed: u64) -> Self {
        Self {
            rate: rate.clamp(0.0, 1.0),
            state: AtomicU64::new(seed),
        }
    }

    /// A seed from the clock and the process id (distinct per replica and per start).
    pub(crate) fn clock_seed() -> u64 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        mix(nanos ^ (u64::from(std::process::id()) << 32))
    }

    /// Next uniform value in `[0, 1)`; safe to call from many threads.
    pub(crate) fn next_unit(&self) -> f64 {
        let s = self.state.fetch_add(GOLDEN_GAMMA, Ordering::Relaxed);
        let x = mix(s.wrapping_add(GOLDEN_GAMMA));
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether this request should fail. Rate 0 never fails, rate 1 always does.
    pub(crate) fn should_fail(&self) -> bool {
        if self.rate <= 0.0 {
            return false;
        }
        self.next_unit() < self.rate
    }
}

/// Paths exempt from fault injection and added latency.
pub(crate) fn is_exempt(path: &str) -> bool {
    matches!(
        path,
        "/health" | "/api/health" | "/gcp/api/health" | "/metrics"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(rate: f64, seed: u64, n: u32) -> f64 {
        let f = Faults::new(rate, seed);
        (0..n).filter(|_| f.should_fail()).count() as f64 / f64::from(n)
    }

    #[test]
    fn zero_and_one_are_exact() {
        assert_eq!(share(0.0, 1, 10_000), 0.0);
        assert_eq!(share(1.0, 1, 10_000), 1.0);
    }

    #[test]
    fn share_matches_rate() {
        for (rate, seed) in [(0.2, 7), (0.05, 42), (0.5, 0), (0.9, u64::MAX)] {
            let got = share(rate, seed, 100_000);
            assert!((got - rate).abs() < 0.01, "rate {rate}: got {got}");
        }
    }

    #[test]
    fn small_samples_are_not_degenerate() {
        // 200 requests at 20% should land well inside 10%..30% for any seed.
        for seed in 0..200 {
            let got = share(0.2, seed, 200);
            assert!((0.1..0.3).contains(&got), "seed {seed}: {got}");
        }
    }

    #[test]
    fn deterministic_per_seed() {
        let a = Faults::new(0.3, 99);
        let b = Faults::new(0.3, 99);
        let va: Vec<bool> = (0..64).map(|_| a.should_fail()).collect();
        let vb: Vec<bool> = (0..64).map(|_| b.should_fail()).collect();
        assert_eq!(va, vb);
        let c = Faults::new(0.3, 100);
        let vc: Vec<bool> = (0..64).map(|_| c.should_fail()).collect();
        assert_ne!(va, vc);
    }

    #[test]
    fn unit_range() {
        let f = Faults::new(0.5, 3);
        for _ in 0..10_000 {
            let u = f.next_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn exempt_paths() {
        for p in ["/health", "/api/health", "/gcp/api/health", "/metrics"] {
            assert!(is_exempt(p), "{p}");
        }
        for p in ["/", "/api", "/api/health/x", "/healthz", "/metrics/x"] {
            assert!(!is_exempt(p), "{p}");
        }
    }
}
