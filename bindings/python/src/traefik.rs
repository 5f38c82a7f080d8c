//! `TraefikRouter`, `PrometheusMetrics`, `TraefikScrapeMetrics`, `WebhookRunner` (canary-traefik).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;

use canary_core::spec::TrafficMode;
use canary_core::{HookRunner, MetricsSource, Router, ServiceName};
use canary_traefik::ProviderVersion;

use crate::convert::{duration, opt_duration, str_map};
use crate::error::{invalid, ToPyResult};
use crate::runtime::{awaitable, block_on, core, runtime};
use crate::types::{service_name, PyMetricQuery};

fn version(v: &str) -> PyResult<ProviderVersion> {
    match v {
        "v3" => Ok(ProviderVersion::V3),
        "v2" => Ok(ProviderVersion::V2),
        other => Err(invalid(
            "version",
            format!("{other:?} is neither \"v3\" nor \"v2\""),
        )),
    }
}

fn mode(m: &str) -> PyResult<TrafficMode> {
    serde_json::from_value(serde_json::Value::String(m.into())).map_err(|_| {
        invalid(
            "mode",
            format!("{m:?} is neither \"weighted\" nor \"replicas\""),
        )
    })
}

fn backends(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(ServiceName, String)>> {
    str_map("backends", obj)?
        .into_iter()
        .map(|(k, v)| Ok((service_name("backends", &k)?, v)))
        .collect()
}

/// The router on Traefik: file provider for the routing, swarm labels for the backends, the API
/// to confirm. Its `mode` must be the spec's traffic mode.
#[pyclass(frozen, module = "canary_sdk._native", name = "TraefikRouter")]
pub(crate) struct PyTraefikRouter {
    pub(crate) inner: Arc<canary_traefik::TraefikRouter>,
}

#[pymethods]
impl PyTraefikRouter {
    /// A router writing into `dynamic_dir` (the directory Traefik's file provider watches) and
    /// confirming through the API at `api_url`.
    #[new]
    #[pyo3(signature = (dynamic_dir, api_url, *, network, mode = "weighted", version = "v3", confirm_timeout = None, poll_interval = None, request_timeout = None, basic_auth = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        dynamic_dir: PathBuf,
        api_url: String,
        network: String,
        mode: &str,
        version: &str,
        confirm_timeout: Option<&Bound<'_, PyAny>>,
        poll_interval: Option<&Bound<'_, PyAny>>,
        request_timeout: Option<&Bound<'_, PyAny>>,
        basic_auth: Option<(String, String)>,
    ) -> PyResult<Self> {
        let mut b = canary_traefik::TraefikRouter::builder(dynamic_dir, api_url)
            .network(network)
            .mode(self::mode(mode)?)
            .version(self::version(version)?);
        if let Some(t) = opt_duration("confirm_timeout", confirm_timeout)? {
            b = b.confirm_timeout(t);
        }
        if let Some(t) = opt_duration("poll_interval", poll_interval)? {
            b = b.poll_interval(t);
        }
        if let Some(t) = opt_duration("request_timeout", request_timeout)? {
            b = b.request_timeout(t);
        }
        if let Some((user, password)) = basic_auth {
            b = b.basic_auth(user, password);
        }
        Ok(PyTraefikRouter {
            inner: Arc::new(b.build().to_py()?),
        })
    }

    /// The path of a group's file.
    fn file_path(&self, group: &str) -> PyResult<PathBuf> {
        self.inner.file_path(&service_name("group", group)?).to_py()
    }

    /// Removes everything this router wrote for the group.
    fn remove(&self, py: Python<'_>, group: &str) -> PyResult<()> {
        let (r, g) = (self.inner.clone(), service_name("group", group)?);
        block_on(py, async move { core(r.remove(&g)).await })
    }
    /// `remove` as an awaitable.
    fn remove_async<'py>(&self, py: Python<'py>, group: &str) -> PyResult<Bound<'py, PyAny>> {
        let (r, g) = (self.inner.clone(), service_name("group", group)?);
        awaitable(py, async move { core(r.remove(&g)).await })
    }

    fn __repr__(&self) -> String {
        let v = match self.inner.version() {
            ProviderVersion::V2 => "v2",
            _ => "v3",
        };
        format!("TraefikRouter(version='{v}')")
    }
}

/// Converts an observation for Python: a float, or None for no data.
fn obs(o: canary_core::Observation) -> Option<f64> {
    o.value()
}

/// The `value`/`samples` methods (blocking and async) of a built-in metrics source.
macro_rules! metrics_methods {
    ($ty:ty, { $($own:tt)* }) => {
        #[pymethods]
        impl $ty {
            $($own)*

            /// One value over the query's window; None when there is no data.
            fn value(&self, py: Python<'_>, query: PyRef<'_, PyMetricQuery>) -> PyResult<Option<f64>> {
                let (m, q) = (self.source(), query.0.clone());
                block_on(py, async move { core(m.value(&q)).await.map(obs) })
            }
            /// `value` as an awaitable.
            fn value_async<'py>(
                &self,
                py: Python<'py>,
                query: PyRef<'py, PyMetricQuery>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let (m, q) = (self.source(), query.0.clone());
                awaitable(py, async move { core(m.value(&q)).await.map(obs) })
            }
            /// Samples over the query's window; empty when there is no data.
            fn samples(&self, py: Python<'_>, query: PyRef<'_, PyMetricQuery>) -> PyResult<Vec<f64>> {
                let (m, q) = (self.source(), query.0.clone());
                block_on(py, async move { core(m.samples(&q)).await })
            }
            /// `samples` as an awaitable.
            fn samples_async<'py>(
                &self,
                py: Python<'py>,
                query: PyRef<'py, PyMetricQuery>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let (m, q) = (self.source(), query.0.clone());
                awaitable(py, async move { core(m.samples(&q)).await })
            }
        }
    };
}

/// A built-in metrics source as the engine uses it.
pub(crate) trait Source {
    /// The source.
    fn source(&self) -> Arc<dyn MetricsSource>;
}

/// Metrics from Prometheus (PromQL on Traefik's service metrics).
#[pyclass(frozen, module = "canary_sdk._native", name = "PrometheusMetrics")]
pub(crate) struct PyPrometheusMetrics {
    inner: Arc<canary_traefik::PrometheusMetrics>,
}

impl Source for PyPrometheusMetrics {
    fn source(&self) -> Arc<dyn MetricsSource> {
        self.inner.clone()
    }
}

metrics_methods!(PyPrometheusMetrics, {
    /// The Prometheus at `url`. `backends` maps a Swarm service to its Traefik service (e.g.
    /// `{"shop_web": "web@swarm"}`) when Traefik does not name it after the Swarm service;
    /// `scrape_interval` is Prometheus' scrape interval of Traefik.
    #[new]
    #[pyo3(signature = (url, *, version = "v3", backends = None, timeout = None, samples = None, scrape_interval = None, basic_auth = None, bearer_token = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        url: String,
        version: &str,
        backends: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
        samples: Option<u32>,
        scrape_interval: Option<&Bound<'_, PyAny>>,
        basic_auth: Option<(String, String)>,
        bearer_token: Option<String>,
    ) -> PyResult<Self> {
        let mut b =
            canary_traefik::PrometheusMetrics::builder(url).version(self::version(version)?);
        for (s, n) in self::backends(backends)? {
            b = b.backend(s, n);
        }
        if let Some(t) = opt_duration("timeout", timeout)? {
            b = b.timeout(t);
        }
        if let Some(n) = samples {
            b = b.samples(n);
        }
        if let Some(t) = opt_duration("scrape_interval", scrape_interval)? {
            b = b.scrape_interval(t);
        }
        if let Some((user, password)) = basic_auth {
            b = b.basic_auth(user, password);
        }
        if let Some(token) = bearer_token {
            b = b.bearer_token(token);
        }
        Ok(PyPrometheusMetrics {
            inner: Arc::new(b.build().to_py()?),
        })
    }

    fn __repr__(&self) -> String {
        "PrometheusMetrics()".into()
    }
});

/// Metrics read straight from Traefik's `/metrics`; rates come from counter deltas between
/// scrapes, so keep it scraping (`start`) for at least a window before the analysis.
#[pyclass(frozen, module = "canary_sdk._native", name = "TraefikScrapeMetrics")]
pub(crate) struct PyTraefikScrapeMetrics {
    inner: Arc<canary_traefik::TraefikScrapeMetrics>,
}

impl Source for PyTraefikScrapeMetrics {
    fn source(&self) -> Arc<dyn MetricsSource> {
        self.inner.clone()
    }
}

metrics_methods!(PyTraefikScrapeMetrics, {
    /// Traefik's metrics at `url`: the entry point serving `/metrics`, or the full URL.
    #[new]
    #[pyo3(signature = (url, *, version = "v3", backends = None, timeout = None, retention = None, capacity = None, freshness = None, samples = None, basic_auth = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        url: String,
        version: &str,
        backends: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
        retention: Option<&Bound<'_, PyAny>>,
        capacity: Option<usize>,
        freshness: Option<&Bound<'_, PyAny>>,
        samples: Option<usize>,
        basic_auth: Option<(String, String)>,
    ) -> PyResult<Self> {
        let mut b =
            canary_traefik::TraefikScrapeMetrics::builder(url).version(self::version(version)?);
        for (s, n) in self::backends(backends)? {
            b = b.backend(s, n);
        }
        if let Some(t) = opt_duration("timeout", timeout)? {
            b = b.timeout(t);
        }
        if let Some(t) = opt_duration("retention", retention)? {
            b = b.retention(t);
        }
        if let Some(n) = capacity {
            b = b.capacity(n);
        }
        if let Some(t) = opt_duration("freshness", freshness)? {
            b = b.freshness(t);
        }
        if let Some(n) = samples {
            b = b.samples(n);
        }
        if let Some((user, password)) = basic_auth {
            b = b.basic_auth(user, password);
        }
        Ok(PyTraefikScrapeMetrics {
            inner: Arc::new(b.build().to_py()?),
        })
    }

    /// Scrapes once now and keeps the snapshot.
    fn scrape(&self, py: Python<'_>) -> PyResult<()> {
        let m = self.inner.clone();
        block_on(py, async move { core(m.scrape()).await.map(|_| ()) })
    }
    /// `scrape` as an awaitable.
    fn scrape_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let m = self.inner.clone();
        awaitable(py, async move { core(m.scrape()).await.map(|_| ()) })
    }

    /// Scrapes every `interval` in the background until the returned task is stopped.
    fn start(&self, interval: &Bound<'_, PyAny>) -> PyResult<PyScrapeTask> {
        let interval = duration("interval", interval)?;
        let _guard = runtime().enter();
        Ok(PyScrapeTask {
            task: Mutex::new(Some(self.inner.start(interval))),
        })
    }

    fn __repr__(&self) -> String {
        "TraefikScrapeMetrics()".into()
    }
});

/// Background scraping of Traefik's `/metrics`; `stop()` (or leaving its `with` block) ends it.
#[pyclass(frozen, module = "canary_sdk._native", name = "ScrapeTask")]
pub(crate) struct PyScrapeTask {
    task: Mutex<Option<canary_traefik::ScrapeTask>>,
}

#[pymethods]
impl PyScrapeTask {
    /// Stops the scraping (again is a no-op).
    fn stop(&self) {
        self.task.lock().map(|mut t| t.take()).ok();
    }
    /// True until stopped.
    #[getter]
    fn running(&self) -> bool {
        self.task.lock().map(|t| t.is_some()).unwrap_or(false)
    }
    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) {
        self.stop();
    }
}

/// Calls the spec's hooks as HTTP webhooks (a POST of JSON; 2xx says go).
#[pyclass(frozen, module = "canary_sdk._native", name = "WebhookRunner")]
pub(crate) struct PyWebhookRunner {
    pub(crate) inner: Arc<canary_traefik::WebhookRunner>,
}

#[pymethods]
impl PyWebhookRunner {
    /// A runner with its own HTTP client.
    #[new]
    fn new() -> PyResult<Self> {
        Ok(PyWebhookRunner {
            inner: Arc::new(canary_traefik::WebhookRunner::new().to_py()?),
        })
    }
    fn __repr__(&self) -> String {
        "WebhookRunner()".into()
    }
}

/// The router behind a Python router object.
pub(crate) fn router_of(obj: &Bound<'_, PyAny>) -> Option<Arc<dyn Router>> {
    if let Ok(r) = obj.cast::<PyTraefikRouter>() {
        return Some(r.get().inner.clone());
    }
    if let Ok(r) = obj.cast::<crate::testing::FakeRouter>() {
        return Some(r.get().inner.clone());
    }
    None
}

/// The built-in metrics source behind a Python object, if it is one.
pub(crate) fn builtin_metrics_of(obj: &Bound<'_, PyAny>) -> Option<Arc<dyn MetricsSource>> {
    if let Ok(m) = obj.cast::<PyPrometheusMetrics>() {
        return Some(m.get().source());
    }
    if let Ok(m) = obj.cast::<PyTraefikScrapeMetrics>() {
        return Some(m.get().source());
    }
    None
}

/// The webhook runner behind a Python object, if it is one.
pub(crate) fn webhooks_of(obj: &Bound<'_, PyAny>) -> Option<Arc<dyn HookRunner>> {
    obj.cast::<PyWebhookRunner>()
        .ok()
        .map(|w| w.get().inner.clone() as Arc<dyn HookRunner>)
}
