//! Python objects behind the core's traits: a metrics source (an object with `value(query)` and
//! `samples(query)`) and a hook runner (a function of `(hook, context)`), each sync or async.
//!
//! Only conversion happens here. What the engine makes of an answer, an exception or a wrong type
//! (an inconclusive analysis, a hook that said no) is the core's business: every failure is
//! handed back as an error.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyTuple};

use canary_core::spec::HookSpec;
use canary_core::{
    Error, HookContext, HookOutcome, HookRunner, MetricQuery, MetricsSource, Observation, Result,
};

use crate::error::from_py_err;
use crate::runtime::call_python;
use crate::types::{PyHook, PyHookContext, PyHookOutcome, PyMetricQuery};

const METRICS: &str = "the Python metrics source";
const HOOK: &str = "the Python hook";

/// A Python object with `value(query) -> float | None` and `samples(query) -> list[float]`
/// methods, plain or `async def`.
pub(crate) struct PyMetricsSource {
    obj: Arc<Py<PyAny>>,
    name: String,
}

impl PyMetricsSource {
    /// Wraps `obj` if it has both methods.
    pub(crate) fn new(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        for m in ["value", "samples"] {
            if !obj.getattr(m).is_ok_and(|a| a.is_callable()) {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "metrics must be PrometheusMetrics, TraefikScrapeMetrics or an object with \
                     value(query) and samples(query) methods; {} has no {m}()",
                    obj.get_type().name()?
                )));
            }
        }
        Ok(PyMetricsSource {
            obj: Arc::new(obj.clone().unbind()),
            name: obj.get_type().name()?.to_string(),
        })
    }

    async fn call(&self, method: &'static str, query: &MetricQuery) -> Result<Py<PyAny>> {
        let (obj, q) = (self.obj.clone(), PyMetricQuery(query.clone()));
        call_python(move |py| obj.bind(py).call_method1(method, (q,)))
            .await
            .map_err(|e| from_py_err(&format!("{METRICS} {}.{method}()", self.name), e))
    }
}

impl fmt::Debug for PyMetricsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PyMetricsSource({})", self.name)
    }
}

fn number(v: &Bound<'_, PyAny>) -> Option<f64> {
    let is_number = !v.is_instance_of::<PyBool>()
        && (v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>());
    is_number.then(|| v.extract::<f64>().ok()).flatten()
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

#[async_trait]
impl MetricsSource for PyMetricsSource {
    async fn value(&self, query: &MetricQuery) -> Result<Observation> {
        let r = self.call("value", query).await?;
        Python::attach(|py| {
            let v = r.bind(py);
            if v.is_none() {
                return Ok(Observation::NoData);
            }
            number(v).map(Observation::from_f64).ok_or_else(|| {
                Error::Unavailable(format!(
                    "{METRICS} {}.value() returned {}, not a float or None",
                    self.name,
                    type_name(v)
                ))
            })
        })
    }

    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>> {
        let r = self.call("samples", query).await?;
        Python::attach(|py| {
            let v = r.bind(py);
            let bad = || {
                Error::Unavailable(format!(
                    "{METRICS} {}.samples() returned {}, not a list of floats",
                    self.name,
                    type_name(v)
                ))
            };
            let mut out = Vec::new();
            for item in v.try_iter().map_err(|_| bad())? {
                let item = item.map_err(|e| from_py_err(METRICS, e))?;
                out.push(number(&item).ok_or_else(bad)?);
            }
            Ok(out)
        })
    }
}

/// A Python function `(hook, context) -> bool | HookOutcome | (bool, str)`, plain or `async def`.
/// Anything else it returns, or raises, is a no.
pub(crate) struct PyHookRunner {
    f: Arc<Py<PyAny>>,
    name: String,
}

impl PyHookRunner {
    /// Wraps `f` if it is callable.
    pub(crate) fn new(f: &Bound<'_, PyAny>) -> PyResult<Self> {
        if !f.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "hooks must be a WebhookRunner or a function (hook, context); {} is not callable",
                f.get_type().name()?
            )));
        }
        let name = f
            .getattr("__qualname__")
            .and_then(|n| n.extract::<String>())
            .unwrap_or_else(|_| type_name(f));
        Ok(PyHookRunner {
            f: Arc::new(f.clone().unbind()),
            name,
        })
    }
}

impl fmt::Debug for PyHookRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PyHookRunner({})", self.name)
    }
}

#[async_trait]
impl HookRunner for PyHookRunner {
    async fn call(&self, hook: &HookSpec, context: &HookContext) -> Result<HookOutcome> {
        let (f, h, c) = (
            self.f.clone(),
            PyHook(hook.clone()),
            PyHookContext(context.clone()),
        );
        let what = format!("{HOOK} {}", self.name);
        let r = call_python(move |py| f.bind(py).call1((h, c)))
            .await
            .map_err(|e| from_py_err(&what, e))?;
        Python::attach(|py| {
            let v = r.bind(py);
            if let Ok(b) = v.cast::<PyBool>() {
                return Ok(HookOutcome {
                    ok: b.is_true(),
                    message: String::new(),
                });
            }
            if let Ok(o) = v.cast::<PyHookOutcome>() {
                return Ok(o.get().0.clone());
            }
            if let Ok(t) = v.cast::<PyTuple>() {
                if let Ok((ok, message)) = t.extract::<(bool, String)>() {
                    return Ok(HookOutcome { ok, message });
                }
            }
            Err(Error::Unavailable(format!(
                "{what} returned {}, not a bool, a HookOutcome or (bool, str)",
                type_name(v)
            )))
        })
    }
}
