//! Every rollout made through `Canary::rollout` posts the spec's notifications: whole rollouts on
//! the in-memory world, with notifications to HTTP servers on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use canary_core::memory::{MemoryOrchestrator, MemoryRouter};
use canary_core::spec::{HookSpec, MetricKind};
use canary_core::traits::{HookContext, HookOutcome, MetricQuery, Observation};
use canary_core::{
    Deps, HookRunner, ImageRef, MemoryStateStore, MetricsSource, Outcome, Result, RolloutOptions,
    ServiceName, Spec, Track,
};
use canary_sdk::{Canary, Settings};
use canary_testkit::{Answer, Server};
use serde_json::Value;

/// A server on 127.0.0.1 answering 200 to every POST (it keeps the bodies in order), and its
/// URL with a secret in the path.
fn server() -> (String, Server) {
    let server = Server::start(|_| Answer::status(200).body("ok"));
    (server.url("/hook/secret"), server)
}

/// The JSON bodies the server got, in order.
fn posted(server: &Server) -> Vec<Value> {
    server.requests().iter().map(|r| r.json()).collect()
}

/// Plenty of requests, and the given canary success rate (stable 1.0).
#[derive(Debug)]
struct Metrics(f64);

#[async_trait]
impl MetricsSource for Metrics {
    async fn value(&self, q: &MetricQuery) -> Result<Observation> {
        Ok(Observation::Value(match (&q.metric, q.track) {
            (MetricKind::RequestCount, _) => 1000.0,
            (MetricKind::SuccessRate, Track::Canary) => self.0,
            (MetricKind::SuccessRate, Track::Stable) => 1.0,
            _ => 0.0,
        }))
    }
    async fn samples(&self, _: &MetricQuery) -> Result<Vec<f64>> {
        Ok(Vec::new())
    }
}

#[derive(Debug)]
struct NoHooks;

#[async_trait]
impl HookRunner for NoHooks {
    async fn call(&self, _: &HookSpec, _: &HookContext) -> Result<HookOutcome> {
        Ok(HookOutcome {
            ok: true,
            message: "ok".into(),
        })
    }
}

async fn group(json: &str, slack: &str, success: f64) -> Canary {
    let spec = Spec::from_yaml(&format!(
        r#"
group: shop
apps:
  - name: api
    image: api:v2
    port: 8080
    rule: "Host(`api.localhost`)"
traffic:
  steps: [10, 50]
  interval: 100ms
notifications:
  - name: audit
    kind: json
    url: {json}
  - name: team
    kind: slack
    url: {slack}
    events: [started, analysis, promoted, rolledBack]
"#
    ))
    .unwrap();
    let orch = Arc::new(MemoryOrchestrator::new());
    orch.add_service(
        ServiceName::parse("api").unwrap(),
        &ImageRef::parse("api:v1").unwrap(),
        2,
    );
    let deps = Deps::new(
        orch,
        Arc::new(MemoryRouter::new()),
        Arc::new(Metrics(success)),
        Arc::new(MemoryStateStore::new()),
        Arc::new(NoHooks),
    );
    Canary::from_deps(spec, Settings::default(), deps)
        .await
        .unwrap()
}

fn kinds(server: &Server) -> Vec<String> {
    posted(server)
        .iter()
        .map(|b| b["kind"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[tokio::test]
async fn a_promoted_rollout_notifies_from_started_to_promoted() {
    let (json_url, json) = server();
    let (slack_url, slack) = server();
    let canary = group(&json_url, &slack_url, 1.0).await;
    let out = canary
        .rollout(RolloutOptions::default().owner("test/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    assert_eq!(out, Outcome::Promoted);
    assert!(canary.flush_notifications(Duration::from_secs(10)).await);

    // The default kinds, in the engine's order.
    assert_eq!(kinds(&json), vec!["started", "promoting", "promoted"]);
    let bodies = posted(&json);
    assert!(bodies
        .iter()
        .all(|b| b["group"] == "shop" && b["notification"] == "audit"));
    let last = &bodies[2]["lastAnalysis"];
    assert_eq!(last["weight"], 50);
    assert_eq!(last["report"]["verdict"], "pass");
    assert_eq!(last["report"]["checks"][1]["name"], "successRate");
    assert_eq!(last["report"]["checks"][1]["canary"], 1.0);

    // Slack: one message per analysis, with the figure and its limit.
    let texts: Vec<String> = posted(&slack)
        .iter()
        .map(|b| b["blocks"][0]["text"]["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts,
        vec![
            "canary shop: started",
            "canary shop: analysis",
            "canary shop: analysis",
            "canary shop: promoted"
        ]
    );
    let analysis = posted(&slack)[1].to_string();
    assert!(
        analysis.contains("successRate api: canary 1.000 vs min 0.990 (pass)")
            && analysis.contains("*Weight*\\n10%"),
        "{analysis}"
    );
}

#[tokio::test]
async fn a_rolled_back_rollout_says_which_figure_failed() {
    let (json_url, json) = server();
    let (slack_url, slack) = server();
    let canary = group(&json_url, &slack_url, 0.5).await;
    let out = canary
        .rollout(RolloutOptions::default().owner("test/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    assert!(matches!(out, Outcome::RolledBack { .. }), "{out:?}");
    assert!(canary.flush_notifications(Duration::from_secs(10)).await);
    assert_eq!(kinds(&json), vec!["started", "rollingBack", "rolledBack"]);
    let rolled_back = posted(&slack).last().unwrap().to_string();
    assert!(
        rolled_back.contains("canary shop: rolled back")
            && rolled_back.contains("successRate api: canary 0.500 vs min 0.990 (fail)"),
        "{rolled_back}"
    );
    // Status reads only: it starts no notifier and sends nothing.
    let before = json.requests().len();
    canary.status().await.unwrap();
    assert!(canary.flush_notifications(Duration::from_secs(1)).await);
    assert_eq!(json.requests().len(), before);
}

#[tokio::test]
async fn test_notifications_reach_every_target_whatever_its_filter() {
    let (json_url, json) = server();
    let (slack_url, slack) = server();
    let canary = group(&json_url, &slack_url, 1.0).await;
    let results = canary.test_notifications().await;
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r.status, Some(200), "{r:?}");
        assert!(!r.target.contains("secret"), "{r:?}");
    }
    assert_eq!(posted(&json)[0]["test"], true);
    assert_eq!(
        posted(&slack)[0]["blocks"][0]["text"]["text"],
        "canary shop: test notification"
    );
    // The same from the spec alone (the CLI's notify-test needs no Docker).
    let again = canary_sdk::test_notifications_of(canary.spec())
        .await
        .unwrap();
    assert_eq!(again.len(), 2);
    assert_eq!(json.requests().len(), 2);
}
