//! [`Orchestrator`]: runs the services (Docker Swarm in production).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::stream::BoxStream;
use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[cfg(feature = "mocks")]
use mockall::automock;

use crate::error::Result;
use crate::model::{BuildEvent, BuildRequest, ImageRef, NewService, ServiceName};

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

/// A running task of a service and its addresses, as a router reaches it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskEndpoint {
    /// The task's id.
    pub task: String,
    /// The node it runs on, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Its IP address on each network it is attached to, by network name.
    pub addresses: BTreeMap<String, String>,
}

/// What the canary service should look like: [`CanaryService::new`] and the chained setters
/// (the engine builds it from the spec).
///
/// ```
/// use std::collections::BTreeMap;
///
/// use canary_core::{CanaryService, ImageRef, ServiceName};
///
/// let stable = ServiceName::parse("shop_api").unwrap();
/// let canary = CanaryService::new(
///     stable.clone(),
///     stable.with_suffix("-canary").unwrap(),
///     ImageRef::parse("api:v2").unwrap(),
///     1,
/// )
/// .env(BTreeMap::from([("MODE".to_string(), "canary".to_string())]));
/// assert!(canary.init && canary.placement.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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
    /// Where the canary's tasks run, where it differs from stable's (`None`: stable's placement,
    /// copied with the rest of its spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::spec::PlacementSpec>,
}

impl CanaryService {
    /// `replicas` tasks of `image` named `name`, made from stable service `from`: with an init
    /// process, stable's environment, labels and placement unchanged.
    pub fn new(from: ServiceName, name: ServiceName, image: ImageRef, replicas: u64) -> Self {
        CanaryService {
            from,
            name,
            image,
            replicas,
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
            init: true,
            placement: None,
        }
    }
    /// Sets the extra environment.
    #[must_use]
    pub fn env(mut self, env: BTreeMap<String, String>) -> Self {
        self.env = env;
        self
    }
    /// Sets the labels.
    #[must_use]
    pub fn labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.labels = labels;
        self
    }
    /// Runs tasks with an init process, or not.
    #[must_use]
    pub fn init(mut self, init: bool) -> Self {
        self.init = init;
        self
    }
    /// Sets where the canary's tasks run (`None`: stable's placement).
    #[must_use]
    pub fn placement(mut self, placement: impl Into<Option<crate::spec::PlacementSpec>>) -> Self {
        self.placement = placement.into();
        self
    }
}

/// Which log lines to read. Built from [`LogOptions::default`] (every line, no following) with
/// the chained setters:
///
/// ```
/// use canary_core::LogOptions;
///
/// let options = LogOptions::default().follow(true).tail(100).since_secs(None);
/// assert_eq!((options.follow, options.tail, options.since_secs), (true, Some(100), None));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LogOptions {
    /// Keep streaming new lines.
    pub follow: bool,
    /// Only the last N lines per task.
    pub tail: Option<u64>,
    /// Only lines since this many seconds ago.
    pub since_secs: Option<u64>,
}

impl LogOptions {
    /// Keeps streaming new lines.
    #[must_use]
    pub fn follow(mut self, follow: bool) -> Self {
        self.follow = follow;
        self
    }
    /// Only the last `n` lines per task (`None`: all).
    #[must_use]
    pub fn tail(mut self, n: impl Into<Option<u64>>) -> Self {
        self.tail = n.into();
        self
    }
    /// Only lines of the last `secs` seconds (`None`: all).
    #[must_use]
    pub fn since_secs(mut self, secs: impl Into<Option<u64>>) -> Self {
        self.since_secs = secs.into();
        self
    }
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
    /// Pushes an image (`registry/repo:tag`) to its registry and returns it pinned by the
    /// registry's digest (`registry/repo@sha256:…`), the name every node of a cluster resolves
    /// to the same bytes. The default refuses: an orchestrator without a registry cannot push.
    async fn push_image(&self, image: &ImageRef) -> Result<ImageRef> {
        Err(crate::Error::invalid(
            "push",
            format!("this orchestrator cannot push images ({image})"),
        ))
    }
    /// Creates a service from scratch; [`crate::Error::Conflict`] when the name is taken. The
    /// service is checked first ([`NewService::validate`]).
    async fn create_service(&self, service: &NewService) -> Result<ServiceState>;
    /// Makes sure the network the services share exists (attachable overlay); `true` when it
    /// was created now. One that exists with another driver or scope is an error.
    async fn ensure_network(&self, name: &str) -> Result<bool>;
    /// The service's tasks that run now (desired and actual state running), with their
    /// addresses, sorted: what a router sends requests to. Empty when none runs.
    async fn task_endpoints(&self, service: &ServiceName) -> Result<Vec<TaskEndpoint>>;
}
