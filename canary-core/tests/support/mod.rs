//! Fakes of every trait that keep state, so engine tests can assert what the world looks like
//! after a rollout, and the order of the operations.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use canary_core::model::NewService;
use canary_core::spec::HeaderRoute;
use canary_core::traits::{BuildEvent, BuildRequest, HookRunner};
use canary_core::traits::{ProbeAnswer, TaskEndpoint};
use canary_core::{
    AppRoute, AppSplit, CanaryService, Deps, Error, HookContext, HookOutcome, ImageRef, LogLine,
    LogOptions, MemoryStateStore, MetricQuery, MetricsSource, Observation, Orchestrator, Result,
    RouteConfig, Router, ServiceName, ServiceState, Spec, Track,
};
use futures::stream::BoxStream;

/// One shared log of every state-changing operation, in order.
#[derive(Debug, Default, Clone)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    pub fn position(&self, needle: &str) -> Option<usize> {
        self.all().iter().position(|l| l == needle)
    }
    pub fn last_position(&self, needle: &str) -> Option<usize> {
        self.all().iter().rposition(|l| l == needle)
    }
}

pub type Fault = Box<dyn Fn(&str) -> Option<Error> + Send + Sync>;

#[derive(Default)]
pub struct FakeOrchestrator {
    pub services: Mutex<HashMap<String, ServiceState>>,
    pub log: Log,
    /// Given an operation like "set_image api" returns an error to inject.
    pub fault: Mutex<Option<Fault>>,
    /// Services whose wait_converged fails with DeploymentFailed, unless they run the original
    /// stable image `api:v1` (which always works).
    pub broken: Mutex<HashMap<String, String>>,
    /// Calls that never answer (for timeouts).
    pub hang: Mutex<Vec<String>>,
    /// Services whose wait_converged takes this long (a slow start).
    pub slow: Mutex<HashMap<String, Duration>>,
    /// What pin_image resolves every image to now (default PINNED): change it to move a tag.
    pub pin: Mutex<Option<String>>,
}

impl std::fmt::Debug for FakeOrchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeOrchestrator")
    }
}

pub const PINNED: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000aa";

impl FakeOrchestrator {
    pub fn with_stable(log: Log, names: &[&str], image: &str, replicas: u64) -> Self {
        let o = FakeOrchestrator {
            log,
            ..Default::default()
        };
        for n in names {
            o.services
                .lock()
                .unwrap()
                .insert(n.to_string(), state(n, image, replicas));
        }
        o
    }
    pub fn get(&self, name: &str) -> Option<ServiceState> {
        self.services.lock().unwrap().get(name).cloned()
    }
    fn check(&self, op: String) -> Result<()> {
        if let Some(f) = self.fault.lock().unwrap().as_ref() {
            if let Some(e) = f(&op) {
                return Err(e);
            }
        }
        Ok(())
    }
    async fn maybe_hang(&self, op: &str) {
        if self.hang.lock().unwrap().iter().any(|h| h == op) {
            futures::future::pending::<()>().await;
        }
    }
}

fn state(name: &str, image: &str, replicas: u64) -> ServiceState {
    ServiceState {
        name: ServiceName::parse(name).unwrap(),
        image: image.into(),
        desired: replicas,
        running: replicas,
        labels: BTreeMap::new(),
        converged: true,
    }
}

#[async_trait]
impl Orchestrator for FakeOrchestrator {
    async fn inspect(&self, service: &ServiceName) -> Result<ServiceState> {
        self.maybe_hang(&format!("inspect {service}")).await;
        self.check(format!("inspect {service}"))?;
        self.get(service.as_str())
            .ok_or_else(|| Error::not_found("service", service.to_string()))
    }
    async fn ensure_canary(&self, spec: &CanaryService) -> Result<ServiceState> {
        self.check(format!("ensure_canary {}", spec.name))?;
        let from = self
            .get(spec.from.as_str())
            .ok_or_else(|| Error::not_found("service", spec.from.to_string()))?;
        let mut s = state(spec.name.as_str(), spec.image.as_str(), spec.replicas);
        s.labels = spec.labels.clone();
        let _ = from;
        self.log.push(format!(
            "ensure_canary {} {} x{}",
            spec.name, spec.image, spec.replicas
        ));
        self.services
            .lock()
            .unwrap()
            .insert(spec.name.to_string(), s.clone());
        Ok(s)
    }
    async fn update_labels(
        &self,
        service: &ServiceName,
        labels: &BTreeMap<String, Option<String>>,
    ) -> Result<()> {
        self.check(format!("update_labels {service}"))?;
        let mut all = self.services.lock().unwrap();
        let s = all
            .get_mut(service.as_str())
            .ok_or_else(|| Error::not_found("service", service.to_string()))?;
        for (k, v) in labels {
            match v {
                Some(v) => s.labels.insert(k.clone(), v.clone()),
                None => s.labels.remove(k),
            };
        }
        self.log.push(format!("update_labels {service}"));
        Ok(())
    }
    async fn scale(&self, service: &ServiceName, replicas: u64) -> Result<()> {
        self.check(format!("scale {service}"))?;
        let mut all = self.services.lock().unwrap();
        let s = all
            .get_mut(service.as_str())
            .ok_or_else(|| Error::not_found("service", service.to_string()))?;
        s.desired = replicas;
        s.running = replicas;
        self.log.push(format!("scale {service} {replicas}"));
        Ok(())
    }
    async fn set_image(&self, service: &ServiceName, image: &ImageRef) -> Result<()> {
        self.maybe_hang(&format!("set_image {service}")).await;
        self.check(format!("set_image {service}"))?;
        let mut all = self.services.lock().unwrap();
        let s = all
            .get_mut(service.as_str())
            .ok_or_else(|| Error::not_found("service", service.to_string()))?;
        s.image = image.to_string();
        self.log.push(format!("set_image {service} {image}"));
        Ok(())
    }
    async fn pin_image(&self, image: &ImageRef) -> Result<ImageRef> {
        self.check(format!("pin_image {image}"))?;
        let now = self.pin.lock().unwrap().clone();
        Ok(ImageRef::parse(now.as_deref().unwrap_or(PINNED)).unwrap())
    }
    async fn wait_converged(
        &self,
        service: &ServiceName,
        _timeout: Duration,
    ) -> Result<ServiceState> {
        self.check(format!("wait {service}"))?;
        let delay = self.slow.lock().unwrap().get(service.as_str()).copied();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let image = self
            .get(service.as_str())
            .map(|s| s.image)
            .unwrap_or_default();
        if let Some(msg) = self
            .broken
            .lock()
            .unwrap()
            .get(service.as_str())
            .filter(|_| image != "api:v1")
        {
            return Err(Error::DeploymentFailed {
                service: service.to_string(),
                message: msg.clone(),
            });
        }
        self.get(service.as_str())
            .ok_or_else(|| Error::not_found("service", service.to_string()))
    }
    async fn logs(
        &self,
        service: &ServiceName,
        _o: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogLine>>> {
        let line = LogLine {
            service: service.to_string(),
            task: None,
            timestamp: None,
            stream: "stdout".into(),
            line: "hello".into(),
        };
        Ok(Box::pin(futures::stream::iter(vec![Ok(line)])))
    }
    async fn build_image(
        &self,
        _r: &BuildRequest,
    ) -> Result<BoxStream<'static, Result<BuildEvent>>> {
        Ok(Box::pin(futures::stream::empty()))
    }
    async fn tag_image(&self, _s: &ImageRef, _t: &ImageRef) -> Result<()> {
        Ok(())
    }
    async fn create_service(&self, service: &NewService) -> Result<ServiceState> {
        self.check(format!("create {}", service.name))?;
        service.validate()?;
        let mut s = state(
            service.name.as_str(),
            service.image.as_str(),
            service.replicas,
        );
        s.labels = service.labels.clone();
        self.services
            .lock()
            .unwrap()
            .insert(service.name.to_string(), s.clone());
        Ok(s)
    }
    async fn task_endpoints(&self, service: &ServiceName) -> Result<Vec<TaskEndpoint>> {
        self.check(format!("endpoints {service}"))?;
        let running = self.get(service.as_str()).map(|s| s.running).unwrap_or(0);
        Ok((0..running)
            .map(|i| TaskEndpoint {
                task: format!("{service}.{i}"),
                node: None,
                addresses: BTreeMap::from([("net".to_string(), format!("10.0.0.{}", i % 250 + 2))]),
            })
            .collect())
    }
    async fn ensure_network(&self, name: &str) -> Result<bool> {
        self.check(format!("network {name}"))?;
        Ok(false)
    }
}

#[derive(Default)]
pub struct FakeRouter {
    pub applied: Mutex<Vec<RouteConfig>>,
    /// Configs handed over without confirmation (`Router::write`).
    pub written: Mutex<Vec<RouteConfig>>,
    pub log: Log,
    pub fault: Mutex<Option<Fault>>,
}

impl std::fmt::Debug for FakeRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeRouter")
    }
}

impl FakeRouter {
    pub fn last(&self) -> Option<RouteConfig> {
        self.applied.lock().unwrap().last().cloned()
    }
    pub fn weights(&self) -> Vec<u8> {
        self.applied
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.canary_weight.get())
            .collect()
    }
}

#[async_trait]
impl Router for FakeRouter {
    fn service_labels(&self, route: &AppRoute, track: Track) -> BTreeMap<String, String> {
        match track {
            Track::Stable if route.stable_labels.contains_key("router") => BTreeMap::new(),
            _ => BTreeMap::from([("router".to_string(), route.app.service(track).to_string())]),
        }
    }
    async fn apply(&self, config: &RouteConfig) -> Result<()> {
        if let Some(f) = self.fault.lock().unwrap().as_ref() {
            if let Some(e) = f("apply") {
                return Err(e);
            }
        }
        self.log.push(if config.stable_detached {
            "route detached".to_string()
        } else if config.canary_routed {
            format!("route {}", config.canary_weight.get())
        } else {
            "route out".to_string()
        });
        self.applied.lock().unwrap().push(config.clone());
        Ok(())
    }
    async fn read(&self, config: &RouteConfig) -> Result<Vec<AppSplit>> {
        let last = self.last();
        Ok(config
            .apps
            .iter()
            .map(|a| {
                let w = last
                    .as_ref()
                    .map(|l| l.canary_weight.get() as u64)
                    .unwrap_or(0);
                AppSplit {
                    app: a.app.name.clone(),
                    stable: 100 - w,
                    canary: w,
                    header_route: last.as_ref().is_some_and(|l| l.header_route.is_some()),
                    healthy: true,
                }
            })
            .collect())
    }
    async fn remove(&self, _group: &ServiceName) -> Result<()> {
        self.log.push("route removed");
        Ok(())
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
    async fn write(&self, config: &RouteConfig) -> Result<()> {
        self.log.push(if config.canary_routed {
            "route written"
        } else {
            "route out written"
        });
        self.written.lock().unwrap().push(config.clone());
        Ok(())
    }
    async fn probe(&self, route: &AppRoute, header: Option<HeaderRoute>) -> Result<ProbeAnswer> {
        Ok(ProbeAnswer {
            url: format!("fake://{}", route.app.name),
            host: None,
            status: Some(200),
            version: Some(if header.is_some() { "canary" } else { "stable" }.into()),
            error: None,
        })
    }
}

pub type MetricFn = Box<dyn Fn(&MetricQuery) -> Result<Observation> + Send + Sync>;

pub struct FakeMetrics {
    pub f: Mutex<MetricFn>,
    pub calls: Mutex<usize>,
}

impl std::fmt::Debug for FakeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeMetrics")
    }
}

impl FakeMetrics {
    pub fn new(f: impl Fn(&MetricQuery) -> Result<Observation> + Send + Sync + 'static) -> Self {
        FakeMetrics {
            f: Mutex::new(Box::new(f)),
            calls: Mutex::new(0),
        }
    }
    /// Plenty of requests and the given canary success rate; stable always 1.0.
    pub fn success(rate: f64) -> Self {
        Self::new(move |q| {
            Ok(match q.metric {
                canary_core::spec::MetricKind::RequestCount => Observation::Value(1000.0),
                canary_core::spec::MetricKind::SuccessRate if q.track == Track::Canary => {
                    Observation::Value(rate)
                }
                canary_core::spec::MetricKind::SuccessRate => Observation::Value(1.0),
                canary_core::spec::MetricKind::ErrorRate if q.track == Track::Canary => {
                    Observation::Value(1.0 - rate)
                }
                _ => Observation::Value(0.0),
            })
        })
    }
    pub fn set(&self, f: impl Fn(&MetricQuery) -> Result<Observation> + Send + Sync + 'static) {
        *self.f.lock().unwrap() = Box::new(f);
    }
}

#[async_trait]
impl MetricsSource for FakeMetrics {
    async fn value(&self, q: &MetricQuery) -> Result<Observation> {
        *self.calls.lock().unwrap() += 1;
        (self.f.lock().unwrap())(q)
    }
    async fn samples(&self, q: &MetricQuery) -> Result<Vec<f64>> {
        let v = (self.f.lock().unwrap())(q)?;
        Ok(match v.value() {
            Some(v) => (0..20).map(|i| v + (i as f64) * 1e-6).collect(),
            None => Vec::new(),
        })
    }
}

pub type HookFn = Box<dyn Fn(&str, &HookContext) -> Result<HookOutcome> + Send + Sync>;

pub struct FakeHooks {
    pub f: Mutex<HookFn>,
    pub calls: Mutex<Vec<String>>,
}

impl std::fmt::Debug for FakeHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeHooks")
    }
}

impl FakeHooks {
    pub fn ok() -> Self {
        Self::new(|_, _| {
            Ok(HookOutcome {
                ok: true,
                message: "ok".into(),
            })
        })
    }
    pub fn new(
        f: impl Fn(&str, &HookContext) -> Result<HookOutcome> + Send + Sync + 'static,
    ) -> Self {
        FakeHooks {
            f: Mutex::new(Box::new(f)),
            calls: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl HookRunner for FakeHooks {
    async fn call(
        &self,
        hook: &canary_core::spec::HookSpec,
        ctx: &HookContext,
    ) -> Result<HookOutcome> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("{:?}:{}", ctx.point, hook.name));
        (self.f.lock().unwrap())(&hook.name, ctx)
    }
}

/// A complete fake world.
pub struct World {
    pub log: Log,
    pub orch: Arc<FakeOrchestrator>,
    pub router: Arc<FakeRouter>,
    pub metrics: Arc<FakeMetrics>,
    pub store: Arc<MemoryStateStore>,
    pub hooks: Arc<FakeHooks>,
}

impl World {
    pub fn new(stables: &[&str], metrics: FakeMetrics) -> Self {
        let log = Log::default();
        World {
            orch: Arc::new(FakeOrchestrator::with_stable(
                log.clone(),
                stables,
                "api:v1",
                2,
            )),
            router: Arc::new(FakeRouter {
                log: log.clone(),
                ..Default::default()
            }),
            metrics: Arc::new(metrics),
            store: Arc::new(MemoryStateStore::new()),
            hooks: Arc::new(FakeHooks::ok()),
            log,
        }
    }
    pub fn deps(&self) -> Deps {
        Deps::new(
            self.orch.clone(),
            self.router.clone(),
            self.metrics.clone(),
            self.store.clone(),
            self.hooks.clone(),
        )
    }
}

pub fn spec(yaml: &str) -> Spec {
    Spec::from_yaml(yaml).unwrap_or_else(|e| panic!("spec: {e}"))
}

/// A one-app spec with two steps.
pub const ONE_APP: &str = r#"
group: shop
apps:
  - name: api
    image: api:v2
    port: 8080
    rule: "Host(`api.localhost`)"
traffic:
  steps: [10, 50]
  interval: 10s
"#;

/// The seed's two apps in stack `neotix`.
pub const NEOTIX: &str = r#"
group: neotix
stack: neotix
apps:
  - name: neotix-api
    image: demo:v2
    port: 8080
    rule: "Host(`api.localhost`) && PathPrefix(`/api`)"
  - name: gcp-deployment-api
    image: demo:v2
    port: 8080
    rule: "PathPrefix(`/gcp`)"
traffic:
  steps: [20, 50, 80]
  interval: 5s
"#;

/// Saves a rollout at `phase`/`step`/`weight` as a dead controller of this host left it (its
/// lease long expired, its canary running).
pub async fn seed_state(w: &World, phase: canary_core::Phase, step: usize, weight: u8) {
    let s = spec(ONE_APP);
    let mut st = canary_core::state::RolloutState::new(
        std::collections::BTreeMap::from([("api".into(), "api:v2".into())]),
        0,
    );
    st.phase = phase;
    st.step = step;
    st.weight = weight;
    // A dead controller of this host: its lease expired long ago.
    st.lease = Some(canary_core::state::Lease {
        epoch: Some(7),
        owner: "h/999".into(),
        heartbeat_ms: 0,
        ttl_ms: None,
    });
    canary_core::StateStore::save(
        w.store.as_ref(),
        &ServiceName::parse("shop").unwrap(),
        &s.app_refs(),
        &st,
        None,
    )
    .await
    .unwrap();
    // The world as that controller left it: the canary exists.
    w.orch.services.lock().unwrap().insert(
        "api-canary".into(),
        canary_core::ServiceState {
            name: ServiceName::parse("api-canary").unwrap(),
            image: "api:v2".into(),
            desired: 1,
            running: 1,
            labels: std::collections::BTreeMap::new(),
            converged: true,
        },
    );
}

/// The options of the engine tests: this owner, a 500ms poll.
pub fn opts(owner: &str) -> canary_core::RolloutOptions {
    canary_core::RolloutOptions::default()
        .owner(owner)
        .poll(Duration::from_millis(500))
}

/// A group name.
pub fn group(name: &str) -> ServiceName {
    ServiceName::parse(name).unwrap()
}

/// The state `w`'s store holds for group `g` of [`ONE_APP`].
pub async fn saved(w: &World, g: &str) -> canary_core::state::RolloutState {
    use canary_core::StateStore;
    w.store
        .load(&group(g), &spec(ONE_APP).app_refs())
        .await
        .unwrap()
        .unwrap()
        .state
}
