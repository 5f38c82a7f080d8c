//! The checks: the default analysis, thresholds, relative and critical checks, no data, minimum
//! requests, and the report as data.

use super::*;

// ---- the default analysis -------------------------------------------------------------------

#[tokio::test]
async fn default_analysis_passes_healthy_canaries() {
    let fake = Fake::new()
        .requests(1520.0)
        .value(
            API,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(0.995),
        );
    let report = run(&spec("  minRequests: 10"), &fake).await;
    assert_eq!(report.verdict, Verdict::Pass);
    assert!(!report.critical_failure);
    assert_eq!(
        report.checks.len(),
        4,
        "gate + default successRate check per app"
    );
    let c = check(&report, API, "successRate");
    assert_eq!(
        (c.canary, c.verdict, c.critical),
        (Some(1.0), Verdict::Pass, false)
    );
    assert_eq!(c.reason, "successRate 1.000 (min 0.99)");
    assert_eq!(check(&report, GCP, MIN_REQUESTS_CHECK).canary, Some(1520.0));
    assert!(report.judges.is_empty());
    assert_eq!(
        report.summary,
        "neotix-api: pass (1520 requests, successRate 1.000); gcp-deployment-api: pass (1520 requests, successRate 0.995)"
    );
    // Every query covered the window; only the canary was asked (no relative check).
    let queries = fake.queries.lock().unwrap();
    assert_eq!(queries.len(), 4);
    assert!(queries
        .iter()
        .all(|q| q.window == WINDOW && q.track == Track::Canary));
}

#[tokio::test]
async fn default_analysis_fails_a_bad_canary_and_says_why() {
    let fake = Fake::new()
        .requests(300.0)
        .value(
            API,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(0.703),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        );
    let report = run(&spec("  minRequests: 10"), &fake).await;
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(
        !report.critical_failure,
        "the default check is not critical"
    );
    let c = check(&report, API, "successRate");
    assert_eq!(c.verdict, Verdict::Fail);
    assert_eq!(c.reason, "successRate 0.703 < min 0.99");
    assert_eq!(
        report.summary,
        "neotix-api: successRate 0.703 < min 0.99; gcp-deployment-api: pass (300 requests, successRate 1.000)"
    );
}

#[test]
fn default_checks_are_documented_ones() {
    let d = default_checks();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].metric, MetricKind::SuccessRate);
    assert_eq!(d[0].min, Some(0.99));
    assert!(!d[0].critical && d[0].max.is_none() && d[0].relative.is_none());
}

// ---- thresholds ------------------------------------------------------------------------------

#[tokio::test]
async fn threshold_max_and_min() {
    let s = spec(
        "  checks:
    - name: p99
      metric: {latency: 0.99}
      max: 0.5
    - name: errors
      metric: errorCount
      min: 0
      max: 10",
    );
    let fake = Fake::new()
        .requests(1000.0)
        .value(
            API,
            Track::Canary,
            MetricKind::Latency(0.99),
            Reply::Value(0.812),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::Latency(0.99),
            Reply::Value(0.25),
        )
        .value(
            API,
            Track::Canary,
            MetricKind::ErrorCount,
            Reply::Value(3.0),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::ErrorCount,
            Reply::Value(11.0),
        );
    let report = run(&s, &fake).await;
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(
        check(&report, API, "p99").reason,
        "latency(p99) 0.812 > max 0.5"
    );
    assert_eq!(check(&report, API, "errors").verdict, Verdict::Pass);
    assert_eq!(
        check(&report, API, "errors").reason,
        "errorCount 3 (min 0, max 10)"
    );
    assert_eq!(check(&report, GCP, "p99").verdict, Verdict::Pass);
    assert_eq!(
        check(&report, GCP, "errors").reason,
        "errorCount 11 > max 10"
    );
    assert_eq!(
        report.summary,
        "neotix-api: latency(p99) 0.812 > max 0.5 [p99]; gcp-deployment-api: errorCount 11 > max 10 [errors]"
    );
    // No default check once checks are given.
    assert_eq!(fake.queried(&MetricKind::SuccessRate), 0);
}

#[tokio::test]
async fn threshold_bounds_are_inclusive() {
    let s = spec("  checks:\n    - name: successRate\n      metric: successRate\n      min: 0.99");
    let fake = Fake::new()
        .requests(100.0)
        .value(
            API,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(0.99),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(0.99),
        );
    assert_eq!(run(&s, &fake).await.verdict, Verdict::Pass);
}

// ---- relative checks -------------------------------------------------------------------------

fn relative_spec(metric: &str, tolerance: f64, direction: Option<&str>) -> Spec {
    let dir = direction
        .map(|d| format!("\n        direction: {d}"))
        .unwrap_or_default();
    spec(&format!(
        "  checks:
    - name: vs-stable
      metric: {metric}
      relative:
        tolerance: {tolerance}{dir}"
    ))
}

#[tokio::test]
async fn relative_error_rate_beyond_tolerance_fails() {
    let s = relative_spec("errorRate", 0.01, None);
    let fake = Fake::new()
        .requests(1000.0)
        .value(
            API,
            Track::Canary,
            MetricKind::ErrorRate,
            Reply::Value(0.05),
        )
        .value(
            API,
            Track::Stable,
            MetricKind::ErrorRate,
            Reply::Value(0.01),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::ErrorRate,
            Reply::Value(0.015),
        )
        .value(
            GCP,
            Track::Stable,
            MetricKind::ErrorRate,
            Reply::Value(0.01),
        );
    let report = run(&s, &fake).await;
    assert_eq!(report.verdict, Verdict::Fail);
    let api = check(&report, API, "vs-stable");
    assert_eq!(
        (api.canary, api.stable, api.verdict),
        (Some(0.05), Some(0.01), Verdict::Fail)
    );
    assert_eq!(
        api.reason,
        "errorRate 0.050 > stable 0.010 + tolerance 0.01"
    );
    let gcp = check(&report, GCP, "vs-stable");
    assert_eq!(gcp.verdict, Verdict::Pass, "{}", gcp.reason);
    assert_eq!(
        gcp.reason,
        "errorRate 0.015 (≤ stable 0.010 + tolerance 0.01)"
    );
    assert!(
        report.summary.ends_with(
            "gcp-deployment-api: pass (1000 requests, errorRate 0.015 vs stable 0.010 [vs-stable])"
        ),
        "{}",
        report.summary
    );
    // A lower error rate than stable is never a failure.
    let better = Fake::new()
        .requests(1000.0)
        .value(API, Track::Canary, MetricKind::ErrorRate, Reply::Value(0.0))
        .value(API, Track::Stable, MetricKind::ErrorRate, Reply::Value(0.2))
        .value(GCP, Track::Canary, MetricKind::ErrorRate, Reply::Value(0.0))
        .value(GCP, Track::Stable, MetricKind::ErrorRate, Reply::Value(0.0));
    assert_eq!(run(&s, &better).await.verdict, Verdict::Pass);
}

#[tokio::test]
async fn relative_success_rate_falls_and_either_direction() {
    let fake = Fake::new()
        .requests(1000.0)
        .value(
            API,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(0.90),
        )
        .value(
            API,
            Track::Stable,
            MetricKind::SuccessRate,
            Reply::Value(0.99),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        )
        .value(
            GCP,
            Track::Stable,
            MetricKind::SuccessRate,
            Reply::Value(0.95),
        );
    // successRate: lower is bad by default.
    let report = run(&relative_spec("successRate", 0.02, None), &fake).await;
    assert_eq!(
        check(&report, API, "vs-stable").reason,
        "successRate 0.900 < stable 0.990 - tolerance 0.02"
    );
    assert_eq!(check(&report, GCP, "vs-stable").verdict, Verdict::Pass);
    // Either: the canary doing much better is also a difference.
    let report = run(&relative_spec("successRate", 0.02, Some("either")), &fake).await;
    assert_eq!(check(&report, API, "vs-stable").verdict, Verdict::Fail);
    let gcp = check(&report, GCP, "vs-stable");
    assert_eq!(gcp.verdict, Verdict::Fail);
    assert_eq!(
        gcp.reason,
        "successRate 1.000 differs from stable 0.950 by more than tolerance 0.02"
    );
    // An explicit direction overrides the metric's: increase is bad now, so the drop passes.
    let report = run(&relative_spec("successRate", 0.02, Some("increase")), &fake).await;
    assert_eq!(check(&report, API, "vs-stable").verdict, Verdict::Pass);
    assert_eq!(check(&report, GCP, "vs-stable").verdict, Verdict::Fail);
}

#[tokio::test]
async fn relative_check_without_stable_data_is_inconclusive_but_a_failed_threshold_still_fails() {
    let s = spec(
        "  checks:
    - name: errors
      metric: errorRate
      max: 0.1
      relative:
        tolerance: 0.01",
    );
    let fake = Fake::new()
        .requests(1000.0)
        .value(
            API,
            Track::Canary,
            MetricKind::ErrorRate,
            Reply::Value(0.02),
        )
        .value(API, Track::Stable, MetricKind::ErrorRate, Reply::NoData)
        .value(GCP, Track::Canary, MetricKind::ErrorRate, Reply::Value(0.3))
        .value(
            GCP,
            Track::Stable,
            MetricKind::ErrorRate,
            Reply::Fail(Error::unavailable("prometheus down")),
        );
    let report = run(&s, &fake).await;
    let api = check(&report, API, "errors");
    assert_eq!(api.verdict, Verdict::Inconclusive);
    assert_eq!(api.reason, "no data for errorRate of stable");
    let gcp = check(&report, GCP, "errors");
    assert_eq!(gcp.verdict, Verdict::Fail);
    assert_eq!(
        gcp.reason,
        "errorRate 0.300 > max 0.1, errorRate of stable unknown (unavailable: prometheus down)"
    );
    assert_eq!(report.verdict, Verdict::Fail);
}

// ---- critical --------------------------------------------------------------------------------

#[tokio::test]
async fn critical_check_failure_is_flagged() {
    let s = spec(
        "  checks:
    - name: success-rate
      metric: successRate
      min: 0.99
      critical: true
    - name: p99
      metric: {latency: 0.99}
      max: 1",
    );
    let fake = Fake::new()
        .requests(1000.0)
        .value(
            API,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(0.5),
        )
        .value(
            API,
            Track::Canary,
            MetricKind::Latency(0.99),
            Reply::Value(0.1),
        )
        .value(GCP, Track::Canary, MetricKind::SuccessRate, Reply::NoData)
        .value(
            GCP,
            Track::Canary,
            MetricKind::Latency(0.99),
            Reply::Value(0.1),
        );
    let report = run(&s, &fake).await;
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(report.critical_failure);
    assert!(check(&report, API, "success-rate").critical);
    assert!(
        report.summary.starts_with("neotix-api: successRate 0.500 < min 0.99 [success-rate] (critical); gcp-deployment-api: no data"),
        "{}",
        report.summary
    );
    // A critical check without data is inconclusive, not a critical failure.
    let fake = Fake::new()
        .requests(1000.0)
        .value(API, Track::Canary, MetricKind::SuccessRate, Reply::NoData)
        .value(
            API,
            Track::Canary,
            MetricKind::Latency(0.99),
            Reply::Value(0.1),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::Latency(0.99),
            Reply::Value(0.1),
        );
    let report = run(&s, &fake).await;
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert!(!report.critical_failure);
}

#[tokio::test]
async fn non_critical_failure_outranks_inconclusive() {
    let fake = Fake::new()
        .requests(1000.0)
        .value(API, Track::Canary, MetricKind::SuccessRate, Reply::NoData)
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(0.5),
        );
    let report = run(&spec("  minRequests: 10"), &fake).await;
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(!report.critical_failure);
}

// ---- no data, errors, timeouts ---------------------------------------------------------------

#[tokio::test]
async fn no_data_is_inconclusive_never_a_pass() {
    let fake = Fake::new()
        .requests(1000.0)
        .value(API, Track::Canary, MetricKind::SuccessRate, Reply::NoData)
        // NaN from the backend is no data too.
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(f64::NAN),
        );
    let report = run(&spec("  minRequests: 10"), &fake).await;
    assert_eq!(report.verdict, Verdict::Inconclusive);
    for app in [API, GCP] {
        let c = check(&report, app, "successRate");
        assert_eq!((c.verdict, c.canary), (Verdict::Inconclusive, None));
        assert_eq!(c.reason, "no data for successRate of the canary");
    }
    assert_eq!(
        report.summary,
        "neotix-api: no data for successRate of the canary; gcp-deployment-api: no data for successRate of the canary"
    );
}

#[tokio::test]
async fn errors_are_inconclusive_with_the_error_in_the_reason() {
    let fake = Fake::new()
        .requests(1000.0)
        .value(
            API,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Fail(Error::unavailable("connection refused")),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Fail(Error::rejected("prometheus", "bad_data: parse error")),
        );
    let report = run(&spec("  minRequests: 10"), &fake).await;
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert_eq!(
        check(&report, API, "successRate").reason,
        "successRate of the canary unknown (unavailable: connection refused)"
    );
    assert!(check(&report, GCP, "successRate")
        .reason
        .contains("rejected by prometheus: bad_data: parse error"));
}

#[tokio::test(start_paused = true)]
async fn hanging_calls_time_out_and_are_inconclusive() {
    let fake = Fake::new()
        .requests(1000.0)
        .value(API, Track::Canary, MetricKind::SuccessRate, Reply::Hang)
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        );
    let start = tokio::time::Instant::now();
    let report = run(&spec("  minRequests: 10"), &fake).await;
    // Calls run concurrently: one timeout's worth of (paused, virtual) time went by.
    assert_eq!(start.elapsed(), CALL);
    assert_eq!(report.verdict, Verdict::Inconclusive);
    let c = check(&report, API, "successRate");
    assert_eq!(c.verdict, Verdict::Inconclusive);
    assert_eq!(
        c.reason,
        "successRate of the canary unknown (timed out after 5s: metrics: successRate of neotix-api canary)"
    );
    assert_eq!(check(&report, GCP, "successRate").verdict, Verdict::Pass);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_request_count_times_out_the_gate() {
    let fake = Fake::new()
        .value(API, Track::Canary, MetricKind::RequestCount, Reply::Hang)
        .value(
            GCP,
            Track::Canary,
            MetricKind::RequestCount,
            Reply::Value(50.0),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        );
    let report = run(&spec("  minRequests: 10"), &fake).await;
    assert_eq!(report.verdict, Verdict::Inconclusive);
    let gate = check(&report, API, MIN_REQUESTS_CHECK);
    assert_eq!(gate.verdict, Verdict::Inconclusive);
    assert!(
        gate.reason.contains("timed out after 5s"),
        "{}",
        gate.reason
    );
    assert_eq!(
        fake.queried(&MetricKind::SuccessRate),
        1,
        "only gcp's canary got past the gate"
    );
}

// ---- min requests ----------------------------------------------------------------------------

#[tokio::test]
async fn too_few_requests_is_inconclusive_and_skips_the_checks() {
    let fake = Fake::new()
        .value(
            API,
            Track::Canary,
            MetricKind::RequestCount,
            Reply::Value(3.0),
        )
        .value(GCP, Track::Canary, MetricKind::RequestCount, Reply::NoData)
        // Would fail, but three requests prove nothing.
        .value(
            API,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(0.0),
        );
    let report = run(&spec("  minRequests: 20"), &fake).await;
    assert_eq!(report.verdict, Verdict::Inconclusive);
    let gate = check(&report, API, MIN_REQUESTS_CHECK);
    assert_eq!(
        (gate.canary, gate.verdict),
        (Some(3.0), Verdict::Inconclusive)
    );
    assert_eq!(
        gate.reason,
        "canary got 3 requests, fewer than minRequests 20"
    );
    assert_eq!(
        check(&report, GCP, MIN_REQUESTS_CHECK).reason,
        "no request count for the canary (no data); minRequests is 20"
    );
    assert_eq!(report.checks.len(), 2);
    assert_eq!(fake.queried(&MetricKind::SuccessRate), 0);
    assert_eq!(
        report.summary,
        "neotix-api: canary got 3 requests, fewer than minRequests 20; gcp-deployment-api: no request count for the canary (no data); minRequests is 20"
    );
}

#[tokio::test]
async fn min_requests_is_inclusive_and_zero_turns_it_off() {
    let fake = Fake::new()
        .requests(20.0)
        .value(
            API,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        );
    assert_eq!(
        run(&spec("  minRequests: 20"), &fake).await.verdict,
        Verdict::Pass
    );
    let fake = Fake::new()
        .value(
            API,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        );
    let report = run(&spec("  minRequests: 0"), &fake).await;
    assert_eq!(report.verdict, Verdict::Pass);
    assert_eq!(fake.queried(&MetricKind::RequestCount), 0);
    assert_eq!(
        report.summary,
        "neotix-api: pass (successRate 1.000); gcp-deployment-api: pass (successRate 1.000)"
    );
}

#[tokio::test]
async fn no_apps_is_inconclusive() {
    let s = spec("  minRequests: 10");
    let report = analyse(&s, &[], &Fake::new(), WINDOW, CALL).await;
    assert_eq!(report.verdict, Verdict::Inconclusive);
}

// ---- the report as data ----------------------------------------------------------------------

#[tokio::test]
async fn report_round_trips_and_old_reports_still_load() {
    let fake = Fake::new()
        .requests(100.0)
        .value(
            API,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Value(1.0),
        );
    let report = run(&spec("  minRequests: 10"), &fake).await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "pass");
    assert_eq!(json["criticalFailure"], false);
    let back: AnalysisReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
    // Saved before `reason`/`criticalFailure` existed on judge reports.
    let old = serde_json::json!({
        "app": "api", "score": 100.0, "verdict": "pass", "reason": "ok",
        "metrics": [{"name": "lat", "classification": "pass", "passed": true, "u": 1.0, "pValue": 0.5,
                     "canaryMedian": 1.0, "stableMedian": 1.0, "samples": [5, 5], "weight": 1.0, "critical": false}]
    });
    let j: JudgeReport = serde_json::from_value(old).unwrap();
    assert!(!j.critical_failure);
    assert_eq!(j.metrics[0].reason, "");
}
