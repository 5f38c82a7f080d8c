//! Names: which Traefik service carries a track's traffic, and the labels a Swarm service needs for
//! Traefik to route to it.
//!
//! Traefik's swarm provider turns a Swarm service into a Traefik service named either after a
//! `traefik.http.services.<X>.…` label (`X`) or, without such a label, after the Swarm service
//! (normalized the way Traefik does it: every run of characters other than letters and digits
//! becomes one `-`, so `neotix_api` is `neotix-api`). Other providers refer to it as `X@swarm`
//! (`X@docker` for Traefik v2). That is stable's backend. The canary has no Traefik service of the
//! swarm provider (one would vanish with its last task, see `dynamic`): its requests are
//! counted under the group file's load balancer over its tasks,
//! `canary-<group>--<app>--tasks@file`. The router, the metrics sources (the `service` label of
//! `traefik_service_*` metrics) and the labels handed to the orchestrator all derive names here, so
//! they always agree.

use std::collections::{BTreeMap, BTreeSet};

use canary_core::{AppRoute, Result, ServiceName, Track};

use crate::names::{check_object_name, tasks_service};
use crate::provider::{ProviderVersion, RouteProvider};

/// The name Traefik gives a Swarm service that has no service label: Traefik's `Normalize`
/// (runs of characters other than letters and digits become one `-`).
pub(crate) fn traefik_name(service: &ServiceName) -> String {
    service
        .as_str()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The Traefik service names declared by `traefik.http.services.<X>.…` labels.
pub(crate) fn declared_services(labels: &BTreeMap<String, String>) -> BTreeSet<String> {
    labels
        .keys()
        .filter_map(|k| k.strip_prefix("traefik.http.services."))
        .filter_map(|rest| rest.split_once('.').map(|(name, _)| name.to_string()))
        .collect()
}

fn label_is_true(labels: &BTreeMap<String, String>, key: &str) -> bool {
    labels
        .get(key)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The Traefik services that carry an app's tracks, without the provider suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppBackends {
    /// Stable's service (swarm provider): the one its labels declare, or the normalized Swarm
    /// service name.
    pub stable: String,
    /// Whether stable's own labels already declare `stable` (then no label is added to stable).
    pub stable_declared: bool,
    /// The canary's service (file provider): the load balancer over its tasks,
    /// `canary-<group>--<app>--tasks`.
    pub canary: String,
}

impl AppBackends {
    /// Works out the backends of `route`. Exactly one `traefik.http.services.<X>` in stable's labels
    /// makes `X` the stable backend; none (or an ambiguous several) makes it the Swarm service name,
    /// which the router then declares with a label of its own. Group and app names with `--` are
    /// refused (see `names`).
    pub fn of(route: &AppRoute) -> Result<Self> {
        let declared = declared_services(&route.stable_labels);
        let (stable, stable_declared) = if declared.len() == 1 {
            let x = declared.into_iter().next().expect("one");
            check_object_name(&x, "stableLabels")?;
            (x, true)
        } else {
            (traefik_name(&route.app.stable), false)
        };
        let canary = tasks_service(&route.group, &route.app.name)?;
        Ok(AppBackends {
            stable,
            stable_declared,
            canary,
        })
    }

    /// The backend of a track, without the provider suffix.
    pub fn of_track(&self, track: Track) -> &str {
        match track {
            Track::Stable => &self.stable,
            Track::Canary => &self.canary,
        }
    }

    /// The backend of a track as Traefik's metrics and other providers name it: `X@swarm`
    /// (`X@docker` for v2) for stable, `…--tasks@file` for the canary.
    pub fn qualified(&self, track: Track, version: ProviderVersion) -> String {
        self.qualified_in(track, version, RouteProvider::File)
    }

    /// [`AppBackends::qualified`] with the router's objects in `provider` (`…--tasks@etcd`).
    pub fn qualified_in(
        &self,
        track: Track,
        version: ProviderVersion,
        provider: RouteProvider,
    ) -> String {
        match track {
            Track::Stable => version.qualify(&self.stable),
            Track::Canary => format!("{}@{}", self.canary, provider.name()),
        }
    }
}

/// The network Traefik reaches an app's tasks on: the one stable's labels name, else the router's.
pub(crate) fn traefik_network<'a>(
    route: &'a AppRoute,
    version: ProviderVersion,
    network: &'a str,
) -> &'a str {
    route
        .stable_labels
        .get(version.network_label())
        .map(String::as_str)
        .unwrap_or(network)
}

/// The labels of a track's Swarm service. Stable gets what makes it a Traefik service of the swarm
/// provider (nothing when its own labels already do). The canary, in weighted mode, gets only
/// `traefik.enable=false`: nothing names it, and without labels its task churn (crashes,
/// restarts) makes the swarm provider reload nothing, which would reset the canary's health checks.
/// In replicas mode it gets the labels that make it join stable's Traefik service.
pub(crate) fn service_labels(
    route: &AppRoute,
    track: Track,
    version: ProviderVersion,
    network: &str,
    replicas_mode: bool,
) -> Result<BTreeMap<String, String>> {
    let b = AppBackends::of(route)?;
    let port = route.port.to_string();
    let mut out = BTreeMap::new();
    let port_key = |name: &str| format!("traefik.http.services.{name}.loadbalancer.server.port");
    match track {
        Track::Stable => {
            if !label_is_true(&route.stable_labels, "traefik.enable") {
                out.insert("traefik.enable".to_string(), "true".to_string());
            }
            let has_network = route.stable_labels.contains_key(version.network_label());
            // A stable that already declares a usable service keeps its own network choice.
            let usable_as_is = b.stable_declared && out.is_empty();
            if !has_network && !usable_as_is {
                out.insert(version.network_label().to_string(), network.to_string());
            }
            if !b.stable_declared {
                out.insert(port_key(&b.stable), port);
            }
        }
        Track::Canary if !replicas_mode => {
            out.insert("traefik.enable".to_string(), "false".to_string());
        }
        Track::Canary => {
            out.insert("traefik.enable".to_string(), "true".to_string());
            out.insert(
                version.network_label().to_string(),
                traefik_network(route, version, network).to_string(),
            );
            // Join stable's service: Traefik merges the servers of services of one name only
            // when their definitions are identical, so copy every label of it.
            let prefix = format!("traefik.http.services.{}.", b.stable);
            let mut copied = false;
            if b.stable_declared {
                for (k, v) in route
                    .stable_labels
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                {
                    out.insert(k.clone(), v.clone());
                    copied = true;
                }
            }
            if !copied {
                out.insert(port_key(&b.stable), port);
            }
        }
    }
    Ok(out)
}

/// Which Traefik service (`service` label of `traefik_service_*` metrics) carries each Swarm
/// service's traffic. Learned from routes ([`BackendNames::learn`]): stable's backend as
/// [`AppBackends::of`] finds it, and the canary's `canary-<group>--<app>--tasks@file`. A service
/// neither learned nor set ([`BackendNames::set`]) defaults to `<normalized name>@swarm`, which is
/// right for a stable without a service label of its own, and never for a canary of this router
/// (its name says nothing of its group and app).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendNames {
    version: ProviderVersion,
    provider: RouteProvider,
    overrides: BTreeMap<String, String>,
}

impl BackendNames {
    /// Default names for `version`.
    pub fn new(version: ProviderVersion) -> Self {
        BackendNames {
            version,
            provider: RouteProvider::File,
            overrides: BTreeMap::new(),
        }
    }

    /// The canary's backends learned from now on are in `provider` (default the file provider).
    #[must_use]
    pub fn with_provider(mut self, provider: RouteProvider) -> Self {
        self.provider = provider;
        self
    }

    /// Names the Traefik service of a Swarm service exactly (e.g. `api@swarm`), with its provider.
    pub fn set(&mut self, service: &ServiceName, traefik_service: impl Into<String>) {
        self.overrides
            .insert(service.as_str().to_string(), traefik_service.into());
    }

    /// Records the backends of a route (as the router computes them).
    pub fn learn(&mut self, route: &AppRoute) -> Result<()> {
        let b = AppBackends::of(route)?;
        self.set(&route.app.stable, b.qualified(Track::Stable, self.version));
        self.set(
            &route.app.canary,
            b.qualified_in(Track::Canary, self.version, self.provider),
        );
        Ok(())
    }

    /// The `service` label value for a Swarm service.
    pub fn name(&self, service: &ServiceName) -> String {
        self.overrides
            .get(service.as_str())
            .cloned()
            .unwrap_or_else(|| self.version.qualify(&traefik_name(service)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canary_core::{AppRef, Error};

    fn sn(s: &str) -> ServiceName {
        ServiceName::parse(s).unwrap()
    }

    pub(crate) fn route(stable: &str, canary: &str, labels: &[(&str, &str)]) -> AppRoute {
        let app = AppRef {
            name: sn("api"),
            stable: sn(stable),
            canary: sn(canary),
        };
        AppRoute::new(sn("g"), app, "Host(`api.localhost`)", 8080)
            .health_path("/health")
            .entry_points(vec!["web".into()])
            .stable_labels(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
    }

    #[test]
    fn names_follow_traefik_normalize() {
        assert_eq!(traefik_name(&sn("neotix_neotix-api")), "neotix-neotix-api");
        assert_eq!(traefik_name(&sn("a__b--c")), "a-b-c");
        assert_eq!(traefik_name(&sn("api")), "api");
    }

    #[test]
    fn stable_backend_from_labels_or_name() {
        let r = route("shop_api", "shop_api-canary", &[]);
        let b = AppBackends::of(&r).unwrap();
        assert_eq!(
            (b.stable.as_str(), b.stable_declared, b.canary.as_str()),
            ("shop-api", false, "canary-g--api--tasks")
        );
        assert_eq!(
            b.qualified(Track::Stable, ProviderVersion::V2),
            "shop-api@docker"
        );
        assert_eq!(
            b.qualified(Track::Canary, ProviderVersion::V2),
            "canary-g--api--tasks@file"
        );
        // Group and app names that would make object names ambiguous.
        let mut bad = r.clone();
        bad.group = sn("a--b");
        assert!(AppBackends::of(&bad).is_err());

        let r = route(
            "shop_api",
            "shop_api-canary",
            &[
                ("traefik.enable", "true"),
                (
                    "traefik.http.services.apisvc.loadbalancer.server.port",
                    "8080",
                ),
                (
                    "traefik.http.services.apisvc.loadbalancer.sticky.cookie",
                    "true",
                ),
                ("traefik.http.routers.api.rule", "Host(`api.localhost`)"),
            ],
        );
        let b = AppBackends::of(&r).unwrap();
        assert_eq!((b.stable.as_str(), b.stable_declared), ("apisvc", true));

        // Two declared services: ambiguous, so the router declares its own.
        let r = route(
            "api",
            "api-canary",
            &[
                ("traefik.http.services.a.loadbalancer.server.port", "80"),
                ("traefik.http.services.b.loadbalancer.server.port", "81"),
            ],
        );
        assert_eq!(AppBackends::of(&r).unwrap().stable, "api");
    }

    #[test]
    fn a_label_service_name_that_could_break_out_is_rejected() {
        for bad in ["a`b", "a@file", "a\"b", "a b"] {
            let key = format!("traefik.http.services.{bad}.loadbalancer.server.port");
            let r = route("api", "api-canary", &[(key.as_str(), "80")]);
            assert!(
                matches!(AppBackends::of(&r), Err(Error::InvalidInput { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn labels_per_track() {
        let v3 = ProviderVersion::V3;
        let r = route("api", "api-canary", &[]);
        let s = service_labels(&r, Track::Stable, v3, "canary-net", false).unwrap();
        assert_eq!(s.get("traefik.enable").map(String::as_str), Some("true"));
        assert_eq!(
            s.get("traefik.swarm.network").map(String::as_str),
            Some("canary-net")
        );
        assert_eq!(
            s.get("traefik.http.services.api.loadbalancer.server.port")
                .map(String::as_str),
            Some("8080")
        );
        // Weighted mode: the canary is reached through its task addresses only, never as a
        // Traefik service of the swarm provider.
        let c = service_labels(&r, Track::Canary, v3, "canary-net", false).unwrap();
        assert_eq!(
            c,
            BTreeMap::from([("traefik.enable".to_string(), "false".to_string())])
        );
        // Replicas mode: it joins stable's service and has none of its own.
        let c = service_labels(&r, Track::Canary, ProviderVersion::V2, "n", true).unwrap();
        assert_eq!(
            c.get("traefik.docker.network").map(String::as_str),
            Some("n")
        );
        assert_eq!(
            c.get("traefik.http.services.api.loadbalancer.server.port")
                .map(String::as_str),
            Some("8080")
        );
        assert_eq!(c.len(), 3, "{c:?}");

        // A usable stable backend needs nothing.
        let r = route(
            "api",
            "api-canary",
            &[
                ("traefik.enable", "true"),
                ("traefik.http.services.web.loadbalancer.server.port", "80"),
                (
                    "traefik.http.services.web.loadbalancer.passhostheader",
                    "true",
                ),
                ("traefik.swarm.network", "front"),
            ],
        );
        assert!(service_labels(&r, Track::Stable, v3, "canary-net", false)
            .unwrap()
            .is_empty());
        let c = service_labels(&r, Track::Canary, v3, "canary-net", true).unwrap();
        assert_eq!(
            c.get("traefik.swarm.network").map(String::as_str),
            Some("front")
        );
        assert_eq!(
            c.get("traefik.http.services.web.loadbalancer.server.port")
                .map(String::as_str),
            Some("80")
        );
        assert_eq!(
            c.get("traefik.http.services.web.loadbalancer.passhostheader")
                .map(String::as_str),
            Some("true")
        );
    }

    #[test]
    fn backend_names_default_and_learned() {
        let mut n = BackendNames::new(ProviderVersion::V3);
        assert_eq!(n.name(&sn("shop_api")), "shop-api@swarm");
        let r = route(
            "api",
            "api-canary",
            &[("traefik.http.services.web.loadbalancer.server.port", "80")],
        );
        n.learn(&r).unwrap();
        assert_eq!(n.name(&sn("api")), "web@swarm");
        assert_eq!(n.name(&sn("api-canary")), "canary-g--api--tasks@file");
        assert_eq!(
            BackendNames::new(ProviderVersion::V2).name(&sn("api")),
            "api@docker"
        );
        let mut kv = BackendNames::new(ProviderVersion::V3).with_provider(RouteProvider::Etcd);
        kv.learn(&r).unwrap();
        assert_eq!(kv.name(&sn("api-canary")), "canary-g--api--tasks@etcd");
        assert_eq!(kv.name(&sn("api")), "web@swarm");
    }
}
