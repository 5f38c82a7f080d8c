//! `Spec`: a canary spec loaded and validated by the core (a plain spec or a compose file with
//! `x-canary`, overrides applied), and the directory its build contexts are relative to.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyMapping;

use canary_core::spec::overrides::Override;
use canary_core::{Spec, SpecFile};

use crate::convert::{from_py, to_py_with};
use crate::error::ToPyResult;

/// A validated canary spec.
#[pyclass(frozen, eq, module = "canary_sdk._native", name = "Spec")]
pub(crate) struct PySpec {
    pub(crate) spec: Spec,
    pub(crate) dir: PathBuf,
}

/// Two specs are equal when their contents are, wherever they were read from.
impl PartialEq for PySpec {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

/// `{"traffic.interval": "5s", "apps.*.canaryEnv.ERROR_RATE": "0.3", "hooks!": None}` as the
/// core's overrides, in order.
pub(crate) fn overrides(map: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Override>> {
    let Some(map) = map.filter(|m| !m.is_none()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for item in map.cast::<PyMapping>()?.items()?.iter() {
        let (path, value): (String, Bound<'_, PyAny>) = item.extract()?;
        let value = from_py(&format!("overrides[{path:?}]"), &value)?;
        out.push(Override { path, value });
    }
    Ok(out)
}

#[pymethods]
impl PySpec {
    /// Reads a spec file (YAML, JSON, or a compose file with `x-canary`), `overrides` on top.
    #[staticmethod]
    #[pyo3(signature = (path, overrides = None))]
    fn load(py: Python<'_>, path: PathBuf, overrides: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let ov = self::overrides(overrides)?;
        let file = py.detach(|| SpecFile::load(&path, &ov)).to_py()?;
        Ok(PySpec {
            spec: file.spec,
            dir: file.dir,
        })
    }

    /// Parses a spec text (YAML or JSON, or a compose file), `overrides` on top.
    #[staticmethod]
    #[pyo3(signature = (text, overrides = None, dir = None))]
    fn from_text(
        text: &str,
        overrides: Option<&Bound<'_, PyAny>>,
        dir: Option<PathBuf>,
    ) -> PyResult<Self> {
        let (spec, _) = Spec::from_text(text, &self::overrides(overrides)?).to_py()?;
        Ok(PySpec {
            spec,
            dir: dir.unwrap_or_else(|| ".".into()),
        })
    }

    /// Validates a spec given as plain data (the YAML's shape: camelCase keys).
    #[staticmethod]
    #[pyo3(signature = (data, dir = None))]
    fn from_dict(data: &Bound<'_, PyAny>, dir: Option<PathBuf>) -> PyResult<Self> {
        let spec: Spec = from_py("", data)?;
        spec.validate().to_py()?;
        Ok(PySpec {
            spec,
            dir: dir.unwrap_or_else(|| ".".into()),
        })
    }

    /// The JSON Schema of the spec.
    #[staticmethod]
    fn json_schema(py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py_with(py, &Spec::json_schema())
    }

    /// The whole spec with its defaults, as plain data (`from_dict` takes it back).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py_with(py, &self.spec)
    }

    /// The group's name.
    #[getter]
    fn group(&self) -> String {
        self.spec.group.to_string()
    }

    /// The apps with their Swarm service names (`{"name", "stable", "canary"}`).
    #[getter]
    fn apps(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py_with(py, &self.spec.app_refs())
    }

    /// The directory build contexts are relative to.
    #[getter]
    fn dir(&self) -> String {
        self.dir.display().to_string()
    }

    fn __repr__(&self) -> String {
        let apps: Vec<&str> = self.spec.apps.iter().map(|a| a.name.as_str()).collect();
        format!("Spec(group={:?}, apps={apps:?})", self.spec.group.as_str())
    }
}
