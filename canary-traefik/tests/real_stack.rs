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
    Error, MetricQuery, MetricsSource, Observation, RouteConfig, Router, Spec, Track, Weight,
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
    RouteConfig {
        group: sn(group),
        mode,
        apps: apps.iter().map(|a| a.route.clone()).collect(),
        canary_weight: Weight::new(weight).unwrap(),
        canary_routed: true,
        header_route: Some(HeaderRoute::default()),
        sticky: false,
        mirror: Weight::ZERO,
    }
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
    let a = app(&r, TrafficMode::Weighted, &t, "web", 1, 1, &[]);
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
    let q = |track| MetricQuery {
        app: a.route.app.clone(),
        track,
        metric: MetricKind::RequestCount,
        window: Duration::from_secs(600),
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
    let a = app(&r, TrafficMode::Weighted, &t, "api", 2, 1, &[]);
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
    let a = app(&r, TrafficMode::Replicas, &t, "shop", 3, 1, &[]);
    let plan = canary_traefik::plan_replicas(Weight::new(25).unwrap(), 4).unwrap();
    assert_eq!((plan.stable, plan.canary), (3, 1));
    let c = config(&group, TrafficMode::Replicas, &[&a], 25);
    // The shared service must have all four servers before the split is measured.
    let shared = format!(
        "{}@swarm",
        canary_traefik::AppBackends::of(&a.route).unwrap().stable
    );
    let api = r.api().clone();
    let start = Instant::now();
    loop {
        let n = api
            .service(&shared)
            .await
            .unwrap()
            .and_then(|s| s.load_balancer)
            .map(|lb| lb.servers.len());
        if n == Some(4) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{shared} has {n:?} servers"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
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
    let a = app(&r, TrafficMode::Weighted, &t, "ep", 1, 1, &[]);
    let c = config(&group, TrafficMode::Weighted, &[&a], 10);
    r.apply(&c).await.unwrap();
    let good = std::fs::read_to_string(&path).unwrap();
    let mut bad = c.clone();
    bad.apps[0].entry_points = vec!["nope".into()];
    let e = r.apply(&bad).await.unwrap_err();
    match &e {
        Error::Rejected { by, message } => {
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
    );
    let good = app(
        &r,
        TrafficMode::Weighted,
        &t,
        "good",
        1,
        1,
        &[("ERROR_RATE", "0")],
    );
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
    let q = |app: &App, metric: MetricKind| MetricQuery {
        app: app.route.app.clone(),
        track: Track::Canary,
        metric,
        window,
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
