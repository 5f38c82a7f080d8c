//! [`Router`]: sends requests to stable or canary (Traefik in production).

use std::collections::BTreeMap;

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[cfg(feature = "mocks")]
use mockall::automock;

use crate::error::Result;
use crate::model::{AppRef, ServiceName, Track, Weight};
use crate::spec::{HeaderRoute, TrafficMode};
use crate::traits::TaskEndpoint;

/// How one app is routed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoute {
    /// The group the app belongs to (names the router's objects and the canary's metrics).
    pub group: ServiceName,
    /// The app and its services.
    pub app: AppRef,
    /// The Traefik rule of the app.
    pub rule: String,
    /// Container port.
    pub port: u16,
    /// The path that answers 200 when the app is up (smoke tests, health checks).
    pub health_path: String,
    /// Entry points.
    pub entry_points: Vec<String>,
    /// The stable service's current labels, from which the router finds its backend (a stack's
    /// own `traefik.http.services.<name>` label, if it has one).
    pub stable_labels: BTreeMap<String, String>,
    /// The canary's running tasks: the router sends the canary's share to these addresses
    /// itself, so a canary that loses its tasks never takes stable's share down with it. Empty
    /// while the canary runs nothing: its share then goes to stable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canary_endpoints: Vec<TaskEndpoint>,
}

/// The routing of a whole group at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteConfig {
    /// The group's name.
    pub group: ServiceName,
    /// Weighted or replicas.
    pub mode: TrafficMode,
    /// The apps.
    pub apps: Vec<AppRoute>,
    /// Canary weight (the same for every app of the group).
    pub canary_weight: Weight,
    /// Whether the canary is in the routing at all; false removes it from weights, header route
    /// and mirroring, so its service may then go away.
    pub canary_routed: bool,
    /// The header route to the canary.
    pub header_route: Option<HeaderRoute>,
    /// Sticky sessions.
    pub sticky: bool,
    /// Percent of stable traffic mirrored to the canary.
    pub mirror: Weight,
    /// Stable out of the routing altogether: every request goes to the canary's tasks, and
    /// nothing the router loads names stable's backend. What a promotion puts in force while
    /// stable's tasks are replaced, since a router that discovers stable by itself (Traefik's
    /// swarm provider) may lose it for a moment then, and with it every route naming it.
    /// Needs the canary routed and with tasks (weighted mode).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stable_detached: bool,
}

/// The split of one app as the router really has it in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSplit {
    /// The app.
    pub app: ServiceName,
    /// Stable's weight in force.
    pub stable: u64,
    /// Canary's weight in force.
    pub canary: u64,
    /// Whether the header route to the canary is in force.
    pub header_route: bool,
    /// Whether the router reports the app's route as enabled and without errors.
    pub healthy: bool,
}

/// One request sent through the router as a client would send it (a smoke test).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeAnswer {
    /// The URL requested.
    pub url: String,
    /// The `Host` header sent, if the rule names a host.
    pub host: Option<String>,
    /// The status, when an answer came.
    pub status: Option<u16>,
    /// The version that answered (`X-Version`, else the JSON body's `version`), if it says.
    pub version: Option<String>,
    /// Why no answer came (`timeout`, `connect`, ...).
    pub error: Option<String>,
}

/// Sends requests to stable or canary: Traefik in production.
#[cfg_attr(feature = "mocks", automock)]
#[async_trait]
pub trait Router: Send + Sync + Debug + 'static {
    /// Labels a track's Swarm service needs for this router to reach it. For stable, empty when
    /// `route.stable_labels` already give it a usable backend. The orchestrator strips `traefik.*`
    /// and `io.canary.*` labels when it copies stable's spec to the canary, then adds these.
    fn service_labels(&self, route: &AppRoute, track: Track) -> BTreeMap<String, String>;
    /// Puts `config` in force and confirms the router loaded it.
    async fn apply(&self, config: &RouteConfig) -> Result<()>;
    /// Hands `config` to the router without waiting for a confirmation: what a rollback does when
    /// the router's API cannot be reached. Safe only because a canary that leaves never takes
    /// stable's share down (its slot falls back to stable). Default: [`Router::apply`].
    async fn write(&self, config: &RouteConfig) -> Result<()> {
        self.apply(config).await
    }
    /// Waits until the router sends `route`'s stable traffic to exactly `endpoints`, stable's
    /// running tasks (after a promotion replaced them): a router that discovers stable by itself
    /// lags behind the orchestrator, and naming stable before it caught up would send requests
    /// to tasks that are gone. Default: nothing to wait for.
    async fn await_stable(&self, route: &AppRoute, endpoints: &[TaskEndpoint]) -> Result<()> {
        let _ = (route, endpoints);
        Ok(())
    }
    /// Reads the split actually in force, per app.
    async fn read(&self, config: &RouteConfig) -> Result<Vec<AppSplit>>;
    /// Removes everything this router wrote for the group (all traffic then follows stable's own
    /// route, if any).
    async fn remove(&self, group: &ServiceName) -> Result<()>;
    /// Whether the router answers at all (its API), with its own words when it does not.
    async fn check(&self) -> Result<()>;
    /// Sends one request for `route`'s health path where clients enter, with `header` set when
    /// given: what a client of the app would get now.
    async fn probe(&self, route: &AppRoute, header: Option<HeaderRoute>) -> Result<ProbeAnswer>;
}
