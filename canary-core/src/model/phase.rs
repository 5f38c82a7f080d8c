//! Where a rollout is ([`Phase`]) and what a person can ask of it ([`Command`]).

use serde::{Deserialize, Serialize};

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Not started: hooks and the canary service come next.
    Pending,
    /// Shifting traffic step by step.
    Progressing,
    /// Held by a person or by an inconclusive analysis.
    Paused,
    /// Stable is taking over the canary's version.
    Promoting,
    /// Done: stable runs the canary's version and has all traffic.
    Promoted,
    /// Taking the canary out of traffic and scaling it down.
    RollingBack,
    /// Done: the canary is out, stable untouched.
    RolledBack,
    /// Stopped on an error that needs a person; `cause` says which.
    Failed,
}

impl Phase {
    /// True for the phases a rollout ends in.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Promoted | Phase::RolledBack | Phase::Failed)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Phase::Pending => "pending",
            Phase::Progressing => "progressing",
            Phase::Paused => "paused",
            Phase::Promoting => "promoting",
            Phase::Promoted => "promoted",
            Phase::RollingBack => "rolling back",
            Phase::RolledBack => "rolled back",
            Phase::Failed => "failed",
        };
        f.write_str(s)
    }
}

/// A manual control, from this process or another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Command {
    /// Hold at the current step.
    Pause,
    /// Continue after a pause.
    Resume,
    /// Go to the next step now (promote after the last).
    Promote,
    /// Promote now, skipping the remaining steps and analysis.
    PromoteFull,
    /// Roll back now.
    Abort,
}
