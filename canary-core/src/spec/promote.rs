//! How a successful canary becomes stable, and the deadlines of every call.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::{
    default_call_timeout, default_converge_timeout, default_retry_timeout, default_rollback_timeout,
};
use crate::model::HumanDuration;

/// How stable takes over the canary's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum PromoteStrategy {
    /// Update stable to the canary's image (pinned by ID) while the canary keeps its share, then
    /// move all traffic to stable and scale the canary to 0 (Flagger's way). Default.
    #[default]
    UpdateStable,
    /// First move all traffic to the canary, then update stable, then move it all back.
    ShiftThenUpdate,
}

/// Promotion settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromoteSpec {
    /// The strategy.
    #[serde(default)]
    pub strategy: PromoteStrategy,
}

/// Deadlines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeoutsSpec {
    /// One call to the orchestrator, router, metrics or state store. Default 30s.
    #[serde(default = "default_call_timeout")]
    pub call: HumanDuration,
    /// A service reaching its desired state. Default 5m.
    #[serde(default = "default_converge_timeout")]
    pub converge: HumanDuration,
    /// How long a call that fails in a transient way (Docker or the state store unavailable, a
    /// call timed out) is tried again before it counts as an error. Default 1m.
    #[serde(default = "default_retry_timeout")]
    pub retry: HumanDuration,
    /// How long a rollback keeps trying to finish before it stops and says so (it stays
    /// `rolling back`: `canary rollback` or `canary run` drives it on). Default 10m.
    #[serde(default = "default_rollback_timeout")]
    pub rollback: HumanDuration,
}

impl Default for TimeoutsSpec {
    fn default() -> Self {
        TimeoutsSpec {
            call: default_call_timeout(),
            converge: default_converge_timeout(),
            retry: default_retry_timeout(),
            rollback: default_rollback_timeout(),
        }
    }
}
