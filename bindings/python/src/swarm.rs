//! `SwarmOrchestrator`, `SwarmStateStore` (canary-swarm) and `MemoryStateStore` (canary-core).

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;

use canary_core::model::{EndpointMode, NewService};
use canary_core::{MemoryStateStore, Orchestrator, StateStore};
use canary_swarm::{ConnectOptions, RollingUpdate};

use crate::convert::{opt_duration, str_map};
use crate::error::{at_field, invalid};
use crate::runtime::{awaitable, block_on, core};
use crate::spec::PySpec;
use crate::types::{service_name, PyServiceState};

/// The connection settings and tuning of a [`canary_swarm::SwarmOrchestrator`], from Python
/// arguments.
struct Connect {
    options: ConnectOptions,
    poll: Option<std::time::Duration>,
    settle: Option<std::time::Duration>,
    rolling: Option<RollingUpdate>,
}

impl Connect {
    fn parse(
        host: Option<String>,
        tls: Option<bool>,
        cert_path: Option<PathBuf>,
        timeout: Option<&Bound<'_, PyAny>>,
        poll_interval: Option<&Bound<'_, PyAny>>,
        settle: Option<&Bound<'_, PyAny>>,
        rolling_update: Option<&str>,
    ) -> PyResult<Self> {
        let mut options = match host {
            Some(h) => ConnectOptions::host(h),
            None => ConnectOptions::from_env(),
        };
        if let Some(tls) = tls {
            options.tls = tls;
        }
        if cert_path.is_some() {
            options.cert_path = cert_path;
        }
        if let Some(t) = opt_duration("timeout", timeout)? {
            options.timeout = t;
        }
        let rolling = match rolling_update {
            None => None,
            Some("startFirst") => Some(RollingUpdate::StartFirst),
            Some("keep") => Some(RollingUpdate::Keep),
            Some(other) => {
                return Err(invalid(
                    "rolling_update",
                    format!("{other:?} is neither \"startFirst\" nor \"keep\""),
                ))
            }
        };
        Ok(Connect {
            options,
            poll: opt_duration("poll_interval", poll_interval)?,
            settle: opt_duration("settle", settle)?,
            rolling,
        })
    }

    async fn connect(self) -> PyResult<PySwarmOrchestrator> {
        let mut o = core(canary_swarm::SwarmOrchestrator::connect_with(&self.options)).await?;
        if let Some(p) = self.poll {
            o = o.with_poll_interval(p);
        }
        if let Some(s) = self.settle {
            o = o.with_settle(s);
        }
        if let Some(r) = self.rolling {
            o = o.with_rolling_update(r);
        }
        Ok(PySwarmOrchestrator { inner: o })
    }
}

/// The orchestrator on a Docker Swarm manager, through the Engine API.
#[pyclass(frozen, module = "canary_sdk._native", name = "SwarmOrchestrator")]
pub(crate) struct PySwarmOrchestrator {
    pub(crate) inner: canary_swarm::SwarmOrchestrator,
}

#[allow(clippy::too_many_arguments)]
fn new_service(
    name: &str,
    image: &str,
    replicas: u64,
    env: Option<&Bound<'_, PyAny>>,
    labels: Option<&Bound<'_, PyAny>>,
    networks: Option<Vec<String>>,
    init: bool,
    endpoint_mode: Option<&str>,
) -> PyResult<NewService> {
    let mut s = NewService::new(
        service_name("name", name)?,
        canary_core::ImageRef::parse(image).map_err(|e| at_field("image", e))?,
        replicas,
    );
    s.env = str_map("env", env)?;
    s.labels = str_map("labels", labels)?;
    s.networks = networks.unwrap_or_default();
    s.init = init;
    s.endpoint_mode = match endpoint_mode {
        None => None,
        Some("vip") => Some(EndpointMode::Vip),
        Some("dnsrr") => Some(EndpointMode::Dnsrr),
        Some(other) => {
            return Err(invalid(
                "endpoint_mode",
                format!("{other:?} is neither \"vip\" nor \"dnsrr\""),
            ))
        }
    };
    Ok(s)
}

fn states(v: Vec<canary_core::ServiceState>) -> Vec<PyServiceState> {
    v.into_iter().map(PyServiceState).collect()
}

#[pymethods]
impl PySwarmOrchestrator {
    /// Connects like the Docker CLI (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`) unless
    /// `host` is given, and negotiates the API version. Blocking; see `connect_async`.
    #[new]
    #[pyo3(signature = (host = None, *, tls = None, cert_path = None, timeout = None, poll_interval = None, settle = None, rolling_update = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: Option<String>,
        tls: Option<bool>,
        cert_path: Option<PathBuf>,
        timeout: Option<&Bound<'_, PyAny>>,
        poll_interval: Option<&Bound<'_, PyAny>>,
        settle: Option<&Bound<'_, PyAny>>,
        rolling_update: Option<&str>,
    ) -> PyResult<Self> {
        let c = Connect::parse(
            host,
            tls,
            cert_path,
            timeout,
            poll_interval,
            settle,
            rolling_update,
        )?;
        block_on(py, c.connect())
    }

    /// Like the constructor, as an awaitable.
    #[staticmethod]
    #[pyo3(signature = (host = None, *, tls = None, cert_path = None, timeout = None, poll_interval = None, settle = None, rolling_update = None))]
    #[allow(clippy::too_many_arguments)]
    fn connect_async<'py>(
        py: Python<'py>,
        host: Option<String>,
        tls: Option<bool>,
        cert_path: Option<PathBuf>,
        timeout: Option<&Bound<'py, PyAny>>,
        poll_interval: Option<&Bound<'py, PyAny>>,
        settle: Option<&Bound<'py, PyAny>>,
        rolling_update: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = Connect::parse(
            host,
            tls,
            cert_path,
            timeout,
            poll_interval,
            settle,
            rolling_update,
        )?;
        awaitable(py, c.connect())
    }

    /// The Docker API version in use, e.g. `1.41`.
    #[getter]
    fn api_version(&self) -> String {
        self.inner.api_version()
    }

    /// A state store on the same connection.
    fn state_store(&self) -> PySwarmStateStore {
        PySwarmStateStore {
            inner: Arc::new(self.inner.state_store()),
        }
    }

    /// The service's current state; `NotFoundError` when it does not exist.
    fn inspect(&self, py: Python<'_>, name: &str) -> PyResult<PyServiceState> {
        let (o, n) = (self.inner.clone(), service_name("name", name)?);
        block_on(
            py,
            async move { core(o.inspect(&n)).await.map(PyServiceState) },
        )
    }
    /// `inspect` as an awaitable.
    fn inspect_async<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let (o, n) = (self.inner.clone(), service_name("name", name)?);
        awaitable(
            py,
            async move { core(o.inspect(&n)).await.map(PyServiceState) },
        )
    }

    /// Sets the desired replica count.
    fn scale(&self, py: Python<'_>, name: &str, replicas: u64) -> PyResult<()> {
        let (o, n) = (self.inner.clone(), service_name("name", name)?);
        block_on(py, async move { core(o.scale(&n, replicas)).await })
    }
    /// `scale` as an awaitable.
    fn scale_async<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        replicas: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (o, n) = (self.inner.clone(), service_name("name", name)?);
        awaitable(py, async move { core(o.scale(&n, replicas)).await })
    }

    /// Waits until every desired task runs the current spec; a failed task raises
    /// `DeploymentFailedError` with its own message.
    fn wait_converged(
        &self,
        py: Python<'_>,
        name: &str,
        timeout: &Bound<'_, PyAny>,
    ) -> PyResult<PyServiceState> {
        let (o, n) = (self.inner.clone(), service_name("name", name)?);
        let t = crate::convert::duration("timeout", timeout)?;
        block_on(py, async move {
            core(o.wait_converged(&n, t)).await.map(PyServiceState)
        })
    }
    /// `wait_converged` as an awaitable.
    fn wait_converged_async<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        timeout: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (o, n) = (self.inner.clone(), service_name("name", name)?);
        let t = crate::convert::duration("timeout", timeout)?;
        awaitable(py, async move {
            core(o.wait_converged(&n, t)).await.map(PyServiceState)
        })
    }

    /// Creates a (stable) service from scratch; `ConflictError` when the name is taken.
    #[pyo3(signature = (name, image, replicas = 1, *, env = None, labels = None, networks = None, init = true, endpoint_mode = None))]
    #[allow(clippy::too_many_arguments)]
    fn create_service(
        &self,
        py: Python<'_>,
        name: &str,
        image: &str,
        replicas: u64,
        env: Option<&Bound<'_, PyAny>>,
        labels: Option<&Bound<'_, PyAny>>,
        networks: Option<Vec<String>>,
        init: bool,
        endpoint_mode: Option<&str>,
    ) -> PyResult<PyServiceState> {
        let s = new_service(
            name,
            image,
            replicas,
            env,
            labels,
            networks,
            init,
            endpoint_mode,
        )?;
        let o = self.inner.clone();
        block_on(py, async move {
            core(o.create_service(&s)).await.map(PyServiceState)
        })
    }
    /// `create_service` as an awaitable.
    #[pyo3(signature = (name, image, replicas = 1, *, env = None, labels = None, networks = None, init = true, endpoint_mode = None))]
    #[allow(clippy::too_many_arguments)]
    fn create_service_async<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        image: &str,
        replicas: u64,
        env: Option<&Bound<'py, PyAny>>,
        labels: Option<&Bound<'py, PyAny>>,
        networks: Option<Vec<String>>,
        init: bool,
        endpoint_mode: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = new_service(
            name,
            image,
            replicas,
            env,
            labels,
            networks,
            init,
            endpoint_mode,
        )?;
        let o = self.inner.clone();
        awaitable(py, async move {
            core(o.create_service(&s)).await.map(PyServiceState)
        })
    }

    /// Removes a service; False when there was none.
    fn remove_service(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        let (o, n) = (self.inner.clone(), service_name("name", name)?);
        block_on(py, async move { core(o.remove_service(&n)).await })
    }
    /// `remove_service` as an awaitable.
    fn remove_service_async<'py>(
        &self,
        py: Python<'py>,
        name: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (o, n) = (self.inner.clone(), service_name("name", name)?);
        awaitable(py, async move { core(o.remove_service(&n)).await })
    }

    /// Services carrying the label `key=value`.
    fn services_with_label(
        &self,
        py: Python<'_>,
        key: String,
        value: String,
    ) -> PyResult<Vec<PyServiceState>> {
        let o = self.inner.clone();
        block_on(py, async move {
            core(o.services_with_label(&key, &value)).await.map(states)
        })
    }
    /// `services_with_label` as an awaitable.
    fn services_with_label_async<'py>(
        &self,
        py: Python<'py>,
        key: String,
        value: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let o = self.inner.clone();
        awaitable(py, async move {
            core(o.services_with_label(&key, &value)).await.map(states)
        })
    }

    /// The services `docker stack deploy` made for `stack`.
    fn stack_services(&self, py: Python<'_>, stack: &str) -> PyResult<Vec<PyServiceState>> {
        let (o, s) = (self.inner.clone(), service_name("stack", stack)?);
        block_on(
            py,
            async move { core(o.stack_services(&s)).await.map(states) },
        )
    }
    /// `stack_services` as an awaitable.
    fn stack_services_async<'py>(
        &self,
        py: Python<'py>,
        stack: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (o, s) = (self.inner.clone(), service_name("stack", stack)?);
        awaitable(
            py,
            async move { core(o.stack_services(&s)).await.map(states) },
        )
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }
}

/// A state store, as the rollout engine uses it, shared by the Python store classes.
pub(crate) trait Store {
    /// The store.
    fn store(&self) -> Arc<dyn StateStore>;
}

async fn load_state(
    store: Arc<dyn StateStore>,
    spec: canary_core::Spec,
) -> PyResult<Option<(serde_json::Value, u64)>> {
    let v = core(store.load(&spec.group, &spec.app_refs())).await?;
    Ok(v.map(|v| {
        (
            serde_json::to_value(&v.state).unwrap_or_default(),
            v.version,
        )
    }))
}

fn state_dict(py: Python<'_>, v: Option<(serde_json::Value, u64)>) -> PyResult<Py<PyAny>> {
    match v {
        None => Ok(py.None()),
        Some((state, version)) => {
            let d = pyo3::types::PyDict::new(py);
            d.set_item("version", version)?;
            d.set_item("state", crate::convert::json_to_py(py, &state)?)?;
            Ok(d.into_any().unbind())
        }
    }
}

/// The blocking and async `load` and `clear` of a store class.
macro_rules! store_methods {
    ($ty:ty, { $($own:tt)* }) => {
        #[pymethods]
        impl $ty {
            $($own)*

            /// The saved state of the spec's group as `{"version": n, "state": {...}}`, or None.
            fn load(&self, py: Python<'_>, spec: PyRef<'_, PySpec>) -> PyResult<Py<PyAny>> {
                let (s, spec) = (self.store(), spec.0.clone());
                let v = block_on(py, load_state(s, spec))?;
                state_dict(py, v)
            }
            /// `load` as an awaitable.
            fn load_async<'py>(
                &self,
                py: Python<'py>,
                spec: PyRef<'py, PySpec>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let (s, spec) = (self.store(), spec.0.clone());
                awaitable(py, async move {
                    let v = load_state(s, spec).await?;
                    Python::attach(|py| state_dict(py, v))
                })
            }
            /// Forgets the spec's group's saved state.
            fn clear(&self, py: Python<'_>, spec: PyRef<'_, PySpec>) -> PyResult<()> {
                let (s, spec) = (self.store(), spec.0.clone());
                block_on(py, async move {
                    core(s.clear(&spec.group, &spec.app_refs())).await
                })
            }
            /// `clear` as an awaitable.
            fn clear_async<'py>(
                &self,
                py: Python<'py>,
                spec: PyRef<'py, PySpec>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let (s, spec) = (self.store(), spec.0.clone());
                awaitable(py, async move {
                    core(s.clear(&spec.group, &spec.app_refs())).await
                })
            }
        }
    };
}

/// Rollout states kept in labels of the group's first stable service.
#[pyclass(frozen, module = "canary_sdk._native", name = "SwarmStateStore")]
pub(crate) struct PySwarmStateStore {
    inner: Arc<canary_swarm::SwarmStateStore>,
}

impl Store for PySwarmStateStore {
    fn store(&self) -> Arc<dyn StateStore> {
        self.inner.clone()
    }
}

store_methods!(PySwarmStateStore, {
    /// A store writing through `orchestrator`'s connection.
    #[new]
    fn new(orchestrator: PyRef<'_, PySwarmOrchestrator>) -> Self {
        PySwarmStateStore {
            inner: Arc::new(canary_swarm::SwarmStateStore::new(
                orchestrator.inner.clone(),
            )),
        }
    }
    fn __repr__(&self) -> String {
        "SwarmStateStore()".into()
    }
});

/// Rollout states kept in this process only (tests, runs that need no crash recovery). Share one
/// store between rollouts to let them see each other's state.
#[pyclass(frozen, module = "canary_sdk._native", name = "MemoryStateStore")]
pub(crate) struct PyMemoryStateStore {
    inner: Arc<MemoryStateStore>,
}

impl Store for PyMemoryStateStore {
    fn store(&self) -> Arc<dyn StateStore> {
        self.inner.clone()
    }
}

store_methods!(PyMemoryStateStore, {
    /// An empty store.
    #[new]
    fn new() -> Self {
        PyMemoryStateStore {
            inner: Arc::new(MemoryStateStore::new()),
        }
    }
    fn __repr__(&self) -> String {
        "MemoryStateStore()".into()
    }
});

/// The orchestrator behind a Python orchestrator object.
pub(crate) fn orchestrator_of(obj: &Bound<'_, PyAny>) -> Option<Arc<dyn Orchestrator>> {
    if let Ok(o) = obj.cast::<PySwarmOrchestrator>() {
        return Some(Arc::new(o.get().inner.clone()));
    }
    if let Ok(o) = obj.cast::<crate::testing::FakeOrchestrator>() {
        return Some(o.get().inner.clone());
    }
    None
}

/// The store behind a Python store object.
pub(crate) fn store_of(obj: &Bound<'_, PyAny>) -> Option<Arc<dyn StateStore>> {
    if let Ok(s) = obj.cast::<PySwarmStateStore>() {
        return Some(s.get().store());
    }
    if let Ok(s) = obj.cast::<PyMemoryStateStore>() {
        return Some(s.get().store());
    }
    None
}

/// The default store of an orchestrator: the Swarm one keeps states on its services.
pub(crate) fn default_store_of(obj: &Bound<'_, PyAny>) -> Option<Arc<dyn StateStore>> {
    obj.cast::<PySwarmOrchestrator>()
        .ok()
        .map(|o| Arc::new(o.get().inner.state_store()) as Arc<dyn StateStore>)
}
