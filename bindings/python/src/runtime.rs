//! How Rust futures meet asyncio, and how the runtime's threads stay out of a dying interpreter.
//!
//! Every native call that waits on the world returns an asyncio future of the caller's running
//! loop ([`awaitable`]); cancelling it drops the Rust future. The blocking API is Python's own
//! (`canary_sdk/_sync.py`): the same futures on a private loop.
//!
//! Python code the engine calls back (a metrics source, a hook, an event callback) never runs on
//! the runtime's threads: a plain function runs on a blocking thread, a coroutine on the loop of
//! the call that started the work (remembered in the task-local [`CALLER_LOOP`]).
//!
//! A thread of ours inside Python when the interpreter finalizes is killed by CPython with
//! `pthread_exit` as soon as it waits for the interpreter again (completing a future writes to the
//! loop's wake-up socket, which lets go of it), and that forced unwind through Rust frames crashes
//! the process. So every entry of our threads into Python goes through [`attach`], which counts
//! them, and at exit (`atexit`) [`shutdown`] closes the door and waits for those inside.
//!
//! [`Stop`] is how the Python layer stops a rollout call *and waits for it*: the call drops its
//! work, hands the lease back, then ends (an asyncio cancellation cannot wait for that).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::future::{select, Either};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyTuple};
use pyo3::IntoPyObjectExt;
use tokio::sync::{oneshot, watch};

tokio::task_local! {
    /// The asyncio loop of the Python call that started the current Rust future.
    static CALLER_LOOP: Arc<Py<PyAny>>;
}

static INSIDE: AtomicUsize = AtomicUsize::new(0);
static CLOSED: AtomicBool = AtomicBool::new(false);

/// The process-wide Tokio runtime.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("canary-sdk")
            .build()
            .expect("a Tokio runtime")
    })
}

/// Runs `f` in Python from one of the runtime's threads, unless the interpreter is exiting.
pub(crate) fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> PyResult<R>) -> PyResult<R> {
    struct Inside;
    impl Drop for Inside {
        fn drop(&mut self) {
            INSIDE.fetch_sub(1, SeqCst);
        }
    }
    INSIDE.fetch_add(1, SeqCst);
    let _inside = Inside;
    if CLOSED.load(SeqCst) {
        return Err(PyRuntimeError::new_err("the interpreter is exiting"));
    }
    Python::attach(f)
}

/// At exit: no more entries into Python from our threads; waits (at most 2 s) for those inside.
#[pyfunction]
pub(crate) fn shutdown(py: Python<'_>) {
    CLOSED.store(true, SeqCst);
    let until = Instant::now() + Duration::from_secs(2);
    py.detach(|| {
        while INSIDE.load(SeqCst) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Sets a future's result (`ok`) or exception, unless it was cancelled meanwhile; runs on the
/// future's loop.
fn complete(args: &Bound<'_, PyTuple>) -> PyResult<()> {
    let (fut, ok, value): (Bound<'_, PyAny>, bool, Bound<'_, PyAny>) = args.extract()?;
    if !fut.call_method0("done")?.is_truthy()? {
        let method = if ok { "set_result" } else { "set_exception" };
        fut.call_method1(method, (value,))?;
    }
    Ok(())
}

static COMPLETE: PyOnceLock<Py<PyCFunction>> = PyOnceLock::new();

/// `fut` as a future of the running loop (a `RuntimeError` without one).
pub(crate) fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let py_fut = event_loop.call_method0("create_future")?;
    let (cancel, cancelled) = oneshot::channel::<()>();
    let cancel = Mutex::new(Some(cancel));
    let on_done = PyCFunction::new_closure(py, None, None, move |args, _| -> PyResult<()> {
        if args.get_item(0)?.call_method0("cancelled")?.is_truthy()? {
            if let Some(tx) = cancel.lock().ok().and_then(|mut c| c.take()) {
                let _ = tx.send(());
            }
        }
        Ok(())
    })?;
    py_fut.call_method1("add_done_callback", (on_done,))?;
    let complete = COMPLETE.get_or_try_init(py, || {
        PyCFunction::new_closure(py, None, None, |a, _| complete(a)).map(Bound::unbind)
    })?;
    let (target, lp) = (py_fut.clone().unbind(), Arc::new(event_loop.unbind()));
    let complete = complete.clone_ref(py);
    let work = CALLER_LOOP.scope(lp.clone(), fut);
    runtime().spawn(async move {
        let result = match select(Box::pin(work), cancelled).await {
            Either::Left((r, _)) => r,
            Either::Right(_) => return, // cancelled from Python: dropped
        };
        let _ = tokio::task::spawn_blocking(move || {
            attach(|py| {
                let (ok, value) = match result.and_then(|v| v.into_py_any(py)) {
                    Ok(v) => (true, v),
                    Err(e) => (false, e.into_value(py).into_any()),
                };
                let args = (complete, target, ok, value);
                lp.bind(py).call_method1("call_soon_threadsafe", args)?;
                Ok(())
            })
        })
        .await;
    });
    Ok(py_fut)
}

/// Spawns `fut` on the runtime with the current caller loop, for work a call hands off.
pub(crate) fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match CALLER_LOOP.try_with(Clone::clone) {
        Ok(lp) => runtime().spawn(CALLER_LOOP.scope(lp, fut)),
        Err(_) => runtime().spawn(fut),
    }
}

static ISAWAITABLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Calls `f` (which calls into Python) on a blocking thread, so a slow Python function never
/// stalls the runtime; an awaitable it returns is awaited as a task of the caller's loop.
pub(crate) async fn call_python<F>(f: F) -> PyResult<Py<PyAny>>
where
    F: for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>> + Send + 'static,
{
    let caller = CALLER_LOOP.try_with(Clone::clone).ok();
    let pending = tokio::task::spawn_blocking(move || {
        attach(|py| -> PyResult<Either<Py<PyAny>, _>> {
            let value = f(py)?;
            let isawaitable = ISAWAITABLE.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
                Ok(py.import("inspect")?.getattr("isawaitable")?.unbind())
            })?;
            if !isawaitable.bind(py).call1((&value,))?.is_truthy()? {
                return Ok(Either::Left(value.unbind()));
            }
            let lp = caller.ok_or_else(|| PyRuntimeError::new_err("no loop to await on"))?;
            let (tx, rx) = oneshot::channel::<PyResult<Py<PyAny>>>();
            let tx = Mutex::new(Some(tx));
            let done = PyCFunction::new_closure(py, None, None, move |args, _| -> PyResult<()> {
                let r = args.get_item(0)?.call_method0("result").map(Bound::unbind);
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send(r);
                }
                Ok(())
            })?;
            let start = PyCFunction::new_closure(py, None, None, |args, _| -> PyResult<()> {
                let (aw, done): (Bound<'_, PyAny>, Bound<'_, PyAny>) = args.extract()?;
                let task = aw
                    .py()
                    .import("asyncio")?
                    .call_method1("ensure_future", (aw,))?;
                task.call_method1("add_done_callback", (done,))?;
                Ok(())
            })?;
            lp.bind(py)
                .call_method1("call_soon_threadsafe", (start, value, done))?;
            Ok(Either::Right(rx))
        })
    })
    .await
    .map_err(|e| PyRuntimeError::new_err(format!("a Python call did not finish: {e}")))??;
    match pending {
        Either::Left(value) => Ok(value),
        Either::Right(rx) => rx
            .await
            .map_err(|_| PyRuntimeError::new_err("the coroutine's loop went away"))?,
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
