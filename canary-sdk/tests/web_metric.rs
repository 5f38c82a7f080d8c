//! A rollout through [`Canary::from_deps`] over canary-core's in-memory world whose checks are
//! `web` metrics served by an HTTP server on 127.0.0.1: the spec alone wires them (no code), a
//! failing one rolls the canary back, and a failing critical dry run decides nothing but shows
//! in the events and the status.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use canary_core::analysis::Verdict;
use canary_core::memory::{MemoryOrchestrator, MemoryRouter};
use canary_core::{
    Deps, EventKind, HookContext, HookOutcome, HookRunner, ImageRef, MemoryStateStore, MetricQuery,
    MetricsSource, Observation, Outcome, Result, ServiceName, Spec,
};
use canary_sdk::{Canary, Settings};
use canary_testkit::{Answer, Server};

/// Answers every request with `doc` (at most 50 connections, for at most 60 seconds).
fn serve(doc: &'static str) -> Server {
    Server::builder()
        .connections(50)
        .lifetime(Duration::from_secs(60))
        .start(move |_| Answer::json(doc))
}

/// The request line of each request the server got.
fn request_lines(server: &Server) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.head.lines().next().unwrap_or("").to_string())
        .collect()
}

/// Every built-in metric has no data: only the web checks can decide.
#[derive(Debug)]
struct NoMetrics;

#[async_trait]
impl MetricsSource for NoMetrics {
    async fn value(&self, _: &MetricQuery) -> Result<Observation> {
        Ok(Observation::NoData)
    }
    async fn samples(&self, _: &MetricQuery) -> Result<Vec<f64>> {
        Ok(Vec::new())
    }
}

#[derive(Debug)]
struct NoHooks;

#[async_trait]
impl HookRunner for NoHooks {
    async fn call(&self, _: &canary_core::spec::HookSpec, _: &HookContext) -> Result<HookOutcome> {
        Ok(HookOutcome {
            ok: true,
            message: String::new(),
        })
    }
}

fn spec(base: &str, checks: &str) -> Spec {
    Spec::from_yaml(&format!(
        r#"
group: shop
apps:
  - name: api
    image: api:v2
    port: 8080
    rule: "Host(`api.localhost`)"
traffic:
  steps: [50]
  interval: 200ms
analysis:
  minRequests: 0
  checks:
{}
"#,
        checks.replace("BASE", base)
    ))
    .unwrap()
}

async fn canary(spec: Spec) -> (Canary, Arc<MemoryOrchestrator>) {
    let orch = Arc::new(MemoryOrchestrator::new());
    orch.add_service(
        ServiceName::parse("api").unwrap(),
        &ImageRef::parse("api:v1").unwrap(),
        2,
    );
    let deps = Deps::new(
        orch.clone(),
        Arc::new(MemoryRouter::new()),
        Arc::new(NoMetrics),
        Arc::new(MemoryStateStore::new()),
        Arc::new(NoHooks),
    );
    let c = Canary::from_deps(spec, Settings::default(), deps)
        .await
        .unwrap();
    (c, orch)
}

#[tokio::test]
async fn a_failing_web_metric_rolls_the_canary_back() {
    let server = serve(r#"{"data": {"errorRate": 0.4}}"#);
    let spec = spec(
        server.base(),
        "    - name: app-errors
      metric:
        web:
          url: \"BASE/errors?service={{service}}&window={{window}}\"
          jsonPath: $.data.errorRate
      max: 0.05",
    );
    let (canary, orch) = canary(spec).await;
    let rollout = canary
        .rollout(canary.controller().poll(Duration::from_millis(100)))
        .unwrap();
    let mut events = rollout.subscribe();
    let out = tokio::time::timeout(Duration::from_secs(30), rollout.run())
        .await
        .expect("the rollout ends")
        .unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!("{out:?}")
    };
    assert!(cause.contains("failure limit"), "{cause}");
    assert_eq!(
        orch.service("api").unwrap().image,
        "api:v1",
        "stable untouched"
    );
    assert_eq!(orch.service("api-canary").unwrap().desired, 0);
    let mut report = None;
    while let Ok(e) = events.try_recv() {
        if e.kind == EventKind::Analysis {
            report = e.analysis;
        }
    }
    let report = report.expect("an analysis event");
    assert_eq!(report.verdict, Verdict::Fail);
    let c = &report.checks[0];
    assert_eq!(
        (c.name.as_str(), c.canary, c.verdict),
        ("app-errors", Some(0.4), Verdict::Fail)
    );
    assert_eq!(c.reason, "web 0.400 > max 0.05");
    let lines = request_lines(&server);
    assert_eq!(
        lines,
        ["GET /errors?service=api-canary&window=200ms HTTP/1.1"]
    );
}

#[tokio::test]
async fn a_failing_critical_dry_run_is_reported_and_decides_nothing() {
    let server = serve(r#"{"errors": 0.001, "p99": 2.5}"#);
    let spec = spec(
        server.base(),
        "    - name: errors
      metric: {web: {url: \"BASE/m?app={{app}}\", jsonPath: $.errors}}
      max: 0.05
    - name: p99-budget
      metric: {web: {url: \"BASE/m?app={{app}}\", jsonPath: $.p99, method: POST, body: '{\"track\": \"{{track}}\"}'}}
      max: 0.5
      critical: true
      dryRun: true",
    );
    let (canary, orch) = canary(spec).await;
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        canary
            .rollout(canary.controller().poll(Duration::from_millis(100)))
            .unwrap()
            .run(),
    )
    .await
    .expect("the rollout ends")
    .unwrap();
    assert_eq!(out, Outcome::Promoted);
    assert_eq!(
        orch.service("api").unwrap().image,
        canary_core::memory::PINNED
    );
    // The status keeps the last analysis, dry run included.
    let status = canary.status().await.unwrap();
    let last = status.state.unwrap().last_analysis.unwrap();
    assert_eq!(last.verdict, Verdict::Pass);
    assert!(!last.critical_failure);
    let dry = last.checks.iter().find(|c| c.name == "p99-budget").unwrap();
    assert_eq!(
        (dry.dry_run, dry.critical, dry.verdict, dry.canary),
        (true, true, Verdict::Fail, Some(2.5))
    );
    assert!(
        last.summary
            .contains("dry run: p99-budget fail (web 2.500 > max 0.5)"),
        "{}",
        last.summary
    );
    let mut lines = request_lines(&server);
    lines.sort();
    assert_eq!(
        lines,
        ["GET /m?app=api HTTP/1.1", "POST /m?app=api HTTP/1.1"]
    );
}

#[tokio::test]
async fn a_web_metric_this_build_cannot_call_is_refused_at_setup() {
    let spec = spec(
        "http://127.0.0.1:9",
        "    - name: ok
      metric: {web: {url: \"BASE/m\", jsonPath: $.v}}
      max: 1
    - name: tls
      metric: {web: {url: \"https://metrics.example/m?key=s3cret\", jsonPath: $.v}}
      max: 1",
    );
    let canary_core::spec::MetricKind::Web(w) = &spec.analysis.checks[1].metric else {
        panic!()
    };
    let callable = canary_traefik::WebMetrics::can_call(w).is_ok();
    let orch = Arc::new(MemoryOrchestrator::new());
    orch.add_service(
        ServiceName::parse("api").unwrap(),
        &ImageRef::parse("api:v1").unwrap(),
        2,
    );
    let deps = Deps::new(
        orch,
        Arc::new(MemoryRouter::new()),
        Arc::new(NoMetrics),
        Arc::new(MemoryStateStore::new()),
        Arc::new(NoHooks),
    );
    let r = Canary::from_deps(spec, Settings::default(), deps).await;
    if callable {
        // Built with canary-traefik's `rustls` feature: https is fine.
        assert!(r.is_ok());
    } else {
        let e = r.unwrap_err();
        assert!(
            matches!(&e, canary_core::Error::InvalidInput { field, reason, .. }
                if field == "analysis.checks[1].metric.web.url" && reason.contains("rustls")),
            "{e}"
        );
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
