//! [`StateStore`]: keeps a group's rollout state where any controller can find it.

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[cfg(feature = "mocks")]
use mockall::automock;

use crate::error::Result;
use crate::model::{AppRef, ServiceName};
use crate::state::RolloutState;

/// A state as saved, with the version to send back when writing it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Versioned {
    /// The state.
    pub state: RolloutState,
    /// Opaque version for compare-and-set.
    pub version: u64,
}

/// A group whose state a store keeps, with what [`StateStore::load`] needs to read it: what a
/// dashboard lists when it was given no spec for the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRef {
    /// The group.
    pub group: ServiceName,
    /// The apps to hand to [`StateStore::load`]. A store that keeps the apps returns them as they
    /// were saved; one that only knows where it put the state returns that much (the Swarm store:
    /// one app whose `stable` is the service holding the state, the rest derived from its name).
    pub apps: Vec<AppRef>,
}

/// Keeps a group's rollout state where any controller can find it (labels on the services).
#[cfg_attr(feature = "mocks", automock)]
#[async_trait]
pub trait StateStore: Send + Sync + Debug + 'static {
    /// The saved state of the group, if any.
    async fn load(&self, group: &ServiceName, apps: &[AppRef]) -> Result<Option<Versioned>>;
    /// Saves `state` if the saved version is still `expected` (None: nothing saved yet); returns
    /// the new version, or [`crate::Error::Conflict`] when someone else wrote in between.
    async fn save(
        &self,
        group: &ServiceName,
        apps: &[AppRef],
        state: &RolloutState,
        expected: Option<u64>,
    ) -> Result<u64>;
    /// Forgets the group's state.
    async fn clear(&self, group: &ServiceName, apps: &[AppRef]) -> Result<()>;
    /// Every group this store holds a state for, sorted by name, one entry per group. The default
    /// is a store that cannot list what it keeps: no group.
    async fn groups(&self) -> Result<Vec<GroupRef>> {
        Ok(Vec::new())
    }
}
