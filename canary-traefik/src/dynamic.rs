//! The file-provider configuration of one canary group: its model (the subset of Traefik's dynamic
//! configuration the router writes) and the pure function that renders a [`RouteConfig`] into it.
//!
//! Per app, in weighted mode:
//!
//! - service `canary-<group>--<app>`: `weighted` over stable's backend (`<X>@swarm`) and the canary's
//!   (`<canary>@swarm`), with an optional sticky cookie; the canary child is absent when the canary
//!   is not routed. With mirroring, the stable child is `canary-<group>--<app>--mirror`, a
//!   `mirroring` service that sends stable's requests to stable and copies a percent to the canary.
//! - router `canary-<group>--<app>`: the app's rule and entry points at an explicit priority above
//!   any label router (whose default priority is its rule's length), to the weighted service.
//! - router `canary-<group>--<app>--header`: ``(<rule>) && Header(`X-Canary`, `true`)`` one
//!   priority higher, straight to the canary's backend.
//!
//! In replicas mode there is no weighted service: the app router names stable's backend (shared
//! with the canary's tasks through labels) and the header router the canary's own backend.
//!
//! `--` separates the group from the app (and the app from `header`/`mirror`). Names of all groups
//! share Traefik's one file-provider namespace, so group and app names containing `--` are refused:
//! Swarm names start and end with a letter or digit, so the first `--` is then always the separator
//! and two groups can never write the same object name.

use std::collections::BTreeMap;

use canary_core::spec::TrafficMode;
use canary_core::{AppRoute, Error, Result, RouteConfig, ServiceName};
use serde::{Deserialize, Serialize};

use crate::backend::{check_object_name, AppBackends, ProviderVersion};
use crate::rule::{app_priority, check_rule, header_rule};

/// Priority of the app routers: far above label routers (default priority = rule length, which no
/// real rule reaches) and above hand-written priorities such as 1000. The app's rule length is added
/// twice so a more specific canary rule still beats a shorter one of another group, and the header
/// router (one above its app router) never beats a more specific app's router.
pub const PRIORITY_BASE: u64 = 1_000_000;

/// The whole file: `http:` only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicConfig {
    /// The HTTP section.
    pub http: HttpConfig,
}

/// `http.routers` and `http.services`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpConfig {
    /// Routers by name (never empty).
    pub routers: BTreeMap<String, RouterConfig>,
    /// Services by name (empty in replicas mode, then left out).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceConfig>,
}

/// One router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouterConfig {
    /// The rule.
    pub rule: String,
    /// Entry points.
    pub entry_points: Vec<String>,
    /// The service, `name` (this file) or `name@provider`.
    pub service: String,
    /// Explicit priority.
    pub priority: u64,
}

/// One service: weighted or mirroring (exactly one of the two is set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceConfig {
    /// Weighted round robin over services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted: Option<WeightedConfig>,
    /// A main service plus mirrors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirroring: Option<MirroringConfig>,
}

/// A weighted service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightedConfig {
    /// Children.
    pub services: Vec<WeightedChild>,
    /// Sticky cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Sticky>,
}

/// A child of a weighted service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightedChild {
    /// Service name.
    pub name: String,
    /// Weight (Traefik reads an integer).
    pub weight: u64,
}

/// `sticky:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sticky {
    /// `cookie:`.
    pub cookie: StickyCookie,
}

/// The sticky cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StickyCookie {
    /// Cookie name.
    pub name: String,
    /// HttpOnly flag.
    pub http_only: bool,
}

/// A mirroring service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MirroringConfig {
    /// The main service, whose responses are returned.
    pub service: String,
    /// Mirrors.
    pub mirrors: Vec<Mirror>,
}

/// A mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mirror {
    /// Service name.
    pub name: String,
    /// Percent of the main service's requests copied.
    pub percent: u64,
}

/// The names of one app's objects in the group file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppObjects {
    /// The app.
    pub app: ServiceName,
    /// Stable's backend (`X@swarm`).
    pub stable_backend: String,
    /// The canary's backend (`<canary>@swarm`).
    pub canary_backend: String,
    /// The app router.
    pub router: String,
    /// The header router.
    pub header_router: String,
    /// The weighted service (weighted mode).
    pub weighted: String,
    /// The mirroring service (weighted mode with mirroring).
    pub mirror: String,
}

/// What one app's objects should look like once Traefik has loaded them: what the router confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppExpectation {
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
    /// The header router's rule, when it is written.
    pub header_rule: Option<String>,
    /// The weighted children and weights (weighted mode), by name as written.
    pub weights: Option<Vec<WeightedChild>>,
    /// The mirror percent (0: no mirroring service).
    pub mirror: u64,
    /// The sticky cookie name, if any.
    pub sticky_cookie: Option<String>,
    /// The `@swarm` services the config refers to: Traefik must know them before the file is
    /// written, or the weighted service would be disabled as a whole.
    pub requires: Vec<String>,
}

/// A rendered group: the file and what to confirm.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The file's content.
    pub config: DynamicConfig,
    /// Per app, what Traefik must show.
    pub apps: Vec<AppExpectation>,
}

/// `canary-<group>`: the prefix of every object name of the group, and (with `.yml`) the file.
pub fn object_prefix(group: &ServiceName) -> Result<String> {
    if group.as_str().contains("--") {
        return Err(Error::invalid(
            "group",
            format!("{group:?} has \"--\", which separates group and app in Traefik object names"),
        ));
    }
    Ok(format!("canary-{group}"))
}

/// The file name of a group: `canary-<group>.yml`.
pub fn file_name(group: &ServiceName) -> Result<String> {
    Ok(format!("{}.yml", object_prefix(group)?))
}

/// The objects of one app.
pub fn app_objects(
    group: &ServiceName,
    route: &AppRoute,
    version: ProviderVersion,
) -> Result<AppObjects> {
    let prefix = object_prefix(group)?;
    if route.app.name.as_str().contains("--") {
        return Err(Error::invalid(
            "app.name",
            format!(
                "{:?} has \"--\", which separates group and app in Traefik object names",
                route.app.name
            ),
        ));
    }
    let b = AppBackends::of(route)?;
    let base = format!("{prefix}--{}", route.app.name);
    check_object_name(&base, "group")?;
    Ok(AppObjects {
        app: route.app.name.clone(),
        stable_backend: version.qualify(&b.stable),
        canary_backend: version.qualify(&b.canary),
        router: base.clone(),
        header_router: format!("{base}--header"),
        weighted: base.clone(),
        mirror: format!("{base}--mirror"),
    })
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

/// Renders `config` into the group's file-provider configuration and the expectations to confirm.
pub fn render(config: &RouteConfig, version: ProviderVersion) -> Result<Rendered> {
    if config.apps.is_empty() {
        return Err(Error::invalid(
            "apps",
            "a route config needs at least one app",
        ));
    }
    let mut routers = BTreeMap::new();
    let mut services = BTreeMap::new();
    let mut apps = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let routed = config.canary_routed;
    let weighted_mode = config.mode == TrafficMode::Weighted;
    if !weighted_mode && (config.sticky || config.mirror.get() > 0) {
        return Err(Error::invalid(
            "traffic",
            "sticky sessions and mirroring need weighted mode",
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
        let mut requires = vec![o.stable_backend.clone()];
        // Replicas mode runs no canary task at weight 0, so a header router then would point at a
        // service Traefik does not have.
        let header_route = routed
            && config.header_route.is_some()
            && (weighted_mode || config.canary_weight.get() > 0);
        let mirror = if routed && weighted_mode {
            config.mirror.get() as u64
        } else {
            0
        };
        let mut weights = None;
        let mut sticky_cookie = None;
        let router_service = if weighted_mode {
            let stable_child = if mirror > 0 {
                services.insert(
                    o.mirror.clone(),
                    ServiceConfig {
                        weighted: None,
                        mirroring: Some(MirroringConfig {
                            service: o.stable_backend.clone(),
                            mirrors: vec![Mirror {
                                name: o.canary_backend.clone(),
                                percent: mirror,
                            }],
                        }),
                    },
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
                    name: o.canary_backend.clone(),
                    weight: config.canary_weight.get() as u64,
                });
            }
            let sticky = config.sticky.then(|| Sticky {
                cookie: StickyCookie {
                    name: o.weighted.clone(),
                    http_only: true,
                },
            });
            sticky_cookie = sticky.as_ref().map(|s| s.cookie.name.clone());
            services.insert(
                o.weighted.clone(),
                ServiceConfig {
                    weighted: Some(WeightedConfig {
                        services: children.clone(),
                        sticky,
                    }),
                    mirroring: None,
                },
            );
            weights = Some(children);
            o.weighted.clone()
        } else {
            o.stable_backend.clone()
        };
        if routed && (mirror > 0 || header_route || weighted_mode) {
            requires.push(o.canary_backend.clone());
        }
        routers.insert(
            o.router.clone(),
            RouterConfig {
                rule: route.rule.clone(),
                entry_points: route.entry_points.clone(),
                service: router_service.clone(),
                priority,
            },
        );
        let header_rule = match (header_route, &config.header_route) {
            (true, Some(h)) => Some(
                header_rule(&route.rule, &h.name, &h.value, version)
                    .map_err(|e| Error::invalid(field("rule"), reason(&e)))?,
            ),
            _ => None,
        };
        if let Some(rule) = &header_rule {
            routers.insert(
                o.header_router.clone(),
                RouterConfig {
                    rule: rule.clone(),
                    entry_points: route.entry_points.clone(),
                    service: o.canary_backend.clone(),
                    priority: priority + 1,
                },
            );
        }
        requires.dedup();
        apps.push(AppExpectation {
            objects: o,
            router_service,
            rule: route.rule.clone(),
            priority,
            entry_points: route.entry_points.clone(),
            header_rule,
            weights,
            mirror,
            sticky_cookie,
            requires,
        });
    }
    Ok(Rendered {
        config: DynamicConfig {
            http: HttpConfig { routers, services },
        },
        apps,
    })
}

fn reason(e: &Error) -> String {
    match e {
        Error::InvalidInput { field, reason } if field.is_empty() || field == "rule" => {
            reason.clone()
        }
        other => other.to_string(),
    }
}

impl DynamicConfig {
    /// The YAML text of the file (never empty: there is always at least one router).
    pub fn to_yaml(&self) -> Result<String> {
        if self.http.routers.is_empty() {
            return Err(Error::Internal(
                "refusing to write a group file without routers".into(),
            ));
        }
        let body = canary_core::yaml::to_string(self)?;
        Ok(format!(
            "# Written by canary (canary-traefik). Do not edit: the next step rewrites it.\n{body}"
        ))
    }

    /// Parses a file the router wrote.
    pub fn from_yaml(text: &str) -> Result<Self> {
        canary_core::yaml::from_str(text)
            .map_err(|e| Error::Internal(format!("cannot read a canary group file: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::fixture;
    use canary_core::spec::HeaderRoute;
    use canary_core::{AppRef, HeaderName, RuleValue, Weight};

    fn sn(s: &str) -> ServiceName {
        ServiceName::parse(s).unwrap()
    }

    fn app(name: &str, stable: &str, labels: &[(&str, &str)]) -> AppRoute {
        AppRoute {
            group: canary_core::ServiceName::parse("g").unwrap(),
            app: AppRef {
                name: sn(name),
                stable: sn(stable),
                canary: sn(&format!("{stable}-canary")),
            },
            rule: format!("Host(`{name}.localhost`) && PathPrefix(`/`)"),
            port: 8080,
            health_path: "/health".into(),
            entry_points: vec!["web".into()],
            stable_labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            canary_endpoints: Vec::new(),
        }
    }

    fn config(
        mode: TrafficMode,
        weight: u64,
        routed: bool,
        sticky: bool,
        mirror: u64,
    ) -> RouteConfig {
        RouteConfig {
            group: sn("shop"),
            mode,
            apps: vec![
                app(
                    "api",
                    "shop_api",
                    &[(
                        "traefik.http.services.apisvc.loadbalancer.server.port",
                        "8080",
                    )],
                ),
                app("web", "shop_web", &[]),
            ],
            canary_weight: Weight::new(weight).unwrap(),
            canary_routed: routed,
            header_route: Some(HeaderRoute::default()),
            sticky,
            mirror: Weight::new(mirror).unwrap(),
        }
    }

    fn yaml_value(c: &DynamicConfig) -> serde_json::Value {
        let text = c.to_yaml().unwrap();
        assert!(!text.trim().is_empty());
        assert!(!text.contains("routers: {}"), "{text}");
        canary_core::yaml::from_str(&text).unwrap()
    }

    #[test]
    fn weighted_group_file() {
        let r = render(
            &config(TrafficMode::Weighted, 20, true, true, 10),
            ProviderVersion::V3,
        )
        .unwrap();
        let v = yaml_value(&r.config);
        let rule = "Host(`api.localhost`) && PathPrefix(`/`)";
        let p = app_priority(rule);
        assert_eq!(
            v["http"]["routers"]["canary-shop--api"],
            serde_json::json!({"rule": rule, "entryPoints": ["web"], "service": "canary-shop--api", "priority": p})
        );
        assert_eq!(
            v["http"]["routers"]["canary-shop--api--header"],
            serde_json::json!({
                "rule": format!("({rule}) && Header(`X-Canary`, `true`)"),
                "entryPoints": ["web"], "service": "shop-api-canary@swarm", "priority": p + 1
            })
        );
        assert_eq!(
            v["http"]["services"]["canary-shop--api"],
            serde_json::json!({"weighted": {
                "services": [{"name": "canary-shop--api--mirror", "weight": 80}, {"name": "shop-api-canary@swarm", "weight": 20}],
                "sticky": {"cookie": {"name": "canary-shop--api", "httpOnly": true}}
            }})
        );
        assert_eq!(
            v["http"]["services"]["canary-shop--api--mirror"],
            serde_json::json!({"mirroring": {"service": "apisvc@swarm", "mirrors": [{"name": "shop-api-canary@swarm", "percent": 10}]}})
        );
        // The app without a declared service is reached under its Swarm name.
        assert_eq!(r.apps[1].objects.stable_backend, "shop-web@swarm");
        assert_eq!(
            r.apps[0].requires,
            ["apisvc@swarm", "shop-api-canary@swarm"]
        );
        assert!(p > 10_000 && p < i32::MAX as u64);
    }

    #[test]
    fn unrouted_canary_leaves_stable_alone() {
        let r = render(
            &config(TrafficMode::Weighted, 0, false, true, 10),
            ProviderVersion::V3,
        )
        .unwrap();
        let v = yaml_value(&r.config);
        assert_eq!(
            v["http"]["services"]["canary-shop--api"]["weighted"]["services"],
            serde_json::json!([{"name": "apisvc@swarm", "weight": 100}])
        );
        let text = r.config.to_yaml().unwrap();
        assert!(
            !text.contains("canary@swarm") && !text.contains("header") && !text.contains("mirror"),
            "{text}"
        );
        assert_eq!(r.apps[0].requires, ["apisvc@swarm"]);
    }

    #[test]
    fn replicas_group_file() {
        let r = render(
            &config(TrafficMode::Replicas, 25, true, false, 0),
            ProviderVersion::V2,
        )
        .unwrap();
        let v = yaml_value(&r.config);
        assert!(v["http"].get("services").is_none());
        assert_eq!(
            v["http"]["routers"]["canary-shop--api"]["service"],
            "apisvc@docker"
        );
        assert_eq!(
            v["http"]["routers"]["canary-shop--api--header"]["service"],
            "shop-api-canary@docker"
        );
        assert!(v["http"]["routers"]["canary-shop--api--header"]["rule"]
            .as_str()
            .unwrap()
            .ends_with("Headers(`X-Canary`, `true`)"));
        // At weight 0 no canary task runs: no header router.
        let r = render(
            &config(TrafficMode::Replicas, 0, true, false, 0),
            ProviderVersion::V3,
        )
        .unwrap();
        assert_eq!(r.config.http.routers.len(), 2);
        assert!(render(
            &config(TrafficMode::Replicas, 25, true, true, 0),
            ProviderVersion::V3
        )
        .is_err());
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
            let schema: serde_json::Value = serde_json::from_str(&fixture(schema_file)).unwrap();
            let validator = jsonschema::validator_for(&schema).unwrap();
            // The schema itself is good: the live file that Traefik 3.7.9 loaded validates, and a
            // broken one does not.
            let live: serde_json::Value = canary_core::yaml::from_str(&fixture(
                "traefik/live-v3.7.9/config/dynamic/canary.yml",
            ))
            .unwrap();
            assert!(validator.is_valid(&live));
            let broken = serde_json::json!({"http": {"routers": {"r": {"rule": 1}}}});
            assert!(!validator.is_valid(&broken));
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
                    let r = render(&config(mode, weight, routed, sticky, mirror), version).unwrap();
                    let v = yaml_value(&r.config);
                    let errors: Vec<String> = validator
                        .iter_errors(&v)
                        .map(|e| format!("{} at {}", e, e.instance_path()))
                        .collect();
                    assert!(
                        errors.is_empty(),
                        "{version:?} {mode:?} {weight} {routed}: {errors:?}\n{v:#}"
                    );
                }
            }
        }
    }

    #[test]
    fn injection_attempts_are_rejected_not_escaped() {
        let base = config(TrafficMode::Weighted, 10, true, false, 0);
        let with_rule = |rule: &str| {
            let mut c = base.clone();
            c.apps[0].rule = rule.to_string();
            render(&c, ProviderVersion::V3)
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
            render(&c, ProviderVersion::V3),
            Err(Error::InvalidInput { .. })
        ));
        let mut c = base.clone();
        c.apps[0].entry_points = vec!["web]\nhttp: {}".into()];
        assert!(matches!(
            render(&c, ProviderVersion::V3),
            Err(Error::InvalidInput { .. })
        ));
        let mut c = base.clone();
        c.group = sn("a--b");
        assert!(render(&c, ProviderVersion::V3).is_err());
        let mut c = base;
        c.apps.clear();
        assert!(render(&c, ProviderVersion::V3).is_err());
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
}
