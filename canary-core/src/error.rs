//! The one error type every trait method and engine call returns.
//!
//! Each variant tells the caller what to do next: fix the input, create the missing thing, re-read
//! and retry, wait and retry, or give up. Implementation crates keep their own private errors and
//! convert them into this one at their edge.
//!
//! # Causes
//!
//! The variants that can come from a library's failure ([`Error::InvalidInput`] (a spec file that
//! cannot be read or parsed), [`Error::NotFound`], [`Error::Conflict`], [`Error::Unavailable`],
//! [`Error::Rejected`], [`Error::Internal`]) carry the library error that caused them (bollard's,
//! reqwest's, serde_json's, std's io error), returned by
//! [`std::error::Error::source`] as the library's own type, so a program can downcast it and the
//! bindings hand it on (Python's `__cause__`, JavaScript's `cause`).
//!
//! The message keeps the cause's words as well: the CLI, the dashboard, the events and the logs
//! print an error's `Display` alone, and each of them must still say what Docker or Traefik said.
//! So a printer that joins `Display` with every `source()` (anyhow's `{:#}`) repeats the cause's
//! words; print `Display` alone, and use the chain for the structured cause. The cause is never a
//! secret: edges pass the library error only where its text is already fit for the message.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The result type of this crate and of every trait implementation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The underlying failure of an [`Error`]: shared, so that `Error` stays `Clone`.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, sorted by what a caller can do about it.
///
/// `PartialEq` compares the kind and the words and ignores the [`Cause`]: two errors that say the
/// same thing are the same answer to a caller (and a replayed recording, which keeps only the
/// words, must equal the live error it recorded), and library errors are not comparable anyway.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The input is wrong (a spec field, a name, a weight). Fix it; retrying will not help.
    /// `field` is a path into the input such as `traffic.steps[2]`, or empty when the whole input is
    /// at fault.
    InvalidInput {
        /// Path of the offending field.
        field: String,
        /// Why it was rejected.
        reason: String,
        /// The library error that found it wrong (an unreadable file, a parse error), if any.
        source: Option<Cause>,
    },
    /// Something that must exist does not (a service, an image, a saved rollout).
    NotFound {
        /// What kind of thing: "service", "image", "rollout", ...
        kind: String,
        /// Its name.
        name: String,
        /// What the server said, if anything.
        detail: Option<String>,
        /// The library error that reported it, if any.
        source: Option<Cause>,
    },
    /// Someone else changed the same object or owns it (another controller, a concurrent
    /// `docker service update`). Re-read and decide; do not blindly retry the same write.
    Conflict {
        /// What conflicts with what.
        message: String,
        /// The library error that reported it, if any.
        source: Option<Cause>,
    },
    /// A dependency is down or answered with a transient failure. Retrying later may succeed.
    Unavailable {
        /// Which dependency, and its words.
        message: String,
        /// The library error that reported it, if any.
        source: Option<Cause>,
    },
    /// An operation did not finish in time.
    Timeout {
        /// What was being waited for.
        what: String,
        /// How long we waited.
        after: Duration,
    },
    /// A deployment did not come up: a task failed to start, crashed or stayed unhealthy. The
    /// message is the orchestrator's own words for it.
    DeploymentFailed {
        /// The service whose tasks failed.
        service: String,
        /// The task's own message (image missing, exit code, health check...).
        message: String,
    },
    /// A dependency refused a request it understood (a rejected router config, a bad query).
    Rejected {
        /// Which component refused ("traefik", "prometheus", "docker").
        by: String,
        /// Its words.
        message: String,
        /// The library error that reported it, if any.
        source: Option<Cause>,
    },
    /// The rollout was stopped before promotion: analysis failed, a hook refused, or a person
    /// aborted it. The canary has been (or is being) rolled back.
    Aborted(String),
    /// A bug or an unexpected answer; report it.
    Internal {
        /// What was unexpected.
        message: String,
        /// The library error that reported it, if any.
        source: Option<Cause>,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`] without a cause; add one with [`Error::with_source`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
            source: None,
        }
    }

    /// Shorthand for [`Error::NotFound`] without detail.
    pub fn not_found(kind: impl Into<String>, name: impl Into<String>) -> Self {
        Error::NotFound {
            kind: kind.into(),
            name: name.into(),
            detail: None,
            source: None,
        }
    }

    /// Shorthand for [`Error::NotFound`] with what the server (or the caller) said about it.
    pub fn not_found_because(
        kind: impl Into<String>,
        name: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Error::NotFound {
            kind: kind.into(),
            name: name.into(),
            detail: Some(detail.into()),
            source: None,
        }
    }

    /// Shorthand for [`Error::Conflict`] without a cause; add one with [`Error::with_source`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict {
            message: message.into(),
            source: None,
        }
    }

    /// Shorthand for [`Error::Unavailable`] without a cause; add one with [`Error::with_source`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    /// Shorthand for [`Error::Rejected`] without a cause; add one with [`Error::with_source`].
    pub fn rejected(by: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Rejected {
            by: by.into(),
            message: message.into(),
            source: None,
        }
    }

    /// Shorthand for [`Error::Internal`] without a cause; add one with [`Error::with_source`].
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
            source: None,
        }
    }

    /// The same error caused by `source`, a library's error: [`std::error::Error::source`] then
    /// returns it. Variants that never wrap a library's failure (timeout, deployment failed,
    /// aborted) have no room for a cause and are returned unchanged.
    #[must_use]
    pub fn with_source(self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.with_cause(Some(Arc::new(source)))
    }

    /// The same error with `cause` (already shared, or none) in place of its cause; as
    /// [`Error::with_source`] for an edge that carries a [`Cause`] along.
    #[must_use]
    pub fn with_cause(mut self, cause: Option<Cause>) -> Self {
        match &mut self {
            Error::InvalidInput { source, .. }
            | Error::NotFound { source, .. }
            | Error::Conflict { source, .. }
            | Error::Unavailable { source, .. }
            | Error::Rejected { source, .. }
            | Error::Internal { source, .. } => *source = cause,
            Error::Timeout { .. } | Error::DeploymentFailed { .. } | Error::Aborted(_) => {}
        }
        self
    }

    /// The cause of this error, shared; [`std::error::Error::source`] returns the same error.
    pub fn cause(&self) -> Option<&Cause> {
        match self {
            Error::InvalidInput { source, .. }
            | Error::NotFound { source, .. }
            | Error::Conflict { source, .. }
            | Error::Unavailable { source, .. }
            | Error::Rejected { source, .. }
            | Error::Internal { source, .. } => source.as_ref(),
            Error::Timeout { .. } | Error::DeploymentFailed { .. } | Error::Aborted(_) => None,
        }
    }

    /// True when retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. } | Error::Timeout { .. })
    }

    /// A stable machine-readable code for this kind of error, shared by the CLI's JSON output and
    /// the bindings (`CANARY_CONFLICT`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "CANARY_INVALID_INPUT",
            Error::NotFound { .. } => "CANARY_NOT_FOUND",
            Error::Conflict { .. } => "CANARY_CONFLICT",
            Error::Unavailable { .. } => "CANARY_UNAVAILABLE",
            Error::Timeout { .. } => "CANARY_TIMEOUT",
            Error::DeploymentFailed { .. } => "CANARY_DEPLOYMENT_FAILED",
            Error::Rejected { .. } => "CANARY_REJECTED",
            Error::Aborted(_) => "CANARY_ABORTED",
            Error::Internal { .. } => "CANARY_INTERNAL",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput { field, reason, .. } if field.is_empty() => f.write_str(reason),
            Error::InvalidInput { field, reason, .. } => write!(f, "{field}: {reason}"),
            Error::NotFound {
                kind, name, detail, ..
            } => {
                write!(f, "{kind} {name:?} not found")?;
                match detail {
                    Some(d) => write!(f, ": {d}"),
                    None => Ok(()),
                }
            }
            Error::Conflict { message, .. } => write!(f, "conflict: {message}"),
            Error::Unavailable { message, .. } => write!(f, "unavailable: {message}"),
            Error::Timeout { what, after } => write!(f, "timed out after {after:?}: {what}"),
            Error::DeploymentFailed { service, message } => {
                write!(f, "deployment of {service} failed: {message}")
            }
            Error::Rejected { by, message, .. } => write!(f, "rejected by {by}: {message}"),
            Error::Aborted(message) => write!(f, "rollout aborted: {message}"),
            Error::Internal { message, .. } => write!(f, "internal error: {message}"),
        }
    }
}

impl std::error::Error for Error {
    // Hand-written rather than derived so that the source is the library's error itself, not the
    // `Arc` around it: `downcast_ref::<serde_json::Error>()` then works.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause()
            .map(|c| &**c as &(dyn std::error::Error + 'static))
    }
}

impl PartialEq for Error {
    // The cause is left out on purpose; see the type's documentation.
    fn eq(&self, other: &Self) -> bool {
        use Error as E;
        match (self, other) {
            (
                E::InvalidInput { field, reason, .. },
                E::InvalidInput {
                    field: f,
                    reason: r,
                    ..
                },
            ) => field == f && reason == r,
            (
                E::NotFound {
                    kind, name, detail, ..
                },
                E::NotFound {
                    kind: k,
                    name: n,
                    detail: d,
                    ..
                },
            ) => kind == k && name == n && detail == d,
            (E::Conflict { message, .. }, E::Conflict { message: m, .. })
            | (E::Unavailable { message, .. }, E::Unavailable { message: m, .. })
            | (E::Internal { message, .. }, E::Internal { message: m, .. })
            | (E::Aborted(message), E::Aborted(m)) => message == m,
            (E::Timeout { what, after }, E::Timeout { what: w, after: a }) => {
                what == w && after == a
            }
            (
                E::DeploymentFailed { service, message },
                E::DeploymentFailed {
                    service: s,
                    message: m,
                },
            ) => service == s && message == m,
            (
                E::Rejected { by, message, .. },
                E::Rejected {
                    by: b, message: m, ..
                },
            ) => by == b && message == m,
            _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn io(kind: std::io::ErrorKind) -> std::io::Error {
        std::io::Error::new(kind, "the disk said no")
    }

    #[test]
    fn the_source_is_the_library_error_itself() {
        let e = Error::unavailable("cannot read x: the disk said no")
            .with_source(io(std::io::ErrorKind::PermissionDenied));
        let cause = e.source().expect("a source");
        let io = cause.downcast_ref::<std::io::Error>().expect("an io error");
        assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
        // A clone shares the cause.
        let c = e.clone();
        assert!(Arc::ptr_eq(c.cause().unwrap(), e.cause().unwrap()));
        assert!(Error::unavailable("x").source().is_none());
    }

    #[test]
    fn every_variant_that_can_wrap_a_failure_returns_it() {
        for e in [
            Error::invalid("f", "r"),
            Error::not_found("service", "api"),
            Error::not_found_because("service", "api", "gone"),
            Error::conflict("c"),
            Error::unavailable("u"),
            Error::rejected("traefik", "no"),
            Error::internal("i"),
        ] {
            let code = e.code();
            let retryable = e.is_retryable();
            let text = e.to_string();
            let with = e.with_source(io(std::io::ErrorKind::Other));
            assert!(with.source().is_some(), "{code}");
            // The cause changes neither the kind, nor the words, nor the advice.
            assert_eq!(with.code(), code);
            assert_eq!(with.is_retryable(), retryable);
            assert_eq!(with.to_string(), text);
        }
        // Variants with no room for a cause stay as they were.
        let t = Error::Timeout {
            what: "w".into(),
            after: Duration::from_secs(1),
        }
        .with_source(io(std::io::ErrorKind::Other));
        assert!(t.source().is_none());
        assert!(Error::Aborted("a".into())
            .with_source(io(std::io::ErrorKind::Other))
            .source()
            .is_none());
    }

    #[test]
    fn equality_ignores_the_cause_but_not_the_words() {
        let bare = Error::conflict("update out of sequence");
        let caused = bare.clone().with_source(io(std::io::ErrorKind::Other));
        assert_eq!(bare, caused);
        assert_ne!(caused, Error::conflict("another thing"));
        assert_ne!(caused, Error::unavailable("update out of sequence"));
        assert_ne!(
            Error::rejected("traefik", "x"),
            Error::rejected("prometheus", "x")
        );
        assert_ne!(
            Error::not_found_because("service", "a", "d"),
            Error::not_found("service", "a")
        );
        assert_eq!(
            Error::invalid("f", "r").with_source(io(std::io::ErrorKind::Other)),
            Error::invalid("f", "r")
        );
    }

    #[test]
    fn display_is_unchanged() {
        assert_eq!(Error::conflict("c").to_string(), "conflict: c");
        assert_eq!(Error::unavailable("u").to_string(), "unavailable: u");
        assert_eq!(Error::internal("i").to_string(), "internal error: i");
        assert_eq!(
            Error::rejected("traefik", "no").to_string(),
            "rejected by traefik: no"
        );
        assert_eq!(Error::invalid("", "bad").to_string(), "bad");
        assert_eq!(Error::invalid("f", "bad").to_string(), "f: bad");
        assert_eq!(
            Error::not_found("service", "api").to_string(),
            "service \"api\" not found"
        );
        assert_eq!(
            Error::not_found_because("service", "api", "gone").to_string(),
            "service \"api\" not found: gone"
        );
        assert_eq!(Error::Aborted("a".into()).to_string(), "rollout aborted: a");
    }
}
