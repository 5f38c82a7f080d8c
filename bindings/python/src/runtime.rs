//! How Rust futures meet Python: every call is one Rust future, offered twice, as a blocking
//! method (`run()`) and as an asyncio awaitable (`run_async()`).
//!
//! - Blocking: the future runs on the shared Tokio runtime while the calling thread has let go of
//!   the interpreter; every 50 ms it takes the interpreter back for a moment to run Python's signal
//!   handlers, so Ctrl-C raises `KeyboardInterrupt` and drops the future (the engine saves its state
//!   after every transition, so nothing is lost).
//! - Async: `pyo3-async-runtimes` turns the future into an asyncio future; cancelling it drops the
//!   Rust future the same way.
//!
//! Python code the engine calls (a metrics source, a hook, an event callback) may be a coroutine
//! function: its coroutine runs on the caller's event loop for async calls (remembered in the
//! task-local [`CALLER_LOOP`]), and on one background loop thread for blocking calls.

use std::future::Future;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3_async_runtimes::TaskLocals;

use crate::error::ToPyResult;

tokio::task_local! {
    /// The asyncio loop of the Python call that started the current Rust future, if it was an
    /// async call.
    static CALLER_LOOP: Option<TaskLocals>;
}

/// The process-wide Tokio runtime (the one pyo3-async-runtimes uses).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `fut` to its end on the runtime without holding the interpreter; Ctrl-C (any pending
/// signal whose handler raises) cancels it and raises.
pub(crate) fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send,
    T: Send,
{
    py.detach(|| {
        runtime().block_on(CALLER_LOOP.scope(None, async {
            tokio::pin!(fut);
            loop {
                tokio::select! {
                    biased;
                    r = &mut fut => return r,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {
                        Python::attach(|py| py.check_signals())?;
                    }
                }
            }
        }))
    })
}

/// `fut` as an asyncio awaitable on the running loop.
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
        CALLER_LOOP.scope(Some(caller), fut),
    )
}

/// The loop a coroutine from Python code called now should run on: the caller's, or the
/// background loop.
pub(crate) fn current_loop() -> Option<TaskLocals> {
    CALLER_LOOP.try_with(|l| l.clone()).ok().flatten()
}

/// Runs `fut` with the same caller loop as the current task (for tasks it spawns).
pub(crate) fn with_loop<F: Future>(
    locals: Option<TaskLocals>,
    fut: F,
) -> impl Future<Output = F::Output> {
    CALLER_LOOP.scope(locals, fut)
}

static BACKGROUND: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A daemon thread running an asyncio loop forever, for coroutines met during blocking calls.
fn background_loop(py: Python<'_>) -> PyResult<TaskLocals> {
    let event_loop = BACKGROUND.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        let asyncio = py.import("asyncio")?;
        let event_loop = asyncio.call_method0("new_event_loop")?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("target", event_loop.getattr("run_forever")?)?;
        kwargs.set_item("name", "canary-sdk-asyncio")?;
        kwargs.set_item("daemon", true)?;
        let thread = py
            .import("threading")?
            .getattr("Thread")?
            .call((), Some(&kwargs))?;
        thread.call_method0("start")?;
        Ok(event_loop.unbind())
    })?;
    TaskLocals::new(event_loop.bind(py).clone()).copy_context(py)
}

static ISAWAITABLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// What a Python call gave back: a value, or an awaitable now scheduled on a loop.
enum Answer<F> {
    Ready(Py<PyAny>),
    Pending(F),
}

/// Calls `f` (which calls into Python) on a blocking thread so a slow or blocking Python function
/// never stalls the runtime, then, if it returned an awaitable, awaits it on the caller's loop (or
/// the background loop).
pub(crate) async fn call_python<F>(f: F) -> PyResult<Py<PyAny>>
where
    F: for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>> + Send + 'static,
{
    let caller = current_loop();
    let answer = tokio::task::spawn_blocking(move || {
        Python::attach(|py| -> PyResult<Answer<_>> {
            let value = f(py)?;
            let isawaitable = ISAWAITABLE.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
                Ok(py.import("inspect")?.getattr("isawaitable")?.unbind())
            })?;
            if !isawaitable.bind(py).call1((&value,))?.is_truthy()? {
                return Ok(Answer::Ready(value.unbind()));
            }
            let locals = match caller {
                Some(l) => l,
                None => background_loop(py)?,
            };
            Ok(Answer::Pending(
                pyo3_async_runtimes::into_future_with_locals(&locals, value)?,
            ))
        })
    })
    .await
    .map_err(|e| {
        pyo3::exceptions::PyRuntimeError::new_err(format!("a Python call did not finish: {e}"))
    })??;
    match answer {
        Answer::Ready(value) => Ok(value),
        Answer::Pending(fut) => fut.await,
    }
}

/// Awaits a core future and converts its error.
pub(crate) async fn core<T>(fut: impl Future<Output = canary_core::Result<T>>) -> PyResult<T> {
    fut.await.to_py()
}
