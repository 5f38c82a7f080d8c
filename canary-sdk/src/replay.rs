//! [`replay`]: the rollout engine run again on recorded metrics, on a paused clock, saying every
//! decision it makes with its figures and when it would have rolled back or promoted. The CLI's
//! `canary replay`, Python's `canary_sdk.replay` and Node's `replay` are this one call.
//!
//! **Where the metrics come from** ([`ReplayOptions`]):
//! - a recording `canary run --record FILE` wrote ([`canary_core::recording`]): each query gets
//!   the answer recorded at the same point of the same step. The spec is the recording's own
//!   unless one is given; overrides (`--set analysis.checks[0].min=0.5`) make a what-if. A
//!   recorded run replayed as it was makes the same decisions; this module says where they
//!   differ ([`ReplayReport::differences`]);
//! - a Prometheus range: each query is asked of Prometheus as of the replayed moment (`time` =
//!   `from` + the replayed time), so any spec can be tried on a past span. The span must hold
//!   the canary's and stable's series under the spec's names.
//!
//! **The replayed world.** Services, routes and the state live in memory
//! ([`canary_core::memory`]): every canary starts at once, routes apply at once, and no hook is
//! called (each says yes). The engine's clock is paused: waiting a step's interval takes no real
//! time, and a Prometheus query (made on a runtime of its own while the replay's one thread
//! waits) takes no replayed time, so the engine asks at exactly the moments its schedule says.
//! Times in the report are counted from the moment the canary first got traffic (its first
//! `weightSet`).
//!
//! **When it stops**: the rollout promoted or rolled back; it paused (a replay resumes nothing);
//! the metrics ran out (past the recording or the range: the decision is then "none yet"); or an
//! hour of replayed time passed beyond the recording.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use canary_core::memory::{MemoryOrchestrator, MemoryRouter};
use canary_core::recording::{RecordedMetrics, Recording, ReplayEnd};
use canary_core::spec::overrides::Override;
use canary_core::traits::{HookContext, HookOutcome, HookRunner};
use canary_core::{
    Deps, Error, Event, EventKind, MemoryStateStore, MetricQuery, MetricsSource, Observation,
    Phase, Result, Rollout, RolloutOptions, Spec,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// What to replay and how. Built from [`ReplayOptions::default`] with the chained setters (or
/// read from a map with the camelCase names, as the bindings do):
///
/// ```
/// use canary_core::spec::overrides::Override;
/// use canary_sdk::replay::{PrometheusRange, ReplayOptions};
///
/// let from_file = ReplayOptions::default()
///     .recording("run.canary.jsonl")
///     .overrides(vec![Override::set("analysis.checks[0].min", 0.5)]);
/// assert!(from_file.recording.is_some() && from_file.prometheus.is_none());
///
/// let range = PrometheusRange::new("http://127.0.0.1:39090", "2026-11-30T20:53:02Z", "1764536000");
/// let from_prometheus = ReplayOptions::default().prometheus(range);
/// assert_eq!(from_prometheus.prometheus.unwrap().scrape_interval, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ReplayOptions {
    /// A recording written by `canary run --record`.
    pub recording: Option<PathBuf>,
    /// Or a past time span of Prometheus.
    pub prometheus: Option<PrometheusRange>,
    /// Overrides on the spec (a what-if): `{"path": "analysis.checks[0].min", "value": 0.5}`.
    pub overrides: Vec<Override>,
}

impl ReplayOptions {
    /// Replays the recording at `path` (written by `canary run --record`).
    #[must_use]
    pub fn recording(mut self, path: impl Into<PathBuf>) -> Self {
        self.recording = Some(path.into());
        self
    }
    /// Replays a past time span of a Prometheus.
    #[must_use]
    pub fn prometheus(mut self, range: PrometheusRange) -> Self {
        self.prometheus = Some(range);
        self
    }
    /// Sets the overrides on the spec (a what-if).
    #[must_use]
    pub fn overrides(mut self, overrides: Vec<Override>) -> Self {
        self.overrides = overrides;
        self
    }
}

/// A past time span of a Prometheus: [`PrometheusRange::new`], with
/// [`PrometheusRange::scrape_interval`] when Prometheus did not scrape every second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct PrometheusRange {
    /// Its URL, e.g. `http://127.0.0.1:39090`.
    pub url: String,
    /// When the canary got traffic: RFC 3339 in UTC (`2026-11-30T20:53:02Z`) or Unix seconds.
    pub from: String,
    /// The end of the span (same forms); the replay stops there.
    pub to: String,
    /// How often Prometheus scraped Traefik then (default 1s).
    #[serde(default)]
    pub scrape_interval: Option<canary_core::HumanDuration>,
}

impl PrometheusRange {
    /// The Prometheus at `url` from `from` to `to` (RFC 3339 in UTC or Unix seconds).
    pub fn new(url: impl Into<String>, from: impl Into<String>, to: impl Into<String>) -> Self {
        PrometheusRange {
            url: url.into(),
            from: from.into(),
            to: to.into(),
            scrape_interval: None,
        }
    }
    /// Sets how often Prometheus scraped Traefik then.
    #[must_use]
    pub fn scrape_interval(mut self, every: canary_core::HumanDuration) -> Self {
        self.scrape_interval = Some(every);
        self
    }
}

/// One decision of a rollout: an event that moves it (a weight set, an analysis, a pause, the
/// start and end of a promotion or a rollback), with its figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// ms since the canary first got traffic (negative before).
    pub at_ms: i64,
    /// ms since the weight of its step was set.
    pub since_step_ms: u64,
    /// The event.
    pub event: Event,
}

/// How a replayed (or recorded) rollout ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "result"
)]
#[non_exhaustive]
pub enum ReplayOutcome {
    /// It would have promoted: promotion began `at_ms` after the canary got traffic.
    Promoted {
        /// When promotion began.
        at_ms: i64,
    },
    /// It would have rolled back: the rollback began `at_ms` after the canary got traffic.
    RolledBack {
        /// When the rollback began.
        at_ms: i64,
        /// Why.
        cause: String,
    },
    /// No decision by the time the metrics ran out (or the rollout paused).
    Undecided {
        /// When it stopped.
        at_ms: i64,
        /// Where the rollout was.
        phase: Phase,
        /// Its step index.
        step: usize,
        /// The canary weight in force.
        weight: u8,
        /// Why it stopped.
        why: String,
    },
}

/// A recorded run, as its events tell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRun {
    /// Its decisions.
    pub decisions: Vec<Decision>,
    /// How it ended.
    pub outcome: ReplayOutcome,
}

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayReport {
    /// The group.
    pub group: String,
    /// Where the metrics came from, in words.
    pub source: String,
    /// The overrides applied (the what-if), if any.
    pub overrides: Vec<Override>,
    /// Every decision of the replayed rollout.
    pub decisions: Vec<Decision>,
    /// How it ended.
    pub outcome: ReplayOutcome,
    /// The recorded run, when replaying a recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<RecordedRun>,
    /// Where the replay's decisions differ from the recorded ones (empty: the same decisions).
    #[serde(default)]
    pub differences: Vec<String>,
}

/// Replays `options` with `spec` (default: the recording's own), see the module docs. Runs on a
/// thread of its own with a paused clock; awaiting it from any runtime is fine.
pub async fn replay(spec: Option<Spec>, options: ReplayOptions) -> Result<ReplayReport> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("canary-replay".into())
        .spawn(move || {
            let r = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .map_err(|e| {
                    Error::internal(format!("cannot start the replay's runtime: {e}"))
                        .with_source(e)
                })
                .and_then(|rt| rt.block_on(prepare_and_run(spec, options)));
            let _ = tx.send(r);
        })
        .map_err(|e| {
            Error::internal(format!("cannot start the replay's thread: {e}")).with_source(e)
        })?;
    rx.await
        .map_err(|_| Error::internal("the replay's thread stopped without an answer"))?
}

async fn prepare_and_run(spec: Option<Spec>, options: ReplayOptions) -> Result<ReplayReport> {
    let end = ReplayEnd::new();
    match (&options.recording, &options.prometheus) {
        (Some(path), None) => {
            let recording = Arc::new(Recording::load(path)?);
            let spec = match spec {
                Some(s) if options.overrides.is_empty() => s,
                Some(s) => with_overrides(&s, &options.overrides)?,
                None => recording.spec(&options.overrides)?,
            };
            let source = Arc::new(RecordedMetrics::new(recording.clone(), end.clone()));
            let limit = Duration::from_millis(recording.duration_ms()) + Duration::from_secs(3600);
            let what = format!(
                "recording {} (group {}, {} entries{})",
                path.display(),
                recording.header.group,
                recording.entries.len(),
                if recording.ended {
                    ""
                } else {
                    ", cut before its end"
                }
            );
            let mut report = drive(spec, source.clone(), Some(source), end, limit, what).await?;
            let recorded = recorded_run(&recording);
            report.differences = differences(&recorded.decisions, &report.decisions);
            report.recorded = Some(recorded);
            report.overrides = options.overrides;
            Ok(report)
        }
        (None, Some(range)) => {
            let spec = match spec {
                Some(s) => with_overrides(&s, &options.overrides)?,
                None => {
                    return Err(Error::invalid(
                        "spec",
                        "a Prometheus replay needs the spec of the rollout",
                    ))
                }
            };
            let (from, to) = (
                parse_time("from", &range.from)?,
                parse_time("to", &range.to)?,
            );
            if !(to > from && to - from <= 7.0 * 86_400.0) {
                return Err(Error::invalid(
                    "to",
                    "the span must end after it starts, within 7 days",
                ));
            }
            let source = Arc::new(PrometheusAt::new(&spec, range, from, to, end.clone())?);
            let limit = Duration::from_secs_f64(to - from) + Duration::from_secs(1);
            let what = format!(
                "Prometheus {} from {} to {}",
                range.url, range.from, range.to
            );
            let mut report = drive(spec, source, None, end, limit, what).await?;
            report.overrides = options.overrides;
            Ok(report)
        }
        _ => Err(Error::invalid(
            "replay",
            "give either a recording or a Prometheus range",
        )),
    }
}

fn with_overrides(spec: &Spec, overrides: &[Override]) -> Result<Spec> {
    if overrides.is_empty() {
        return Ok(spec.clone());
    }
    let mut tree = serde_json::to_value(spec)
        .map_err(|e| Error::internal(format!("the spec does not serialize: {e}")).with_source(e))?;
    canary_core::spec::overrides::apply(&mut tree, overrides)?;
    Spec::from_value(tree)
}

/// Hooks in a replay: never called, each says yes.
#[derive(Debug)]
struct NoHooks;

#[async_trait]
impl HookRunner for NoHooks {
    async fn call(
        &self,
        _hook: &canary_core::spec::HookSpec,
        _context: &HookContext,
    ) -> Result<HookOutcome> {
        Ok(HookOutcome {
            ok: true,
            message: "(not called in a replay)".into(),
        })
    }
}

/// Runs the rollout of `spec` over `metrics` to its end (see the module docs).
async fn drive(
    spec: Spec,
    metrics: Arc<dyn MetricsSource>,
    recorded: Option<Arc<RecordedMetrics>>,
    end: Arc<ReplayEnd>,
    limit: Duration,
    source: String,
) -> Result<ReplayReport> {
    let orchestrator = Arc::new(MemoryOrchestrator::new());
    for (app, a) in spec.app_refs().iter().zip(&spec.apps) {
        let image = a.stable_image.clone().unwrap_or_else(|| a.image.clone());
        orchestrator.add_service(app.stable.clone(), &image, a.stable_replicas.max(1));
    }
    let group = spec.group.to_string();
    let deps = Deps::new(
        orchestrator,
        Arc::new(MemoryRouter::new()),
        metrics,
        Arc::new(MemoryStateStore::new()),
        Arc::new(NoHooks),
    );
    let rollout = Rollout::new(
        spec,
        deps,
        RolloutOptions::default().owner("replay/0/0").restart(true),
    )?;
    let mut events = rollout.subscribe();
    let started = Instant::now();
    let mut timeline = Timeline::default();
    let run = rollout.run();
    tokio::pin!(run);
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let on_event = |e: Event, timeline: &mut Timeline| {
        let now = Instant::now().duration_since(started).as_millis() as u64;
        if e.kind == EventKind::WeightSet {
            if let Some(r) = &recorded {
                r.step_started(e.step, Instant::now());
            }
        }
        timeline.add(now, e);
    };
    let stopped: Option<String> = loop {
        tokio::select! {
            biased;
            ev = events.recv() => match ev {
                Ok(e) => {
                    let paused = e.kind == EventKind::Paused;
                    let why = e.message.clone();
                    on_event(e, &mut timeline);
                    if paused {
                        break Some(format!("{why} (a replay resumes nothing)"));
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    return Err(Error::internal(format!("the replay missed {n} events")))
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {}
            },
            why = end.wait() => break Some(why),
            out = &mut run => {
                while let Ok(e) = events.try_recv() {
                    on_event(e, &mut timeline);
                }
                match out {
                    // However it ended, the events seen say how (see `outcome_of`).
                    Ok(_) => break None,
                    Err(e) => return Err(e),
                }
            }
            _ = &mut deadline => break Some(format!(
                "no decision within {} of replayed time", canary_core::HumanDuration(limit)
            )),
        }
    };
    let decisions = timeline.decisions();
    let now = Instant::now().duration_since(started).as_millis() as i64;
    let outcome = outcome_of(&decisions, stopped, now - timeline.traffic_at() as i64);
    Ok(ReplayReport {
        group,
        source,
        overrides: Vec::new(),
        decisions,
        outcome,
        recorded: None,
        differences: Vec::new(),
    })
}

/// Events with their times (ms from a common start), made into decisions.
#[derive(Debug, Default)]
struct Timeline {
    events: Vec<(u64, Event)>,
}

impl Timeline {
    fn add(&mut self, t: u64, e: Event) {
        self.events.push((t, e));
    }

    /// The last event's time, from the moment the canary first got traffic.
    fn last_from_traffic(&self) -> i64 {
        self.events.last().map(|(t, _)| *t as i64).unwrap_or(0) - self.traffic_at() as i64
    }

    /// The moment the canary first got traffic: its first weight above 0, else its first
    /// weight.
    fn traffic_at(&self) -> u64 {
        let sets = || {
            self.events
                .iter()
                .filter(|(_, e)| e.kind == EventKind::WeightSet)
        };
        sets()
            .find(|(_, e)| e.weight > 0)
            .or_else(|| sets().next())
            .map(|(t, _)| *t)
            .unwrap_or(0)
    }

    fn decisions(&self) -> Vec<Decision> {
        let zero = self.traffic_at() as i64;
        let mut step_at = 0u64;
        let mut out = Vec::new();
        for (t, e) in &self.events {
            if e.kind == EventKind::WeightSet {
                step_at = *t;
            }
            if !is_decision(e.kind) {
                continue;
            }
            out.push(Decision {
                at_ms: *t as i64 - zero,
                since_step_ms: t.saturating_sub(step_at),
                event: e.clone(),
            });
        }
        out
    }
}

fn is_decision(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::WeightSet
            | EventKind::Analysis
            | EventKind::Paused
            | EventKind::Promoting
            | EventKind::Promoted
            | EventKind::RollingBack
            | EventKind::RolledBack
            | EventKind::Failed
    )
}

fn outcome_of(decisions: &[Decision], stopped: Option<String>, last_ms: i64) -> ReplayOutcome {
    let find = |k: EventKind| decisions.iter().find(|d| d.event.kind == k);
    if let Some(d) = find(EventKind::RollingBack) {
        let cause = d
            .event
            .message
            .strip_prefix("rolling back: ")
            .unwrap_or(&d.event.message)
            .to_string();
        return ReplayOutcome::RolledBack {
            at_ms: d.at_ms,
            cause,
        };
    }
    if let Some(d) = find(EventKind::Promoting) {
        return ReplayOutcome::Promoted { at_ms: d.at_ms };
    }
    let last = decisions.last().map(|d| &d.event);
    ReplayOutcome::Undecided {
        at_ms: last_ms,
        phase: last.map(|e| e.phase).unwrap_or(Phase::Pending),
        step: last.map(|e| e.step).unwrap_or(0),
        weight: last.map(|e| e.weight).unwrap_or(0),
        why: stopped.unwrap_or_else(|| "the metrics end".into()),
    }
}

/// The recorded run's decisions and end, from its events.
fn recorded_run(recording: &Recording) -> RecordedRun {
    let mut timeline = Timeline::default();
    for (t, e) in recording.events() {
        timeline.add(t, e.clone());
    }
    let decisions = timeline.decisions();
    let outcome = outcome_of(
        &decisions,
        Some(if recording.ended {
            "the recorded run stopped".into()
        } else {
            "the recording was cut".into()
        }),
        timeline.last_from_traffic(),
    );
    RecordedRun { decisions, outcome }
}

/// Where `replayed` differs from `recorded`: kinds, steps, weights, phases, messages and
/// analyses (figures included) of every decision, and the time since each step began within
/// 1 s, except for the end of a promotion or rollback, which took the real world's time.
pub fn differences(recorded: &[Decision], replayed: &[Decision]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (a, b)) in recorded.iter().zip(replayed).enumerate() {
        let (ea, eb) = (&a.event, &b.event);
        let n = i + 1;
        if (ea.kind, ea.step, ea.weight, ea.phase) != (eb.kind, eb.step, eb.weight, eb.phase) {
            out.push(format!(
                "decision {n}: recorded {:?} at step {} weight {} ({}), replayed {:?} at step {} weight {} ({})",
                ea.kind, ea.step + 1, ea.weight, ea.phase, eb.kind, eb.step + 1, eb.weight, eb.phase
            ));
            continue;
        }
        let world = matches!(
            ea.kind,
            EventKind::Promoted | EventKind::RolledBack | EventKind::Failed
        );
        if world {
            continue;
        }
        if ea.message != eb.message {
            out.push(format!(
                "decision {n} ({:?}): recorded {:?}, replayed {:?}",
                ea.kind, ea.message, eb.message
            ));
        } else if ea.analysis != eb.analysis {
            let (a, b) = (
                serde_json::to_value(&ea.analysis).unwrap_or_default(),
                serde_json::to_value(&eb.analysis).unwrap_or_default(),
            );
            let at =
                first_difference(&a, &b, "analysis".into()).unwrap_or_else(|| "analysis".into());
            out.push(format!(
                "decision {n} ({:?}): the figures differ at {at}",
                ea.kind
            ));
        }
        if a.since_step_ms.abs_diff(b.since_step_ms) > 1000 {
            out.push(format!(
                "decision {n} ({:?}): recorded {} ms into its step, replayed {} ms",
                ea.kind, a.since_step_ms, b.since_step_ms
            ));
        }
    }
    if recorded.len() != replayed.len() {
        out.push(format!(
            "the recording has {} decisions, the replay {}",
            recorded.len(),
            replayed.len()
        ));
    }
    out
}

/// The path of the first place `a` and `b` differ, with both values.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.keys()
                .chain(y.keys())
                .find_map(|k| match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_difference(p, q, format!("{at}.{k}")),
                    _ => Some(format!("{at}.{k}")),
                })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{at}: recorded {a}, replayed {b}")),
    }
}

/// `2026-11-30T20:53:02Z` (RFC 3339, UTC) or Unix seconds, as Unix seconds.
pub fn parse_time(field: &str, s: &str) -> Result<f64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<f64>() {
        if v.is_finite() && (0.0..1e11).contains(&v) {
            return Ok(v);
        }
    }
    canary_traefik::parse_rfc3339_ns(s)
        .map(|ns| ns as f64 / 1e9)
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!("{s:?} is neither RFC 3339 in UTC (2026-11-30T20:53:02Z) nor Unix seconds"),
            )
        })
}

/// Prometheus as of the replayed moment: `from` + the time since the replay started. Each query
/// runs on a runtime of its own while this thread waits, so it takes no replayed time.
struct PrometheusAt {
    prometheus: canary_traefik::PrometheusMetrics,
    /// Always `Some` until dropped (a runtime dropped inside the replay's runtime panics: it is
    /// shut down in the background instead).
    io: Option<tokio::runtime::Runtime>,
    from: f64,
    to: f64,
    start: Instant,
    end: Arc<ReplayEnd>,
    timeout: Duration,
}

impl Drop for PrometheusAt {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            io.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PrometheusAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusAt")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl PrometheusAt {
    fn new(
        spec: &Spec,
        range: &PrometheusRange,
        from: f64,
        to: f64,
        end: Arc<ReplayEnd>,
    ) -> Result<Self> {
        let timeout = spec.timeouts.call.get().min(Duration::from_secs(30));
        let mut b = canary_traefik::PrometheusMetrics::builder(&range.url)
            .scrape_interval(
                range
                    .scrape_interval
                    .map(|d| d.get())
                    .unwrap_or(Duration::from_secs(1)),
            )
            .timeout(timeout);
        for r in spec_routes(spec) {
            b = b.route(&r);
        }
        let io = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| {
                Error::internal(format!("cannot start the replay's IO runtime: {e}")).with_source(e)
            })?;
        Ok(PrometheusAt {
            prometheus: b.build()?,
            io: Some(io),
            from,
            to,
            start: Instant::now(),
            end,
            timeout,
        })
    }

    /// The replayed moment, or the end reached.
    fn at(&self) -> Option<f64> {
        let t = self.from + self.start.elapsed().as_secs_f64();
        if t > self.to {
            self.end
                .reached(format!("the Prometheus range ends at {:.0}", self.to));
            return None;
        }
        Some(t)
    }

    /// Runs `f` on the IO runtime and waits for it on this thread (no replayed time passes).
    fn blocking<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        let io = self
            .io
            .as_ref()
            .ok_or_else(|| Error::internal("the replay's IO runtime is gone"))?;
        io.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv_timeout(self.timeout + Duration::from_secs(1))
            .map_err(|_| Error::Timeout {
                what: "prometheus query of the replay".into(),
                after: self.timeout,
            })?
    }
}

/// The routes as the router names them, for stable services without labels of their own.
fn spec_routes(spec: &Spec) -> Vec<canary_core::AppRoute> {
    spec.app_refs()
        .iter()
        .zip(&spec.apps)
        .map(|(app, a)| canary_core::ops::routes::app_route(spec, app, a, Default::default()))
        .collect()
}

#[async_trait]
impl MetricsSource for PrometheusAt {
    async fn value(&self, query: &MetricQuery) -> Result<Observation> {
        let Some(t) = self.at() else {
            return std::future::pending().await;
        };
        let (p, q) = (self.prometheus.clone(), query.clone());
        self.blocking(async move { p.value_at(&q, Some(t)).await })
    }

    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>> {
        let Some(t) = self.at() else {
            return std::future::pending().await;
        };
        let (p, q) = (self.prometheus.clone(), query.clone());
        self.blocking(async move { p.samples_at(&q, t).await })
    }
}
