//! What a rollout tells the world: its [`Event`]s, how it ended ([`Outcome`]), its [`Status`]
//! and what a command did ([`CommandOutcome`]).

use serde::{Deserialize, Serialize};

use super::Rollout;
use crate::model::AnalysisReport;
use crate::state::{now_ms, Command, Phase, RolloutState};
use crate::traits::{AppSplit, ServiceState};

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum Outcome {
    /// Stable runs the canary's version with all traffic.
    Promoted,
    /// The canary was taken out; stable untouched.
    RolledBack {
        /// Why.
        cause: String,
    },
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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

/// A rollout's state with what is really in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The group.
    pub group: String,
    /// The saved state, if a rollout was ever started.
    pub state: Option<RolloutState>,
    /// The steps' weights.
    pub steps: Vec<u8>,
    /// The split the router really has in force, per app (empty if it could not be read).
    pub splits: Vec<AppSplit>,
    /// Why the split could not be read, if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splits_error: Option<String>,
    /// Stable and canary services per app (a missing canary is left out).
    pub services: Vec<ServiceState>,
    /// Whether a live controller holds the lease.
    pub driven: bool,
}

/// What a [`Rollout::command`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum CommandOutcome {
    /// Handed to the live controller driving the rollout.
    Delivered {
        /// Its id.
        owner: String,
    },
    /// Carried out here; the phase it left the rollout in.
    Applied {
        /// The phase now.
        phase: Phase,
    },
}

impl Rollout {
    pub(super) fn emit(
        &self,
        kind: EventKind,
        st: &RolloutState,
        message: String,
        analysis: Option<AnalysisReport>,
    ) {
        tracing::info!(group = %self.spec.group, ?kind, phase = %st.phase, weight = st.weight, "{message}");
        let _ = self.events.send(Event {
            at_ms: now_ms(),
            group: self.spec.group.to_string(),
            kind,
            phase: st.phase,
            step: st.step,
            steps: self.steps.len(),
            weight: st.weight,
            message,
            analysis,
        });
    }
}

pub(super) fn command_word(cmd: Command) -> &'static str {
    match cmd {
        Command::Pause => "pause",
        Command::Resume => "resume",
        Command::Promote => "promote",
        Command::PromoteFull => "promote --full",
        Command::Abort => "abort",
    }
}
