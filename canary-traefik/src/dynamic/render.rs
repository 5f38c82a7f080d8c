//! Rendering: a [`RouteConfig`] into the group's file (the shape of the [module docs](super)) and
//! the expectations the router confirms through Traefik's API. Pure: no I/O, every value checked.

use std::collections::BTreeSet;
use std::net::IpAddr;

use canary_core::model::MAX_REPLICAS;
use canary_core::spec::TrafficMode;
use canary_core::traits::TaskEndpoint;
use canary_core::{AppRoute, Error, Result, RouteConfig};

use super::model::{
    DynamicConfig, HealthCheck, HttpConfig, LoadBalancerConfig, MiddlewareConfig, Mirror,
    RouterConfig, ServersTransportConfig, ServiceConfig, Sticky, StickyCookie, WeightedChild,
};
use super::objects::{app_objects, AppObjects};
use super::{DIAL_TIMEOUT, HEALTH_CHECK_INTERVAL, HEALTH_CHECK_TIMEOUT, RETRY_ATTEMPTS};
use crate::backend::traefik_network;
use crate::provider::ProviderVersion;
use crate::rule::{app_priority, check_rule, header_rule};

/// What one app's objects should look like once Traefik has loaded them: what the router confirms
/// (with the objects of [`Rendered::config`]) and reads back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct AppExpectation {
    /// Object names.
    pub objects: AppObjects,
    /// The app router's target.
    pub router_service: String,
    /// The app router's rule.
    pub rule: String,
    /// The app router's priority (the header router has one more).
    pub priority: u64,
    /// The routers' entry points.
    pub entry_points: Vec<String>,
    /// The app router's middlewares (the retry while the canary is routed in weighted mode).
    pub router_middlewares: Vec<String>,
    /// The header router's rule, when it is written.
    pub header_rule: Option<String>,
    /// The weighted children and weights (weighted mode), by name as written.
    pub weights: Option<Vec<WeightedChild>>,
    /// The mirror percent (0: no mirroring service).
    pub mirror: u64,
    /// The sticky cookie name, if any.
    pub sticky_cookie: Option<String>,
    /// The canary's task addresses, `http://<ip>:<port>`, sorted: the servers of its tasks service
    /// (empty when the canary is not routed or has no reachable task).
    pub canary_servers: Vec<String>,
    /// Tasks of the route's endpoints without a usable address on the router's network (their
    /// ids): Traefik cannot reach them, so they get no traffic.
    pub skipped_endpoints: Vec<String>,
    /// The services of other providers the config refers to (stable's backend only): Traefik must
    /// know them before the file is written, or every service naming them would be disabled.
    pub requires: Vec<String>,
}

/// A rendered group: the file and what to confirm.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rendered {
    /// The file's content.
    pub config: DynamicConfig,
    /// Per app, what Traefik must show.
    pub apps: Vec<AppExpectation>,
}

fn check_entry_point(e: &str) -> Result<()> {
    if e.is_empty()
        || e.len() > 100
        || !e
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::invalid(
            "entryPoints",
            format!("{e:?} is not an entry point name"),
        ));
    }
    Ok(())
}

fn check_health_path(path: &str) -> std::result::Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("{path:?} must start with /"));
    }
    if path.chars().count() > 1024 {
        return Err("is longer than 1024 characters".into());
    }
    if path.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("{path:?} has a control or space character"));
    }
    Ok(())
}

/// The URL of one task on `network`, or `None` when it has no usable address there.
fn task_url(endpoint: &TaskEndpoint, network: &str, port: u16) -> Option<String> {
    let ip: IpAddr = endpoint.addresses.get(network)?.trim().parse().ok()?;
    if ip.is_unspecified() || ip.is_multicast() {
        return None;
    }
    Some(match ip {
        IpAddr::V4(v4) => format!("http://{v4}:{port}"),
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}"),
    })
}

/// Stable's backend as Traefik names it and the servers it must show when stable runs exactly
/// `endpoints`: what a promotion waits for before it names stable again.
pub(crate) fn stable_servers(
    route: &AppRoute,
    endpoints: &[TaskEndpoint],
    version: ProviderVersion,
    network: &str,
) -> Result<(String, BTreeSet<String>)> {
    let o = app_objects(&route.group, route, version)?;
    let network = traefik_network(route, version, network);
    let servers: BTreeSet<String> = endpoints
        .iter()
        .take(MAX_REPLICAS as usize)
        .filter_map(|e| task_url(e, network, route.port))
        .collect();
    if servers.is_empty() {
        return Err(Error::invalid(
            "endpoints",
            format!(
                "stable {} has no running task with an address on {network}",
                route.app.stable
            ),
        ));
    }
    Ok((o.stable_backend, servers))
}

/// The canary's servers (sorted, deduplicated) and the tasks skipped for want of an address.
fn task_servers(
    route: &AppRoute,
    network: &str,
    field: &dyn Fn(&str) -> String,
) -> Result<(Vec<String>, Vec<String>)> {
    if route.canary_endpoints.len() as u64 > MAX_REPLICAS {
        return Err(Error::invalid(
            field("canaryEndpoints"),
            format!(
                "{} tasks, more than a canary may run ({MAX_REPLICAS})",
                route.canary_endpoints.len()
            ),
        ));
    }
    if route.canary_endpoints.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    if route.port == 0 {
        return Err(Error::invalid(field("port"), "must be above 0"));
    }
    let mut servers = BTreeSet::new();
    let mut skipped = Vec::new();
    for e in &route.canary_endpoints {
        match task_url(e, network, route.port) {
            Some(url) => {
                servers.insert(url);
            }
            None => skipped.push(e.task.chars().take(64).collect()),
        }
    }
    Ok((servers.into_iter().collect(), skipped))
}

/// `<base>--tasks`: the canary's tasks behind a health check and a short dial timeout, or, with no
/// task to send to, a weighted service whose only child (stable) has weight 0, which answers 503.
fn tasks_service(o: &AppObjects, servers: &[String], health_path: &str) -> ServiceConfig {
    if servers.is_empty() {
        return ServiceConfig::weighted(
            vec![WeightedChild {
                name: o.stable_backend.clone(),
                weight: 0,
            }],
            None,
        );
    }
    let mut lb = LoadBalancerConfig::new(servers.iter().cloned());
    lb.servers_transport = Some(o.transport.clone());
    lb.health_check = Some(HealthCheck::new(
        health_path,
        HEALTH_CHECK_INTERVAL,
        HEALTH_CHECK_TIMEOUT,
    ));
    ServiceConfig::load_balancer(lb)
}

/// `<base>--canary`: a failover from the canary's tasks to stable, or stable alone when there is
/// no task (a failover over a load balancer without servers never falls back).
fn canary_slot(o: &AppObjects, has_servers: bool) -> ServiceConfig {
    if has_servers {
        ServiceConfig::failover(o.tasks.clone(), o.stable_backend.clone())
    } else {
        ServiceConfig::weighted(
            vec![WeightedChild {
                name: o.stable_backend.clone(),
                weight: 1,
            }],
            None,
        )
    }
}

/// Renders `config` into the group's file-provider configuration and the expectations to confirm.
/// `network` is the Swarm network Traefik reaches tasks on, unless stable's labels name another
/// (`traefik.swarm.network`); the canary's task addresses are taken on it.
pub(crate) fn render(
    config: &RouteConfig,
    version: ProviderVersion,
    network: &str,
) -> Result<Rendered> {
    if config.apps.is_empty() {
        return Err(Error::invalid(
            "apps",
            "a route config needs at least one app",
        ));
    }
    let mut http = HttpConfig::default();
    let mut apps = Vec::new();
    let mut seen = BTreeSet::new();
    let routed = config.canary_routed;
    let weighted_mode = config.mode == TrafficMode::Weighted;
    if !weighted_mode && (config.sticky || config.mirror.get() > 0) {
        return Err(Error::invalid(
            "traffic",
            "sticky sessions and mirroring need weighted mode",
        ));
    }
    if config.stable_detached && !(routed && weighted_mode) {
        return Err(Error::invalid(
            "stableDetached",
            "stable leaves the routing only for a routed canary in weighted mode",
        ));
    }
    for (i, route) in config.apps.iter().enumerate() {
        let field = |k: &str| format!("apps[{i}].{k}");
        if !seen.insert(route.app.name.clone()) {
            return Err(Error::invalid(
                field("name"),
                format!("{} appears twice", route.app.name),
            ));
        }
        if route.group != config.group {
            // The metrics sources name the canary's backend after the route's group.
            return Err(Error::invalid(
                field("group"),
                format!(
                    "the route is of group {}, the config of group {}",
                    route.group, config.group
                ),
            ));
        }
        check_rule(&route.rule).map_err(|e| Error::invalid(field("rule"), reason(&e)))?;
        if route.entry_points.is_empty() {
            return Err(Error::invalid(
                field("entryPoints"),
                "needs at least one entry point",
            ));
        }
        for e in &route.entry_points {
            check_entry_point(e)
                .map_err(|err| Error::invalid(field("entryPoints"), reason(&err)))?;
        }
        let o = app_objects(&config.group, route, version)?;
        let priority = app_priority(&route.rule);
        // Replicas mode runs no canary task at weight 0: no header route to a service of 503s.
        let header_route = routed
            && config.header_route.is_some()
            && (weighted_mode || config.canary_weight.get() > 0);
        let mirror = if routed && weighted_mode && !config.stable_detached {
            config.mirror.get() as u64
        } else {
            0
        };
        // The canary's tasks service exists whenever something may send to it: the slot
        // (weighted mode), the header router or the mirror.
        let tasks_written = routed && (weighted_mode || header_route);
        // Replicas mode reads the split from these addresses among stable's servers.
        let (canary_servers, skipped_endpoints) = if tasks_written || (routed && !weighted_mode) {
            task_servers(route, traefik_network(route, version, network), &field)?
        } else {
            (Vec::new(), Vec::new())
        };
        if tasks_written && !canary_servers.is_empty() {
            check_health_path(&route.health_path)
                .map_err(|why| Error::invalid(field("healthPath"), why))?;
        }
        if tasks_written {
            http.services.insert(
                o.tasks.clone(),
                tasks_service(&o, &canary_servers, &route.health_path),
            );
            http.servers_transports.insert(
                o.transport.clone(),
                ServersTransportConfig::dial_timeout(DIAL_TIMEOUT),
            );
        }
        let mut weights = None;
        let mut sticky_cookie = None;
        let mut router_middlewares = Vec::new();
        let detached = config.stable_detached;
        if detached && canary_servers.is_empty() {
            return Err(Error::invalid(
                field("canaryEndpoints"),
                "stable cannot leave the routing while the canary has no task with an address",
            ));
        }
        let router_service = if detached {
            // Nothing names stable: the canary's tasks (behind their health check) serve all.
            o.tasks.clone()
        } else if weighted_mode {
            let stable_child = if mirror > 0 {
                http.services.insert(
                    o.mirror.clone(),
                    ServiceConfig::mirroring(
                        o.stable_backend.clone(),
                        vec![Mirror {
                            name: o.tasks.clone(),
                            percent: mirror,
                        }],
                    ),
                );
                o.mirror.clone()
            } else {
                o.stable_backend.clone()
            };
            let mut children = vec![WeightedChild {
                name: stable_child,
                weight: config.canary_weight.complement().get() as u64,
            }];
            if routed {
                children.push(WeightedChild {
                    name: o.canary_slot.clone(),
                    weight: config.canary_weight.get() as u64,
                });
                http.services.insert(
                    o.canary_slot.clone(),
                    canary_slot(&o, !canary_servers.is_empty()),
                );
                http.middlewares
                    .insert(o.retry.clone(), MiddlewareConfig::retry(RETRY_ATTEMPTS));
                router_middlewares.push(o.retry.clone());
            }
            let sticky = config.sticky.then(|| Sticky {
                cookie: StickyCookie {
                    name: o.weighted.clone(),
                    http_only: true,
                },
            });
            sticky_cookie = sticky.as_ref().map(|s| s.cookie.name.clone());
            http.services.insert(
                o.weighted.clone(),
                ServiceConfig::weighted(children.clone(), sticky),
            );
            weights = Some(children);
            o.weighted.clone()
        } else {
            o.stable_backend.clone()
        };
        let mut router = RouterConfig::new(
            route.rule.clone(),
            route.entry_points.clone(),
            router_service.clone(),
            priority,
        );
        router.middlewares = router_middlewares.clone();
        http.routers.insert(o.router.clone(), router);
        let header_rule = match (header_route && !detached, &config.header_route) {
            (true, Some(h)) => Some(
                header_rule(&route.rule, h, version)
                    .map_err(|e| Error::invalid(field("rule"), reason(&e)))?,
            ),
            _ => None,
        };
        if let Some(rule) = &header_rule {
            http.routers.insert(
                o.header_router.clone(),
                RouterConfig::new(
                    rule.clone(),
                    route.entry_points.clone(),
                    o.tasks.clone(),
                    priority + 1,
                ),
            );
        }
        apps.push(AppExpectation {
            requires: if detached {
                Vec::new()
            } else {
                vec![o.stable_backend.clone()]
            },
            objects: o,
            router_service,
            rule: route.rule.clone(),
            priority,
            entry_points: route.entry_points.clone(),
            router_middlewares,
            header_rule,
            weights,
            mirror,
            sticky_cookie,
            canary_servers,
            skipped_endpoints,
        });
    }
    Ok(Rendered {
        config: DynamicConfig { http },
        apps,
    })
}

fn reason(e: &Error) -> String {
    match e {
        Error::InvalidInput { field, reason, .. } if field.is_empty() || field == "rule" => {
            reason.clone()
        }
        other => other.to_string(),
    }
}
