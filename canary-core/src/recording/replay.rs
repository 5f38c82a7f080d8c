//! [`RecordedMetrics`]: a [`MetricsSource`] that answers from a [`Recording`], for a rollout run
//! again on a paused clock; and [`ReplayEnd`], how a replay's source says the replayed rollout
//! went past what it can answer.
//!
//! The replay's driver tells the source when each step's weight was set
//! ([`RecordedMetrics::step_started`], from the rollout's `weightSet` events); the source looks
//! each query up by that step and the time since ([`Recording::lookup`]). An answer recorded as
//! `unanswered` never comes (the engine's own deadline then passes, as it did). A query past the
//! recording ends the replay: [`ReplayEnd::reached`] wakes the driver, and the query never
//! answers, so the engine decides nothing on missing data (the driver drops the rollout first: on
//! a paused clock no time passes while a task is ready to run).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::read::{Lookup, Recording};
use super::{Answer, Op};
use crate::error::{Error, Result};
use crate::traits::{MetricQuery, MetricsSource, Observation};

/// Where a replay's data ends. Shared by the source, which reaches it, and the driver, which
/// waits for it.
#[derive(Debug, Default)]
pub struct ReplayEnd {
    notify: Notify,
    why: Mutex<Option<String>>,
}

impl ReplayEnd {
    /// A new one, not reached.
    pub fn new() -> Arc<ReplayEnd> {
        Arc::new(ReplayEnd::default())
    }

    /// The data ends here: `why`. The first reason is kept.
    pub fn reached(&self, why: impl Into<String>) {
        if let Ok(mut w) = self.why.lock() {
            w.get_or_insert(why.into());
        }
        self.notify.notify_one();
    }

    /// Waits until the end is reached; why.
    pub async fn wait(&self) -> String {
        loop {
            if let Some(w) = self.why.lock().ok().and_then(|w| w.clone()) {
                return w;
            }
            self.notify.notified().await;
        }
    }

    /// Why the end was reached, if it was.
    pub fn why(&self) -> Option<String> {
        self.why.lock().ok().and_then(|w| w.clone())
    }
}

/// The step the replayed rollout is in.
#[derive(Debug, Clone, Copy)]
struct Position {
    step: usize,
    occurrence: usize,
    since: Instant,
}

/// Answers from a recording (see the module docs).
#[derive(Debug)]
pub struct RecordedMetrics {
    recording: Arc<Recording>,
    end: Arc<ReplayEnd>,
    position: Mutex<Option<Position>>,
    /// How often each step's weight was set so far.
    seen: Mutex<Vec<usize>>,
}

impl RecordedMetrics {
    /// A source answering from `recording`, reaching `end` past it.
    pub fn new(recording: Arc<Recording>, end: Arc<ReplayEnd>) -> Self {
        RecordedMetrics {
            recording,
            end,
            position: Mutex::new(None),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// The replayed rollout set the weight of step `step` at `at`.
    pub fn step_started(&self, step: usize, at: Instant) {
        let occurrence = match self.seen.lock() {
            Ok(mut seen) => {
                if seen.len() <= step {
                    seen.resize(step + 1, 0);
                }
                seen[step] += 1;
                seen[step] - 1
            }
            Err(_) => 0,
        };
        if let Ok(mut p) = self.position.lock() {
            *p = Some(Position {
                step,
                occurrence,
                since: at,
            });
        }
    }

    async fn answer(&self, op: Op, query: &MetricQuery) -> Result<&Answer> {
        let Some(p) = self.position.lock().ok().and_then(|p| *p) else {
            return Err(Error::not_found(
                "recorded answer",
                "a query before any step's weight was set",
            ));
        };
        let offset = p.since.elapsed().as_millis().min(u64::MAX as u128) as u64;
        match self
            .recording
            .lookup(op, query, p.step, p.occurrence, offset)
        {
            Lookup::Answer(Answer::Unanswered) => std::future::pending().await,
            Lookup::Answer(a) => Ok(a),
            Lookup::NotRecorded(why) => Err(Error::NotFound {
                kind: "recorded answer".into(),
                name: format!(
                    "{} of {} {}",
                    query.metric.label(),
                    query.app.name,
                    query.track
                ),
                detail: Some(why),
                source: None,
            }),
            Lookup::Beyond(why) => {
                self.end.reached(why);
                std::future::pending().await
            }
        }
    }
}

#[async_trait]
impl MetricsSource for RecordedMetrics {
    async fn value(&self, query: &MetricQuery) -> Result<Observation> {
        match self.answer(Op::Value, query).await? {
            Answer::Value { value } => Ok(Observation::from_f64(*value)),
            Answer::NoData => Ok(Observation::NoData),
            Answer::Error { error } => Err(Error::from(error.clone())),
            Answer::Samples { .. } | Answer::Unanswered => {
                Err(Error::internal("a value query was recorded with samples"))
            }
        }
    }

    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>> {
        match self.answer(Op::Samples, query).await? {
            Answer::Samples { values } => Ok(values.clone()),
            Answer::Error { error } => Err(Error::from(error.clone())),
            Answer::Value { .. } | Answer::NoData | Answer::Unanswered => {
                Err(Error::internal("a samples query was recorded with a value"))
            }
        }
    }
}
