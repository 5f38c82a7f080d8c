//! Errors across the boundary, both ways.
//!
//! Core → Python: [`to_py_err`] builds the `canary_sdk.errors.CanaryError` subclass of the error's
//! `code()` (the classes live in Python so they can also be `ValueError`, `LookupError`,
//! `TimeoutError`), with the message, `retryable` and the variant's fields; the error's
//! `source()` chain becomes `__cause__`.
//!
//! Python → core: an exception raised by Python code the engine called (a metrics source, a hook)
//! becomes `Error::Unavailable` naming it, with the exception as its source (so it is the
//! `__cause__` again should the error reach Python); the engine treats it like any failed call.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use canary_core::Error;

/// A core result as a Python one.
pub(crate) trait ToPyResult<T> {
    /// Raises the matching `CanaryError` subclass on error.
    fn to_py(self) -> PyResult<T>;
}

impl<T> ToPyResult<T> for canary_core::Result<T> {
    fn to_py(self) -> PyResult<T> {
        self.map_err(to_py_err)
    }
}

fn details<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match e {
        Error::InvalidInput { field, reason, .. } => {
            d.set_item("field", field)?;
            d.set_item("reason", reason)?;
        }
        Error::NotFound {
            kind, name, detail, ..
        } => {
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
        Error::Rejected { by, message, .. } => {
            d.set_item("by", by)?;
            d.set_item("reason", message)?;
        }
        Error::Conflict { message: m, .. }
        | Error::Unavailable { message: m, .. }
        | Error::Aborted(m)
        | Error::Internal { message: m, .. } => {
            d.set_item("reason", m)?;
        }
        _ => {}
    }
    Ok(d)
}

/// The Python exception of a core error.
pub(crate) fn to_py_err(e: Error) -> PyErr {
    Python::attach(|py| {
        let build = || -> PyResult<PyErr> {
            let from_core = py.import("canary_sdk.errors")?.getattr("from_core")?;
            let value =
                from_core.call1((e.to_string(), e.code(), e.is_retryable(), details(py, &e)?))?;
            let err = PyErr::from_value(value);
            err.set_cause(py, cause_of(py, std::error::Error::source(&e)));
            Ok(err)
        };
        build().unwrap_or_else(|import_error| {
            // Only when the native module is used without its package.
            let err = PyException::new_err(format!("{e} ({})", e.code()));
            err.set_cause(py, Some(import_error));
            err
        })
    })
}

/// The `__cause__` chain of an error's sources: canary errors as their classes, others as
/// `Exception` with their words.
fn cause_of(py: Python<'_>, source: Option<&(dyn std::error::Error + 'static)>) -> Option<PyErr> {
    let source = source?;
    if let Some(e) = source.downcast_ref::<Error>() {
        return Some(to_py_err(e.clone()));
    }
    // An exception Python code raised into the engine comes back as itself.
    if let Some(e) = source.downcast_ref::<PyErr>() {
        return Some(e.clone_ref(py));
    }
    let err = PyException::new_err(source.to_string());
    err.set_cause(py, cause_of(py, source.source()));
    Some(err)
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
        match err.value(py).str().map(|s| s.to_string()) {
            Ok(text) if !text.is_empty() => {
                Error::unavailable(format!("{what} raised {name}: {text}"))
            }
            _ => Error::unavailable(format!("{what} raised {name}")),
        }
        .with_source(err)
    })
}
