//! Deploying a group (the seed's `deploy-canary.sh`, idempotent), through the traits. In order:
//!
//! 1. the network the services share, when one is given (created, attachable, when missing);
//! 2. the router answering (else an error that says how to start it);
//! 3. each app's stable service: adopted when it exists (the router's labels added, no task
//!    restarts), created from `stableImage` with `stableReplicas` when it does not
//!    (`<stack>_<name>` labelled `com.docker.stack.namespace=<stack>` in a stack, `init`, on the
//!    network, the router's labels, update order start-first); with `reset_stable`, put back on
//!    `stableImage` and `stableReplicas`;
//! 4. stable converged, then the group's routes with all traffic on stable, unless a rollout is in
//!    progress (its routes are then left alone).

use std::collections::BTreeMap;

use futures::future::join_all;
use serde::{Deserialize, Serialize};

use crate::engine::Deps;
use crate::error::{with_timeout, Error, Result};
use crate::model::{
    check_replicas, EndpointMode, NewService, ServiceName, Track, Weight, STACK_NAMESPACE_LABEL,
};
use crate::routes::{app_route, app_routes, route_config};
use crate::spec::Spec;

/// How to deploy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DeployOptions {
    /// The network the stable services join (created when missing). `None`: no network is
    /// touched and new services join none.
    pub network: Option<String>,
    /// Put existing stable services back on `stableImage` and `stableReplicas`.
    pub reset_stable: bool,
    /// Extra labels on the stable services created.
    pub labels: BTreeMap<String, String>,
    /// The endpoint mode of the stable services created (default dnsrr: no IPVS needed).
    pub endpoint_mode: EndpointMode,
}

impl DeployOptions {
    /// Deploys on `network`.
    #[must_use]
    pub fn network(mut self, network: impl Into<String>) -> Self {
        self.network = Some(network.into());
        self
    }
    /// Puts existing stable services back on the spec's image and replicas.
    #[must_use]
    pub fn reset_stable(mut self, reset: bool) -> Self {
        self.reset_stable = reset;
        self
    }
    /// Adds labels to the stable services created.
    #[must_use]
    pub fn labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.labels.extend(labels);
        self
    }
    /// Sets the endpoint mode of the stable services created.
    #[must_use]
    pub fn endpoint_mode(mut self, mode: EndpointMode) -> Self {
        self.endpoint_mode = mode;
        self
    }
}

/// One thing deploying did or found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployStep {
    /// `network`, `router`, `stable` or `routes`.
    pub what: String,
    /// Its name.
    pub name: String,
    /// `present`, `created`, `reachable`, `adopted`, `reset`, `running`, `applied` or `kept`.
    pub action: String,
    /// The figures behind it.
    pub detail: String,
}

fn step(what: &str, name: &str, action: &str, detail: String) -> DeployStep {
    DeployStep {
        what: what.into(),
        name: name.into(),
        action: action.into(),
        detail,
    }
}

/// Deploys `spec`'s group (see the module docs); `on_step` sees each step as it happens. Every
/// number is checked before anything changes.
pub async fn deploy(
    spec: &Spec,
    deps: &Deps,
    options: &DeployOptions,
    on_step: &mut (dyn FnMut(&DeployStep) + Send),
) -> Result<Vec<DeployStep>> {
    let mut steps = Vec::new();
    let mut said = |s: DeployStep, steps: &mut Vec<DeployStep>| {
        on_step(&s);
        steps.push(s);
    };
    for (i, app) in spec.apps.iter().enumerate() {
        check_replicas(
            &format!("apps[{i}].stableReplicas"),
            app.stable_replicas,
            spec.limits
                .max_replicas
                .min(crate::spec::MAX_REPLICAS_CEILING),
        )?;
    }
    let call = spec.timeouts.call.get();
    let orch = deps.orchestrator.as_ref();
    if let Some(net) = &options.network {
        let created = with_timeout("network", call, orch.ensure_network(net)).await?;
        let action = if created { "created" } else { "present" };
        said(
            step("network", net, action, "overlay, attachable".into()),
            &mut steps,
        );
    }
    with_timeout("router", call, deps.router.check())
        .await
        .map_err(|e| match e {
            Error::Unavailable {
                message: why,
                source,
            } => Error::unavailable(format!(
                "the router is not reachable ({why}); start the local stack with `bash scripts/stack/up.sh`"
            ))
            .with_cause(source),
            other => other,
        })?;
    said(
        step("router", "traefik", "reachable", String::new()),
        &mut steps,
    );

    let apps = spec.app_refs();
    let active = with_timeout("load state", call, deps.store.load(&spec.group, &apps))
        .await?
        .map(|v| v.state.phase)
        .filter(|phase| !phase.is_terminal());
    if let (Some(phase), true) = (active, options.reset_stable) {
        return Err(Error::conflict(format!(
            "a rollout of {} is {phase}: finish it (or roll it back) before resetting stable",
            spec.group
        )));
    }

    // Look at every stable service first: a missing one without an image to start from is an
    // error before anything changes.
    let mut found = Vec::with_capacity(apps.len());
    for (app, spec_app) in apps.iter().zip(&spec.apps) {
        let current = with_timeout("inspect", call, orch.inspect(&app.stable)).await;
        if matches!(current, Err(Error::NotFound { .. })) && spec_app.stable_image.is_none() {
            return Err(Error::invalid(
                format!("apps[{}].stableImage", spec_app.name),
                format!(
                    "{} does not exist: give the image stable starts from",
                    app.stable
                ),
            ));
        }
        if options.reset_stable && spec_app.stable_image.is_none() {
            return Err(Error::invalid(
                format!("apps[{}].stableImage", spec_app.name),
                "resetting stable needs the image stable starts from",
            ));
        }
        found.push(current);
    }

    let mut stables: Vec<ServiceName> = Vec::new();
    for ((app, spec_app), current) in apps.iter().zip(&spec.apps).zip(found) {
        match current {
            Ok(current) => {
                let route = app_route(spec, app, spec_app, current.labels.clone());
                let missing: BTreeMap<String, Option<String>> = deps
                    .router
                    .service_labels(&route, Track::Stable)
                    .into_iter()
                    .filter(|(k, v)| current.labels.get(k) != Some(v))
                    .map(|(k, v)| (k, Some(v)))
                    .collect();
                if !missing.is_empty() {
                    with_timeout("label", call, orch.update_labels(&app.stable, &missing)).await?;
                }
                let mut detail = format!(
                    "{}, {}/{} running",
                    current.image, current.running, current.desired
                );
                if !missing.is_empty() {
                    detail.push_str(&format!(", {} router label(s) added", missing.len()));
                }
                said(
                    step("stable", app.stable.as_str(), "adopted", detail),
                    &mut steps,
                );
                if options.reset_stable {
                    let image = spec_app.stable_image.as_ref().ok_or_else(|| {
                        Error::invalid(
                            format!("apps[{}].stableImage", spec_app.name),
                            "resetting stable needs the image stable starts from",
                        )
                    })?;
                    let mut changes = Vec::new();
                    if current.image != image.as_str() {
                        with_timeout("set image", call, orch.set_image(&app.stable, image)).await?;
                        changes.push(format!("image {} -> {image}", current.image));
                    }
                    if current.desired != spec_app.stable_replicas {
                        let scale = orch.scale(&app.stable, spec_app.stable_replicas);
                        with_timeout("scale", call, scale).await?;
                        changes.push(format!(
                            "replicas {} -> {}",
                            current.desired, spec_app.stable_replicas
                        ));
                    }
                    if !changes.is_empty() {
                        said(
                            step("stable", app.stable.as_str(), "reset", changes.join(", ")),
                            &mut steps,
                        );
                    }
                }
            }
            Err(Error::NotFound { .. }) => {
                let image = spec_app.stable_image.clone().ok_or_else(|| {
                    Error::invalid(
                        format!("apps[{}].stableImage", spec_app.name),
                        format!(
                            "{} does not exist: give the image stable starts from",
                            app.stable
                        ),
                    )
                })?;
                let route = app_route(spec, app, spec_app, BTreeMap::new());
                let mut s =
                    NewService::new(app.stable.clone(), image.clone(), spec_app.stable_replicas);
                s.labels = deps.router.service_labels(&route, Track::Stable);
                if let Some(stack) = &spec.stack {
                    s.labels
                        .insert(STACK_NAMESPACE_LABEL.to_string(), stack.to_string());
                }
                s.labels.extend(options.labels.clone());
                s.networks = options.network.iter().cloned().collect();
                s.init = spec_app.init;
                s.endpoint_mode = Some(options.endpoint_mode);
                s.start_first = true;
                with_timeout("create", call, orch.create_service(&s)).await?;
                said(
                    step(
                        "stable",
                        app.stable.as_str(),
                        "created",
                        format!("{image} x{}", spec_app.stable_replicas),
                    ),
                    &mut steps,
                );
            }
            Err(e) => return Err(e),
        }
        stables.push(app.stable.clone());
    }
    let converge = spec.timeouts.converge.get();
    let waited = tokio::time::Instant::now();
    let results = join_all(stables.iter().map(|s| {
        with_timeout(
            format!("converge {s}"),
            converge + call,
            orch.wait_converged(s, converge),
        )
    }))
    .await;
    for (name, r) in stables.iter().zip(results) {
        let st = r?;
        said(
            step(
                "stable",
                name.as_str(),
                "running",
                format!(
                    "{}/{} tasks of {} ({:.1}s)",
                    st.running,
                    st.desired,
                    st.image,
                    waited.elapsed().as_secs_f64()
                ),
            ),
            &mut steps,
        );
    }

    match active {
        Some(phase) => said(
            step(
                "routes",
                spec.group.as_str(),
                "kept",
                format!("a rollout is {phase}: its routes are left as they are"),
            ),
            &mut steps,
        ),
        None => {
            let routes = app_routes(spec, orch).await?;
            let config = route_config(spec, routes, Weight::ZERO, false);
            with_timeout("route", call, deps.router.apply(&config)).await?;
            let rules: Vec<String> = spec
                .apps
                .iter()
                .map(|a| format!("{} -> stable", a.rule))
                .collect();
            said(
                step("routes", spec.group.as_str(), "applied", rules.join("; ")),
                &mut steps,
            );
        }
    }
    Ok(steps)
}
