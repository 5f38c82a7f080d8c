//! Rollback and promote under a steady load: this router's way (the canary leaves the weights,
//! then scales to 0) beside the seed's way (the canary scales to 0 while still in the weights).
//!
//! Needs the local stack (`scripts/stack/up.sh`); run through `bench/rollback/run.sh`. Traffic goes
//! only to Traefik on 127.0.0.1. Each scenario gets fresh Swarm services (removed at the end):
//! stable `v1` ×2 and canary `v2` ×1 at weight 50, a steady load of 4 workers, then the decision.
//!
//! Figures per scenario: the time from the decision to the last response the canary gave
//! ("last canary"), and the requests that failed from the decision to the end of the observation
//! (until the canary's tasks are gone and 3 more seconds).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use canary_core::spec::{HeaderRoute, TrafficMode};
use canary_core::{RouteConfig, Router, Weight};
use canary_traefik::TraefikRouter;
use common::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Way {
    /// Out of the weights first (`canary_routed: false`), then scale to 0.
    Router,
    /// Scale to 0 while still in the weights.
    Seed,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    Rollback,
    /// Stable takes the canary's version (rolling update), then the canary goes away.
    Promote,
}

struct Figures {
    name: String,
    last_canary: Option<Duration>,
    routed_off: Option<Duration>,
    failed: u64,
    total: u64,
    failure_kinds: std::collections::BTreeMap<String, u64>,
    seconds: f64,
}

fn docker(args: &[&str]) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn scenario(stack: &Stack, way: Way, action: Action) -> Figures {
    let t = tag();
    let group = format!("canarytest-traefik-{t}");
    let router = TraefikRouter::builder(&stack.dynamic_dir, &stack.traefik_url)
        .network(&stack.network)
        .build()
        .expect("router");
    let _file = FileGuard(router.file_path(&sn(&group)).unwrap());
    let a = app(&router, TrafficMode::Weighted, &t, "bench", 2, 1, &[]).await;
    let config = RouteConfig::new(sn(&group), TrafficMode::Weighted, vec![a.route.clone()])
        .canary_weight(Weight::new(50).unwrap())
        .canary_routed(true)
        .header_route(HeaderRoute::default());
    router.apply(&config).await.expect("weight 50");
    let load = Load::start(stack.web_port, &a.host, 4, Duration::from_millis(2));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = load.snapshot();

    let decided = Instant::now();
    if action == Action::Promote {
        // The canary keeps its share while stable rolls to the new version.
        docker(&[
            "service",
            "update",
            "--quiet",
            "--image",
            "canary-demo:v2",
            "--env-add",
            "VERSION=v2",
            &a.stable.name,
        ]);
    }
    let mut routed_off = None;
    if way == Way::Router {
        let mut off = config.clone();
        off.canary_routed = false;
        off.canary_weight = Weight::ZERO;
        off.header_route = None;
        router.apply(&off).await.expect("canary out of the routing");
        routed_off = Some(decided.elapsed());
    }
    a.canary.scale(0);
    eventually(
        Duration::from_secs(60),
        "the canary's tasks to stop",
        || a.canary.running() == 0,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = load.stop().await;
    let name = format!(
        "{} {}",
        match way {
            Way::Router => "router",
            Way::Seed => "seed  ",
        },
        match action {
            Action::Rollback => "rollback",
            Action::Promote => "promote ",
        }
    );
    // The canary answers `v2`; after a promotion so does stable, so "last canary" is for rollbacks.
    let last_canary = match action {
        Action::Rollback => after
            .last_canary_end
            .map(|e| e.saturating_duration_since(decided)),
        Action::Promote => None,
    };
    let _ = router.remove(&sn(&group)).await;
    Figures {
        name,
        last_canary,
        routed_off,
        failed: after.failed - before.failed,
        total: (after.ok + after.failed) - (before.ok + before.failed),
        failure_kinds: after.failure_kinds.clone(),
        seconds: decided.elapsed().as_secs_f64(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let Some(stack) = stack() else {
        std::process::exit(2);
    };
    let mut rows = Vec::new();
    for (way, action) in [
        (Way::Router, Action::Rollback),
        (Way::Seed, Action::Rollback),
        (Way::Router, Action::Promote),
        (Way::Seed, Action::Promote),
    ] {
        let f = scenario(&stack, way, action).await;
        eprintln!("done: {}", f.name);
        rows.push(f);
    }
    let secs = |d: Option<Duration>| {
        d.map(|d| format!("{:.2}s", d.as_secs_f64()))
            .unwrap_or_else(|| "-".into())
    };
    println!();
    println!("Traefik 3.7.9 on the local swarm; load: 4 workers on 127.0.0.1, stable v1 x2, canary v2 x1 at weight 50.");
    println!("out of routes: decision -> canary out of the weights, confirmed by Traefik's API (promote: after stable's update)");
    println!("last canary:   decision -> last response from the canary (rollbacks)");
    println!(
        "failed:        failed requests from the decision until the canary's tasks are gone + 3s"
    );
    println!(
        "{:<17} {:>13} {:>12} {:>10} {:>9} {:>8} {:>9}",
        "scenario", "out of routes", "last canary", "failed", "requests", "failed%", "observed"
    );
    for f in &rows {
        println!(
            "{:<17} {:>13} {:>12} {:>10} {:>9} {:>7.2}% {:>8.1}s",
            f.name,
            secs(f.routed_off),
            secs(f.last_canary),
            f.failed,
            f.total,
            100.0 * f.failed as f64 / f.total.max(1) as f64,
            f.seconds
        );
    }
    for f in rows.iter().filter(|f| !f.failure_kinds.is_empty()) {
        println!("{}: failures by kind:", f.name.trim());
        for (kind, n) in &f.failure_kinds {
            println!("  {n:>6}  {}", kind.trim());
        }
    }
}
