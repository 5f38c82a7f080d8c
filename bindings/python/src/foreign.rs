//! Python code behind the core's traits and callbacks: a metrics source (an object with
//! `value(query)` and `samples(query)`), a hook function `(hook, context)`, and the `on_event` /
//! `on_step` callbacks; each plain or `async def`. Queries, hooks and events reach Python as
//! plain dicts.
//!
//! Only conversion happens here. What the engine makes of an answer, an exception or a wrong type
//! (an inconclusive analysis, a hook that said no) is the core's business: every failure is
//! handed back as an error.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use futures::FutureExt;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt};
use serde::Serialize;

use canary_core::spec::HookSpec;
use canary_core::{
    Error, HookContext, HookOutcome, HookRunner, MetricQuery, MetricsSource, Observation, Result,
};

use crate::convert::{from_py, to_py_with};
use crate::error::from_py_err;
use crate::runtime::{attach, call_python, spawn};

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A Python object with `value(query) -> float | None` and `samples(query) -> list[float]`.
pub(crate) struct PyMetricsSource {
    obj: Arc<Py<PyAny>>,
    name: String,
}

impl PyMetricsSource {
    /// Wraps `obj` if it has both methods.
    pub(crate) fn new(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        for m in ["value", "samples"] {
            if !obj.getattr(m).is_ok_and(|a| a.is_callable()) {
                return Err(PyTypeError::new_err(format!(
                    "metrics must have value(query) and samples(query) methods; {} has no {m}()",
                    type_name(obj)
                )));
            }
        }
        Ok(PyMetricsSource {
            obj: Arc::new(obj.clone().unbind()),
            name: type_name(obj),
        })
    }

    /// Calls `method(query)` and reads its answer with `read`.
    async fn call<T>(
        &self,
        method: &'static str,
        query: &MetricQuery,
        read: impl FnOnce(&Bound<'_, PyAny>) -> Option<T>,
        expected: &str,
    ) -> Result<T> {
        let what = format!("the Python metrics source {}.{method}()", self.name);
        let (obj, q) = (self.obj.clone(), query.clone());
        let answer = call_python(move |py| {
            let q = to_py_with(py, &q)?;
            obj.bind(py).call_method1(method, (q,))
        })
        .await
        .map_err(|e| from_py_err(&what, e))?;
        let read = attach(|py| {
            let v = answer.bind(py);
            Ok(read(v).ok_or_else(|| format!("{what} returned {}, not {expected}", type_name(v))))
        });
        read.map_err(|e| from_py_err(&what, e))?
            .map_err(Error::unavailable)
    }
}

impl fmt::Debug for PyMetricsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PyMetricsSource({})", self.name)
    }
}

/// An int or a float (not a bool).
fn number(v: &Bound<'_, PyAny>) -> Option<f64> {
    let is_number = !v.is_instance_of::<PyBool>()
        && (v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>());
    is_number.then(|| v.extract::<f64>().ok()).flatten()
}

#[async_trait]
impl MetricsSource for PyMetricsSource {
    async fn value(&self, query: &MetricQuery) -> Result<Observation> {
        let read = |v: &Bound<'_, PyAny>| match v.is_none() {
            true => Some(Observation::NoData),
            false => number(v).map(Observation::from_f64),
        };
        self.call("value", query, read, "a float or None").await
    }

    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>> {
        let read = |v: &Bound<'_, PyAny>| -> Option<Vec<f64>> {
            v.try_iter()
                .ok()?
                .map(|item| item.ok().as_ref().and_then(number))
                .collect()
        };
        self.call("samples", query, read, "a list of floats").await
    }
}

/// A Python function `(hook, context) -> bool | (bool, str) | {"ok": bool, "message": str}`.
/// Anything else it returns, or raises, is a no.
pub(crate) struct PyHookRunner {
    f: Arc<Py<PyAny>>,
    name: String,
}

impl PyHookRunner {
    /// Wraps `f` if it is callable.
    pub(crate) fn new(f: &Bound<'_, PyAny>) -> PyResult<Self> {
        if !f.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "hooks must be a function (hook, context); {} is not callable",
                type_name(f)
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
        let what = format!("the Python hook {}", self.name);
        let (f, h, c) = (self.f.clone(), hook.clone(), context.clone());
        let answer = call_python(move |py| {
            let (h, c) = (to_py_with(py, &h)?, to_py_with(py, &c)?);
            f.bind(py).call1((h, c))
        })
        .await
        .map_err(|e| from_py_err(&what, e))?;
        let read = attach(|py| {
            let v = answer.bind(py);
            if let Ok(ok) = v.cast::<PyBool>() {
                let message = String::new();
                return Ok(Ok(HookOutcome {
                    ok: ok.is_true(),
                    message,
                }));
            }
            if let Ok((ok, message)) = v.extract::<(bool, String)>() {
                return Ok(Ok(HookOutcome { ok, message }));
            }
            Ok(from_py::<HookOutcome>("", v).map_err(|_| {
                format!(
                    "{what} returned {}, not a bool, (bool, str) or {{\"ok\": bool, \"message\": str}}",
                    type_name(v)
                )
            }))
        });
        read.map_err(|e| from_py_err(&what, e))?
            .map_err(Error::unavailable)
    }
}

/// An `on_event` / `on_step` function, if one was given.
pub(crate) type Callback = Option<Arc<Py<PyAny>>>;

/// Checks that `f`, when given, is callable.
pub(crate) fn callback(name: &str, f: Option<&Bound<'_, PyAny>>) -> PyResult<Callback> {
    match f.filter(|o| !o.is_none()) {
        None => Ok(None),
        Some(f) if f.is_callable() => Ok(Some(Arc::new(f.clone().unbind()))),
        Some(f) => Err(PyTypeError::new_err(format!(
            "{name} must be a function of one argument, not {}",
            type_name(f)
        ))),
    }
}

/// Hands one item to the callback; what it raises is reported (`sys.unraisablehook`), not acted
/// on.
async fn deliver<T: Serialize + Send + 'static>(cb: &Arc<Py<PyAny>>, item: T) {
    let f = cb.clone();
    let called = call_python(move |py| {
        let v = to_py_with(py, &item)?;
        f.bind(py).call1((v,))
    });
    if let Err(e) = called.await {
        let _ = attach(|py| {
            e.write_unraisable(py, Some(cb.bind(py)));
            Ok(())
        });
    }
}

/// Runs `fut` while `items` go to `cb` in order; every item sent before `fut` ended is delivered
/// before this returns. When `fut` is dropped (cancelled), no more items are delivered.
pub(crate) async fn with_callback<T, R>(
    cb: Callback,
    items: BoxStream<'static, T>,
    fut: impl Future<Output = R>,
) -> R
where
    T: Serialize + Send + 'static,
{
    let Some(cb) = cb else { return fut.await };
    let (done, mut ended) = tokio::sync::oneshot::channel::<()>();
    let forward = spawn(async move {
        let mut items = items;
        loop {
            tokio::select! {
                biased;
                item = items.next() => match item {
                    Some(item) => deliver(&cb, item).await,
                    None => return,
                },
                r = &mut ended => {
                    if r.is_err() {
                        return; // cancelled
                    }
                    while let Some(Some(item)) = items.next().now_or_never() {
                        deliver(&cb, item).await;
                    }
                    return;
                }
            }
        }
    });
    let r = fut.await;
    let _ = done.send(());
    let _ = forward.await;
    r
}
