//! `canary deploy`: the seed's `deploy-canary.sh`, idempotent. In order:
//!
//! 1. the overlay network (created, attachable, when missing);
//! 2. Traefik reachable through its API (or deployed with `--traefik-image`, or an error that says
//!    how to start it);
//! 3. each app's stable service: adopted when it exists (the router's labels added, no task
//!    restarts), created from `stableImage` with `stableReplicas` when it does not
//!    (`<stack>_<name>` labelled `com.docker.stack.namespace=<stack>` in a stack, `init`, on the
//!    network, the router's labels, update order start-first); with `--reset-stable`, put back
//!    on `stableImage`;
//! 4. stable converged, then the group's routes with all traffic on stable, unless a rollout is in
//!    progress (its routes are then left alone).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigPublishModeEnum, EndpointSpec, EndpointSpecModeEnum,
    Mount, MountType, NetworkAttachmentConfig, NetworkCreateRequest, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec, TaskSpecPlacement,
};
use canary_core::{
    AppRoute, Error, Orchestrator, RouteConfig, Router, ServiceName, StateStore, Track, Weight,
};
use canary_swarm::{EndpointMode, NewService, SwarmOrchestrator, STACK_NAMESPACE_LABEL};
use canary_traefik::TraefikRouter;
use serde_json::json;

use crate::args::{DeployArgs, Global};
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::{specfile, wire};

fn said(p: &Printer, what: &str, name: &str, action: &str, detail: String) {
    p.emit(
        json!({"type": "deploy", "what": what, "name": name, "action": action, "detail": detail}),
        || format!("{what:<8} {name:<32} {action:<9} {detail}"),
    );
}

fn docker_err(e: bollard::errors::Error, what: String) -> CliError {
    CliError::new("CANARY_UNAVAILABLE", format!("{what}: {e}"))
}

async fn ensure_network(swarm: &SwarmOrchestrator, name: &str, p: &Printer) -> CliResult<()> {
    let docker = swarm.docker();
    match docker.inspect_network(name, None).await {
        Ok(n) => {
            let driver = n.driver.unwrap_or_default();
            let scope = n.scope.unwrap_or_default();
            if scope != "swarm" {
                return Err(CliError::usage(format!(
                    "network {name} exists but is a {scope} {driver} network; Swarm services need an overlay network"
                )));
            }
            said(
                p,
                "network",
                name,
                "present",
                format!("{driver}, attachable {}", n.attachable.unwrap_or(false)),
            );
            Ok(())
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            let labels = HashMap::from([(
                "io.canary.created-by".to_string(),
                "canary-deploy".to_string(),
            )]);
            docker
                .create_network(NetworkCreateRequest {
                    name: name.to_string(),
                    driver: Some("overlay".into()),
                    attachable: Some(true),
                    labels: Some(labels),
                    ..Default::default()
                })
                .await
                .map_err(|e| docker_err(e, format!("cannot create network {name}")))?;
            said(p, "network", name, "created", "overlay, attachable".into());
            Ok(())
        }
        Err(e) => Err(docker_err(e, format!("cannot inspect network {name}"))),
    }
}

fn port_of(url: &str, flag: &str) -> CliResult<u16> {
    let u =
        reqwest::Url::parse(url).map_err(|e| CliError::usage(format!("{flag} {url:?}: {e}")))?;
    u.port_or_known_default()
        .ok_or_else(|| CliError::usage(format!("{flag} {url:?} has no port")))
}

/// Deploys Traefik as a Swarm service configured like the local stack's (swarm + file providers,
/// API and metrics on the `traefik` entry point, host-mode ports).
async fn deploy_traefik(
    g: &Global,
    a: &DeployArgs,
    image: &str,
    swarm: &SwarmOrchestrator,
    p: &Printer,
) -> CliResult<()> {
    let c = &g.connect;
    let web = port_of(&c.web_url, "--web-url")?;
    let api = port_of(&c.traefik_url, "--traefik-url")?;
    let dir = std::fs::canonicalize(&c.traefik_dynamic_dir).map_err(|e| {
        CliError::usage(format!(
            "--traefik-dynamic-dir {}: {e}",
            c.traefik_dynamic_dir.display()
        ))
    })?;
    let args: Vec<String> = [
        "--entrypoints.web.address=:8080".to_string(),
        "--entrypoints.traefik.address=:8082".into(),
        "--api.insecure=true".into(),
        "--api.dashboard=true".into(),
        "--ping.entrypoint=traefik".into(),
        "--metrics.prometheus.entrypoint=traefik".into(),
        "--metrics.prometheus.addEntryPointsLabels=true".into(),
        "--metrics.prometheus.addRoutersLabels=true".into(),
        "--metrics.prometheus.addServicesLabels=true".into(),
        "--providers.providersThrottleDuration=500ms".into(),
        "--providers.swarm.endpoint=unix:///var/run/docker.sock".into(),
        "--providers.swarm.exposedByDefault=false".into(),
        format!("--providers.swarm.network={}", c.network),
        "--providers.swarm.refreshSeconds=1s".into(),
        "--providers.swarm.allowEmptyServices=true".into(),
        "--providers.file.directory=/etc/traefik/dynamic".into(),
        "--providers.file.watch=true".into(),
        "--global.checkNewVersion=false".into(),
        "--global.sendAnonymousUsage=false".into(),
    ]
    .into();
    let bind = |source: &str, target: &str, ro: bool| Mount {
        source: Some(source.to_string()),
        target: Some(target.to_string()),
        typ: Some(MountType::BIND),
        read_only: Some(ro),
        ..Default::default()
    };
    let host_port = |published: u16, target: u16| EndpointPortConfig {
        published_port: Some(published as i64),
        target_port: Some(target as i64),
        publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
        ..Default::default()
    };
    let spec = ServiceSpec {
        name: Some(a.traefik_service.clone()),
        labels: Some(HashMap::from([(
            "io.canary.created-by".to_string(),
            "canary-deploy".to_string(),
        )])),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(image.to_string()),
                args: Some(args),
                mounts: Some(vec![
                    bind(&dir.display().to_string(), "/etc/traefik/dynamic", true),
                    bind("/var/run/docker.sock", "/var/run/docker.sock", false),
                ]),
                stop_grace_period: Some(5_000_000_000),
                ..Default::default()
            }),
            placement: Some(TaskSpecPlacement {
                constraints: Some(vec!["node.role==manager".into()]),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(c.network.clone()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::DNSRR),
            ports: Some(vec![host_port(web, 8080), host_port(api, 8082)]),
        }),
        ..Default::default()
    };
    swarm
        .docker()
        .create_service(spec, None)
        .await
        .map_err(|e| {
            docker_err(
                e,
                format!("cannot create the Traefik service {}", a.traefik_service),
            )
        })?;
    said(
        p,
        "traefik",
        &a.traefik_service,
        "created",
        format!("{image}, ports {web} and {api} in host mode (published on every interface of the node)"),
    );
    Ok(())
}

async fn ensure_traefik(
    g: &Global,
    a: &DeployArgs,
    router: &TraefikRouter,
    swarm: &SwarmOrchestrator,
    p: &Printer,
) -> CliResult<()> {
    let c = &g.connect;
    if !c.traefik_dynamic_dir.is_dir() {
        return Err(CliError::usage(format!(
            "the Traefik file-provider directory {} does not exist (--traefik-dynamic-dir / CANARY_TRAEFIK_DYNAMIC_DIR); \
             start the local stack with `bash scripts/stack/up.sh`",
            c.traefik_dynamic_dir.display()
        )));
    }
    match router.api().reachable().await {
        Ok(()) => {
            said(p, "traefik", &c.traefik_url, "reachable", format!("file provider {}", c.traefik_dynamic_dir.display()));
            return Ok(());
        }
        Err(e) if a.traefik_image.is_none() => {
            return Err(CliError::new(
                "CANARY_UNAVAILABLE",
                format!(
                    "Traefik is not reachable at {} ({e}); start the local stack with `bash scripts/stack/up.sh`, \
                     or pass --traefik-image IMAGE to deploy Traefik as a Swarm service",
                    c.traefik_url
                ),
            ))
        }
        Err(_) => {}
    }
    let image = a.traefik_image.as_deref().unwrap_or_default();
    deploy_traefik(g, a, image, swarm, p).await?;
    let start = Instant::now();
    loop {
        match router.api().reachable().await {
            Ok(()) => {
                said(
                    p,
                    "traefik",
                    &c.traefik_url,
                    "reachable",
                    format!("after {:.1}s", start.elapsed().as_secs_f64()),
                );
                return Ok(());
            }
            Err(e) if start.elapsed() > Duration::from_secs(60) => {
                return Err(CliError::new(
                    "CANARY_TIMEOUT",
                    format!(
                        "Traefik did not answer at {} within 60s: {e}",
                        c.traefik_url
                    ),
                ))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

fn parse_labels(list: &[String]) -> CliResult<BTreeMap<String, String>> {
    list.iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| CliError::usage(format!("--label {kv:?}: expected KEY=VALUE")))
        })
        .collect()
}

pub(crate) async fn deploy(g: &Global, a: &DeployArgs, p: &Printer) -> CliResult<u8> {
    let spec = specfile::load(&g.spec, &g.overrides)?.spec;
    let extra_labels = parse_labels(&a.labels)?;
    let endpoint_mode = match a.endpoint_mode.as_str() {
        "dnsrr" => EndpointMode::Dnsrr,
        "vip" => EndpointMode::Vip,
        other => {
            return Err(CliError::usage(format!(
                "--endpoint-mode {other:?}: dnsrr or vip"
            )))
        }
    };
    let swarm = wire::swarm(&g.connect).await?;
    let router = wire::router(&g.connect, &spec)?;
    ensure_network(&swarm, &g.connect.network, p).await?;
    ensure_traefik(g, a, &router, &swarm, p).await?;

    let apps = spec.app_refs();
    let store = swarm.state_store();
    let active = store
        .load(&spec.group, &apps)
        .await?
        .map(|v| v.state.phase)
        .filter(|phase| !phase.is_terminal());
    if let (Some(phase), true) = (active, a.reset_stable) {
        return Err(CliError::new(
            "CANARY_CONFLICT",
            format!("a rollout of {} is {phase}: finish it (or `canary rollback`) before --reset-stable", spec.group),
        ));
    }

    let converge = spec.timeouts.converge.get();
    let mut stables: Vec<ServiceName> = Vec::new();
    for (app, spec_app) in apps.iter().zip(&spec.apps) {
        let route = |labels: BTreeMap<String, String>| AppRoute {
            app: app.clone(),
            rule: spec_app.rule.clone(),
            port: spec_app.port,
            entry_points: spec.traffic.entry_points.clone(),
            stable_labels: labels,
        };
        match swarm.inspect(&app.stable).await {
            Ok(current) => {
                let wanted = router.service_labels(&route(current.labels.clone()), Track::Stable);
                let missing: BTreeMap<String, Option<String>> = wanted
                    .into_iter()
                    .filter(|(k, v)| current.labels.get(k) != Some(v))
                    .map(|(k, v)| (k, Some(v)))
                    .collect();
                if !missing.is_empty() {
                    swarm.update_labels(&app.stable, &missing).await?;
                }
                let mut detail = format!(
                    "{}, {}/{} running",
                    current.image, current.running, current.desired
                );
                if !missing.is_empty() {
                    detail.push_str(&format!(", {} router label(s) added", missing.len()));
                }
                said(p, "stable", app.stable.as_str(), "adopted", detail);
                if a.reset_stable {
                    let image = spec_app.stable_image.as_ref().ok_or_else(|| {
                        CliError::usage(format!(
                            "--reset-stable needs stableImage for app {}",
                            spec_app.name
                        ))
                    })?;
                    let mut changes = Vec::new();
                    if current.image != image.as_str() {
                        swarm.set_image(&app.stable, image).await?;
                        changes.push(format!("image {} -> {image}", current.image));
                    }
                    if current.desired != spec_app.stable_replicas {
                        swarm.scale(&app.stable, spec_app.stable_replicas).await?;
                        changes.push(format!(
                            "replicas {} -> {}",
                            current.desired, spec_app.stable_replicas
                        ));
                    }
                    if !changes.is_empty() {
                        said(
                            p,
                            "stable",
                            app.stable.as_str(),
                            "reset",
                            changes.join(", "),
                        );
                    }
                }
            }
            Err(Error::NotFound { .. }) => {
                let image = spec_app.stable_image.clone().ok_or_else(|| {
                    CliError::usage(format!(
                        "{} does not exist and apps[{}].stableImage is not set: give the image stable starts from",
                        app.stable, spec_app.name
                    ))
                })?;
                let mut s =
                    NewService::new(app.stable.clone(), image.clone(), spec_app.stable_replicas);
                s.labels = router.service_labels(&route(BTreeMap::new()), Track::Stable);
                if let Some(stack) = &spec.stack {
                    s.labels
                        .insert(STACK_NAMESPACE_LABEL.to_string(), stack.to_string());
                }
                s.labels.extend(extra_labels.clone());
                s.networks = vec![g.connect.network.clone()];
                s.init = spec_app.init;
                s.endpoint_mode = Some(endpoint_mode);
                s.start_first = true;
                swarm
                    .create_service(&s)
                    .await
                    .map_err(|e| CliError::from(e).context(format!("create {}", app.stable)))?;
                said(
                    p,
                    "stable",
                    app.stable.as_str(),
                    "created",
                    format!("{image} x{}", spec_app.stable_replicas),
                );
            }
            Err(e) => return Err(e.into()),
        }
        stables.push(app.stable.clone());
    }
    let waited = Instant::now();
    let results =
        futures::future::join_all(stables.iter().map(|s| swarm.wait_converged(s, converge))).await;
    for (name, r) in stables.iter().zip(results) {
        let st = r.map_err(|e| CliError::from(e).context(format!("{name} did not converge")))?;
        said(
            p,
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
        );
    }

    let file = router.file_path(&spec.group)?;
    match active {
        Some(phase) => said(
            p,
            "routes",
            spec.group.as_str(),
            "kept",
            format!(
                "a rollout is {phase}: its routes in {} are left as they are",
                file.display()
            ),
        ),
        None => {
            let routes = wire::routes(&swarm, &spec).await?;
            let config = RouteConfig {
                group: spec.group.clone(),
                mode: spec.traffic.mode,
                apps: routes,
                canary_weight: Weight::ZERO,
                canary_routed: false,
                header_route: None,
                sticky: false,
                mirror: Weight::ZERO,
            };
            router
                .apply(&config)
                .await
                .map_err(|e| CliError::from(e).context("routes"))?;
            let rules: Vec<String> = spec
                .apps
                .iter()
                .map(|a| format!("{} -> stable", a.rule))
                .collect();
            said(
                p,
                "routes",
                spec.group.as_str(),
                "applied",
                format!("{} ({})", rules.join("; "), file.display()),
            );
        }
    }
    p.emit(
        json!({"type": "result", "result": "deployed", "group": spec.group}),
        || {
            format!(
                "deployed group {}: smoke test with `canary test -f {}`",
                spec.group,
                g.spec.display()
            )
        },
    );
    Ok(0)
}
