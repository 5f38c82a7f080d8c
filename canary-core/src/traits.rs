//! The four seams between the engine and the world: [`Orchestrator`] (Swarm), [`Router`]
//! (Traefik), [`MetricsSource`] (Prometheus or Traefik's `/metrics`), [`StateStore`] (labels on the
//! services), plus [`HookRunner`] (HTTP webhooks).
//!
//! Inputs and outputs are plain data so the bindings can implement a trait with a Python or
//! JavaScript object later.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::{ImageRef, ServiceName, Track, Weight};
use crate::spec::{AppRef, HeaderRoute, HookSpec, MetricKind, TrafficMode};
use crate::state::RolloutState;

#[cfg(feature = "mocks")]
use mockall::automock;

/// A service as the orchestrator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceState {
    /// The service name.
    pub name: ServiceName,
    /// The image the service spec names (as written, possibly pinned).
    pub image: String,
    /// Desired replicas.
    pub desired: u64,
    /// Tasks running now.
    pub running: u64,
    /// The service's labels.
    pub labels: BTreeMap<String, String>,
    /// True when every desired task runs the current spec (and is healthy, with a health check).
    pub converged: bool,
}

/// What the canary service should look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryService {
    /// The stable service it is made from (networks, env, mounts, constraints, health check).
    pub from: ServiceName,
    /// The canary service's name.
    pub name: ServiceName,
    /// Its image.
    pub image: ImageRef,
    /// Its replicas.
    pub replicas: u64,
    /// Extra environment, on top of stable's.
    pub env: BTreeMap<String, String>,
    /// Labels to set (e.g. the router's), on top of stable's minus the ones the SDK owns.
    pub labels: BTreeMap<String, String>,
    /// Run tasks with an init process.
    pub init: bool,
}

/// Which log lines to read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogOptions {
    /// Keep streaming new lines.
    pub follow: bool,
    /// Only the last N lines per task.
    pub tail: Option<u64>,
    /// Only lines since this many seconds ago.
    pub since_secs: Option<u64>,
}

/// One log line of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    /// The service.
    pub service: String,
    /// The task (or container) it came from, if known.
    pub task: Option<String>,
    /// RFC 3339 timestamp, if known.
    pub timestamp: Option<String>,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The text, without the trailing newline.
    pub line: String,
}

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
pub enum BuildEvent {
    /// Output text.
    Output(String),
    /// The finished image's ID.
    Built(String),
}

/// Runs the services: Docker Swarm in production, mocks in tests.
#[cfg_attr(feature = "mocks", automock)]
#[async_trait]
pub trait Orchestrator: Send + Sync + Debug + 'static {
    /// The service's current state; [`crate::Error::NotFound`] when it does not exist.
    async fn inspect(&self, service: &ServiceName) -> Result<ServiceState>;
    /// Creates the canary service from the stable one, or updates it to `spec`.
    async fn ensure_canary(&self, spec: &CanaryService) -> Result<ServiceState>;
    /// Sets the desired replica count.
    async fn scale(&self, service: &ServiceName, replicas: u64) -> Result<()>;
    /// Adds or replaces labels on the service itself (not its tasks: no task restarts). A value of
    /// `None` removes the label.
    async fn update_labels(
        &self,
        service: &ServiceName,
        labels: &BTreeMap<String, Option<String>>,
    ) -> Result<()>;
    /// Sets the service's image (a rolling update).
    async fn set_image(&self, service: &ServiceName, image: &ImageRef) -> Result<()>;
    /// Resolves an image to one exact image (an ID or a digest), so an update to it really changes
    /// the service even when a tag's text does not.
    async fn pin_image(&self, image: &ImageRef) -> Result<ImageRef>;
    /// Waits until all desired tasks run the current spec; a task that fails comes back as
    /// [`crate::Error::DeploymentFailed`] with its own message.
    async fn wait_converged(
        &self,
        service: &ServiceName,
        timeout: Duration,
    ) -> Result<ServiceState>;
    /// Log lines of a service's tasks.
    async fn logs(
        &self,
        service: &ServiceName,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogLine>>>;
    /// Builds an image; the stream carries the build output.
    async fn build_image(
        &self,
        request: &BuildRequest,
    ) -> Result<BoxStream<'static, Result<BuildEvent>>>;
    /// Gives an existing image another tag.
    async fn tag_image(&self, source: &ImageRef, target: &ImageRef) -> Result<()>;
}

/// How one app is routed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoute {
    /// The app and its services.
    pub app: AppRef,
    /// The Traefik rule of the app.
    pub rule: String,
    /// Container port.
    pub port: u16,
    /// Entry points.
    pub entry_points: Vec<String>,
    /// The stable service's current labels, from which the router finds its backend (a stack's
    /// own `traefik.http.services.<name>` label, if it has one).
    pub stable_labels: BTreeMap<String, String>,
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
    /// Reads the split actually in force, per app.
    async fn read(&self, config: &RouteConfig) -> Result<Vec<AppSplit>>;
    /// Removes everything this router wrote for the group (all traffic then follows stable's own
    /// route, if any).
    async fn remove(&self, group: &ServiceName) -> Result<()>;
}

/// One metric query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricQuery {
    /// The app.
    pub app: AppRef,
    /// Which track.
    pub track: Track,
    /// What.
    pub metric: MetricKind,
    /// Over how long, ending now.
    #[serde(with = "duration_ms")]
    pub window: Duration,
}

/// A metric value, or the plain fact that there is none. No data is never zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "value")]
pub enum Observation {
    /// A value.
    Value(f64),
    /// Nothing measured (no series, NaN, no traffic).
    NoData,
}

impl Observation {
    /// The value, if any.
    pub fn value(self) -> Option<f64> {
        match self {
            Observation::Value(v) if v.is_finite() => Some(v),
            _ => None,
        }
    }
    /// Maps NaN and infinities to no data.
    pub fn from_f64(v: f64) -> Self {
        if v.is_finite() {
            Observation::Value(v)
        } else {
            Observation::NoData
        }
    }
}

/// Reads metrics: Prometheus, or Traefik's `/metrics` directly.
#[cfg_attr(feature = "mocks", automock)]
#[async_trait]
pub trait MetricsSource: Send + Sync + Debug + 'static {
    /// One value over the window.
    async fn value(&self, query: &MetricQuery) -> Result<Observation>;
    /// Samples over the window (e.g. one per few seconds), for the statistical judge. Empty means
    /// no data.
    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>>;
}

/// A state as saved, with the version to send back when writing it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Versioned {
    /// The state.
    pub state: RolloutState,
    /// Opaque version for compare-and-set.
    pub version: u64,
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
}

/// Where a hook is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HookPoint {
    /// Before traffic moves.
    PreRollout,
    /// At each step.
    Step,
    /// Before promotion.
    ConfirmPromotion,
    /// After promotion.
    PostRollout,
    /// When rolling back.
    Rollback,
}

/// What a hook is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookContext {
    /// The group.
    pub group: String,
    /// The apps' names.
    pub apps: Vec<String>,
    /// The point.
    pub point: HookPoint,
    /// The step index (0-based), if at a step.
    pub step: Option<usize>,
    /// The canary weight in force.
    pub weight: u8,
    /// The rollout's phase.
    pub phase: String,
    /// The hook's metadata from the spec.
    pub metadata: BTreeMap<String, String>,
}

/// A hook's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookOutcome {
    /// True when the hook says go.
    pub ok: bool,
    /// Its words.
    pub message: String,
}

/// Calls hooks: HTTP webhooks, or code in the host language.
#[cfg_attr(feature = "mocks", automock)]
#[async_trait]
pub trait HookRunner: Send + Sync + Debug + 'static {
    /// Calls one hook; an `Err` (unreachable, timeout) is treated like a hook that said no.
    async fn call(&self, hook: &HookSpec, context: &HookContext) -> Result<HookOutcome>;
}

/// (De)serializes a `Duration` as milliseconds.
pub mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Serializes as integer milliseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    /// Deserializes from integer milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
