//! How Rust futures meet asyncio.
//!
//! Every native call that waits on the world returns an asyncio awaitable on the caller's running
//! loop (pyo3-async-runtimes); cancelling it drops the Rust future. The blocking API is Python's
//! own (`canary_sdk/_sync.py`): the same awaitables on a private loop.
//!
//! Python code the engine calls back (a metrics source, a hook, an event callback) never runs on
//! the runtime's threads: a plain function runs on a blocking thread, a coroutine on the loop of
//! the call that started the work (remembered in the task-local [`CALLER_LOOP`]).
//!
//! [`Stop`] is how the Python layer stops a rollout call *and waits for it*: the call drops its
//! work, hands the lease back, then ends (an asyncio cancellation cannot wait for that).

use std::future::Future;
use std::sync::Arc;

use futures::future::{select, Either};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3_async_runtimes::TaskLocals;
use tokio::sync::watch;

tokio::task_local! {
    /// The asyncio loop of the Python call that started the current Rust future.
    static CALLER_LOOP: TaskLocals;
}

/// The process-wide Tokio runtime (the one pyo3-async-runtimes uses).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// `fut` as an asyncio awaitable on the running loop (a `RuntimeError` without one).
pub(crate) fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let locals = TaskLocals::with_running_loop(py)?.copy_context(py)?;
    let caller = locals.clone();
    pyo3_async_runtimes::tokio::future_into_py_with_locals(
        py,
        locals,
        CALLER_LOOP.scope(caller, fut),
    )
}

/// Spawns `fut` on the runtime with the current caller loop, for work a call hands off.
pub(crate) fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match CALLER_LOOP.try_with(Clone::clone) {
        Ok(locals) => runtime().spawn(CALLER_LOOP.scope(locals, fut)),
        Err(_) => runtime().spawn(fut),
    }
}

static ISAWAITABLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Calls `f` (which calls into Python) on a blocking thread, so a slow Python function never
/// stalls the runtime; an awaitable it returns is awaited on the caller's loop.
pub(crate) async fn call_python<F>(f: F) -> PyResult<Py<PyAny>>
where
    F: for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>> + Send + 'static,
{
    let caller = CALLER_LOOP.try_with(Clone::clone).ok();
    let pending = tokio::task::spawn_blocking(move || {
        Python::attach(|py| -> PyResult<Either<Py<PyAny>, _>> {
            let value = f(py)?;
            let isawaitable = ISAWAITABLE.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
                Ok(py.import("inspect")?.getattr("isawaitable")?.unbind())
            })?;
            if !isawaitable.bind(py).call1((&value,))?.is_truthy()? {
                return Ok(Either::Left(value.unbind()));
            }
            let locals = caller.ok_or_else(|| {
                pyo3::exceptions::PyRuntimeError::new_err("no event loop to run a coroutine on")
            })?;
            Ok(Either::Right(pyo3_async_runtimes::into_future_with_locals(
                &locals, value,
            )?))
        })
    })
    .await
    .map_err(|e| {
        pyo3::exceptions::PyRuntimeError::new_err(format!("a Python call did not finish: {e}"))
    })??;
    match pending {
        Either::Left(value) => Ok(value),
        Either::Right(fut) => fut.await,
    }
}

/// A signal from the Python layer to stop one call (see the module docs).
#[pyclass(frozen, module = "canary_sdk._native", name = "Stop")]
pub(crate) struct Stop(pub(crate) Arc<watch::Sender<bool>>);

#[pymethods]
impl Stop {
    #[new]
    fn new() -> Self {
        Stop(Arc::new(watch::channel(false).0))
    }
    /// Stops the call this was given to.
    fn set(&self) {
        self.0.send_replace(true);
    }
}

/// Runs `fut` unless `stop` is set first; then drops it, runs `after` (hands the lease back) and
/// returns `None`.
pub(crate) async fn stoppable<T, A>(
    stop: Option<Arc<watch::Sender<bool>>>,
    fut: impl Future<Output = PyResult<T>>,
    after: A,
) -> PyResult<Option<T>>
where
    A: Future<Output = ()>,
{
    let Some(stop) = stop else {
        return fut.await.map(Some);
    };
    let mut rx = stop.subscribe();
    let stopped = Box::pin(async move {
        let _ = rx.wait_for(|s| *s).await;
    });
    match select(Box::pin(fut), stopped).await {
        Either::Left((r, _)) => r.map(Some),
        Either::Right(((), fut)) => {
            drop(fut);
            after.await;
            Ok(None)
        }
    }
}
