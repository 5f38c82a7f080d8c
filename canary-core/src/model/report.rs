//! What an analysis found: per check, per judged metric, per app, and the verdict. Plain data,
//! saved in the rollout state and carried by events.

use serde::{Deserialize, Serialize};

/// The verdict of a check, a judged metric or a whole analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Verdict {
    /// Good enough to go on.
    Pass,
    /// Bad: counts towards the failure limit (a critical failure rolls back at once).
    Fail,
    /// Not enough data, or an error: counts towards the inconclusive limit, never a pass.
    Inconclusive,
}

/// How the judge classified one metric (Kayenta's classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Classification {
    /// No significant difference (or within the effect-size tolerance).
    Pass,
    /// Canary significantly higher.
    High,
    /// Canary significantly lower.
    Low,
    /// Too few samples.
    NoData,
}

/// The outcome of one check for one app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// The app it was run for.
    pub app: String,
    /// The metric's label.
    pub metric: String,
    /// Canary's value, if measured.
    pub canary: Option<f64>,
    /// Stable's value, if measured (relative checks).
    pub stable: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Whether the check is critical.
    pub critical: bool,
    /// A dry-run check: measured and reported, never counted in the analysis' verdict.
    #[serde(default)]
    pub dry_run: bool,
    /// Why, in words.
    pub reason: String,
}

/// One metric as judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgedMetric {
    /// The metric's name.
    pub name: String,
    /// The class.
    pub classification: Classification,
    /// Whether that class is a pass given the metric's bad direction.
    pub passed: bool,
    /// Mann-Whitney U of the canary sample.
    pub u: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Canary median.
    pub canary_median: Option<f64>,
    /// Stable median.
    pub stable_median: Option<f64>,
    /// Samples per track.
    pub samples: (usize, usize),
    /// Weight in the score.
    pub weight: f64,
    /// Whether critical.
    pub critical: bool,
    /// A dry-run metric: judged and reported, never counted in the score or the verdict.
    #[serde(default)]
    pub dry_run: bool,
    /// Why this class: medians, shift, p-value against alpha; or the error that left no data.
    #[serde(default)]
    pub reason: String,
}

/// The judge's result for one app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgeReport {
    /// The app.
    pub app: String,
    /// Each metric.
    pub metrics: Vec<JudgedMetric>,
    /// Score 0–100 (weighted share of passing metrics).
    pub score: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub reason: String,
    /// True when a critical metric failed.
    #[serde(default)]
    pub critical_failure: bool,
    /// Every metric of this judge is a dry run: the judge is scored over all of them and
    /// reported, and its verdict is not counted in the analysis' verdict.
    #[serde(default)]
    pub dry_run: bool,
}

/// The analysis of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisReport {
    /// The overall verdict.
    pub verdict: Verdict,
    /// True when a critical check or metric failed (roll back at once).
    pub critical_failure: bool,
    /// Each check for each app.
    pub checks: Vec<CheckResult>,
    /// The judge per app, if configured.
    pub judges: Vec<JudgeReport>,
    /// A one-line summary of why.
    pub summary: String,
}
