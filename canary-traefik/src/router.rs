//! [`TraefikRouter`]: the [`Router`] on Traefik's file provider, swarm labels and API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use canary_core::spec::HeaderRoute;
use canary_core::spec::TrafficMode;
use canary_core::traits::ProbeAnswer;
use canary_core::{AppRoute, AppSplit, Error, Result, RouteConfig, Router, ServiceName, Track};

use crate::api::{is_enabled, is_refused, same_name, ServiceInfo, TraefikApi};
use crate::backend::{self, ProviderVersion};
use crate::dynamic::{self, AppExpectation, DynamicConfig};
use crate::http::Auth;
use crate::probe::Prober;

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
/// 1. render the group file (pure, validated: see [`crate::dynamic`]);
/// 2. wait until Traefik knows every `@swarm` service the file refers to: a weighted service with
///    a child Traefik does not know is disabled as a whole, so writing before would cut the app off;
/// 3. write the file atomically (a dot-file in the same directory, fsync, rename into place);
/// 4. poll the API until every router and service of the file is loaded with exactly the written
///    weights, mirrors, rules, priorities, entry points and targets, and is `enabled`; objects the new file no longer
///    has (the header router, the mirror) must be gone. A loaded object Traefik disabled is
///    [`Error::Rejected`] with Traefik's own words, and the previous file is put back.
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

    /// One look at whether Traefik has loaded `want`: `Ok(None)` when it has, `Ok(Some(why))`
    /// while it has not yet, `Err` when it loaded it and refused it.
    async fn check_loaded(&self, want: &AppExpectation) -> Result<Option<String>> {
        let o = &want.objects;
        let file = "file";
        let rejected = |what: &str, name: &str, errors: &[String], status: &str| Error::Rejected {
            by: "traefik".into(),
            message: if errors.is_empty() {
                format!("{what} {name}@file is {status}")
            } else {
                format!("{what} {name}@file: {}", errors.join("; "))
            },
        };
        if let Some(weights) = &want.weights {
            let Some(s) = self.api.service(&format!("{}@file", o.weighted)).await? else {
                return Ok(Some(format!(
                    "service {}@file is not loaded yet",
                    o.weighted
                )));
            };
            let Some(w) = &s.weighted else {
                return Ok(Some(format!(
                    "service {}@file is not weighted yet",
                    o.weighted
                )));
            };
            let mut shown: Vec<(String, i64)> = w
                .services
                .iter()
                .map(|c| (c.name.clone(), c.effective_weight()))
                .collect();
            let mut written: Vec<(String, i64)> = weights
                .iter()
                .map(|c| (c.name.clone(), c.weight as i64))
                .collect();
            shown.sort();
            written.sort();
            let same = shown.len() == written.len()
                && shown
                    .iter()
                    .zip(&written)
                    .all(|((a, wa), (b, wb))| wa == wb && same_name(b, a, file));
            if !same || w.sticky_cookie() != want.sticky_cookie.as_deref() {
                return Ok(Some(format!(
                    "service {}@file has weights {shown:?}, not yet {written:?}",
                    o.weighted
                )));
            }
            if is_refused(&s.status, &s.error) {
                return Err(rejected("service", &o.weighted, &s.error, &s.status));
            }
        }
        let mirror = self.api.service(&format!("{}@file", o.mirror)).await?;
        match (want.mirror, mirror) {
            (0, Some(_)) => return Ok(Some(format!("service {}@file is still loaded", o.mirror))),
            (0, None) => {}
            (_, None) => return Ok(Some(format!("service {}@file is not loaded yet", o.mirror))),
            (percent, Some(s)) => {
                let ok = s.mirroring.as_ref().is_some_and(|m| {
                    same_name(&o.stable_backend, &m.service, file)
                        && m.mirrors.len() == 1
                        && same_name(&o.canary_backend, &m.mirrors[0].name, file)
                        && m.mirrors[0].percent == percent
                });
                if !ok {
                    return Ok(Some(format!(
                        "service {}@file does not mirror {percent}% yet",
                        o.mirror
                    )));
                }
                if is_refused(&s.status, &s.error) {
                    return Err(rejected("service", &o.mirror, &s.error, &s.status));
                }
            }
        }
        let Some(r) = self.api.router(&format!("{}@file", o.router)).await? else {
            return Ok(Some(format!("router {}@file is not loaded yet", o.router)));
        };
        if !same_name(&want.router_service, &r.service, file)
            || r.rule != want.rule
            || r.priority != Some(want.priority as i64)
            || r.entry_points != want.entry_points
        {
            return Ok(Some(format!(
                "router {}@file still targets {} with {:?}",
                o.router, r.service, r.rule
            )));
        }
        if is_refused(&r.status, &r.error) {
            return Err(rejected("router", &o.router, &r.error, &r.status));
        }
        let header = self
            .api
            .router(&format!("{}@file", o.header_router))
            .await?;
        match (&want.header_rule, header) {
            (None, Some(_)) => {
                return Ok(Some(format!(
                    "router {}@file is still loaded",
                    o.header_router
                )))
            }
            (None, None) => {}
            (Some(_), None) => {
                return Ok(Some(format!(
                    "router {}@file is not loaded yet",
                    o.header_router
                )))
            }
            (Some(rule), Some(h)) => {
                if !same_name(&o.canary_backend, &h.service, file)
                    || &h.rule != rule
                    || h.priority != Some(want.priority as i64 + 1)
                    || h.entry_points != want.entry_points
                {
                    return Ok(Some(format!(
                        "router {}@file still targets {}",
                        o.header_router, h.service
                    )));
                }
                if is_refused(&h.status, &h.error) {
                    return Err(rejected("router", &o.header_router, &h.error, &h.status));
                }
            }
        }
        Ok(None)
    }

    async fn confirm(&self, want: &[AppExpectation], file: &Path) -> Result<()> {
        let start = Instant::now();
        loop {
            let mut pending = None;
            for app in want {
                match self.check_loaded(app).await {
                    Ok(None) => {}
                    Ok(Some(why)) => {
                        pending = Some(why);
                        break;
                    }
                    Err(e) if e.is_retryable() => {
                        pending = Some(e.to_string());
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(why) = pending else {
                return Ok(());
            };
            if start.elapsed() >= self.confirm_timeout {
                return Err(Error::Timeout {
                    what: format!("Traefik to load {} ({why})", file.display()),
                    after: self.confirm_timeout,
                });
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    async fn split_of(&self, want: &AppExpectation, mode: TrafficMode) -> Result<AppSplit> {
        let o = &want.objects;
        let file = "file";
        let router = self.api.router(&format!("{}@file", o.router)).await?;
        let header = self
            .api
            .router(&format!("{}@file", o.header_router))
            .await?;
        let header_route = header
            .as_ref()
            .is_some_and(|h| is_enabled(&h.status, &h.error));
        let router_ok = router
            .as_ref()
            .is_some_and(|r| is_enabled(&r.status, &r.error));
        let mut split = AppSplit {
            app: o.app.clone(),
            stable: 100,
            canary: 0,
            header_route,
            healthy: false,
        };
        match mode {
            TrafficMode::Weighted => {
                let Some(s) = self.api.service(&format!("{}@file", o.weighted)).await? else {
                    return Ok(split);
                };
                let (mut stable, mut canary) = (0u64, 0u64);
                for c in s.weighted.iter().flat_map(|w| &w.services) {
                    let weight = c.effective_weight().max(0) as u64;
                    if same_name(&o.stable_backend, &c.name, file)
                        || same_name(&o.mirror, &c.name, file)
                    {
                        stable += weight;
                    } else if same_name(&o.canary_backend, &c.name, file) {
                        canary += weight;
                    } else {
                        tracing::warn!(service = %s.name, child = %c.name, "weighted child is neither stable nor canary");
                    }
                }
                split.stable = stable;
                split.canary = canary;
                split.healthy = router_ok && is_enabled(&s.status, &s.error);
            }
            TrafficMode::Replicas => {
                // The split follows servers: count the canary's among stable's shared service.
                let shared = self.api.service(&o.stable_backend).await?;
                let canary = self.api.service(&o.canary_backend).await?;
                let urls = |s: &Option<ServiceInfo>| -> Vec<String> {
                    s.iter()
                        .flat_map(|s| s.load_balancer.iter())
                        .flat_map(|lb| lb.servers.iter())
                        .filter_map(|sv| sv.url.clone())
                        .collect()
                };
                let canary_urls = urls(&canary);
                let all = urls(&shared);
                let n_canary = all.iter().filter(|u| canary_urls.contains(u)).count() as u64;
                split.canary = n_canary;
                split.stable = all.len() as u64 - n_canary;
                split.healthy = router_ok
                    && shared
                        .as_ref()
                        .is_some_and(|s| is_enabled(&s.status, &s.error));
            }
        }
        Ok(split)
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
        if config.mode != self.mode {
            return Err(Error::invalid(
                "traffic.mode",
                format!(
                    "this router labels canaries for {:?} mode, the config is {:?} mode; build it with .mode(...)",
                    self.mode, config.mode
                ),
            ));
        }
        let rendered = dynamic::render(config, self.version)?;
        let text = rendered.config.to_yaml()?;
        let path = self.file_path(&config.group)?;
        let _guard = self.write_lock.lock().await;
        // Backends first: never hand Traefik a weighted child it does not have.
        let mut required: BTreeMap<&str, bool> = BTreeMap::new();
        for app in &rendered.apps {
            let canary = app.objects.canary_backend.as_str();
            let canary_serves = app
                .weights
                .iter()
                .flatten()
                .any(|c| c.name == canary && c.weight > 0);
            for name in &app.requires {
                *required.entry(name.as_str()).or_default() |= name == canary && canary_serves;
            }
        }
        for (name, serving) in required {
            self.wait_for_backend(name, serving).await?;
        }
        let previous = self.read_file(&path).await?;
        if previous.as_deref() != Some(text.as_str()) {
            self.write_atomic(&path, &text).await?;
            tracing::info!(
                group = %config.group,
                weight = config.canary_weight.get(),
                routed = config.canary_routed,
                file = %path.display(),
                "wrote Traefik routes"
            );
        }
        match self.confirm(&rendered.apps, &path).await {
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

    async fn read(&self, config: &RouteConfig) -> Result<Vec<AppSplit>> {
        let rendered = dynamic::render(config, self.version)?;
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
mod tests {
    use super::*;
    use crate::testutil::{fixture, FakeHttp};
    use canary_core::spec::HeaderRoute;
    use canary_core::{AppRef, Weight};

    fn sn(s: &str) -> ServiceName {
        ServiceName::parse(s).unwrap()
    }

    fn config(weight: u64) -> RouteConfig {
        RouteConfig {
            group: sn("g"),
            mode: TrafficMode::Weighted,
            apps: vec![AppRoute {
                group: canary_core::ServiceName::parse("g").unwrap(),
                app: AppRef {
                    name: sn("a"),
                    stable: sn("a"),
                    canary: sn("a-canary"),
                },
                rule: "Host(`a.localhost`)".into(),
                port: 8080,
                health_path: "/health".into(),
                entry_points: vec!["web".into()],
                stable_labels: BTreeMap::new(),
                canary_endpoints: Vec::new(),
            }],
            canary_weight: Weight::new(weight).unwrap(),
            canary_routed: true,
            header_route: Some(HeaderRoute::default()),
            sticky: false,
            mirror: Weight::ZERO,
        }
    }

    fn router(dir: &Path, url: &str) -> TraefikRouter {
        TraefikRouter::builder(dir, url)
            .network("canary-net")
            .confirm_timeout(Duration::from_millis(800))
            .poll_interval(Duration::from_millis(50))
            .build()
            .unwrap()
    }

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("canary-traefik-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn lb(name: &str) -> String {
        format!(
            r#"{{"loadBalancer":{{"servers":[{{"url":"http://10.0.1.3:8080"}}]}},"status":"enabled","name":"{name}","provider":"swarm","type":"loadbalancer"}}"#
        )
    }

    fn weighted(stable: u64, canary: u64, status: &str, error: &str) -> String {
        format!(
            r#"{{"weighted":{{"services":[{{"name":"a@swarm","weight":{stable}}},{{"name":"a-canary@swarm","weight":{canary}}}]}},"status":"{status}","error":[{error}],"name":"canary-g--a@file","provider":"file","type":"weighted"}}"#
        )
    }

    fn router_json(name: &str, rule: &str, service: &str, priority: u64) -> String {
        serde_json::json!({
            "entryPoints": ["web"], "service": service, "rule": rule, "priority": priority,
            "status": "enabled", "name": format!("{name}@file"), "provider": "file"
        })
        .to_string()
    }

    fn serve_loaded(fake: &FakeHttp, stable: u64, canary: u64) {
        let p = crate::rule::app_priority("Host(`a.localhost`)");
        fake.set(
            "/api/http/services/canary-g--a@file",
            200,
            weighted(stable, canary, "enabled", ""),
        );
        fake.set(
            "/api/http/routers/canary-g--a@file",
            200,
            router_json("canary-g--a", "Host(`a.localhost`)", "canary-g--a", p),
        );
        fake.set(
            "/api/http/routers/canary-g--a--header@file",
            200,
            router_json(
                "canary-g--a--header",
                "(Host(`a.localhost`)) && Header(`X-Canary`, `true`)",
                "a-canary@swarm",
                p + 1,
            ),
        );
    }

    #[tokio::test]
    async fn confirms_exactly_the_written_weights() {
        let fake = FakeHttp::start().await;
        fake.set("/api/http/services/a@swarm", 200, lb("a@swarm"));
        fake.set(
            "/api/http/services/a-canary@swarm",
            200,
            lb("a-canary@swarm"),
        );
        let dir = tempdir("confirm");
        std::fs::write(dir.join("other.yml"), "http: {}\n").unwrap();
        let r = router(&dir, &fake.url);
        // Traefik still shows the old weights: not confirmed, a timeout naming what it saw.
        serve_loaded(&fake, 90, 10);
        let e = r.apply(&config(20)).await.unwrap_err();
        assert!(
            matches!(&e, Error::Timeout { what, .. } if what.contains("weights")),
            "{e}"
        );
        // It shows the new ones: confirmed.
        serve_loaded(&fake, 80, 20);
        r.apply(&config(20)).await.unwrap();
        let text = std::fs::read_to_string(dir.join("canary-g.yml")).unwrap();
        assert!(text.contains("weight: 20"), "{text}");
        assert_eq!(
            std::fs::read_to_string(dir.join("other.yml")).unwrap(),
            "http: {}\n",
            "other files untouched"
        );
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        assert_eq!(names.len(), 2, "no dot-file left: {names:?}");
        let split = r.read(&config(20)).await.unwrap();
        assert_eq!(
            (
                split[0].stable,
                split[0].canary,
                split[0].header_route,
                split[0].healthy
            ),
            (80, 20, true, true)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_config_traefik_disabled_is_rejected_and_the_previous_file_restored() {
        let fake = FakeHttp::start().await;
        fake.set("/api/http/services/a@swarm", 200, lb("a@swarm"));
        fake.set(
            "/api/http/services/a-canary@swarm",
            200,
            lb("a-canary@swarm"),
        );
        let dir = tempdir("rejected");
        let r = router(&dir, &fake.url);
        serve_loaded(&fake, 90, 10);
        r.apply(&config(10)).await.unwrap();
        let before = std::fs::read_to_string(dir.join("canary-g.yml")).unwrap();
        // The captured error state: the weighted service is disabled with Traefik's error list.
        let ghost: serde_json::Value = serde_json::from_str(&fixture(
            "traefik/live-v3.7.9/api-error-state/http_service_ghost-weighted.json",
        ))
        .unwrap();
        let words = ghost["error"][0].as_str().unwrap().to_string();
        fake.set(
            "/api/http/services/canary-g--a@file",
            200,
            weighted(70, 30, "disabled", &serde_json::to_string(&words).unwrap()),
        );
        let e = r.apply(&config(30)).await.unwrap_err();
        assert_eq!(
            e,
            Error::Rejected {
                by: "traefik".into(),
                message: format!("service canary-g--a@file: {words}")
            }
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("canary-g.yml")).unwrap(),
            before
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn never_writes_a_file_naming_a_backend_traefik_lacks() {
        let fake = FakeHttp::start().await;
        fake.set("/api/http/services/a@swarm", 200, lb("a@swarm"));
        let dir = tempdir("preflight");
        let r = router(&dir, &fake.url);
        let e = r.apply(&config(10)).await.unwrap_err();
        assert!(
            matches!(&e, Error::Timeout { what, .. } if what.contains("a-canary@swarm")),
            "{e}"
        );
        assert!(!dir.join("canary-g.yml").exists());
        // Known but without a server (scaled to 0 with allowEmptyServices): not routed to either.
        fake.set(
            "/api/http/services/a-canary@swarm",
            200,
            r#"{"loadBalancer":{"servers":[]},"status":"enabled","name":"a-canary@swarm"}"#,
        );
        let e = r.apply(&config(10)).await.unwrap_err();
        assert!(
            matches!(&e, Error::Timeout { what, .. } if what.contains("no server")),
            "{e}"
        );
        // Out of the routing, the canary is not needed at all.
        let mut off = config(0);
        off.canary_routed = false;
        off.header_route = None;
        fake.unset("/api/http/services/a-canary@swarm");
        fake.set(
            "/api/http/services/canary-g--a@file",
            200,
            r#"{"weighted":{"services":[{"name":"a@swarm","weight":100}]},"status":"enabled","name":"canary-g--a@file"}"#,
        );
        let p = crate::rule::app_priority("Host(`a.localhost`)");
        fake.set(
            "/api/http/routers/canary-g--a@file",
            200,
            router_json("canary-g--a", "Host(`a.localhost`)", "canary-g--a", p),
        );
        r.apply(&off).await.unwrap();
        let split = r.read(&off).await.unwrap();
        assert_eq!(
            (split[0].stable, split[0].canary, split[0].header_route),
            (100, 0, false)
        );
        // remove: the file goes, and Traefik (here already) drops the routers.
        fake.unset("/api/http/routers/canary-g--a@file");
        r.remove(&sn("g")).await.unwrap();
        assert!(!dir.join("canary-g.yml").exists());
        r.remove(&sn("g")).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let r = TraefikRouter::builder("/tmp", "http://127.0.0.1:1")
            .network("n")
            .basic_auth("admin", "s3cret-pw")
            .build()
            .unwrap();
        let d = format!("{r:?}");
        assert!(d.contains("admin") && !d.contains("s3cret-pw"), "{d}");
    }

    #[tokio::test]
    async fn a_config_of_the_other_mode_is_refused() {
        let r = router(Path::new("/nonexistent"), "http://127.0.0.1:1");
        let mut c = config(10);
        c.mode = TrafficMode::Replicas;
        let e = r.apply(&c).await.unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { field, .. } if field == "traffic.mode"),
            "{e}"
        );
        // The labels follow the router's mode: a weighted canary never joins stable's service.
        let labels = r.service_labels(&c.apps[0], Track::Canary);
        assert!(
            !labels.contains_key("traefik.http.services.a.loadbalancer.server.port"),
            "{labels:?}"
        );
    }

    #[test]
    fn builder_checks_options() {
        assert!(
            TraefikRouter::builder("/tmp", "http://127.0.0.1:1")
                .build()
                .is_err(),
            "network required"
        );
        assert!(TraefikRouter::builder("/tmp", "not a url")
            .network("n")
            .build()
            .is_err());
        assert!(TraefikRouter::builder("/tmp", "http://u:p@127.0.0.1:1")
            .network("n")
            .build()
            .is_err());
        assert!(TraefikRouter::builder("/tmp", "http://127.0.0.1:1")
            .network("a b")
            .build()
            .is_err());
    }
}
