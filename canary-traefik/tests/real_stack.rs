//! canary-traefik against the real local stack (`scripts/stack/up.sh`): Traefik 3.7.9 as a Swarm
//! service, Prometheus on 127.0.0.1, demo-app services made here with the `docker` CLI.
//!
//! Without the stack the tests skip with a message; with `CI` set they fail. Traffic goes only to
//! Traefik's web entry point on 127.0.0.1 with a Host header.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use canary_core::analysis::{self, Verdict};
use canary_core::spec::{HeaderRoute, MetricKind, TrafficMode};
use canary_core::{
    Error, MetricQuery, MetricsSource, Observation, Orchestrator, RouteConfig, Router, Spec, Track,
    Weight,
};
use canary_traefik::{PrometheusMetrics, TraefikRouter, TraefikScrapeMetrics};
use common::*;

fn router(stack: &Stack, mode: TrafficMode) -> TraefikRouter {
    TraefikRouter::builder(&stack.dynamic_dir, &stack.traefik_url)
        .network(&stack.network)
        .mode(mode)
        .confirm_timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn config(group: &str, mode: TrafficMode, apps: &[&App], weight: u64) -> RouteConfig {
    RouteConfig::new(
        sn(group),
        mode,
        apps.iter().map(|a| a.route.clone()).collect(),
    )
    .canary_weight(Weight::new(weight).unwrap())
    .canary_routed(true)
    .header_route(HeaderRoute::default())
}

fn unrouted(mut c: RouteConfig) -> RouteConfig {
    c.canary_routed = false;
    c.canary_weight = Weight::ZERO;
    c.header_route = None;
    c.mirror = Weight::ZERO;
    c
}

/// Weight 20 sends 20 % ± 3 points of 1,000 requests to the canary; the header route sends all;
/// sticky keeps each client on one version; mirroring copies stable's requests to the canary
/// (seen in Traefik's own counters through the scrape source); `read` reports what is in force;
/// `remove` takes the routes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn weighted_split_header_sticky_and_mirror() {
    let Some(stack) = stack() else { return };
    let t = tag();
    let group = format!("canarytest-traefik-{t}");
    let r = router(&stack, TrafficMode::Weighted);
    let _file = FileGuard(r.file_path(&sn(&group)).unwrap());
    let a = app(&r, TrafficMode::Weighted, &t, "web", 1, 1, &[]).await;
    let port = stack.web_port;

    let mut c = config(&group, TrafficMode::Weighted, &[&a], 20);
    r.apply(&c).await.unwrap();
    let counts = versions(port, &a.host, 1000, 8, &[]).await;
    let canary = counts.get("v2").copied().unwrap_or(0);
    assert_eq!(counts.values().sum::<usize>(), 1000);
    assert!(
        (170..=230).contains(&canary),
        "canary got {canary} of 1000: {counts:?}"
    );
    assert_eq!(
        counts.get("v1").copied().unwrap_or(0) + canary,
        1000,
        "{counts:?}"
    );

    eprintln!("weight 20: {counts:?} of 1000");
    let counts = versions(port, &a.host, 100, 4, &[("X-Canary", "true")]).await;
    assert_eq!(
        counts,
        BTreeMap::from([("v2".to_string(), 100)]),
        "header route"
    );

    let split = r.read(&c).await.unwrap();
    assert_eq!(
        (
            split[0].stable,
            split[0].canary,
            split[0].header_route,
            split[0].healthy
        ),
        (80, 20, true, true)
    );

    // Sticky: each client keeps the version it first reached.
    c.sticky = true;
    c.canary_weight = Weight::new(50).unwrap();
    r.apply(&c).await.unwrap();
    let client = client();
    let mut firsts = Vec::new();
    for _ in 0..8 {
        let (first, headers) = hit(&client, port, &a.host, &[]).await.unwrap();
        let cookie = headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("canary-{group}--web=")))
            .expect("a sticky cookie")
            .split(';')
            .next()
            .unwrap()
            .to_string();
        for _ in 0..15 {
            let (v, _) = hit(&client, port, &a.host, &[("Cookie", &cookie)])
                .await
                .unwrap();
            assert_eq!(v, first, "a sticky client moved");
        }
        firsts.push(first);
    }
    assert!(
        firsts.iter().any(|v| v == "v1") && firsts.iter().any(|v| v == "v2"),
        "{firsts:?}"
    );
    eprintln!("sticky at 50: 8 clients first reached {firsts:?}, none moved in 15 requests each");

    // Mirroring 50 % of stable's traffic: responses all from stable, the canary sees copies.
    let scrape = TraefikScrapeMetrics::builder(&stack.traefik_url)
        .route(&a.route)
        .freshness(Duration::ZERO)
        .build()
        .unwrap();
    c.sticky = false;
    c.canary_weight = Weight::ZERO;
    c.mirror = Weight::new(50).unwrap();
    r.apply(&c).await.unwrap();
    scrape.scrape().await.unwrap();
    let counts = versions(port, &a.host, 200, 4, &[]).await;
    assert_eq!(
        counts,
        BTreeMap::from([("v1".to_string(), 200)]),
        "mirrored responses are discarded"
    );
    // Mirrors are sent asynchronously; give the last copies a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let q = |track| {
        MetricQuery::new(
            a.route.app.clone(),
            track,
            MetricKind::RequestCount,
            Duration::from_secs(600),
        )
    };
    let mirrored = scrape
        .value(&q(Track::Canary))
        .await
        .unwrap()
        .value()
        .unwrap();
    let served = scrape
        .value(&q(Track::Stable))
        .await
        .unwrap()
        .value()
        .unwrap();
    eprintln!("mirroring 50%: stable served {served}, the canary's tasks got {mirrored} copies");
    assert_eq!(served, 200.0, "stable's counter");
    assert!(
        (60.0..=140.0).contains(&mirrored),
        "mirrored {mirrored} of 200 at 50%"
    );

    r.remove(&sn(&group)).await.unwrap();
    assert!(!r.file_path(&sn(&group)).unwrap().exists());
    let e = hit(&client, port, &a.host, &[]).await.unwrap_err();
    assert!(e.starts_with("HTTP 404"), "{e}");
    r.remove(&sn(&group)).await.unwrap();
}

/// Weight changes and a rollback (canary out of the routing, then scaled to 0) under a steady
/// load lose no request, and no request that starts after the rollback is confirmed reaches the
/// canary.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn weight_changes_and_rollback_lose_nothing() {
    let Some(stack) = stack() else { return };
    let t = tag();
    let group = format!("canarytest-traefik-{t}");
    let r = router(&stack, TrafficMode::Weighted);
    let _file = FileGuard(r.file_path(&sn(&group)).unwrap());
    let a = app(&r, TrafficMode::Weighted, &t, "api", 2, 1, &[]).await;
    let c = config(&group, TrafficMode::Weighted, &[&a], 0);
    r.apply(&c).await.unwrap();

    let load = Load::start(stack.web_port, &a.host, 4, Duration::from_millis(2));
    for w in [10, 50, 100, 30] {
        let mut c = c.clone();
        c.canary_weight = Weight::new(w).unwrap();
        let t0 = Instant::now();
        r.apply(&c).await.unwrap();
        eprintln!("weight {w}: confirmed in {:?}", t0.elapsed());
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let before = load.snapshot();
    assert!(
        before.by_version.get("v2").copied().unwrap_or(0) > 100,
        "{before:?}"
    );

    let decided = Instant::now();
    r.apply(&unrouted(c.clone())).await.unwrap();
    let confirmed = Instant::now();
    a.canary.scale(0);
    eventually(
        Duration::from_secs(30),
        "the canary's tasks to stop",
        || a.canary.running() == 0,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = load.stop().await;

    assert_eq!(stats.failed, 0, "failed requests: {:?}", stats.failures);
    let late: Vec<_> = stats
        .canary_starts
        .iter()
        .filter(|s| **s > confirmed + Duration::from_millis(100))
        .collect();
    assert!(
        late.is_empty(),
        "{} requests started after the rollback reached the canary",
        late.len()
    );
    let last = stats
        .last_canary_end
        .map(|e| e.saturating_duration_since(decided));
    eprintln!(
        "rollback: confirmed in {:?}, last canary response {last:?} after the decision; {} ok, 0 failed",
        confirmed - decided,
        stats.ok
    );
    let split = r.read(&unrouted(c.clone())).await.unwrap();
    assert_eq!(
        (split[0].stable, split[0].canary, split[0].header_route),
        (100, 0, false)
    );
    r.remove(&sn(&group)).await.unwrap();
}

/// Replicas mode: both tracks in one Traefik service, the split follows tasks (3 + 1 = 25 %), the
/// header route still reaches the canary alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_mode_follows_task_counts() {
    let Some(stack) = stack() else { return };
    let t = tag();
    let group = format!("canarytest-traefik-{t}");
    let r = router(&stack, TrafficMode::Replicas);
    let _file = FileGuard(r.file_path(&sn(&group)).unwrap());
    let a = app(&r, TrafficMode::Replicas, &t, "shop", 3, 1, &[]).await;
    let plan = canary_traefik::plan_replicas(Weight::new(25).unwrap(), 4).unwrap();
    assert_eq!((plan.stable, plan.canary), (3, 1));
    let c = config(&group, TrafficMode::Replicas, &[&a], 25);
    // app() waited until the shared service has all four servers, and the canary's task address.
    assert_eq!(a.route.canary_endpoints.len(), 1);
    r.apply(&c).await.unwrap();
    let counts = versions(stack.web_port, &a.host, 400, 4, &[]).await;
    let canary = counts.get("v2").copied().unwrap_or(0);
    assert!((80..=120).contains(&canary), "{counts:?}");
    let counts = versions(stack.web_port, &a.host, 40, 4, &[("X-Canary", "true")]).await;
    assert_eq!(counts, BTreeMap::from([("v2".to_string(), 40)]));
    let split = r.read(&c).await.unwrap();
    assert_eq!(
        (
            split[0].stable,
            split[0].canary,
            split[0].healthy,
            split[0].header_route
        ),
        (3, 1, true, true)
    );
    r.remove(&sn(&group)).await.unwrap();
}

/// A config Traefik refuses (an entry point it does not have) comes back as `Rejected` with
/// Traefik's words, and the previous file is put back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_config_traefik_refuses_is_rejected_with_its_words() {
    let Some(stack) = stack() else { return };
    let t = tag();
    let group = format!("canarytest-traefik-{t}");
    let r = router(&stack, TrafficMode::Weighted);
    let path = r.file_path(&sn(&group)).unwrap();
    let _file = FileGuard(path.clone());
    let a = app(&r, TrafficMode::Weighted, &t, "ep", 1, 1, &[]).await;
    let c = config(&group, TrafficMode::Weighted, &[&a], 10);
    r.apply(&c).await.unwrap();
    let good = std::fs::read_to_string(&path).unwrap();
    let mut bad = c.clone();
    bad.apps[0].entry_points = vec!["nope".into()];
    let e = r.apply(&bad).await.unwrap_err();
    match &e {
        Error::Rejected { by, message, .. } => {
            assert_eq!(by, "traefik");
            assert!(
                message.contains("entryPoint \"nope\" doesn't exist"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        good,
        "the previous file is back"
    );
    r.apply(&c).await.unwrap();
    // Nothing but our own file was touched, and no dot-file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&stack.dynamic_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(&format!(".canary-{group}")))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    r.remove(&sn(&group)).await.unwrap();
}

/// A PromQL check sees a canary with ERROR_RATE=0.3 as failing and one with 0 as passing, and the
/// scrape source agrees with Prometheus.
///
/// Tolerance: both read the same Traefik counters over the same 8s window while the load is
/// steady (warmed up, so every series exists before the window starts). They differ only in where
/// the window's ends fall: Prometheus uses its own 1s scrapes and extrapolates to the window's
/// edges, the scrape source uses its own 1s scrapes and divides by the time really covered. At most
/// about one scrape interval at each end (≈ 2s of 8s) is not shared. The requests in that part have
/// the same expected error share, so the error rates differ by that share times the binomial noise
/// of ~40 requests: σ ≈ 0.25 × √(0.21/40) ≈ 0.02; 0.05 is over two σ on top of the worst-case
/// overlap. Request rates differ by the load's own jitter over the unshared seconds: 20 % relative.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn promql_check_and_scrape_source_agree() {
    let Some(stack) = stack() else { return };
    let t = tag();
    let group = format!("canarytest-traefik-{t}");
    let r = router(&stack, TrafficMode::Weighted);
    let _file = FileGuard(r.file_path(&sn(&group)).unwrap());
    let bad = app(
        &r,
        TrafficMode::Weighted,
        &t,
        "bad",
        1,
        1,
        &[("ERROR_RATE", "0.3")],
    )
    .await;
    let good = app(
        &r,
        TrafficMode::Weighted,
        &t,
        "good",
        1,
        1,
        &[("ERROR_RATE", "0")],
    )
    .await;
    r.apply(&config(&group, TrafficMode::Weighted, &[&bad, &good], 50))
        .await
        .unwrap();

    let prom = PrometheusMetrics::builder(&stack.prometheus_url)
        .route(&bad.route)
        .route(&good.route)
        .scrape_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let scrape = TraefikScrapeMetrics::builder(&stack.traefik_url)
        .route(&bad.route)
        .route(&good.route)
        .build()
        .unwrap();
    let scraper = scrape.start(Duration::from_secs(1));
    let loads = [
        Load::start(stack.web_port, &bad.host, 2, Duration::from_millis(10)),
        Load::start(stack.web_port, &good.host, 2, Duration::from_millis(10)),
    ];
    tokio::time::sleep(Duration::from_secs(12)).await;

    let window = Duration::from_secs(8);
    let q = |app: &App, metric: MetricKind| {
        MetricQuery::new(app.route.app.clone(), Track::Canary, metric, window)
    };
    let mut compared = Vec::new();
    for app in [&bad, &good] {
        for metric in [
            MetricKind::ErrorRate,
            MetricKind::RequestRate,
            MetricKind::SuccessRate,
        ] {
            let query = q(app, metric.clone());
            let (p, s) = tokio::join!(prom.value(&query), scrape.value(&query));
            let (p, s) = (p.unwrap().value().unwrap(), s.unwrap().value().unwrap());
            compared.push((app.route.app.name.to_string(), metric.label(), p, s));
        }
    }
    let samples = prom.samples(&q(&bad, MetricKind::ErrorRate)).await.unwrap();
    let scrape_samples = scrape
        .samples(&q(&bad, MetricKind::ErrorRate))
        .await
        .unwrap();
    let p99 = prom
        .value(&q(&good, MetricKind::Latency(0.99)))
        .await
        .unwrap();
    let p99_scrape = scrape
        .value(&q(&good, MetricKind::Latency(0.99)))
        .await
        .unwrap();

    // The analysis of canary-core with a built-in and a custom PromQL check.
    let spec = |app: &App| {
        Spec::from_yaml(&format!(
            r#"
group: {group}
apps:
  - name: {name}
    stable: {stable}
    canary: {canary}
    image: canary-demo:v2
    port: 8080
    rule: "Host(`{host}`)"
analysis:
  minRequests: 10
  checks:
    - name: errorRate
      metric: errorRate
      max: 0.05
    - name: custom5xx
      metric: !query '(sum(rate(traefik_service_requests_total{{service="{{{{service}}}}",code=~"5.."}}[{{{{window}}}}])) or sum(rate(traefik_service_requests_total{{service="{{{{service}}}}"}}[{{{{window}}}}])) * 0) / sum(rate(traefik_service_requests_total{{service="{{{{service}}}}"}}[{{{{window}}}}]))'
      max: 0.05
"#,
            name = app.route.app.name,
            stable = app.route.app.stable,
            canary = app.route.app.canary,
            host = app.host,
        ))
        .unwrap()
    };
    let report_bad = analysis::analyse(
        &spec(&bad),
        std::slice::from_ref(&bad.route.app),
        &prom,
        window,
        Duration::from_secs(10),
    )
    .await;
    let report_good = analysis::analyse(
        &spec(&good),
        std::slice::from_ref(&good.route.app),
        &prom,
        window,
        Duration::from_secs(10),
    )
    .await;
    let [bad_load, good_load] = loads;
    let (bad_load, good_load) = (bad_load.stop().await, good_load.stop().await);
    assert_eq!(good_load.failed, 0, "{:?}", good_load.failures);
    assert!(
        bad_load
            .failures
            .iter()
            .all(|f| f.contains("injected fault")),
        "{:?}",
        bad_load.failures
    );
    drop(scraper);

    eprintln!("(app, metric, prometheus, scrape): {compared:#?}");
    eprintln!(
        "samples prometheus {samples:?} scrape {scrape_samples:?}; p99 {p99:?} / {p99_scrape:?}"
    );
    assert_eq!(report_bad.verdict, Verdict::Fail, "{report_bad:#?}");
    assert!(
        report_bad
            .checks
            .iter()
            .any(|c| c.name == "custom5xx" && c.verdict == Verdict::Fail),
        "{report_bad:#?}"
    );
    assert_eq!(report_good.verdict, Verdict::Pass, "{report_good:#?}");
    for (app, metric, p, s) in &compared {
        match metric.as_str() {
            "errorRate" | "successRate" => assert!(
                (p - s).abs() <= 0.05,
                "{app} {metric}: prometheus {p} scrape {s}"
            ),
            _ => assert!(
                (p - s).abs() <= 0.2 * p.max(*s),
                "{app} {metric}: prometheus {p} scrape {s}"
            ),
        }
    }
    let bad_rate = compared
        .iter()
        .find(|c| c.0 == "bad" && c.1 == "errorRate")
        .unwrap()
        .2;
    assert!(
        (0.2..=0.4).contains(&bad_rate),
        "ERROR_RATE=0.3 measured {bad_rate}"
    );
    assert!(
        samples.len() >= 5 && samples.iter().all(|v| (0.0..=1.0).contains(v)),
        "{samples:?}"
    );
    assert!(!scrape_samples.is_empty());
    assert!(matches!(p99, Observation::Value(_)) && matches!(p99_scrape, Observation::Value(_)));
    r.remove(&sn(&group)).await.unwrap();
}

/// The blast radius of a dying canary (docs/routing-design.md): at weight 20 under a steady 50
/// req/s, the canary's only task is `docker kill`ed twice. This test plays the engine's part: it
/// reads the canary's task endpoints every 250ms and re-applies the route when they change.
/// Stable's share loses nothing: no 404 (a disabled router fails both shares), and Traefik counts
/// no failed answer on stable's backend, so every failure was the canary's (at most a request in
/// flight on the dying task per kill). Swarm restarts the canary and it is served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dying_canary_costs_stable_nothing() {
    let Some(stack) = stack() else { return };
    let t = tag();
    let group = group_of(&t);
    let r = std::sync::Arc::new(router(&stack, TrafficMode::Weighted));
    let _file = FileGuard(r.file_path(&sn(&group)).unwrap());
    let a = app_with(
        &r,
        TrafficMode::Weighted,
        &t,
        "blast",
        4,
        1,
        &[],
        &["--restart-delay", "1s"],
    )
    .await;
    let c = config(&group, TrafficMode::Weighted, &[&a], 20);
    r.apply(&c).await.unwrap();
    let backends = canary_traefik::AppBackends::of(&a.route).unwrap();
    let v3 = canary_traefik::ProviderVersion::V3;
    let stable_backend = backends.qualified(canary_core::Track::Stable, v3);
    let canary_backend = backends.qualified(canary_core::Track::Canary, v3);
    let stable_before = requests_by_code(&stack.traefik_url, &stable_backend).await;
    let canary_before = requests_by_code(&stack.traefik_url, &canary_backend).await;

    // The engine's part: poll the canary's endpoints, re-apply on change. Bounded to 60s.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let engine = {
        let (r, stop, mut c) = (r.clone(), stop.clone(), c.clone());
        let canary = a.route.app.canary.clone();
        tokio::spawn(async move {
            let orch = orchestrator().await;
            let start = Instant::now();
            let mut applied = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst)
                && start.elapsed() < Duration::from_secs(60)
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let Ok(eps) = orch.task_endpoints(&canary).await else {
                    continue;
                };
                if eps != c.apps[0].canary_endpoints {
                    c.apps[0].canary_endpoints = eps;
                    let t0 = Instant::now();
                    let result = r.apply(&c).await;
                    applied.push((
                        start.elapsed().as_secs_f64(),
                        c.apps[0].canary_endpoints.len(),
                        t0.elapsed().as_secs_f64(),
                        result.map_err(|e| e.to_string()),
                    ));
                }
            }
            applied
        })
    };

    let started = Instant::now();
    let load = tokio::spawn(paced_load(stack.web_port, a.host.clone(), 50, 1000));
    let mut kills = Vec::new();
    for at in [4.0, 12.0] {
        tokio::time::sleep_until((started + Duration::from_secs_f64(at)).into()).await;
        let containers = a.canary.containers();
        assert_eq!(containers.len(), 1, "the canary's one task: {containers:?}");
        let out = std::process::Command::new("docker")
            .args(["kill", &containers[0]])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        kills.push(started.elapsed().as_secs_f64());
    }
    let records = load.await.unwrap();
    // Until the canary is back in the file before the last figures are read.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let applied = engine.await.unwrap();
    let stable_delta = delta(
        &requests_by_code(&stack.traefik_url, &stable_backend).await,
        &stable_before,
    );
    let canary_delta = delta(
        &requests_by_code(&stack.traefik_url, &canary_backend).await,
        &canary_before,
    );

    let failed: Vec<&Record> = records.iter().filter(|r| r.status != Some(200)).collect();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for f in &failed {
        let kind = match (f.status, &f.error) {
            (Some(s), _) if f.version.is_none() => format!("{s} (Traefik)"),
            (Some(s), _) => format!("{s} ({})", f.version.as_deref().unwrap_or("?")),
            (None, e) => e.clone().unwrap_or_default(),
        };
        *by_kind.entry(kind).or_default() += 1;
    }
    let mut by_version: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *by_version
            .entry(r.version.clone().unwrap_or_else(|| "-".into()))
            .or_default() += 1;
    }
    // A 404 is Traefik's "no router": both shares failed, stable's 80 % of them.
    let router_404 = failed
        .iter()
        .filter(|f| f.status == Some(404) && f.version.is_none())
        .count();
    let stable_non_2xx: f64 = stable_delta
        .iter()
        .filter(|(code, _)| !code.starts_with('2'))
        .map(|(_, v)| v)
        .sum();
    let failed_stable_share = router_404 as f64 * 0.8 + stable_non_2xx;
    let failed_canary_share = failed.len() as f64 - failed_stable_share;
    // The canary back: the first v2 answer sent after each kill.
    let back: Vec<Option<f64>> = kills
        .iter()
        .map(|k| {
            records
                .iter()
                .filter(|r| r.sent > k + 0.1 && r.version.as_deref() == Some("v2"))
                .map(|r| r.sent - k)
                .reduce(f64::min)
        })
        .collect();
    let slowest_ok = records
        .iter()
        .filter(|r| r.status == Some(200))
        .map(|r| r.ms)
        .fold(0.0, f64::max);
    eprintln!(
        "blast radius: {} requests at 50/s, weight 20, kills at {kills:.2?}s\n  \
         failed {} (stable's share {failed_stable_share}, canary's share {failed_canary_share}), by kind {by_kind:?}\n  \
         answers by version {by_version:?}; slowest 200 {slowest_ok:.0}ms\n  \
         Traefik counted: stable {stable_backend} {stable_delta:?}, canary {canary_backend} {canary_delta:?}\n  \
         canary back after each kill (first v2 sent): {back:.2?}s\n  \
         route re-applied (at s, tasks, confirmed in s, result): {applied:.2?}",
        records.len(),
        failed.len(),
    );

    assert_eq!(records.len(), 1000);
    assert_eq!(router_404, 0, "the router was disabled: {by_kind:?}");
    assert_eq!(
        stable_non_2xx, 0.0,
        "stable's backend answered failures: {stable_delta:?}"
    );
    assert_eq!(failed_stable_share, 0.0);
    // At most the requests already written to the dying task: one per kill, with a margin of one.
    assert!(
        failed.len() <= 2 * kills.len(),
        "{} failed: {failed:?}",
        failed.len()
    );
    assert!(
        applied.iter().all(|(_, _, _, r)| r.is_ok()),
        "every re-apply confirmed: {applied:?}"
    );
    assert!(
        applied.iter().any(|(_, n, _, _)| *n == 0) && applied.len() >= 4,
        "the canary left and came back twice: {applied:?}"
    );
    for (k, b) in kills.iter().zip(&back) {
        let b = b
            .unwrap_or_else(|| panic!("the canary was not served again after the kill at {k:.2}s"));
        assert!(
            b < 7.0,
            "the canary came back {b:.2}s after the kill at {k:.2}s"
        );
    }
    assert!(
        by_version.get("v2").copied().unwrap_or(0) > 100,
        "the canary served its share between the kills: {by_version:?}"
    );
    r.remove(&sn(&group)).await.unwrap();
}
