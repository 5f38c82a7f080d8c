//! `Rollout`: the core's rollout engine over the implementations the caller picked, and its
//! events as an iterator (sync and async) or a callback.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration, PyTypeError};
use pyo3::prelude::*;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, Mutex, Notify};

use canary_core::{Command, Deps, Event, HookRunner, MetricsSource, Rollout, RolloutOptions};

use crate::convert::opt_duration;
use crate::foreign::{PyHookRunner, PyMetricsSource};
use crate::runtime::{awaitable, block_on, call_python, core, current_loop, runtime, with_loop};
use crate::spec::PySpec;
use crate::swarm::{default_store_of, orchestrator_of, store_of};
use crate::traefik::{builtin_metrics_of, router_of, webhooks_of};
use crate::types::{pyq, wire, PyCommandOutcome, PyEvent, PyOutcome, PyStatus};

/// A canary rollout of one group.
#[pyclass(frozen, module = "canary_sdk._native", name = "Rollout")]
pub(crate) struct PyRollout {
    pub(crate) inner: Arc<Rollout>,
    owner: String,
}

fn type_error(what: &str, expected: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    let name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    PyTypeError::new_err(format!("{what} must be {expected}, not {name}"))
}

fn metrics_of(obj: &Bound<'_, PyAny>) -> PyResult<Arc<dyn MetricsSource>> {
    match builtin_metrics_of(obj) {
        Some(m) => Ok(m),
        None => Ok(Arc::new(PyMetricsSource::new(obj)?)),
    }
}

fn hooks_of(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Arc<dyn HookRunner>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Arc::new(
            canary_traefik::WebhookRunner::new().map_err(crate::error::to_py_err)?,
        ));
    };
    match webhooks_of(obj) {
        Some(w) => Ok(w),
        None => Ok(Arc::new(PyHookRunner::new(obj)?)),
    }
}

/// A callback given as `on_event`, if any.
type Callback = Option<Arc<Py<PyAny>>>;

fn callback(on_event: Option<&Bound<'_, PyAny>>) -> PyResult<Callback> {
    match on_event.filter(|o| !o.is_none()) {
        None => Ok(None),
        Some(f) if f.is_callable() => Ok(Some(Arc::new(f.clone().unbind()))),
        Some(f) => Err(type_error("on_event", "a function of one event", f)),
    }
}

/// Hands one event to the callback; what it raises is reported, not acted on.
async fn deliver(cb: &Arc<Py<PyAny>>, ev: Event) {
    let f = cb.clone();
    if let Err(e) = call_python(move |py| f.bind(py).call1((PyEvent(ev),))).await {
        Python::attach(|py| e.write_unraisable(py, Some(cb.bind(py))));
    }
}

/// Runs `fut` while the events it causes go to `cb` in order, all of them before it returns.
async fn with_events<T>(
    rollout: &Arc<Rollout>,
    cb: Callback,
    fut: impl Future<Output = PyResult<T>>,
) -> PyResult<T> {
    let Some(cb) = cb else { return fut.await };
    let mut rx = rollout.subscribe();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let forward = runtime().spawn(with_loop(current_loop(), async move {
        loop {
            tokio::select! {
                biased;
                ev = rx.recv() => match ev {
                    Ok(ev) => deliver(&cb, ev).await,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                },
                done = &mut stopped => {
                    // A cancelled call (Ctrl-C dropped it) gets no more events: a later call on
                    // the same rollout must not reach this callback.
                    if done.is_err() {
                        return;
                    }
                    loop {
                        match rx.try_recv() {
                            Ok(ev) => deliver(&cb, ev).await,
                            Err(TryRecvError::Lagged(_)) => continue,
                            Err(_) => return,
                        }
                    }
                }
            }
        }
    }));
    let r = fut.await;
    let _ = stop.send(());
    let _ = forward.await;
    r
}

fn command_of(name: &str, full: bool) -> Command {
    match name {
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "abort" => Command::Abort,
        _ if full => Command::PromoteFull,
        _ => Command::Promote,
    }
}

impl PyRollout {
    fn run_fut(&self, cb: Callback) -> impl Future<Output = PyResult<PyOutcome>> + Send + 'static {
        let r = self.inner.clone();
        async move { with_events(&r, cb, core(r.run())).await.map(PyOutcome) }
    }
    fn step_fut(&self, cb: Callback) -> impl Future<Output = PyResult<String>> + Send + 'static {
        let r = self.inner.clone();
        async move { with_events(&r, cb, core(r.step())).await.map(|p| wire(&p)) }
    }
    fn command_fut(
        &self,
        cmd: Command,
        cb: Callback,
    ) -> impl Future<Output = PyResult<PyCommandOutcome>> + Send + 'static {
        let r = self.inner.clone();
        async move {
            with_events(&r, cb, core(r.command(cmd)))
                .await
                .map(PyCommandOutcome)
        }
    }
    fn status_fut(&self) -> impl Future<Output = PyResult<PyStatus>> + Send + 'static {
        let r = self.inner.clone();
        async move { core(r.status()).await.map(PyStatus) }
    }
}

#[pymethods]
impl PyRollout {
    /// A rollout of `spec` through the given implementations. `store` defaults to the Swarm
    /// orchestrator's own state store; `hooks` to HTTP webhooks.
    #[new]
    #[pyo3(signature = (spec, *, orchestrator, router, metrics, store = None, hooks = None, owner = None, lease = None, poll = None, takeover = false, restart = false, retries = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        spec: PyRef<'_, PySpec>,
        orchestrator: &Bound<'_, PyAny>,
        router: &Bound<'_, PyAny>,
        metrics: &Bound<'_, PyAny>,
        store: Option<&Bound<'_, PyAny>>,
        hooks: Option<&Bound<'_, PyAny>>,
        owner: Option<String>,
        lease: Option<&Bound<'_, PyAny>>,
        poll: Option<&Bound<'_, PyAny>>,
        takeover: bool,
        restart: bool,
        retries: Option<u32>,
    ) -> PyResult<Self> {
        let orch = orchestrator_of(orchestrator).ok_or_else(|| {
            type_error(
                "orchestrator",
                "a SwarmOrchestrator (or canary_sdk.testing.FakeOrchestrator)",
                orchestrator,
            )
        })?;
        let router_impl = router_of(router).ok_or_else(|| {
            type_error(
                "router",
                "a TraefikRouter (or canary_sdk.testing.FakeRouter)",
                router,
            )
        })?;
        let store_impl = match store.filter(|s| !s.is_none()) {
            Some(s) => store_of(s)
                .ok_or_else(|| type_error("store", "a SwarmStateStore or a MemoryStateStore", s))?,
            None => default_store_of(orchestrator).ok_or_else(|| {
                PyTypeError::new_err(
                    "store is required unless the orchestrator is a SwarmOrchestrator",
                )
            })?,
        };
        let mut opts = RolloutOptions::default()
            .takeover(takeover)
            .restart(restart);
        if let Some(o) = owner {
            if o.trim().is_empty() {
                return Err(crate::error::invalid("owner", "cannot be empty"));
            }
            opts = opts.owner(o);
        }
        if let Some(l) = opt_duration("lease", lease)? {
            opts = opts.lease(l);
        }
        if let Some(p) = opt_duration("poll", poll)? {
            opts = opts.poll(p);
        }
        if let Some(n) = retries {
            opts = opts.retries(n);
        }
        let owner = opts.owner.clone();
        let deps = Deps {
            orchestrator: orch,
            router: router_impl,
            metrics: metrics_of(metrics)?,
            store: store_impl,
            hooks: hooks_of(hooks)?,
        };
        Ok(PyRollout {
            inner: Arc::new(
                Rollout::new(spec.0.clone(), deps, opts).map_err(crate::error::to_py_err)?,
            ),
            owner,
        })
    }

    /// The spec.
    #[getter]
    fn spec(&self) -> PySpec {
        PySpec(self.inner.spec().clone())
    }

    /// This controller's id (`host/pid` unless given).
    #[getter]
    fn owner(&self) -> String {
        self.owner.clone()
    }

    /// Runs the rollout to its end (promoted or rolled back); resumes a saved one. Ctrl-C stops
    /// it with its state saved: `run` again resumes it.
    #[pyo3(signature = (*, on_event = None))]
    fn run(&self, py: Python<'_>, on_event: Option<&Bound<'_, PyAny>>) -> PyResult<PyOutcome> {
        block_on(py, self.run_fut(callback(on_event)?))
    }
    /// `run` as an awaitable; cancelling it stops the rollout with its state saved.
    #[pyo3(signature = (*, on_event = None))]
    fn run_async<'py>(
        &self,
        py: Python<'py>,
        on_event: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.run_fut(callback(on_event)?))
    }

    /// Advances one transition; returns the phase it left the rollout in.
    #[pyo3(signature = (*, on_event = None))]
    fn step(&self, py: Python<'_>, on_event: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        block_on(py, self.step_fut(callback(on_event)?))
    }
    /// `step` as an awaitable.
    #[pyo3(signature = (*, on_event = None))]
    fn step_async<'py>(
        &self,
        py: Python<'py>,
        on_event: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.step_fut(callback(on_event)?))
    }

    /// Holds the rollout at its step (through the live controller, if one drives it).
    #[pyo3(signature = (*, on_event = None))]
    fn pause(
        &self,
        py: Python<'_>,
        on_event: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyCommandOutcome> {
        block_on(
            py,
            self.command_fut(command_of("pause", false), callback(on_event)?),
        )
    }
    /// `pause` as an awaitable.
    #[pyo3(signature = (*, on_event = None))]
    fn pause_async<'py>(
        &self,
        py: Python<'py>,
        on_event: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.command_fut(command_of("pause", false), callback(on_event)?),
        )
    }

    /// Continues a paused rollout.
    #[pyo3(signature = (*, on_event = None))]
    fn resume(
        &self,
        py: Python<'_>,
        on_event: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyCommandOutcome> {
        block_on(
            py,
            self.command_fut(command_of("resume", false), callback(on_event)?),
        )
    }
    /// `resume` as an awaitable.
    #[pyo3(signature = (*, on_event = None))]
    fn resume_async<'py>(
        &self,
        py: Python<'py>,
        on_event: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.command_fut(command_of("resume", false), callback(on_event)?),
        )
    }

    /// Goes to the next step now (promotes after the last); `full=True` promotes now.
    #[pyo3(signature = (full = false, *, on_event = None))]
    fn promote(
        &self,
        py: Python<'_>,
        full: bool,
        on_event: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyCommandOutcome> {
        block_on(
            py,
            self.command_fut(command_of("promote", full), callback(on_event)?),
        )
    }
    /// `promote` as an awaitable.
    #[pyo3(signature = (full = false, *, on_event = None))]
    fn promote_async<'py>(
        &self,
        py: Python<'py>,
        full: bool,
        on_event: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.command_fut(command_of("promote", full), callback(on_event)?),
        )
    }

    /// Rolls the canary back now.
    #[pyo3(signature = (*, on_event = None))]
    fn abort(
        &self,
        py: Python<'_>,
        on_event: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyCommandOutcome> {
        block_on(
            py,
            self.command_fut(command_of("abort", false), callback(on_event)?),
        )
    }
    /// `abort` as an awaitable.
    #[pyo3(signature = (*, on_event = None))]
    fn abort_async<'py>(
        &self,
        py: Python<'py>,
        on_event: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.command_fut(command_of("abort", false), callback(on_event)?),
        )
    }

    /// The saved state, the split in force and the services.
    fn status(&self, py: Python<'_>) -> PyResult<PyStatus> {
        block_on(py, self.status_fut())
    }
    /// `status` as an awaitable.
    fn status_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.status_fut())
    }

    /// The events from now on, as an iterator (`for`, blocking) and an async iterator
    /// (`async for`); it ends after the event that leaves the rollout promoted, rolled back or
    /// failed.
    fn events(&self) -> PyEventStream {
        PyEventStream {
            rx: Arc::new(Mutex::new(self.inner.subscribe())),
            done: Arc::new(AtomicBool::new(false)),
            closed: Arc::new(Notify::new()),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Rollout(group={}, owner={})",
            pyq(self.inner.spec().group.as_str()),
            pyq(&self.owner)
        )
    }
}

/// A rollout's events; slow readers that fall more than 1024 events behind skip the oldest.
#[pyclass(frozen, module = "canary_sdk._native", name = "EventStream")]
pub(crate) struct PyEventStream {
    rx: Arc<Mutex<broadcast::Receiver<Event>>>,
    done: Arc<AtomicBool>,
    closed: Arc<Notify>,
}

/// The next event, or None at the end.
async fn next_event(
    rx: Arc<Mutex<broadcast::Receiver<Event>>>,
    done: Arc<AtomicBool>,
    closed: Arc<Notify>,
) -> Option<Event> {
    let closing = closed.notified();
    tokio::pin!(closing);
    closing.as_mut().enable();
    if done.load(Ordering::SeqCst) {
        return None;
    }
    let mut rx = rx.lock().await;
    loop {
        let next = tokio::select! {
            r = rx.recv() => r,
            _ = &mut closing => return None,
        };
        match next {
            Ok(ev) => {
                if ev.phase.is_terminal() {
                    done.store(true, Ordering::SeqCst);
                }
                return Some(ev);
            }
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => {
                done.store(true, Ordering::SeqCst);
                return None;
            }
        }
    }
}

#[pymethods]
impl PyEventStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __next__(&self, py: Python<'_>) -> PyResult<PyEvent> {
        let (rx, done, closed) = (self.rx.clone(), self.done.clone(), self.closed.clone());
        match block_on(py, async move { Ok(next_event(rx, done, closed).await) })? {
            Some(ev) => Ok(PyEvent(ev)),
            None => Err(PyStopIteration::new_err(())),
        }
    }
    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (rx, done, closed) = (self.rx.clone(), self.done.clone(), self.closed.clone());
        awaitable(py, async move {
            match next_event(rx, done, closed).await {
                Some(ev) => Ok(PyEvent(ev)),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }
    /// Ends the stream, also for a reader waiting in another thread or task.
    fn close(&self) {
        self.done.store(true, Ordering::SeqCst);
        self.closed.notify_waiters();
    }
}
