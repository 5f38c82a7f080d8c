//! Tests of [`analyse`] with a fake metrics source and tokio's paused clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::error::Error;
use crate::model::Track;
use crate::traits::{MetricQuery, MetricsSource, Observation};

const API: &str = "neotix-api";
const GCP: &str = "gcp-deployment-api";
const WINDOW: Duration = Duration::from_secs(60);
const CALL: Duration = Duration::from_secs(5);

/// What the fake answers to one query.
#[derive(Debug, Clone)]
enum Reply {
    Value(f64),
    NoData,
    Fail(Error),
    /// Never answers (the call timeout must end it).
    Hang,
}

/// A metrics source answering from tables keyed by (app, track, metric label); anything not in
/// a table is an error, so a test notices a query it did not expect.
#[derive(Debug, Default)]
struct Fake {
    values: HashMap<(String, Track, String), Reply>,
    samples: HashMap<(String, Track, String), std::result::Result<Vec<f64>, Reply>>,
    queries: Mutex<Vec<MetricQuery>>,
}

impl Fake {
    fn new() -> Self {
        Self::default()
    }

    fn value(mut self, app: &str, track: Track, metric: MetricKind, reply: Reply) -> Self {
        self.values
            .insert((app.into(), track, metric.label()), reply);
        self
    }

    /// Both apps' canaries got `n` requests.
    fn requests(self, n: f64) -> Self {
        self.value(
            API,
            Track::Canary,
            MetricKind::RequestCount,
            Reply::Value(n),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::RequestCount,
            Reply::Value(n),
        )
    }

    fn samples(mut self, app: &str, track: Track, metric: MetricKind, samples: Vec<f64>) -> Self {
        self.samples
            .insert((app.into(), track, metric.label()), Ok(samples));
        self
    }

    fn samples_reply(mut self, app: &str, track: Track, metric: MetricKind, reply: Reply) -> Self {
        self.samples
            .insert((app.into(), track, metric.label()), Err(reply));
        self
    }

    fn queried(&self, metric: &MetricKind) -> usize {
        self.queries
            .lock()
            .unwrap()
            .iter()
            .filter(|q| &q.metric == metric)
            .count()
    }
}

async fn answer(reply: Reply) -> crate::Result<Observation> {
    match reply {
        Reply::Value(v) => Ok(Observation::from_f64(v)),
        Reply::NoData => Ok(Observation::NoData),
        Reply::Fail(e) => Err(e),
        Reply::Hang => std::future::pending().await,
    }
}

#[async_trait]
impl MetricsSource for Fake {
    async fn value(&self, query: &MetricQuery) -> crate::Result<Observation> {
        self.queries.lock().unwrap().push(query.clone());
        let key = (
            query.app.name.to_string(),
            query.track,
            query.metric.label(),
        );
        match self.values.get(&key) {
            Some(r) => answer(r.clone()).await,
            None => Err(Error::Internal(format!("fake: no value for {key:?}"))),
        }
    }

    async fn samples(&self, query: &MetricQuery) -> crate::Result<Vec<f64>> {
        self.queries.lock().unwrap().push(query.clone());
        let key = (
            query.app.name.to_string(),
            query.track,
            query.metric.label(),
        );
        match self.samples.get(&key) {
            Some(Ok(s)) => Ok(s.clone()),
            Some(Err(r)) => match answer(r.clone()).await {
                Ok(_) => Ok(Vec::new()),
                Err(e) => Err(e),
            },
            None => Err(Error::Internal(format!("fake: no samples for {key:?}"))),
        }
    }
}

/// The seed's two apps with the given `analysis:` section (YAML, indented by two spaces).
fn spec(analysis: &str) -> Spec {
    let text = format!(
        "group: neotix
stack: neotix
apps:
  - name: {API}
    image: canary-demo:v2
    port: 8080
    rule: \"Host(`api.localhost`) && PathPrefix(`/api`)\"
  - name: {GCP}
    image: canary-demo:v2
    port: 8080
    rule: \"Host(`api.localhost`) && PathPrefix(`/gcp`)\"
analysis:
{analysis}"
    );
    // Through a JSON value: serde_yaml 0.9 wants `!latency 0.99` for the metric enum where JSON
    // (and the spec's docs) say `{latency: 0.99}`.
    let value: serde_json::Value = crate::yaml::from_str(&text).expect("test YAML");
    Spec::from_value(value).unwrap_or_else(|e| panic!("test spec: {e}\n{text}"))
}

async fn run(spec: &Spec, fake: &Fake) -> AnalysisReport {
    analyse(spec, &spec.app_refs(), fake, WINDOW, CALL).await
}

fn check<'a>(report: &'a AnalysisReport, app: &str, name: &str) -> &'a CheckResult {
    report
        .checks
        .iter()
        .find(|c| c.app == app && c.name == name)
        .unwrap_or_else(|| panic!("no check {name} for {app} in {:#?}", report.checks))
}

/// 20 samples around `centre` (±0.95·`spread`), no ties within one sample.
fn around(centre: f64, spread: f64) -> Vec<f64> {
    (0..20)
        .map(|i| centre + (i as f64 - 9.5) / 10.0 * spread)
        .collect()
}

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
            Reply::Fail(Error::Unavailable("prometheus down".into())),
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
            Reply::Fail(Error::Unavailable("connection refused".into())),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::SuccessRate,
            Reply::Fail(Error::Rejected {
                by: "prometheus".into(),
                message: "bad_data: parse error".into(),
            }),
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

// ---- the judge -------------------------------------------------------------------------------

const JUDGE: &str = "  judge:
    metrics:
      - name: latency
        metric: {latency: 0.5}
      - name: errors
        metric: errorRate
        weight: 2";

fn judged<'a>(report: &'a AnalysisReport, app: &str, metric: &str) -> &'a JudgedMetric {
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
            Reply::Fail(Error::Unavailable("prometheus down".into())),
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
