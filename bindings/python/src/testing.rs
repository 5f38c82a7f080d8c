//! TEST-ONLY (cargo feature `testing`, never in a release wheel): `MemoryWorld`, the in-memory
//! orchestrator and router of `canary_core::memory` with one memory state store, that any number
//! of `Canary` objects can be connected to (`canary_sdk::Canary::from_deps`: like separate
//! processes sharing a swarm), so the package's tests drive real rollouts of the engine without
//! Docker or Traefik; and `raise_core_error`, to check the mapping of every error kind.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;

use canary_core::memory::{MemoryOrchestrator, MemoryRouter};
use canary_core::{
    Deps, Error, HookRunner, ImageRef, MemoryStateStore, MetricsSource, ServiceName,
};

use crate::canary::PyCanary;
use crate::convert::{from_py_or_default, to_py_with};
use crate::error::{to_py_err, ToPyResult};
use crate::foreign::{PyHookRunner, PyMetricsSource};
use crate::runtime::{awaitable, runtime};
use crate::spec::PySpec;

/// TEST-ONLY: services and routes kept in memory, with a log of every call.
#[pyclass(frozen, module = "canary_sdk._native", name = "MemoryWorld")]
pub(crate) struct MemoryWorld {
    orchestrator: Arc<MemoryOrchestrator>,
    router: Arc<MemoryRouter>,
    store: Arc<MemoryStateStore>,
}

#[pymethods]
impl MemoryWorld {
    #[new]
    fn new() -> Self {
        MemoryWorld {
            orchestrator: Arc::new(MemoryOrchestrator::new()),
            router: Arc::new(MemoryRouter::new()),
            store: Arc::new(MemoryStateStore::new()),
        }
    }

    /// Connects `spec`'s group to this world; `metrics` (required) and `hooks` (default: HTTP
    /// webhooks) as for `Canary.connect`.
    #[pyo3(signature = (spec, metrics, hooks = None))]
    fn connect<'py>(
        &self,
        py: Python<'py>,
        spec: PyRef<'py, PySpec>,
        metrics: &Bound<'py, PyAny>,
        hooks: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let metrics: Arc<dyn MetricsSource> = Arc::new(PyMetricsSource::new(metrics)?);
        let hooks: Arc<dyn HookRunner> = match hooks.filter(|h| !h.is_none()) {
            Some(h) => Arc::new(PyHookRunner::new(h)?),
            None => Arc::new(canary_traefik::WebhookRunner::new().to_py()?),
        };
        let deps = Deps::new(
            self.orchestrator.clone(),
            self.router.clone(),
            metrics,
            self.store.clone(),
            hooks,
        );
        let (spec, dir) = (spec.spec.clone(), spec.dir.clone());
        awaitable(py, async move {
            let c = canary_sdk::Canary::from_deps(spec, Default::default(), deps)
                .await
                .to_py()?;
            PyCanary::new(c.with_spec_dir(&dir), dir)
        })
    }

    /// Adds a running, converged service.
    #[pyo3(signature = (name, image, replicas = 2, labels = None))]
    fn add_service(
        &self,
        py: Python<'_>,
        name: &str,
        image: &str,
        replicas: u64,
        labels: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let name = ServiceName::parse(name).to_py()?;
        let labels: BTreeMap<String, String> = from_py_or_default("labels", labels)?;
        let replicas = replicas.min(100);
        let o = &self.orchestrator;
        o.add_service(name.clone(), &ImageRef::parse(image).to_py()?, replicas);
        o.set_labels(&name, labels).to_py()?;
        to_py_with(py, &o.service(name.as_str()))
    }

    /// From now on, waiting for `name` fails with a deployment failure saying `message`.
    fn break_service(&self, name: &str, message: String) -> PyResult<()> {
        let name = ServiceName::parse(name).to_py()?;
        self.orchestrator.fail_to_start(&name, message);
        Ok(())
    }

    /// A service, or None.
    fn service(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        to_py_with(py, &self.orchestrator.service(name))
    }

    /// Every state-changing call to the orchestrator, in order (`scale api-canary 0`, ...).
    #[getter]
    fn orchestrator_log(&self) -> Vec<String> {
        self.orchestrator.operations()
    }

    /// Every call to the router, in order (`route 20`, `route out`, `remove shop`).
    #[getter]
    fn router_log(&self) -> Vec<String> {
        self.router.operations()
    }

    /// The canary weight of every routing put in force, in order.
    #[getter]
    fn weights(&self) -> Vec<u32> {
        self.router.weights().into_iter().map(u32::from).collect()
    }
}

/// BENCHMARK-ONLY: the mean seconds of one `status()` of `canary`, awaited `n` times in one Rust
/// task: the Rust call the Python `status()` wraps (bench/python_status.py).
#[pyfunction]
pub(crate) fn bench_status(py: Python<'_>, canary: PyRef<'_, PyCanary>, n: u32) -> PyResult<f64> {
    let (c, n) = (canary.canary.clone(), n.max(1));
    let run = async {
        let t = std::time::Instant::now();
        for _ in 0..n {
            c.status().await?;
        }
        Ok(t.elapsed().as_secs_f64() / f64::from(n))
    };
    py.detach(|| runtime().block_on(run)).to_py()
}

/// TEST-ONLY: raises the exception of a core error of `code` (`CANARY_CONFLICT`, ...).
#[pyfunction]
pub(crate) fn raise_core_error(code: &str, message: String) -> PyResult<()> {
    let e = match code {
        "CANARY_INVALID_INPUT" => Error::invalid("traffic.steps[2]", message),
        "CANARY_NOT_FOUND" => Error::NotFound {
            kind: "service".into(),
            name: message,
            detail: None,
            source: None,
        },
        "CANARY_CONFLICT" => Error::conflict(message),
        "CANARY_UNAVAILABLE" => Error::unavailable(message),
        "CANARY_TIMEOUT" => Error::Timeout {
            what: message,
            after: Duration::from_millis(1500),
        },
        "CANARY_DEPLOYMENT_FAILED" => Error::DeploymentFailed {
            service: "api-canary".into(),
            message,
        },
        "CANARY_REJECTED" => Error::rejected("traefik", message),
        "CANARY_ABORTED" => Error::Aborted(message),
        _ => Error::internal(message),
    };
    Err(to_py_err(e))
}
