//! [`RetryPolicy`]: how a Swarm update that lost a race with another writer is retried.

use std::time::Duration;

/// How often and how patiently a lost update race is retried. Built from
/// [`RetryPolicy::default`] with the chained setters:
///
/// ```
/// use std::time::Duration;
///
/// use canary_swarm::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .attempts(3)
///     .initial_backoff(Duration::from_millis(10))
///     .max_backoff(Duration::from_millis(50));
/// assert_eq!(policy.attempts, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Update attempts in all before [`canary_core::Error::Conflict`]; at least 1.
    pub attempts: u32,
    /// Wait before the first retry; doubled after each further loss.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 50 ms doubling to at most 2 s: about 5 s of losing before giving up.
    fn default() -> Self {
        RetryPolicy {
            attempts: 8,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Sets the update attempts in all (at least 1).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// Sets the wait before the first retry.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the longest wait between two attempts.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The wait before retry `n` (1-based), with up to a quarter of random jitter so two writers
    /// that lost to each other do not collide again in lockstep.
    pub(crate) fn backoff(&self, n: u32) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << n.saturating_sub(1).min(16))
            .min(self.max_backoff);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let quarter = (base.as_nanos() / 4).max(1) as u64;
        base + Duration::from_nanos(nanos as u64 % quarter)
    }
}
