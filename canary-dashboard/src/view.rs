//! What the page and the report show of a group ([`GroupView`]): the status as the engine gives
//! it, the events merged over time ([`Timeline`]), and every analysed check beside its limits.
//!
//! The limits come from the spec the dashboard was given (a check's `min`, `max`, or stable's
//! value plus or minus the relative tolerance, and `minRequests`); a group found only in the
//! state store shows its values without limits. A canary's extra environment is part of what
//! the engine saves as the canary's identity (`image KEY=VALUE`); the view keeps the keys and
//! drops the values, in the state and in event messages alike.

use std::collections::{HashSet, VecDeque};

use canary_core::analysis::judge::bad_direction;
use canary_core::analysis::{JudgeReport, MIN_REQUESTS_CHECK};
use canary_core::model::{CheckResult, Verdict};
use canary_core::spec::{CheckSpec, Direction};
use canary_core::{Event, EventKind, Spec, Status};
use serde::Serialize;

/// How many events a group's timeline keeps (the saved state keeps 64; the dashboard keeps what
/// it saw over a longer run, within this bound).
pub(crate) const MAX_EVENTS: usize = 512;

/// The events of one rollout, oldest first, merged from the saved history and the live events
/// without duplicates, and bounded.
#[derive(Debug, Default)]
pub(crate) struct Timeline {
    started_ms: Option<u64>,
    events: VecDeque<Event>,
    seen: HashSet<Key>,
}

type Key = (u64, String, usize, u8, String);

fn key(e: &Event) -> Key {
    (
        e.at_ms,
        format!("{:?}", e.kind),
        e.step,
        e.weight,
        e.message.clone(),
    )
}

impl Timeline {
    /// Takes in a saved state's history. A state of another rollout (another start time) starts
    /// the timeline over, keeping live events that belong to the new rollout.
    pub(crate) fn merge_saved(&mut self, started_ms: u64, history: &[Event]) {
        if self.started_ms.is_some_and(|s| s != started_ms) {
            let keep: Vec<Event> = self
                .events
                .drain(..)
                .filter(|e| e.at_ms >= started_ms)
                .collect();
            self.seen.clear();
            for e in keep {
                self.add(e);
            }
        }
        self.started_ms = Some(started_ms);
        for e in history {
            self.add(e.clone());
        }
    }

    /// Adds one event unless it is already there; false when it was.
    pub(crate) fn add(&mut self, e: Event) -> bool {
        if !self.seen.insert(key(&e)) {
            return false;
        }
        // Events mostly arrive in order; a saved history read after live events does not.
        let at = self.events.partition_point(|x| x.at_ms <= e.at_ms);
        self.events.insert(at, e);
        while self.events.len() > MAX_EVENTS {
            if let Some(old) = self.events.pop_front() {
                self.seen.remove(&key(&old));
            }
        }
        true
    }

    /// The events, oldest first.
    pub(crate) fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }
}

/// A bound a check's value must respect, as the page draws it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Limit {
    /// `min` (the value must be at least `value`) or `max` (at most).
    pub(crate) kind: LimitKind,
    /// The bound in force for this analysis (for a relative check: stable's value moved by the
    /// tolerance).
    pub(crate) value: f64,
    /// The bound in words: `≥ 0.99`, `≤ stable 0.002 + 0.01`.
    pub(crate) text: String,
}

/// Which side of a [`Limit`] is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum LimitKind {
    /// At least.
    Min,
    /// At most.
    Max,
}

/// One check of one app in one analysis, with its limits and how far inside them it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CheckView {
    #[serde(flatten)]
    pub(crate) result: CheckResult,
    /// The limits in force (none when the dashboard has no spec for the group).
    pub(crate) limits: Vec<Limit>,
    /// The distance to the nearest limit relative to it (`(value - min) / |min|`), on the good
    /// side when positive: what the page sorts by to show which check is closest.
    pub(crate) margin: Option<f64>,
    /// The same distance in the metric's own unit (`value - min`).
    pub(crate) distance: Option<f64>,
}

/// One step's analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StepAnalysis {
    /// When it ended (Unix ms).
    pub(crate) at_ms: u64,
    /// The step index.
    pub(crate) step: usize,
    /// The weight analysed.
    pub(crate) weight: u8,
    /// The verdict.
    pub(crate) verdict: Verdict,
    /// True when a critical check failed.
    pub(crate) critical_failure: bool,
    /// The engine's one-line summary.
    pub(crate) summary: String,
    /// Every check of every app.
    pub(crate) checks: Vec<CheckView>,
    /// The statistical judge, per app.
    pub(crate) judges: Vec<JudgeReport>,
}

/// A check as the spec sets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CheckSpecView {
    pub(crate) name: String,
    pub(crate) metric: String,
    pub(crate) limits: Vec<String>,
    pub(crate) critical: bool,
}

/// What the dashboard knows of a group's spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SpecView {
    pub(crate) steps: Vec<u8>,
    pub(crate) interval_ms: u64,
    pub(crate) window_ms: u64,
    pub(crate) failure_limit: u32,
    pub(crate) inconclusive_limit: u32,
    pub(crate) min_requests: u64,
    pub(crate) checks: Vec<CheckSpecView>,
}

/// Everything the page shows of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupView {
    /// The group.
    pub(crate) group: String,
    /// True when the dashboard was given this group's spec: the actions can reach it.
    pub(crate) controllable: bool,
    /// The spec's steps and checks, when given.
    pub(crate) spec: Option<SpecView>,
    /// The status (the saved history is in `events`; services' labels are left out).
    pub(crate) status: Option<Status>,
    /// Why the status could not be read, if so (the last one read is kept).
    pub(crate) error: Option<String>,
    /// The rollout's events, oldest first, without their analysis (in `analyses`).
    pub(crate) events: Vec<Event>,
    /// Each analysis, oldest first.
    pub(crate) analyses: Vec<StepAnalysis>,
}

/// A number as the page and the report show it: up to 4 decimals, no trailing zeros.
pub(crate) fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.1}")
    } else if a >= 0.001 || a == 0.0 {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0');
        s.trim_end_matches('.').to_string()
    } else {
        format!("{v:.3e}")
    }
}

/// The limits of `check` for a canary analysed beside `stable`'s value.
pub(crate) fn limits(check: &CheckSpec, stable: Option<f64>) -> Vec<Limit> {
    let mut out = Vec::new();
    if let Some(min) = check.min {
        out.push(Limit {
            kind: LimitKind::Min,
            value: min,
            text: format!("≥ {}", num(min)),
        });
    }
    if let Some(max) = check.max {
        out.push(Limit {
            kind: LimitKind::Max,
            value: max,
            text: format!("≤ {}", num(max)),
        });
    }
    if let (Some(rel), Some(s)) = (&check.relative, stable) {
        let t = rel.tolerance;
        let (tol_up, tol_down) = if t == 0.0 {
            (String::new(), String::new())
        } else {
            (format!(" + {}", num(t)), format!(" − {}", num(t)))
        };
        let dir = bad_direction(rel.direction, &check.metric);
        if matches!(dir, Direction::Increase | Direction::Either) {
            out.push(Limit {
                kind: LimitKind::Max,
                value: s + t,
                text: format!("≤ stable {}{tol_up}", num(s)),
            });
        }
        if matches!(dir, Direction::Decrease | Direction::Either) {
            out.push(Limit {
                kind: LimitKind::Min,
                value: s - t,
                text: format!("≥ stable {}{tol_down}", num(s)),
            });
        }
    }
    out
}

/// How far `value` is inside the nearest of `limits` (negative: outside): relative to the
/// limit, and in the metric's unit.
fn margin(value: Option<f64>, limits: &[Limit]) -> Option<(f64, f64)> {
    let v = value.filter(|v| v.is_finite())?;
    limits
        .iter()
        .filter(|l| l.value.is_finite())
        .map(|l| {
            let d = match l.kind {
                LimitKind::Min => v - l.value,
                LimitKind::Max => l.value - v,
            };
            // Relative to the limit so that seconds and ratios compare; a zero limit compares
            // in absolute terms.
            let scale = if l.value == 0.0 { 1.0 } else { l.value.abs() };
            (d / scale, d)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

fn spec_checks(spec: &Spec) -> Vec<CheckSpec> {
    let a = &spec.analysis;
    if a.checks.is_empty() && a.judge.is_none() {
        canary_core::analysis::default_checks()
    } else {
        a.checks.clone()
    }
}

fn check_view(spec: Option<&Spec>, checks: &[CheckSpec], r: &CheckResult) -> CheckView {
    let limits = match spec {
        None => Vec::new(),
        Some(s) if r.name == MIN_REQUESTS_CHECK => {
            let min = s.analysis.min_requests as f64;
            vec![Limit {
                kind: LimitKind::Min,
                value: min,
                text: format!("≥ {} requests", s.analysis.min_requests),
            }]
        }
        Some(_) => checks
            .iter()
            .find(|c| c.name == r.name)
            .map(|c| limits(c, r.stable))
            .unwrap_or_default(),
    };
    let m = margin(r.canary, &limits);
    CheckView {
        margin: m.map(|m| m.0),
        distance: m.map(|m| m.1),
        result: r.clone(),
        limits,
    }
}

fn spec_view(spec: &Spec) -> SpecView {
    SpecView {
        steps: spec.steps().iter().map(|w| w.get()).collect(),
        interval_ms: spec.traffic.interval.get().as_millis() as u64,
        window_ms: spec.window().as_millis() as u64,
        failure_limit: spec.analysis.failure_limit,
        inconclusive_limit: spec.analysis.inconclusive_limit,
        min_requests: spec.analysis.min_requests,
        checks: spec_checks(spec)
            .iter()
            .map(|c| CheckSpecView {
                name: c.name.clone(),
                metric: c.metric.label(),
                limits: {
                    let mut l: Vec<String> = limits(c, None).into_iter().map(|l| l.text).collect();
                    if let Some(rel) = &c.relative {
                        l.push(format!(
                            "relative to stable, tolerance {}",
                            num(rel.tolerance)
                        ));
                    }
                    l
                },
                critical: c.critical,
            })
            .collect(),
    }
}

/// `image KEY=VALUE ...` (the engine's identity of a canary) with the values dropped.
pub(crate) fn redact_identity(id: &str) -> String {
    let mut parts = id.split(' ');
    let mut out = parts.next().unwrap_or_default().to_string();
    for p in parts {
        // A value with a space in it leaves pieces without `=`: they are values, dropped.
        if let Some((k, _)) = p.split_once('=') {
            out.push(' ');
            out.push_str(k);
            out.push_str("=…");
        }
    }
    out
}

/// Builds the view of a group from its status and timeline.
pub(crate) fn build(
    group: &str,
    spec: Option<&Spec>,
    status: Option<&Status>,
    timeline: &Timeline,
    error: Option<String>,
) -> GroupView {
    let checks = spec.map(spec_checks).unwrap_or_default();
    // Identities with their environment, and what to show instead.
    let mut secrets: Vec<(String, String)> = status
        .and_then(|s| s.state.as_ref())
        .map(|st| {
            st.canary_images
                .values()
                .filter(|id| id.contains(' '))
                .map(|id| (id.clone(), redact_identity(id)))
                .collect()
        })
        .unwrap_or_default();
    // Longest first, so an identity that extends another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
    let redact = |s: &str| {
        let mut s = s.to_string();
        for (id, shown) in &secrets {
            if s.contains(id.as_str()) {
                s = s.replace(id.as_str(), shown);
            }
        }
        s
    };
    let mut analyses = Vec::new();
    let mut events = Vec::new();
    for e in timeline.events() {
        let mut e = e.clone();
        e.message = redact(&e.message);
        if let (EventKind::Analysis, Some(a)) = (e.kind, e.analysis.take()) {
            analyses.push(StepAnalysis {
                at_ms: e.at_ms,
                step: e.step,
                weight: e.weight,
                verdict: a.verdict,
                critical_failure: a.critical_failure,
                summary: redact(&a.summary),
                checks: a
                    .checks
                    .iter()
                    .map(|c| check_view(spec, &checks, c))
                    .collect(),
                judges: a.judges,
            });
        }
        e.analysis = None;
        events.push(e);
    }
    let status = status.map(|s| {
        let mut s = s.clone();
        if let Some(st) = s.state.as_mut() {
            st.history.clear();
            st.last_analysis = None;
            for id in st.canary_images.values_mut() {
                *id = redact_identity(id);
            }
            if let Some(c) = st.cause.as_mut() {
                *c = redact(c);
            }
        }
        for svc in &mut s.services {
            svc.labels.clear();
        }
        s
    });
    GroupView {
        group: group.to_string(),
        controllable: spec.is_some(),
        spec: spec.map(spec_view),
        status,
        error,
        events,
        analyses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canary_core::spec::{MetricKind, RelativeCheck};
    use canary_core::Phase;

    fn event(at: u64, kind: EventKind, message: &str) -> Event {
        Event {
            at_ms: at,
            group: "shop".into(),
            kind,
            phase: Phase::Progressing,
            step: 0,
            steps: 2,
            weight: 20,
            message: message.into(),
            analysis: None,
        }
    }

    #[test]
    fn the_timeline_merges_live_and_saved_events_once_in_order_and_bounded() {
        let mut t = Timeline::default();
        assert!(t.add(event(20, EventKind::WeightSet, "w")));
        t.merge_saved(
            5,
            &[
                event(10, EventKind::Started, "s"),
                event(20, EventKind::WeightSet, "w"),
            ],
        );
        let at: Vec<u64> = t.events().map(|e| e.at_ms).collect();
        assert_eq!(at, [10, 20]);
        // Another rollout (another start) keeps only what belongs to it.
        t.add(event(40, EventKind::Started, "new"));
        t.merge_saved(30, &[event(40, EventKind::Started, "new")]);
        let at: Vec<u64> = t.events().map(|e| e.at_ms).collect();
        assert_eq!(at, [40]);
        for i in 0..(MAX_EVENTS as u64 + 10) {
            t.add(event(100 + i, EventKind::Waiting, "x"));
        }
        assert_eq!(t.events().count(), MAX_EVENTS);
        assert_eq!(t.events().next().unwrap().at_ms, 100 + 10);
    }

    fn check(min: Option<f64>, max: Option<f64>, rel: Option<f64>) -> CheckSpec {
        CheckSpec {
            name: "c".into(),
            metric: MetricKind::ErrorRate,
            min,
            max,
            relative: rel.map(|t| RelativeCheck {
                tolerance: t,
                direction: None,
            }),
            critical: false,
            dry_run: false,
        }
    }

    #[test]
    fn limits_and_margins_follow_the_check() {
        let l = limits(&check(Some(0.99), None, None), None);
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].kind, l[0].value), (LimitKind::Min, 0.99));
        assert_eq!(l[0].text, "≥ 0.99");
        // Error rate goes bad upwards: stable + tolerance is a maximum.
        let l = limits(&check(None, None, Some(0.01)), Some(0.002));
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].kind, LimitKind::Max);
        assert!((l[0].value - 0.012).abs() < 1e-12);
        assert_eq!(l[0].text, "≤ stable 0.002 + 0.01");
        // No stable value: no relative limit.
        assert!(limits(&check(None, None, Some(0.01)), None).is_empty());
        let (m, d) = margin(Some(0.7), &limits(&check(Some(0.99), None, None), None)).unwrap();
        assert!(m < 0.0 && (d + 0.29).abs() < 1e-12, "{m} {d}");
        let (m, d) = margin(Some(0.5), &limits(&check(None, Some(2.0), None), None)).unwrap();
        assert!(
            (m - 0.75).abs() < 1e-12 && (d - 1.5).abs() < 1e-12,
            "{m} {d}"
        );
        // The nearest limit counts.
        let both = limits(&check(Some(0.0), Some(1.0), None), None);
        let (_, d) = margin(Some(0.9), &both).unwrap();
        assert!((d - 0.1).abs() < 1e-12, "{d}");
        assert_eq!(margin(None, &[]), None);
        assert_eq!(
            margin(Some(f64::NAN), &limits(&check(Some(1.0), None, None), None)),
            None
        );
    }

    #[test]
    fn the_canary_environment_is_shown_by_key_only() {
        assert_eq!(redact_identity("app:v2"), "app:v2");
        assert_eq!(
            redact_identity("app:v2 ERROR_RATE=0.3 TOKEN=a b=c"),
            "app:v2 ERROR_RATE=… TOKEN=… b=…"
        );
        let mut t = Timeline::default();
        t.add(event(
            1,
            EventKind::Started,
            "rollout of shop to app:v2 TOKEN=s3cret in steps [20]",
        ));
        let mut st = canary_core::RolloutState::new(
            [("api".to_string(), "app:v2 TOKEN=s3cret".to_string())].into(),
            1,
        );
        st.cause = Some("app:v2 TOKEN=s3cret failed".into());
        let status = Status {
            group: "shop".into(),
            state: Some(st),
            steps: vec![20],
            splits: vec![],
            splits_error: None,
            services: vec![],
            driven: false,
            drift: Vec::new(),
            replica_plan: None,
        };
        let v = build("shop", None, Some(&status), &t, None);
        let json = serde_json::to_string(&v).unwrap();
        assert!(!json.contains("s3cret"), "{json}");
        assert!(json.contains("TOKEN=…"), "{json}");
    }
}
