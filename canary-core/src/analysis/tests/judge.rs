//! The Mann-Whitney judge, alone and beside the checks.

use super::*;

// ---- the judge -------------------------------------------------------------------------------

const JUDGE: &str = "  judge:
    metrics:
      - name: latency
        metric: {latency: 0.5}
      - name: errors
        metric: errorRate
        weight: 2";

pub(super) fn judged<'a>(report: &'a AnalysisReport, app: &str, metric: &str) -> &'a JudgedMetric {
    let j = report
        .judges
        .iter()
        .find(|j| j.app == app)
        .expect("a judge report");
    j.metrics
        .iter()
        .find(|m| m.name == metric)
        .expect("the metric")
}

#[tokio::test]
async fn judge_alone_replaces_the_default_checks_and_passes() {
    let lat = MetricKind::Latency(0.5);
    let mut fake = Fake::new().requests(500.0);
    for app in [API, GCP] {
        fake = fake
            .samples(app, Track::Canary, lat.clone(), around(0.2, 0.1))
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
                around(0.011, 0.01),
            );
    }
    let report = run(&spec(JUDGE), &fake).await;
    assert_eq!(report.verdict, Verdict::Pass, "{}", report.summary);
    assert_eq!(
        fake.queried(&MetricKind::SuccessRate),
        0,
        "no default check with a judge"
    );
    assert_eq!(report.judges.len(), 2);
    let j = &report.judges[0];
    assert_eq!(
        (j.app.as_str(), j.score, j.verdict),
        (API, 100.0, Verdict::Pass)
    );
    let m = judged(&report, API, "latency");
    assert_eq!(m.classification, Classification::Pass);
    assert_eq!(m.samples, (20, 20));
    assert_eq!(m.u, Some(200.0));
    assert_eq!(m.p_value, Some(1.0));
    assert_eq!(report.summary, "neotix-api: pass (500 requests, judge score 100); gcp-deployment-api: pass (500 requests, judge score 100)");
}

#[tokio::test]
async fn judge_classifies_and_scores() {
    let lat = MetricKind::Latency(0.5);
    let fake = Fake::new()
        .requests(500.0)
        // neotix-api: latency up (bad, weight 1), errors down (fine, weight 2): score 66.7 → fail.
        .samples(API, Track::Canary, lat.clone(), around(0.5, 0.1))
        .samples(API, Track::Stable, lat.clone(), around(0.2, 0.1))
        .samples(
            API,
            Track::Canary,
            MetricKind::ErrorRate,
            around(0.001, 0.001),
        )
        .samples(
            API,
            Track::Stable,
            MetricKind::ErrorRate,
            around(0.01, 0.001),
        )
        // gcp: latency fine, errors up (weight 2 of 3): score 33.3 → fail.
        .samples(GCP, Track::Canary, lat.clone(), around(0.2, 0.1))
        .samples(GCP, Track::Stable, lat.clone(), around(0.2, 0.1))
        .samples(GCP, Track::Canary, MetricKind::ErrorRate, around(0.1, 0.01))
        .samples(
            GCP,
            Track::Stable,
            MetricKind::ErrorRate,
            around(0.01, 0.01),
        );
    let report = run(&spec(JUDGE), &fake).await;
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(!report.critical_failure);
    let lat_api = judged(&report, API, "latency");
    assert_eq!(
        (lat_api.classification, lat_api.passed),
        (Classification::High, false)
    );
    assert_eq!(lat_api.u, Some(400.0));
    let err_api = judged(&report, API, "errors");
    assert_eq!(
        (err_api.classification, err_api.passed),
        (Classification::Low, true)
    );
    let api = &report.judges[0];
    assert!((api.score - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(api.verdict, Verdict::Fail);
    assert_eq!(
        judged(&report, GCP, "errors").classification,
        Classification::High
    );
    assert!((report.judges[1].score - 100.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        report.summary,
        "neotix-api: judge score 66.7 (latency high) < marginal 75; gcp-deployment-api: judge score 33.3 (errors high) < marginal 75"
    );
}

#[tokio::test]
async fn judge_critical_metric_and_marginal_score() {
    let s = spec(
        "  judge:
    marginalScore: 50
    metrics:
      - name: latency
        metric: {latency: 0.5}
        critical: true
      - name: errors
        metric: errorRate",
    );
    let lat = MetricKind::Latency(0.5);
    let fake = Fake::new()
        .requests(500.0)
        // api: the critical latency fails.
        .samples(API, Track::Canary, lat.clone(), around(0.5, 0.1))
        .samples(API, Track::Stable, lat.clone(), around(0.2, 0.1))
        .samples(
            API,
            Track::Canary,
            MetricKind::ErrorRate,
            around(0.01, 0.01),
        )
        .samples(
            API,
            Track::Stable,
            MetricKind::ErrorRate,
            around(0.01, 0.01),
        )
        // gcp: errors fail, latency passes: score 50 → marginal → inconclusive.
        .samples(GCP, Track::Canary, lat.clone(), around(0.2, 0.1))
        .samples(GCP, Track::Stable, lat.clone(), around(0.2, 0.1))
        .samples(GCP, Track::Canary, MetricKind::ErrorRate, around(0.1, 0.01))
        .samples(
            GCP,
            Track::Stable,
            MetricKind::ErrorRate,
            around(0.01, 0.01),
        );
    let report = run(&s, &fake).await;
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(report.critical_failure);
    assert!(report.judges[0].critical_failure);
    assert_eq!(report.judges[0].score, 50.0);
    assert_eq!(report.judges[0].verdict, Verdict::Fail);
    assert_eq!(report.judges[1].verdict, Verdict::Inconclusive);
    assert!(!report.judges[1].critical_failure);
}

#[tokio::test(start_paused = true)]
async fn judge_without_samples_errors_or_timeouts_is_inconclusive() {
    let lat = MetricKind::Latency(0.5);
    let fake = Fake::new()
        .requests(500.0)
        // api: too few latency samples; errors fine.
        .samples(API, Track::Canary, lat.clone(), vec![0.2, 0.3])
        .samples(API, Track::Stable, lat.clone(), around(0.2, 0.1))
        .samples(
            API,
            Track::Canary,
            MetricKind::ErrorRate,
            around(0.01, 0.01),
        )
        .samples(
            API,
            Track::Stable,
            MetricKind::ErrorRate,
            around(0.01, 0.01),
        )
        // gcp: stable latency errors out; errors samples hang.
        .samples(GCP, Track::Canary, lat.clone(), around(0.2, 0.1))
        .samples_reply(
            GCP,
            Track::Stable,
            lat.clone(),
            Reply::Fail(Error::unavailable("prometheus down")),
        )
        .samples_reply(GCP, Track::Canary, MetricKind::ErrorRate, Reply::Hang)
        .samples(
            GCP,
            Track::Stable,
            MetricKind::ErrorRate,
            around(0.01, 0.01),
        );
    let start = tokio::time::Instant::now();
    let report = run(&spec(JUDGE), &fake).await;
    assert_eq!(start.elapsed(), CALL);
    assert_eq!(report.verdict, Verdict::Inconclusive);
    let api = &report.judges[0];
    assert_eq!(
        api.verdict,
        Verdict::Inconclusive,
        "the judged part passes, but latency has no data"
    );
    assert_eq!(api.score, 100.0);
    let lat_api = judged(&report, API, "latency");
    assert_eq!(
        (lat_api.classification, lat_api.samples),
        (Classification::NoData, (2, 20))
    );
    assert_eq!(
        lat_api.reason,
        "canary has 2 samples, stable 20: fewer than minSamples 5"
    );
    let gcp = &report.judges[1];
    assert_eq!(gcp.verdict, Verdict::Inconclusive);
    assert_eq!(gcp.score, 0.0);
    assert_eq!(
        judged(&report, GCP, "latency").reason,
        "stable samples unknown (unavailable: prometheus down)"
    );
    assert_eq!(
        judged(&report, GCP, "errors").reason,
        "canary samples unknown (timed out after 5s: metrics: errorRate samples of gcp-deployment-api canary)"
    );
    assert_eq!(
        report.summary,
        "neotix-api: judge score 100 ≥ pass 95; no data for latency; gcp-deployment-api: judge no metric has data; no data for latency, errors"
    );
}

#[tokio::test]
async fn checks_and_judge_together() {
    let s = spec(&format!(
        "  checks:
    - name: successRate
      metric: successRate
      min: 0.99
{JUDGE}"
    ));
    let lat = MetricKind::Latency(0.5);
    let mut fake = Fake::new().requests(500.0);
    for app in [API, GCP] {
        fake = fake
            .value(
                app,
                Track::Canary,
                MetricKind::SuccessRate,
                Reply::Value(1.0),
            )
            .samples(app, Track::Canary, lat.clone(), around(0.2, 0.1))
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
    assert_eq!(report.verdict, Verdict::Pass);
    assert_eq!(
        report.summary,
        "neotix-api: pass (500 requests, successRate 1.000, judge score 100); gcp-deployment-api: pass (500 requests, successRate 1.000, judge score 100)"
    );
}
