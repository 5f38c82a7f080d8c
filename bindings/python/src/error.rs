//! Errors across the boundary, both ways.
//!
//! Core → Python: [`ToPyResult::to_py`] raises the subclass of `canary_sdk.CanaryError` that
//! matches the core's [`canary_core::Error`] kind, with the core's message, its `code()`, whether
//! it is retryable and the variant's fields. The classes live in `canary_sdk/errors.py` so they
//! can inherit from two bases (`InvalidSpecError` is also a `ValueError`).
//!
//! Python → core: an exception raised by Python code the engine calls (a metrics source, a hook)
//! becomes [`canary_core::Error::Unavailable`] naming the exception; the engine treats that like
//! any failed call: an inconclusive analysis, a hook that said no.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use canary_core::Error;

/// Converts a core result into a Python one.
pub(crate) trait ToPyResult<T> {
    /// Raises the matching `CanaryError` subclass on error.
    fn to_py(self) -> PyResult<T>;
}

impl<T> ToPyResult<T> for canary_core::Result<T> {
    fn to_py(self) -> PyResult<T> {
        self.map_err(to_py_err)
    }
}

/// The Python class name of a core error's kind.
fn class_name(e: &Error) -> &'static str {
    match e {
        Error::InvalidInput { .. } => "InvalidSpecError",
        Error::NotFound { .. } => "NotFoundError",
        Error::Conflict(_) => "ConflictError",
        Error::Unavailable(_) => "UnavailableError",
        Error::Timeout { .. } => "CanaryTimeoutError",
        Error::DeploymentFailed { .. } => "DeploymentFailedError",
        Error::Rejected { .. } => "RejectedError",
        Error::Aborted(_) => "AbortedError",
        _ => "InternalError",
    }
}

fn details<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match e {
        Error::InvalidInput { field, reason } => {
            d.set_item("field", field)?;
            d.set_item("reason", reason)?;
        }
        Error::NotFound { kind, name, detail } => {
            d.set_item("kind", kind)?;
            d.set_item("name", name)?;
            d.set_item("detail", detail)?;
        }
        Error::Timeout { what, after } => {
            d.set_item("what", what)?;
            d.set_item("after", after.as_secs_f64())?;
        }
        Error::DeploymentFailed { service, message } => {
            d.set_item("service", service)?;
            d.set_item("reason", message)?;
        }
        Error::Rejected { by, message } => {
            d.set_item("by", by)?;
            d.set_item("reason", message)?;
        }
        Error::Conflict(m) | Error::Unavailable(m) | Error::Aborted(m) | Error::Internal(m) => {
            d.set_item("reason", m)?;
        }
        _ => {}
    }
    Ok(d)
}

/// The Python exception for a core error.
pub(crate) fn to_py_err(e: Error) -> PyErr {
    Python::attach(|py| {
        let build = || -> PyResult<PyErr> {
            let class = py.import("canary_sdk.errors")?.getattr(class_name(&e))?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("code", e.code())?;
            kwargs.set_item("retryable", e.is_retryable())?;
            kwargs.set_item("details", details(py, &e)?)?;
            let value = class.call((e.to_string(),), Some(&kwargs))?;
            Ok(PyErr::from_value(value))
        };
        build().unwrap_or_else(|import_error| {
            // Only when the native module is used without its package.
            let err = PyRuntimeError::new_err(format!("{} ({})", e, e.code()));
            err.set_cause(py, Some(import_error));
            err
        })
    })
}

/// A core error about the argument `field`: an invalid input without a field of its own gets
/// this one.
pub(crate) fn at_field(field: &str, e: Error) -> PyErr {
    match e {
        Error::InvalidInput { field: f, reason } if f.is_empty() => {
            to_py_err(Error::invalid(field, reason))
        }
        other => to_py_err(other),
    }
}

/// An invalid argument, raised as `InvalidSpecError` like any invalid input.
pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> PyErr {
    to_py_err(Error::invalid(field, reason))
}

/// The core error for an exception raised by Python code the engine called; `what` names that
/// code ("the Python metrics source").
pub(crate) fn from_py_err(what: &str, err: PyErr) -> Error {
    Python::attach(|py| {
        let name = err
            .get_type(py)
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "Exception".into());
        let text = err
            .value(py)
            .str()
            .map(|s| s.to_string())
            .unwrap_or_default();
        if text.is_empty() {
            Error::Unavailable(format!("{what} raised {name}"))
        } else {
            Error::Unavailable(format!("{what} raised {name}: {text}"))
        }
    })
}
