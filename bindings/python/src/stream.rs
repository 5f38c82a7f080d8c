//! `Stream`: a Rust stream (log lines, build output, rollout events) as a Python async iterator of
//! plain dicts. `close()` ends it, also for a reader waiting in another task or thread; dropping it
//! drops the Rust stream (and the Docker connection behind it).

use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use tokio::sync::{watch, Mutex};

use crate::convert::to_py;
use crate::error::ToPyResult;
use crate::runtime::awaitable;

/// The items a [`PyStream`] hands out.
pub(crate) type Items = BoxStream<'static, canary_core::Result<serde_json::Value>>;

/// An async iterator of plain dicts.
#[pyclass(frozen, module = "canary_sdk._native", name = "Stream")]
pub(crate) struct PyStream {
    items: Arc<Mutex<Option<Items>>>,
    closed: Arc<watch::Sender<bool>>,
}

impl PyStream {
    pub(crate) fn new(items: Items) -> Self {
        PyStream {
            items: Arc::new(Mutex::new(Some(items))),
            closed: Arc::new(watch::channel(false).0),
        }
    }
}

#[pymethods]
impl PyStream {
    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (items, mut closed) = (self.items.clone(), self.closed.subscribe());
        awaitable(py, async move {
            let mut guard = items.lock().await;
            let Some(stream) = guard.as_mut() else {
                return Err(PyStopAsyncIteration::new_err(()));
            };
            let next = tokio::select! {
                biased;
                _ = closed.wait_for(|c| *c) => None,
                next = stream.next() => next,
            };
            match next {
                Some(item) => to_py(&item.to_py()?),
                None => {
                    *guard = None;
                    Err(PyStopAsyncIteration::new_err(()))
                }
            }
        })
    }

    /// Ends the stream.
    fn close(&self) {
        self.closed.send_replace(true);
    }
}
