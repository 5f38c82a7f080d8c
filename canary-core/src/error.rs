//! The one error type every trait method and engine call returns.
//!
//! Each variant tells the caller what to do next: fix the input, create the missing thing, re-read
//! and retry, wait and retry, or give up. Implementation crates keep their own private errors and
//! convert them into this one at their edge.

use std::time::Duration;

/// The result type of this crate and of every trait implementation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, sorted by what a caller can do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is wrong (a spec field, a name, a weight). Fix it; retrying will not help.
    /// `field` is a path into the input such as `traffic.steps[2]`, or empty when the whole input is
    /// at fault.
    #[error("{}{reason}", if field.is_empty() { String::new() } else { format!("{field}: ") })]
    InvalidInput {
        /// Path of the offending field.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Something that must exist does not (a service, an image, a saved rollout).
    #[error("{kind} {name:?} not found{}", detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    NotFound {
        /// What kind of thing: "service", "image", "rollout", ...
        kind: String,
        /// Its name.
        name: String,
        /// What the server said, if anything.
        detail: Option<String>,
    },
    /// Someone else changed the same object or owns it (another controller, a concurrent
    /// `docker service update`). Re-read and decide; do not blindly retry the same write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A dependency is down or answered with a transient failure. Retrying later may succeed.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An operation did not finish in time.
    #[error("timed out after {after:?}: {what}")]
    Timeout {
        /// What was being waited for.
        what: String,
        /// How long we waited.
        after: Duration,
    },
    /// A deployment did not come up: a task failed to start, crashed or stayed unhealthy. The
    /// message is the orchestrator's own words for it.
    #[error("deployment of {service} failed: {message}")]
    DeploymentFailed {
        /// The service whose tasks failed.
        service: String,
        /// The task's own message (image missing, exit code, health check...).
        message: String,
    },
    /// A dependency refused a request it understood (a rejected router config, a bad query).
    #[error("rejected by {by}: {message}")]
    Rejected {
        /// Which component refused ("traefik", "prometheus", "docker").
        by: String,
        /// Its words.
        message: String,
    },
    /// The rollout was stopped before promotion: analysis failed, a hook refused, or a person
    /// aborted it. The canary has been (or is being) rolled back.
    #[error("rollout aborted: {0}")]
    Aborted(String),
    /// A bug or an unexpected answer; report it.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::NotFound`] without detail.
    pub fn not_found(kind: impl Into<String>, name: impl Into<String>) -> Self {
        Error::NotFound {
            kind: kind.into(),
            name: name.into(),
            detail: None,
        }
    }

    /// True when retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::Timeout { .. })
    }

    /// A stable machine-readable code for this kind of error, shared by the CLI's JSON output and
    /// the bindings (`CANARY_CONFLICT`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "CANARY_INVALID_INPUT",
            Error::NotFound { .. } => "CANARY_NOT_FOUND",
            Error::Conflict(_) => "CANARY_CONFLICT",
            Error::Unavailable(_) => "CANARY_UNAVAILABLE",
            Error::Timeout { .. } => "CANARY_TIMEOUT",
            Error::DeploymentFailed { .. } => "CANARY_DEPLOYMENT_FAILED",
            Error::Rejected { .. } => "CANARY_REJECTED",
            Error::Aborted(_) => "CANARY_ABORTED",
            Error::Internal(_) => "CANARY_INTERNAL",
        }
    }
}

/// Runs `fut` with a deadline, turning an elapsed deadline into [`Error::Timeout`].
pub async fn with_timeout<T>(
    what: impl Into<String>,
    after: Duration,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(after, fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout {
            what: what.into(),
            after,
        }),
    }
}
