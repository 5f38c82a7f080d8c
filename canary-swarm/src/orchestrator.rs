//! [`SwarmOrchestrator`]: the [`Orchestrator`] on Docker Swarm.
//!
//! Every write is a read-modify-write of one service spec: read the spec and its version index,
//! change only the fields the call is about, send the spec back with that index. When someone
//! else (`docker stack deploy`, a person running `docker service update`, another controller)
//! wrote in between, Swarm answers HTTP 500 "update out of sequence"; the call then reads the
//! fresh spec, applies its own change to it again, and retries with backoff. Their change is
//! kept; after [`RetryPolicy::attempts`] lost races the call gives up with
//! [`Error::Conflict`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bollard::models::{ServiceUpdateStatus, Task};
use bollard::query_parameters::{ListTasksOptions, LogsOptions, TagImageOptions};
use bollard::Docker;
use canary_core::model::NewService;
use canary_core::traits::{BuildEvent, BuildRequest, LogLine, LogOptions, TaskEndpoint};
use canary_core::{
    CanaryService, Error, ImageRef, Orchestrator, Result, ServiceName, ServiceState,
};
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use http::Method;
use serde_json::Value;

use crate::connect::ConnectOptions;
use crate::create::new_service_spec;
use crate::error::{docker_error, DockerFailure, Object};
use crate::progress::{self, Progress, Snapshot};
use crate::raw::{encode, RawClient};
use crate::retry::RetryPolicy;
use crate::spec::{self, exact, service_id, split_tag};

/// How [`Orchestrator::set_image`] and [`Orchestrator::ensure_canary`] roll tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RollingUpdate {
    /// Start each new task before stopping the old one (update order `start-first`), so the
    /// service keeps its capacity while it is updated, unless it publishes host-mode ports (a
    /// second task could not bind them on the same node). Parallelism, delay, monitor and failure
    /// action stay the user's. The canary always updates start-first.
    #[default]
    StartFirst,
    /// Leave the service's update config exactly as the user set it.
    Keep,
}

/// Called after a spec is read and before it is written back (service name, attempt from 0).
#[doc(hidden)]
pub type UpdateHook = Arc<dyn Fn(String, u32) -> BoxFuture<'static, ()> + Send + Sync>;

/// The [`Orchestrator`] on a Docker Swarm manager, through the Engine API.
///
/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct SwarmOrchestrator {
    docker: Docker,
    raw: RawClient,
    host: String,
    retry: RetryPolicy,
    poll: Duration,
    settle: Duration,
    rolling: RollingUpdate,
    hook: Option<UpdateHook>,
}

impl fmt::Debug for SwarmOrchestrator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwarmOrchestrator")
            .field("host", &self.host)
            .field("api_version", &self.api_version())
            .field("retry", &self.retry)
            .field("poll", &self.poll)
            .field("settle", &self.settle)
            .field("rolling", &self.rolling)
            .finish_non_exhaustive()
    }
}

impl SwarmOrchestrator {
    /// Connects like the Docker CLI (see [`ConnectOptions::from_env`]) and negotiates the API
    /// version with the daemon.
    pub async fn connect() -> Result<Self> {
        Self::connect_with(&ConnectOptions::from_env()).await
    }

    /// Connects with explicit options and negotiates the API version: bollard speaks a newer API
    /// than Docker 20.10 (API 1.41) accepts, and every call would fail without negotiating.
    pub async fn connect_with(options: &ConnectOptions) -> Result<Self> {
        let host = options.host.as_str();
        let docker = options.client()?.negotiate_version().await.map_err(|e| {
            let why = DockerFailure::classify(&e).to_string();
            let why = why.strip_prefix("cannot reach Docker: ").unwrap_or(&why);
            Error::unavailable(format!("cannot reach Docker at {host}: {why}")).with_source(e)
        })?;
        let raw = RawClient::new(options)?;
        tracing::debug!(host, api = %docker.client_version(), "connected to Docker");
        Ok(SwarmOrchestrator {
            docker,
            raw,
            host: host.to_string(),
            retry: RetryPolicy::default(),
            poll: Duration::from_millis(250),
            settle: Duration::from_secs(1),
            rolling: RollingUpdate::default(),
            hook: None,
        })
    }

    /// The API version in use after negotiation, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }

    /// Sets how lost update races are retried.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            attempts: retry.attempts.max(1),
            ..retry
        };
        self
    }

    /// Sets how often [`Orchestrator::wait_converged`] looks at the tasks (default 250 ms).
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll.max(Duration::from_millis(10));
        self
    }

    /// Sets how long [`Orchestrator::wait_converged`] sees the same tasks running before it
    /// calls a service converged (default 1 s): a task that crashes right after it starts shows
    /// "running" for a moment, and this is what tells it from one that stays up. Zero returns at
    /// the first converged look.
    pub fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Sets how image updates roll tasks (default [`RollingUpdate::StartFirst`]).
    pub fn with_rolling_update(mut self, rolling: RollingUpdate) -> Self {
        self.rolling = rolling;
        self
    }

    /// Runs `hook` between reading a spec and writing it back, to race a concurrent change
    /// against an update deterministically in tests.
    #[doc(hidden)]
    pub fn with_update_hook(mut self, hook: UpdateHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// A state store on the same connection.
    pub fn state_store(&self) -> crate::SwarmStateStore {
        crate::SwarmStateStore::new(self.clone())
    }

    /// `GET /services` with `filters`, as the daemon's JSON.
    pub(crate) async fn list(&self, filters: Value, object: Object<'_>) -> Result<Vec<Value>> {
        let query = format!(
            "/services?status=true&filters={}",
            encode(&filters.to_string())
        );
        let body = self
            .raw
            .call(&self.api_version(), Method::GET, &query, None)
            .await
            .map_err(|e| docker_error(e, object))?;
        serde_json::from_slice(&body).map_err(|e| {
            Error::internal(format!("cannot decode Docker's service list: {e}")).with_source(e)
        })
    }

    /// The service named exactly `name` (the daemon's JSON), or `None`.
    ///
    /// The API's `name` filter matches prefixes (`demo` also finds `demo2`) and inspecting by
    /// name also matches ID prefixes, so the list is filtered again here on the exact name.
    pub(crate) async fn find(&self, name: &str) -> Result<Option<Value>> {
        let services = self
            .list(serde_json::json!({ "name": [name] }), Object::Service(name))
            .await?;
        Ok(exact(services, name))
    }

    /// The service named exactly `name`; [`Error::NotFound`] when there is none.
    pub(crate) async fn get(&self, name: &str) -> Result<Value> {
        self.find(name).await?.ok_or_else(|| Error::NotFound {
            kind: "service".into(),
            name: name.into(),
            detail: Some("no Swarm service has this exact name".into()),
            source: None,
        })
    }

    async fn tasks(&self, service_id: &str, up_to_date: bool) -> Result<Vec<Task>> {
        let mut filters = HashMap::from([("service".to_string(), vec![service_id.to_string()])]);
        if up_to_date {
            filters.insert("_up-to-date".into(), vec!["true".into()]);
        }
        self.docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| docker_error(e, Object::Service(service_id)))
    }

    /// The service's state and how far it is from converging.
    async fn look(&self, service: &Value) -> Result<(ServiceState, Progress)> {
        let id = service_id(service);
        let spec = service.get("Spec").cloned().unwrap_or_default();
        let name = spec
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let (tasks, current) = futures::try_join!(self.tasks(&id, false), self.tasks(&id, true))?;
        let current: HashSet<String> = current.into_iter().filter_map(|t| t.id).collect();
        // Global services: the daemon counts the nodes that should run a task.
        let desired = spec::replicas(&spec).unwrap_or_else(|| {
            service
                .pointer("/ServiceStatus/DesiredTasks")
                .and_then(Value::as_u64)
                .unwrap_or(0)
        });
        let update_status: Option<ServiceUpdateStatus> = service
            .get("UpdateStatus")
            .and_then(|u| serde_json::from_value(u.clone()).ok());
        let since = service.get("UpdatedAt").and_then(Value::as_str);
        let p = progress::evaluate(Snapshot {
            desired,
            update_status: update_status.as_ref(),
            tasks: &tasks,
            up_to_date: &current,
            since,
        });
        let state = ServiceState {
            name: ServiceName::parse(&name).map_err(|e| {
                Error::internal(format!("Swarm returned a service named {name:?}: {e}"))
            })?,
            image: spec::image(&spec),
            desired,
            running: progress::running(&tasks),
            labels: spec::labels(&spec),
            converged: matches!(p, Progress::Converged(_)),
        };
        Ok((state, p))
    }

    /// Services carrying the label `key=value`.
    pub async fn services_with_label(&self, key: &str, value: &str) -> Result<Vec<ServiceState>> {
        let services = self
            .list(
                serde_json::json!({ "label": [format!("{key}={value}")] }),
                Object::None,
            )
            .await?;
        let mut out = Vec::with_capacity(services.len());
        for s in &services {
            match self.look(s).await {
                Ok((state, _)) => out.push(state),
                // Removed between the list and the look.
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The services `docker stack deploy` made for `stack` (label `com.docker.stack.namespace`),
    /// named `<stack>_<service>`. Only read: adopting a stack's services redeploys nothing.
    pub async fn stack_services(&self, stack: &ServiceName) -> Result<Vec<ServiceState>> {
        self.services_with_label(spec::STACK_NAMESPACE_LABEL, stack.as_str())
            .await
    }

    /// Removes a service; `false` when there was none.
    pub async fn remove_service(&self, name: &ServiceName) -> Result<bool> {
        let Some(service) = self.find(name.as_str()).await? else {
            return Ok(false);
        };
        let id = service_id(&service);
        match self.docker.delete_service(&id).await {
            Ok(()) => Ok(true),
            Err(e) => match DockerFailure::classify(&e) {
                DockerFailure::NotFound(_) => Ok(false),
                f => Err(f.into_error(Object::Service(name.as_str()))),
            },
        }
    }

    /// Read-modify-write of one service's spec, retried on "update out of sequence".
    ///
    /// `apply` gets the freshly read spec as the daemon sent it (and the fresh spec of `source`,
    /// when given) and must change only the fields the caller owns; it runs again on each retry,
    /// on a spec that includes whatever the other writer changed. Returns whether an update was
    /// sent: a spec that `apply` leaves as it was is not written, so repeated calls restart no
    /// task.
    pub(crate) async fn update_with(
        &self,
        name: &str,
        source: Option<&str>,
        mut apply: impl FnMut(&mut Value, Option<&Value>) -> Result<()> + Send,
    ) -> Result<bool> {
        let mut attempt: u32 = 0;
        loop {
            let service = self.get(name).await?;
            let source_spec = match source {
                Some(s) => Some(self.get(s).await?.get("Spec").cloned().unwrap_or_default()),
                None => None,
            };
            let id = service_id(&service);
            let index = service
                .pointer("/Version/Index")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    Error::internal(format!("Docker returned {name} without a version index"))
                })?;
            let current = service
                .get("Spec")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}));
            let mut next = current.clone();
            apply(&mut next, source_spec.as_ref())?;
            if spec::same_spec(&current, &next) {
                return Ok(false);
            }
            if let Some(hook) = &self.hook {
                hook(name.to_string(), attempt).await;
            }
            let path = format!("/services/{}/update?version={index}", encode(&id));
            let body = serde_json::to_vec(&next).map_err(|e| {
                Error::internal(format!("cannot encode a spec: {e}")).with_source(e)
            })?;
            // A new image (promotion) may come from a registry that wants a login; the daemon
            // keeps the previous credentials when none are sent.
            let image = |s: &Value| {
                s.pointer("/TaskTemplate/ContainerSpec/Image")
                    .and_then(Value::as_str)
                    .map(String::from)
            };
            let auth = match image(&next) {
                Some(i) if image(&current).as_deref() != Some(i.as_str()) => {
                    crate::push::service_auth_header(&i)?
                }
                _ => None,
            };
            match self
                .raw
                .call_with_auth(
                    &self.api_version(),
                    Method::POST,
                    &path,
                    Some(body),
                    auth.as_deref(),
                )
                .await
            {
                Ok(response) => {
                    let warnings: Option<Vec<String>> = serde_json::from_slice::<Value>(&response)
                        .ok()
                        .and_then(|v| serde_json::from_value(v.get("Warnings")?.clone()).ok());
                    for w in warnings.into_iter().flatten() {
                        tracing::warn!(service = name, "Docker: {w}");
                    }
                    return Ok(true);
                }
                Err(e) => match DockerFailure::classify(&e) {
                    DockerFailure::OutOfSequence(message) => {
                        attempt += 1;
                        if attempt >= self.retry.attempts {
                            return Err(Error::conflict(format!(
                                "{name} kept changing under us: {attempt} updates lost the race ({message})"
                            ))
                            .with_source(e));
                        }
                        let wait = self.retry.backoff(attempt);
                        tracing::debug!(
                            service = name,
                            attempt,
                            ?wait,
                            "update out of sequence; reading again"
                        );
                        tokio::time::sleep(wait).await;
                    }
                    f => return Err(f.into_error(Object::Service(name))),
                },
            }
        }
    }

    /// Last output lines of a task, best effort and briefly: the app's own words on why it
    /// exited are there, not in the task status.
    async fn last_output(&self, task_id: &str) -> Option<String> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: "5".into(),
            ..Default::default()
        };
        let read = async {
            let mut lines = Vec::new();
            let mut stream = self.docker.task_logs(task_id, Some(options));
            while let Some(Ok(out)) = stream.next().await {
                let text = String::from_utf8_lossy(out.as_ref()).to_string();
                lines.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(String::from),
                );
            }
            lines
        };
        let lines = tokio::time::timeout(Duration::from_secs(2), read)
            .await
            .ok()?;
        (!lines.is_empty()).then(|| lines.join(" | "))
    }
}

#[async_trait]
impl Orchestrator for SwarmOrchestrator {
    async fn inspect(&self, service: &ServiceName) -> Result<ServiceState> {
        let s = self.get(service.as_str()).await?;
        Ok(self.look(&s).await?.0)
    }

    async fn ensure_canary(&self, req: &CanaryService) -> Result<ServiceState> {
        if req.name == req.from {
            return Err(Error::invalid(
                "name",
                "the canary service must not be the stable service",
            ));
        }
        let stable = self
            .get(req.from.as_str())
            .await?
            .get("Spec")
            .cloned()
            .unwrap_or_default();
        if self.find(req.name.as_str()).await?.is_none() {
            let body = serde_json::to_vec(&spec::canary_spec(&stable, None, req)).map_err(|e| {
                Error::internal(format!("cannot encode a spec: {e}")).with_source(e)
            })?;
            let auth = crate::push::service_auth_header(req.image.as_str())?;
            match self
                .raw
                .call_with_auth(
                    &self.api_version(),
                    Method::POST,
                    "/services/create",
                    Some(body),
                    auth.as_deref(),
                )
                .await
            {
                Ok(_) => {
                    tracing::info!(canary = %req.name, stable = %req.from, image = %req.image, "created the canary");
                    return self.inspect(&req.name).await;
                }
                // Someone created it meanwhile: update it below instead.
                Err(e) if matches!(DockerFailure::classify(&e), DockerFailure::Conflict(_)) => {}
                Err(e) => return Err(docker_error(e, Object::Service(req.name.as_str()))),
            }
        }
        let updated = self
            .update_with(
                req.name.as_str(),
                Some(req.from.as_str()),
                |spec, stable| {
                    let stable = stable.expect("source requested");
                    let next = spec::canary_spec(stable, Some(&*spec), req);
                    *spec = next;
                    Ok(())
                },
            )
            .await?;
        if updated {
            tracing::info!(canary = %req.name, image = %req.image, replicas = req.replicas, "updated the canary");
        }
        self.inspect(&req.name).await
    }

    async fn scale(&self, service: &ServiceName, replicas: u64) -> Result<()> {
        self.update_with(service.as_str(), None, |spec, _| {
            if spec::replicas(spec).is_none() {
                return Err(Error::invalid(
                    "replicas",
                    format!(
                        "{service} is not a replicated service; only replicated services scale"
                    ),
                ));
            }
            spec::set_replicas(spec, replicas);
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn update_labels(
        &self,
        service: &ServiceName,
        labels: &BTreeMap<String, Option<String>>,
    ) -> Result<()> {
        self.update_with(service.as_str(), None, |spec, _| {
            let current = spec::labels_mut(spec);
            for (k, v) in labels {
                match v {
                    Some(v) => current.insert(k.clone(), Value::String(v.clone())),
                    None => current.remove(k),
                };
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn set_image(&self, service: &ServiceName, image: &ImageRef) -> Result<()> {
        let rolling = self.rolling;
        self.update_with(service.as_str(), None, |spec, _| {
            if spec::image(spec) == image.as_str() {
                return Ok(());
            }
            spec::set_image(spec, image.as_str());
            if rolling == RollingUpdate::StartFirst {
                spec::prefer_start_first(spec);
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn pin_image(&self, image: &ImageRef) -> Result<ImageRef> {
        let found = self
            .docker
            .inspect_image(image.as_str())
            .await
            .map_err(|e| docker_error(e, Object::Image(image.as_str())))?;
        let (repo, _) = split_tag(image.as_str().split('@').next().unwrap_or_default());
        let digests = found.repo_digests.unwrap_or_default();
        // A repo digest names the same bytes on every node that pulls it; an image ID only
        // exists where the image was built or loaded, which is all a local image has.
        let pinned = digests
            .iter()
            .find(|d| d.split('@').next() == Some(repo))
            .or_else(|| digests.first())
            .cloned()
            .or(found.id)
            .ok_or_else(|| Error::internal(format!("Docker returned no ID for image {image}")))?;
        ImageRef::parse(&pinned)
    }

    async fn wait_converged(
        &self,
        service: &ServiceName,
        timeout: Duration,
    ) -> Result<ServiceState> {
        let start = Instant::now();
        // A task that crashes at once can show "running" for a moment; converged counts only
        // once the same tasks still run `settle` later.
        let mut settling: Option<(Instant, Vec<String>)> = None;
        loop {
            let s = self.get(service.as_str()).await?;
            let (state, p) = self.look(&s).await?;
            let why = match p {
                Progress::Converged(ids) => {
                    match &settling {
                        _ if self.settle.is_zero() => return Ok(state),
                        Some((since, seen)) if *seen == ids => {
                            if since.elapsed() >= self.settle {
                                return Ok(state);
                            }
                        }
                        _ => settling = Some((Instant::now(), ids)),
                    }
                    // Converged at the deadline is converged.
                    if start.elapsed() >= timeout {
                        return Ok(state);
                    }
                    "settling".to_string()
                }
                Progress::Failed { task, message } => {
                    let output = match &task {
                        Some(id) => self.last_output(id).await,
                        None => None,
                    };
                    let message = match output {
                        Some(o) => format!("{message}; last output: {o}"),
                        None => message,
                    };
                    return Err(Error::DeploymentFailed {
                        service: service.to_string(),
                        message,
                    });
                }
                Progress::Pending(why) => {
                    settling = None;
                    why
                }
            };
            if start.elapsed() >= timeout {
                return Err(Error::Timeout {
                    what: format!("{service} to converge ({why})"),
                    after: timeout,
                });
            }
            let left = timeout.saturating_sub(start.elapsed());
            tokio::time::sleep(self.poll.min(left).max(Duration::from_millis(1))).await;
        }
    }

    async fn logs(
        &self,
        service: &ServiceName,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogLine>>> {
        let id = service_id(&self.get(service.as_str()).await?);
        let since = options
            .since_secs
            .map(|secs| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                i32::try_from(now.saturating_sub(secs)).unwrap_or(i32::MAX)
            })
            .unwrap_or(0);
        let query = LogsOptions {
            follow: options.follow,
            stdout: true,
            stderr: true,
            since,
            until: 0,
            timestamps: true,
            tail: options
                .tail
                .map(|n| n.to_string())
                .unwrap_or_else(|| "all".into()),
        };
        let name = service.to_string();
        let stream = self
            .docker
            .service_logs(&id, Some(query))
            .flat_map(move |item| {
                let lines: Vec<Result<LogLine>> = match item {
                    Ok(out) => crate::logs::lines(&name, &out),
                    Err(e) => vec![Err(docker_error(e, Object::Service(&name)))],
                };
                futures::stream::iter(lines)
            });
        Ok(stream.boxed())
    }

    async fn build_image(
        &self,
        request: &BuildRequest,
    ) -> Result<BoxStream<'static, Result<BuildEvent>>> {
        crate::build::build(self.docker.clone(), request.clone()).await
    }

    async fn create_service(&self, service: &NewService) -> Result<ServiceState> {
        service.validate()?;
        let name = service.name.as_str();
        let auth =
            crate::push::docker_config_auth(service.image.as_str())?.map(|a| a.credentials());
        self.docker
            .create_service(new_service_spec(service), auth)
            .await
            .map_err(|e| docker_error(e, Object::Service(name)))?;
        self.inspect(&service.name).await
    }

    async fn ensure_network(&self, name: &str) -> Result<bool> {
        crate::network::ensure(&self.docker, name).await
    }

    async fn task_endpoints(&self, service: &ServiceName) -> Result<Vec<TaskEndpoint>> {
        let id = service_id(&self.get(service.as_str()).await?);
        let filters = serde_json::json!({ "service": [id], "desired-state": ["running"] });
        let query = format!("/tasks?filters={}", encode(&filters.to_string()));
        let body = self
            .raw
            .call(&self.api_version(), Method::GET, &query, None)
            .await
            .map_err(|e| docker_error(e, Object::Service(service.as_str())))?;
        let tasks: Vec<Value> = serde_json::from_slice(&body).map_err(|e| {
            Error::internal(format!("cannot decode Docker's task list: {e}")).with_source(e)
        })?;
        Ok(crate::endpoints::running_endpoints(&tasks))
    }

    async fn push_image(&self, image: &ImageRef) -> Result<ImageRef> {
        let auth = crate::push::docker_config_auth(image.as_str())?;
        tracing::info!(
            image = %image,
            registry_user = auth.as_ref().and_then(|a| a.username()).unwrap_or("-"),
            "pushing"
        );
        crate::push::push(&self.docker, image, auth.as_ref()).await?;
        let found = self
            .docker
            .inspect_image(image.as_str())
            .await
            .map_err(|e| docker_error(e, Object::Image(image.as_str())))?;
        let (repo, _) = split_tag(image.as_str());
        let digest = found
            .repo_digests
            .unwrap_or_default()
            .into_iter()
            .find(|d| d.split('@').next() == Some(repo))
            .ok_or_else(|| {
                Error::internal(format!(
                    "{image} was pushed, but Docker lists no digest of {repo} for it"
                ))
            })?;
        ImageRef::parse(&digest)
    }

    async fn tag_image(&self, source: &ImageRef, target: &ImageRef) -> Result<()> {
        if target.is_pinned() {
            return Err(Error::invalid(
                "target",
                format!("{target} is an ID or a digest; a tag target is repo[:tag]"),
            ));
        }
        let (repo, tag) = split_tag(target.as_str());
        let options = TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(tag.unwrap_or("latest").to_string()),
        };
        self.docker
            .tag_image(source.as_str(), Some(options))
            .await
            .map_err(|e| docker_error(e, Object::Image(source.as_str())))
    }
}

#[cfg(test)]
mod tests;
