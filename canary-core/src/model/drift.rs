//! [`Drift`]: an app whose stable runs another image than its last promotion or its compose file
//! names, as [`crate::ops::drift`] finds it and a status carries it.

use serde::{Deserialize, Serialize};

/// What stable was compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum DriftAgainst {
    /// The image the last rollout promoted stable to.
    Promotion,
    /// The image the compose file names.
    File,
}

/// Whose image stable runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum DriftWinner {
    /// The last promotion's: the compose file is behind.
    Promotion,
    /// The compose file's: a `docker stack deploy` undid the promotion.
    File,
    /// The last `docker stack deploy`'s: the compose file was edited since.
    LastDeploy,
    /// None of them: something else changed stable (`docker service update`, another tool).
    Other,
}

/// One app whose stable runs another image than it should.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// The app.
    pub app: String,
    /// Its stable service.
    pub service: String,
    /// The image stable's spec names now.
    pub running: String,
    /// The image the last rollout promoted stable to, if the saved state says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted: Option<String>,
    /// The image the compose file names for the app's service, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<String>,
    /// The 1-based line of `declared` in the compose file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_line: Option<usize>,
    /// The image the last `docker stack deploy` named (label `com.docker.stack.image`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed: Option<String>,
    /// What stable differs from (one or both).
    pub against: Vec<DriftAgainst>,
    /// Whose image stable runs.
    pub won: DriftWinner,
    /// The drift in a sentence.
    pub message: String,
}
