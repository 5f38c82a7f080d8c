//! One app of a group: its stable and canary services, its image, its route, its build.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::{default_dockerfile, default_health_path, two, yes};
use super::CanaryReplicas;
use crate::error::{Error, Result};
use crate::model::{BuildRequest, ImageRef, ServiceName, Track};

/// One app of a group: a stable Swarm service and its canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppSpec {
    /// The app's name (as in a compose file).
    pub name: ServiceName,
    /// The stable Swarm service. Default: `name`, or `<stack>_<name>` inside a stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable: Option<ServiceName>,
    /// The canary Swarm service. Default: `<stable>-canary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<ServiceName>,
    /// The image to try as canary.
    pub image: ImageRef,
    /// The image stable runs when the group is first deployed (by `canary deploy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_image: Option<ImageRef>,
    /// The port the container listens on.
    #[serde(deserialize_with = "port")]
    pub port: u16,
    /// The Traefik rule that selects the app's traffic, e.g. ``Host(`api.localhost`) && PathPrefix(`/api`)``.
    pub rule: String,
    /// Canary tasks: a count whatever the weight (default 1), `auto` (the count follows the
    /// weight: ceil(stable × weight / 100), scaled up before a weight rises), or `{min, max}`
    /// (auto within bounds). Blue/green runs the canary at stable's size instead.
    #[serde(default)]
    pub canary_replicas: CanaryReplicas,
    /// Stable tasks when the group is first deployed. Default 2.
    #[serde(default = "two")]
    pub stable_replicas: u64,
    /// Extra environment for the canary's tasks only (e.g. a feature flag).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub canary_env: BTreeMap<String, String>,
    /// How to build the app's image (for `canary build`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildSpec>,
    /// Run tasks with an init process (fast, clean stops). Default true.
    #[serde(default = "yes")]
    pub init: bool,
    /// A path that answers 200 when the app is up, used by smoke tests.
    #[serde(default = "default_health_path")]
    pub health_path: String,
}

/// How to build an app's image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuildSpec {
    /// The build context directory, relative to the spec file.
    pub context: String,
    /// The Dockerfile inside the context. Default `Dockerfile`.
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    /// Build arguments.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

impl AppSpec {
    /// The image build of this app for `track` (the `build` section, tagged with `image` for the
    /// canary or `stableImage` for stable), with the build arguments `CANARY_TRACK`,
    /// `CANARY_IMAGE` and `CANARY_TAG` added so one Dockerfile can serve both tracks. `spec_dir`
    /// is the directory of the spec file, which `build.context` is relative to. `None` when the
    /// app has no build section.
    pub fn build_request(&self, track: Track, spec_dir: &Path) -> Result<Option<BuildRequest>> {
        let Some(b) = &self.build else {
            return Ok(None);
        };
        let tag = match track {
            Track::Canary => self.image.clone(),
            Track::Stable => self.stable_image.clone().ok_or_else(|| {
                Error::invalid(
                    "stableImage",
                    format!(
                        "{}: building stable needs stableImage in the spec (the tag to build)",
                        self.name
                    ),
                )
            })?,
        };
        let mut args = b.args.clone();
        args.insert("CANARY_TRACK".into(), track.to_string());
        args.insert("CANARY_IMAGE".into(), tag.to_string());
        args.insert(
            "CANARY_TAG".into(),
            tag.tag().unwrap_or("latest").to_string(),
        );
        Ok(Some(BuildRequest {
            context: spec_dir.join(&b.context),
            dockerfile: b.dockerfile.clone(),
            tag,
            args,
        }))
    }

    /// The stable service name (explicit, or the app's name, stack-prefixed inside a stack).
    pub fn stable_service(&self, stack: Option<&ServiceName>) -> Result<ServiceName> {
        match (&self.stable, stack) {
            (Some(s), _) => Ok(s.clone()),
            (None, Some(stack)) => self.name.in_stack(stack),
            (None, None) => Ok(self.name.clone()),
        }
    }

    /// The canary service name (explicit, or `<stable>-canary`).
    pub fn canary_service(&self, stack: Option<&ServiceName>) -> Result<ServiceName> {
        match &self.canary {
            Some(c) => Ok(c.clone()),
            None => self.stable_service(stack)?.with_suffix("-canary"),
        }
    }
}

/// A port as people write it, with a message that says the range rather than the type.
fn port<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<u16, D::Error> {
    let n = i64::deserialize(d)?;
    u16::try_from(n).map_err(|_| serde::de::Error::custom(format!("{n} is not a port (0-65535)")))
}
