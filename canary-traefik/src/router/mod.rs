//! [`TraefikRouter`]: the [`Router`] on Traefik's file provider, swarm labels and API. This
//! module owns the builder, the group files (atomic writes, restores) and the [`Router`] methods;
//! [`confirm`] compares what Traefik loaded with what was written, [`split`] reads the split in
//! force.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use canary_core::spec::HeaderRoute;
use canary_core::spec::TrafficMode;
use canary_core::traits::{ProbeAnswer, TaskEndpoint};
use canary_core::{AppRoute, AppSplit, Error, Result, RouteConfig, Router, ServiceName, Track};

use crate::api::{ServiceInfo, TraefikApi};
use crate::backend::{self, ProviderVersion};
use crate::dynamic::{self, DynamicConfig, Rendered};
use crate::http::Auth;
use crate::probe::Prober;

mod confirm;
mod split;

/// Builds a [`TraefikRouter`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TraefikRouterBuilder {
    dynamic_dir: PathBuf,
    api_url: String,
    version: ProviderVersion,
    network: Option<String>,
    mode: TrafficMode,
    confirm_timeout: Duration,
    poll_interval: Duration,
    request_timeout: Duration,
    auth: Auth,
    web_url: Option<String>,
}

impl TraefikRouterBuilder {
    /// Where clients enter (Traefik's entry point, e.g. `http://127.0.0.1:38080`), for
    /// [`Router::probe`]. Without it, probes are refused.
    pub fn web_url(mut self, url: impl Into<String>) -> Self {
        self.web_url = Some(url.into());
        self
    }

    /// Traefik v3 (default) or v2.
    pub fn version(mut self, version: ProviderVersion) -> Self {
        self.version = version;
        self
    }

    /// The Swarm network through which Traefik reaches the tasks (`traefik.swarm.network`).
    /// Required.
    pub fn network(mut self, network: impl Into<String>) -> Self {
        self.network = Some(network.into());
        self
    }

    /// The traffic mode the canary services are labelled for (default weighted). It must match
    /// the spec's: in replicas mode the canary's labels join stable's Traefik service, in weighted
    /// mode they must not.
    pub fn mode(mut self, mode: TrafficMode) -> Self {
        self.mode = mode;
        self
    }

    /// How long to wait for Traefik to discover backends and to load a written file (default 30s;
    /// Traefik's `providersThrottleDuration` and the swarm provider's `refreshSeconds` both count).
    pub fn confirm_timeout(mut self, timeout: Duration) -> Self {
        self.confirm_timeout = timeout;
        self
    }

    /// How often the API is polled while confirming (default 200ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Deadline of one API request (default 5s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// HTTP basic authentication for the API. Never logged.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Auth::Basic {
            user: user.into(),
            password: password.into(),
        };
        self
    }

    /// Checks the options and builds the router.
    pub fn build(self) -> Result<TraefikRouter> {
        let network = self.network.ok_or_else(|| {
            Error::invalid(
                "network",
                "the Swarm network Traefik reaches the tasks on is required",
            )
        })?;
        if network.is_empty()
            || network.len() > 200
            || network.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::invalid(
                "network",
                format!("{network:?} is not a network name"),
            ));
        }
        if self.dynamic_dir.as_os_str().is_empty() {
            return Err(Error::invalid(
                "dynamicDir",
                "the file-provider directory is required",
            ));
        }
        if self.confirm_timeout.is_zero() || self.poll_interval.is_zero() {
            return Err(Error::invalid(
                "confirmTimeout",
                "timeouts and intervals must be above 0",
            ));
        }
        let prober = match &self.web_url {
            Some(u) => Some(Prober::new(u, self.request_timeout)?),
            None => None,
        };
        Ok(TraefikRouter {
            prober,
            api: TraefikApi::new(&self.api_url, self.auth, self.request_timeout)?,
            dir: self.dynamic_dir,
            version: self.version,
            network,
            mode: self.mode,
            confirm_timeout: self.confirm_timeout,
            poll_interval: self.poll_interval,
            write_lock: tokio::sync::Mutex::new(()),
        })
    }
}

/// The [`Router`] on Traefik: file provider for the routing, swarm-provider labels for the
/// backends, the API to confirm. It writes one file per canary group, `canary-<group>.yml`, in
/// the directory Traefik's file provider watches, and touches no other file there.
///
/// Every `apply` is, in order:
///
/// 1. render the group file (pure, validated: see [`crate::dynamic`] for its shape);
/// 2. wait until Traefik knows stable's backend (`<X>@swarm`), the only service of another
///    provider the file names: a service naming one Traefik does not know is disabled with its
///    router, so writing before would cut the app off;
/// 3. write the file atomically (a dot-file in the same directory, fsync, rename into place);
///    an unchanged file is not written again (every write makes Traefik reload, which resets its
///    health checks);
/// 4. poll the API until every router, middleware and service of the file is loaded exactly as
///    written (weights and sticky cookie, the slot's failover or stand-in, the canary's server URLs,
///    health check and transport, the mirror, rules, priorities, entry points, middlewares and
///    targets) and not disabled; the app's objects the new file no longer has (header router,
///    mirror, slot, tasks, retry) must be gone. A loaded object Traefik disabled is
///    [`Error::Rejected`] with Traefik's own words, and the previous file is put back.
///
/// [`Router::write`] does steps 1 and 3 only: a rollback that cannot reach the API still takes
/// the canary out of the routing.
#[derive(Debug)]
pub struct TraefikRouter {
    prober: Option<Prober>,
    dir: PathBuf,
    api: TraefikApi,
    version: ProviderVersion,
    network: String,
    mode: TrafficMode,
    confirm_timeout: Duration,
    poll_interval: Duration,
    write_lock: tokio::sync::Mutex<()>,
}

impl TraefikRouter {
    /// A builder for a router writing into `dynamic_dir` (the directory Traefik's file provider
    /// watches) and confirming through the API at `api_url` (e.g. `http://127.0.0.1:38082`).
    pub fn builder(
        dynamic_dir: impl Into<PathBuf>,
        api_url: impl Into<String>,
    ) -> TraefikRouterBuilder {
        TraefikRouterBuilder {
            dynamic_dir: dynamic_dir.into(),
            api_url: api_url.into(),
            version: ProviderVersion::V3,
            network: None,
            mode: TrafficMode::Weighted,
            confirm_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(200),
            request_timeout: Duration::from_secs(5),
            auth: Auth::None,
            web_url: None,
        }
    }

    /// The Traefik version this router writes for.
    pub fn version(&self) -> ProviderVersion {
        self.version
    }

    /// The API client.
    pub fn api(&self) -> &TraefikApi {
        &self.api
    }

    /// The path of a group's file.
    pub fn file_path(&self, group: &ServiceName) -> Result<PathBuf> {
        Ok(self.dir.join(dynamic::file_name(group)?))
    }

    /// The labels a track's Swarm service needs in `mode` (see [`Router::service_labels`]).
    pub fn labels_for(
        &self,
        route: &AppRoute,
        track: Track,
        mode: TrafficMode,
    ) -> Result<BTreeMap<String, String>> {
        backend::service_labels(
            route,
            track,
            self.version,
            &self.network,
            mode == TrafficMode::Replicas,
        )
    }

    /// Waits until Traefik knows `name` (e.g. `api@swarm`) and has it enabled, and, with
    /// `serving`, until it has at least one server (Traefik's `allowEmptyServices` keeps a service
    /// scaled to 0 as an empty load balancer that answers 503).
    pub async fn wait_for_backend(&self, name: &str, serving: bool) -> Result<ServiceInfo> {
        let start = Instant::now();
        loop {
            let last = match self.api.service(name).await {
                Ok(Some(s)) if s.status != "disabled" && s.error.is_empty() => {
                    let servers = s.load_balancer.as_ref().map(|lb| lb.servers.len());
                    if !serving || servers != Some(0) {
                        return Ok(s);
                    }
                    "it has no server".to_string()
                }
                Ok(Some(s)) => format!("it is {} ({})", s.status, s.error.join("; ")),
                Ok(None) => "Traefik does not have it".to_string(),
                Err(e) if e.is_retryable() => e.to_string(),
                Err(e) => return Err(e),
            };
            if start.elapsed() >= self.confirm_timeout {
                return Err(Error::Timeout {
                    what: format!(
                        "Traefik to discover service {name} ({last}); a Swarm service needs running tasks and the \
                         labels of service_labels to appear"
                    ),
                    after: self.confirm_timeout,
                });
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    async fn write_atomic(&self, path: &Path, text: &str) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("canary.yml");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        // A dot-file not ending in .yml: Traefik's file provider ignores it until the rename.
        let tmp = self
            .dir
            .join(format!(".{file_name}.{}.{nanos}.tmp", std::process::id()));
        let io = |e: std::io::Error, what: &str, p: &Path| {
            Error::Unavailable(format!("cannot {what} {}: {e}", p.display()))
        };
        let result = async {
            let mut f = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| io(e, "create", &tmp))?;
            f.write_all(text.as_bytes())
                .await
                .map_err(|e| io(e, "write", &tmp))?;
            f.sync_all().await.map_err(|e| io(e, "sync", &tmp))?;
            drop(f);
            tokio::fs::rename(&tmp, path)
                .await
                .map_err(|e| io(e, "rename into", path))
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    /// The group's file for `config`, its text and its path; a config of the other traffic mode is
    /// refused (the canaries' labels follow the router's mode).
    fn render(&self, config: &RouteConfig) -> Result<(Rendered, String, PathBuf)> {
        if config.mode != self.mode {
            return Err(Error::invalid(
                "traffic.mode",
                format!(
                    "this router labels canaries for {:?} mode, the config is {:?} mode; build it with .mode(...)",
                    self.mode, config.mode
                ),
            ));
        }
        let rendered = dynamic::render(config, self.version, &self.network)?;
        for app in rendered
            .apps
            .iter()
            .filter(|a| !a.skipped_endpoints.is_empty())
        {
            tracing::warn!(
                group = %config.group,
                app = %app.objects.app,
                tasks = ?app.skipped_endpoints,
                network = %self.network,
                "canary tasks without an address on Traefik's network get no traffic"
            );
        }
        let text = rendered.config.to_yaml()?;
        let path = self.file_path(&config.group)?;
        Ok((rendered, text, path))
    }

    /// Writes `text` unless the file already has it; returns the previous content. Call with the
    /// write lock held.
    async fn write_if_changed(
        &self,
        config: &RouteConfig,
        path: &Path,
        text: &str,
    ) -> Result<Option<String>> {
        let previous = self.read_file(path).await?;
        if previous.as_deref() != Some(text) {
            self.write_atomic(path, text).await?;
            tracing::info!(
                group = %config.group,
                weight = config.canary_weight.get(),
                routed = config.canary_routed,
                canary_tasks = config.apps.iter().map(|a| a.canary_endpoints.len()).sum::<usize>(),
                file = %path.display(),
                "wrote Traefik routes"
            );
        }
        Ok(previous)
    }

    async fn read_file(&self, path: &Path) -> Result<Option<String>> {
        match tokio::fs::read_to_string(path).await {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Unavailable(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }
}

#[async_trait]
impl Router for TraefikRouter {
    fn service_labels(&self, route: &AppRoute, track: Track) -> BTreeMap<String, String> {
        match self.labels_for(route, track, self.mode) {
            Ok(l) => l,
            Err(e) => {
                // `apply` refuses the same route with this error; no label can make it right.
                tracing::error!(app = %route.app.name, %track, error = %e, "no Traefik labels for this route");
                BTreeMap::new()
            }
        }
    }

    async fn apply(&self, config: &RouteConfig) -> Result<()> {
        let (rendered, text, path) = self.render(config)?;
        let _guard = self.write_lock.lock().await;
        // Stable first: never hand Traefik a service naming one it does not have.
        let required: BTreeSet<&str> = rendered
            .apps
            .iter()
            .flat_map(|a| a.requires.iter().map(String::as_str))
            .collect();
        for name in required {
            self.wait_for_backend(name, false).await?;
        }
        let previous = self.write_if_changed(config, &path, &text).await?;
        match self.confirm(&rendered, &path).await {
            Ok(()) => Ok(()),
            Err(e @ Error::Rejected { .. }) => {
                // Put the last file back so Traefik keeps serving what it served.
                match &previous {
                    Some(p) if p != &text => {
                        if let Err(restore) = self.write_atomic(&path, p).await {
                            tracing::error!(error = %restore, "could not restore the previous group file");
                        }
                    }
                    _ => {
                        let _ = tokio::fs::remove_file(&path).await;
                    }
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn await_stable(&self, route: &AppRoute, endpoints: &[TaskEndpoint]) -> Result<()> {
        let (name, want) = dynamic::stable_servers(route, endpoints, self.version, &self.network)?;
        let start = Instant::now();
        loop {
            let last = match self.api.service(&name).await {
                Ok(Some(s)) if s.status != "disabled" && s.error.is_empty() => {
                    let shown: BTreeSet<String> = s
                        .load_balancer
                        .iter()
                        .flat_map(|lb| lb.servers.iter())
                        .filter_map(|sv| sv.url.clone())
                        .collect();
                    if shown == want {
                        return Ok(());
                    }
                    format!(
                        "it sends to {} server(s), stable runs {} task(s)",
                        shown.len(),
                        want.len()
                    )
                }
                Ok(Some(s)) => format!("it is {} ({})", s.status, s.error.join("; ")),
                Ok(None) => "Traefik does not have it".to_string(),
                Err(e) if e.is_retryable() => e.to_string(),
                Err(e) => return Err(e),
            };
            if start.elapsed() >= self.confirm_timeout {
                return Err(Error::Timeout {
                    what: format!("Traefik to send {name} to stable's new tasks ({last})"),
                    after: self.confirm_timeout,
                });
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    async fn write(&self, config: &RouteConfig) -> Result<()> {
        let (_, text, path) = self.render(config)?;
        let _guard = self.write_lock.lock().await;
        self.write_if_changed(config, &path, &text).await?;
        Ok(())
    }

    async fn read(&self, config: &RouteConfig) -> Result<Vec<AppSplit>> {
        let rendered = dynamic::render(config, self.version, &self.network)?;
        let mut out = Vec::new();
        for app in &rendered.apps {
            out.push(self.split_of(app, config.mode).await?);
        }
        Ok(out)
    }

    async fn remove(&self, group: &ServiceName) -> Result<()> {
        let path = self.file_path(group)?;
        let _guard = self.write_lock.lock().await;
        let Some(text) = self.read_file(&path).await? else {
            return Ok(());
        };
        let routers: Vec<String> = DynamicConfig::from_yaml(&text)
            .map(|c| c.http.routers.into_keys().collect())
            .unwrap_or_default();
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Unavailable(format!(
                    "cannot remove {}: {e}",
                    path.display()
                )))
            }
        }
        tracing::info!(%group, file = %path.display(), "removed Traefik routes");
        let start = Instant::now();
        for r in routers {
            loop {
                match self.api.router(&format!("{r}@file")).await {
                    Ok(None) => break,
                    Ok(Some(_)) => {}
                    Err(e) if e.is_retryable() => {}
                    Err(e) => return Err(e),
                }
                if start.elapsed() >= self.confirm_timeout {
                    return Err(Error::Timeout {
                        what: format!(
                            "Traefik to drop router {r}@file after removing {}",
                            path.display()
                        ),
                        after: self.confirm_timeout,
                    });
                }
                tokio::time::sleep(self.poll_interval).await;
            }
        }
        Ok(())
    }

    async fn check(&self) -> Result<()> {
        self.api.reachable().await
    }

    async fn probe(&self, route: &AppRoute, header: Option<HeaderRoute>) -> Result<ProbeAnswer> {
        let prober = self.prober.as_ref().ok_or_else(|| {
            Error::invalid(
                "webUrl",
                "probes need the entry point's URL (TraefikRouter::builder(..).web_url(..))",
            )
        })?;
        Ok(prober.probe(route, header.as_ref()).await)
    }
}

#[cfg(test)]
mod tests;
