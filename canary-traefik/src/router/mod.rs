//! [`TraefikRouter`]: the [`Router`] on Traefik's file or etcd provider, swarm labels and API.
//! This module owns the builder and the [`Router`] methods; [`store`] writes the group configs (a
//! file, or one etcd transaction), [`confirm`] compares what each Traefik replica loaded with what
//! was written, [`split`] reads the split in force.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use canary_core::spec::HeaderRoute;
use canary_core::spec::TrafficMode;
use canary_core::traits::{ProbeAnswer, TaskEndpoint};
use canary_core::{AppRoute, AppSplit, Error, Result, RouteConfig, Router, ServiceName, Track};

use crate::api::{ServiceInfo, TraefikApi};
use crate::backend;
use crate::dynamic::{self, DynamicConfig, Rendered};
use crate::http::Auth;
use crate::kv::EtcdStore;
use crate::probe::Prober;
use crate::provider::{ProviderVersion, RouteProvider};

mod confirm;
mod split;
mod store;

use store::Store;

/// The most Traefik APIs one router confirms through.
pub const MAX_APIS: usize = 16;

/// Where the builder's router will write.
#[derive(Debug, Clone)]
enum StoreChoice {
    File(PathBuf),
    Etcd { url: String, root: String },
}

/// Builds a [`TraefikRouter`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TraefikRouterBuilder {
    store: StoreChoice,
    api_urls: Vec<String>,
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

    /// Confirm through each of these Traefik APIs (every replica that serves the routes), instead
    /// of the one given to the builder. 1 to [`MAX_APIS`].
    pub fn api_urls<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.api_urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// The root key of Traefik's etcd provider (`providers.etcd.rootKey`, default `traefik`).
    /// Only for [`TraefikRouter::etcd_builder`].
    pub fn kv_root_key(mut self, root: impl Into<String>) -> Self {
        if let StoreChoice::Etcd { root: r, .. } = &mut self.store {
            *r = root.into();
        }
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
        let store = match self.store {
            StoreChoice::File(dir) if dir.as_os_str().is_empty() => {
                return Err(Error::invalid(
                    "dynamicDir",
                    "the file-provider directory is required",
                ));
            }
            StoreChoice::File(dir) => Store::File(dir),
            StoreChoice::Etcd { url, root } => {
                Store::Etcd(EtcdStore::new(&url, &root, self.request_timeout)?)
            }
        };
        if self.api_urls.is_empty() || self.api_urls.len() > MAX_APIS {
            return Err(Error::invalid(
                "traefikApi",
                format!(
                    "{} Traefik APIs given; confirm through 1 to {MAX_APIS}",
                    self.api_urls.len()
                ),
            ));
        }
        let mut apis = Vec::with_capacity(self.api_urls.len());
        for (i, url) in self.api_urls.iter().enumerate() {
            if self.api_urls[..i].contains(url) {
                return Err(Error::invalid(
                    "traefikApi",
                    format!("{url} is given twice"),
                ));
            }
            apis.push(TraefikApi::new(
                url,
                self.auth.clone(),
                self.request_timeout,
            )?);
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
            apis,
            store,
            version: self.version,
            network,
            mode: self.mode,
            confirm_timeout: self.confirm_timeout,
            poll_interval: self.poll_interval,
            write_lock: tokio::sync::Mutex::new(()),
        })
    }
}

/// The [`Router`] on Traefik: a file-provider file or etcd keys for the routing, swarm-provider
/// labels for the backends, the API of every Traefik replica to confirm. It writes one config per
/// canary group: `canary-<group>.yml` in the directory Traefik's file provider watches
/// ([`TraefikRouter::builder`]), or the keys of the group's objects under Traefik's etcd root key
/// ([`TraefikRouter::etcd_builder`], see `crate::kv`), and touches nothing else there.
///
/// Every `apply` is, in order:
///
/// 1. render the group config (pure, validated: see `crate::dynamic` for its shape);
/// 2. wait until **every** Traefik API knows stable's backend (`<X>@swarm`), the only service of
///    another provider the config names: a service naming one Traefik does not know is disabled
///    with its router, so writing before would cut the app off;
/// 3. write the config whole: the file atomically (a dot-file in the same directory, fsync, rename
///    into place), or etcd in one transaction; an unchanged config is not written again (every
///    write makes Traefik reload, which resets its health checks);
/// 4. poll **every** Traefik API until every router, middleware and service of the config is
///    loaded exactly as written (weights and sticky cookie, the slot's failover or stand-in, the
///    canary's server URLs, health check and transport, the mirror, rules, priorities, entry
///    points, middlewares and targets) and not disabled; the app's objects the new config no
///    longer has (header router, mirror, slot, tasks, retry) must be gone. A loaded object a
///    Traefik disabled is [`Error::Rejected`] with Traefik's own words, and the previous config
///    is put back. A replica that does not show the config within the confirm timeout fails the
///    apply ([`Error::Timeout`] naming it): success means every replica routes by it.
///
/// [`Router::write`] does steps 1 and 3 only: a rollback that cannot reach the API still takes
/// the canary out of the routing.
#[derive(Debug)]
pub struct TraefikRouter {
    prober: Option<Prober>,
    store: Store,
    apis: Vec<TraefikApi>,
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
        Self::builder_for(StoreChoice::File(dynamic_dir.into()), vec![api_url.into()])
    }

    /// A builder for a router writing into etcd v3 at `kv_url` (`http://127.0.0.1:2379`, the
    /// endpoint of Traefik's etcd provider) under root key `traefik`, and confirming through every
    /// Traefik API of `api_urls` (one per replica).
    pub fn etcd_builder<I, S>(kv_url: impl Into<String>, api_urls: I) -> TraefikRouterBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::builder_for(
            StoreChoice::Etcd {
                url: kv_url.into(),
                root: "traefik".into(),
            },
            api_urls.into_iter().map(Into::into).collect(),
        )
    }

    fn builder_for(store: StoreChoice, api_urls: Vec<String>) -> TraefikRouterBuilder {
        TraefikRouterBuilder {
            store,
            api_urls,
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

    /// The API client of the first Traefik.
    pub fn api(&self) -> &TraefikApi {
        &self.apis[0]
    }

    /// The API clients of every Traefik this router confirms through.
    pub fn apis(&self) -> &[TraefikApi] {
        &self.apis
    }

    /// The Traefik provider the router's objects are in (`file` or `etcd`).
    pub fn provider(&self) -> RouteProvider {
        self.store.provider()
    }

    /// The path of a group's file (file provider only).
    pub fn file_path(&self, group: &ServiceName) -> Result<PathBuf> {
        self.store.file_path(group)
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

    /// Waits until every Traefik knows `name` (e.g. `api@swarm`) and has it enabled, and, with
    /// `serving`, until it has at least one server (Traefik's `allowEmptyServices` keeps a service
    /// scaled to 0 as an empty load balancer that answers 503). The first Traefik's view is
    /// returned.
    pub async fn wait_for_backend(&self, name: &str, serving: bool) -> Result<ServiceInfo> {
        let start = Instant::now();
        let mut first = None;
        for api in &self.apis {
            let info = self.wait_for_backend_on(api, name, serving, start).await?;
            first.get_or_insert(info);
        }
        first.ok_or_else(|| Error::internal("a router without a Traefik API"))
    }

    async fn wait_for_backend_on(
        &self,
        api: &TraefikApi,
        name: &str,
        serving: bool,
        start: Instant,
    ) -> Result<ServiceInfo> {
        let ready = |s: &ServiceInfo| {
            let servers = s.load_balancer.as_ref().map(|lb| lb.servers.len());
            if !serving || servers != Some(0) {
                Ok(())
            } else {
                Err("it has no server".to_string())
            }
        };
        self.wait_for_service_on(api, name, start, ready, |last| {
            format!(
                "Traefik at {} to discover service {name} ({last}); a Swarm service needs running tasks and the \
                 labels of service_labels to appear",
                api.url()
            )
        })
        .await
    }

    /// Polls `api` until it shows service `name` enabled, without errors, and `ready` (else the
    /// reason it is not); past the confirm timeout (counted from `start`) a timeout saying
    /// `what(last reason)`.
    async fn wait_for_service_on(
        &self,
        api: &TraefikApi,
        name: &str,
        start: Instant,
        ready: impl Fn(&ServiceInfo) -> std::result::Result<(), String>,
        what: impl Fn(&str) -> String,
    ) -> Result<ServiceInfo> {
        loop {
            let last = match api.service(name).await {
                Ok(Some(s)) if s.status != "disabled" && s.error.is_empty() => match ready(&s) {
                    Ok(()) => return Ok(s),
                    Err(why) => why,
                },
                Ok(Some(s)) => format!("it is {} ({})", s.status, s.error.join("; ")),
                Ok(None) => "Traefik does not have it".to_string(),
                Err(e) if e.is_retryable() => e.to_string(),
                Err(e) => return Err(e),
            };
            if start.elapsed() >= self.confirm_timeout {
                return Err(Error::Timeout {
                    what: what(&last),
                    after: self.confirm_timeout,
                });
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    /// The group's config for `config` and its YAML text; a config of the other traffic mode is
    /// refused (the canaries' labels follow the router's mode).
    fn render(&self, config: &RouteConfig) -> Result<(Rendered, String)> {
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
        Ok((rendered, text))
    }

    /// Writes the rendered config unless it is already in place; returns the previous text.
    /// Call with the write lock held.
    async fn write_if_changed(
        &self,
        config: &RouteConfig,
        rendered: &Rendered,
        text: &str,
    ) -> Result<Option<String>> {
        let previous = self
            .store
            .write(&config.group, &rendered.config, text)
            .await?;
        if previous.as_deref() != Some(text) {
            tracing::info!(
                group = %config.group,
                weight = config.canary_weight.get(),
                routed = config.canary_routed,
                canary_tasks = config.apps.iter().map(|a| a.canary_endpoints.len()).sum::<usize>(),
                at = %self.store.location(&config.group),
                "wrote Traefik routes"
            );
        }
        Ok(previous)
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
        let (rendered, text) = self.render(config)?;
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
        let previous = self.write_if_changed(config, &rendered, &text).await?;
        match self
            .confirm(&rendered, &self.store.location(&config.group))
            .await
        {
            Ok(()) => Ok(()),
            Err(e @ Error::Rejected { .. }) => {
                // Put the last config back so Traefik keeps serving what it served.
                let restore = match &previous {
                    Some(p) if p != &text => self.store.restore(&config.group, Some(p)).await,
                    Some(_) => Ok(()),
                    None => self.store.restore(&config.group, None).await,
                };
                if let Err(restore) = restore {
                    tracing::error!(error = %restore, "could not restore the previous group config");
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn await_stable(&self, route: &AppRoute, endpoints: &[TaskEndpoint]) -> Result<()> {
        let (name, want) = dynamic::stable_servers(route, endpoints, self.version, &self.network)?;
        let start = Instant::now();
        // Every Traefik must send to stable's new tasks: one that lags still serves the old.
        let ready = |s: &ServiceInfo| {
            let shown: BTreeSet<String> = s
                .load_balancer
                .iter()
                .flat_map(|lb| lb.servers.iter())
                .filter_map(|sv| sv.url.clone())
                .collect();
            if shown == want {
                Ok(())
            } else {
                Err(format!(
                    "it sends to {} server(s), stable runs {} task(s)",
                    shown.len(),
                    want.len()
                ))
            }
        };
        for api in &self.apis {
            self.wait_for_service_on(api, &name, start, ready, |last| {
                format!(
                    "Traefik at {} to send {name} to stable's new tasks ({last})",
                    api.url()
                )
            })
            .await?;
        }
        Ok(())
    }

    async fn write(&self, config: &RouteConfig) -> Result<()> {
        let (rendered, text) = self.render(config)?;
        let _guard = self.write_lock.lock().await;
        self.write_if_changed(config, &rendered, &text).await?;
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
        let _guard = self.write_lock.lock().await;
        let Some(text) = self.store.remove(group).await? else {
            return Ok(());
        };
        let routers: Vec<String> = DynamicConfig::from_yaml(&text)
            .map(|c| c.http.routers.into_keys().collect())
            .unwrap_or_default();
        let at = self.store.location(group);
        tracing::info!(%group, %at, "removed Traefik routes");
        let provider = self.provider().name();
        let start = Instant::now();
        for api in &self.apis {
            for r in &routers {
                loop {
                    match api.router(&format!("{r}@{provider}")).await {
                        Ok(None) => break,
                        Ok(Some(_)) => {}
                        Err(e) if e.is_retryable() => {}
                        Err(e) => return Err(e),
                    }
                    if start.elapsed() >= self.confirm_timeout {
                        return Err(Error::Timeout {
                            what: format!(
                                "Traefik at {} to drop router {r}@{provider} after removing {at}",
                                api.url()
                            ),
                            after: self.confirm_timeout,
                        });
                    }
                    tokio::time::sleep(self.poll_interval).await;
                }
            }
        }
        Ok(())
    }

    async fn check(&self) -> Result<()> {
        for api in &self.apis {
            api.reachable().await?;
        }
        self.store.reachable().await
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
