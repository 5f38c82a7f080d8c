//! Dry-run checks and judge metrics: reported, never deciding.

use super::judge::judged;
use super::*;

// ---- dry runs ---------------------------------------------------------------------------------

const DRY_CHECKS: &str = "  checks:
    - name: successRate
      metric: successRate
      min: 0.99
    - name: new-errors
      metric: errorRate
      max: 0.01
      dryRun: true
    - name: p99
      metric: {latency: 0.99}
      max: 0.1
      critical: true
      dryRun: true";

/// Both apps: every request succeeds; error rate 0.3 and p99 2s (both dry runs fail); for GCP
/// the error rate has no data.
fn dry_fake() -> Fake {
    let mut fake = Fake::new().requests(1000.0);
    for app in [API, GCP] {
        fake = fake
            .value(
                app,
                Track::Canary,
                MetricKind::SuccessRate,
                Reply::Value(1.0),
            )
            .value(
                app,
                Track::Canary,
                MetricKind::Latency(0.99),
                Reply::Value(2.0),
            );
    }
    fake.value(API, Track::Canary, MetricKind::ErrorRate, Reply::Value(0.3))
        .value(GCP, Track::Canary, MetricKind::ErrorRate, Reply::NoData)
}

#[tokio::test]
async fn failing_dry_run_checks_are_reported_but_decide_nothing() {
    let report = run(&spec(DRY_CHECKS), &dry_fake()).await;
    assert_eq!(report.verdict, Verdict::Pass, "{}", report.summary);
    assert!(
        !report.critical_failure,
        "a critical dry-run check that fails does not roll back"
    );
    let errors = check(&report, API, "new-errors");
    assert_eq!(
        (errors.verdict, errors.dry_run, errors.canary),
        (Verdict::Fail, true, Some(0.3))
    );
    assert_eq!(errors.reason, "errorRate 0.300 > max 0.01");
    let p99 = check(&report, API, "p99");
    assert_eq!(
        (p99.verdict, p99.dry_run, p99.critical),
        (Verdict::Fail, true, true)
    );
    // No data on a dry run does not make the analysis inconclusive either.
    assert_eq!(
        check(&report, GCP, "new-errors").verdict,
        Verdict::Inconclusive
    );
    assert!(!check(&report, API, "successRate").dry_run);
    // The summary states the decision first, then what the dry runs found.
    assert!(
        report.summary.starts_with(
            "neotix-api: pass (1000 requests, successRate 1.000); dry run: new-errors fail (errorRate 0.300 > max 0.01), p99 fail (latency(p99) 2.000 > max 0.1)"
        ),
        "{}",
        report.summary
    );
    assert!(
        report
            .summary
            .contains("gcp-deployment-api: pass (1000 requests, successRate 1.000); dry run: new-errors inconclusive (no data for errorRate of the canary)"),
        "{}",
        report.summary
    );
    // A deciding check still fails the analysis beside passing dry runs.
    let fake = dry_fake().value(
        API,
        Track::Canary,
        MetricKind::SuccessRate,
        Reply::Value(0.5),
    );
    let report = run(&spec(DRY_CHECKS), &fake).await;
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(!report.critical_failure);
    // The flag travels with the report (events, saved state).
    let json = serde_json::to_value(&report).unwrap();
    let dry: Vec<bool> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["dryRun"].as_bool().unwrap())
        .collect();
    assert_eq!(dry.iter().filter(|d| **d).count(), 4, "{json}");
}

#[tokio::test]
async fn a_spec_of_dry_runs_only_keeps_the_default_check() {
    let s = spec(
        "  checks:
    - name: p99
      metric: {latency: 0.99}
      max: 0.1
      critical: true
      dryRun: true",
    );
    let fake = dry_fake().value(
        GCP,
        Track::Canary,
        MetricKind::SuccessRate,
        Reply::Value(0.9),
    );
    let report = run(&s, &fake).await;
    assert_eq!(
        report.verdict,
        Verdict::Fail,
        "the default successRate check decides: {}",
        report.summary
    );
    assert!(!report.critical_failure);
    assert_eq!(fake.queried(&MetricKind::SuccessRate), 2);
    assert!(check(&report, GCP, "p99").dry_run);
    assert!(!check(&report, GCP, "successRate").dry_run);
}

#[tokio::test]
async fn dry_run_judge_metrics_are_judged_but_not_scored() {
    let lat = MetricKind::Latency(0.5);
    let s = spec(
        "  judge:
    metrics:
      - name: latency
        metric: {latency: 0.5}
        critical: true
        dryRun: true
      - name: errors
        metric: errorRate",
    );
    let mut fake = Fake::new().requests(500.0);
    for app in [API, GCP] {
        fake = fake
            // Latency doubled: high, and critical, but a dry run.
            .samples(app, Track::Canary, lat.clone(), around(0.4, 0.1))
            .samples(app, Track::Stable, lat.clone(), around(0.2, 0.1))
            .samples(
                app,
                Track::Canary,
                MetricKind::ErrorRate,
                around(0.01, 0.01),
            )
            .samples(
                app,
                Track::Stable,
                MetricKind::ErrorRate,
                around(0.01, 0.01),
            );
    }
    let report = run(&s, &fake).await;
    assert_eq!(report.verdict, Verdict::Pass, "{}", report.summary);
    assert!(!report.critical_failure);
    let m = judged(&report, API, "latency");
    assert_eq!((m.classification, m.dry_run), (Classification::High, true));
    let j = &report.judges[0];
    assert_eq!(
        (j.score, j.verdict, j.dry_run),
        (100.0, Verdict::Pass, false)
    );
    assert!(j.reason.contains("dry run: latency high"), "{}", j.reason);
    assert_eq!(
        fake.queried(&MetricKind::SuccessRate),
        0,
        "a deciding judge metric replaces the default check"
    );

    // Every judge metric a dry run: the judge is one, and the default check decides.
    let s = spec(
        "  judge:
    metrics:
      - name: latency
        metric: {latency: 0.5}
        critical: true
        dryRun: true",
    );
    let fake = fake
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
    let report = run(&s, &fake).await;
    assert_eq!(report.verdict, Verdict::Pass, "{}", report.summary);
    assert!(!report.critical_failure);
    let j = &report.judges[0];
    assert!(j.dry_run && j.critical_failure && j.verdict == Verdict::Fail);
    assert!(
        report.summary.contains(
            "pass (500 requests, successRate 1.000); dry run: judge fail (score 0 (latency high)"
        ),
        "{}",
        report.summary
    );
}
