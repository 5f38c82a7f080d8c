//! `Spec`: the canary spec, loaded and validated by the core.

use std::path::PathBuf;

use pyo3::prelude::*;

use canary_core::Spec;

use crate::convert::{py_to_json, to_py_data};
use crate::error::ToPyResult;
use crate::types::{pyq, PyAppRef};

/// A validated canary spec.
#[pyclass(frozen, eq, module = "canary_sdk._native", name = "Spec")]
#[derive(PartialEq)]
pub(crate) struct PySpec(pub(crate) Spec);

#[pymethods]
impl PySpec {
    /// Reads a spec file: `.json` as JSON, anything else as YAML.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        py.detach(|| Spec::load(&path)).to_py().map(PySpec)
    }
    /// Parses a YAML (or JSON) text.
    #[staticmethod]
    fn from_yaml(text: &str) -> PyResult<Self> {
        Spec::from_yaml(text).to_py().map(PySpec)
    }
    /// Parses a JSON text.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        Spec::from_json(text).to_py().map(PySpec)
    }
    /// Validates a spec given as plain data (the YAML's shape: camelCase keys).
    #[staticmethod]
    fn from_dict(data: &Bound<'_, PyAny>) -> PyResult<Self> {
        Spec::from_value(py_to_json(data, "")?).to_py().map(PySpec)
    }
    /// The JSON Schema of the spec.
    #[staticmethod]
    fn json_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        to_py_data(py, &Spec::json_schema())
    }
    /// The group's name.
    #[getter]
    fn group(&self) -> String {
        self.0.group.to_string()
    }
    /// The stack, if any.
    #[getter]
    fn stack(&self) -> Option<String> {
        self.0.stack.as_ref().map(|s| s.to_string())
    }
    /// The apps with their Swarm service names resolved.
    #[getter]
    fn apps(&self) -> Vec<PyAppRef> {
        self.0.app_refs().into_iter().map(PyAppRef).collect()
    }
    /// The canary weights of the steps, in order.
    #[getter]
    fn steps(&self) -> Vec<u32> {
        // Not Vec<u8>: pyo3 would make it `bytes`.
        self.0.steps().iter().map(|w| u32::from(w.get())).collect()
    }
    /// The analysis window in seconds.
    #[getter]
    fn window(&self) -> f64 {
        self.0.window().as_secs_f64()
    }
    /// The whole spec with its defaults, as plain data (feed it back to `from_dict`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_data(py, &self.0)
    }
    /// The whole spec as JSON text.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&self.0).map_err(|e| {
            crate::error::to_py_err(canary_core::Error::Internal(format!(
                "cannot serialize the spec: {e}"
            )))
        })
    }
    fn __repr__(&self) -> String {
        let apps: Vec<String> = self.0.apps.iter().map(|a| pyq(a.name.as_str())).collect();
        format!(
            "Spec(group={}, apps=[{}], steps={:?})",
            pyq(self.0.group.as_str()),
            apps.join(", "),
            self.steps()
        )
    }
}
