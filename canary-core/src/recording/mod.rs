//! Recordings of a rollout's metrics: every query the analysis made, with its answer and when it
//! was made, and every event of the rollout, so the engine can be run again on them later
//! (`canary replay`) on a paused clock and say what it would have decided: the same again, or,
//! with other thresholds, something else.
//!
//! | module | owns |
//! |---|---|
//! | this one | the format: [`Header`], [`Entry`], [`Answer`], [`RecordedError`] |
//! | `write` | [`Recorder`]: a [`MetricsSource`](crate::MetricsSource) decorator writing a recording |
//! | `read` | [`Recording`]: a recording read back, bounded, with its steps indexed |
//! | `replay` | [`RecordedMetrics`]: the [`MetricsSource`](crate::MetricsSource) answering from a recording; [`ReplayEnd`] |
//!
//! ## The format, version 1
//!
//! JSON Lines (one JSON object per line, UTF-8). The first line is the [`Header`]:
//!
//! ```json
//! {"format":"canary-recording","version":1,"group":"neotix","startedMs":1796071982312,"spec":{...}}
//! ```
//!
//! `spec` is the validated spec the run used, with every default (what `canary replay` runs
//! again unless told otherwise), its secrets replaced by `(redacted)`: the canary's environment
//! values, hook URLs and hook metadata values (a replay starts no container and calls no hook). Every other line is an [`Entry`], `t` being milliseconds since
//! the recording started on a monotonic clock:
//!
//! ```json
//! {"type":"query","t":10012,"op":"value","query":{"app":{"name":"api","stable":"neotix_api","canary":"neotix_api-canary"},"track":"canary","metric":"successRate","window":10000},"answer":{"kind":"value","value":0.703}}
//! {"type":"query","t":10013,"op":"samples","query":{...},"answer":{"kind":"samples","values":[0.012,0.013]}}
//! {"type":"query","t":10013,"op":"value","query":{...},"answer":{"kind":"error","error":{"code":"CANARY_UNAVAILABLE","message":"prometheus: HTTP 503"}}}
//! {"type":"event","t":10030,"event":{"atMs":...,"kind":"analysis",...}}
//! {"type":"end","t":12040}
//! ```
//!
//! - `op` is `value` or `samples` (the two calls of the trait); `query` is a
//!   [`MetricQuery`] (`window` in ms);
//! - `answer` is `{"kind":"value","value":x}`, `{"kind":"noData"}`, `{"kind":"samples","values":[...]}`
//!   or `{"kind":"error","error":{...}}` ([`RecordedError`]: the error's code and fields, so a
//!   replay gives back the same error, with the same words), or `{"kind":"unanswered"}` when the
//!   analysis stopped waiting first (a replay then waits the same deadline);
//! - `event` is an [`Event`] as the rollout sent it;
//! - `end` is written when the recording is closed; a recording without it was cut (the
//!   recorder killed), and is still read.
//!
//! Lines come in the order they were written; `t` may step back by a few milliseconds between an
//! event and a query made concurrently (readers sort by `t`). Non-finite numbers are never
//! written: a value that is not finite is recorded as `noData`, and samples drop them (the
//! analysis treats both so anyway).
//!
//! **Bounds** when read ([`Recording::parse`]): a file of at most 64 MiB, lines of at most 1 MiB, at most
//! 1,000,000 entries and 100,000 samples per answer, `t` at most 7 days. A later version is
//! refused with the version this build reads; unknown fields are refused too.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::Event;
use crate::traits::MetricQuery;

mod read;
mod replay;
mod write;

pub use read::{Lookup, Recording, StepSpan, TIME_TOLERANCE_MS};
pub use replay::{RecordedMetrics, ReplayEnd};
pub use write::{Following, Recorder, REDACTED};

/// The `format` of a recording's header.
pub const FORMAT: &str = "canary-recording";
/// The version written, and the only one read.
pub const VERSION: u32 = 1;
/// The largest recording read, in bytes.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;
/// The longest line read, in bytes.
pub const MAX_LINE: usize = 1024 * 1024;
/// The most entries read.
pub const MAX_ENTRIES: usize = 1_000_000;
/// The most samples of one answer.
pub const MAX_SAMPLES: usize = 100_000;
/// The latest `t` read: 7 days, in ms.
pub const MAX_T: u64 = 7 * 24 * 3600 * 1000;

/// The first line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written by this build.
    pub version: u32,
    /// The group recorded.
    pub group: String,
    /// When the recording started, Unix ms.
    pub started_ms: u64,
    /// The spec the run used, validated, with its defaults.
    pub spec: serde_json::Value,
}

/// Which call of the metrics source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Op {
    /// [`MetricsSource::value`](crate::MetricsSource::value).
    Value,
    /// [`MetricsSource::samples`](crate::MetricsSource::samples).
    Samples,
}

/// What the source answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", deny_unknown_fields)]
#[non_exhaustive]
pub enum Answer {
    /// A value.
    Value {
        /// The value (finite).
        value: f64,
    },
    /// No data.
    NoData,
    /// Samples.
    Samples {
        /// The samples (finite).
        values: Vec<f64>,
    },
    /// An error.
    Error {
        /// Which, with its fields.
        error: RecordedError,
    },
    /// None: the caller stopped waiting first (its call deadline passed).
    Unanswered,
}

/// One line after the header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", deny_unknown_fields)]
#[non_exhaustive]
pub enum Entry {
    /// A metrics query and its answer.
    Query {
        /// ms since the recording started, when the query was asked.
        t: u64,
        /// Which call.
        op: Op,
        /// The query (boxed: a web metric's is large).
        query: Box<MetricQuery>,
        /// The answer.
        answer: Answer,
    },
    /// An event of the rollout.
    Event {
        /// ms since the recording started, when the event was seen.
        t: u64,
        /// The event.
        event: Box<Event>,
    },
    /// The recording was closed.
    End {
        /// ms since the recording started.
        t: u64,
    },
}

impl Entry {
    /// When it happened, in ms since the recording started.
    pub fn t(&self) -> u64 {
        match self {
            Entry::Query { t, .. } | Entry::Event { t, .. } | Entry::End { t } => *t,
        }
    }
}

/// An [`Error`] as recorded: its code and its fields, so a replay gives the same error back with
/// the same words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", deny_unknown_fields)]
#[non_exhaustive]
pub enum RecordedError {
    /// [`Error::InvalidInput`].
    #[serde(rename = "CANARY_INVALID_INPUT")]
    InvalidInput {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// [`Error::NotFound`].
    #[serde(rename = "CANARY_NOT_FOUND")]
    NotFound {
        /// What kind of thing.
        kind: String,
        /// Its name.
        name: String,
        /// What the server said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// [`Error::Timeout`].
    #[serde(rename = "CANARY_TIMEOUT", rename_all = "camelCase")]
    Timeout {
        /// What was waited for.
        what: String,
        /// For how long, in ms.
        after_ms: u64,
    },
    /// [`Error::Rejected`].
    #[serde(rename = "CANARY_REJECTED")]
    Rejected {
        /// Who refused.
        by: String,
        /// Their words.
        message: String,
    },
    /// [`Error::DeploymentFailed`].
    #[serde(rename = "CANARY_DEPLOYMENT_FAILED")]
    DeploymentFailed {
        /// The service.
        service: String,
        /// The message.
        message: String,
    },
    /// [`Error::Conflict`].
    #[serde(rename = "CANARY_CONFLICT")]
    Conflict {
        /// The message.
        message: String,
    },
    /// [`Error::Unavailable`].
    #[serde(rename = "CANARY_UNAVAILABLE")]
    Unavailable {
        /// The message.
        message: String,
    },
    /// [`Error::Aborted`].
    #[serde(rename = "CANARY_ABORTED")]
    Aborted {
        /// The message.
        message: String,
    },
    /// [`Error::Internal`].
    #[serde(rename = "CANARY_INTERNAL")]
    Internal {
        /// The message.
        message: String,
    },
}

impl From<&Error> for RecordedError {
    fn from(e: &Error) -> Self {
        match e {
            Error::InvalidInput { field, reason, .. } => RecordedError::InvalidInput {
                field: field.clone(),
                reason: reason.clone(),
            },
            Error::NotFound {
                kind, name, detail, ..
            } => RecordedError::NotFound {
                kind: kind.clone(),
                name: name.clone(),
                detail: detail.clone(),
            },
            Error::Timeout { what, after } => RecordedError::Timeout {
                what: what.clone(),
                after_ms: after.as_millis().min(u64::MAX as u128) as u64,
            },
            Error::Rejected { by, message, .. } => RecordedError::Rejected {
                by: by.clone(),
                message: message.clone(),
            },
            Error::DeploymentFailed { service, message } => RecordedError::DeploymentFailed {
                service: service.clone(),
                message: message.clone(),
            },
            Error::Conflict { message: m, .. } => RecordedError::Conflict { message: m.clone() },
            Error::Unavailable { message: m, .. } => {
                RecordedError::Unavailable { message: m.clone() }
            }
            Error::Aborted(m) => RecordedError::Aborted { message: m.clone() },
            Error::Internal { message: m, .. } => RecordedError::Internal { message: m.clone() },
        }
    }
}

impl From<RecordedError> for Error {
    fn from(r: RecordedError) -> Self {
        match r {
            RecordedError::InvalidInput { field, reason } => Error::invalid(field, reason),
            RecordedError::NotFound { kind, name, detail } => Error::NotFound {
                kind,
                name,
                detail,
                source: None,
            },
            RecordedError::Timeout { what, after_ms } => Error::Timeout {
                what,
                after: std::time::Duration::from_millis(after_ms),
            },
            RecordedError::Rejected { by, message } => Error::rejected(by, message),
            RecordedError::DeploymentFailed { service, message } => {
                Error::DeploymentFailed { service, message }
            }
            RecordedError::Conflict { message } => Error::conflict(message),
            RecordedError::Unavailable { message } => Error::unavailable(message),
            RecordedError::Aborted { message } => Error::Aborted(message),
            RecordedError::Internal { message } => Error::internal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_error_comes_back_with_its_words() {
        let all = [
            Error::invalid("metric.query", "bad"),
            Error::NotFound {
                kind: "service".into(),
                name: "x".into(),
                detail: Some("gone".into()),
                source: None,
            },
            Error::not_found("service", "y"),
            Error::conflict("c"),
            Error::unavailable("prometheus: HTTP 503"),
            Error::Timeout {
                what: "metrics: successRate of api canary".into(),
                after: Duration::from_millis(1500),
            },
            Error::DeploymentFailed {
                service: "s".into(),
                message: "m".into(),
            },
            Error::rejected("prometheus", "bad_data: x"),
            Error::Aborted("a".into()),
            Error::internal("i"),
        ];
        for e in all {
            let json = serde_json::to_string(&RecordedError::from(&e)).unwrap();
            let back: RecordedError = serde_json::from_str(&json).unwrap();
            let again = Error::from(back);
            assert_eq!(again, e, "{json}");
            assert_eq!(again.to_string(), e.to_string());
        }
    }
}
