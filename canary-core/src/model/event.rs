//! What happened in a rollout: [`Event`], with the figures and the reason behind it. Sent to
//! subscribers as it happens and kept, the last few, in the saved state.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AnalysisReport, Phase};

// A JSON Schema too: a spec's notifications name the kinds they send.
/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum EventKind {
    /// A new rollout began.
    Started,
    /// A saved rollout was picked up.
    Resumed,
    /// A hook answered.
    Hook,
    /// The canary services run.
    CanaryReady,
    /// A weight is in force.
    WeightSet,
    /// A step's analysis.
    Analysis,
    /// Waiting (interval, confirmation, pause).
    Waiting,
    /// A manual control was received.
    Command,
    /// Paused.
    Paused,
    /// Promotion began.
    Promoting,
    /// Promoted.
    Promoted,
    /// Rollback began.
    RollingBack,
    /// Rolled back.
    RolledBack,
    /// Stopped on an error.
    Failed,
    /// A retryable failure is being retried.
    Retry,
    /// The canary's running tasks changed and the routes followed.
    CanaryTasks,
    /// A canary runs no task any more.
    CanaryLost,
    /// The canary's image tag now names another image (nothing changes).
    TagMoved,
    /// A gate step holds the rollout, or opened.
    Gate,
    /// The canary's task count changed to follow its weight (`canaryReplicas: auto`) or to
    /// carry stable's load while stable takes the new version.
    CanaryScaled,
    /// A promotion's handover: stable left the routing while it takes the new version (the
    /// canary serving everything), or takes it in place when the canary cannot serve everything.
    Handover,
}

/// One event of a rollout; each carries the figures and the reason behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Unix time in ms.
    pub at_ms: u64,
    /// The group.
    pub group: String,
    /// What happened.
    pub kind: EventKind,
    /// The phase after it.
    pub phase: Phase,
    /// The step index.
    pub step: usize,
    /// The number of steps.
    pub steps: usize,
    /// The canary weight in force.
    pub weight: u8,
    /// Why, in words.
    pub message: String,
    /// The analysis, for analysis events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisReport>,
}
