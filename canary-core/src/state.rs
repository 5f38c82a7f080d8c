//! The saved state of a group's rollout. It is written after every transition, so a controller
//! killed at any moment resumes from it, and other processes talk to the driving one through it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{AnalysisReport, Event};
pub use crate::model::{Command, Phase};

/// Who drives a rollout, and when it last said so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// The driving controller's id.
    pub owner: String,
    /// A random number the owner drew when it took the lease: a controller that finds another
    /// epoch in the saved lease has lost it, even when its owner id is the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// Unix time (ms) of its last heartbeat, by the owner's clock. Shown to people only: whether
    /// the lease is alive is judged by watching the saved state's version move, never by
    /// comparing two machines' clocks.
    pub heartbeat_ms: u64,
    /// How long the lease lasts after a heartbeat, as its owner set it (ms). Others judge the
    /// lease by this, so controllers with different settings agree on when it expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

/// The saved state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    /// Format version of this record.
    #[serde(default = "current_format")]
    pub format: u32,
    /// The phase.
    pub phase: Phase,
    /// Index of the current step.
    pub step: usize,
    /// Canary weight in force.
    pub weight: u8,
    /// Failed analyses so far.
    pub failures: u32,
    /// Inconclusive analyses so far (reset by a conclusive one).
    pub inconclusive: u32,
    /// What each app's canary is: its image as the spec names it, and a hash of its extra env
    /// if any (never the values, which may be secrets); another image or env means another
    /// rollout.
    pub canary_images: BTreeMap<String, String>,
    /// The exact image each app's canary runs (an ID or a registry digest), resolved once when
    /// the canary is created: analysis tests this image and promotion ships it, even if the tag
    /// moves meanwhile.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub canary_pinned: BTreeMap<String, String>,
    /// Stable's image of each app before promotion started, to restore if promotion fails.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stable_images: BTreeMap<String, String>,
    /// The pinned image stable was promoted to, per app.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub promoted_images: BTreeMap<String, String>,
    /// The driving controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// A control waiting to be carried out by the driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    /// Who asked for `command` (a controller id, `dashboard:<address>`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_by: Option<String>,
    /// Why the rollout is rolling back, rolled back, paused or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The gate the rollout holds at, if any (a `pause` step whose analysis passed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// The last step whose gate was opened (so a step run again is not held twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_passed: Option<usize>,
    /// The last analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_analysis: Option<AnalysisReport>,
    /// The rollout's last events, oldest first (at most [`HISTORY`]), so a dashboard or a report
    /// in another process can show what happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Event>,
    /// Unix time (ms) the rollout started.
    pub started_ms: u64,
    /// Unix time (ms) of the last transition.
    pub updated_ms: u64,
}

/// A gate step holding the rollout at its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gate {
    /// The step it holds at.
    pub step: usize,
    /// Unix time (ms) it opens by itself; `None` waits for `canary resume` or `promote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
}

/// How many events the saved state keeps.
pub const HISTORY: usize = 64;

fn current_format() -> u32 {
    1
}

impl RolloutState {
    /// A fresh state for a rollout of `canary_images`.
    pub fn new(canary_images: BTreeMap<String, String>, now_ms: u64) -> Self {
        RolloutState {
            format: current_format(),
            phase: Phase::Pending,
            step: 0,
            weight: 0,
            failures: 0,
            inconclusive: 0,
            canary_images,
            canary_pinned: BTreeMap::new(),
            stable_images: BTreeMap::new(),
            promoted_images: BTreeMap::new(),
            lease: None,
            command: None,
            command_by: None,
            cause: None,
            gate: None,
            gate_passed: None,
            last_analysis: None,
            history: Vec::new(),
            started_ms: now_ms,
            updated_ms: now_ms,
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
