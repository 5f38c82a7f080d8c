//! TEST-ONLY in-memory orchestrator and router (`canary_sdk.testing`), so Python tests can drive
//! real rollouts of the core's engine without Docker or Traefik. They keep a log of every
//! state-changing call, in order. Thin wrappers over `canary_core::testing`; nothing here is used
//! by the package itself.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use canary_core::testing::{MemoryOrchestrator, MemoryRouter};
use canary_core::{Error, Result};

use crate::convert::str_map;
use crate::rollout::PyRollout;
use crate::runtime::{block_on, runtime};
use crate::types::{service_name, PyServiceState};

/// TEST-ONLY: an orchestrator that keeps services in memory.
#[pyclass(frozen, module = "canary_sdk._native", name = "FakeOrchestrator")]
pub(crate) struct FakeOrchestrator {
    pub(crate) inner: Arc<MemoryOrchestrator>,
}

#[pymethods]
impl FakeOrchestrator {
    #[new]
    fn new() -> Self {
        FakeOrchestrator {
            inner: Arc::new(MemoryOrchestrator::new()),
        }
    }
    /// Adds a running, converged service.
    #[pyo3(signature = (name, image, replicas = 2, *, labels = None))]
    fn add_service(
        &self,
        name: &str,
        image: &str,
        replicas: u64,
        labels: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyServiceState> {
        let name = service_name("name", name)?;
        let image = canary_core::ImageRef::parse(image).map_err(crate::error::to_py_err)?;
        self.inner.add_service(name.clone(), &image, replicas);
        self.inner
            .set_labels(&name, str_map("labels", labels)?)
            .map_err(crate::error::to_py_err)?;
        Ok(PyServiceState(
            self.inner.service(name.as_str()).expect("just added"),
        ))
    }
    /// From now on, waiting for `name` fails with DeploymentFailed and `message`.
    fn break_service(&self, name: &str, message: String) -> PyResult<()> {
        self.inner
            .fail_to_start(&service_name("name", name)?, message);
        Ok(())
    }
    /// A service, or None.
    fn service(&self, name: &str) -> Option<PyServiceState> {
        self.inner.service(name).map(PyServiceState)
    }
    /// Every service, by name.
    fn services(&self) -> Vec<PyServiceState> {
        self.inner
            .services()
            .into_iter()
            .map(PyServiceState)
            .collect()
    }
    /// Every state-changing call so far, in order (`scale api-canary 0`, ...).
    #[getter]
    fn log(&self) -> Vec<String> {
        self.inner.operations()
    }
}

/// TEST-ONLY: a router that records the configurations it is given.
#[pyclass(frozen, module = "canary_sdk._native", name = "FakeRouter")]
pub(crate) struct FakeRouter {
    pub(crate) inner: Arc<MemoryRouter>,
}

#[pymethods]
impl FakeRouter {
    #[new]
    fn new() -> Self {
        FakeRouter {
            inner: Arc::new(MemoryRouter::new()),
        }
    }
    /// The canary weight of every applied configuration, in order (0 when the canary was out).
    #[getter]
    fn weights(&self) -> Vec<u32> {
        self.inner.weights().into_iter().map(u32::from).collect()
    }
    /// Every call so far, in order (`route 20`, `route out`, `remove g`).
    #[getter]
    fn log(&self) -> Vec<String> {
        self.inner.operations()
    }
}

/// TEST-ONLY: raises the exception the binding raises for a core error of `code` (e.g.
/// `CANARY_CONFLICT`), to check the mapping of every kind.
#[pyfunction]
pub(crate) fn raise_core_error(code: &str, message: String) -> PyResult<()> {
    let e = match code {
        "CANARY_INVALID_INPUT" => Error::invalid("traffic.steps[2]", message),
        "CANARY_NOT_FOUND" => Error::NotFound {
            kind: "service".into(),
            name: message,
            detail: None,
        },
        "CANARY_CONFLICT" => Error::Conflict(message),
        "CANARY_UNAVAILABLE" => Error::Unavailable(message),
        "CANARY_TIMEOUT" => Error::Timeout {
            what: message,
            after: Duration::from_millis(1500),
        },
        "CANARY_DEPLOYMENT_FAILED" => Error::DeploymentFailed {
            service: "api-canary".into(),
            message,
        },
        "CANARY_REJECTED" => Error::Rejected {
            by: "traefik".into(),
            message,
        },
        "CANARY_ABORTED" => Error::Aborted(message),
        _ => Error::Internal(message),
    };
    Err(crate::error::to_py_err(e))
}

/// BENCHMARK-ONLY: the mean seconds of one `Rollout::status()` called from Rust `n` times, awaited
/// in one task (`awaited`) and each through its own `Runtime::block_on` (`block_on`): the Rust
/// calls the blocking Python `status()` wraps.
#[pyfunction]
pub(crate) fn bench_status_rust(
    py: Python<'_>,
    rollout: PyRef<'_, PyRollout>,
    n: u32,
) -> PyResult<BTreeMap<String, f64>> {
    let r = rollout.inner.clone();
    let n = n.max(1);
    let awaited = block_on(py, async {
        let t = Instant::now();
        for _ in 0..n {
            r.status().await.map_err(crate::error::to_py_err)?;
        }
        Ok(t.elapsed().as_secs_f64() / n as f64)
    })?;
    let per_call = py.detach(|| -> Result<f64> {
        let t = Instant::now();
        for _ in 0..n {
            runtime().block_on(r.status())?;
        }
        Ok(t.elapsed().as_secs_f64() / n as f64)
    });
    let per_call = per_call.map_err(crate::error::to_py_err)?;
    Ok(BTreeMap::from([
        ("awaited".to_string(), awaited),
        ("block_on".to_string(), per_call),
    ]))
}
