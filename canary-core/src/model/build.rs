//! An image build as the spec asks for it and the orchestrator carries it out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ImageRef;

/// An image build: [`BuildRequest::new`] and the chained setters.
///
/// ```
/// use std::collections::BTreeMap;
///
/// use canary_core::model::BuildRequest;
/// use canary_core::ImageRef;
///
/// let request = BuildRequest::new("./api", ImageRef::parse("api:v2").unwrap())
///     .dockerfile("api.Dockerfile")
///     .args(BTreeMap::from([("GREETING".to_string(), "hello".to_string())]));
/// assert_eq!(request.dockerfile, "api.Dockerfile");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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

impl BuildRequest {
    /// Builds `context` (its `Dockerfile`, no build arguments) into `tag`.
    pub fn new(context: impl Into<std::path::PathBuf>, tag: ImageRef) -> Self {
        BuildRequest {
            context: context.into(),
            dockerfile: "Dockerfile".into(),
            tag,
            args: BTreeMap::new(),
        }
    }
    /// Sets the Dockerfile path inside the context.
    #[must_use]
    pub fn dockerfile(mut self, dockerfile: impl Into<String>) -> Self {
        self.dockerfile = dockerfile.into();
        self
    }
    /// Sets the build arguments.
    #[must_use]
    pub fn args(mut self, args: BTreeMap<String, String>) -> Self {
        self.args = args;
        self
    }
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
