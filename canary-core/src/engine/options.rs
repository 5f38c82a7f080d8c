//! [`RolloutOptions`]: how this controller behaves towards others and towards failures.

use std::time::Duration;

use crate::error::{Error, Result};

/// How this controller behaves towards others and towards failures.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RolloutOptions {
    /// This controller's id, `host/pid/nonce`: unique per process even where every container's
    /// main process is pid 1. Two controllers with the same host part may take over each other's
    /// expired lease without being told to (a restarted `canary run`).
    pub owner: String,
    /// How long a driver's lease lasts without a heartbeat.
    pub lease: Duration,
    /// How often a waiting driver looks for commands from other processes.
    pub poll: Duration,
    /// Take over a rollout whose lease expired even when its owner ran on another host.
    pub takeover: bool,
    /// Start a new rollout even when one for the same images already ended.
    pub restart: bool,
    /// Attempts of a call that fails in a retryable way (unavailable, timed out), with backoff,
    /// within the spec's `timeouts.retry`: at most 100.
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
            retries: 20,
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

/// `host/pid/nonce`: the default owner id, unique per process (the nonce tells apart two
/// containers whose controller is pid 1 on hosts with the same name).
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
    let host: String = host
        .chars()
        .filter(|c| !c.is_control() && *c != '/')
        .take(64)
        .collect();
    format!("{host}/{}/{:08x}", std::process::id(), nonce() as u32)
}

/// A random number from the OS's hash seeds (no RNG dependency): different in every process and
/// on every call.
pub(crate) fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

impl RolloutOptions {
    /// Checks every value: the lease 1s to 1h, the poll 100ms to 1h, at most 100 retries, an
    /// owner id of 1 to 200 printable characters, not all blank.
    pub fn validate(&self) -> Result<()> {
        self.validate_as("")
    }

    /// [`RolloutOptions::validate`] for options a front end was given under `prefix`: the same
    /// checks, the field of an error named `<prefix>.<field>` (`options.poll`), so every binding
    /// reports the bounds this function owns in its caller's words.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use canary_core::{Error, RolloutOptions};
    ///
    /// let options = RolloutOptions::default().poll(Duration::from_millis(1));
    /// match options.validate_as("options") {
    ///     Err(Error::InvalidInput { field, reason, .. }) => {
    ///         assert_eq!(field, "options.poll");
    ///         assert!(reason.starts_with("1ms is not between 100ms and 1h"));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn validate_as(&self, prefix: &str) -> Result<()> {
        let field = |name: &str| {
            if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            }
        };
        let s = |d: Duration| crate::model::HumanDuration(d).to_string();
        if self.lease < Duration::from_secs(1) || self.lease > Duration::from_secs(3600) {
            return Err(Error::invalid(
                field("lease"),
                format!("{} is not between 1s and 1h", s(self.lease)),
            ));
        }
        if self.poll < Duration::from_millis(100) || self.poll > Duration::from_secs(3600) {
            return Err(Error::invalid(
                field("poll"),
                format!(
                    "{} is not between 100ms and 1h (a shorter poll is a busy loop against Docker)",
                    s(self.poll)
                ),
            ));
        }
        if self.retries > 100 {
            return Err(Error::invalid(
                field("retries"),
                format!("{} is above the limit of 100", self.retries),
            ));
        }
        if self.owner.trim().is_empty()
            || self.owner.len() > 200
            || self.owner.chars().any(char::is_control)
        {
            return Err(Error::invalid(
                field("owner"),
                "an owner id has 1 to 200 printable characters, not all blank",
            ));
        }
        Ok(())
    }
}

pub(super) fn host_of(owner: &str) -> &str {
    owner.split('/').next().unwrap_or(owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: Result<()>) -> String {
        match r {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("not an invalid input: {other:?}"),
        }
    }

    #[test]
    fn validate_as_names_the_callers_field_and_keeps_the_bounds() {
        let ok = RolloutOptions::default();
        assert!(ok.validate().is_ok() && ok.validate_as("options").is_ok());
        let slow = ok.clone().poll(Duration::from_secs(3601));
        assert_eq!(field_of(slow.validate()), "poll");
        assert_eq!(field_of(slow.validate_as("options")), "options.poll");
        let edge = ok.clone().poll(Duration::from_millis(100)).retries(100);
        assert!(edge.validate_as("options").is_ok());
        let many = ok.clone().retries(101);
        assert_eq!(field_of(many.validate_as("options")), "options.retries");
        let blank = ok.owner("  ");
        assert_eq!(field_of(blank.validate_as("options")), "options.owner");
    }
}
