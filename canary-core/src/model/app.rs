//! Which app and which version: [`AppRef`] (an app with its Swarm services) and [`Track`].

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ServiceName;
use crate::error::{Error, Result};

/// Which version of an app: the one in production, or the one being tried.
// In rustdoc only: the JSON Schema takes its descriptions from the doc comments.
#[cfg_attr(
    doc,
    doc = "",
    doc = "Deliberately exhaustive: a canary deployment has exactly two sides, and every match on \
           a track (service names, labels, routes) is meant to handle both."
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Track {
    /// The version in production.
    Stable,
    /// The version being tried.
    Canary,
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Track::Stable => "stable",
            Track::Canary => "canary",
        })
    }
}

impl FromStr for Track {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "stable" => Ok(Track::Stable),
            "canary" => Ok(Track::Canary),
            other => Err(Error::invalid(
                "track",
                format!("{other:?} is neither \"stable\" nor \"canary\""),
            )),
        }
    }
}

/// An app with its Swarm service names resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppRef {
    /// The app's name.
    pub name: ServiceName,
    /// The stable Swarm service.
    pub stable: ServiceName,
    /// The canary Swarm service.
    pub canary: ServiceName,
}

impl AppRef {
    /// The service of a track.
    pub fn service(&self, track: Track) -> &ServiceName {
        match track {
            Track::Stable => &self.stable,
            Track::Canary => &self.canary,
        }
    }
}
