//! Building the implementations from the connection settings: the only place that knows which
//! crate implements which trait.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use canary_core::{AppRoute, Deps, Error, MetricsSource, Orchestrator, ServiceName, Spec};
use canary_swarm::{ConnectOptions, SwarmOrchestrator};
use canary_traefik::{
    BackendNames, PrometheusMetrics, ProviderVersion, ScrapeTask, TraefikRouter,
    TraefikScrapeMetrics, WebhookRunner,
};

use crate::args::{Connect, MetricsBackend};
use crate::error::{CliError, CliResult};

/// Connects to Docker like the docker CLI (`--docker-host` / `DOCKER_HOST`, `DOCKER_TLS_VERIFY`,
/// `DOCKER_CERT_PATH`).
pub(crate) async fn swarm(c: &Connect) -> CliResult<SwarmOrchestrator> {
    let mut options = ConnectOptions::from_env();
    if let Some(h) = c.docker_host.as_ref().filter(|h| !h.is_empty()) {
        options.host = h.clone();
    }
    SwarmOrchestrator::connect_with(&options)
        .await
        .map_err(CliError::from)
}

/// The Traefik router for `spec`'s traffic mode.
pub(crate) fn router(c: &Connect, spec: &Spec) -> CliResult<TraefikRouter> {
    TraefikRouter::builder(&c.traefik_dynamic_dir, &c.traefik_url)
        .network(&c.network)
        .mode(spec.traffic.mode)
        .build()
        .map_err(CliError::from)
}

/// Each app's route, with stable's current labels (empty while stable does not exist).
pub(crate) async fn routes(swarm: &SwarmOrchestrator, spec: &Spec) -> CliResult<Vec<AppRoute>> {
    let mut out = Vec::new();
    for (app, spec_app) in spec.app_refs().into_iter().zip(&spec.apps) {
        let stable_labels = match swarm.inspect(&app.stable).await {
            Ok(s) => s.labels,
            Err(Error::NotFound { .. }) => BTreeMap::new(),
            Err(e) => return Err(e.into()),
        };
        out.push(AppRoute {
            app,
            rule: spec_app.rule.clone(),
            port: spec_app.port,
            entry_points: spec.traffic.entry_points.clone(),
            stable_labels,
        });
    }
    Ok(out)
}

/// The stable services that do not exist, as an error that says what to do.
pub(crate) async fn require_stable(
    swarm: &SwarmOrchestrator,
    spec: &Spec,
    spec_path: &str,
) -> CliResult<()> {
    let mut missing: Vec<ServiceName> = Vec::new();
    for app in spec.app_refs() {
        match swarm.inspect(&app.stable).await {
            Ok(_) => {}
            Err(Error::NotFound { .. }) => missing.push(app.stable),
            Err(e) => return Err(e.into()),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = missing.iter().map(|s| s.to_string()).collect();
    Err(CliError::new(
        "CANARY_NOT_FOUND",
        format!(
            "stable service{} {} not found: deploy the group first (canary deploy -f {spec_path})",
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        ),
    ))
}

/// The metrics source, and the background scraper that must live as long as it is used.
pub(crate) fn metrics(
    c: &Connect,
    spec: &Spec,
    routes: &[AppRoute],
) -> CliResult<(Arc<dyn MetricsSource>, Option<ScrapeTask>)> {
    match c.metrics {
        MetricsBackend::Prometheus => {
            let mut b = PrometheusMetrics::builder(&c.prometheus_url)
                .scrape_interval(c.scrape_interval.get())
                .timeout(spec.timeouts.call.get().min(Duration::from_secs(30)));
            for r in routes {
                b = b.route(r);
            }
            Ok((Arc::new(b.build()?), None))
        }
        MetricsBackend::Traefik => {
            let mut b = TraefikScrapeMetrics::builder(&c.traefik_url);
            for r in routes {
                b = b.route(r);
            }
            let m = b.build()?;
            let task = m.start(c.scrape_interval.get());
            Ok((Arc::new(m), Some(task)))
        }
    }
}

/// Everything a rollout needs.
#[derive(Debug)]
pub(crate) struct Wired {
    /// The orchestrator (also the state store's connection).
    pub(crate) swarm: SwarmOrchestrator,
    /// The engine's dependencies.
    pub(crate) deps: Deps,
    /// Each app's route (stable's labels as they were when wired).
    pub(crate) routes: Vec<AppRoute>,
    /// Keeps `--metrics traefik` scraping.
    pub(crate) _scrape: Option<ScrapeTask>,
}

/// `(app, track, Traefik service)` of every app, the names Traefik's metrics carry
/// (`neotix-neotix-api@swarm`), as the router and the metrics sources derive them.
pub(crate) fn backends(routes: &[AppRoute]) -> CliResult<Vec<(String, &'static str, String)>> {
    let mut names = BackendNames::new(ProviderVersion::V3);
    let mut out = Vec::new();
    for r in routes {
        names.learn(r)?;
        for (track, service) in [("stable", &r.app.stable), ("canary", &r.app.canary)] {
            out.push((r.app.name.to_string(), track, names.name(service)));
        }
    }
    Ok(out)
}

/// Connects everything for `spec`.
pub(crate) async fn all(c: &Connect, spec: &Spec) -> CliResult<Wired> {
    let swarm = swarm(c).await?;
    let router = router(c, spec)?;
    let routes = routes(&swarm, spec).await?;
    let (metrics, scrape) = metrics(c, spec, &routes)?;
    let deps = Deps {
        orchestrator: Arc::new(swarm.clone()),
        router: Arc::new(router),
        metrics,
        store: Arc::new(swarm.state_store()),
        hooks: Arc::new(WebhookRunner::new()?),
    };
    Ok(Wired {
        swarm,
        deps,
        routes,
        _scrape: scrape,
    })
}
