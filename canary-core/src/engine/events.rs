//! What a rollout tells the world: its [`Event`]s, how it ended ([`Outcome`]), its [`Status`]
//! and what a command did ([`CommandOutcome`]).

use serde::{Deserialize, Serialize};

use super::Rollout;
use crate::model::{AnalysisReport, Event, EventKind, StepPlan};
use crate::state::{now_ms, Command, Phase, RolloutState, HISTORY};
use crate::traits::{AppSplit, ServiceState};

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "result")]
#[non_exhaustive]
pub enum Outcome {
    /// Stable runs the canary's version with all traffic.
    Promoted,
    /// The canary was taken out; stable untouched.
    RolledBack {
        /// Why.
        cause: String,
    },
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
    /// Apps whose stable runs another image than the last promotion or the compose file names
    /// ([`mod@crate::ops::drift`]). The engine leaves it empty; a caller that knows the compose
    /// file fills it (`canary-sdk`'s `Canary::status`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<crate::model::Drift>,
    /// Replicas mode: each step's replica counts and how close they come to its weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_plan: Option<Vec<StepPlan>>,
}

/// What a [`Rollout::command`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "result")]
#[non_exhaustive]
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
        let event = Event {
            at_ms: now_ms(),
            group: self.spec.group.to_string(),
            kind,
            phase: st.phase,
            step: st.step,
            steps: self.steps.len(),
            weight: st.weight,
            message,
            analysis,
        };
        if let Ok(mut unsaved) = self.unsaved.lock() {
            unsaved.push(event.clone());
            // Bounded even if saves fail for a long time.
            let excess = unsaved.len().saturating_sub(HISTORY);
            unsaved.drain(..excess);
        }
        let _ = self.events.send(event);
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
