//! `Canary`: one group's spec with its backends (`canary_sdk::Canary`), every operation as an
//! asyncio awaitable returning plain data, and the group's events as an async iterator.
//!
//! A `Canary` keeps one rollout controller (the settings' lease, this process's owner id) for
//! `run`, `step` and the controls; `run` with options replaces it with one of those options, so
//! the controls always go through the controller that drives (and reach it instead of competing
//! with it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use pyo3::prelude::*;
use serde::Deserialize;
use tokio::sync::broadcast;

use canary_core::ops::{DeployOptions, DeployStep, SmokeOptions};
use canary_core::{
    Command, Error, Event, HumanDuration, LogOptions, Rollout, RolloutOptions, Track,
};
use canary_sdk::Settings;

use crate::convert::{from_py, from_py_or_default, to_py, to_py_with};
use crate::error::ToPyResult;
use crate::foreign::{callback, with_callback, PyHookRunner, PyMetricsSource};
use crate::runtime::{awaitable, spawn, stoppable, Stop};
use crate::spec::PySpec;
use crate::stream::PyStream;

/// A group connected to its backends.
#[pyclass(frozen, module = "canary_sdk._native", name = "Canary")]
pub(crate) struct PyCanary {
    pub(crate) canary: Arc<canary_sdk::Canary>,
    dir: PathBuf,
    controller: Mutex<Arc<Rollout>>,
    events: broadcast::Sender<Event>,
}

/// The options of `run` (the lease is the settings').
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct RunOptions {
    owner: Option<String>,
    poll: Option<HumanDuration>,
    takeover: bool,
    restart: bool,
    retries: Option<u32>,
}

impl RunOptions {
    /// `o` with these options on top, checked by the core (its bounds, named `options.<field>`).
    fn apply(self, mut o: RolloutOptions) -> canary_core::Result<RolloutOptions> {
        if let Some(owner) = self.owner {
            o = o.owner(owner);
        }
        if let Some(p) = self.poll {
            o = o.poll(p.get());
        }
        if let Some(n) = self.retries {
            o = o.retries(n);
        }
        let o = o.takeover(self.takeover).restart(self.restart);
        o.validate_as("options")?;
        Ok(o)
    }
}

/// A broadcast receiver of events as a stream (a reader that fell behind skips the oldest).
fn events_of(rx: broadcast::Receiver<Event>) -> BoxStream<'static, Event> {
    stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((e, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}

/// Copies `rollout`'s events into a group's stream for as long as the rollout lives.
fn feed(rollout: &Rollout, sink: &broadcast::Sender<Event>) {
    let (mut events, sink) = (events_of(rollout.subscribe()), sink.clone());
    spawn(async move {
        while let Some(e) = events.next().await {
            let _ = sink.send(e);
        }
    });
}

/// Items of an unbounded channel as a stream.
fn channel_of<T: Send + 'static>(
    rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> BoxStream<'static, T> {
    stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) }).boxed()
}

/// Serializes into the items of a [`PyStream`].
fn value<T: serde::Serialize>(v: T) -> canary_core::Result<serde_json::Value> {
    serde_json::to_value(v)
        .map_err(|e| Error::internal(format!("not serializable: {e}")).with_source(e))
}

impl PyCanary {
    pub(crate) fn new(canary: canary_sdk::Canary, dir: PathBuf) -> PyResult<Self> {
        let controller = Arc::new(canary.rollout(canary.controller()).to_py()?);
        let (events, _) = broadcast::channel(1024);
        feed(&controller, &events);
        Ok(PyCanary {
            canary: Arc::new(canary),
            dir,
            controller: Mutex::new(controller),
            events,
        })
    }

    /// The controller `run`, `step` and the controls go through.
    fn controller(&self) -> Arc<Rollout> {
        let c = self.controller.lock();
        c.map(|c| c.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Runs `op` on the controller with its events to `on_event`; `stop` drops it and hands the
    /// lease back.
    fn drive<'py, T, F>(
        &self,
        py: Python<'py>,
        on_event: Option<&Bound<'py, PyAny>>,
        stop: Option<&Bound<'py, Stop>>,
        op: impl FnOnce(Arc<Rollout>) -> F + Send + 'static,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: serde::Serialize + Send,
        F: std::future::Future<Output = canary_core::Result<T>> + Send + 'static,
    {
        let cb = callback("on_event", on_event)?;
        let stop = stop.map(|s| s.get().0.clone());
        let rollout = self.controller();
        awaitable(py, async move {
            let events = events_of(rollout.subscribe());
            let work = with_callback(cb, events, op(rollout.clone()));
            let release = async move {
                let _ = rollout.release().await;
            };
            match stoppable(stop, async { work.await.to_py() }, release).await? {
                Some(v) => to_py(&v).map(Some),
                None => Ok(None),
            }
        })
    }
}

#[pymethods]
impl PyCanary {
    /// Connects `spec`'s group: settings (a dict) over the environment's, the Swarm, Traefik and
    /// Prometheus backends; `metrics` and `hooks` written in Python replace the built-in ones.
    #[staticmethod]
    #[pyo3(signature = (spec, settings = None, metrics = None, hooks = None))]
    fn connect<'py>(
        py: Python<'py>,
        spec: PyRef<'py, PySpec>,
        settings: Option<&Bound<'py, PyAny>>,
        metrics: Option<&Bound<'py, PyAny>>,
        hooks: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let given = match settings.filter(|s| !s.is_none()) {
            Some(s) => from_py("settings", s)?,
            None => serde_json::Value::Null,
        };
        let settings = Settings::from_env().and_then(|e| e.merge(given)).to_py()?;
        let metrics = metrics.filter(|m| !m.is_none()).map(PyMetricsSource::new);
        let metrics = metrics.transpose()?;
        let hooks = hooks.filter(|h| !h.is_none()).map(PyHookRunner::new);
        let hooks = hooks.transpose()?;
        let (spec, dir) = (spec.spec.clone(), spec.dir.clone());
        awaitable(py, async move {
            let mut c = canary_sdk::Canary::connect(spec, settings)
                .await
                .to_py()?
                .with_spec_dir(&dir);
            if let Some(m) = metrics {
                c = c.with_metrics(Arc::new(m));
            }
            if let Some(h) = hooks {
                c = c.with_hooks(Arc::new(h));
            }
            PyCanary::new(c, dir)
        })
    }

    /// The spec.
    #[getter]
    fn spec(&self) -> PySpec {
        PySpec {
            spec: self.canary.spec().clone(),
            dir: self.dir.clone(),
        }
    }

    /// The settings in force.
    #[getter]
    fn settings(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py_with(py, self.canary.settings())
    }

    /// Deploys the group (network, router check, stable services, routes); each step to
    /// `on_step` as it happens.
    #[pyo3(signature = (options = None, on_step = None))]
    fn deploy<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyAny>>,
        on_step: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: DeployOptions = from_py_or_default("options", options)?;
        let cb = callback("on_step", on_step)?;
        let c = self.canary.clone();
        awaitable(py, async move {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let deploy = async move {
                let mut send = |s: &DeployStep| {
                    let _ = tx.send(s.clone());
                };
                c.deploy(&options, &mut send).await
            };
            to_py(&with_callback(cb, channel_of(rx), deploy).await.to_py()?)
        })
    }

    /// Requests each app's health path with and without the header route.
    #[pyo3(signature = (options = None))]
    fn smoke_test<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: SmokeOptions = from_py_or_default("options", options)?;
        let c = self.canary.clone();
        awaitable(
            py,
            async move { to_py(&c.smoke_test(&options).await.to_py()?) },
        )
    }

    /// Runs the rollout to its end (resumes a saved one); `None` once stopped through `stop`.
    #[pyo3(signature = (options = None, on_event = None, stop = None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyAny>>,
        on_event: Option<&Bound<'py, PyAny>>,
        stop: Option<&Bound<'py, Stop>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: RunOptions = from_py_or_default("options", options)?;
        if options != RunOptions::default() {
            let opts = options.apply(self.canary.controller()).to_py()?;
            let r = Arc::new(self.canary.rollout(opts).to_py()?);
            feed(&r, &self.events);
            let mut c = self.controller.lock().unwrap_or_else(|e| e.into_inner());
            *c = r;
        }
        self.drive(py, on_event, stop, |r| async move { r.run().await })
    }

    /// Advances one transition; the phase it left the rollout in.
    #[pyo3(signature = (on_event = None, stop = None))]
    fn step<'py>(
        &self,
        py: Python<'py>,
        on_event: Option<&Bound<'py, PyAny>>,
        stop: Option<&Bound<'py, Stop>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.drive(py, on_event, stop, |r| async move { r.step().await })
    }

    /// A manual control: `pause`, `resume`, `promote`, `promote-full` or `rollback`.
    #[pyo3(signature = (name, on_event = None, stop = None))]
    fn command<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        on_event: Option<&Bound<'py, PyAny>>,
        stop: Option<&Bound<'py, Stop>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let cmd: Command = name.parse().to_py()?;
        let by = format!("python:{}", self.canary.controller().owner);
        self.drive(py, on_event, stop, move |r| async move {
            r.command_by(cmd, &by).await
        })
    }

    /// The saved state, the split in force and the services.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.canary.clone();
        awaitable(py, async move { to_py(&c.status().await.to_py()?) })
    }

    /// Traefik's service name of every app's tracks.
    fn backends(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py_with(py, &self.canary.backends().to_py()?)
    }

    /// The log lines of `track`'s services (one app or all), as they come.
    #[pyo3(signature = (track, app = None, follow = false, tail = None, since = None))]
    fn logs(
        &self,
        track: &str,
        app: Option<String>,
        follow: bool,
        tail: Option<u64>,
        since: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyStream> {
        let track: Track = track.parse().to_py()?;
        let since: Option<HumanDuration> = from_py_or_default("since", since)?;
        let options = LogOptions::default()
            .follow(follow)
            .tail(tail)
            .since_secs(since.map(|d| d.get().as_secs()));
        let c = self.canary.clone();
        let lines = stream::once(async move { c.logs(track, app.as_deref(), &options).await });
        Ok(PyStream::new(
            lines.try_flatten().map(|l| value(l?)).boxed(),
        ))
    }

    /// Builds `track`'s image of each app with a build section (one app, or all).
    #[pyo3(signature = (track, app = None, args = None))]
    fn build(
        &self,
        track: &str,
        app: Option<String>,
        args: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyStream> {
        let track: Track = track.parse().to_py()?;
        let args: BTreeMap<String, String> = from_py_or_default("args", args)?;
        let c = self.canary.clone();
        let events = stream::once(async move { c.build(track, app.as_deref(), &args).await });
        Ok(PyStream::new(
            events
                .try_flatten()
                .map(|e| {
                    let (app, event) = e?;
                    let mut v = value(event)?;
                    if let Some(m) = v.as_object_mut() {
                        m.insert("app".into(), app.into());
                    }
                    Ok(v)
                })
                .boxed(),
        ))
    }

    /// Pushes `track`'s image of each app with a build section (one app, or all) to the registry
    /// its name says, with the credentials of the Docker CLI's config; the registry's digests.
    #[pyo3(signature = (track, app = None))]
    fn push<'py>(
        &self,
        py: Python<'py>,
        track: &str,
        app: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let track: Track = track.parse().to_py()?;
        let c = self.canary.clone();
        awaitable(py, async move {
            to_py(&c.push(track, app.as_deref()).await.to_py()?)
        })
    }

    /// The group's events from now on, from every call on this object; it ends after the event
    /// that leaves the rollout promoted, rolled back or failed.
    fn events(&self) -> PyStream {
        let events = events_of(self.events.subscribe());
        let ended = stream::unfold((events, false), |(mut events, done)| async move {
            let e = if done { None } else { events.next().await }?;
            let end = e.phase.is_terminal();
            Some((value(&e), (events, end)))
        });
        PyStream::new(ended.boxed())
    }

    fn __repr__(&self) -> String {
        format!("Canary(group={:?})", self.canary.spec().group.as_str())
    }
}
