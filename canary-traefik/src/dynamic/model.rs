//! The file model: the subset of Traefik's dynamic configuration (file provider, `http:` only) that
//! the router writes, with the spellings Traefik reads, and its YAML text.

use std::collections::BTreeMap;

use canary_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// The whole file: `http:` only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DynamicConfig {
    /// The HTTP section.
    pub http: HttpConfig,
}

/// `http.routers`, `http.middlewares`, `http.services` and `http.serversTransports`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub(crate) struct HttpConfig {
    /// Routers by name (never empty).
    pub routers: BTreeMap<String, RouterConfig>,
    /// Middlewares by name (the retry of the app routers; left out when empty).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub middlewares: BTreeMap<String, MiddlewareConfig>,
    /// Services by name (left out when empty).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceConfig>,
    /// Servers transports by name (the canary's dial timeout; left out when empty).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub servers_transports: BTreeMap<String, ServersTransportConfig>,
}

/// One router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub(crate) struct RouterConfig {
    /// The rule.
    pub rule: String,
    /// Entry points.
    pub entry_points: Vec<String>,
    /// The service, `name` (this file) or `name@provider`.
    pub service: String,
    /// Explicit priority.
    pub priority: u64,
    /// Middlewares, in order (left out when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<String>,
}

impl RouterConfig {
    /// A router without middlewares.
    pub(crate) fn new(
        rule: impl Into<String>,
        entry_points: Vec<String>,
        service: impl Into<String>,
        priority: u64,
    ) -> Self {
        RouterConfig {
            rule: rule.into(),
            entry_points,
            service: service.into(),
            priority,
            middlewares: Vec::new(),
        }
    }
}

/// One middleware (only `retry` is written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub(crate) struct MiddlewareConfig {
    /// Sends a request again when the backend could not be reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
}

/// `retry:`. Without `status`, Traefik 3.7 retries only a request of which no byte was written
/// (a failed dial, a refused connection), which is safe for any method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub(crate) struct RetryConfig {
    /// Attempts in all (the first one included).
    pub attempts: u64,
}

impl MiddlewareConfig {
    /// A retry middleware.
    pub(crate) fn retry(attempts: u64) -> Self {
        MiddlewareConfig {
            retry: Some(RetryConfig { attempts }),
        }
    }
}

/// One service: exactly one of weighted, mirroring, failover or load balancer is set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub(crate) struct ServiceConfig {
    /// Weighted round robin over services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted: Option<WeightedConfig>,
    /// A main service plus mirrors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirroring: Option<MirroringConfig>,
    /// A main service and a fallback for when all of the main's servers are down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverConfig>,
    /// Servers by URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerConfig>,
}

impl ServiceConfig {
    /// A weighted service.
    pub(crate) fn weighted(services: Vec<WeightedChild>, sticky: Option<Sticky>) -> Self {
        ServiceConfig {
            weighted: Some(WeightedConfig { services, sticky }),
            ..Default::default()
        }
    }

    /// A mirroring service.
    pub(crate) fn mirroring(service: impl Into<String>, mirrors: Vec<Mirror>) -> Self {
        ServiceConfig {
            mirroring: Some(MirroringConfig {
                service: service.into(),
                mirrors,
            }),
            ..Default::default()
        }
    }

    /// A failover service.
    pub(crate) fn failover(service: impl Into<String>, fallback: impl Into<String>) -> Self {
        ServiceConfig {
            failover: Some(FailoverConfig {
                service: service.into(),
                fallback: fallback.into(),
            }),
            ..Default::default()
        }
    }

    /// A load balancer.
    pub(crate) fn load_balancer(lb: LoadBalancerConfig) -> Self {
        ServiceConfig {
            load_balancer: Some(lb),
            ..Default::default()
        }
    }
}

/// A weighted service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WeightedConfig {
    /// Children.
    pub services: Vec<WeightedChild>,
    /// Sticky cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Sticky>,
}

/// A child of a weighted service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WeightedChild {
    /// Service name.
    pub name: String,
    /// Weight (Traefik reads an integer; 0 is never picked).
    pub weight: u64,
}

/// `sticky:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sticky {
    /// `cookie:`.
    pub cookie: StickyCookie,
}

/// The sticky cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StickyCookie {
    /// Cookie name.
    pub name: String,
    /// HttpOnly flag.
    pub http_only: bool,
}

/// A mirroring service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MirroringConfig {
    /// The main service, whose responses are returned.
    pub service: String,
    /// Mirrors.
    pub mirrors: Vec<Mirror>,
}

/// A mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Mirror {
    /// Service name.
    pub name: String,
    /// Percent of the main service's requests copied.
    pub percent: u64,
}

/// A failover service. The main must report its health (a load balancer with a health check);
/// the fallback needs none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub(crate) struct FailoverConfig {
    /// The main service.
    pub service: String,
    /// Where requests go while every server of the main is down.
    pub fallback: String,
}

/// A load balancer over servers given by URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub(crate) struct LoadBalancerConfig {
    /// Servers (at least one: Traefik's file-provider schema wants one, and an empty load
    /// balancer answers 503 and never reports itself down).
    pub servers: Vec<Server>,
    /// The servers transport, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers_transport: Option<String>,
    /// Active health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
}

impl LoadBalancerConfig {
    /// A load balancer over `urls`, without transport or health check.
    pub(crate) fn new(urls: impl IntoIterator<Item = String>) -> Self {
        LoadBalancerConfig {
            servers: urls.into_iter().map(|url| Server { url }).collect(),
            servers_transport: None,
            health_check: None,
        }
    }
}

/// A server of a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub(crate) struct Server {
    /// `http://<ip>:<port>`.
    pub url: String,
}

/// An active health check: `GET <server><path>` every `interval`; a server that fails to answer
/// 2xx/3xx within `timeout` is `DOWN` until it answers again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub(crate) struct HealthCheck {
    /// The path requested.
    pub path: String,
    /// Between checks (a Go duration, e.g. `250ms`).
    pub interval: String,
    /// Deadline of one check.
    pub timeout: String,
}

impl HealthCheck {
    /// A health check of `path`.
    pub(crate) fn new(
        path: impl Into<String>,
        interval: impl Into<String>,
        timeout: impl Into<String>,
    ) -> Self {
        HealthCheck {
            path: path.into(),
            interval: interval.into(),
            timeout: timeout.into(),
        }
    }
}

/// A servers transport: how Traefik connects to the servers of the load balancers that name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub(crate) struct ServersTransportConfig {
    /// Timeouts.
    pub forwarding_timeouts: ForwardingTimeouts,
}

/// `forwardingTimeouts:` (only the dial timeout is written; Traefik keeps its defaults for the
/// rest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub(crate) struct ForwardingTimeouts {
    /// How long a connection may take to open (a Go duration).
    pub dial_timeout: String,
}

impl ServersTransportConfig {
    /// A transport with a dial timeout.
    pub(crate) fn dial_timeout(timeout: impl Into<String>) -> Self {
        ServersTransportConfig {
            forwarding_timeouts: ForwardingTimeouts {
                dial_timeout: timeout.into(),
            },
        }
    }
}

impl DynamicConfig {
    /// The YAML text of the file (never empty: there is always at least one router).
    pub(crate) fn to_yaml(&self) -> Result<String> {
        if self.http.routers.is_empty() {
            return Err(Error::internal(
                "refusing to write a group file without routers",
            ));
        }
        let body = canary_core::yaml::to_string(self)?;
        Ok(format!(
            "# Written by canary (canary-traefik). Do not edit: the next step rewrites it.\n{body}"
        ))
    }

    /// Parses a file the router wrote.
    pub(crate) fn from_yaml(text: &str) -> Result<Self> {
        canary_core::yaml::from_str(text).map_err(|e| {
            Error::internal(format!("cannot read a canary group file: {e}")).with_source(e)
        })
    }
}
