//! The statistical judge, after Spinnaker Kayenta: each metric's canary samples are compared with
//! stable's by a two-sided Mann-Whitney U test, classified, and the classes weighed into a score.
//!
//! For one metric ([`judge_metric`]):
//! - fewer than `minSamples` finite samples on either track: [`Classification::NoData`];
//! - p-value below `alpha = 1 - confidence`, **and** the relative shift of the canary's median
//!   from stable's (`(canary - stable) / |stable|`) beyond `effectSize` in the same direction:
//!   [`Classification::High`] or [`Classification::Low`] (the direction is the test's: U of the
//!   canary above or below `n1·n2/2`). With `effectSize: 0` significance alone decides;
//! - otherwise [`Classification::Pass`].
//!
//! Whether a class passes depends on the metric's bad direction ([`passes`]): by default latency
//! and errors must not go up, success rate and request rates must not go down; `either` fails on
//! any significant difference. NoData never passes.
//!
//! For the set of metrics ([`score`]): the score is `100 × weight of passing metrics / weight of
//! metrics with data` (NoData metrics are left out of both, so missing data cannot fail a canary
//! either). A score at or above `passScore` passes, at or above `marginalScore` is inconclusive,
//! below it fails. Then: any NoData metric caps the verdict at inconclusive (never promote on
//! missing data), and a critical metric that failed makes the verdict fail with a critical failure.
//!
//! A `dryRun` metric is judged and reported but left out of the score, the no-data cap and the
//! critical failure; its class is named in the reason after `dry run:`. When every metric is a
//! dry run, the judge is scored over all of them and its report is marked `dry_run`, so the
//! analysis does not count it.

use super::stats::{mann_whitney_u, median};
use super::{fmt_num, Classification, JudgeReport, JudgedMetric, Verdict};
use crate::spec::{Direction, JudgeMetric, JudgeSpec, MetricKind};

/// The direction in which a metric gets worse: the explicit one, or the metric's natural one
/// ([`MetricKind::higher_is_worse`]).
pub fn bad_direction(explicit: Option<Direction>, kind: &MetricKind) -> Direction {
    explicit.unwrap_or(if kind.higher_is_worse() {
        Direction::Increase
    } else {
        Direction::Decrease
    })
}

/// Whether a class is a pass for a metric whose bad direction is `bad`. NoData never is.
pub fn passes(classification: Classification, bad: Direction) -> bool {
    match classification {
        Classification::Pass => true,
        Classification::NoData => false,
        Classification::High => bad == Direction::Decrease,
        Classification::Low => bad == Direction::Increase,
    }
}

/// Judges one metric from its canary and stable samples (non-finite values are dropped first).
pub fn judge_metric(
    judge: &JudgeSpec,
    metric: &JudgeMetric,
    canary: &[f64],
    stable: &[f64],
) -> JudgedMetric {
    let canary: Vec<f64> = canary.iter().copied().filter(|v| v.is_finite()).collect();
    let stable: Vec<f64> = stable.iter().copied().filter(|v| v.is_finite()).collect();
    let bad = bad_direction(metric.direction, &metric.metric);
    let canary_median = median(&canary);
    let stable_median = median(&stable);
    let mut out = JudgedMetric {
        name: metric.name.clone(),
        classification: Classification::NoData,
        passed: false,
        u: None,
        p_value: None,
        canary_median,
        stable_median,
        samples: (canary.len(), stable.len()),
        weight: metric.weight,
        critical: metric.critical,
        dry_run: metric.dry_run,
        reason: String::new(),
    };
    if canary.len() < judge.min_samples || stable.len() < judge.min_samples {
        out.reason = format!(
            "canary has {} samples, stable {}: fewer than minSamples {}",
            canary.len(),
            stable.len(),
            judge.min_samples
        );
        return out;
    }
    let (Some(test), Some(cm), Some(sm)) = (
        mann_whitney_u(&canary, &stable),
        canary_median,
        stable_median,
    ) else {
        // Unreachable with non-empty finite samples; still, no test is no data.
        out.reason = "no test possible on these samples".into();
        return out;
    };
    out.u = Some(test.u);
    out.p_value = Some(test.p_value);
    let alpha = 1.0 - judge.confidence;
    let shift = relative_shift(cm, sm);
    let figures = format!(
        "canary median {} vs stable {} ({}), U={}, p={:.4}",
        fmt_num(cm),
        fmt_num(sm),
        fmt_shift(shift),
        test.u,
        test.p_value
    );
    let significant = test.p_value < alpha;
    let direction = test.shift();
    out.classification = if !significant || direction == 0.0 {
        out.reason = format!(
            "{figures} ≥ alpha {}: no significant difference",
            fmt_alpha(alpha)
        );
        Classification::Pass
    } else {
        let higher = direction > 0.0;
        let beyond = judge.effect_size == 0.0
            || if higher {
                shift > judge.effect_size
            } else {
                shift < -judge.effect_size
            };
        if beyond {
            out.reason = format!(
                "{figures} < alpha {}: canary significantly {}",
                fmt_alpha(alpha),
                if higher { "higher" } else { "lower" }
            );
            if higher {
                Classification::High
            } else {
                Classification::Low
            }
        } else {
            out.reason = format!(
                "{figures} < alpha {}, but the median shift is within effectSize {}",
                fmt_alpha(alpha),
                fmt_shift(judge.effect_size)
            );
            Classification::Pass
        }
    };
    out.passed = passes(out.classification, bad);
    out
}

/// A metric the judge could not get samples for (an error, a timeout): no data, with why.
pub fn no_data(metric: &JudgeMetric, reason: impl Into<String>) -> JudgedMetric {
    JudgedMetric {
        name: metric.name.clone(),
        classification: Classification::NoData,
        passed: false,
        u: None,
        p_value: None,
        canary_median: None,
        stable_median: None,
        samples: (0, 0),
        weight: metric.weight,
        critical: metric.critical,
        dry_run: metric.dry_run,
        reason: reason.into(),
    }
}

/// Weighs judged metrics into the judge's score and verdict for one app (see the module docs).
pub fn score(app: &str, judge: &JudgeSpec, metrics: Vec<JudgedMetric>) -> JudgeReport {
    // Dry-run metrics are left out, unless every metric is one: then the judge is itself a dry
    // run, scored over all of them so its report says what it would have decided.
    let dry_run = !metrics.is_empty() && metrics.iter().all(|m| m.dry_run);
    let counted = || metrics.iter().filter(|m| dry_run || !m.dry_run);
    let judged = || counted().filter(|m| m.classification != Classification::NoData);
    // Folded from +0.0: an empty float `sum()` is -0.0, which would print as "score -0".
    let total = judged().fold(0.0, |a, m| a + m.weight);
    let passing = judged().filter(|m| m.passed).fold(0.0, |a, m| a + m.weight);
    let score = if total > 0.0 {
        100.0 * passing / total
    } else {
        0.0
    };
    let no_data: Vec<&str> = counted()
        .filter(|m| m.classification == Classification::NoData)
        .map(|m| m.name.as_str())
        .collect();
    let failed: Vec<String> = judged()
        .filter(|m| !m.passed)
        .map(|m| format!("{} {}", m.name, class_word(m.classification)))
        .collect();
    let critical: Vec<String> = judged()
        .filter(|m| m.critical && !m.passed)
        .map(|m| format!("{} {}", m.name, class_word(m.classification)))
        .collect();
    let critical_failure = !critical.is_empty();

    let mut reason = if total > 0.0 {
        format!("score {}", fmt_score(score))
    } else {
        "no metric has data".to_string()
    };
    if !failed.is_empty() {
        reason.push_str(&format!(" ({})", failed.join(", ")));
    }
    let verdict = if critical_failure {
        reason.push_str(&format!(
            "; critical metric failed: {}",
            critical.join(", ")
        ));
        Verdict::Fail
    } else if total == 0.0 {
        Verdict::Inconclusive
    } else if score >= judge.pass_score {
        reason.push_str(&format!(" ≥ pass {}", fmt_score(judge.pass_score)));
        Verdict::Pass
    } else if score >= judge.marginal_score {
        reason.push_str(&format!(
            " < pass {}, ≥ marginal {}",
            fmt_score(judge.pass_score),
            fmt_score(judge.marginal_score)
        ));
        Verdict::Inconclusive
    } else {
        reason.push_str(&format!(" < marginal {}", fmt_score(judge.marginal_score)));
        Verdict::Fail
    };
    let verdict = if no_data.is_empty() {
        verdict
    } else {
        reason.push_str(&format!("; no data for {}", no_data.join(", ")));
        if verdict == Verdict::Pass {
            Verdict::Inconclusive
        } else {
            verdict
        }
    };
    let dry: Vec<String> = metrics
        .iter()
        .filter(|m| m.dry_run && !dry_run)
        .map(|m| format!("{} {}", m.name, class_word(m.classification)))
        .collect();
    if !dry.is_empty() {
        reason.push_str(&format!("; dry run: {}", dry.join(", ")));
    }
    JudgeReport {
        app: app.to_string(),
        metrics,
        score,
        verdict,
        reason,
        critical_failure,
        dry_run,
    }
}

/// `(canary - stable) / |stable|`; 0 when both are 0, ±∞ when only stable is.
fn relative_shift(canary: f64, stable: f64) -> f64 {
    if canary == stable {
        0.0
    } else if stable == 0.0 {
        if canary > 0.0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        }
    } else {
        (canary - stable) / stable.abs()
    }
}

fn fmt_shift(shift: f64) -> String {
    if shift.is_infinite() {
        if shift > 0.0 {
            "up from 0"
        } else {
            "down from 0"
        }
        .to_string()
    } else {
        format!("{:+.1}%", shift * 100.0)
    }
}

fn fmt_alpha(alpha: f64) -> String {
    // 1 - 0.95 is 0.050000000000000044: show what the user meant.
    format!("{}", (alpha * 1e9).round() / 1e9)
}

pub(super) fn fmt_score(score: f64) -> String {
    if score.fract() == 0.0 {
        format!("{score:.0}")
    } else {
        format!("{score:.1}")
    }
}

fn class_word(c: Classification) -> &'static str {
    match c {
        Classification::Pass => "pass",
        Classification::High => "high",
        Classification::Low => "low",
        Classification::NoData => "no data",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(metrics: Vec<JudgeMetric>) -> JudgeSpec {
        JudgeSpec {
            metrics,
            confidence: 0.95,
            effect_size: 0.0,
            pass_score: 95.0,
            marginal_score: 75.0,
            min_samples: 5,
        }
    }

    fn metric(name: &str, kind: MetricKind) -> JudgeMetric {
        JudgeMetric {
            name: name.into(),
            metric: kind,
            direction: None,
            weight: 1.0,
            critical: false,
            dry_run: false,
        }
    }

    /// 20 values around `centre`, spread ±0.95 (no ties inside one sample).
    fn around(centre: f64) -> Vec<f64> {
        (0..20).map(|i| centre + (i as f64 - 9.5) / 10.0).collect()
    }

    #[test]
    fn default_bad_directions() {
        assert_eq!(
            bad_direction(None, &MetricKind::Latency(0.99)),
            Direction::Increase
        );
        assert_eq!(
            bad_direction(None, &MetricKind::ErrorRate),
            Direction::Increase
        );
        assert_eq!(
            bad_direction(None, &MetricKind::SuccessRate),
            Direction::Decrease
        );
        assert_eq!(
            bad_direction(None, &MetricKind::RequestRate),
            Direction::Decrease
        );
        assert_eq!(
            bad_direction(Some(Direction::Either), &MetricKind::SuccessRate),
            Direction::Either
        );
    }

    #[test]
    fn pass_table() {
        use Classification::*;
        use Direction::*;
        for (c, bad, ok) in [
            (Pass, Increase, true),
            (Pass, Either, true),
            (High, Increase, false),
            (High, Decrease, true),
            (High, Either, false),
            (Low, Increase, true),
            (Low, Decrease, false),
            (Low, Either, false),
            (NoData, Increase, false),
            (NoData, Either, false),
        ] {
            assert_eq!(passes(c, bad), ok, "{c:?} with bad direction {bad:?}");
        }
    }

    #[test]
    fn classifies_high_low_pass_and_no_data() {
        let j = spec(vec![]);
        let latency = metric("latency", MetricKind::Latency(0.99));

        let high = judge_metric(&j, &latency, &around(5.0), &around(3.0));
        assert_eq!(high.classification, Classification::High);
        assert!(!high.passed, "latency up is bad");
        assert!(high.p_value.unwrap() < 0.05);
        assert_eq!(high.canary_median, Some(5.0));
        assert_eq!(high.stable_median, Some(3.0));
        assert!(
            high.reason.contains("significantly higher"),
            "{}",
            high.reason
        );

        let low = judge_metric(&j, &latency, &around(3.0), &around(5.0));
        assert_eq!(low.classification, Classification::Low);
        assert!(low.passed, "latency down is fine");

        let same = judge_metric(&j, &latency, &around(3.0), &around(3.05));
        assert_eq!(same.classification, Classification::Pass);
        assert!(same.passed);
        assert!(same.p_value.unwrap() > 0.05);

        let few = judge_metric(&j, &latency, &[1.0, 2.0, 3.0, 4.0], &around(3.0));
        assert_eq!(few.classification, Classification::NoData);
        assert!(!few.passed);
        assert_eq!(few.samples, (4, 20));
        assert!(
            few.reason.contains("fewer than minSamples 5"),
            "{}",
            few.reason
        );

        // NaN samples are dropped before counting.
        let nan = judge_metric(&j, &latency, &[1.0, 2.0, 3.0, 4.0, f64::NAN], &around(3.0));
        assert_eq!(nan.classification, Classification::NoData);
    }

    #[test]
    fn u_and_p_of_a_judged_metric_are_the_tests() {
        // Samples [5.0 ± 0.95] against [3.0 ± 0.95]: canary 4.05..5.95, stable 2.05..3.95, so
        // every canary value is above every stable one: U1 = 400. scipy:
        // mannwhitneyu([5+(i-9.5)/10 for i in range(20)], [3+(i-9.5)/10 for i in range(20)])
        // → MannwhitneyuResult(statistic=400.0, pvalue=6.795615128173358e-08)
        let j = spec(vec![]);
        let m = judge_metric(
            &j,
            &metric("latency", MetricKind::Latency(0.5)),
            &around(5.0),
            &around(3.0),
        );
        assert_eq!(m.u, Some(400.0));
        let p = m.p_value.unwrap();
        assert!(
            ((p - 6.795615128173358e-08) / 6.795615128173358e-08).abs() < 1e-10,
            "{p}"
        );
    }

    #[test]
    fn effect_size_tolerates_small_significant_shifts() {
        let mut j = spec(vec![]);
        let latency = metric("latency", MetricKind::Latency(0.99));
        // Medians 100 vs 95: +5.3 %, clearly significant with 20 tight samples.
        let canary: Vec<f64> = (0..20).map(|i| 100.0 + i as f64 * 0.01).collect();
        let stable: Vec<f64> = (0..20).map(|i| 95.0 + i as f64 * 0.01).collect();
        assert_eq!(
            judge_metric(&j, &latency, &canary, &stable).classification,
            Classification::High
        );
        j.effect_size = 0.1;
        let tolerated = judge_metric(&j, &latency, &canary, &stable);
        assert_eq!(tolerated.classification, Classification::Pass);
        assert!(
            tolerated.reason.contains("within effectSize"),
            "{}",
            tolerated.reason
        );
        j.effect_size = 0.05;
        assert_eq!(
            judge_metric(&j, &latency, &canary, &stable).classification,
            Classification::High
        );
        // Lower by 5 %, beyond 4 %: Low.
        j.effect_size = 0.04;
        assert_eq!(
            judge_metric(&j, &latency, &stable, &canary).classification,
            Classification::Low
        );
    }

    #[test]
    fn confidence_sets_alpha() {
        // Two shifted but overlapping samples with p between 0.01 and 0.05.
        let canary = [
            1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0,
        ];
        let stable = [
            4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5,
        ];
        let p = mann_whitney_u(&canary, &stable).unwrap().p_value;
        assert!(p > 0.01 && p < 0.05, "p = {p}");
        let m = metric("errors", MetricKind::ErrorRate);
        let mut j = spec(vec![]);
        assert_eq!(
            judge_metric(&j, &m, &canary, &stable).classification,
            Classification::Low
        );
        j.confidence = 0.99;
        assert_eq!(
            judge_metric(&j, &m, &canary, &stable).classification,
            Classification::Pass
        );
    }

    #[test]
    fn stable_median_of_zero() {
        let j = spec(vec![]);
        let m = metric("errors", MetricKind::ErrorRate);
        let canary = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        let stable = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let r = judge_metric(&j, &m, &canary, &stable);
        assert_eq!(r.classification, Classification::High);
        assert!(r.reason.contains("up from 0"), "{}", r.reason);
        let same = judge_metric(&j, &m, &stable, &stable);
        assert_eq!(same.classification, Classification::Pass);
        assert_eq!(same.p_value, Some(1.0));
    }

    fn judged(
        name: &str,
        class: Classification,
        passed: bool,
        weight: f64,
        critical: bool,
    ) -> JudgedMetric {
        JudgedMetric {
            name: name.into(),
            classification: class,
            passed,
            u: None,
            p_value: None,
            canary_median: None,
            stable_median: None,
            samples: (10, 10),
            weight,
            critical,
            dry_run: false,
            reason: String::new(),
        }
    }

    #[test]
    fn scores_and_verdicts() {
        use Classification::*;
        let j = spec(vec![]);
        let all_pass = score(
            "api",
            &j,
            vec![
                judged("a", Pass, true, 1.0, false),
                judged("b", Low, true, 2.0, false),
            ],
        );
        assert_eq!(all_pass.score, 100.0);
        assert_eq!(all_pass.verdict, Verdict::Pass);
        assert!(!all_pass.critical_failure);
        assert!(
            all_pass.reason.contains("score 100 ≥ pass 95"),
            "{}",
            all_pass.reason
        );

        // 3 of 4 weight passes: 75 → marginal → inconclusive.
        let marginal = score(
            "api",
            &j,
            vec![
                judged("a", Pass, true, 3.0, false),
                judged("b", High, false, 1.0, false),
            ],
        );
        assert_eq!(marginal.score, 75.0);
        assert_eq!(marginal.verdict, Verdict::Inconclusive);
        assert!(marginal.reason.contains("(b high)"), "{}", marginal.reason);

        // Nothing passes: score 0, printed without a sign (an empty float sum is -0.0).
        let none = score("api", &j, vec![judged("a", High, false, 1.0, true)]);
        assert!(none.score == 0.0 && none.score.is_sign_positive());
        assert!(none.reason.starts_with("score 0 ("), "{}", none.reason);

        // 2 of 3: 66.7 → fail.
        let fail = score(
            "api",
            &j,
            vec![
                judged("a", Pass, true, 1.0, false),
                judged("b", Pass, true, 1.0, false),
                judged("c", Low, false, 1.0, false),
            ],
        );
        assert!((fail.score - 200.0 / 3.0).abs() < 1e-12);
        assert_eq!(fail.verdict, Verdict::Fail);
        assert!(
            fail.reason.contains("score 66.7 (c low) < marginal 75"),
            "{}",
            fail.reason
        );
        assert!(!fail.critical_failure);

        // A critical metric failing fails everything, whatever the score.
        let critical = score(
            "api",
            &j,
            vec![
                judged("a", Pass, true, 99.0, false),
                judged("lat", High, false, 1.0, true),
            ],
        );
        assert_eq!(critical.score, 99.0);
        assert_eq!(critical.verdict, Verdict::Fail);
        assert!(critical.critical_failure);
        assert!(
            critical.reason.contains("critical metric failed: lat high"),
            "{}",
            critical.reason
        );
    }

    #[test]
    fn no_data_is_never_a_pass() {
        use Classification::*;
        let j = spec(vec![]);
        // The judged metrics all pass, but one has no data: inconclusive, score over the rest.
        let r = score(
            "api",
            &j,
            vec![
                judged("a", Pass, true, 1.0, false),
                judged("b", NoData, false, 5.0, false),
            ],
        );
        assert_eq!(r.score, 100.0);
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.contains("no data for b"), "{}", r.reason);
        // Nothing has data: inconclusive, not a failure.
        let none = score("api", &j, vec![judged("a", NoData, false, 1.0, true)]);
        assert_eq!(none.score, 0.0);
        assert_eq!(none.verdict, Verdict::Inconclusive);
        assert!(
            !none.critical_failure,
            "a critical metric without data is inconclusive, not failed"
        );
        // Missing data does not rescue a failing score.
        let bad = score(
            "api",
            &j,
            vec![
                judged("a", High, false, 1.0, false),
                judged("b", NoData, false, 1.0, false),
            ],
        );
        assert_eq!(bad.verdict, Verdict::Fail);
        // An error while fetching becomes no data with the error as reason.
        let e = no_data(&metric("lat", MetricKind::Latency(0.9)), "timed out");
        assert_eq!(e.classification, NoData);
        assert_eq!(e.reason, "timed out");
    }

    #[test]
    fn dry_run_metrics_are_judged_but_not_counted() {
        use Classification::*;
        let j = spec(vec![]);
        let dry = |name: &str, class, passed, critical| JudgedMetric {
            dry_run: true,
            ..judged(name, class, passed, 1.0, critical)
        };
        // A critical dry-run metric that fails, and one without data: the score, the verdict and
        // the critical flag are the deciding metric's alone.
        let r = score(
            "api",
            &j,
            vec![
                judged("a", Pass, true, 1.0, false),
                dry("lat", High, false, true),
                dry("new", NoData, false, false),
            ],
        );
        assert_eq!(r.score, 100.0);
        assert_eq!(r.verdict, Verdict::Pass);
        assert!(!r.critical_failure && !r.dry_run);
        assert!(
            r.reason.contains("dry run: lat high, new no data"),
            "{}",
            r.reason
        );
        assert_eq!(r.metrics.iter().filter(|m| m.dry_run).count(), 2);
        // Every metric a dry run: scored over them, and the report is a dry run.
        let all = score(
            "api",
            &j,
            vec![dry("lat", High, false, true), dry("b", Pass, true, false)],
        );
        assert!(all.dry_run);
        assert_eq!(all.score, 50.0);
        assert_eq!(all.verdict, Verdict::Fail);
        assert!(all.critical_failure, "what it would have decided");
        // judge_metric carries the flag from the spec.
        let mut m = metric("lat", MetricKind::Latency(0.9));
        m.dry_run = true;
        assert!(judge_metric(&j, &m, &around(5.0), &around(3.0)).dry_run);
        assert!(no_data(&m, "x").dry_run);
    }

    #[test]
    fn either_direction_fails_on_any_difference() {
        let j = spec(vec![]);
        let mut m = metric("rate", MetricKind::RequestRate);
        m.direction = Some(Direction::Either);
        let up = judge_metric(&j, &m, &around(5.0), &around(3.0));
        let down = judge_metric(&j, &m, &around(3.0), &around(5.0));
        assert!(!up.passed && !down.passed);
        m.direction = None; // request rate: lower is bad
        assert!(judge_metric(&j, &m, &around(5.0), &around(3.0)).passed);
        assert!(!judge_metric(&j, &m, &around(3.0), &around(5.0)).passed);
    }
}
