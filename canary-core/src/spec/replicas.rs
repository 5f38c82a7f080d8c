//! Replicas mode (`traffic.mode: replicas`), the seed's split: stable's and the canary's tasks
//! share one Traefik service, so each task gets an equal share and a weight is only as close as
//! the replica counts allow; and Traefik, which counts per service, cannot tell the canary's
//! answers from stable's. What that means for a spec, checked when it is loaded (before anything
//! changes):
//!
//! - **The replica plan.** Each step's counts out of [`Spec::replica_total`] tasks, and how many
//!   percentage points they are off the step's weight ([`Spec::replica_plan`]; status and the
//!   step's event say it). A step further off than `traffic.replicaTolerance` (default
//!   [`DEFAULT_REPLICA_TOLERANCE`]) is refused, with the smallest `totalReplicas` that would do.
//! - **What the analysis can see.** Without `analysis.taskMetrics`, a check or judge metric that
//!   reads Traefik's metrics (every built-in metric, a query on `traefik_service_*` or
//!   `{{service}}`) measures a mix of both tracks, and the request gate counts only the canary's
//!   header-routed requests. Such a check is refused unless it is a `dryRun`; so is the gate
//!   (`minRequests` above 0), and so is a spec where nothing else decides (the default check is a
//!   built-in one too). `skipAnalysis` analyses nothing, so it needs none of this.

use super::{MetricKind, Spec, TrafficMode};
use crate::error::{Error, Result};
use crate::model::{ReplicaPlan, StepPlan};

/// `traffic.replicaTolerance` when the spec does not set it, in percentage points.
pub const DEFAULT_REPLICA_TOLERANCE: u8 = 10;
/// The largest `traffic.replicaTolerance`: beyond it a "canary weight" means nothing.
const MAX_REPLICA_TOLERANCE: u8 = 50;

/// Why Traefik's metrics cannot judge the canary in replicas mode, said after the field.
const BLIND: &str =
    "reads Traefik's metrics, which in replicas mode count the canary's answers as stable's \
     (both tracks' tasks are one Traefik service)";
/// What to do about it.
const FIX: &str = "set analysis.taskMetrics (the apps' own /metrics, scraped per task through \
     Prometheus' Docker Swarm discovery)";

impl Spec {
    /// Replicas mode: the tasks split between stable and the canary, `traffic.totalReplicas`, or
    /// the first app's `stableReplicas` (at least 2).
    pub fn replica_total(&self) -> u64 {
        self.traffic.total_replicas.unwrap_or_else(|| {
            self.apps
                .first()
                .map(|a| a.stable_replicas)
                .unwrap_or(2)
                .max(2)
        })
    }

    /// Replicas mode: how many percentage points a step may be off its weight.
    pub fn replica_tolerance(&self) -> u8 {
        self.traffic
            .replica_tolerance
            .unwrap_or(DEFAULT_REPLICA_TOLERANCE)
    }

    /// Replicas mode: each step's replica counts and how close they come to its weight; `None`
    /// in weighted mode.
    pub fn replica_plan(&self) -> Option<Vec<StepPlan>> {
        if self.traffic.mode != TrafficMode::Replicas {
            return None;
        }
        ReplicaPlan::steps(&self.steps(), self.replica_total()).ok()
    }

    /// The rules of the [module docs](self).
    pub(super) fn check_replicas_mode(&self) -> Result<()> {
        let t = &self.traffic;
        if t.mode != TrafficMode::Replicas {
            if t.replica_tolerance.is_some() {
                return Err(Error::invalid(
                    "traffic.replicaTolerance",
                    "only used in replicas mode",
                ));
            }
            return Ok(());
        }
        let tolerance = self.replica_tolerance();
        if tolerance > MAX_REPLICA_TOLERANCE {
            return Err(Error::invalid(
                "traffic.replicaTolerance",
                format!("{tolerance} is above {MAX_REPLICA_TOLERANCE} percentage points"),
            ));
        }
        self.check_plan(f64::from(tolerance))?;
        if !self.skip_analysis && self.analysis.task_metrics.is_none() {
            self.check_sight()?;
        }
        Ok(())
    }

    fn check_plan(&self, tolerance: f64) -> Result<()> {
        let steps = self.steps();
        let total = self.replica_total();
        let plans = ReplicaPlan::steps(&steps, total)
            .map_err(|e| Error::invalid("traffic.totalReplicas", crate::model::reason_of(&e)))?;
        let Some((i, plan)) = plans.iter().enumerate().find(|(_, p)| !p.within(tolerance)) else {
            return Ok(());
        };
        let field = match (&self.traffic.steps, self.traffic.step_weight) {
            (Some(_), _) => format!("traffic.steps[{i}]"),
            (None, Some(_)) => "traffic.stepWeight".into(),
            (None, None) => "traffic.steps".into(),
        };
        let fix = match ReplicaPlan::smallest_total(&steps, tolerance, self.limits.max_replicas) {
            Some(n) => format!("traffic.totalReplicas: {n} brings every step within it"),
            None => format!(
                "no total up to limits.maxReplicas ({}) brings every step within it; use weighted mode",
                self.limits.max_replicas
            ),
        };
        Err(Error::invalid(
            field,
            format!(
                "over {total} tasks, {}: beyond traffic.replicaTolerance ({tolerance} points); {fix}",
                plan.describe()
            ),
        ))
    }

    /// Without task metrics: nothing that reads Traefik's metrics may decide.
    fn check_sight(&self) -> Result<()> {
        let a = &self.analysis;
        for (i, c) in a.checks.iter().enumerate() {
            if !c.dry_run && reads_traefik(&c.metric) {
                return Err(Error::invalid(
                    format!("analysis.checks[{i}].metric"),
                    format!("{BLIND}: {FIX}, or mark the check dryRun: true"),
                ));
            }
        }
        let judged = a
            .judge
            .as_ref()
            .map(|j| j.metrics.as_slice())
            .unwrap_or(&[]);
        for (i, m) in judged.iter().enumerate() {
            if !m.dry_run && reads_traefik(&m.metric) {
                return Err(Error::invalid(
                    format!("analysis.judge.metrics[{i}].metric"),
                    format!("{BLIND}: {FIX}, or mark the metric dryRun: true"),
                ));
            }
        }
        if a.min_requests > 0 {
            return Err(Error::invalid(
                "analysis.minRequests",
                format!(
                    "the request gate counts the canary's requests from Traefik, which in replicas \
                     mode sees only those routed by the header as the canary's: {FIX}, or set \
                     minRequests: 0"
                ),
            ));
        }
        let decides = a.checks.iter().any(|c| !c.dry_run) || judged.iter().any(|m| !m.dry_run);
        if !decides {
            return Err(Error::invalid(
                "analysis.checks",
                format!(
                    "nothing but the default check would decide, and it {BLIND}: {FIX}, add a \
                     check that sees the canary (a query on the apps' own metrics), or set \
                     skipAnalysis: true"
                ),
            ));
        }
        Ok(())
    }
}

/// Whether `metric` reads Traefik's per-service metrics: every built-in metric does (without
/// task metrics), and so does a query on `traefik_service_*` series or on `{{service}}`, the
/// Traefik service's name.
fn reads_traefik(metric: &MetricKind) -> bool {
    use MetricKind::*;
    if matches!(
        metric,
        RequestCount | RequestRate | ErrorCount | SuccessRate | ErrorRate | Latency(_)
    ) {
        return true;
    }
    match metric {
        Query(q) => q.contains("traefik_service_") || placeholders(q).any(|p| p == "service"),
        _ => false,
    }
}

/// The placeholders of a query template, trimmed (`{{ service }}` is `service`).
fn placeholders(q: &str) -> impl Iterator<Item = &str> {
    q.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(key, _)| key.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_reads_traefik() {
        assert!(reads_traefik(&MetricKind::SuccessRate));
        assert!(reads_traefik(&MetricKind::Latency(0.99)));
        assert!(reads_traefik(&MetricKind::Query(
            "sum(rate(traefik_service_requests_total[1m]))".into()
        )));
        assert!(reads_traefik(&MetricKind::Query(
            "sum(rate(my_requests{svc=\"{{ service }}\"}[{{window}}]))".into()
        )));
        assert!(!reads_traefik(&MetricKind::Query(
            "sum(rate(http_requests_total{swarm_service=\"{{swarmService}}\"}[{{window}}]))".into()
        )));
        assert!(!reads_traefik(&MetricKind::Query(
            "sum(rate(http_requests_total{track=\"{{track}}\"}[1m]))".into()
        )));
        assert_eq!(
            placeholders("a{{x}}b{{ y }}{{z").collect::<Vec<_>>(),
            ["x", "y"]
        );
    }
}
