//! [`Canary`]: one group's spec with its backends wired from [`Settings`], and every operation a
//! front end offers (deploy, smoke test, rollout, status, commands, logs, builds). The CLI, the
//! Python package and the Node package each call these and only print or convert.
//!
//! Every rollout made here posts the spec's notifications ([`canary_traefik::Notifier`]) from the
//! moment it is made until it is dropped, so no front end has code of its own for them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use canary_core::ops::{self, DeployOptions, DeployStep, SmokeOptions, SmokeReport};
use canary_core::spec::{MetricKind, WebMetric};
use canary_core::traits::{BuildEvent, LogLine, LogOptions};
use canary_core::{
    AppRoute, Command, CommandOutcome, Deps, Error, HookRunner, MetricsSource, Orchestrator,
    Result, Rollout, RolloutOptions, Spec, Status, Track,
};
use canary_swarm::{ConnectOptions, SwarmOrchestrator};
use canary_traefik::{
    BackendNames, Notifier, NotifierTask, PrometheusMetrics, ProviderVersion, RouteProvider,
    ScrapeTask, TraefikAccessLog, TraefikRouter, TraefikScrapeMetrics, WebMetrics, WebhookRunner,
};
use futures::stream::{self, BoxStream, StreamExt};

use crate::settings::{MetricsBackend, RouterBackend, Settings};

/// A group's spec with its backends. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Canary {
    spec: Spec,
    spec_dir: PathBuf,
    /// The compose file the spec came from (write-back and drift), if it did.
    pub(crate) compose: Option<PathBuf>,
    settings: Settings,
    routes: Vec<AppRoute>,
    deps: Deps,
    _scrape: Option<ScrapeTask>,
    notifier: Notifier,
    /// The runtime the group was made on: rollouts made outside one (a binding's synchronous
    /// call) still get their notifier.
    runtime: Option<tokio::runtime::Handle>,
    /// The notifiers of the rollouts made here, until they finish.
    notifying: Mutex<Vec<NotifierTask>>,
}

/// What a test notification got ([`Canary::test_notifications`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationTest {
    /// The notification's name.
    pub name: String,
    /// Its kind: `slack`, `teams`, `discord`, `json`.
    pub kind: String,
    /// Where it goes: `scheme://host[:port]`, or `$VAR` for a URL read from the environment.
    pub target: String,
    /// The HTTP status, when it was delivered.
    pub status: Option<u16>,
    /// Why not, when it was not (never holds the URL).
    pub error: Option<String>,
}

/// `(app, track, Traefik service)` of every app: the names Traefik's metrics carry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backend {
    /// The app.
    pub app: String,
    /// The track.
    pub track: Track,
    /// Traefik's name of the track's service: stable's Swarm backend (`neotix-neotix-api@swarm`),
    /// the canary's tasks load balancer (`canary-neotix--api--tasks@file`).
    pub service: String,
}

/// An image pushed to its registry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pushed {
    /// The app.
    pub app: String,
    /// The track whose image it is.
    pub track: Track,
    /// The tag pushed (`10.213.0.1:5000/neotix-api:v2`).
    pub image: String,
    /// Its registry digest (`10.213.0.1:5000/neotix-api@sha256:…`).
    pub digest: String,
}

/// The Swarm state store alone (every group's saved rollout), for readers without a spec such
/// as a dashboard listing the groups.
pub async fn state_store(settings: &Settings) -> Result<Arc<dyn canary_core::StateStore>> {
    settings.validate()?;
    let mut options = ConnectOptions::from_env();
    if let Some(h) = settings.docker_host.as_ref().filter(|h| !h.is_empty()) {
        options.host = h.clone();
    }
    let swarm = SwarmOrchestrator::connect_with(&options).await?;
    Ok(Arc::new(swarm.state_store()))
}

/// The spec's `web` metrics, each with the path of its `metric` field.
fn web_metrics(spec: &Spec) -> Vec<(String, &WebMetric)> {
    let a = &spec.analysis;
    let checks = a
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("analysis.checks[{i}].metric"), &c.metric));
    let judged = a.judge.iter().flat_map(|j| {
        j.metrics
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("analysis.judge.metrics[{i}].metric"), &m.metric))
    });
    checks
        .chain(judged)
        .filter_map(|(field, m)| match m {
            MetricKind::Web(w) => Some((field, w)),
            _ => None,
        })
        .collect()
}

/// Refuses, when the group is set up rather than at its first analysis, a web metric this build
/// cannot call (`https://` without canary-traefik's `rustls` feature).
fn check_web(spec: &Spec) -> Result<()> {
    for (field, w) in web_metrics(spec) {
        WebMetrics::can_call(w).map_err(|e| match e {
            Error::InvalidInput { reason, .. } => {
                Error::invalid(format!("{field}.web.url"), reason)
            }
            other => other,
        })?;
    }
    Ok(())
}

/// `metrics`, with the spec's `web` metrics answered by HTTP ([`WebMetrics`]) when it has any,
/// so every front end reads them from the spec alone. A call without a timeout of its own gets
/// the spec's call timeout, at most 30s.
fn with_web(spec: &Spec, metrics: Arc<dyn MetricsSource>) -> Arc<dyn MetricsSource> {
    if web_metrics(spec).is_empty() {
        return metrics;
    }
    Arc::new(
        WebMetrics::new(metrics).timeout(spec.timeouts.call.get().min(Duration::from_secs(30))),
    )
}

impl Canary {
    /// Connects to Docker (negotiating the API version), builds the router, the metrics source
    /// (reading each app's stable labels for backend names; `web` metrics by HTTP) and the
    /// webhook runner, and checks the settings first.
    pub async fn connect(spec: Spec, settings: Settings) -> Result<Self> {
        settings.validate()?;
        check_web(&spec)?;
        let mut options = ConnectOptions::from_env();
        if let Some(h) = settings.docker_host.as_ref().filter(|h| !h.is_empty()) {
            options.host = h.clone();
        }
        let swarm = SwarmOrchestrator::connect_with(&options).await?;
        let router = match settings.router {
            RouterBackend::File => {
                TraefikRouter::builder(&settings.traefik_dynamic_dir, &settings.traefik_url)
                    .api_urls(settings.traefik_apis())
            }
            RouterBackend::Kv => {
                TraefikRouter::etcd_builder(&settings.kv_url, settings.traefik_apis())
                    .kv_root_key(&settings.kv_root_key)
            }
        }
        .network(&settings.network)
        .mode(spec.traffic.mode)
        .web_url(&settings.web_url)
        .build()?;
        let provider = router.provider();
        let routes = ops::routes::app_routes(&spec, &swarm).await?;
        let (metrics, scrape): (Arc<dyn MetricsSource>, _) = match settings.metrics {
            MetricsBackend::Prometheus => {
                let mut b = PrometheusMetrics::builder(&settings.prometheus_url)
                    .provider(provider)
                    .scrape_interval(settings.scrape_interval.get())
                    .timeout(spec.timeouts.call.get().min(Duration::from_secs(30)))
                    .task_metrics(spec.analysis.task_metrics.clone());
                for r in &routes {
                    b = b.route(r);
                }
                (Arc::new(b.build()?), None)
            }
            MetricsBackend::Traefik => {
                // Traefik's own /metrics has no per-task series: the apps' are in Prometheus.
                if spec.analysis.task_metrics.is_some() {
                    return Err(Error::invalid(
                        "analysis.taskMetrics",
                        "the apps' per-task metrics are read from Prometheus: use the prometheus \
                         metrics backend",
                    ));
                }
                let mut b = TraefikScrapeMetrics::builder(&settings.traefik_url).provider(provider);
                for r in &routes {
                    b = b.route(r);
                }
                let m = b.build()?;
                let task = m.start(settings.scrape_interval.get());
                (Arc::new(m), Some(task))
            }
        };
        let metrics = match &settings.traefik_access_log {
            Some(path) => {
                let mut b = TraefikAccessLog::builder(path);
                for r in &routes {
                    b = b.route(r);
                }
                crate::samples::SamplesFrom::wrap(metrics, Arc::new(b.build()?))
            }
            None => metrics,
        };
        let deps = Deps::new(
            Arc::new(swarm.clone()),
            Arc::new(router),
            with_web(&spec, metrics),
            Arc::new(swarm.state_store()),
            Arc::new(WebhookRunner::new()?),
        );
        Ok(Canary {
            notifier: Notifier::new(&spec)?,
            spec,
            spec_dir: PathBuf::from("."),
            compose: None,
            settings,
            routes,
            deps,
            _scrape: scrape,
            runtime: tokio::runtime::Handle::try_current().ok(),
            notifying: Mutex::new(Vec::new()),
        })
    }

    /// A group over backends the caller built (other implementations of the traits, test
    /// fakes). The routes are read from `deps.orchestrator`. The spec's `web` metrics, if any,
    /// are answered by HTTP in front of `deps.metrics`.
    pub async fn from_deps(spec: Spec, settings: Settings, mut deps: Deps) -> Result<Self> {
        settings.validate()?;
        check_web(&spec)?;
        deps.metrics = with_web(&spec, deps.metrics);
        let routes = ops::routes::app_routes(&spec, deps.orchestrator.as_ref()).await?;
        Ok(Canary {
            notifier: Notifier::new(&spec)?,
            spec,
            spec_dir: PathBuf::from("."),
            compose: None,
            settings,
            routes,
            deps,
            _scrape: None,
            runtime: tokio::runtime::Handle::try_current().ok(),
            notifying: Mutex::new(Vec::new()),
        })
    }

    /// The directory build contexts are relative to (the spec file's).
    #[must_use]
    pub fn with_spec_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spec_dir = dir.into();
        self
    }

    /// Reads metrics from `metrics` instead (a source written in Python or JavaScript); the
    /// spec's `web` metrics are still answered by HTTP.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsSource>) -> Self {
        self.deps.metrics = with_web(&self.spec, metrics);
        self._scrape = None;
        self
    }

    /// Reads metrics through `wrap` of the current source (a recorder, a cache), which keeps
    /// running (a background scrape goes on).
    #[must_use]
    pub fn wrap_metrics(
        mut self,
        wrap: impl FnOnce(Arc<dyn MetricsSource>) -> Arc<dyn MetricsSource>,
    ) -> Self {
        self.deps.metrics = wrap(self.deps.metrics.clone());
        self
    }

    /// Calls hooks through `hooks` instead of plain webhooks.
    #[must_use]
    pub fn with_hooks(mut self, hooks: Arc<dyn HookRunner>) -> Self {
        self.deps.hooks = hooks;
        self
    }

    /// The spec.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The backends the engine drives.
    pub fn deps(&self) -> &Deps {
        &self.deps
    }

    /// Each app's route as it was when connected.
    pub fn routes(&self) -> &[AppRoute] {
        &self.routes
    }

    /// Traefik's service name of every app's tracks.
    pub fn backends(&self) -> Result<Vec<Backend>> {
        let provider = match self.settings.router {
            RouterBackend::File => RouteProvider::File,
            RouterBackend::Kv => RouteProvider::Etcd,
        };
        let mut names = BackendNames::new(ProviderVersion::V3).with_provider(provider);
        let mut out = Vec::new();
        for r in &self.routes {
            names.learn(r)?;
            for track in [Track::Stable, Track::Canary] {
                out.push(Backend {
                    app: r.app.name.to_string(),
                    track,
                    service: names.name(r.app.service(track)),
                });
            }
        }
        Ok(out)
    }

    /// Deploys the group ([`canary_core::ops::deploy()`]) on the settings' network unless
    /// `options` names another.
    pub async fn deploy(
        &self,
        options: &DeployOptions,
        on_step: &mut (dyn FnMut(&DeployStep) + Send),
    ) -> Result<Vec<DeployStep>> {
        let mut options = options.clone();
        if options.network.is_none() {
            options.network = Some(self.settings.network.clone());
        }
        ops::deploy(&self.spec, &self.deps, &options, on_step).await
    }

    /// Smoke-tests the group ([`canary_core::ops::smoke_test()`]).
    pub async fn smoke_test(&self, options: &SmokeOptions) -> Result<SmokeReport> {
        ops::smoke_test(&self.spec, &self.deps, options).await
    }

    /// A rollout of the group; the lease is the settings' unless `options` set one. The spec's
    /// notifications are posted for every event it emits from now until it is dropped (see
    /// [`Canary::flush_notifications`] before a process exits).
    pub fn rollout(&self, options: RolloutOptions) -> Result<Rollout> {
        let rollout = Rollout::new(self.spec.clone(), self.deps.clone(), options)?;
        if !self.notifier.is_empty() {
            // Subscribed before the rollout is handed out, so no event is missed.
            let events = rollout.subscribe();
            let rt = tokio::runtime::Handle::try_current()
                .ok()
                .or_else(|| self.runtime.clone());
            match rt {
                Some(rt) => {
                    let task = self.notifier.start_on(&rt, events);
                    let mut tasks = self.notifying.lock().unwrap_or_else(|p| p.into_inner());
                    tasks.retain(|t| !t.is_finished());
                    tasks.push(task);
                }
                None => tracing::warn!(
                    group = %self.spec.group,
                    "no Tokio runtime to post notifications on: this rollout sends none"
                ),
            }
        }
        Ok(rollout)
    }

    /// Waits, at most `within`, until the notifications of the rollouts made here that were
    /// dropped have all been posted; returns whether they have. A process calls it before it
    /// exits, so the last events (promoted, rolled back) are not lost with the runtime. Rollouts
    /// still alive keep their notifiers open, and are waited for until `within`.
    pub async fn flush_notifications(&self, within: Duration) -> bool {
        let mut tasks =
            std::mem::take(&mut *self.notifying.lock().unwrap_or_else(|p| p.into_inner()));
        let deadline = tokio::time::Instant::now() + within;
        let mut all = true;
        for t in &mut tasks {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            all &= t.finish(left).await;
        }
        tasks.retain(|t| !t.is_finished());
        self.notifying
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(tasks);
        all
    }

    /// Sends one test notification to each of the spec's notifications, whatever events they
    /// filter, and says what each got. Nothing else is touched.
    pub async fn test_notifications(&self) -> Vec<NotificationTest> {
        test_notifications(&self.notifier).await
    }

    /// The rollout's saved state, the split in force, the services, and the drift of stable
    /// from the last promotion and the compose file ([`Canary::drift_check`]).
    pub async fn status(&self) -> Result<Status> {
        // Reads only: no events, so no notifier.
        let mut status = Rollout::new(self.spec.clone(), self.deps.clone(), self.controller())?
            .status()
            .await?;
        status.drift = self.drift_check().check(&status).await?;
        Ok(status)
    }

    /// A manual control, from `by` (`cli:host/pid`, `python:...`).
    pub async fn command(&self, cmd: Command, by: &str) -> Result<CommandOutcome> {
        self.rollout(self.controller())?.command_by(cmd, by).await
    }

    /// This process's controller options with the settings' lease.
    pub fn controller(&self) -> RolloutOptions {
        RolloutOptions::default().lease(self.settings.lease.get())
    }

    /// The log lines of `track`'s services, of one app or all of them, merged as they come.
    pub async fn logs(
        &self,
        track: Track,
        app: Option<&str>,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogLine>>> {
        let apps = self.pick(app)?;
        let mut streams = Vec::new();
        for a in apps {
            let service = a.service(track).clone();
            streams.push(self.deps.orchestrator.logs(&service, options).await?);
        }
        Ok(stream::select_all(streams).boxed())
    }

    /// Builds `track`'s image of each app with a build section (one app, or all), with `args`
    /// added to the spec's build arguments. Each event says its app.
    pub async fn build(
        &self,
        track: Track,
        app: Option<&str>,
        args: &BTreeMap<String, String>,
    ) -> Result<BoxStream<'static, Result<(String, BuildEvent)>>> {
        self.pick(app)?;
        let mut streams = Vec::new();
        for spec_app in self
            .spec
            .apps
            .iter()
            .filter(|a| app.is_none_or(|n| n == a.name.as_str()))
        {
            let Some(mut request) = spec_app.build_request(track, &self.spec_dir)? else {
                continue;
            };
            request.args.extend(args.clone());
            let name = spec_app.name.to_string();
            let s = self.deps.orchestrator.build_image(&request).await?;
            streams.push(s.map(move |e| e.map(|e| (name.clone(), e))).boxed());
        }
        // One build after another, in the spec's order.
        Ok(stream::iter(streams).flatten().boxed())
    }

    /// Pushes `track`'s image of each app with a build section (one app, or all) to its registry
    /// (`registry:port/name:tag` in the spec), with the Docker CLI's credentials for it, and
    /// returns each one's registry digest (`repo@sha256:…`): what canary creation and promotion
    /// then pin, and what every node of the cluster pulls. Apps without an image for `track` (no
    /// `stableImage`) are left out.
    pub async fn push(&self, track: Track, app: Option<&str>) -> Result<Vec<Pushed>> {
        self.pick(app)?;
        let mut out = Vec::new();
        for spec_app in self
            .spec
            .apps
            .iter()
            .filter(|a| a.build.is_some() && app.is_none_or(|n| n == a.name.as_str()))
        {
            let image = match track {
                Track::Canary => spec_app.image.clone(),
                Track::Stable => match &spec_app.stable_image {
                    Some(i) => i.clone(),
                    None => continue,
                },
            };
            let pinned = self.deps.orchestrator.push_image(&image).await?;
            out.push(Pushed {
                app: spec_app.name.to_string(),
                track,
                image: image.to_string(),
                digest: pinned.to_string(),
            });
        }
        Ok(out)
    }

    fn pick(&self, app: Option<&str>) -> Result<Vec<canary_core::AppRef>> {
        let apps: Vec<_> = self
            .spec
            .app_refs()
            .into_iter()
            .filter(|r| app.is_none_or(|n| n == r.name.as_str()))
            .collect();
        if apps.is_empty() {
            return Err(Error::invalid(
                "app",
                format!("no app named {:?} in the spec", app.unwrap_or("")),
            ));
        }
        Ok(apps)
    }

    /// The stable services that do not exist, as an error that says what to do.
    pub async fn require_stable(&self) -> Result<()> {
        let mut missing = Vec::new();
        for app in self.spec.app_refs() {
            match self.deps.orchestrator.inspect(&app.stable).await {
                Ok(_) => {}
                Err(Error::NotFound { .. }) => missing.push(app.stable.to_string()),
                Err(e) => return Err(e),
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::NotFound {
            kind: "stable service".into(),
            name: missing.join(", "),
            detail: Some("deploy the group first (canary deploy)".into()),
            source: None,
        })
    }

    /// The orchestrator, for the stack helpers of this crate.
    pub(crate) fn orchestrator(&self) -> &dyn Orchestrator {
        self.deps.orchestrator.as_ref()
    }
}

/// [`Canary::test_notifications`] for a spec alone: needs no Docker, Traefik or Prometheus.
pub async fn test_notifications_of(spec: &Spec) -> Result<Vec<NotificationTest>> {
    Ok(test_notifications(&Notifier::new(spec)?).await)
}

async fn test_notifications(notifier: &Notifier) -> Vec<NotificationTest> {
    let note = notifier.test_note();
    let sends = notifier.notifications().iter().enumerate().map(|(i, n)| {
        let note = &note;
        async move {
            let r = notifier.send(i, note).await;
            NotificationTest {
                name: n.name.clone(),
                kind: n.kind.to_string(),
                target: n.target(),
                status: r.as_ref().ok().map(|d| d.status),
                error: r.err().map(|e| e.to_string()),
            }
        }
    });
    futures::future::join_all(sends).await
}

#[cfg(feature = "testing")]
impl Canary {
    /// A group over the in-memory world of `canary_core::memory` (feature `testing`): no Docker,
    /// no Traefik. The bindings' tests use it; add stable services to the orchestrator first.
    pub async fn in_memory(
        spec: Spec,
        orchestrator: Arc<canary_core::memory::MemoryOrchestrator>,
        router: Arc<canary_core::memory::MemoryRouter>,
        metrics: Arc<dyn MetricsSource>,
        hooks: Arc<dyn HookRunner>,
    ) -> Result<Self> {
        let deps = Deps::new(
            orchestrator,
            router,
            metrics,
            Arc::new(canary_core::MemoryStateStore::new()),
            hooks,
        );
        Self::from_deps(spec, Settings::default(), deps).await
    }
}
