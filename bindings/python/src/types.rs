//! The core's plain data as read-only Python objects: each wraps the core value, names its fields in
//! Python's words, and gives the whole value with `to_dict()` in the CLI's JSON shape.

use std::collections::BTreeMap;

use pyo3::prelude::*;
use serde::Serialize;

use canary_core::spec::{HookSpec, MetricKind};
use canary_core::traits::AppSplit;
use canary_core::{
    AppRef, CommandOutcome, Event, HookContext, HookOutcome, MetricQuery, Outcome, ServiceName,
    ServiceState, Status, Track,
};

use crate::convert::{duration, py_to_json, to_py_data};
use crate::error::{at_field, invalid};

/// A core enum's wire name (`rolledBack`, `weightSet`, `preRollout`).
pub(crate) fn wire<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Python's repr of a text: `'it''s'` → `'it\'s'`.
pub(crate) fn pyq(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Python's repr of an optional text.
fn py_opt(v: &Option<String>) -> String {
    v.as_deref().map(pyq).unwrap_or_else(|| "None".into())
}

/// Python's repr of an optional number.
fn py_num<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "None".into())
}

pub(crate) fn service_name(field: &str, s: &str) -> PyResult<ServiceName> {
    ServiceName::parse(s).map_err(|e| at_field(field, e))
}

/// An app with its Swarm service names resolved.
#[pyclass(frozen, eq, module = "canary_sdk._native", name = "AppRef")]
#[derive(Clone, PartialEq)]
pub(crate) struct PyAppRef(pub(crate) AppRef);

#[pymethods]
impl PyAppRef {
    #[new]
    #[pyo3(signature = (name, stable, canary))]
    fn new(name: &str, stable: &str, canary: &str) -> PyResult<Self> {
        Ok(PyAppRef(AppRef {
            name: service_name("name", name)?,
            stable: service_name("stable", stable)?,
            canary: service_name("canary", canary)?,
        }))
    }
    /// The app's name.
    #[getter]
    fn name(&self) -> String {
        self.0.name.to_string()
    }
    /// The stable Swarm service.
    #[getter]
    fn stable(&self) -> String {
        self.0.stable.to_string()
    }
    /// The canary Swarm service.
    #[getter]
    fn canary(&self) -> String {
        self.0.canary.to_string()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_data(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "AppRef(name={}, stable={}, canary={})",
            pyq(self.0.name.as_str()),
            pyq(self.0.stable.as_str()),
            pyq(self.0.canary.as_str())
        )
    }
}

/// One metric query the engine asks a metrics source.
#[pyclass(frozen, eq, module = "canary_sdk._native", name = "MetricQuery")]
#[derive(Clone, PartialEq)]
pub(crate) struct PyMetricQuery(pub(crate) MetricQuery);

#[pymethods]
impl PyMetricQuery {
    /// `metric` is written as in a spec: `"successRate"`, `{"latency": 0.99}`, `{"query": "..."}`.
    #[new]
    #[pyo3(signature = (app, track, metric, window))]
    fn new(
        app: PyRef<'_, PyAppRef>,
        track: &str,
        metric: &Bound<'_, PyAny>,
        window: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let track: Track = track.parse().map_err(|e| at_field("track", e))?;
        let metric: MetricKind = serde_json::from_value(py_to_json(metric, "metric")?)
            .map_err(|e| invalid("metric", e.to_string()))?;
        Ok(PyMetricQuery(MetricQuery {
            app: app.0.clone(),
            track,
            metric,
            window: duration("window", window)?,
        }))
    }
    /// The app.
    #[getter]
    fn app(&self) -> PyAppRef {
        PyAppRef(self.0.app.clone())
    }
    /// `"stable"` or `"canary"`.
    #[getter]
    fn track(&self) -> String {
        self.0.track.to_string()
    }
    /// The Swarm service of the track.
    #[getter]
    fn service(&self) -> String {
        self.0.app.service(self.0.track).to_string()
    }
    /// The metric's kind: `requestCount`, `requestRate`, `errorCount`, `successRate`,
    /// `errorRate`, `latency` or `query`.
    #[getter]
    fn metric(&self) -> String {
        match &self.0.metric {
            MetricKind::Latency(_) => "latency".into(),
            MetricKind::Query(_) => "query".into(),
            other => wire(other),
        }
    }
    /// The quantile of a `latency` metric (0–1).
    #[getter]
    fn quantile(&self) -> Option<f64> {
        match self.0.metric {
            MetricKind::Latency(q) => Some(q),
            _ => None,
        }
    }
    /// The template of a custom `query` metric.
    #[getter]
    fn template(&self) -> Option<String> {
        match &self.0.metric {
            MetricKind::Query(t) => Some(t.clone()),
            _ => None,
        }
    }
    /// A short label for reports: `successRate`, `latency(p99)`, `query`.
    #[getter]
    fn label(&self) -> String {
        self.0.metric.label()
    }
    /// The window in seconds, ending now.
    #[getter]
    fn window(&self) -> f64 {
        self.0.window.as_secs_f64()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_data(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "MetricQuery(service={}, track={}, metric={}, window={})",
            pyq(&self.service()),
            pyq(&self.track()),
            pyq(&self.label()),
            self.window()
        )
    }
}

/// A hook of the spec.
#[pyclass(frozen, module = "canary_sdk._native", name = "Hook")]
pub(crate) struct PyHook(pub(crate) HookSpec);

#[pymethods]
impl PyHook {
    /// The hook's name.
    #[getter]
    fn name(&self) -> String {
        self.0.name.clone()
    }
    /// Its URL in the spec.
    #[getter]
    fn url(&self) -> String {
        self.0.url.clone()
    }
    /// Its deadline in seconds.
    #[getter]
    fn timeout(&self) -> f64 {
        self.0.timeout.get().as_secs_f64()
    }
    /// Its metadata.
    #[getter]
    fn metadata(&self) -> BTreeMap<String, String> {
        self.0.metadata.clone()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_data(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!("Hook(name={}, url={})", pyq(&self.0.name), pyq(&self.0.url))
    }
}

/// What a hook is told.
#[pyclass(frozen, module = "canary_sdk._native", name = "HookContext")]
pub(crate) struct PyHookContext(pub(crate) HookContext);

#[pymethods]
impl PyHookContext {
    /// The group.
    #[getter]
    fn group(&self) -> String {
        self.0.group.clone()
    }
    /// The apps' names.
    #[getter]
    fn apps(&self) -> Vec<String> {
        self.0.apps.clone()
    }
    /// `preRollout`, `step`, `confirmPromotion`, `postRollout` or `rollback`.
    #[getter]
    fn point(&self) -> String {
        wire(&self.0.point)
    }
    /// The step index (0-based), if at a step.
    #[getter]
    fn step(&self) -> Option<usize> {
        self.0.step
    }
    /// The canary weight in force.
    #[getter]
    fn weight(&self) -> u8 {
        self.0.weight
    }
    /// The rollout's phase, in words.
    #[getter]
    fn phase(&self) -> String {
        self.0.phase.clone()
    }
    /// The hook's metadata from the spec.
    #[getter]
    fn metadata(&self) -> BTreeMap<String, String> {
        self.0.metadata.clone()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_data(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "HookContext(group={}, point={}, step={}, weight={})",
            pyq(&self.0.group),
            pyq(&self.point()),
            py_num(&self.0.step),
            self.0.weight
        )
    }
}

/// A hook's answer: go (`ok=True`) or no, with a message.
#[pyclass(frozen, eq, module = "canary_sdk._native", name = "HookOutcome")]
#[derive(Clone, PartialEq)]
pub(crate) struct PyHookOutcome(pub(crate) HookOutcome);

#[pymethods]
impl PyHookOutcome {
    #[new]
    #[pyo3(signature = (ok, message = String::new()))]
    fn new(ok: bool, message: String) -> Self {
        PyHookOutcome(HookOutcome { ok, message })
    }
    /// True when the hook says go.
    #[getter]
    fn ok(&self) -> bool {
        self.0.ok
    }
    /// Its words.
    #[getter]
    fn message(&self) -> String {
        self.0.message.clone()
    }
    fn __repr__(&self) -> String {
        format!(
            "HookOutcome(ok={}, message={})",
            if self.0.ok { "True" } else { "False" },
            pyq(&self.0.message)
        )
    }
}

/// A Swarm service as the orchestrator sees it.
#[pyclass(frozen, module = "canary_sdk._native", name = "ServiceState")]
pub(crate) struct PyServiceState(pub(crate) ServiceState);

#[pymethods]
impl PyServiceState {
    /// The service name.
    #[getter]
    fn name(&self) -> String {
        self.0.name.to_string()
    }
    /// The image its spec names.
    #[getter]
    fn image(&self) -> String {
        self.0.image.clone()
    }
    /// Desired replicas.
    #[getter]
    fn desired(&self) -> u64 {
        self.0.desired
    }
    /// Tasks running now.
    #[getter]
    fn running(&self) -> u64 {
        self.0.running
    }
    /// The service's labels.
    #[getter]
    fn labels(&self) -> BTreeMap<String, String> {
        self.0.labels.clone()
    }
    /// True when every desired task runs the current spec.
    #[getter]
    fn converged(&self) -> bool {
        self.0.converged
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_data(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "ServiceState(name={}, image={}, running={}/{}, converged={})",
            pyq(self.0.name.as_str()),
            pyq(&self.0.image),
            self.0.running,
            self.0.desired,
            if self.0.converged { "True" } else { "False" }
        )
    }
}

/// The split of one app the router really has in force.
#[pyclass(frozen, module = "canary_sdk._native", name = "AppSplit")]
pub(crate) struct PyAppSplit(pub(crate) AppSplit);

#[pymethods]
impl PyAppSplit {
    /// The app.
    #[getter]
    fn app(&self) -> String {
        self.0.app.to_string()
    }
    /// Stable's weight in force.
    #[getter]
    fn stable(&self) -> u64 {
        self.0.stable
    }
    /// Canary's weight in force.
    #[getter]
    fn canary(&self) -> u64 {
        self.0.canary
    }
    /// Whether the header route to the canary is in force.
    #[getter]
    fn header_route(&self) -> bool {
        self.0.header_route
    }
    /// Whether the router reports the route enabled and without errors.
    #[getter]
    fn healthy(&self) -> bool {
        self.0.healthy
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_data(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "AppSplit(app={}, stable={}, canary={})",
            pyq(self.0.app.as_str()),
            self.0.stable,
            self.0.canary
        )
    }
}

/// A rollout's saved state with what is really in force.
#[pyclass(frozen, module = "canary_sdk._native", name = "Status")]
pub(crate) struct PyStatus(pub(crate) Status);

#[pymethods]
impl PyStatus {
    /// The group.
    #[getter]
    fn group(&self) -> String {
        self.0.group.clone()
    }
    /// The phase (`pending`, `progressing`, `paused`, `promoting`, `promoted`, `rollingBack`,
    /// `rolledBack`, `failed`), or None when no rollout was ever started.
    #[getter]
    fn phase(&self) -> Option<String> {
        self.0.state.as_ref().map(|s| wire(&s.phase))
    }
    /// The current step index (0-based), if a rollout was started.
    #[getter]
    fn step(&self) -> Option<usize> {
        self.0.state.as_ref().map(|s| s.step)
    }
    /// The canary weight in force by the saved state (0 without one).
    #[getter]
    fn weight(&self) -> u8 {
        self.0.state.as_ref().map(|s| s.weight).unwrap_or(0)
    }
    /// Why the rollout is rolling back, rolled back, paused or failed.
    #[getter]
    fn cause(&self) -> Option<String> {
        self.0.state.as_ref().and_then(|s| s.cause.clone())
    }
    /// Failed analyses so far.
    #[getter]
    fn failures(&self) -> u32 {
        self.0.state.as_ref().map(|s| s.failures).unwrap_or(0)
    }
    /// Inconclusive analyses in a row.
    #[getter]
    fn inconclusive(&self) -> u32 {
        self.0.state.as_ref().map(|s| s.inconclusive).unwrap_or(0)
    }
    /// The steps' weights.
    #[getter]
    fn steps(&self) -> Vec<u32> {
        self.0.steps.iter().copied().map(u32::from).collect()
    }
    /// The split in force per app (empty if it could not be read).
    #[getter]
    fn splits(&self) -> Vec<PyAppSplit> {
        self.0.splits.iter().cloned().map(PyAppSplit).collect()
    }
    /// Why the split could not be read, if so.
    #[getter]
    fn splits_error(&self) -> Option<String> {
        self.0.splits_error.clone()
    }
    /// Stable and canary services per app (a missing canary is left out).
    #[getter]
    fn services(&self) -> Vec<PyServiceState> {
        self.0
            .services
            .iter()
            .cloned()
            .map(PyServiceState)
            .collect()
    }
    /// Whether a live controller holds the lease.
    #[getter]
    fn driven(&self) -> bool {
        self.0.driven
    }
    /// The last analysis report as a dict, if any.
    #[getter]
    fn last_analysis<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.0
            .state
            .as_ref()
            .and_then(|s| s.last_analysis.as_ref())
            .map(|a| to_py_data(py, a))
            .transpose()
    }
    /// The whole saved state as a dict, if any.
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.0.state.as_ref().map(|s| to_py_data(py, s)).transpose()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_data(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "Status(group={}, phase={}, step={}, weight={}, driven={})",
            pyq(&self.0.group),
            py_opt(&self.phase()),
            py_num(&self.step()),
            self.weight(),
            if self.0.driven { "True" } else { "False" }
        )
    }
}

/// One event of a rollout.
#[pyclass(frozen, module = "canary_sdk._native", name = "Event")]
pub(crate) struct PyEvent(pub(crate) Event);

#[pymethods]
impl PyEvent {
    /// Unix time in milliseconds.
    #[getter]
    fn at_ms(&self) -> u64 {
        self.0.at_ms
    }
    /// The group.
    #[getter]
    fn group(&self) -> String {
        self.0.group.clone()
    }
    /// What happened: `started`, `resumed`, `hook`, `canaryReady`, `weightSet`, `analysis`,
    /// `waiting`, `command`, `paused`, `promoting`, `promoted`, `rollingBack`, `rolledBack`,
    /// `failed`, `retry`.
    #[getter]
    fn kind(&self) -> String {
        wire(&self.0.kind)
    }
    /// The phase after it.
    #[getter]
    fn phase(&self) -> String {
        wire(&self.0.phase)
    }
    /// The step index.
    #[getter]
    fn step(&self) -> usize {
        self.0.step
    }
    /// The number of steps.
    #[getter]
    fn steps(&self) -> usize {
        self.0.steps
    }
    /// The canary weight in force.
    #[getter]
    fn weight(&self) -> u8 {
        self.0.weight
    }
    /// Why, in words.
    #[getter]
    fn message(&self) -> String {
        self.0.message.clone()
    }
    /// The analysis report as a dict, for analysis events.
    #[getter]
    fn analysis<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.0
            .analysis
            .as_ref()
            .map(|a| to_py_data(py, a))
            .transpose()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_data(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "Event(kind={}, phase={}, weight={}, message={})",
            pyq(&self.kind()),
            pyq(&self.phase()),
            self.0.weight,
            pyq(&self.0.message)
        )
    }
}

/// How a rollout ended.
#[pyclass(frozen, module = "canary_sdk._native", name = "Outcome")]
pub(crate) struct PyOutcome(pub(crate) Outcome);

#[pymethods]
impl PyOutcome {
    /// `promoted` or `rolledBack`.
    #[getter]
    fn result(&self) -> String {
        match &self.0 {
            Outcome::Promoted => "promoted".into(),
            Outcome::RolledBack { .. } => "rolledBack".into(),
        }
    }
    /// True when stable now runs the canary's version.
    #[getter]
    fn promoted(&self) -> bool {
        matches!(self.0, Outcome::Promoted)
    }
    /// Why it was rolled back.
    #[getter]
    fn cause(&self) -> Option<String> {
        match &self.0 {
            Outcome::Promoted => None,
            Outcome::RolledBack { cause } => Some(cause.clone()),
        }
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_data(py, &self.0)
    }
    fn __repr__(&self) -> String {
        match &self.0 {
            Outcome::Promoted => "Outcome(result='promoted')".into(),
            Outcome::RolledBack { cause } => {
                format!("Outcome(result='rolledBack', cause={})", pyq(cause))
            }
        }
    }
}

/// What a manual control did.
#[pyclass(frozen, module = "canary_sdk._native", name = "CommandOutcome")]
pub(crate) struct PyCommandOutcome(pub(crate) CommandOutcome);

#[pymethods]
impl PyCommandOutcome {
    /// `delivered` (to the live controller driving the rollout) or `applied` (here).
    #[getter]
    fn result(&self) -> String {
        match &self.0 {
            CommandOutcome::Delivered { .. } => "delivered".into(),
            CommandOutcome::Applied { .. } => "applied".into(),
        }
    }
    /// The driving controller it was handed to.
    #[getter]
    fn owner(&self) -> Option<String> {
        match &self.0 {
            CommandOutcome::Delivered { owner } => Some(owner.clone()),
            CommandOutcome::Applied { .. } => None,
        }
    }
    /// The phase it left the rollout in, when applied here.
    #[getter]
    fn phase(&self) -> Option<String> {
        match &self.0 {
            CommandOutcome::Delivered { .. } => None,
            CommandOutcome::Applied { phase } => Some(wire(phase)),
        }
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_data(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "CommandOutcome(result={}, owner={}, phase={})",
            pyq(&self.result()),
            py_opt(&self.owner()),
            py_opt(&self.phase())
        )
    }
}
