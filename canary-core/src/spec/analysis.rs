//! How each step is judged: threshold and relative checks, and the statistical judge.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::{
    default_confidence, default_marginal_score, default_min_requests, default_min_samples,
    default_pass_score, one_f, two_u32,
};
use super::{MetricKind, TaskMetricsSpec};
use crate::model::HumanDuration;

/// What to do when analysis stays inconclusive past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum InconclusiveAction {
    /// Roll the canary back (default).
    #[default]
    Rollback,
    /// Pause and wait for a person to resume, promote or abort.
    Pause,
}

/// Which direction of change is bad for a metric.
// In rustdoc only: the JSON Schema takes its descriptions from the doc comments.
#[cfg_attr(
    doc,
    doc = "",
    doc = "Deliberately exhaustive: up, down or either covers every direction a change can take."
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// Higher canary values are bad (errors, latency).
    Increase,
    /// Lower canary values are bad (success rate).
    Decrease,
    /// Any significant difference is bad.
    Either,
}

/// A comparison of the canary with stable over the same window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelativeCheck {
    /// Allowed absolute difference in the bad direction (e.g. 0.01 = one point of error rate).
    #[serde(default)]
    pub tolerance: f64,
    /// Which direction is bad. Default: from the metric (errors and latency up, success down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

/// One analysis check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckSpec {
    /// The check's name in reports.
    pub name: String,
    /// What is measured.
    pub metric: MetricKind,
    /// The canary value must be at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The canary value must be at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Compare with stable's value over the same window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<RelativeCheck>,
    /// A failed critical check rolls back at once, whatever the failure limit.
    #[serde(default)]
    pub critical: bool,
    /// Run the check and report it (events, status, the exporter) without letting it decide
    /// anything: a way to try a new check without risking a false rollback. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// A metric the statistical judge compares between canary and stable samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JudgeMetric {
    /// The metric name in reports.
    pub name: String,
    /// What is sampled.
    pub metric: MetricKind,
    /// Which direction is bad. Default: from the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Weight in the score. Default 1.
    #[serde(default = "one_f")]
    pub weight: f64,
    /// A critical metric that fails fails the whole analysis.
    #[serde(default)]
    pub critical: bool,
    /// Judge the metric and report its class without counting it in the score or the verdict.
    /// Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// The statistical judge (Mann-Whitney U, as Spinnaker Kayenta does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JudgeSpec {
    /// The metrics judged.
    pub metrics: Vec<JudgeMetric>,
    /// Confidence level of the two-sided test. Default 0.95.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Relative effect size tolerated even when significant: 0.1 ignores a 10 % shift of the
    /// median. Default 0.
    #[serde(default)]
    pub effect_size: f64,
    /// Score (0–100) at or above which the analysis passes. Default 95.
    #[serde(default = "default_pass_score")]
    pub pass_score: f64,
    /// Score at or above which (and below pass) the result is marginal, i.e. inconclusive. Default 75.
    #[serde(default = "default_marginal_score")]
    pub marginal_score: f64,
    /// Fewest samples per track for a verdict; fewer is "no data". Default 5.
    #[serde(default = "default_min_samples")]
    pub min_samples: usize,
}

/// How each step is analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisSpec {
    /// Metrics window. Default: the step interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<HumanDuration>,
    /// Continuous analysis: besides the verdict at the end of each step, the checks also run
    /// this often while the step waits, over the window (or the time since the canary got
    /// traffic, if shorter), and a failed critical check rolls back at once, mid-step. The
    /// request gate (`minRequests`) holds for these runs too. 500ms to 1h; off by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<HumanDuration>,
    /// Failed analyses tolerated; one more rolls back. Default 0.
    #[serde(default)]
    pub failure_limit: u32,
    /// Inconclusive analyses tolerated; one more triggers `onInconclusive`. Default 2.
    #[serde(default = "two_u32")]
    pub inconclusive_limit: u32,
    /// What happens past the inconclusive limit. Default rollback.
    #[serde(default)]
    pub on_inconclusive: InconclusiveAction,
    /// Fewest canary requests in the window for a verdict; fewer is "no data". Default 10.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    /// Threshold and relative checks.
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    /// The statistical judge, if wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeSpec>,
    /// Read the built-in metrics from the apps' own counters, scraped per task, instead of
    /// Traefik's per-service ones: each track's figures are its own in every traffic mode, and
    /// replicas mode needs it for checks that decide. See [`TaskMetricsSpec`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_metrics: Option<TaskMetricsSpec>,
}

impl Default for AnalysisSpec {
    fn default() -> Self {
        AnalysisSpec {
            window: None,
            every: None,
            failure_limit: 0,
            inconclusive_limit: 2,
            on_inconclusive: InconclusiveAction::Rollback,
            min_requests: default_min_requests(),
            checks: Vec::new(),
            judge: None,
            task_metrics: None,
        }
    }
}
