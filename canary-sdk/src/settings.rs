//! [`Settings`]: where Docker, Traefik and Prometheus are, and how this controller behaves. One
//! value for every front end: read from the environment (the CLI's `CANARY_*` variables and
//! `DOCKER_HOST`), from a map (a Python dict, a JavaScript object), or built in code, and checked
//! in one place before anything connects.

use std::path::PathBuf;
use std::time::Duration;

use canary_core::{Error, HumanDuration, Result};
use serde::{Deserialize, Serialize};

/// Where the analysis reads its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MetricsBackend {
    /// PromQL over the Prometheus HTTP API (`prometheus_url`).
    #[default]
    Prometheus,
    /// Traefik's own `/metrics`, scraped by this process (`traefik_url`).
    Traefik,
}

impl std::str::FromStr for MetricsBackend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "prometheus" => Ok(MetricsBackend::Prometheus),
            "traefik" => Ok(MetricsBackend::Traefik),
            other => Err(Error::invalid(
                "metrics",
                format!("{other:?} is neither \"prometheus\" nor \"traefik\""),
            )),
        }
    }
}

/// Where the router writes the group configs Traefik loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RouterBackend {
    /// Traefik's file provider: `traefik_dynamic_dir` on this machine (one Traefik on this
    /// machine, or several sharing the directory).
    #[default]
    File,
    /// Traefik's etcd v3 provider at `kv_url`: every Traefik replica, on any node, watches the
    /// same keys; each replica's API is listed in `traefik_api`.
    Kv,
}

impl std::str::FromStr for RouterBackend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "file" => Ok(RouterBackend::File),
            "kv" => Ok(RouterBackend::Kv),
            other => Err(Error::invalid(
                "router",
                format!("{other:?} is neither \"file\" nor \"kv\""),
            )),
        }
    }
}

/// A list given as one comma-separated string (an environment variable, a flag) or as a list.
fn list<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        OneOrMany::Many(v) => v,
    })
}

/// The connection settings and this controller's options. Defaults match the local stack
/// (`scripts/stack/env.sh`).
///
/// Built from the environment ([`Settings::from_env`]), from a map with the camelCase names
/// ([`Settings::from_value`], what the bindings pass), or from [`Settings::default`] with its
/// public fields set and then [`Settings::validate`]d:
///
/// ```
/// use canary_sdk::{MetricsBackend, Settings};
///
/// let mut settings = Settings::default();
/// settings.network = "shop-net".into();
/// settings.metrics = MetricsBackend::Traefik;
/// assert!(settings.validate().is_ok());
///
/// let same = Settings::from_value(serde_json::json!({"network": "shop-net", "metrics": "traefik"}));
/// assert_eq!(same.unwrap(), settings);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Settings {
    /// The Docker daemon, as for the docker CLI (`unix:///var/run/docker.sock`,
    /// `tcp://host:2376` with `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` from the environment).
    /// `None`: `DOCKER_HOST`, else the local socket.
    pub docker_host: Option<String>,
    /// The Swarm overlay network through which Traefik reaches the tasks.
    pub network: String,
    /// The directory Traefik's file provider watches (on this machine).
    pub traefik_dynamic_dir: PathBuf,
    /// Traefik's API entry point (API, `/ping`, `/metrics`).
    pub traefik_url: String,
    /// Where the router writes the routes: Traefik's file provider (default) or its etcd
    /// provider (`kv`).
    pub router: RouterBackend,
    /// The etcd v3 endpoint Traefik's etcd provider watches (`router: kv`).
    pub kv_url: String,
    /// The root key of Traefik's etcd provider (`providers.etcd.rootKey`).
    pub kv_root_key: String,
    /// The API of every Traefik replica that serves the routes; a change is reported done only
    /// once each of them shows it. Empty: `traefik_url` alone. As one value, comma-separated.
    #[serde(deserialize_with = "list")]
    pub traefik_api: Vec<String>,
    /// Traefik's `web` entry point, where smoke tests send their requests.
    pub web_url: String,
    /// Where the analysis reads metrics.
    pub metrics: MetricsBackend,
    /// The Prometheus that scrapes Traefik.
    pub prometheus_url: String,
    /// How often Prometheus scrapes Traefik (no query range is shorter than twice this); with
    /// `metrics: traefik`, how often this process scrapes. 100ms to 5m.
    pub scrape_interval: HumanDuration,
    /// How long a controller's lease lasts without a heartbeat. 1s to 1h.
    pub lease: HumanDuration,
    /// Traefik's JSON access log on this machine: when set, the statistical judge's samples are
    /// each request's own duration and status read from it ([`canary_traefik::TraefikAccessLog`]), while
    /// the checks keep reading `metrics`.
    pub traefik_access_log: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            docker_host: None,
            network: "canary-net".into(),
            traefik_dynamic_dir: PathBuf::from("/var/lib/canary-stack/dynamic"),
            traefik_url: "http://127.0.0.1:38082".into(),
            router: RouterBackend::File,
            kv_url: "http://127.0.0.1:2379".into(),
            kv_root_key: "traefik".into(),
            traefik_api: Vec::new(),
            web_url: "http://127.0.0.1:38080".into(),
            metrics: MetricsBackend::Prometheus,
            prometheus_url: "http://127.0.0.1:39090".into(),
            scrape_interval: HumanDuration(Duration::from_secs(1)),
            lease: HumanDuration(Duration::from_secs(15)),
            traefik_access_log: None,
        }
    }
}

/// The environment variable of each setting (the CLI's flags read the same ones).
pub const ENV: &[(&str, &str)] = &[
    ("dockerHost", "DOCKER_HOST"),
    ("network", "CANARY_NETWORK"),
    ("traefikDynamicDir", "CANARY_TRAEFIK_DYNAMIC_DIR"),
    ("traefikUrl", "CANARY_TRAEFIK_URL"),
    ("router", "CANARY_ROUTER"),
    ("kvUrl", "CANARY_KV_URL"),
    ("kvRootKey", "CANARY_KV_ROOT_KEY"),
    ("traefikApi", "CANARY_TRAEFIK_API"),
    ("webUrl", "CANARY_WEB_URL"),
    ("metrics", "CANARY_METRICS"),
    ("prometheusUrl", "CANARY_PROMETHEUS_URL"),
    ("scrapeInterval", "CANARY_SCRAPE_INTERVAL"),
    ("lease", "CANARY_LEASE"),
    ("traefikAccessLog", "CANARY_TRAEFIK_ACCESS_LOG"),
];

impl Settings {
    /// The defaults with every `CANARY_*` variable (and `DOCKER_HOST`) that is set on top.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`Settings::from_env`] with the variables read through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut map = serde_json::Map::new();
        for (field, var) in ENV {
            if let Some(v) = get(var).filter(|v| !v.is_empty()) {
                map.insert((*field).into(), serde_json::Value::String(v));
            }
        }
        Self::from_value(serde_json::Value::Object(map))
            .map_err(|e| rename_field(e, |f| env_of(f).unwrap_or(f).to_string()))
    }

    /// The defaults with the fields of `value` (a map with the camelCase names of this struct,
    /// e.g. from a Python dict) on top. Unknown fields are refused.
    pub fn from_value(value: serde_json::Value) -> Result<Self> {
        let s: Settings = serde_path_to_error_free(value)?;
        s.validate()?;
        Ok(s)
    }

    /// `self` with the fields of `value` on top (flags over the environment).
    pub fn merge(&self, value: serde_json::Value) -> Result<Self> {
        let mut base = serde_json::to_value(self).map_err(|e| {
            Error::internal(format!("settings do not serialize: {e}")).with_source(e)
        })?;
        if let (Some(b), serde_json::Value::Object(m)) = (base.as_object_mut(), value) {
            for (k, v) in m {
                if !v.is_null() {
                    b.insert(k, v);
                }
            }
        }
        Self::from_value(base)
    }

    /// The Traefik APIs the router confirms through: `traefik_api`, or `traefik_url` alone.
    pub fn traefik_apis(&self) -> Vec<String> {
        if self.traefik_api.is_empty() {
            vec![self.traefik_url.clone()]
        } else {
            self.traefik_api.clone()
        }
    }

    /// Checks every value: URLs, ranges of durations, names.
    pub fn validate(&self) -> Result<()> {
        if self.traefik_api.len() > canary_traefik::MAX_APIS {
            return Err(Error::invalid(
                "traefikApi",
                format!(
                    "{} APIs; at most {}",
                    self.traefik_api.len(),
                    canary_traefik::MAX_APIS
                ),
            ));
        }
        let mut urls = vec![
            ("traefikUrl", &self.traefik_url),
            ("webUrl", &self.web_url),
            ("prometheusUrl", &self.prometheus_url),
            ("kvUrl", &self.kv_url),
        ];
        urls.extend(self.traefik_api.iter().map(|u| ("traefikApi", u)));
        for (field, url) in urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048 {
                return Err(Error::invalid(
                    field,
                    format!("{url:?} is not an http(s) URL"),
                ));
            }
        }
        if self.network.is_empty()
            || self.network.len() > 128
            || self
                .network
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::invalid(
                "network",
                format!("{:?} is not a network name", self.network),
            ));
        }
        range(
            "scrapeInterval",
            self.scrape_interval,
            Duration::from_millis(100),
            Duration::from_secs(300),
        )?;
        if let Some(p) = &self.traefik_access_log {
            if p.as_os_str().is_empty() || p.as_os_str().len() > 4096 {
                return Err(Error::invalid(
                    "traefikAccessLog",
                    "an access log path of 1 to 4096 bytes",
                ));
            }
        }
        range(
            "lease",
            self.lease,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        )?;
        Ok(())
    }
}

fn range(field: &str, d: HumanDuration, min: Duration, max: Duration) -> Result<()> {
    if d.get() < min || d.get() > max {
        return Err(Error::invalid(
            field,
            format!(
                "{d} is not between {} and {}",
                HumanDuration(min),
                HumanDuration(max)
            ),
        ));
    }
    Ok(())
}

fn env_of(field: &str) -> Option<&'static str> {
    ENV.iter().find(|(f, _)| *f == field).map(|(_, v)| *v)
}

fn rename_field(e: Error, f: impl Fn(&str) -> String) -> Error {
    match e {
        Error::InvalidInput {
            field,
            reason,
            source,
        } => Error::InvalidInput {
            field: f(&field),
            reason,
            source,
        },
        other => other,
    }
}

fn serde_path_to_error_free(value: serde_json::Value) -> Result<Settings> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        Error::invalid(field, e.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_over_defaults() {
        let s = Settings::from_lookup(|k| match k {
            "CANARY_NETWORK" => Some("other-net".into()),
            "CANARY_METRICS" => Some("traefik".into()),
            "CANARY_SCRAPE_INTERVAL" => Some("2s".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.network, "other-net");
        assert_eq!(s.metrics, MetricsBackend::Traefik);
        assert_eq!(s.scrape_interval.get(), Duration::from_secs(2));
        assert_eq!(s.traefik_url, Settings::default().traefik_url);
        assert_eq!(s.router, RouterBackend::File);
        assert_eq!(s.traefik_apis(), vec![s.traefik_url.clone()]);
    }

    #[test]
    fn the_kv_router_and_every_traefik_api() {
        let s = Settings::from_lookup(|k| match k {
            "CANARY_ROUTER" => Some("kv".into()),
            "CANARY_KV_URL" => Some("http://10.213.0.1:2379".into()),
            "CANARY_TRAEFIK_API" => Some("http://127.0.0.1:38182, http://127.0.0.1:38282".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.router, RouterBackend::Kv);
        assert_eq!(s.kv_url, "http://10.213.0.1:2379");
        assert_eq!(
            s.traefik_apis(),
            vec!["http://127.0.0.1:38182", "http://127.0.0.1:38282"]
        );
        let v =
            Settings::from_value(serde_json::json!({"traefikApi": ["http://a:1", "http://b:2"]}))
                .unwrap();
        assert_eq!(v.traefik_api.len(), 2);
        let e =
            Settings::from_lookup(|k| (k == "CANARY_ROUTER").then(|| "redis".into())).unwrap_err();
        assert!(e.to_string().starts_with("CANARY_ROUTER: "), "{e}");
        let e = Settings::from_lookup(|k| (k == "CANARY_TRAEFIK_API").then(|| "ftp://x".into()))
            .unwrap_err();
        assert!(e.to_string().starts_with("CANARY_TRAEFIK_API: "), "{e}");
        let many = (0..17)
            .map(|i| format!("http://h:{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(
            Settings::from_lookup(|k| (k == "CANARY_TRAEFIK_API").then(|| many.clone())).is_err()
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_name() {
        let e =
            Settings::from_lookup(|k| (k == "CANARY_LEASE").then(|| "99999h".into())).unwrap_err();
        assert!(e.to_string().starts_with("CANARY_LEASE: "), "{e}");
        let e = Settings::from_lookup(|k| (k == "CANARY_SCRAPE_INTERVAL").then(|| "0s".into()))
            .unwrap_err();
        assert!(e.to_string().starts_with("CANARY_SCRAPE_INTERVAL: "), "{e}");
        let e = Settings::from_value(serde_json::json!({"webUrl": "ftp://x"})).unwrap_err();
        assert!(e.to_string().contains("webUrl"), "{e}");
        let e = Settings::from_value(serde_json::json!({"colour": "blue"})).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn merge_keeps_what_is_not_given() {
        let base = Settings::default();
        let s = base
            .merge(serde_json::json!({"network": "n2", "webUrl": null}))
            .unwrap();
        assert_eq!(s.network, "n2");
        assert_eq!(s.web_url, base.web_url);
    }
}
