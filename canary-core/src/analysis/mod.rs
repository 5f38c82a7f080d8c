//! The analysis of one step: threshold checks on the canary, relative checks against stable, and
//! the statistical judge. Missing data and errors are never a pass: they make the result
//! inconclusive.
//!
//! [`analyse`] runs, for each app of the group:
//!
//! 1. **Enough traffic?** The canary's request count over the window. Fewer than
//!    `analysis.minRequests` (or no data, or an error) makes that app's analysis inconclusive and
//!    its other checks are not run: a handful of requests proves nothing either way.
//!    `minRequests: 0` turns this gate off.
//! 2. **Checks** (`analysis.checks`): `min`/`max` thresholds on the canary's value, and `relative`
//!    comparisons of the canary with stable over the same window (a move in the bad direction by
//!    more than `tolerance` fails). **Default**: when no check and no judge metric decides (none
//!    in the spec, or only dry runs), each app also gets one check, `successRate` with
//!    `min: 0.99` (not critical); see [`default_checks`].
//! 3. **The judge** (`analysis.judge`), if configured: see [`judge`].
//!
//! Every metrics call runs under the spec's call timeout. An error, a timeout or no data makes the
//! check inconclusive, with the error in its reason: never a pass.
//!
//! The overall verdict: a failed critical check or judge metric fails the analysis with
//! `critical_failure` (roll back at once); otherwise any failure fails it; otherwise anything
//! inconclusive makes it inconclusive; otherwise it passes.
//!
//! ## Dry runs
//!
//! A check or judge metric with `dryRun: true` is measured and judged like any other and reported
//! everywhere a result goes ([`CheckResult::dry_run`], [`JudgedMetric::dry_run`]: the analysis
//! event, the saved state's last analysis, `canary status`, the exporter's `dry_run="true"`
//! label), but it decides nothing: it is left out of the verdict, of `critical_failure` (a
//! critical dry-run check that fails does not roll back) and of the judge's score. The summary
//! states the decision first and adds what the dry runs found after it, marked `dry run`. A
//! judge whose metrics are all dry runs is scored over them and reported as a dry run
//! ([`JudgeReport::dry_run`]). This is how a new check is tried on real canaries without risking
//! a false rollback (Argo Rollouts' `dryRun` metrics).
//!
//! ```yaml
//! analysis:
//!   checks:
//!     - name: successRate
//!       metric: successRate
//!       min: 0.99
//!     - name: p99-budget          # being tried: shown, never decides
//!       metric: {latency: 0.99}
//!       max: 0.25
//!       dryRun: true
//! ```

use std::time::Duration;

use futures::future::join_all;

use crate::error::{with_timeout, Result};
use crate::model::{AppRef, Track};
use crate::spec::{CheckSpec, Direction, JudgeSpec, MetricKind, RelativeCheck, Spec};
use crate::traits::{MetricQuery, MetricsSource, Observation};

pub mod judge;
pub mod stats;

#[cfg(test)]
mod tests;

pub use crate::model::{
    AnalysisReport, CheckResult, Classification, JudgeReport, JudgedMetric, Verdict,
};

/// The name of the request-count gate in [`CheckResult`]s.
pub const MIN_REQUESTS_CHECK: &str = "minRequests";

/// The checks run when the spec has neither checks nor a judge: `successRate` with `min: 0.99`,
/// not critical, on each app. The equivalent spec:
///
/// ```yaml
/// analysis:
///   checks:
///     - name: successRate
///       metric: successRate
///       min: 0.99
/// ```
pub fn default_checks() -> Vec<CheckSpec> {
    vec![CheckSpec {
        name: "successRate".into(),
        metric: MetricKind::SuccessRate,
        min: Some(0.99),
        max: None,
        relative: None,
        critical: false,
        dry_run: false,
    }]
}

/// Analyses one step of `apps` over the last `window` (see the module docs), each metrics call
/// bounded by `call_timeout`. Never fails: errors become inconclusive results with the error in
/// their reason.
pub async fn analyse(
    spec: &Spec,
    apps: &[AppRef],
    metrics: &dyn MetricsSource,
    window: Duration,
    call_timeout: Duration,
) -> AnalysisReport {
    let ctx = Ctx {
        metrics,
        window,
        call_timeout,
    };
    if apps.is_empty() {
        return AnalysisReport {
            verdict: Verdict::Inconclusive,
            critical_failure: false,
            checks: Vec::new(),
            judges: Vec::new(),
            summary: "no apps to analyse".into(),
        };
    }
    let outcomes = join_all(apps.iter().map(|app| analyse_app(spec, app, &ctx))).await;

    let critical_failure = outcomes.iter().any(|o| {
        o.checks
            .iter()
            .any(|c| c.critical && !c.dry_run && c.verdict == Verdict::Fail)
            || o.judge
                .as_ref()
                .is_some_and(|j| j.critical_failure && !j.dry_run)
    });
    let verdict = if critical_failure {
        Verdict::Fail
    } else {
        combine(outcomes.iter().map(|o| o.verdict))
    };
    let summary = outcomes
        .iter()
        .map(|o| o.summary.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let mut checks = Vec::new();
    let mut judges = Vec::new();
    for o in outcomes {
        checks.extend(o.checks);
        judges.extend(o.judge);
    }
    AnalysisReport {
        verdict,
        critical_failure,
        checks,
        judges,
        summary,
    }
}

/// What the analysis needs to query metrics.
struct Ctx<'a> {
    metrics: &'a dyn MetricsSource,
    window: Duration,
    call_timeout: Duration,
}

impl Ctx<'_> {
    fn query(&self, app: &AppRef, track: Track, metric: &MetricKind) -> MetricQuery {
        MetricQuery {
            app: app.clone(),
            track,
            metric: metric.clone(),
            window: self.window,
        }
    }

    async fn value(&self, app: &AppRef, track: Track, metric: &MetricKind) -> Result<Observation> {
        let q = self.query(app, track, metric);
        let what = format!("metrics: {} of {} {track}", metric.label(), app.name);
        with_timeout(what, self.call_timeout, self.metrics.value(&q)).await
    }

    async fn samples(&self, app: &AppRef, track: Track, metric: &MetricKind) -> Result<Vec<f64>> {
        let q = self.query(app, track, metric);
        let what = format!(
            "metrics: {} samples of {} {track}",
            metric.label(),
            app.name
        );
        with_timeout(what, self.call_timeout, self.metrics.samples(&q)).await
    }
}

/// One app's part of the report.
struct AppOutcome {
    checks: Vec<CheckResult>,
    judge: Option<JudgeReport>,
    verdict: Verdict,
    summary: String,
}

async fn analyse_app(spec: &Spec, app: &AppRef, ctx: &Ctx<'_>) -> AppOutcome {
    let analysis = &spec.analysis;
    let mut checks = Vec::new();
    if analysis.min_requests > 0 {
        let gate = requests_gate(app, ctx, analysis.min_requests).await;
        let enough = gate.verdict == Verdict::Pass;
        checks.push(gate);
        if !enough {
            return finish(app, checks, None);
        }
    }
    // Dry runs decide nothing, so a spec whose checks are all dry runs keeps the default check.
    let deciding = analysis.checks.iter().any(|c| !c.dry_run)
        || analysis
            .judge
            .as_ref()
            .is_some_and(|j| j.metrics.iter().any(|m| !m.dry_run));
    let defaults;
    let specs: &[CheckSpec] = if deciding {
        &analysis.checks
    } else {
        defaults = default_checks()
            .into_iter()
            .chain(analysis.checks.iter().cloned())
            .collect::<Vec<_>>();
        &defaults
    };
    let judge = async {
        match &analysis.judge {
            Some(j) => Some(run_judge(j, app, ctx).await),
            None => None,
        }
    };
    let (results, judge) = futures::join!(
        join_all(specs.iter().map(|c| run_check(c, app, ctx))),
        judge
    );
    checks.extend(results);
    finish(app, checks, judge)
}

/// Puts an app's results together: its verdict and its part of the summary. Dry runs are left
/// out of both, then added to the summary after the decision.
fn finish(app: &AppRef, checks: Vec<CheckResult>, judge: Option<JudgeReport>) -> AppOutcome {
    let deciding = || checks.iter().filter(|c| !c.dry_run);
    let deciding_judge = judge.as_ref().filter(|j| !j.dry_run);
    let verdict = combine(
        deciding()
            .map(|c| c.verdict)
            .chain(deciding_judge.iter().map(|j| j.verdict)),
    );
    let mut summary = if verdict == Verdict::Pass {
        let mut figures: Vec<String> = deciding().map(pass_figure).collect();
        if let Some(j) = deciding_judge {
            figures.push(format!("judge score {}", judge::fmt_score(j.score)));
        }
        format!("{}: pass ({})", app.name, figures.join(", "))
    } else {
        let mut problems: Vec<String> = deciding()
            .filter(|c| c.verdict != Verdict::Pass)
            .map(|c| {
                let mut s = c.reason.clone();
                if c.name != c.metric && c.name != MIN_REQUESTS_CHECK {
                    s.push_str(&format!(" [{}]", c.name));
                }
                if c.critical && c.verdict == Verdict::Fail {
                    s.push_str(" (critical)");
                }
                s
            })
            .collect();
        if let Some(j) = deciding_judge.filter(|j| j.verdict != Verdict::Pass) {
            problems.push(format!("judge {}", j.reason));
        }
        format!("{}: {}", app.name, problems.join(", "))
    };
    let dry: Vec<String> = checks
        .iter()
        .filter(|c| c.dry_run)
        .map(|c| format!("{} {} ({})", c.name, verdict_word(c.verdict), c.reason))
        .chain(
            judge
                .iter()
                .filter(|j| j.dry_run)
                .map(|j| format!("judge {} ({})", verdict_word(j.verdict), j.reason)),
        )
        .collect();
    if !dry.is_empty() {
        summary.push_str(&format!("; dry run: {}", dry.join(", ")));
    }
    AppOutcome {
        checks,
        judge,
        verdict,
        summary,
    }
}

/// The figure a passing check adds to the summary: `successRate 1.000`, `1520 requests`.
fn pass_figure(c: &CheckResult) -> String {
    match (c.name.as_str(), c.canary) {
        (MIN_REQUESTS_CHECK, Some(n)) => format!("{n:.0} requests"),
        (_, Some(v)) => {
            let name = if c.name == c.metric {
                String::new()
            } else {
                format!(" [{}]", c.name)
            };
            match c.stable {
                Some(s) => format!("{} {} vs stable {}{name}", c.metric, fmt_num(v), fmt_num(s)),
                None => format!("{} {}{name}", c.metric, fmt_num(v)),
            }
        }
        (_, None) => c.name.clone(),
    }
}

/// `pass`, `fail`, `inconclusive`: how a dry run's outcome reads in a summary.
fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// Any failure fails; otherwise anything inconclusive is inconclusive; otherwise pass.
fn combine(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    let mut out = Verdict::Pass;
    for v in verdicts {
        match v {
            Verdict::Fail => return Verdict::Fail,
            Verdict::Inconclusive => out = Verdict::Inconclusive,
            Verdict::Pass => {}
        }
    }
    out
}

async fn requests_gate(app: &AppRef, ctx: &Ctx<'_>, min: u64) -> CheckResult {
    let metric = MetricKind::RequestCount;
    let mut result = CheckResult {
        name: MIN_REQUESTS_CHECK.into(),
        app: app.name.to_string(),
        metric: metric.label(),
        canary: None,
        stable: None,
        verdict: Verdict::Inconclusive,
        critical: false,
        dry_run: false,
        reason: String::new(),
    };
    match ctx.value(app, Track::Canary, &metric).await {
        Err(e) => {
            result.reason = format!("canary request count unknown ({e}); minRequests is {min}")
        }
        Ok(obs) => match obs.value() {
            None => {
                result.reason =
                    format!("no request count for the canary (no data); minRequests is {min}")
            }
            Some(n) => {
                result.canary = Some(n);
                if n < min as f64 {
                    result.reason =
                        format!("canary got {n:.0} requests, fewer than minRequests {min}");
                } else {
                    result.verdict = Verdict::Pass;
                    result.reason = format!("canary got {n:.0} requests (minRequests {min})");
                }
            }
        },
    }
    result
}

async fn run_check(check: &CheckSpec, app: &AppRef, ctx: &Ctx<'_>) -> CheckResult {
    let label = check.metric.label();
    let stable_wanted = check.relative.is_some();
    let (canary, stable) = futures::join!(ctx.value(app, Track::Canary, &check.metric), async {
        if stable_wanted {
            Some(ctx.value(app, Track::Stable, &check.metric).await)
        } else {
            None
        }
    });
    let mut failures = Vec::new();
    let mut unknowns = Vec::new();
    let mut bounds = Vec::new();
    let canary_value = observed(canary, "the canary", &label, &mut unknowns);
    let stable_value = stable.and_then(|s| observed(s, "stable", &label, &mut unknowns));

    if let Some(v) = canary_value {
        let shown = fmt_value(&check.metric, v);
        if let Some(min) = check.min {
            bounds.push(format!("min {min}"));
            if v < min {
                failures.push(format!("{label} {shown} < min {min}"));
            }
        }
        if let Some(max) = check.max {
            bounds.push(format!("max {max}"));
            if v > max {
                failures.push(format!("{label} {shown} > max {max}"));
            }
        }
        if let (Some(rel), Some(s)) = (&check.relative, stable_value) {
            let (bound, failure) = relative(rel, &check.metric, &label, v, s);
            bounds.push(bound);
            failures.extend(failure);
        }
    }
    let verdict = if !failures.is_empty() {
        Verdict::Fail
    } else if !unknowns.is_empty() {
        Verdict::Inconclusive
    } else {
        Verdict::Pass
    };
    let reason = match verdict {
        Verdict::Pass => {
            let v = canary_value
                .map(|v| fmt_value(&check.metric, v))
                .unwrap_or_default();
            format!("{label} {v} ({})", bounds.join(", "))
        }
        _ => failures
            .into_iter()
            .chain(unknowns)
            .collect::<Vec<_>>()
            .join(", "),
    };
    CheckResult {
        name: check.name.clone(),
        app: app.name.to_string(),
        metric: label,
        canary: canary_value,
        stable: stable_value,
        verdict,
        critical: check.critical,
        dry_run: check.dry_run,
        reason,
    }
}

/// The value of an observation, or a note in `unknowns` saying why there is none.
fn observed(
    r: Result<Observation>,
    whose: &str,
    label: &str,
    unknowns: &mut Vec<String>,
) -> Option<f64> {
    match r {
        Err(e) => {
            unknowns.push(format!("{label} of {whose} unknown ({e})"));
            None
        }
        Ok(o) => {
            let v = o.value();
            if v.is_none() {
                unknowns.push(format!("no data for {label} of {whose}"));
            }
            v
        }
    }
}

/// A relative check: its bound in words, and the failure if the canary is beyond it.
fn relative(
    rel: &RelativeCheck,
    kind: &MetricKind,
    label: &str,
    v: f64,
    s: f64,
) -> (String, Option<String>) {
    let (cv, sv, t) = (fmt_value(kind, v), fmt_value(kind, s), rel.tolerance);
    let tol = |sign: char| {
        if t == 0.0 {
            String::new()
        } else {
            format!(" {sign} tolerance {t}")
        }
    };
    match rel.direction.unwrap_or(judge::bad_direction(None, kind)) {
        Direction::Increase => (
            format!("≤ stable {sv}{}", tol('+')),
            (v > s + t).then(|| format!("{label} {cv} > stable {sv}{}", tol('+'))),
        ),
        Direction::Decrease => (
            format!("≥ stable {sv}{}", tol('-')),
            (v < s - t).then(|| format!("{label} {cv} < stable {sv}{}", tol('-'))),
        ),
        Direction::Either => (
            format!("within {t} of stable {sv}"),
            ((v - s).abs() > t).then(|| {
                format!("{label} {cv} differs from stable {sv} by more than tolerance {t}")
            }),
        ),
    }
}

async fn run_judge(judge: &JudgeSpec, app: &AppRef, ctx: &Ctx<'_>) -> JudgeReport {
    let metrics = join_all(judge.metrics.iter().map(|m| async move {
        let (canary, stable) = futures::join!(
            ctx.samples(app, Track::Canary, &m.metric),
            ctx.samples(app, Track::Stable, &m.metric)
        );
        match (canary, stable) {
            (Ok(c), Ok(s)) => judge::judge_metric(judge, m, &c, &s),
            (Err(e), _) => judge::no_data(m, format!("canary samples unknown ({e})")),
            (_, Err(e)) => judge::no_data(m, format!("stable samples unknown ({e})")),
        }
    }))
    .await;
    judge::score(app.name.as_str(), judge, metrics)
}

/// A value as shown in reasons: counts whole, others with 3 decimals (or 3 significant digits
/// when tiny).
fn fmt_value(kind: &MetricKind, v: f64) -> String {
    match kind {
        MetricKind::RequestCount | MetricKind::ErrorCount if v.fract() == 0.0 => format!("{v:.0}"),
        _ => fmt_num(v),
    }
}

/// A number as shown in reasons: `0.703`, `1520.0`, `4.000e-4`.
pub(crate) fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.1}")
    } else if a >= 0.001 || a == 0.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.3e}")
    }
}
