//! [`RolloutOptions`]: how this controller behaves towards others and towards failures.

use std::time::Duration;

/// How this controller behaves towards others and towards failures.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RolloutOptions {
    /// This controller's id, `host/instance`. Two controllers with the same host part may take
    /// over each other's expired lease without being told to (a restarted `canary run`).
    pub owner: String,
    /// How long a driver's lease lasts without a heartbeat.
    pub lease: Duration,
    /// How often a waiting driver looks for commands from other processes.
    pub poll: Duration,
    /// Take over a rollout whose lease expired even when its owner ran on another host.
    pub takeover: bool,
    /// Start a new rollout even when one for the same images already ended.
    pub restart: bool,
    /// Retries of a retryable failure (unavailable, timeout) before it counts as an error.
    pub retries: u32,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        RolloutOptions {
            owner: default_owner(),
            lease: Duration::from_secs(15),
            poll: Duration::from_secs(1),
            takeover: false,
            restart: false,
            retries: 3,
        }
    }
}

impl RolloutOptions {
    /// Sets the owner id.
    #[must_use]
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }
    /// Sets the lease.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }
    /// Sets the command poll interval.
    #[must_use]
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }
    /// Allows taking over an expired lease of another host.
    #[must_use]
    pub fn takeover(mut self, takeover: bool) -> Self {
        self.takeover = takeover;
        self
    }
    /// Starts over even if a rollout of the same images ended.
    #[must_use]
    pub fn restart(mut self, restart: bool) -> Self {
        self.restart = restart;
        self
    }
    /// Sets the retries of retryable failures.
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
}

/// `host/pid`: the default owner id.
pub fn default_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "localhost".into());
    format!("{host}/{}", std::process::id())
}

pub(super) fn host_of(owner: &str) -> &str {
    owner.split('/').next().unwrap_or(owner)
}
