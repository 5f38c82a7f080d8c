//! The Traefik side: `TraefikRouter`, `PrometheusMetrics`, `TraefikScrapeMetrics` and
//! `WebhookRunner` over `canary-traefik`. Options are plain objects read with serde; every
//! check of their values is the builders' own.

use std::collections::BTreeMap;
use std::sync::Arc;

use canary_core::spec::{HookSpec, TrafficMode};
use canary_core::{HookContext, HookRunner, MetricQuery, MetricsSource};
use canary_traefik::ProviderVersion;
use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi::Env;
use napi_derive::napi;
use serde::Deserialize;

use crate::convert::{arg, ms, Js};
use crate::error::{OrThrow, Settled};
use crate::swarm::{promise, service_name};

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
enum VersionArg {
    V3,
    V2,
}

impl From<VersionArg> for ProviderVersion {
    fn from(v: VersionArg) -> Self {
        match v {
            VersionArg::V3 => ProviderVersion::V3,
            VersionArg::V2 => ProviderVersion::V2,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BasicAuth {
    user: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RouterArgs {
    dynamic_dir: String,
    api_url: String,
    network: String,
    mode: Option<TrafficMode>,
    version: Option<VersionArg>,
    confirm_timeout_ms: Option<u64>,
    poll_interval_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    basic_auth: Option<BasicAuth>,
}

/// The router on Traefik: one file-provider file per group, Swarm labels for the backends,
/// every write confirmed through Traefik's API.
#[napi]
pub struct TraefikRouter {
    pub(crate) inner: Arc<canary_traefik::TraefikRouter>,
}

#[napi]
impl TraefikRouter {
    /// A router writing into `options.dynamicDir` (the directory Traefik's file provider watches)
    /// and confirming through the API at `options.apiUrl`.
    #[napi(constructor, ts_args_type = "options: TraefikRouterOptions")]
    pub fn new(env: Env, options: Unknown<'_>) -> napi::Result<Self> {
        let o: RouterArgs = arg(&env, options, "options")?;
        let mut b =
            canary_traefik::TraefikRouter::builder(o.dynamic_dir, o.api_url).network(o.network);
        if let Some(m) = o.mode {
            b = b.mode(m);
        }
        if let Some(v) = o.version {
            b = b.version(v.into());
        }
        if let Some(t) = o.confirm_timeout_ms {
            b = b.confirm_timeout(ms(t));
        }
        if let Some(t) = o.poll_interval_ms {
            b = b.poll_interval(ms(t));
        }
        if let Some(t) = o.request_timeout_ms {
            b = b.request_timeout(ms(t));
        }
        if let Some(a) = o.basic_auth {
            b = b.basic_auth(a.user, a.password);
        }
        Ok(TraefikRouter {
            inner: Arc::new(b.build().or_throw(&env)?),
        })
    }

    /// The path of a group's file.
    #[napi(ts_args_type = "group: string")]
    pub fn file_path(&self, env: Env, group: Unknown<'_>) -> napi::Result<String> {
        let group: String = arg(&env, group, "group")?;
        let path = service_name(group)
            .and_then(|g| self.inner.file_path(&g))
            .or_throw(&env)?;
        Ok(path.display().to_string())
    }

    /// Removes everything the router wrote for a group (all traffic then follows stable's own
    /// route, if any).
    #[napi(ts_args_type = "group: string", ts_return_type = "Promise<void>")]
    pub fn remove<'e>(
        &self,
        env: &'e Env,
        group: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<()>>> {
        use canary_core::Router;
        let group: String = arg(env, group, "group")?;
        let r = self.inner.clone();
        promise(env, async move { r.remove(&service_name(group)?).await })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PrometheusArgs {
    url: String,
    version: Option<VersionArg>,
    timeout_ms: Option<u64>,
    samples: Option<u32>,
    scrape_interval_ms: Option<u64>,
    basic_auth: Option<BasicAuth>,
    bearer_token: Option<String>,
    #[serde(default)]
    backends: BTreeMap<String, String>,
}

/// Reads one metric query (a plain object) for `value`/`samples`.
fn query_arg(env: &Env, query: Unknown<'_>) -> napi::Result<MetricQuery> {
    arg(env, query, "query")
}

/// The metrics source on Prometheus: PromQL over Traefik's service metrics.
#[napi]
pub struct PrometheusMetrics {
    pub(crate) inner: Arc<canary_traefik::PrometheusMetrics>,
}

#[napi]
impl PrometheusMetrics {
    /// A source querying the Prometheus at `options.url` (e.g. `http://127.0.0.1:39090`).
    #[napi(constructor, ts_args_type = "options: PrometheusMetricsOptions")]
    pub fn new(env: Env, options: Unknown<'_>) -> napi::Result<Self> {
        let o: PrometheusArgs = arg(&env, options, "options")?;
        let mut b = canary_traefik::PrometheusMetrics::builder(o.url);
        if let Some(v) = o.version {
            b = b.version(v.into());
        }
        if let Some(t) = o.timeout_ms {
            b = b.timeout(ms(t));
        }
        if let Some(n) = o.samples {
            b = b.samples(n);
        }
        if let Some(t) = o.scrape_interval_ms {
            b = b.scrape_interval(ms(t));
        }
        if let Some(a) = o.basic_auth {
            b = b.basic_auth(a.user, a.password);
        }
        if let Some(t) = o.bearer_token {
            b = b.bearer_token(t);
        }
        for (service, traefik) in o.backends {
            b = b.backend(service_name(service).or_throw(&env)?, traefik);
        }
        Ok(PrometheusMetrics {
            inner: Arc::new(b.build().or_throw(&env)?),
        })
    }

    /// One value over the query's window: a number, or `null` when there is no data.
    #[napi(
        ts_args_type = "query: MetricQuery",
        ts_return_type = "Promise<number | null>"
    )]
    pub fn value<'e>(
        &self,
        env: &'e Env,
        query: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Option<f64>>>> {
        let q = query_arg(env, query)?;
        let m = self.inner.clone();
        promise(env, async move { Ok(m.value(&q).await?.value()) })
    }

    /// Samples over the query's window; empty when there is no data.
    #[napi(
        ts_args_type = "query: MetricQuery",
        ts_return_type = "Promise<number[]>"
    )]
    pub fn samples<'e>(
        &self,
        env: &'e Env,
        query: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Vec<f64>>>> {
        let q = query_arg(env, query)?;
        let m = self.inner.clone();
        promise(env, async move { m.samples(&q).await })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScrapeArgs {
    url: String,
    version: Option<VersionArg>,
    timeout_ms: Option<u64>,
    retention_ms: Option<u64>,
    capacity: Option<usize>,
    freshness_ms: Option<u64>,
    samples: Option<usize>,
    basic_auth: Option<BasicAuth>,
    #[serde(default)]
    backends: BTreeMap<String, String>,
}

/// The metrics source on Traefik's own `/metrics`, rates from counter deltas between scrapes
/// (no Prometheus needed).
#[napi]
pub struct TraefikScrapeMetrics {
    pub(crate) inner: Arc<canary_traefik::TraefikScrapeMetrics>,
}

#[napi]
impl TraefikScrapeMetrics {
    /// A source reading `options.url` (the entry point serving `/metrics`, or the full URL).
    #[napi(constructor, ts_args_type = "options: TraefikScrapeMetricsOptions")]
    pub fn new(env: Env, options: Unknown<'_>) -> napi::Result<Self> {
        let o: ScrapeArgs = arg(&env, options, "options")?;
        let mut b = canary_traefik::TraefikScrapeMetrics::builder(o.url);
        if let Some(v) = o.version {
            b = b.version(v.into());
        }
        if let Some(t) = o.timeout_ms {
            b = b.timeout(ms(t));
        }
        if let Some(t) = o.retention_ms {
            b = b.retention(ms(t));
        }
        if let Some(n) = o.capacity {
            b = b.capacity(n);
        }
        if let Some(t) = o.freshness_ms {
            b = b.freshness(ms(t));
        }
        if let Some(n) = o.samples {
            b = b.samples(n);
        }
        if let Some(a) = o.basic_auth {
            b = b.basic_auth(a.user, a.password);
        }
        for (service, traefik) in o.backends {
            b = b.backend(service_name(service).or_throw(&env)?, traefik);
        }
        Ok(TraefikScrapeMetrics {
            inner: Arc::new(b.build().or_throw(&env)?),
        })
    }

    /// Scrapes once now and keeps the snapshot.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn scrape<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, Settled<()>>> {
        let m = self.inner.clone();
        promise(env, async move { m.scrape().await.map(|_| ()) })
    }

    /// Scrapes every `intervalMs` in the background until the returned task is stopped (or
    /// garbage-collected: keep a reference while the rollout runs).
    #[napi(ts_args_type = "intervalMs: number")]
    pub fn start(&self, env: Env, interval_ms: Unknown<'_>) -> napi::Result<ScrapeTask> {
        let interval: u64 = arg(&env, interval_ms, "intervalMs")?;
        let m = self.inner.clone();
        let task = napi::bindgen_prelude::within_runtime_if_available(|| m.start(ms(interval)));
        Ok(ScrapeTask { task: Some(task) })
    }

    /// One value over the query's window: a number, or `null` when there is no data.
    #[napi(
        ts_args_type = "query: MetricQuery",
        ts_return_type = "Promise<number | null>"
    )]
    pub fn value<'e>(
        &self,
        env: &'e Env,
        query: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Option<f64>>>> {
        let q = query_arg(env, query)?;
        let m = self.inner.clone();
        promise(env, async move { Ok(m.value(&q).await?.value()) })
    }

    /// Samples over the query's window; empty when there is no data.
    #[napi(
        ts_args_type = "query: MetricQuery",
        ts_return_type = "Promise<number[]>"
    )]
    pub fn samples<'e>(
        &self,
        env: &'e Env,
        query: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Vec<f64>>>> {
        let q = query_arg(env, query)?;
        let m = self.inner.clone();
        promise(env, async move { m.samples(&q).await })
    }
}

/// A background scraper started by `TraefikScrapeMetrics.start`.
#[napi]
pub struct ScrapeTask {
    task: Option<canary_traefik::ScrapeTask>,
}

#[napi]
impl ScrapeTask {
    /// Stops scraping. Stopping twice is fine.
    #[napi]
    pub fn stop(&mut self) {
        self.task = None;
    }

    /// Whether it still scrapes.
    #[napi(getter)]
    pub fn running(&self) -> bool {
        self.task.is_some()
    }
}

/// Calls the spec's hooks as HTTP webhooks: a POST of a JSON body; a 2xx answer says go.
#[napi]
pub struct WebhookRunner {
    pub(crate) inner: Arc<canary_traefik::WebhookRunner>,
}

#[napi]
impl WebhookRunner {
    /// A runner with its own HTTP client.
    #[napi(constructor)]
    pub fn new(env: Env) -> napi::Result<Self> {
        Ok(WebhookRunner {
            inner: Arc::new(canary_traefik::WebhookRunner::new().or_throw(&env)?),
        })
    }

    /// Calls one hook, as the engine does.
    #[napi(
        ts_args_type = "hook: HookSpec, context: HookContext",
        ts_return_type = "Promise<HookOutcome>"
    )]
    pub fn call<'e>(
        &self,
        env: &'e Env,
        hook: Unknown<'_>,
        context: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::HookOutcome>>>> {
        let hook: HookSpec = arg(env, hook, "hook")?;
        let context: HookContext = arg(env, context, "context")?;
        let r = self.inner.clone();
        promise(env, async move { Ok(Js(r.call(&hook, &context).await?)) })
    }
}
