//! Unit tests of the rendering: the shape per mode and state, the names, the official schemas.

use std::collections::{BTreeMap, BTreeSet};

use canary_core::spec::{HeaderRoute, TrafficMode};
use canary_core::traits::TaskEndpoint;
use canary_core::{
    AppRef, AppRoute, Error, HeaderName, RouteConfig, RuleValue, ServiceName, Weight,
};
use serde_json::{json, Value};

use super::*;
use crate::provider::ProviderVersion;
use crate::rule::app_priority;
use crate::testutil::fixture;

const NET: &str = "canary-net";

fn sn(s: &str) -> ServiceName {
    ServiceName::parse(s).unwrap()
}

fn endpoint(task: &str, addresses: &[(&str, &str)]) -> TaskEndpoint {
    TaskEndpoint {
        task: task.into(),
        node: Some("node1".into()),
        addresses: addresses
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn app(name: &str, stable: &str, labels: &[(&str, &str)]) -> AppRoute {
    let app = AppRef {
        name: sn(name),
        stable: sn(stable),
        canary: sn(&format!("{stable}-canary")),
    };
    let rule = format!("Host(`{name}.localhost`) && PathPrefix(`/`)");
    AppRoute::new(sn("shop"), app, rule, 8080)
        .health_path("/healthz")
        .entry_points(vec!["web".into()])
        .stable_labels(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .canary_endpoints(vec![
            endpoint("t2", &[(NET, "10.0.1.9"), ("ingress", "10.0.0.9")]),
            endpoint("t1", &[(NET, "10.0.1.10")]),
        ])
}

fn config(mode: TrafficMode, weight: u64, routed: bool, sticky: bool, mirror: u64) -> RouteConfig {
    let apps = vec![
        app(
            "api",
            "shop_api",
            &[(
                "traefik.http.services.apisvc.loadbalancer.server.port",
                "8080",
            )],
        ),
        app("web", "shop_web", &[]),
    ];
    RouteConfig::new(sn("shop"), mode, apps)
        .canary_weight(Weight::new(weight).unwrap())
        .canary_routed(routed)
        .header_route(HeaderRoute::default())
        .sticky(sticky)
        .mirror(Weight::new(mirror).unwrap())
}

fn without_tasks(mut c: RouteConfig) -> RouteConfig {
    for a in &mut c.apps {
        a.canary_endpoints.clear();
    }
    c
}

fn yaml_value(c: &DynamicConfig) -> Value {
    let text = c.to_yaml().unwrap();
    assert!(!text.trim().is_empty());
    assert!(!text.contains("routers: {}"), "{text}");
    canary_core::yaml::from_str(&text).unwrap()
}

/// Nothing in a file may name the canary's Swarm service: it vanishes with its last task.
fn assert_never_names_the_canary_service(r: &Rendered) {
    let text = r.config.to_yaml().unwrap();
    for bad in ["canary@swarm", "canary@docker", "-canary@"] {
        assert!(!text.contains(bad), "{bad} in\n{text}");
    }
    for a in &r.apps {
        assert_eq!(a.requires, std::slice::from_ref(&a.objects.stable_backend));
    }
}

#[test]
fn weighted_with_running_canary_tasks() {
    let r = render(
        &config(TrafficMode::Weighted, 20, true, true, 10),
        ProviderVersion::V3,
        NET,
    )
    .unwrap();
    assert_never_names_the_canary_service(&r);
    let v = yaml_value(&r.config);
    let rule = "Host(`api.localhost`) && PathPrefix(`/`)";
    let p = app_priority(rule);
    assert_eq!(
        v["http"]["routers"]["canary-shop--api"],
        json!({"rule": rule, "entryPoints": ["web"], "service": "canary-shop--api", "priority": p,
               "middlewares": ["canary-shop--api--retry"]})
    );
    assert_eq!(
        v["http"]["routers"]["canary-shop--api--header"],
        json!({
            "rule": format!("({rule}) && Header(`X-Canary`, `true`)"),
            "entryPoints": ["web"], "service": "canary-shop--api--tasks", "priority": p + 1
        })
    );
    assert_eq!(
        v["http"]["middlewares"]["canary-shop--api--retry"],
        json!({"retry": {"attempts": 4}})
    );
    let s = &v["http"]["services"];
    assert_eq!(
        s["canary-shop--api"],
        json!({"weighted": {
            "services": [{"name": "canary-shop--api--mirror", "weight": 80}, {"name": "canary-shop--api--canary", "weight": 20}],
            "sticky": {"cookie": {"name": "canary-shop--api", "httpOnly": true}}
        }})
    );
    assert_eq!(
        s["canary-shop--api--canary"],
        json!({"failover": {"service": "canary-shop--api--tasks", "fallback": "apisvc@swarm"}})
    );
    assert_eq!(
        s["canary-shop--api--mirror"],
        json!({"mirroring": {"service": "apisvc@swarm", "mirrors": [{"name": "canary-shop--api--tasks", "percent": 10}]}})
    );
    // One server per task, sorted, on the router's network (not ingress).
    assert_eq!(
        s["canary-shop--api--tasks"],
        json!({"loadBalancer": {
            "servers": [{"url": "http://10.0.1.10:8080"}, {"url": "http://10.0.1.9:8080"}],
            "serversTransport": "canary-shop--api--tasks",
            "healthCheck": {"path": "/healthz", "interval": "250ms", "timeout": "250ms"}
        }})
    );
    assert_eq!(
        v["http"]["serversTransports"]["canary-shop--api--tasks"],
        json!({"forwardingTimeouts": {"dialTimeout": "250ms"}})
    );
    // The app without a declared service is reached under its Swarm name.
    assert_eq!(r.apps[1].objects.stable_backend, "shop-web@swarm");
    assert_eq!(
        r.apps[0].objects.canary_backend,
        "canary-shop--api--tasks@file"
    );
    assert_eq!(
        r.apps[0].canary_servers,
        ["http://10.0.1.10:8080", "http://10.0.1.9:8080"]
    );
    assert_eq!(r.apps[0].router_middlewares, ["canary-shop--api--retry"]);
    assert!(p > 10_000 && p < i32::MAX as u64);
    // Without sticky sessions and mirroring the stable child is stable's backend itself.
    let r = render(
        &config(TrafficMode::Weighted, 30, true, false, 0),
        ProviderVersion::V3,
        NET,
    )
    .unwrap();
    let v = yaml_value(&r.config);
    assert_eq!(
        v["http"]["services"]["canary-shop--web"],
        json!({"weighted": {"services": [{"name": "shop-web@swarm", "weight": 70}, {"name": "canary-shop--web--canary", "weight": 30}]}})
    );
    assert!(v["http"]["services"]
        .get("canary-shop--web--mirror")
        .is_none());
}

#[test]
fn weighted_without_a_running_canary_task_sends_its_share_to_stable() {
    let r = render(
        &without_tasks(config(TrafficMode::Weighted, 20, true, true, 10)),
        ProviderVersion::V3,
        NET,
    )
    .unwrap();
    assert_never_names_the_canary_service(&r);
    let v = yaml_value(&r.config);
    let s = &v["http"]["services"];
    // The slot keeps its name (sticky cookies stay valid) and sends to stable.
    assert_eq!(
        s["canary-shop--api"]["weighted"]["services"],
        json!([{"name": "canary-shop--api--mirror", "weight": 80}, {"name": "canary-shop--api--canary", "weight": 20}])
    );
    assert_eq!(
        s["canary-shop--api--canary"],
        json!({"weighted": {"services": [{"name": "apisvc@swarm", "weight": 1}]}})
    );
    // The header route and the mirror get a service that answers 503, never stable's answer.
    assert_eq!(
        s["canary-shop--api--tasks"],
        json!({"weighted": {"services": [{"name": "apisvc@swarm", "weight": 0}]}})
    );
    assert_eq!(
        v["http"]["routers"]["canary-shop--api--header"]["service"],
        "canary-shop--api--tasks"
    );
    assert!(r.apps[0].canary_servers.is_empty());
    assert!(r.apps[0].skipped_endpoints.is_empty());
}

#[test]
fn unrouted_canary_leaves_stable_alone() {
    for c in [
        config(TrafficMode::Weighted, 0, false, true, 10),
        without_tasks(config(TrafficMode::Weighted, 0, false, false, 0)),
    ] {
        let r = render(&c, ProviderVersion::V3, NET).unwrap();
        let v = yaml_value(&r.config);
        assert_eq!(
            v["http"]["services"]["canary-shop--api"]["weighted"]["services"],
            json!([{"name": "apisvc@swarm", "weight": 100}])
        );
        assert_eq!(
            v["http"]["routers"]["canary-shop--api"].get("middlewares"),
            None
        );
        let text = r.config.to_yaml().unwrap();
        for gone in [
            "canary@swarm",
            "header",
            "mirror",
            "--canary",
            "--tasks",
            "--retry",
            "middlewares",
            "serversTransports",
        ] {
            assert!(!text.contains(gone), "{gone} in\n{text}");
        }
        assert_eq!(r.apps[0].requires, ["apisvc@swarm"]);
        assert!(r.apps[0].canary_servers.is_empty());
    }
}

#[test]
fn replicas_group_file() {
    let r = render(
        &config(TrafficMode::Replicas, 25, true, false, 0),
        ProviderVersion::V2,
        NET,
    )
    .unwrap();
    assert_never_names_the_canary_service(&r);
    let v = yaml_value(&r.config);
    assert_eq!(
        v["http"]["routers"]["canary-shop--api"],
        json!({"rule": "Host(`api.localhost`) && PathPrefix(`/`)", "entryPoints": ["web"],
               "service": "apisvc@docker", "priority": app_priority("Host(`api.localhost`) && PathPrefix(`/`)")})
    );
    let header = &v["http"]["routers"]["canary-shop--api--header"];
    assert_eq!(header["service"], "canary-shop--api--tasks");
    assert!(header["rule"]
        .as_str()
        .unwrap()
        .ends_with("Headers(`X-Canary`, `true`)"));
    // The header route reaches the canary's tasks, and only them; no weighted service, no slot.
    let services: BTreeSet<&str> = v["http"]["services"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        services,
        BTreeSet::from(["canary-shop--api--tasks", "canary-shop--web--tasks"])
    );
    assert_eq!(
        v["http"]["services"]["canary-shop--api--tasks"]["loadBalancer"]["servers"],
        json!([{"url": "http://10.0.1.10:8080"}, {"url": "http://10.0.1.9:8080"}])
    );
    assert!(v["http"].get("middlewares").is_none());
    assert_eq!(
        r.apps[0].canary_servers,
        ["http://10.0.1.10:8080", "http://10.0.1.9:8080"]
    );
    // At weight 0 no canary task runs: no header router, nothing of the canary's.
    let r = render(
        &config(TrafficMode::Replicas, 0, true, false, 0),
        ProviderVersion::V3,
        NET,
    )
    .unwrap();
    assert_eq!(r.config.http.routers.len(), 2);
    assert!(r.config.http.services.is_empty());
    assert!(r.config.http.servers_transports.is_empty());
    assert!(render(
        &config(TrafficMode::Replicas, 25, true, true, 0),
        ProviderVersion::V3,
        NET
    )
    .is_err());
}

#[test]
fn task_addresses_are_taken_on_traefiks_network_and_checked() {
    let mut c = config(TrafficMode::Weighted, 50, true, false, 0);
    let net_label = [
        ("traefik.swarm.network", "front"),
        (
            "traefik.http.services.apisvc.loadbalancer.server.port",
            "8080",
        ),
    ];
    c.apps[0] = app("api", "shop_api", &net_label);
    c.apps[0].canary_endpoints = vec![
        endpoint("a", &[("front", "fd00::5"), (NET, "10.0.1.3")]),
        endpoint("b", &[("front", " 10.9.0.2 ")]),
        endpoint("c", &[("front", "10.9.0.2")]),
        endpoint("d", &[("front", "not-an-ip")]),
        endpoint("e", &[("front", "0.0.0.0")]),
        endpoint("f", &[(NET, "10.0.1.4")]),
        endpoint("g", &[("front", "10.9.0.3/24")]),
    ];
    let r = render(&c, ProviderVersion::V3, NET).unwrap();
    // Stable's own network label wins over the router's; IPv6 in brackets; duplicates merged.
    assert_eq!(
        r.apps[0].canary_servers,
        ["http://10.9.0.2:8080", "http://[fd00::5]:8080"]
    );
    assert_eq!(r.apps[0].skipped_endpoints, ["d", "e", "f", "g"]);
    // No usable address at all: the canary's share goes to stable.
    c.apps[0].canary_endpoints = vec![endpoint("f", &[(NET, "10.0.1.4")])];
    let r = render(&c, ProviderVersion::V3, NET).unwrap();
    assert!(r.config.http.services["canary-shop--api--canary"]
        .failover
        .is_none());
    assert_eq!(r.apps[0].skipped_endpoints, ["f"]);
    // Bounded: no more tasks than a canary may have replicas.
    let mut big = config(TrafficMode::Weighted, 50, true, false, 0);
    big.apps[0].canary_endpoints = (0..=canary_core::model::MAX_REPLICAS)
        .map(|i| endpoint(&format!("t{i}"), &[(NET, "10.0.1.9")]))
        .collect();
    let e = render(&big, ProviderVersion::V3, NET).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field == "apps[0].canaryEndpoints"),
        "{e}"
    );
    // The health check path is checked before it reaches the file.
    for bad in ["health", "/a b", "/a\nb"] {
        let mut c = config(TrafficMode::Weighted, 50, true, false, 0);
        c.apps[1].health_path = bad.into();
        let e = render(&c, ProviderVersion::V3, NET).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { field, .. } if field == "apps[1].healthPath"),
            "{bad:?}: {e}"
        );
    }
    // A route of another group would give the canary's metrics a name the file does not have.
    let mut c = config(TrafficMode::Weighted, 50, true, false, 0);
    c.apps[1].group = sn("other");
    let e = render(&c, ProviderVersion::V3, NET).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field == "apps[1].group"),
        "{e}"
    );
}

/// Every rendering, of every mode and state, for every app.
fn all_renderings(version: ProviderVersion) -> Vec<(String, Rendered)> {
    let mut out = Vec::new();
    for mode in [TrafficMode::Weighted, TrafficMode::Replicas] {
        for (weight, routed, sticky, mirror) in [
            (0, true, false, 0),
            (20, true, true, 10),
            (100, true, false, 0),
            (0, false, true, 5),
        ] {
            let (sticky, mirror) = if mode == TrafficMode::Replicas {
                (false, 0)
            } else {
                (sticky, mirror)
            };
            for tasks in [true, false] {
                let mut c = config(mode, weight, routed, sticky, mirror);
                if !tasks {
                    c = without_tasks(c);
                }
                let what = format!("{version:?} {mode:?} w{weight} routed={routed} sticky={sticky} mirror={mirror} tasks={tasks}");
                out.push((what, render(&c, version, NET).unwrap()));
            }
        }
    }
    out
}

/// Every file the router can write validates against Traefik's official JSON Schema (v3 and v2).
#[test]
fn generated_files_validate_against_the_official_schemas() {
    for (version, schema_file) in [
        (
            ProviderVersion::V3,
            "traefik/schemas/traefik-v3-file-provider.schema.json",
        ),
        (
            ProviderVersion::V2,
            "traefik/schemas/traefik-v2-file-provider.schema.json",
        ),
    ] {
        let schema: Value = serde_json::from_str(&fixture(schema_file)).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        // The schema itself is good: the live file that Traefik 3.7.9 loaded validates, and a
        // broken one does not; an empty load balancer (which Traefik takes but which never fails
        // over) does not either.
        let live: Value =
            canary_core::yaml::from_str(&fixture("traefik/live-v3.7.9/config/dynamic/canary.yml"))
                .unwrap();
        assert!(validator.is_valid(&live));
        assert!(!validator.is_valid(&json!({"http": {"routers": {"r": {"rule": 1}}}})));
        assert!(!validator
            .is_valid(&json!({"http": {"services": {"s": {"loadBalancer": {"servers": []}}}}})));
        for (what, r) in all_renderings(version) {
            let v = yaml_value(&r.config);
            let errors: Vec<String> = validator
                .iter_errors(&v)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{what}: {errors:?}\n{v:#}");
        }
    }
}

/// Key paths of a dynamic configuration, with object names and list positions as `*`.
fn key_paths(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                // http.<kind>.<name>: names are the user's (or the reference's placeholders).
                let named = ["routers", "services", "middlewares", "serversTransports"]
                    .iter()
                    .any(|kind| path == format!("http.{kind}"));
                let key = if named { "*" } else { k.as_str() };
                let p = if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                };
                out.insert(p.clone());
                key_paths(child, &p, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                key_paths(item, &format!("{path}.[]"), out);
            }
        }
        _ => {}
    }
}

/// The schema leaves `http.serversTransports` open, so every key the router writes is also checked
/// against Traefik's own generated reference of the file provider (v3.7.9 and v2.11.53).
#[test]
fn every_key_written_is_in_traefiks_reference_configuration() {
    for (version, reference) in [
        (
            ProviderVersion::V3,
            "traefik/reference-dynamic-config/v3.7.9/file.yaml",
        ),
        (
            ProviderVersion::V2,
            "traefik/reference-dynamic-config/v2.11.53/file.yaml",
        ),
    ] {
        let reference: Value = canary_core::yaml::from_str(&fixture(reference)).unwrap();
        let mut known = BTreeSet::new();
        key_paths(&reference, "", &mut known);
        assert!(known.contains("http.serversTransports.*.forwardingTimeouts.dialTimeout"));
        let mut written = BTreeSet::new();
        for (_, r) in all_renderings(version) {
            key_paths(&yaml_value(&r.config), "", &mut written);
        }
        assert!(written.contains("http.services.*.failover.fallback"));
        let unknown: Vec<&String> = written.difference(&known).collect();
        assert!(unknown.is_empty(), "{version:?}: {unknown:?}");
    }
}

/// The files Traefik 3.7.9 loaded and served on the local stack (a running canary task, then
/// none: `tests/fixtures/traefik/live-v3.7.9-routing/`) are what the renderer writes for the same route.
#[test]
fn renders_the_files_traefik_loaded_on_the_local_stack() {
    let app = AppRef {
        name: sn("web"),
        stable: sn("rt2-stable"),
        canary: sn("rt2-stable-canary"),
    };
    let mut route = AppRoute::new(sn("rt2"), app, "Host(`rt2.localhost`)", 8080)
        .health_path("/health")
        .entry_points(vec!["web".into()])
        .stable_labels(BTreeMap::from([(
            "traefik.http.services.rt2-stable.loadbalancer.server.port".to_string(),
            "8080".to_string(),
        )]))
        .canary_endpoints(vec![endpoint("x", &[(NET, "10.0.1.22")])]);
    let mut c = RouteConfig::new(sn("rt2"), TrafficMode::Weighted, vec![route.clone()])
        .canary_weight(Weight::new(20).unwrap())
        .canary_routed(true)
        .header_route(HeaderRoute::default())
        .sticky(true)
        .mirror(Weight::new(10).unwrap());
    for (file, tasks) in [("canary-rt2.yml", true), ("canary-rt2.no-task.yml", false)] {
        if !tasks {
            route.canary_endpoints.clear();
            c.apps = vec![route.clone()];
        }
        let mut loaded: Value =
            canary_core::yaml::from_str(&fixture(&format!("traefik/live-v3.7.9-routing/{file}")))
                .unwrap();
        // The capture used a hand-picked priority; the renderer derives it from the rule.
        let p = app_priority("Host(`rt2.localhost`)");
        loaded["http"]["routers"]["canary-rt2--web"]["priority"] = json!(p);
        loaded["http"]["routers"]["canary-rt2--web--header"]["priority"] = json!(p + 1);
        let r = render(&c, ProviderVersion::V3, NET).unwrap();
        assert_eq!(yaml_value(&r.config), loaded, "{file}");
    }
}

#[test]
fn injection_attempts_are_rejected_not_escaped() {
    let base = config(TrafficMode::Weighted, 10, true, false, 0);
    let with_rule = |rule: &str| {
        let mut c = base.clone();
        c.apps[0].rule = rule.to_string();
        render(&c, ProviderVersion::V3, NET)
    };
    for bad in [
        "Host(`a.localhost`) || Host(`b",
        "Host(`a`)) || (Host(`b`)",
        "Host(\"a\\\") || Host(\"b\")",
        "Host('a')",
        "Host(`a`)\n",
        "",
        ")(",
    ] {
        assert!(
            matches!(with_rule(bad), Err(Error::InvalidInput { .. })),
            "{bad:?}"
        );
    }
    for ok in [
        "Host(`a`) && PathPrefix(`/a(b`)",
        "Host(\"a.localhost\")",
        "Host(`it's`)",
    ] {
        assert!(with_rule(ok).is_ok(), "{ok:?}");
    }
    // Header values and names are validated types, and validated again here.
    assert!(RuleValue::parse("true`) || Host(`x").is_err());
    assert!(HeaderName::parse("X-Canary`").is_err());
    // Names from labels that would break out of a name or reference.
    let mut c = base.clone();
    c.apps[0].stable_labels = BTreeMap::from([(
        "traefik.http.services.x@file.loadbalancer.server.port".to_string(),
        "80".to_string(),
    )]);
    assert!(matches!(
        render(&c, ProviderVersion::V3, NET),
        Err(Error::InvalidInput { .. })
    ));
    let mut c = base.clone();
    c.apps[0].entry_points = vec!["web]\nhttp: {}".into()];
    assert!(matches!(
        render(&c, ProviderVersion::V3, NET),
        Err(Error::InvalidInput { .. })
    ));
    let mut c = base.clone();
    c.group = sn("a--b");
    assert!(render(&c, ProviderVersion::V3, NET).is_err());
    let mut c = base;
    c.apps.clear();
    assert!(render(&c, ProviderVersion::V3, NET).is_err());
}

#[test]
fn priorities_order_overlapping_rules() {
    let short = app_priority("Host(`a`)");
    let long = app_priority("Host(`a`) && PathPrefix(`/api`)");
    assert!(
        long > short + 1,
        "a longer app rule beats a shorter app's header router"
    );
    assert!(
        short > 4096,
        "above any label router's default priority (rule length)"
    );
}

#[test]
fn detached_stable_is_named_nowhere_and_the_canary_tasks_serve_all() {
    let mut c = config(TrafficMode::Weighted, 100, true, true, 10);
    c.stable_detached = true;
    let r = render(&c, ProviderVersion::V3, NET).unwrap();
    let text = r.config.to_yaml().unwrap();
    assert!(!text.contains("@swarm"), "{text}");
    let v = yaml_value(&r.config);
    for a in &r.apps {
        assert!(a.requires.is_empty(), "{:?}", a.requires);
        assert_eq!(a.router_service, a.objects.tasks);
        assert!(a.header_rule.is_none() && a.weights.is_none() && a.mirror == 0);
        assert_eq!(
            v["http"]["routers"][&a.objects.router]["service"],
            json!(a.objects.tasks)
        );
        assert!(v["http"]["routers"][&a.objects.header_router].is_null());
        assert!(v["http"]["services"][&a.objects.weighted].is_null());
        let servers = &v["http"]["services"][&a.objects.tasks]["loadBalancer"]["servers"];
        assert_eq!(servers.as_array().unwrap().len(), 2, "{servers}");
    }
}

#[test]
fn stable_detaches_only_for_a_routed_canary_with_tasks_in_weighted_mode() {
    let detached = |mut c: RouteConfig| {
        c.stable_detached = true;
        render(&c, ProviderVersion::V3, NET).unwrap_err()
    };
    for e in [
        detached(without_tasks(config(
            TrafficMode::Weighted,
            100,
            true,
            false,
            0,
        ))),
        detached(config(TrafficMode::Weighted, 0, false, false, 0)),
        detached(config(TrafficMode::Replicas, 100, true, false, 0)),
    ] {
        assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    }
}

#[test]
fn stable_servers_are_its_task_addresses_on_traefiks_network() {
    let route = app("web", "shop_web", &[]);
    let eps = [
        endpoint("s1", &[(NET, "10.0.1.20"), ("ingress", "10.0.0.20")]),
        endpoint("s2", &[(NET, "10.0.1.21")]),
        endpoint("s3", &[("other", "10.9.0.1")]),
    ];
    let (name, servers) = stable_servers(&route, &eps, ProviderVersion::V3, NET).unwrap();
    assert_eq!(name, "shop-web@swarm");
    assert_eq!(
        servers.into_iter().collect::<Vec<_>>(),
        ["http://10.0.1.20:8080", "http://10.0.1.21:8080"]
    );
    assert!(stable_servers(&route, &eps[2..], ProviderVersion::V3, NET).is_err());
}
