//! Traefik's HTTP API as the router reads it: `GET /api/http/services/<name>`,
//! `GET /api/http/routers/<name>` and `GET /api/http/middlewares/<name>`, parsed into the fields
//! that matter for confirming a config. (Traefik's API does not show servers transports: a load
//! balancer naming one Traefik lacks is disabled with an error, which is how a missing one shows.)

use std::collections::BTreeMap;
use std::time::Duration;

use canary_core::{Error, Result};
use serde::Deserialize;

use crate::http::{self, Auth, BaseUrl};

/// A service as Traefik's API shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceInfo {
    /// `name@provider`.
    pub name: String,
    /// The provider.
    #[serde(default)]
    pub provider: String,
    /// `enabled`, `disabled` or `warning`.
    #[serde(default)]
    pub status: String,
    /// Why Traefik disabled it, in its own words.
    #[serde(default)]
    pub error: Vec<String>,
    /// `loadbalancer`, `weighted`, `mirroring`, ...
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// A weighted service's children.
    #[serde(default)]
    pub weighted: Option<WeightedInfo>,
    /// A mirroring service.
    #[serde(default)]
    pub mirroring: Option<MirroringInfo>,
    /// A failover service.
    #[serde(default)]
    pub failover: Option<FailoverInfo>,
    /// A load balancer's servers.
    #[serde(default)]
    pub load_balancer: Option<LoadBalancerInfo>,
    /// Server URL to `UP`/`DOWN`.
    #[serde(default)]
    pub server_status: BTreeMap<String, String>,
    /// Routers using it.
    #[serde(default)]
    pub used_by: Vec<String>,
}

/// `weighted:` of a service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WeightedInfo {
    /// Children (absent when none).
    #[serde(default)]
    pub services: Vec<WeightedChildInfo>,
    /// Sticky settings, as Traefik shows them.
    #[serde(default)]
    pub sticky: Option<serde_json::Value>,
}

impl WeightedInfo {
    /// The sticky cookie's name, if sticky.
    pub fn sticky_cookie(&self) -> Option<&str> {
        self.sticky.as_ref()?.get("cookie")?.get("name")?.as_str()
    }
}

/// A child of a weighted service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WeightedChildInfo {
    /// The child's name as written in the config.
    pub name: String,
    /// Its weight; Traefik uses 1 when none is given.
    #[serde(default)]
    pub weight: Option<i64>,
}

impl WeightedChildInfo {
    /// The weight in force (1 when unset, as Traefik does).
    pub fn effective_weight(&self) -> i64 {
        self.weight.unwrap_or(1)
    }
}

/// `mirroring:` of a service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MirroringInfo {
    /// The main service.
    pub service: String,
    /// Mirrors.
    #[serde(default)]
    pub mirrors: Vec<MirrorInfo>,
}

/// A mirror.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MirrorInfo {
    /// Service name.
    pub name: String,
    /// Percent.
    #[serde(default)]
    pub percent: u64,
}

/// `failover:` of a service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct FailoverInfo {
    /// The main service, as written.
    #[serde(default)]
    pub service: String,
    /// The fallback, as written.
    #[serde(default)]
    pub fallback: String,
}

/// `loadBalancer:` of a service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerInfo {
    /// Servers.
    #[serde(default)]
    pub servers: Vec<ServerInfo>,
    /// The servers transport, qualified (`name@file`).
    #[serde(default)]
    pub servers_transport: Option<String>,
    /// The active health check.
    #[serde(default)]
    pub health_check: Option<HealthCheckInfo>,
}

/// `healthCheck:` of a load balancer (durations as Traefik prints them, e.g. `250ms`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct HealthCheckInfo {
    /// The path checked.
    #[serde(default)]
    pub path: String,
    /// Between checks.
    #[serde(default)]
    pub interval: Option<String>,
    /// Deadline of one check.
    #[serde(default)]
    pub timeout: Option<String>,
}

/// A server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServerInfo {
    /// Its URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// A router as Traefik's API shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouterInfo {
    /// `name@provider`.
    pub name: String,
    /// The provider.
    #[serde(default)]
    pub provider: String,
    /// `enabled`, `disabled` or `warning`.
    #[serde(default)]
    pub status: String,
    /// Why Traefik disabled it, in its own words.
    #[serde(default)]
    pub error: Vec<String>,
    /// The rule.
    #[serde(default)]
    pub rule: String,
    /// The service as written.
    #[serde(default)]
    pub service: String,
    /// The priority in force (the rule length when none was given).
    #[serde(default)]
    pub priority: Option<i64>,
    /// Entry points.
    #[serde(default)]
    pub entry_points: Vec<String>,
    /// Middlewares, qualified (`name@file`).
    #[serde(default)]
    pub middlewares: Vec<String>,
}

/// A middleware as Traefik's API shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MiddlewareInfo {
    /// `name@provider`.
    pub name: String,
    /// `enabled`, `disabled` or `warning`.
    #[serde(default)]
    pub status: String,
    /// Why Traefik disabled it, in its own words.
    #[serde(default)]
    pub error: Vec<String>,
    /// `retry`, `headers`, ...
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// A retry middleware.
    #[serde(default)]
    pub retry: Option<RetryInfo>,
}

/// `retry:` of a middleware.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct RetryInfo {
    /// Attempts.
    #[serde(default)]
    pub attempts: u64,
}

/// Whether an API object is loaded and serving.
pub(crate) fn is_enabled(status: &str, error: &[String]) -> bool {
    status == "enabled" && error.is_empty()
}

/// Whether Traefik refused an API object (`disabled`, or errors). `warning` (e.g. some servers
/// of a load balancer down) is loaded and serving.
pub(crate) fn is_refused(status: &str, error: &[String]) -> bool {
    status == "disabled" || !error.is_empty()
}

/// `a@file` and `a` name the same object inside the file provider.
pub(crate) fn same_name(written: &str, shown: &str, provider: &str) -> bool {
    let strip = |s: &str| -> String {
        match s.strip_suffix(&format!("@{provider}")) {
            Some(x) => x.to_string(),
            None => s.to_string(),
        }
    };
    strip(written) == strip(shown)
}

/// A client of Traefik's API.
#[derive(Debug, Clone)]
pub struct TraefikApi {
    base: BaseUrl,
    auth: Auth,
    client: reqwest::Client,
    timeout: Duration,
}

impl TraefikApi {
    /// A client of the API at `url` (e.g. `http://127.0.0.1:38082`).
    pub fn new(url: &str, auth: Auth, timeout: Duration) -> Result<Self> {
        Ok(TraefikApi {
            base: BaseUrl::parse(url, "traefikUrl")?,
            auth,
            client: http::client()?,
            timeout,
        })
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    async fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let url = self.base.join(path);
        let what = format!("GET {url}");
        let resp = self
            .auth
            .apply(self.client.get(&url))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| http::send_error(e, &format!("traefik API {what}"), self.timeout))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| http::send_error(e, &format!("traefik API {what}"), self.timeout))?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status.is_success() {
            return Ok(Some(body.to_vec()));
        }
        Err(status_error(status.as_u16(), &body))
    }

    /// `GET /api/http/services/<name>`; `None` when Traefik has no such service.
    pub async fn service(&self, name: &str) -> Result<Option<ServiceInfo>> {
        match self.get(&format!("/api/http/services/{name}")).await? {
            None => Ok(None),
            Some(body) => parse_json(&body, "service").map(Some),
        }
    }

    /// `GET /api/http/routers/<name>`; `None` when Traefik has no such router.
    pub async fn router(&self, name: &str) -> Result<Option<RouterInfo>> {
        match self.get(&format!("/api/http/routers/{name}")).await? {
            None => Ok(None),
            Some(body) => parse_json(&body, "router").map(Some),
        }
    }

    /// `GET /api/http/middlewares/<name>`; `None` when Traefik has no such middleware.
    pub async fn middleware(&self, name: &str) -> Result<Option<MiddlewareInfo>> {
        match self.get(&format!("/api/http/middlewares/{name}")).await? {
            None => Ok(None),
            Some(body) => parse_json(&body, "middleware").map(Some),
        }
    }

    /// Checks that the API answers (`GET /api/version`).
    pub async fn reachable(&self) -> Result<()> {
        self.get("/api/version").await?.map(|_| ()).ok_or_else(|| {
            Error::unavailable(format!(
                "{} answers 404 on /api/version: is the API enabled?",
                self.base.as_str()
            ))
        })
    }
}

/// Parses an API answer.
pub(crate) fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        Error::internal(format!(
            "traefik API answered a {what} this client cannot read ({e}): {}",
            http::snippet(body, 200)
        ))
        .with_source(e)
    })
}

/// Traefik's `{"message": "..."}` error body, or the raw text.
pub(crate) fn api_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Msg {
        message: String,
    }
    match serde_json::from_slice::<Msg>(body) {
        Ok(m) => m.message,
        Err(_) => http::snippet(body, 200),
    }
}

fn status_error(status: u16, body: &[u8]) -> Error {
    let message = format!("HTTP {status}: {}", api_message(body));
    if status >= 500 || status == 429 {
        Error::unavailable(format!("traefik API: {message}"))
    } else {
        Error::rejected("traefik", message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fixture, fixture_bytes, http_body};

    #[test]
    fn live_weighted_sticky_service() {
        let s: ServiceInfo = parse_json(
            &fixture_bytes("traefik/live-v3.7.9/api/http_service_app-weighted_at_file.json"),
            "s",
        )
        .unwrap();
        assert_eq!(s.name, "app-weighted@file");
        assert!(is_enabled(&s.status, &s.error));
        let w = s.weighted.unwrap();
        let got: Vec<_> = w
            .services
            .iter()
            .map(|c| (c.name.as_str(), c.effective_weight()))
            .collect();
        assert_eq!(got, [("app-stable", 90), ("app-canary", 10)]);
        assert_eq!(w.sticky_cookie(), Some("canary_sticky"));
        assert!(same_name("app-stable", "app-stable@file", "file"));
        assert!(!same_name("app-stable@swarm", "app-stable", "file"));

        let s: ServiceInfo = parse_json(
            &fixture_bytes("traefik/live-v3.7.9/api/http_service_demo-weighted_at_file.json"),
            "s",
        )
        .unwrap();
        assert_eq!(s.weighted.unwrap().services[0].name, "demo@swarm");
    }

    #[test]
    fn live_load_balancers_and_mirror() {
        let s: ServiceInfo = parse_json(
            &fixture_bytes("traefik/live-v3.7.9/api/http_service_demo_at_swarm.json"),
            "s",
        )
        .unwrap();
        assert_eq!(
            (s.provider.as_str(), s.kind.as_deref()),
            ("swarm", Some("loadbalancer"))
        );
        assert_eq!(s.load_balancer.unwrap().servers.len(), 2);
        let s: ServiceInfo = parse_json(
            &fixture_bytes("traefik/live-v3.7.9/api/http_service_app-canary_at_file.json"),
            "s",
        )
        .unwrap();
        assert_eq!(
            s.server_status
                .get("http://127.0.0.1:18093")
                .map(String::as_str),
            Some("DOWN")
        );
        let s: ServiceInfo = parse_json(
            &fixture_bytes("traefik/live-v3.7.9/api/http_service_app-mirror_at_file.json"),
            "s",
        )
        .unwrap();
        let m = s.mirroring.unwrap();
        assert_eq!(
            (
                m.service.as_str(),
                m.mirrors[0].name.as_str(),
                m.mirrors[0].percent
            ),
            ("app-stable", "app-canary", 10)
        );
    }

    #[test]
    fn live_routers() {
        let r: RouterInfo = parse_json(
            &fixture_bytes("traefik/live-v3.7.9/api/http_router_app.json"),
            "r",
        )
        .unwrap();
        assert_eq!(
            (r.rule.as_str(), r.priority, r.service.as_str()),
            ("Host(`app.localhost`)", Some(21), "app-weighted")
        );
        let r: RouterInfo = parse_json(
            &fixture_bytes("traefik/live-v3.7.9/api/http_router_app-canary-header.json"),
            "r",
        )
        .unwrap();
        assert_eq!(
            r.rule,
            "Host(`app.localhost`) && Header(`X-Canary`, `true`)"
        );
        assert_eq!(r.priority, Some(1000));
        assert!(is_enabled(&r.status, &r.error));
        let all: Vec<RouterInfo> = parse_json(
            &fixture_bytes("traefik/live-v3.7.9/api/http_routers.json"),
            "r",
        )
        .unwrap();
        assert!(all.iter().any(|r| r.name == "app@file"));
    }

    /// The objects of the router's shape, as Traefik 3.7.9 showed them on the local stack
    /// (`tests/fixtures/traefik/live-v3.7.9-routing/`).
    #[test]
    fn live_failover_tasks_and_retry() {
        let cap = |name: &str| fixture_bytes(&format!("traefik/live-v3.7.9-routing/{name}.json"));
        let s: ServiceInfo =
            parse_json(&cap("services_canary-rt2--web--canary_file"), "s").unwrap();
        assert_eq!(
            s.failover,
            Some(FailoverInfo {
                service: "canary-rt2--web--tasks".into(),
                fallback: "rt2-stable@swarm".into()
            })
        );
        let s: ServiceInfo = parse_json(&cap("services_canary-rt2--web--tasks_file"), "s").unwrap();
        let lb = s.load_balancer.unwrap();
        assert_eq!(
            lb.servers_transport.as_deref(),
            Some("canary-rt2--web--tasks@file")
        );
        let hc = lb.health_check.unwrap();
        assert_eq!(
            (
                hc.path.as_str(),
                hc.interval.as_deref(),
                hc.timeout.as_deref()
            ),
            ("/health", Some("250ms"), Some("250ms"))
        );
        let s: ServiceInfo =
            parse_json(&cap("down_services_canary-rt2--web--tasks_file"), "s").unwrap();
        assert_eq!(
            s.server_status
                .get("http://10.0.1.22:8080")
                .map(String::as_str),
            Some("DOWN")
        );
        assert!(is_enabled(&s.status, &s.error), "a dead canary is no error");
        let s: ServiceInfo = parse_json(
            &cap("missing_transport_services_canary-rt2--web--tasks_file"),
            "s",
        )
        .unwrap();
        assert!(is_refused(&s.status, &s.error));
        let m: MiddlewareInfo =
            parse_json(&cap("middlewares_canary-rt2--web--retry_file"), "m").unwrap();
        assert_eq!(
            (m.kind.as_deref(), m.retry.map(|r| r.attempts)),
            (Some("retry"), Some(4))
        );
        let r: RouterInfo = parse_json(&cap("routers_canary-rt2--web_file"), "r").unwrap();
        assert_eq!(r.middlewares, ["canary-rt2--web--retry@file"]);
    }

    #[test]
    fn error_state_is_disabled_with_traefiks_words() {
        let s: ServiceInfo = parse_json(
            &fixture_bytes("traefik/live-v3.7.9/api-error-state/http_service_ghost-weighted.json"),
            "s",
        )
        .unwrap();
        assert!(!is_enabled(&s.status, &s.error));
        assert_eq!(
            s.error,
            ["building HTTP service \"ghost@swarm\": the service \"ghost@swarm\" does not exist"]
        );
        let r: RouterInfo = parse_json(
            &fixture_bytes("traefik/live-v3.7.9/api-error-state/http_router_ghost-mw.json"),
            "r",
        )
        .unwrap();
        assert_eq!(r.status, "disabled");
        assert_eq!(r.error, ["middleware \"nope@file\" does not exist"]);
        let all: Vec<RouterInfo> = parse_json(
            &fixture_bytes("traefik/live-v3.7.9/api-error-state/http_routers_status_disabled.json"),
            "r",
        )
        .unwrap();
        assert!(all
            .iter()
            .all(|r| r.status == "disabled" && !r.error.is_empty()));
    }

    #[test]
    fn not_found_and_bad_request_bodies() {
        let raw = fixture("traefik/live-v3.7.9/api/http_service_not_found.http.txt");
        let (status, body) = http_body(&raw);
        assert_eq!(status, 404);
        assert_eq!(
            api_message(body.as_bytes()),
            "service not found: does-not-exist@file"
        );
        let raw = fixture("traefik/live-v3.7.9/api/http_services_page_invalid.http.txt");
        let (status, body) = http_body(&raw);
        let e = status_error(status, body.as_bytes());
        assert_eq!(
            e,
            Error::rejected("traefik", "HTTP 400: invalid request: page: 9, per_page: 3")
        );
        assert!(matches!(
            status_error(502, b"bad gateway"),
            Error::Unavailable { .. }
        ));
    }

    #[test]
    fn upstream_golden_outputs_parse() {
        for v in ["v2", "v3"] {
            let s: Vec<ServiceInfo> = parse_json(
                &fixture_bytes(&format!("traefik/api/{v}/pkg-api-testdata_services.json")),
                "s",
            )
            .unwrap();
            let w = s
                .iter()
                .find(|s| s.kind.as_deref() == Some("weighted"))
                .unwrap();
            assert_eq!(
                w.weighted.as_ref().unwrap().sticky_cookie(),
                Some("chocolat")
            );
            assert!(w.weighted.as_ref().unwrap().services.is_empty());
            let m = s
                .iter()
                .find(|s| s.kind.as_deref() == Some("mirroring"))
                .unwrap();
            assert_eq!(m.mirroring.as_ref().unwrap().mirrors.len(), 3);
            let d: Vec<ServiceInfo> = parse_json(
                &fixture_bytes(&format!(
                    "traefik/api/{v}/pkg-api-testdata_services-filtered-search.json"
                )),
                "s",
            )
            .unwrap();
            assert_eq!(d[0].status, "disabled");
            let r: Vec<RouterInfo> = parse_json(
                &fixture_bytes(&format!("traefik/api/{v}/pkg-api-testdata_routers.json")),
                "r",
            )
            .unwrap();
            assert!(!r.is_empty());
            let _: RouterInfo = parse_json(
                &fixture_bytes(&format!("traefik/api/{v}/pkg-api-testdata_router-bar.json")),
                "r",
            )
            .unwrap();
            let _: ServiceInfo = parse_json(
                &fixture_bytes(&format!(
                    "traefik/api/{v}/pkg-api-testdata_service-bar.json"
                )),
                "s",
            )
            .unwrap();
        }
    }

    #[test]
    fn a_body_that_is_not_json_is_an_internal_error_with_the_text() {
        let e = parse_json::<ServiceInfo>(b"<html>oops</html>", "service").unwrap_err();
        assert!(
            matches!(&e, Error::Internal { message: m, .. } if m.contains("<html>oops</html>")),
            "{e}"
        );
    }
}
