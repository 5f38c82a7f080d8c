//! [`Recorder`]: writes a recording (see the [format](super)) while a rollout runs: every metrics
//! query with its answer (through [`Recorder::metrics`], a decorator of any
//! [`MetricsSource`]), every event ([`Recorder::follow`]), then an `end` line
//! ([`Recorder::finish`]).
//!
//! Each line is flushed as it is written, so a run killed at any moment leaves a recording that
//! reads back up to its last line. A query the analysis stopped waiting for (its call deadline)
//! is recorded as `unanswered`, so a replay waits the same deadline and times out with the
//! engine's own words. The recording stops (and says why in [`Recorder::finish`]) when a write
//! fails or the file would pass [`MAX_BYTES`](super::MAX_BYTES); the rollout goes on either way.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{Answer, Entry, Header, Op, RecordedError, FORMAT, MAX_BYTES, VERSION};
use crate::error::{Error, Result};
use crate::model::Event;
use crate::spec::Spec;
use crate::state::now_ms;
use crate::traits::{MetricQuery, MetricsSource, Observation};

/// Room kept for the `end` line when the size limit nears.
const END_ROOM: usize = 256;

struct Sink {
    out: Option<Box<dyn Write + Send>>,
    written: usize,
    error: Option<String>,
    ended: bool,
}

/// Writes one recording. Share it behind an `Arc`.
pub struct Recorder {
    sink: Mutex<Sink>,
    start: Instant,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Creates (or truncates) the file at `path` and writes the header of `spec`'s recording.
    pub fn create(path: impl AsRef<Path>, spec: &Spec) -> Result<Arc<Recorder>> {
        let path = path.as_ref();
        let file = std::fs::File::create(path).map_err(|e| {
            Error::invalid("record", format!("cannot create {}: {e}", path.display()))
                .with_source(e)
        })?;
        Recorder::to_writer(Box::new(file), spec)
    }

    /// A recorder writing to `out`, its header written.
    pub fn to_writer(out: Box<dyn Write + Send>, spec: &Spec) -> Result<Arc<Recorder>> {
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            group: spec.group.to_string(),
            started_ms: now_ms(),
            spec: redacted(spec)?,
        };
        let r = Arc::new(Recorder {
            sink: Mutex::new(Sink {
                out: Some(out),
                written: 0,
                error: None,
                ended: false,
            }),
            start: Instant::now(),
        });
        r.write(&header);
        match r.error() {
            Some(e) => Err(Error::invalid("record", e)),
            None => Ok(r),
        }
    }

    /// ms since the recording started.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_millis().min(u64::MAX as u128) as u64
    }

    /// `inner`, every query and answer of which is recorded.
    pub fn metrics(self: &Arc<Self>, inner: Arc<dyn MetricsSource>) -> Arc<dyn MetricsSource> {
        Arc::new(RecordingMetrics {
            inner,
            recorder: self.clone(),
        })
    }

    /// Records an event.
    pub fn event(&self, event: &Event) {
        self.write(&Entry::Event {
            t: self.now(),
            event: Box::new(event.clone()),
        });
    }

    /// Records every event `events` brings, until [`Following::stop`] (which records the
    /// events already sent first) or the rollout is gone.
    pub fn follow(self: &Arc<Self>, mut events: broadcast::Receiver<Event>) -> Following {
        let me = self.clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    ev = events.recv() => match ev {
                        Ok(e) => me.event(&e),
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            me.fail(format!("{n} events were missed (the recorder fell behind)"))
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = &mut stopped => {
                        while let Ok(e) = events.try_recv() {
                            me.event(&e);
                        }
                        return;
                    }
                }
            }
        });
        Following {
            stop: Some(stop),
            task,
        }
    }

    /// Writes the `end` line and flushes; what went wrong on the way, if anything (the
    /// recording is then cut where it went wrong).
    pub fn finish(&self) -> Result<()> {
        let t = self.now();
        {
            let mut sink = self.sink.lock().map_err(|_| poisoned())?;
            if sink.ended {
                return self.result();
            }
            sink.ended = true;
        }
        self.write_anyway(&Entry::End { t });
        if let Ok(mut sink) = self.sink.lock() {
            if let Some(out) = sink.out.as_mut() {
                if let Err(e) = out.flush() {
                    sink.error.get_or_insert(format!("flush: {e}"));
                }
            }
            sink.out = None;
        }
        self.result()
    }

    /// Why the recording stopped early, if it did.
    pub fn error(&self) -> Option<String> {
        self.sink.lock().ok().and_then(|s| s.error.clone())
    }

    fn result(&self) -> Result<()> {
        match self.error() {
            Some(e) => Err(Error::unavailable(format!(
                "the recording is incomplete: {e}"
            ))),
            None => Ok(()),
        }
    }

    fn fail(&self, why: String) {
        if let Ok(mut sink) = self.sink.lock() {
            sink.error.get_or_insert(why);
            sink.out = None;
        }
    }

    fn query(&self, t: u64, op: Op, query: &MetricQuery, answer: Answer) {
        self.write(&Entry::Query {
            t,
            op,
            query: Box::new(query.clone()),
            answer,
        });
    }

    fn write<T: serde::Serialize>(&self, item: &T) {
        if self.sink.lock().map(|s| s.ended).unwrap_or(true) {
            return;
        }
        self.write_line(item, END_ROOM);
    }

    fn write_anyway<T: serde::Serialize>(&self, item: &T) {
        self.write_line(item, 0);
    }

    fn write_line<T: serde::Serialize>(&self, item: &T, room: usize) {
        let mut line = match serde_json::to_vec(item) {
            Ok(l) => l,
            Err(e) => return self.fail(format!("an entry does not serialize: {e}")),
        };
        line.push(b'\n');
        let Ok(mut sink) = self.sink.lock() else {
            return;
        };
        if sink.written + line.len() + room > MAX_BYTES {
            sink.error
                .get_or_insert(format!("stopped at the size limit of {MAX_BYTES} bytes"));
            if room > 0 {
                return;
            }
        }
        let Some(out) = sink.out.as_mut() else {
            return;
        };
        let r = out.write_all(&line).and_then(|_| out.flush());
        match r {
            Ok(()) => sink.written += line.len(),
            Err(e) => {
                sink.error.get_or_insert(format!("write: {e}"));
                sink.out = None;
            }
        }
    }
}

/// What stands in for a secret in a recording.
pub const REDACTED: &str = "(redacted)";

/// `spec` as a recording keeps it: the canary's environment values, hook URLs and hook metadata
/// values (where credentials live) replaced, since a replay calls no hook and starts no
/// container.
fn redacted(spec: &Spec) -> Result<serde_json::Value> {
    use serde_json::Value;
    let mut tree = serde_json::to_value(spec)
        .map_err(|e| Error::internal(format!("the spec does not serialize: {e}")).with_source(e))?;
    let hide = |v: Option<&mut Value>| {
        if let Some(Value::Object(m)) = v {
            m.values_mut().for_each(|v| *v = Value::from(REDACTED));
        }
    };
    if let Some(Value::Array(apps)) = tree.get_mut("apps") {
        for app in apps {
            hide(app.get_mut("canaryEnv"));
        }
    }
    if let Some(Value::Object(hooks)) = tree.get_mut("hooks") {
        for list in hooks.values_mut() {
            for hook in list.as_array_mut().into_iter().flatten() {
                if let Some(url) = hook.get_mut("url") {
                    *url = Value::from("http://redacted.invalid/");
                }
                hide(hook.get_mut("metadata"));
            }
        }
    }
    Ok(tree)
}

/// The task [`Recorder::follow`] started.
#[derive(Debug)]
pub struct Following {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Following {
    /// Records the events already sent, then stops.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.task.abort();
        }
    }
}

fn poisoned() -> Error {
    Error::internal("the recorder's lock was poisoned")
}

/// The decorator [`Recorder::metrics`] gives.
#[derive(Debug)]
struct RecordingMetrics {
    inner: Arc<dyn MetricsSource>,
    recorder: Arc<Recorder>,
}

/// Records `unanswered` if dropped before the answer came (the caller's deadline passed).
struct Asked<'a> {
    recorder: &'a Recorder,
    t: u64,
    op: Op,
    query: &'a MetricQuery,
    answered: bool,
}

impl Asked<'_> {
    fn answer(mut self, answer: Answer) {
        self.answered = true;
        self.recorder.query(self.t, self.op, self.query, answer);
    }
}

impl Drop for Asked<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.recorder
                .query(self.t, self.op, self.query, Answer::Unanswered);
        }
    }
}

#[async_trait]
impl MetricsSource for RecordingMetrics {
    async fn value(&self, query: &MetricQuery) -> Result<Observation> {
        let asked = Asked {
            recorder: &self.recorder,
            t: self.recorder.now(),
            op: Op::Value,
            query,
            answered: false,
        };
        let r = self.inner.value(query).await;
        asked.answer(match &r {
            Ok(o) => match o.value() {
                Some(value) => Answer::Value { value },
                None => Answer::NoData,
            },
            Err(e) => Answer::Error {
                error: RecordedError::from(e),
            },
        });
        r
    }

    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>> {
        let asked = Asked {
            recorder: &self.recorder,
            t: self.recorder.now(),
            op: Op::Samples,
            query,
            answered: false,
        };
        let r = self.inner.samples(query).await;
        asked.answer(match &r {
            Ok(v) => Answer::Samples {
                values: v.iter().copied().filter(|x| x.is_finite()).collect(),
            },
            Err(e) => Answer::Error {
                error: RecordedError::from(e),
            },
        });
        r
    }
}
