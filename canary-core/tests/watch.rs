//! The canary watch and the faults around it, on the paused clock: a canary that loses its
//! tasks leaves the routing at once and counts as a failure; a whole-cluster outage does not; a
//! moved tag changes nothing and promotion ships the tested image; a Docker blip is waited out;
//! a rollback finishes when the router's API is down.

mod support;

use std::sync::Arc;
use std::time::Duration;

use canary_core::{Error, EventKind, Outcome, Phase, Rollout};
use support::*;

fn set_running(w: &World, service: &str, running: u64) {
    if let Some(s) = w.orch.services.lock().unwrap().get_mut(service) {
        s.running = running;
    }
}

#[tokio::test(start_paused = true)]
async fn a_canary_that_dies_leaves_the_routing_within_a_watch_and_rolls_back() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let r = Arc::new(Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let mut events = r.subscribe();
    let run = tokio::spawn(async move { r2.run().await });
    // Into the first step's interval (weight 10), with the canary's task in the routes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let routed = w.router.last().unwrap();
    assert_eq!(routed.canary_weight.get(), 10);
    assert_eq!(routed.apps[0].canary_endpoints.len(), 1);
    let writes_before = w.router.applied.lock().unwrap().len();
    // Its task dies.
    set_running(&w, "api-canary", 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Within one watch (250 ms) the routes were rewritten without any canary task: the router
    // sends its share to stable.
    let after = w.router.applied.lock().unwrap()[writes_before].clone();
    assert!(after.canary_routed);
    assert!(after.apps[0].canary_endpoints.is_empty(), "{after:?}");
    // failureLimit 0: a lost canary is a failed analysis, so it rolls back.
    let out = run.await.unwrap().unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!("{out:?}")
    };
    assert!(cause.contains("runs no task"), "{cause}");
    let mut kinds = Vec::new();
    while let Ok(e) = events.try_recv() {
        kinds.push(e.kind);
    }
    assert!(kinds.contains(&EventKind::CanaryLost), "{kinds:?}");
    assert!(kinds.contains(&EventKind::CanaryTasks), "{kinds:?}");
}

#[tokio::test(start_paused = true)]
async fn a_canary_that_comes_back_within_the_failure_limit_is_promoted() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let lenient = spec(&format!("{ONE_APP}analysis:\n  failureLimit: 1\n"));
    assert_eq!(lenient.analysis.failure_limit, 1);
    let r = Arc::new(Rollout::new(lenient, w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    set_running(&w, "api-canary", 0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    set_running(&w, "api-canary", 1); // Swarm restarted it
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
    let st = saved(&w, "shop").await;
    assert_eq!(st.failures, 1);
}

#[tokio::test(start_paused = true)]
async fn a_cluster_outage_is_not_held_against_the_canary() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let r = Arc::new(Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    // dockerd restarts: every task of both tracks is gone for a moment.
    set_running(&w, "api-canary", 0);
    set_running(&w, "api", 0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    set_running(&w, "api", 2);
    set_running(&w, "api-canary", 1);
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
    assert_eq!(saved(&w, "shop").await.failures, 0);
}

#[tokio::test(start_paused = true)]
async fn a_tag_that_moves_mid_rollout_changes_nothing_and_the_tested_image_ships() {
    const TESTED: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const MOVED: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    *w.orch.pin.lock().unwrap() = Some(TESTED.into());
    let r = Arc::new(Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap());
    let mut events = r.subscribe();
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The canary runs the image resolved when it was created.
    assert_eq!(w.orch.get("api-canary").unwrap().image, TESTED);
    // Someone pushes another image under the canary's tag.
    *w.orch.pin.lock().unwrap() = Some(MOVED.into());
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
    assert_eq!(
        w.orch.get("api").unwrap().image,
        TESTED,
        "promoted the moved tag"
    );
    assert_eq!(saved(&w, "shop").await.promoted_images["api"], TESTED);
    let mut moved = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.kind == EventKind::TagMoved {
            moved.push(e.message);
        }
    }
    assert_eq!(moved.len(), 1, "reported once: {moved:?}");
    assert!(
        moved[0].contains(MOVED) && moved[0].contains(TESTED),
        "{moved:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_docker_blip_is_waited_out_not_rolled_back() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = down.clone();
    *w.orch.fault.lock().unwrap() = Some(Box::new(move |_op| {
        d.load(std::sync::atomic::Ordering::SeqCst)
            .then(|| Error::unavailable("docker: connection refused"))
    }));
    let r = Arc::new(Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    down.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(4)).await;
    down.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
    let retries = saved(&w, "shop")
        .await
        .history
        .iter()
        .filter(|e| e.kind == EventKind::Retry)
        .count();
    assert!(retries > 0, "the blip was retried");
}

#[tokio::test(start_paused = true)]
async fn a_rollback_finishes_when_the_routers_api_is_down() {
    let w = World::new(&["api"], FakeMetrics::success(0.1));
    let r = Arc::new(Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The router's API stops answering before analysis fails.
    *w.router.fault.lock().unwrap() = Some(Box::new(|_| {
        Some(Error::unavailable("traefik API: connection refused"))
    }));
    let out = run.await.unwrap().unwrap();
    assert!(matches!(out, Outcome::RolledBack { .. }), "{out:?}");
    // The routes without the canary were handed over unconfirmed, before the canary went down.
    let written = w.router.written.lock().unwrap().clone();
    assert!(
        written.last().is_some_and(|c| !c.canary_routed),
        "{written:?}"
    );
    let log = &w.log;
    assert!(
        log.last_position("route out written").unwrap()
            < log.position("scale api-canary 0").unwrap()
    );
    assert_eq!(w.orch.get("api-canary").unwrap().desired, 0);
    assert_eq!(saved(&w, "shop").await.phase, Phase::RolledBack);
}

#[tokio::test(start_paused = true)]
async fn continuous_analysis_rolls_a_failing_canary_back_mid_step() {
    let w = World::new(&["api"], FakeMetrics::success(0.7));
    let text = format!(
        "{}analysis:\n  every: 1s\n  window: 10s\n  minRequests: 0\n  checks:\n    - {{name: sr, metric: successRate, min: 0.99, critical: true}}\n",
        ONE_APP.replace("interval: 10s", "interval: 60s")
    );
    let r = Rollout::new(spec(&text), w.deps(), opts("h/1")).unwrap();
    let out = r.run().await.unwrap();
    assert!(matches!(out, Outcome::RolledBack { .. }), "{out:?}");
    // The decision came from a continuous run, mid-step, not from the step's end.
    let st = saved(&w, "shop").await;
    let continuous = st
        .history
        .iter()
        .any(|e| e.kind == EventKind::Analysis && e.message.contains("mid-step"));
    assert!(continuous, "{:#?}", st.history);
}

#[tokio::test(start_paused = true)]
async fn continuous_analysis_decides_within_seconds_of_traffic() {
    let w = World::new(&["api"], FakeMetrics::success(0.7));
    let text = format!(
        "{}analysis:\n  every: 1s\n  window: 10s\n  minRequests: 0\n  checks:\n    - {{name: sr, metric: successRate, min: 0.99, critical: true}}\n",
        ONE_APP.replace("interval: 10s", "interval: 60s")
    );
    let r = Arc::new(Rollout::new(spec(&text), w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let start = tokio::time::Instant::now();
    let run = tokio::spawn(async move { r2.run().await });
    let out = run.await.unwrap().unwrap();
    assert!(matches!(out, Outcome::RolledBack { .. }), "{out:?}");
    // Start-up (canary converged, weight set) plus one or two analysis periods, far below the
    // 60 s interval a once-per-step analysis would wait.
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn skip_analysis_promotes_without_measuring_and_says_so() {
    let w = World::new(&["api"], FakeMetrics::success(0.1));
    let text = format!("{ONE_APP}skipAnalysis: true\n");
    let r = Rollout::new(spec(&text), w.deps(), opts("h/1")).unwrap();
    let mut events = r.subscribe();
    assert_eq!(r.run().await.unwrap(), Outcome::Promoted);
    assert_eq!(*w.metrics.calls.lock().unwrap(), 0, "metrics were read");
    let mut said = Vec::new();
    while let Ok(e) = events.try_recv() {
        if matches!(
            e.kind,
            EventKind::Started | EventKind::Analysis | EventKind::Promoting
        ) {
            said.push(e.message);
        }
    }
    assert!(said.iter().all(|m| m.contains("skip")), "{said:#?}");
}
