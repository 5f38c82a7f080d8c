//! An image build as the spec asks for it and the orchestrator carries it out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ImageRef;

/// An image build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildRequest {
    /// Context directory on the machine running the SDK.
    pub context: std::path::PathBuf,
    /// Dockerfile path inside the context.
    pub dockerfile: String,
    /// The tag given to the result.
    pub tag: ImageRef,
    /// Build arguments.
    pub args: BTreeMap<String, String>,
}

/// A line of build output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum BuildEvent {
    /// Output text.
    Output(String),
    /// The finished image's ID.
    Built(String),
}
