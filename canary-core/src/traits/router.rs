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

/// How one app is routed. Built with [`AppRoute::new`] and the chained setters (the engine
/// builds it from the spec):
///
/// ```
/// use canary_core::{AppRef, AppRoute, ServiceName};
///
/// let name = |s: &str| ServiceName::parse(s).unwrap();
/// let app = AppRef { name: name("api"), stable: name("shop_api"), canary: name("shop_api-canary") };
/// let route = AppRoute::new(name("shop"), app, "Host(`api.localhost`)", 8080)
///     .health_path("/healthz");
/// assert_eq!((route.port, route.health_path.as_str()), (8080, "/healthz"));
/// assert_eq!(route.entry_points, ["web"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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

impl AppRoute {
    /// `app` of `group`, matched by Traefik rule `rule`, its tasks listening on `port`; the
    /// spec's defaults for the rest (health path `/health`, entry point `web`, no labels, no
    /// canary tasks).
    pub fn new(group: ServiceName, app: AppRef, rule: impl Into<String>, port: u16) -> Self {
        AppRoute {
            group,
            app,
            rule: rule.into(),
            port,
            health_path: crate::spec::defaults::default_health_path(),
            entry_points: crate::spec::defaults::default_entry_points(),
            stable_labels: BTreeMap::new(),
            canary_endpoints: Vec::new(),
        }
    }
    /// Sets the path that answers 200 when the app is up.
    #[must_use]
    pub fn health_path(mut self, path: impl Into<String>) -> Self {
        self.health_path = path.into();
        self
    }
    /// Sets the entry points.
    #[must_use]
    pub fn entry_points(mut self, entry_points: Vec<String>) -> Self {
        self.entry_points = entry_points;
        self
    }
    /// Sets the stable service's current labels.
    #[must_use]
    pub fn stable_labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.stable_labels = labels;
        self
    }
    /// Sets the canary's running tasks.
    #[must_use]
    pub fn canary_endpoints(mut self, endpoints: Vec<TaskEndpoint>) -> Self {
        self.canary_endpoints = endpoints;
        self
    }
}

/// The routing of a whole group at one moment. Built with [`RouteConfig::new`] (all traffic on
/// stable, the canary not routed) and the chained setters (the engine builds it from the spec
/// with [`crate::routes::route_config`]):
///
/// ```
/// use canary_core::spec::{HeaderRoute, TrafficMode};
/// use canary_core::{RouteConfig, ServiceName, Weight};
///
/// let group = ServiceName::parse("shop").unwrap();
/// let config = RouteConfig::new(group, TrafficMode::Weighted, Vec::new())
///     .canary_routed(true)
///     .canary_weight(Weight::new(20).unwrap())
///     .header_route(HeaderRoute::default());
/// assert_eq!(config.canary_weight.get(), 20);
/// assert!(!config.sticky && config.header_route.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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

impl RouteConfig {
    /// `group`'s `apps` routed in `mode` with all traffic on stable: the canary not routed, no
    /// weight, header route, stickiness or mirror, stable attached.
    pub fn new(group: ServiceName, mode: TrafficMode, apps: Vec<AppRoute>) -> Self {
        RouteConfig {
            group,
            mode,
            apps,
            canary_weight: Weight::ZERO,
            canary_routed: false,
            header_route: None,
            sticky: false,
            mirror: Weight::ZERO,
            stable_detached: false,
        }
    }
    /// Sets the canary weight.
    #[must_use]
    pub fn canary_weight(mut self, weight: Weight) -> Self {
        self.canary_weight = weight;
        self
    }
    /// Puts the canary in the routing, or takes it out.
    #[must_use]
    pub fn canary_routed(mut self, routed: bool) -> Self {
        self.canary_routed = routed;
        self
    }
    /// Sets the header route to the canary (`None`: none).
    #[must_use]
    pub fn header_route(mut self, route: impl Into<Option<HeaderRoute>>) -> Self {
        self.header_route = route.into();
        self
    }
    /// Turns sticky sessions on or off.
    #[must_use]
    pub fn sticky(mut self, sticky: bool) -> Self {
        self.sticky = sticky;
        self
    }
    /// Sets the percent of stable traffic mirrored to the canary.
    #[must_use]
    pub fn mirror(mut self, mirror: Weight) -> Self {
        self.mirror = mirror;
        self
    }
    /// Takes stable out of the routing altogether, or puts it back.
    #[must_use]
    pub fn stable_detached(mut self, detached: bool) -> Self {
        self.stable_detached = detached;
        self
    }
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
